"""sim: the embedded MuJoCo robot cell behind the same interfaces as real cameras and arm.

A thin translator around :class:`interseg.sim.arena.SimulatedArena`; it never offers ground
truth (object poses or masks) over ROS.

Published topics (relative names resolve in the node's namespace; one robot per namespace):
  cameras/camN/image_raw (sensor_msgs/Image, rgb8, sensor-data QoS), N = 0..3; frame camN_optical_frame
  cameras/camN/camera_info (sensor_msgs/CameraInfo, sensor-data QoS), same header as the image
  cameras/cam0/depth/image_raw (sensor_msgs/Image, 32FC1, metres along the optical axis, NaN = no
      return; registered to cam0's colour image, REP 118) and cameras/cam0/depth/camera_info
  /tf_static (tf2_msgs/TFMessage, reliable + transient local, once): world -> camN_link ->
      camN_optical_frame for every camera, world -> table (the table top's centre), and the
      robot's fixed joints
  /tf (tf2_msgs/TFMessage): the arm's and fingers' links at every published frame and phase
  joint_states (sensor_msgs/JointState): the Panda's joint names and positions, same stamps
  robot_description (std_msgs/String, reliable + transient local): a URDF of the Panda written
      from the simulator's own model (meshes as file:// URIs), for rviz's RobotModel
  /clock (rosgraph_msgs/Clock): simulated time, when ``publish_clock``
Services:
  reset_arena (interseg_interfaces/ResetArena): re-scatter the objects (seed 0: next seed); a
      pick-and-place in progress is stopped (arm parked) first
Actions:
  pick_place (interseg_interfaces/PickPlace): top-down pick at grasp_pose (fingertip centre,
      `world`), place at place_pose, park. Feedback per phase; with hold_lifted_s > 0 it pauses in
      phase "hold" with the object lifted, publishing fresh frames. Cancel parks the arm. Goals
      outside the workspace, unreachable, in another frame, or with NaN / non-normalized /
      non-top-down orientations are not executed: the result has success=false and the reason.
Parameters: see config/sim.yaml.

Stopping (SIGINT / SIGTERM): a pick-and-place in progress is stopped and the arm put at its park
pose at once (no simulated motion: the simulation is ending) before the node exits (its goal ends
aborted, "stopped: sim is shutting down"); new goals and resets are refused from then on.

Timing: all stamps are simulated time. While idle, a wall-clock timer at ``camera_rate_hz``
advances the physics by one period (so simulated time runs at real-time speed) and publishes a
fresh render of every camera. During a pick-and-place the physics runs as fast as it can and
frames are published at the moments a capture needs them: entering "hold" (object lifted, arm
in view), during the hold at ``camera_rate_hz``, and after the arm is parked (before the result
is sent). So a capture requested after the result, or after the "hold" feedback, gets frames
of that state. Stamps strictly increase on every stream (a frame rendered at the same
simulated instant as the last one is stamped one nanosecond later); /clock never steps back.
"""

from __future__ import annotations

import threading
import time

import numpy as np
from builtin_interfaces.msg import Time
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy, qos_profile_sensor_data
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Header, String
from tf2_msgs.msg import TFMessage

from interseg.arm_goals import GoalRejected, validate_top_down_pose
from interseg.geometry import Box
from interseg.nodes.common import declare, run_node
from interseg.nodes.convert import camera_to_info, image_to_msg
from interseg.nodes.tf import DYNAMIC_QOS, STATIC_BROADCASTER_QOS, TF_STATIC_TOPIC, TF_TOPIC, tf_message
from interseg.sim.arena import ArenaConfig, SimulatedArena, Views
from interseg.sim.controller import PickPlaceRejected, default_workspace
from interseg.sim.panda_description import panda_urdf
from interseg.sim.randomisation import RandomisationConfig
from interseg.sim.realism import RealismConfig
from interseg.sim.robot_model import link_transforms, panda_joint_state, static_link_transforms
from interseg.sim.scene import table_transform
from interseg.timestamps import ForwardStamps
from interseg.transforms import Transform, camera_transforms
from interseg_interfaces.action import PickPlace
from interseg_interfaces.srv import ResetArena

