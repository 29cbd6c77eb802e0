"""moveit_pick_place: the PickPlace action on a real Panda (or one in Gazebo) through MoveIt 2.

Serves the same action as the simulator node, so nothing above it knows which arm it talks to.
Runs on a full ROS 2 Jazzy install with moveit_py (see docker/Dockerfile and
launch/robot.launch.yaml); ``moveit`` is imported only here, when the node starts.

Action servers: pick_place (interseg_interfaces/PickPlace)
Parameters (config/moveit_pick_place.yaml): arm_group, hand_group, tool_link,
  tool_to_fingertip (metres from tool_link to the fingertip centre along the tool axis),
  finger_joints, lifted_gap (finger gap above which an object is held), approach_height,
  lift_height, table_size / table_height (collision object), velocity_scaling, park_state, workspace.
The sequence and what its result says (every plan and execution checked, gripper and parking
included) are decided in interseg.pick_place_sequence, without ROS, and tested there.
The MoveIt configuration itself (robot description, SRDF, kinematics, controllers) is passed the
usual way, as parameters from the robot's moveit_config package (see robot.launch.yaml).
"""

from __future__ import annotations

import threading

import numpy as np
from geometry_msgs.msg import PoseStamped
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node

from interseg.arm_goals import GoalRejected, TopDownPose, validate_top_down_pose
from interseg.constants import WORKSPACE, WORLD_FRAME
from interseg.geometry import top_down_grasp_quaternion
from interseg.grasping import Box
from interseg.nodes.common import declare, run_node
from interseg.pick_place_sequence import Step, run_pick_place
from interseg_interfaces.action import PickPlace


def import_moveit():
    """moveit_py's modules, or a clear error on an install without MoveIt."""
    try:
        from moveit.planning import MoveItPy, PlanRequestParameters
        from moveit_msgs.msg import CollisionObject
        from shape_msgs.msg import SolidPrimitive
    except ImportError as exc:
        raise RuntimeError(
            "moveit_py is not installed: the MoveIt arm backend needs a full ROS 2 Jazzy install with "
            "ros-jazzy-moveit-py (see docker/Dockerfile). The embedded simulator needs no MoveIt: "
            f"use launch/sim.launch.yaml. ({exc})"
        ) from None
    return MoveItPy, PlanRequestParameters, CollisionObject, SolidPrimitive


