"""grasp_planner: tests one object hypothesis by interaction.

Interact goal (a hypothesis in the main view) -> fresh capture ("before") -> 3D grasp and place
(interseg.interaction.plan_grasp_and_place: interseg.grasping.plan_grasp, the point of the mask's
footprint in the main depth nearest its centroid where the open fingers fit, yaw across the
narrow side, else the hypothesis's grasp pixel and yaw; workspace and reach checks; a free place
location) -> PickPlace on whichever arm backend serves it, capturing the mid-grasp ("lifted")
view on its own thread while the arm holds the object up -> capture "after" -> wait (bounded,
interruptible) for the mid-grasp capture -> publish the finished Interaction (with the grasp
pose that was executed, which the labeller projects into every view) for the labeller.

Action servers: interact (interseg_interfaces/Interact)
Action clients: pick_place (interseg_interfaces/PickPlace): the sim node, or the MoveIt node
Service clients: capture (interseg_interfaces/Capture)
Published topics:
  interactions (interseg_interfaces/Interaction)
  ~/markers (visualization_msgs/MarkerArray): the grasp about to be executed, in the Observation's
      frame (`world`; an
      approach arrow ending at the grasp point, the open fingers at the planned yaw; green when
      aimed on the mask's footprint, orange on the hypothesis's grasp pixel) and the place location
Parameters: see config/grasp_planner.yaml.

Interaction ids: the first is the wall-clock time in microseconds when the node started, then one
more per interaction; a restarted planner starts above every id it gave before (the clock moves
on faster than interactions happen), so ids stay unique in the store across restarts.

Cancel and stop: a cancelled Interact goal, or SIGINT / SIGTERM (``request_stop``), cancels the
pick_place goal in flight (the arm backend parks the arm) and ends the goal without publishing
an Interaction; while stopping, new goals are rejected.
"""

from __future__ import annotations

import threading
import time

import numpy as np
from geometry_msgs.msg import Point, PoseStamped
from rclpy.action import ActionClient, ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from scipy.spatial.transform import Rotation
from visualization_msgs.msg import Marker, MarkerArray

from interseg.constants import PLACE_CLEARANCE, PLACE_REGION, WORKSPACE
from interseg.geometry import top_down_grasp_quaternion
from interseg.grasping import GraspPlan, GraspRejected, GraspSettings, box_from_tuple
from interseg.interaction import BackgroundCapture, plan_grasp_and_place
from interseg.learning.labelling import something_moved
from interseg.nodes.common import declare, run_node
from interseg.nodes.convert import ImageFormatError, info_to_camera, msg_to_image
from interseg.observation_checks import ObservationRejected, validate_observation
from interseg.transforms import WORLD_FRAME
from interseg_interfaces.action import Interact, PickPlace
from interseg_interfaces.msg import Interaction, Observation
from interseg_interfaces.srv import Capture

STOP_WAIT_S = 1.2  # once stopping or cancelled: the longest any wait (e.g. the arm parking) may still take
POLL_S = 0.05  # how often a waiting worker looks at cancel and stop requests

APPROACH_M = 0.12  # length of the approach arrow drawn above the grasp point
FINGER_SIZE = (0.008, 0.02, 0.045)  # drawn finger: thickness across the closing direction's normal, width, height


def grasp_markers(grasp: GraspPlan, place: np.ndarray, gripper_width: float, header) -> MarkerArray:
    """rviz markers of a planned grasp (see the module docstring); ids are fixed, so each plan
    replaces the last one."""
    colour = (0.1, 0.8, 0.2) if grasp.source == "footprint" else (1.0, 0.55, 0.0)
    position = np.asarray(grasp.position, dtype=float)
    closing = np.array([np.cos(grasp.yaw), np.sin(grasp.yaw), 0.0])
    quaternion = Rotation.from_euler("z", grasp.yaw).as_quat()

    def marker(ns: str, kind: int, rgb=colour) -> Marker:
        m = Marker(ns=ns, id=len(markers.markers), type=kind, action=Marker.ADD)
        m.header = header
        m.pose.orientation.w = 1.0
        m.color.r, m.color.g, m.color.b, m.color.a = (*rgb, 0.9)
        return m

    markers = MarkerArray()
    arrow = marker("grasp", Marker.ARROW)
    top = position + np.array([0.0, 0.0, APPROACH_M])
    arrow.points = [
        Point(x=float(top[0]), y=float(top[1]), z=float(top[2])),
        Point(x=float(position[0]), y=float(position[1]), z=float(position[2])),
    ]
    arrow.scale.x, arrow.scale.y, arrow.scale.z = 0.006, 0.012, 0.02
    markers.markers.append(arrow)
    for side in (-1.0, 1.0):
        finger = marker("grasp", Marker.CUBE)
        centre = (
            position
            + side * (gripper_width / 2 + FINGER_SIZE[0] / 2) * closing
            + np.array([0.0, 0.0, FINGER_SIZE[2] / 2])
        )
        finger.pose.position.x, finger.pose.position.y, finger.pose.position.z = (float(c) for c in centre)
        finger.pose.orientation.x, finger.pose.orientation.y, finger.pose.orientation.z, finger.pose.orientation.w = (
            float(q) for q in quaternion
        )
        finger.scale.x, finger.scale.y, finger.scale.z = FINGER_SIZE
        markers.markers.append(finger)
    target = marker("place", Marker.CYLINDER, rgb=(0.2, 0.4, 1.0))
    target.pose.position.x, target.pose.position.y, target.pose.position.z = (
        float(c) for c in np.asarray(place, dtype=float)
    )
    target.scale.x, target.scale.y, target.scale.z = 0.05, 0.05, 0.004
    markers.markers.append(target)
    return markers


