"""`interseg doctor`: which of interseg's backends this machine can run, and for each missing one
what to install. Looks only (imports, executables on PATH, packages in the ament index); starts
nothing and changes nothing.

Backends: the embedded path (MuJoCo simulator, ROS 2 from wheels, PyTorch: `make demo`), the
full-ROS tools (ros2 CLI and launch), Gazebo Harmonic with ros_gz and gz_ros2_control, MoveIt 2
with moveit_py (the real Panda and the arm in Gazebo), and rviz2. The full-ROS backends are ROS 2
Jazzy packages; docker/Dockerfile has them all.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass, field

from interseg.cli_args import ArgumentParser

JAZZY_APT = "sudo apt install"


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Backend:
    name: str
    what: str
    checks: list[Check] = field(default_factory=list)
    install: str = ""

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


def _module(name: str) -> Check:
    try:
        found = importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        found = False
    return Check(f"python module {name}", found, "importable" if found else "not importable")


def _executable(name: str, version_args: tuple[str, ...] = ()) -> Check:
    path = shutil.which(name)
    if path is None:
        return Check(f"executable {name}", False, "not on PATH")
    detail = path
    if version_args:
        try:
            out = subprocess.run([path, *version_args], capture_output=True, text=True, timeout=20)
            line = (out.stdout or out.stderr).strip().splitlines()
            detail = f"{path} ({line[0]})" if line else path
        except (OSError, subprocess.TimeoutExpired) as exc:
            return Check(f"executable {name}", False, f"{path} does not run: {exc}")
    return Check(f"executable {name}", True, detail)


def _ament_package(name: str) -> Check:
    prefixes = [p for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    for prefix in prefixes:
        if os.path.isfile(os.path.join(prefix, "share", "ament_index", "resource_index", "packages", name)):
            return Check(f"ROS package {name}", True, prefix)
    return Check(f"ROS package {name}", False, "not in the ament index (AMENT_PREFIX_PATH)")


def _mujoco_renders() -> Check:
    """MuJoCo imports and renders offscreen (the embedded simulator's cameras need it)."""
    if importlib.util.find_spec("mujoco") is None:
        return Check("MuJoCo offscreen rendering", False, "mujoco is not installed")
    try:
        from interseg.sim import configure_gl

        configure_gl()  # before mujoco is first imported (it reads MUJOCO_GL once)
        mujoco = importlib.import_module("mujoco")
        model = mujoco.MjModel.from_xml_string(
            '<mujoco><visual><global offwidth="32" offheight="32"/></visual>'
            '<worldbody><geom type="sphere" size="0.1"/></worldbody></mujoco>'
        )
        with mujoco.Renderer(model, 32, 32) as renderer:
            renderer.update_scene(mujoco.MjData(model))
            renderer.render()
        return Check(
            "MuJoCo offscreen rendering",
            True,
            f"mujoco {mujoco.__version__}, MUJOCO_GL={os.environ.get('MUJOCO_GL', '')}",
        )
    except Exception as exc:  # noqa: BLE001 (GL back-ends fail in many ways; report, never crash)
        return Check("MuJoCo offscreen rendering", False, f"{type(exc).__name__}: {exc}")


def diagnose() -> list[Backend]:
    return [
        Backend(
            "embedded",
            "MuJoCo simulator + ROS 2 from wheels + PyTorch (`make demo`, launch/sim.launch.yaml)",
            [
                _module("rclpy"),
                _module("interseg_interfaces"),
                _module("torch"),
                _module("torchvision"),
                _mujoco_renders(),
            ],
            "`make setup` (a venv from requirements.txt and the interface package, no container)",
        ),
        Backend(
            "ros2 tools",
            "the ros2 CLI and `ros2 launch` for the launch files",
            [_executable("ros2"), _module("launch"), _module("launch_ros")],
            f"ROS 2 Jazzy: {JAZZY_APT} ros-jazzy-ros-base (or the image of docker/Dockerfile)",
        ),
        Backend(
            "gazebo",
            "Gazebo Harmonic with ros_gz and gz_ros2_control (launch/gazebo.launch.py)",
            [
                _executable("gz", ("sim", "--versions")),
                _ament_package("ros_gz_sim"),
                _ament_package("ros_gz_bridge"),
                _ament_package("gz_ros2_control"),
            ],
            f"{JAZZY_APT} ros-jazzy-ros-gz ros-jazzy-gz-ros2-control ros-jazzy-ros2-controllers "
            "(Gazebo Harmonic comes with ros-jazzy-ros-gz; or docker/Dockerfile)",
        ),
        Backend(
            "moveit",
            "MoveIt 2 with moveit_py: a real Panda or the arm in Gazebo (launch/robot.launch.yaml)",
            [_module("moveit"), _ament_package("moveit_resources_panda_moveit_config")],
            f"{JAZZY_APT} ros-jazzy-moveit ros-jazzy-moveit-py ros-jazzy-moveit-resources-panda-moveit-config "
            "(or docker/Dockerfile)",
        ),
        Backend(
            "rviz",
            "rviz2 to watch a running graph (`interseg rviz-config` writes its configuration)",
            [_executable("rviz2")],
            f"{JAZZY_APT} ros-jazzy-rviz2 (a display, or X11 forwarding into docker: docker/README.md)",
        ),
    ]


def main(argv: list[str]) -> int:
    parser = ArgumentParser(prog="interseg doctor", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    args = parser.parse_args(argv)
    backends = diagnose()
    if args.json:
        print(json.dumps([asdict(b) | {"ok": b.ok} for b in backends], indent=1))
        return 0
    for backend in backends:
        print(f"{'ok     ' if backend.ok else 'missing'}  {backend.name}: {backend.what}")
        for check in backend.checks:
            print(f"           {'+' if check.ok else '-'} {check.name}: {check.detail}")
        if not backend.ok:
            print(f"           install: {backend.install}")
    return 0