class MoveItPickPlace(Node):
    def __init__(self) -> None:
        super().__init__("moveit_pick_place")
        MoveItPy, PlanRequestParameters, CollisionObject, SolidPrimitive = import_moveit()
        self.arm_group = declare(self, "arm_group", "panda_arm", "MoveIt planning group of the arm")
        self.hand_group = declare(
            self, "hand_group", "hand", "MoveIt planning group of the gripper (named states 'open' and 'close')"
        )
        self.tool_link = declare(self, "tool_link", "panda_hand", "link whose pose is planned for")
        self.tool_to_fingertip = declare(
            self, "tool_to_fingertip", 0.1034, "metres from tool_link to the fingertip centre along the tool axis"
        )
        self.finger_joints = declare(
            self,
            "finger_joints",
            ["panda_finger_joint1", "panda_finger_joint2"],
            "gripper joints (their sum is the finger gap)",
        )
        self.lifted_gap = declare(
            self, "lifted_gap", 0.004, "finger gap after closing above which an object is held, metres", minimum=0.0
        )
        self.approach_height = declare(
            self, "approach_height", 0.12, "metres above grasp and place points to approach from", minimum=0.02
        )
        self.lift_height = declare(self, "lift_height", 0.15, "metres to lift the object", minimum=0.02)
        self.table_height = declare(self, "table_height", 0.0, "world z of the table top")
        self.table_size = declare(self, "table_size", [1.2, 1.2, 0.05], "table collision box size x, y, z (metres)")
        self.table_center = declare(self, "table_center", [0.55, 0.0], "table centre x, y in world")
        self.velocity_scaling = declare(
            self, "velocity_scaling", 0.3, "max velocity scaling factor", minimum=0.01, maximum=1.0
        )
        self.park_state = declare(self, "park_state", "ready", "named arm state (SRDF) to park in after each pick")
        workspace = declare(self, "workspace", list(WORKSPACE), "grasp and place points must lie in this box")
        self.workspace = Box(tuple(workspace[:3]), tuple(workspace[3:]))

        self.moveit = MoveItPy(node_name=f"{self.get_name()}_moveit")
        self.arm = self.moveit.get_planning_component(self.arm_group)
        self.hand = self.moveit.get_planning_component(self.hand_group)
        self.plan_parameters = PlanRequestParameters(self.moveit, "")
        self.plan_parameters.max_velocity_scaling_factor = self.velocity_scaling
        self._add_table(CollisionObject, SolidPrimitive)
        self.busy = threading.Lock()
        self.server = ActionServer(
            self,
            PickPlace,
            "pick_place",
            self.execute,
            callback_group=ReentrantCallbackGroup(),
            goal_callback=self.on_goal,
            cancel_callback=lambda _g: CancelResponse.ACCEPT,
        )
        self.get_logger().info(f"serving pick_place with MoveIt group '{self.arm_group}'")

    def _add_table(self, CollisionObject, SolidPrimitive) -> None:  # noqa: N803 (classes passed in)
        table = CollisionObject()
        table.header.frame_id = WORLD_FRAME
        table.id = "table"
        box = SolidPrimitive(type=SolidPrimitive.BOX, dimensions=list(self.table_size))
        pose = PoseStamped().pose
        pose.position.x, pose.position.y = float(self.table_center[0]), float(self.table_center[1])
        pose.position.z = self.table_height - self.table_size[2] / 2.0
        pose.orientation.w = 1.0
        table.primitives.append(box)
        table.primitive_poses.append(pose)
        table.operation = CollisionObject.ADD
        with self.moveit.get_planning_scene_monitor().read_write() as scene:
            scene.apply_collision_object(table)
            scene.current_state.update()

    def _validate(self, goal: PickPlace.Goal) -> tuple[TopDownPose, TopDownPose]:
        poses = []
        for name, stamped in (("grasp_pose", goal.grasp_pose), ("place_pose", goal.place_pose)):
            p, q = stamped.pose.position, stamped.pose.orientation
            pose = validate_top_down_pose(name, stamped.header.frame_id, [p.x, p.y, p.z], [q.x, q.y, q.z, q.w])
            if not self.workspace.contains(pose.position):
                raise GoalRejected(f"{name} is outside the workspace ({self.workspace.describe()})")
            poses.append(pose)
        return poses[0], poses[1]

    def on_goal(self, goal: PickPlace.Goal) -> GoalResponse:
        try:
            self._validate(goal)
        except GoalRejected as exc:
            self.get_logger().warning(f"rejected PickPlace goal: {exc}")
            return GoalResponse.REJECT
        return GoalResponse.REJECT if self.busy.locked() else GoalResponse.ACCEPT

    def _tool_pose(self, fingertip: np.ndarray, yaw: float) -> PoseStamped:
        pose = PoseStamped()
        pose.header.frame_id = WORLD_FRAME
        position = fingertip + np.array([0.0, 0.0, self.tool_to_fingertip])  # tool axis points down
        pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = (float(v) for v in position)
        q = top_down_grasp_quaternion(yaw)
        pose.pose.orientation.x, pose.pose.orientation.y, pose.pose.orientation.z, pose.pose.orientation.w = (
            float(v) for v in q
        )
        return pose

    # -- the arm's steps (interseg.pick_place_sequence.ArmSteps), every result checked ----------
    def _plan_and_execute(self, component, what: str) -> Step:
        """Plan ``component``'s goal (set by the caller) and execute it: a Step saying which of the
        two failed and how (MoveIt's error code, the controller's execution status)."""
        plan = (
            component.plan(single_plan_parameters=self.plan_parameters) if component is self.arm else component.plan()
        )
        if not plan:
            code = getattr(getattr(plan, "error_code", None), "val", "?")
            return Step(False, f"no plan to {what} (MoveIt error code {code})")
        status = self.moveit.execute(plan.trajectory, controllers=[])
        if not status:  # moveit_py's ExecutionStatus is true only when it SUCCEEDED
            return Step(False, f"executing the plan to {what} ended {getattr(status, 'status', status)}")
        return Step(True)

    def move_to(self, fingertip: np.ndarray, yaw: float) -> Step:
        self.arm.set_start_state_to_current_state()
        self.arm.set_goal_state(pose_stamped_msg=self._tool_pose(fingertip, yaw), pose_link=self.tool_link)
        return self._plan_and_execute(self.arm, "reach the pose")

    def _gripper(self, state: str) -> Step:
        self.hand.set_start_state_to_current_state()
        self.hand.set_goal_state(configuration_name=state)
        return self._plan_and_execute(self.hand, f"{state} the gripper")

    def open_gripper(self) -> Step:
        return self._gripper("open")

    def close_gripper(self) -> Step:
        return self._gripper("close")

    def park(self) -> Step:
        self.arm.set_start_state_to_current_state()
        self.arm.set_goal_state(configuration_name=self.park_state)
        return self._plan_and_execute(self.arm, f"park ('{self.park_state}')")

    def finger_gap(self) -> float:
        with self.moveit.get_planning_scene_monitor().read_only() as scene:
            positions = scene.current_state.joint_positions
            return float(sum(positions[j] for j in self.finger_joints))

    def execute(self, goal_handle) -> PickPlace.Result:
        with self.busy:
            result = PickPlace.Result()
            try:
                grasp, place = self._validate(goal_handle.request)
            except GoalRejected as exc:
                result.message = str(exc)
                goal_handle.abort()
                return result
            outcome = run_pick_place(
                self,
                grasp,
                place,
                approach_height=self.approach_height,
                lift_height=self.lift_height,
                lifted_gap=self.lifted_gap,
                hold_s=float(goal_handle.request.hold_lifted_s),
                cancel_requested=lambda: goal_handle.is_cancel_requested,
                feedback=lambda phase, progress: goal_handle.publish_feedback(
                    PickPlace.Feedback(phase=phase, progress=float(progress))
                ),
            )
            result.success, result.object_lifted, result.message = (
                outcome.success,
                outcome.object_lifted,
                outcome.message,
            )
            if outcome.cancelled:
                goal_handle.canceled()
            elif outcome.success:
                goal_handle.succeed()
            else:
                self.get_logger().error(f"pick_place failed: {outcome.message}")
                goal_handle.abort()
            return result


def main(args: list[str] | None = None) -> int:
    return run_node(MoveItPickPlace, args)
