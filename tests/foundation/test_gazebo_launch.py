"""launch/gazebo.launch.py cannot run here (no ROS 2 launch, Gazebo or MoveIt): what it depends on
is checked statically. Every file it names is shipped; every argument it hands robot.launch.yaml
is declared there; the world name it spawns into is the one the world writer writes; the Panda
description for gz_ros2_control has the simulator's joints and park pose and the controller names
MoveIt's Panda configuration drives."""

from __future__ import annotations

import ast
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[2]
LAUNCH = REPO / "launch" / "gazebo.launch.py"


def _module() -> ast.Module:
    return ast.parse(LAUNCH.read_text(), filename=str(LAUNCH))


def _constant(name: str):
    for node in _module().body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} not found in {LAUNCH}")


def test_every_shared_file_it_names_is_shipped():
    named = set()
    for node in ast.walk(_module()):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "join" and node.args:
            if getattr(node.args[0], "id", None) != "share":  # interseg's share, not another package's
                continue
            parts = [a.value for a in node.args[1:] if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            named.add("/".join(parts))
    assert {"config/panda_gz.urdf.xacro", "config/gz_bridge.yaml", "launch/robot.launch.yaml"} <= named
    for relative in named:
        assert (REPO / relative).is_file(), relative


def test_the_arguments_it_passes_are_declared_by_robot_launch():
    declared = {
        a["arg"]["name"]
        for a in yaml.safe_load((REPO / "launch" / "robot.launch.yaml").read_text())["launch"]
        if "arg" in a
    }
    passed = set(_constant("ROBOT_LAUNCH_ARGUMENTS")) | {"moveit_params", "run_dir", "max_interactions"}
    assert passed <= declared, passed - declared
    bridged = {e["ros_topic_name"] for e in yaml.safe_load((REPO / "config" / "gz_bridge.yaml").read_text())}
    for name, namespace in _constant("ROBOT_LAUNCH_ARGUMENTS").items():  # cameras come from the bridge
        topic = "image_raw"
        assert f"{namespace}/{topic}" in bridged, (name, namespace)


def test_it_spawns_into_the_world_the_writer_writes(tmp_path):
    from interseg.sim.arrangement import plan_arrangement
    from interseg.sim.gazebo_world import world_sdf
    from interseg.sim.scene import default_camera_rig

    path = world_sdf(plan_arrangement("train", 0), default_camera_rig(), 64, 48, tmp_path)
    assert ET.parse(path).getroot().find("world").get("name") == _constant("WORLD_NAME")


def test_the_gazebo_panda_starts_parked_with_the_controllers_moveit_drives():
    from interseg.sim.controller import FINGER_OPEN, PARK_CONFIGURATION
    from interseg.sim.panda_description import PANDA_JOINT_NAMES

    root = ET.parse(REPO / "config" / "panda_gz.urdf.xacro").getroot()
    xacro = "{http://www.ros.org/wiki/xacro}"
    initial = {j.get("name"): float(j.get("initial")) for j in root.iter(f"{xacro}arm_joint")}
    for joint in root.find("ros2_control").findall("joint"):
        initial[joint.get("name")] = float(joint.find("state_interface/param").text)
    assert sorted(initial) == sorted(PANDA_JOINT_NAMES)  # the names the simulator's URDF uses
    np.testing.assert_allclose([initial[f"panda_joint{i}"] for i in range(1, 8)], PARK_CONFIGURATION)
    assert initial["panda_finger_joint1"] == initial["panda_finger_joint2"] == FINGER_OPEN
    plugin = root.find("gazebo/plugin")
    assert plugin.get("filename") == "gz_ros2_control-system"
    assert root.find("ros2_control/hardware/plugin").text == "gz_ros2_control/GazeboSimSystem"
    assert set(_constant("CONTROLLERS")) == {"joint_state_broadcaster", "panda_arm_controller", "panda_hand_controller"}


def test_readme_names_every_file_of_the_gazebo_path():
    readme = (REPO / "README.md").read_text()
    files = [
        "sim/arrangement.py",
        "sim/gazebo_world.py",
        "sim/gz_cli.py",
        "config/gz_bridge.yaml",
        "config/panda_gz.urdf.xacro",
        "config/gz_reset_arena.yaml",
        "nodes/gz_reset_arena.py",
        "launch/gazebo.launch.py",
        "docker/Dockerfile",
        "docker/README.md",
    ]
    for name in files:
        assert f"`{name}`" in readme, name
        assert (REPO / name).is_file() or (REPO / "src" / "interseg" / "interseg" / name).is_file(), name
