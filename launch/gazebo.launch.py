"""The interseg loop in Gazebo Harmonic: the arena's world, the Panda with gz_ros2_control, the
camera bridge, MoveIt (moveit_py in moveit_pick_place) and the interseg graph of robot.launch.yaml.

    ros2 launch interseg gazebo.launch.py split:=train seed:=0 headless:=true

Needs a full ROS 2 Jazzy install with ros_gz, gz_ros2_control, ros2_controllers, MoveIt 2,
moveit_py and moveit_resources_panda_moveit_config (docker/Dockerfile; `interseg doctor` says what
is missing). Written against ros_gz_sim's gz_sim.launch.py, gz_ros2_control_demos and
moveit2_tutorials' motion_planning_python_api; it has not been run on the machines this project is
tested on (tests/foundation/test_gazebo_launch.py checks what can be checked without ROS: every
file it names exists, every argument it passes to robot.launch.yaml is declared there, the robot
description's joints and start pose match the simulator's).

gz_reset_arena serves reset_arena by deleting and re-creating the objects through Gazebo's entity
services. Order: the world is written first (`interseg gz world`, the same arrangement the embedded
simulator builds for the split and seed), gz sim starts on it, the robot description is spawned
into it, and the controllers start one after another once the arm exists. Every node runs on
simulated time (/clock from the bridge). One robot, in the root namespace: the bridge's topics and
/clock are not namespaced.
"""

import os
import tempfile

import yaml
from ament_index_python.packages import get_package_share_directory
from launch.actions import (
    AppendEnvironmentVariable,
    DeclareLaunchArgument,
    IncludeLaunchDescription,
    OpaqueFunction,
    RegisterEventHandler,
)
from launch.conditions import IfCondition
from launch.event_handlers import OnProcessExit
from launch.launch_description_sources import AnyLaunchDescriptionSource, PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node, SetParameter

from launch import LaunchDescription

WORLD_NAME = "interseg_arena"  # the <world name> interseg.sim.gazebo_world writes
# Arguments handed to robot.launch.yaml: the cameras come from the bridge (config/gz_bridge.yaml)
# under the robot's namespace, so each camera namespace is the bridge's relative one.
ROBOT_LAUNCH_ARGUMENTS = {
    "cam0_ns": "cameras/cam0",
    "cam0_depth_ns": "cameras/cam0/depth",
    "cam1_ns": "cameras/cam1",
    "cam2_ns": "cameras/cam2",
    "cam3_ns": "cameras/cam3",
}
CONTROLLERS = ("joint_state_broadcaster", "panda_arm_controller", "panda_hand_controller")


def _world(context):
    """Write the arena's world for the split and seed (ROS-free: interseg.sim.gazebo_world)."""
    from interseg.sim.arrangement import plan_arrangement
    from interseg.sim.gazebo_world import world_sdf
    from interseg.sim.scene import default_camera_rig

    split = LaunchConfiguration("split").perform(context)
    seed = int(LaunchConfiguration("seed").perform(context))
    out = LaunchConfiguration("world_dir").perform(context) or tempfile.mkdtemp(prefix="interseg_gz_")
    path = world_sdf(plan_arrangement(split, seed), default_camera_rig(), 640, 480, out)
    headless = LaunchConfiguration("headless").perform(context).lower() in ("true", "1")
    gz_args = f"-r {'-s --headless-rendering ' if headless else ''}-v 2 {path}"
    share = get_package_share_directory("interseg")
    reset = Node(
        package="interseg",
        executable="gz_reset_arena_node",
        name="gz_reset_arena",
        output="log",
        respawn=True,
        parameters=[
            os.path.join(share, "config", "gz_reset_arena.yaml"),
            {"world": WORLD_NAME, "world_dir": os.path.dirname(path), "split": split, "seed": seed},
        ],
    )
    return [
        reset,
        AppendEnvironmentVariable("GZ_SIM_RESOURCE_PATH", os.path.dirname(path)),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(
                os.path.join(get_package_share_directory("ros_gz_sim"), "launch", "gz_sim.launch.py")
            ),
            launch_arguments={"gz_args": gz_args, "on_exit_shutdown": "true"}.items(),
        ),
    ]