class _Interrupted(Exception):
    """The goal was cancelled by its client or the node is stopping."""


class _NotRun(Exception):
    """Something the planner needs did not answer (capture): the goal ends without an attempt."""


class GraspPlanner(Node):
    def __init__(self) -> None:
        super().__init__("grasp_planner")
        workspace = declare(
            self,
            "workspace",
            list(WORKSPACE),
            "grasp points must lie in this world box [x_min, y_min, z_min, x_max, y_max, z_max]",
        )
        place_region = declare(
            self, "place_region", list(PLACE_REGION), "place locations are drawn from this world box"
        )
        self.settings = GraspSettings(
            table_height=declare(self, "table_height", 0.0, "world z of the table surface, metres"),
            workspace=box_from_tuple(workspace, "parameter workspace"),
            robot_base=tuple(declare(self, "robot_base", [0.0, 0.0, 0.0], "world position of the arm's base")),
            max_reach=declare(self, "max_reach", 0.85, "metres from the base the arm can reach", minimum=0.1),
            grasp_depth=declare(
                self, "grasp_depth", 0.02, "fingertips close this far below the object's top, metres", minimum=0.0
            ),
            min_height=declare(
                self, "min_height", 0.008, "fingertips stay at least this far above the table, metres", minimum=0.0
            ),
        )
        self.place_region = box_from_tuple(place_region, "parameter place_region")
        self.place_clearance = declare(
            self, "place_clearance", PLACE_CLEARANCE, "free radius around a place location, metres", minimum=0.0
        )
        self.gripper_width = declare(self, "gripper_width", 0.08, "gripper opening before closing, metres", minimum=0.0)
        self.hold_lifted_s = declare(
            self,
            "hold_lifted_s",
            0.0,
            "seconds the arm holds the object up for the mid-grasp capture (0: no lifted view)",
            minimum=0.0,
        )
        self.capture_timeout = declare(
            self, "capture_timeout", 3.0, "seconds to wait for a fresh observation", minimum=0.1, maximum=60.0
        )
        self.pick_place_timeout = declare(
            self, "pick_place_timeout", 60.0, "seconds a pick-and-place may take", minimum=1.0
        )
        self.seed = declare(self, "seed", 0, "seed of the place-location choice", minimum=0)
        self.rng = np.random.default_rng(self.seed)
        self.next_interaction_id = time.time_ns() // 1000  # see the module docstring
        self._stopping = threading.Event()

        group = ReentrantCallbackGroup()
        self.capture_client = self.create_client(Capture, "capture", callback_group=group)
        self.pick_place_client = ActionClient(self, PickPlace, "pick_place", callback_group=group)
        self.interaction_publisher = self.create_publisher(Interaction, "interactions", 10)
        self.marker_publisher = self.create_publisher(MarkerArray, "~/markers", 2)
        self._running = threading.Lock()  # held while an Interact goal executes
        self.server = ActionServer(
            self,
            Interact,
            "interact",
            self.execute,
            callback_group=group,
            goal_callback=self.on_goal,
            cancel_callback=lambda _g: CancelResponse.ACCEPT,
        )

    def on_goal(self, goal: Interact.Goal) -> GoalResponse:
        if self._stopping.is_set():
            self.get_logger().warning("rejecting an Interact goal: shutting down")
            return GoalResponse.REJECT
        if self._running.locked():
            self.get_logger().warning("rejecting an Interact goal: another interaction is running")
            return GoalResponse.REJECT
        return GoalResponse.ACCEPT

    # -- stopping (run_node) ----------------------------------------------------------------------
    def request_stop(self) -> None:
        self._stopping.set()

    def busy(self) -> str:
        return "an interaction" if self._running.locked() else ""

    # -- waiting on futures from the action's worker thread -----------------------------------
    def _interruption(self, goal_handle) -> str:
        if self._stopping.is_set():
            return "stopped: grasp_planner is shutting down"
        if goal_handle is not None and goal_handle.is_cancel_requested:
            return "cancelled"
        return ""

    def _wait(self, future, timeout: float, goal_handle=None, interruptible: bool = True):
        """The future's result, or None after ``timeout`` s. An interruptible wait raises
        _Interrupted as soon as the goal is cancelled or the node stops; any wait ends at most
        STOP_WAIT_S after that."""
        done = threading.Event()
        future.add_done_callback(lambda _f: done.set())
        deadline, cut = time.monotonic() + timeout, False
        while not done.wait(POLL_S):
            reason = self._interruption(goal_handle)
            if reason and interruptible:
                raise _Interrupted(reason)
            if reason and not cut:
                deadline, cut = min(deadline, time.monotonic() + STOP_WAIT_S), True
            if time.monotonic() >= deadline:
                return None
        return future.result()

    def _wait_for_arm(self, goal_handle, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.pick_place_client.server_is_ready():
            reason = self._interruption(goal_handle)
            if reason:
                raise _Interrupted(f"{reason} before picking")
            if time.monotonic() >= deadline:
                return False
            time.sleep(POLL_S)
        return True

    def _capture(self, goal_handle=None) -> Observation:
        request = Capture.Request(timeout=float(self.capture_timeout))
        response = self._wait(self.capture_client.call_async(request), self.capture_timeout + 5.0, goal_handle)
        if response is None or not response.success:
            raise _NotRun(f"capture failed: {getattr(response, 'message', 'no response')}")
        return response.observation

    def execute(self, goal_handle) -> Interact.Result:
        with self._running:
            try:
                return self._execute(goal_handle)
            except _Interrupted as interruption:
                result = Interact.Result(message=f"{interruption}; no Interaction published")
                self.get_logger().info(result.message)
                if goal_handle.is_cancel_requested:
                    goal_handle.canceled()
                else:
                    goal_handle.abort()
                return result
            except _NotRun as reason:  # before anything moved: the client does not count it
                result = Interact.Result(message=f"not run: {reason}")
                self.get_logger().warning(result.message)
                goal_handle.abort()
                return result

    def _execute(self, goal_handle) -> Interact.Result:
        result = Interact.Result()
        hypothesis = goal_handle.request.hypothesis

        def phase(name: str) -> None:
            goal_handle.publish_feedback(Interact.Feedback(phase=name))

        try:
            phase("capturing_before")
            before = self._capture(goal_handle)
            validate_observation(before)  # sizes, depth, calibrations and poses agree, before anything moves
            phase("planning")
            camera = info_to_camera(before.camera_infos[0], before.camera_poses[0], before.camera_names[0])
            depth = msg_to_image(before.depth, "32FC1")
            mask = msg_to_image(hypothesis.mask, "mono8") > 0 if hypothesis.mask.width else None
            plan = plan_grasp_and_place(
                (hypothesis.grasp_u, hypothesis.grasp_v),
                hypothesis.grasp_yaw,
                mask,
                depth,
                camera,
                self.settings,
                self.rng,
                self.place_region,
                self.place_clearance,
            )
            grasp, place = plan.grasp, plan.place
            where = (
                "the mask's footprint"
                if grasp.source == "footprint"
                else f"the grasp pixel ({grasp.pixel[0]:.0f}, {grasp.pixel[1]:.0f})"
            )
            self.get_logger().info(
                f"grasp at ({grasp.position[0]:.3f}, {grasp.position[1]:.3f}, {grasp.position[2]:.3f}), "
                f"yaw {np.degrees(grasp.yaw):.0f} deg, from {where}"
            )
        except (GraspRejected, ImageFormatError, ValueError, IndexError) as exc:
            result.message = f"rejected: {exc}"
            self.get_logger().info(result.message)
            goal_handle.abort()
            return result

        result.grasp_pose = self._pose(grasp.position, grasp.yaw, before.header.frame_id)
        result.place_pose = self._pose(place, grasp.yaw, before.header.frame_id)
        self.marker_publisher.publish(grasp_markers(grasp, place, float(self.gripper_width), result.grasp_pose.header))
        if self._interruption(goal_handle):
            raise _Interrupted(f"{self._interruption(goal_handle)} before picking")
        if not self._wait_for_arm(goal_handle, 5.0):
            result.message = "not run: no arm backend serves pick_place"
            goal_handle.abort()
            return result

        phase("picking")
        lifted_capture = BackgroundCapture(
            lambda: self._capture_lifted(phase),
            on_error=lambda exc: self.get_logger().warning(f"no mid-grasp view: {exc}"),
        )
        arm_phases: list[str] = []

        def on_feedback(feedback_msg) -> None:
            arm_phases.append(feedback_msg.feedback.phase)
            if feedback_msg.feedback.phase == "hold" and not lifted_capture.started and self.hold_lifted_s > 0:
                lifted_capture.start()
            else:  # each step of the arm, passed on: the client sees the interaction is alive
                phase("placing" if "hold" in arm_phases else "picking")

        goal = PickPlace.Goal(
            grasp_pose=result.grasp_pose,
            place_pose=result.place_pose,
            gripper_width=float(self.gripper_width),
            hold_lifted_s=float(self.hold_lifted_s),
        )
        sent = self._wait(
            self.pick_place_client.send_goal_async(goal, feedback_callback=on_feedback),
            10.0,
            goal_handle,
            interruptible=False,
        )
        if sent is None or not sent.accepted:
            if self._interruption(goal_handle):
                raise _Interrupted(f"{self._interruption(goal_handle)} before picking")
            result.message = "pick_place goal rejected by the arm backend"
            goal_handle.abort()
            return result
        arm_result = sent.get_result_async()
        try:
            wrapped = self._wait(arm_result, self.pick_place_timeout, goal_handle)
        except _Interrupted as interruption:
            self._wait(sent.cancel_goal_async(), STOP_WAIT_S, goal_handle, interruptible=False)
            ended = self._wait(arm_result, STOP_WAIT_S, goal_handle, interruptible=False)
            arm = (
                f"pick_place cancelled, the arm backend ended it ({ended.result.message})"
                if ended is not None
                else "pick_place cancelled, the arm backend did not confirm it ended"
            )
            raise _Interrupted(f"{interruption} during the pick-and-place: {arm}") from None
        if wrapped is None:
            self._wait(sent.cancel_goal_async(), 5.0)
            result.message = "pick_place timed out and was cancelled"
            goal_handle.abort()
            return result
        arm = wrapped.result
        result.object_lifted = bool(arm.object_lifted)

        phase("capturing_after")
        try:
            after = self._capture(goal_handle)
            validate_observation(after, like=before)
        except _Interrupted as interruption:
            raise _Interrupted(f"{interruption} after the pick-and-place ({arm.message})") from None
        except (_NotRun, ObservationRejected) as exc:
            reason = self._interruption(goal_handle)
            if reason:  # the capture failed because the graph is stopping
                raise _Interrupted(f"{reason} after the pick-and-place ({arm.message})") from None
            result.message = f"pick-and-place done ({arm.message}) but {exc}"
            goal_handle.abort()
            return result
        # the mid-grasp capture runs on its own thread: wait for it (it may still be on its way)
        lifted = lifted_capture.wait(self.capture_timeout + 5.0, lambda: bool(self._interruption(goal_handle)), POLL_S)
        if lifted is None:
            if lifted_capture.started and self._interruption(goal_handle):
                raise _Interrupted(f"{self._interruption(goal_handle)} after the pick-and-place ({arm.message})")
            lifted = Observation()

        before_rgb = msg_to_image(before.images[0], "rgb8")
        after_rgb = msg_to_image(after.images[0], "rgb8")
        result.something_moved = bool(something_moved(before_rgb, after_rgb)) or result.object_lifted
        result.success = bool(arm.success)
        result.interaction_id = self.next_interaction_id
        self.next_interaction_id += 1
        interaction = Interaction(
            interaction_id=result.interaction_id,
            hypothesis=hypothesis,
            model_version=int(goal_handle.request.model_version),
            grasp_pose=result.grasp_pose,
            place_pose=result.place_pose,
            executed=bool(arm.success),
            object_lifted=result.object_lifted,
            before=before,
            lifted=lifted,
            after=after,
        )
        interaction.header.stamp = after.header.stamp
        interaction.header.frame_id = before.header.frame_id
        self.interaction_publisher.publish(interaction)
        result.message = f"{arm.message}; lifted={result.object_lifted}, moved={result.something_moved}"
        phase("done")
        if goal_handle.is_cancel_requested:
            goal_handle.canceled()
        else:
            goal_handle.succeed()
        return result

    def _capture_lifted(self, phase) -> Observation:
        phase("capturing_lifted")
        return self._capture()

    def _pose(self, position: np.ndarray, yaw: float, frame: str) -> PoseStamped:
        """A top-down gripper pose in ``frame``: the frame of the Observation's camera poses."""
        pose = PoseStamped()
        pose.header.frame_id = frame or WORLD_FRAME
        pose.header.stamp = self.get_clock().now().to_msg()
        pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = (float(v) for v in position)
        q = top_down_grasp_quaternion(yaw)
        pose.pose.orientation.x, pose.pose.orientation.y, pose.pose.orientation.z, pose.pose.orientation.w = (
            float(v) for v in q
        )
        return pose


def main(args: list[str] | None = None) -> int:
    return run_node(GraspPlanner, args)