LATCHED = QoSProfile(depth=1, reliability=QoSReliabilityPolicy.RELIABLE, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)


def _time(stamp: tuple[int, int]) -> Time:
    return Time(sec=stamp[0], nanosec=stamp[1])


class SimNode(Node):
    def __init__(self) -> None:
        super().__init__("sim")
        width = declare(self, "image_width", 640, "camera image width, pixels", minimum=16, maximum=4096)
        height = declare(self, "image_height", 480, "camera image height, pixels", minimum=16, maximum=4096)
        self.rate = declare(
            self,
            "camera_rate_hz",
            5.0,
            "frames per second per camera while idle (and during a hold)",
            minimum=0.1,
            maximum=60.0,
        )
        split = declare(self, "split", "train", "object and background split of the arena: train, val or test")
        seed = declare(
            self, "seed", 0, "seed of the first arrangement (reset with seed 0 takes the next one)", minimum=0
        )
        min_objects = declare(self, "min_objects", 4, "fewest objects per arrangement", minimum=1, maximum=12)
        max_objects = declare(self, "max_objects", 8, "most objects per arrangement", minimum=1, maximum=12)
        shadows = declare(self, "shadows", True, "render shadows (about 4x slower on CPU)")
        realism = declare(self, "realism", True, "light jitter, exposure drift and sensor noise between frames")
        randomise = declare(
            self,
            "domain_randomisation",
            False,
            "per arrangement: photo-like table, clutter, lights, exposure, blur, noise (training arenas)",
        )
        calibration = declare(
            self,
            "calibration_error_m",
            0.002,
            "std of the arm's base calibration error per arrangement, metres",
            minimum=0.0,
            maximum=0.05,
        )
        workspace = declare(
            self,
            "workspace",
            [*default_workspace().low, *default_workspace().high],
            "grasp/place points must lie in this world box [x_min, y_min, z_min, x_max, y_max, z_max], metres",
        )
        self.publish_clock = declare(self, "publish_clock", True, "publish simulated time on /clock")
        if len(workspace) != 6 or any(workspace[i] >= workspace[i + 3] for i in range(3)):
            raise ValueError(
                "parameter 'workspace' must be [x_min, y_min, z_min, x_max, y_max, z_max] with min < max, "
                f"got {workspace}"
            )
        config = ArenaConfig(
            width=width,
            height=height,
            split=split,
            min_objects=min_objects,
            max_objects=max_objects,
            shadows=shadows,
            realism=RealismConfig(enabled=realism),
            randomisation=RandomisationConfig(enabled=randomise),
            calibration_error_m=calibration,
            workspace=Box(tuple(workspace[:3]), tuple(workspace[3:])),
        )
        self.arena = SimulatedArena(config, seed=seed)
        self.names = self.arena.camera_names
        self._busy = threading.Lock()  # held while a pick-and-place or reset runs
        self._stopping = threading.Event()
        self._publish_lock = threading.Lock()

        self.frame_stamps = ForwardStamps()  # camera frames, joint states and /tf share one stamp sequence
        self.clock_stamps = ForwardStamps()
        self.image_pubs = {
            n: self.create_publisher(Image, f"cameras/{n}/image_raw", qos_profile_sensor_data) for n in self.names
        }
        self.info_pubs = {
            n: self.create_publisher(CameraInfo, f"cameras/{n}/camera_info", qos_profile_sensor_data)
            for n in self.names
        }
        self.depth_pub = self.create_publisher(
            Image, f"cameras/{self.names[0]}/depth/image_raw", qos_profile_sensor_data
        )
        self.depth_info_pub = self.create_publisher(
            CameraInfo, f"cameras/{self.names[0]}/depth/camera_info", qos_profile_sensor_data
        )
        self.tf_static_pub = self.create_publisher(TFMessage, TF_STATIC_TOPIC, STATIC_BROADCASTER_QOS)
        self.tf_pub = self.create_publisher(TFMessage, TF_TOPIC, DYNAMIC_QOS)
        self.joint_state_pub = self.create_publisher(JointState, "joint_states", 10)
        self.description_pub = self.create_publisher(String, "robot_description", LATCHED)
        self.clock_pub = self.create_publisher(Clock, "/clock", 10) if self.publish_clock else None
        self._publish_static_frames()

        self.action_server = ActionServer(
            self,
            PickPlace,
            "pick_place",
            execute_callback=self.execute_pick_place,
            goal_callback=self.on_goal,
            cancel_callback=self.on_cancel,
            callback_group=ReentrantCallbackGroup(),
        )
        self.reset_service = self.create_service(
            ResetArena, "reset_arena", self.on_reset, callback_group=ReentrantCallbackGroup()
        )
        self.timer = self.create_timer(1.0 / self.rate, self.on_timer, callback_group=MutuallyExclusiveCallbackGroup())
        self.get_logger().info(
            f"arena ready: {self.arena.num_objects} objects, {width}x{height}, {self.rate:g} Hz, split {split}"
        )

    # ------------------------------------------------------------------ publishing
    def _publish_static_frames(self) -> None:
        """Everything static in one latched message (tf2's static broadcasters keep only the last)."""
        transforms = [table_transform()] + [Transform(*t) for t in static_link_transforms()]
        for camera in self.arena.cameras:
            transforms += camera_transforms(camera.name, camera.world_from_camera)
        stamp = _time(self.frame_stamps.next(self.arena.sim_time))
        self.tf_static_pub.publish(tf_message(transforms, stamp))
        self.description_pub.publish(String(data=panda_urdf()))
        self._publish_robot(stamp)

    def _publish_robot(self, stamp: Time) -> None:
        names, positions = panda_joint_state(self.arena.arm_joint_positions(), self.arena.finger_positions())
        self.joint_state_pub.publish(
            JointState(header=Header(stamp=stamp), name=names, position=[float(p) for p in positions])
        )
        self.tf_pub.publish(tf_message([Transform(*t) for t in link_transforms(dict(zip(names, positions)))], stamp))

    def publish_views(self, views: Views) -> None:
        with self._publish_lock:
            stamp = _time(self.frame_stamps.next(views.sim_time))
            for camera in self.arena.cameras:
                header = Header(stamp=stamp, frame_id=f"{camera.name}_optical_frame")
                self.image_pubs[camera.name].publish(image_to_msg(views.rgb[camera.name], "rgb8", header))
                self.info_pubs[camera.name].publish(camera_to_info(camera, header))
                if camera.name == self.names[0] and views.depth is not None:
                    self.depth_pub.publish(image_to_msg(views.depth, "32FC1", header))
                    self.depth_info_pub.publish(camera_to_info(camera, header))
            self._publish_robot(stamp)
            self._publish_clock(views.sim_time)

    def _publish_clock(self, seconds: float) -> None:
        if self.clock_pub is not None and self.clock_stamps.advanced(seconds):
            self.clock_pub.publish(Clock(clock=_time(self.clock_stamps.next(seconds))))

    def on_timer(self) -> None:
        if self._stopping.is_set():
            return  # the camera streams end with the stop (a frame in progress would delay it)
        if not self._busy.acquire(blocking=False):
            return  # a pick-and-place or reset owns the arena; it publishes its own frames
        try:
            self.arena.step_idle(1.0 / self.rate)
            self.publish_views(self.arena.render_views())
        finally:
            self._busy.release()

    # ------------------------------------------------------------------ stopping (run_node)
    def request_stop(self) -> None:
        self._stopping.set()
        self.arena.request_stop(instantly=True)  # a running pick-and-place ends, the arm put at its park pose

    def busy(self) -> str:
        return "a pick-and-place or reset" if self._busy.locked() else ""

    # ------------------------------------------------------------------ reset
    def on_reset(self, request: ResetArena.Request, response: ResetArena.Response) -> ResetArena.Response:
        if self._stopping.is_set():
            response.success, response.message = False, "sim is shutting down"
            return response
        self.arena.request_stop()  # a running pick-and-place parks and ends first
        with self._busy:
            try:
                response.num_objects = self.arena.reset(int(request.seed) if request.seed else None)
                response.success, response.message = True, f"seed {self.arena.seed}"
                self.publish_views(self.arena.render_views())
            except ValueError as error:
                response.success, response.message = False, str(error)
        self.get_logger().info(f"reset_arena: {response.message} ({response.num_objects} objects)")
        return response

    # ------------------------------------------------------------------ pick and place
    def on_goal(self, goal: PickPlace.Goal) -> GoalResponse:
        return GoalResponse.REJECT if self._stopping.is_set() else GoalResponse.ACCEPT

    def on_cancel(self, goal_handle) -> CancelResponse:
        self.arena.request_stop()
        return CancelResponse.ACCEPT

    def _parse_goal(self, goal: PickPlace.Goal) -> tuple[np.ndarray, float, np.ndarray, float]:
        parsed = []
        for name, pose in (("grasp_pose", goal.grasp_pose), ("place_pose", goal.place_pose)):
            p, q = pose.pose.position, pose.pose.orientation
            try:
                top_down = validate_top_down_pose(name, pose.header.frame_id, [p.x, p.y, p.z], [q.x, q.y, q.z, q.w])
            except GoalRejected as error:
                raise PickPlaceRejected(str(error)) from None
            parsed += [top_down.position, top_down.yaw]
        if not np.isfinite(goal.hold_lifted_s) or goal.hold_lifted_s < 0 or goal.hold_lifted_s > 60:
            raise PickPlaceRejected(f"hold_lifted_s {goal.hold_lifted_s} outside 0..60 s")
        grasp, yaw, place, place_yaw = parsed
        self.arena.validate_goal(grasp, yaw, place, place_yaw)
        return grasp, yaw, place, place_yaw

    def execute_pick_place(self, goal_handle) -> PickPlace.Result:
        goal: PickPlace.Goal = goal_handle.request
        result = PickPlace.Result()
        with self._busy:
            try:
                grasp, yaw, place, place_yaw = self._parse_goal(goal)
            except PickPlaceRejected as error:
                result.success, result.object_lifted, result.message = False, False, f"rejected: {error}"
                self.get_logger().warning(result.message)
                goal_handle.abort()
                return result
            cancelled = threading.Event()

            def on_phase(phase: str, progress: float) -> bool:
                if goal_handle.is_cancel_requested or self._stopping.is_set():
                    cancelled.set()
                    return False
                goal_handle.publish_feedback(PickPlace.Feedback(phase=phase, progress=float(progress)))
                with self._publish_lock:
                    self._publish_robot(_time(self.frame_stamps.next(self.arena.sim_time)))
                    self._publish_clock(self.arena.sim_time)
                return True

            def on_hold() -> bool:
                self.publish_views(self.arena.render_views())
                deadline = time.monotonic() + float(goal.hold_lifted_s)
                while time.monotonic() < deadline:
                    if goal_handle.is_cancel_requested or self._stopping.is_set():
                        cancelled.set()
                        return False
                    tick = time.monotonic()
                    self.arena.step_idle(1.0 / self.rate)
                    self.publish_views(self.arena.render_views())
                    time.sleep(max(0.0, 1.0 / self.rate - (time.monotonic() - tick)))
                return True

            try:
                outcome = self.arena.pick_place(
                    grasp,
                    yaw,
                    place,
                    place_yaw=place_yaw,
                    gripper_width=float(goal.gripper_width),
                    phase_callback=on_phase,
                    hold_callback=on_hold if goal.hold_lifted_s > 0 else None,
                )
            except PickPlaceRejected as error:
                result.success, result.object_lifted, result.message = False, False, f"rejected: {error}"
                goal_handle.abort()
                return result
            self.publish_views(self.arena.render_views())  # the "after" frame: arm parked
        result.success, result.object_lifted, result.message = outcome.success, outcome.object_lifted, outcome.message
        if goal_handle.is_cancel_requested:
            goal_handle.canceled()
        elif self._stopping.is_set() and not outcome.success:
            result.message = f"stopped: sim is shutting down ({outcome.message}, arm parked)"
            goal_handle.abort()
        elif outcome.success:
            goal_handle.succeed()
        else:
            goal_handle.abort()  # stopped by a reset
        return result

    def close(self) -> None:
        self.arena.close()


def main(args: list[str] | None = None) -> int:
    return run_node(SimNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