def _robot_and_graph(context):
    """The Panda (robot_state_publisher, spawned into the world, its controllers), MoveIt's
    configuration for moveit_pick_place, and robot.launch.yaml's graph on simulated time."""
    from moveit_configs_utils import MoveItConfigsBuilder

    share = get_package_share_directory("interseg")
    moveit_config = (
        MoveItConfigsBuilder(robot_name="panda", package_name="moveit_resources_panda_moveit_config")
        .robot_description(file_path=os.path.join(share, "config", "panda_gz.urdf.xacro"))
        .trajectory_execution(file_path="config/gripper_moveit_controllers.yaml")
        .planning_pipelines(pipelines=["ompl"])
        .to_moveit_configs()
    )
    # moveit_pick_place takes the MoveIt configuration as a params file (robot.launch.yaml's
    # moveit_params), keyed for any node name as ROS 2 params files allow.
    params_file = os.path.join(tempfile.mkdtemp(prefix="interseg_moveit_"), "moveit_params.yaml")
    with open(params_file, "w") as f:
        yaml.safe_dump({"/**": {"ros__parameters": moveit_config.to_dict()}}, f)

    robot_state_publisher = Node(
        package="robot_state_publisher",
        executable="robot_state_publisher",
        output="log",
        parameters=[moveit_config.robot_description],
    )
    spawn = Node(
        package="ros_gz_sim",
        executable="create",
        output="log",
        arguments=["-world", WORLD_NAME, "-topic", "robot_description", "-name", "panda"],
    )
    spawners = [
        Node(package="controller_manager", executable="spawner", arguments=[name], output="log") for name in CONTROLLERS
    ]
    chain = [RegisterEventHandler(OnProcessExit(target_action=spawn, on_exit=[spawners[0]]))]
    chain += [
        RegisterEventHandler(OnProcessExit(target_action=before, on_exit=[after]))
        for before, after in zip(spawners, spawners[1:])
    ]
    bridge = Node(
        package="ros_gz_bridge",
        executable="parameter_bridge",
        output="log",
        parameters=[{"config_file": os.path.join(share, "config", "gz_bridge.yaml")}],
        # Gazebo's entity services for gz_reset_arena (ros_gz_bridge bridges services given here)
        arguments=[
            f"/world/{WORLD_NAME}/create@ros_gz_interfaces/srv/SpawnEntity",
            f"/world/{WORLD_NAME}/remove@ros_gz_interfaces/srv/DeleteEntity",
        ],
    )
    # move_group for the tools that plan through it (rviz's MotionPlanning panel, MoveIt's services);
    # moveit_pick_place plans with its own MoveItCpp instance (moveit_py) on the same configuration.
    move_group = Node(
        package="moveit_ros_move_group", executable="move_group", output="log", parameters=[moveit_config.to_dict()]
    )
    graph_arguments = dict(ROBOT_LAUNCH_ARGUMENTS, moveit_params=params_file)
    for name in ("run_dir", "max_interactions"):
        graph_arguments[name] = LaunchConfiguration(name).perform(context)
    graph = IncludeLaunchDescription(
        AnyLaunchDescriptionSource(os.path.join(share, "launch", "robot.launch.yaml")),
        launch_arguments=graph_arguments.items(),
    )
    rviz = Node(
        package="rviz2",
        executable="rviz2",
        output="log",
        arguments=["-d", os.path.join(share, "config", "interseg.rviz")],
        condition=IfCondition(LaunchConfiguration("rviz")),
    )
    return [robot_state_publisher, spawn, *chain, bridge, move_group, graph, rviz]


def generate_launch_description():
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                "split", default_value="train", description="objects and background: train, val or test"
            ),
            DeclareLaunchArgument(
                "seed", default_value="0", description="the arrangement (as the embedded simulator's seed)"
            ),
            DeclareLaunchArgument(
                "world_dir", default_value="", description="where the world is written ('' = a new temporary folder)"
            ),
            DeclareLaunchArgument(
                "headless", default_value="true", description="run gz sim without its GUI (server only)"
            ),
            DeclareLaunchArgument("rviz", default_value="false", description="start rviz2 with config/interseg.rviz"),
            DeclareLaunchArgument(
                "run_dir", default_value="runs/gazebo", description="examples store, checkpoints and progress"
            ),
            DeclareLaunchArgument(
                "max_interactions", default_value="0", description="stop after N interactions (0: no limit)"
            ),
            SetParameter(name="use_sim_time", value=True),
            OpaqueFunction(function=_world),
            OpaqueFunction(function=_robot_and_graph),
        ]
    )
