"""capture: four camera streams in, synchronized Observations out.

Subscribed topics (sensor-data QoS unless ``reliable_images``; relative names resolve in the
node's namespace, and a real robot remaps them onto its drivers' namespaces):
  <image_topic> per camera (sensor_msgs/Image, rgb8 or bgr8), default cameras/{camera}/image_raw
  <info_topic> per camera (sensor_msgs/CameraInfo), default cameras/{camera}/camera_info
  <depth_topic> of the main camera (sensor_msgs/Image, 32FC1 metres or 16UC1 millimetres, REP 118;
      registered to the colour image), default cameras/{camera}/depth/image_raw
  /tf_static (tf2_msgs/TFMessage): each image's optical frame (its header.frame_id) is looked up
      in ``world_frame``; the simulator, a URDF with the camera mounts, a calibration package or
      interseg's static_transforms node publishes them
Published topics:
  observation (interseg_interfaces/Observation): every synchronized set, when ``publish_observations``
  ~/status (std_msgs/String): one line naming missing, stale, rejecting or unmatched cameras, clock
      jumps and missing transforms, once a second while any is
Services:
  capture (interseg_interfaces/Capture): the latest set, or (0 < timeout <= 60 s) the first set
      whose images all arrived after the request; any other timeout (negative, NaN, infinite,
      larger) is answered with success=false and the reason. At most MAX_WAITING requests wait at
      once (the others are answered at once), so waiting requests never take the threads the
      camera callbacks need.
Parameters: see config/capture.yaml and the declarations below.

Bad input is rejected with a logged reason and counted per camera, and named on ~/status; the
node never crashes on it: images with the wrong encoding, a size that does not match their
header, their camera_info or (depth) the main camera's, no header.frame_id, or an invalid stamp;
camera_info with a non-positive or non-finite focal length or an impossible size (the last good
one stays in use). Clock jumps are handled by the synchronizer (see interseg.synchronizer): a
stream going back in time drops the queued state with a warning, stamps more than ``max_ahead``
ahead of the rest are refused. bgr8 colour is turned into rgb8 and 16UC1 depth into 32FC1
metres (0 = no return -> NaN) in the Observation.
"""

from __future__ import annotations

import threading
import time

import numpy as np
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import QoSProfile, QoSReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import String

from interseg.constants import CAMERA_NAMES, WORLD_FRAME
from interseg.nodes.common import declare, run_node
from interseg.nodes.convert import ImageFormatError, image_to_msg, matrix_to_pose, msg_to_image
from interseg.nodes.tf import StaticTransformListener
from interseg.observation_checks import camera_info_problem, observation_problems
from interseg.synchronizer import ApproximateTimeSynchronizer, StampRejected
from interseg.transforms import TransformError
from interseg_interfaces.msg import Observation
from interseg_interfaces.srv import Capture

DEPTH = "depth"
MAX_TIMEOUT_S = 60.0  # longest a Capture request may ask to wait
MAX_WAITING = 3  # Capture requests allowed to wait at once
EXECUTOR_THREADS = MAX_WAITING + 4  # + streams' callbacks (one group each), health timer, one to answer at once
LOG_EVERY_S = 2.0  # rejections are logged at most this often per stream


def stamp_seconds(header) -> float:
    return header.stamp.sec + header.stamp.nanosec * 1e-9


def stamp_problem(header) -> str:
    """Why a header's stamp is not a valid ROS time ('' when it is)."""
    if header.stamp.sec < 0:
        return f"stamp {header.stamp.sec} s is negative"
    if header.stamp.nanosec >= 1_000_000_000:
        return f"stamp nanosec {header.stamp.nanosec} is not below 1e9"
    return ""


def timeout_problem(timeout: float) -> str:
    """Why a Capture request's timeout cannot be honoured ('' when it can)."""
    if not np.isfinite(timeout) or not 0.0 <= timeout <= MAX_TIMEOUT_S:
        return f"timeout {timeout!r} s is not a number of seconds in 0..{MAX_TIMEOUT_S:g} (0: the latest set)"
    return ""


class CaptureNode(Node):
    def __init__(self) -> None:
        super().__init__("capture")
        self.cameras: list[str] = declare(
            self, "cameras", list(CAMERA_NAMES), "camera names; the first is the main view (with depth)"
        )
        image_topic = declare(
            self, "image_topic", "cameras/{camera}/image_raw", "image topic pattern ({camera} is replaced)"
        )
        info_topic = declare(self, "info_topic", "cameras/{camera}/camera_info", "camera_info topic pattern")
        depth_topic = declare(
            self,
            "depth_topic",
            "cameras/{camera}/depth/image_raw",
            "depth topic pattern of the main camera (32FC1 metres or 16UC1 millimetres)",
        )
        self.world_frame = declare(self, "world_frame", WORLD_FRAME, "frame the camera poses are looked up in (TF)")
        self.slop = declare(
            self, "slop", 0.05, "seconds: largest stamp difference within a synchronized set", minimum=0.0, maximum=10.0
        )
        self.stale_after = declare(
            self,
            "stale_after",
            1.0,
            "seconds without messages after which a camera is reported stale",
            minimum=0.01,
            maximum=60.0,
        )
        self.publish_observations = declare(
            self, "publish_observations", False, "publish every synchronized set on `observation`"
        )
        self.use_depth = declare(self, "use_depth", True, "synchronize the main camera's depth too")
        reliable = declare(
            self, "reliable_images", False, "subscribe to images with reliable QoS instead of sensor-data QoS"
        )
        queue_size = declare(self, "queue_size", 10, "messages kept per stream for matching", minimum=1, maximum=100)
        max_ahead = declare(
            self,
            "max_ahead",
            60.0,
            "seconds a stamp may lie ahead of the newest one accepted; later ones are refused "
            "(until no camera has been accepted for stale_after: then the clock jumped forward)",
            minimum=0.1,
            maximum=1e6,
        )
        if not self.cameras:
            raise ValueError("parameter 'cameras' is empty")

        streams = list(self.cameras) + ([DEPTH] if self.use_depth else [])
        self.sync = ApproximateTimeSynchronizer(
            streams,
            self.slop,
            queue_size=queue_size,
            reference=self.cameras[0],
            max_ahead=max_ahead,
            rebase_after=self.stale_after,
            on_event=self._on_clock_event,
        )
        self.infos: dict[str, CameraInfo] = {}  # the last valid camera_info per camera
        self.waiting = threading.BoundedSemaphore(MAX_WAITING)
        self._logged: dict[str, float] = {}  # stream -> when its last rejection was logged
        image_qos = (
            QoSProfile(depth=queue_size, reliability=QoSReliabilityPolicy.RELIABLE)
            if reliable
            else qos_profile_sensor_data
        )
        self.tf = StaticTransformListener(self)
        # One callback group per stream: rclpy serves one shared group's ready subscriptions one at
        # a time, in the node's order, so on a busy machine the streams after the first went stale.
        self.subscriptions_ = []
        for camera in self.cameras:
            group = MutuallyExclusiveCallbackGroup()
            self.subscriptions_.append(
                self.create_subscription(
                    Image,
                    image_topic.format(camera=camera),
                    lambda m, c=camera: self.on_image(c, m),
                    image_qos,
                    callback_group=group,
                )
            )
            self.subscriptions_.append(
                self.create_subscription(
                    CameraInfo,
                    info_topic.format(camera=camera),
                    lambda m, c=camera: self.on_info(c, m),
                    image_qos,
                    callback_group=group,
                )
            )
        if self.use_depth:
            self.subscriptions_.append(
                self.create_subscription(
                    Image,
                    depth_topic.format(camera=self.cameras[0]),
                    self.on_depth,
                    image_qos,
                    callback_group=MutuallyExclusiveCallbackGroup(),
                )
            )

        self.publisher = self.create_publisher(Observation, "observation", 2)
        self.status_publisher = self.create_publisher(String, "~/status", 10)
        self.service = self.create_service(Capture, "capture", self.on_capture, callback_group=ReentrantCallbackGroup())
        self.health_timer = self.create_timer(1.0, self.report_health, callback_group=MutuallyExclusiveCallbackGroup())
        self.last_problem = ""
        self.get_logger().info(f"synchronizing {', '.join(streams)} with slop {self.slop:.3f} s")

    # -- inputs -------------------------------------------------------------------------------
    def on_info(self, camera: str, msg: CameraInfo) -> None:
        try:
            problem = camera_info_problem(int(msg.width), int(msg.height), msg.k, msg.d, msg.p)
        except Exception as exc:  # noqa: BLE001 -- one bad message must not stop capture
            problem = f"unreadable ({type(exc).__name__}: {exc})"
        if problem:
            return self._reject(camera, f"camera_info: {problem}")
        self.infos[camera] = msg

    def on_image(self, camera: str, msg: Image) -> None:
        try:
            self._add_image(camera, msg)
        except Exception as exc:  # noqa: BLE001 -- one bad message must not stop capture
            self._reject(camera, f"unexpected {type(exc).__name__}: {exc}")

    def _add_image(self, camera: str, msg: Image) -> None:
        problem = self._header_problem(msg)
        if problem:
            return self._reject(camera, problem)
        try:
            pixels = msg_to_image(msg, ("rgb8", "bgr8"))  # validates encoding and size; cheap relative to transport
        except ImageFormatError as exc:
            return self._reject(camera, str(exc))
        info = self.infos.get(camera)
        if info is not None and (msg.width, msg.height) != (info.width, info.height):
            return self._reject(
                camera, f"image is {msg.width}x{msg.height}, its camera_info {info.width}x{info.height}"
            )
        if msg.encoding == "bgr8":
            msg = image_to_msg(pixels[..., ::-1], "rgb8", msg.header)
        synced = self._add(camera, msg)
        if synced is not None and self.publish_observations:
            observation, _ = self.build_observation(synced)
            if observation is not None:
                self.publisher.publish(observation)

    def on_depth(self, msg: Image) -> None:
        try:
            self._add_depth(msg)
        except Exception as exc:  # noqa: BLE001 -- one bad message must not stop capture
            self._reject(DEPTH, f"unexpected {type(exc).__name__}: {exc}")

    def _add_depth(self, msg: Image) -> None:
        problem = self._header_problem(msg)
        if problem:
            return self._reject(DEPTH, problem)
        try:
            depth = msg_to_image(msg, ("32FC1", "16UC1"))
        except ImageFormatError as exc:
            return self._reject(DEPTH, str(exc))
        main = self.infos.get(self.cameras[0])
        if main is not None and (msg.width, msg.height) != (main.width, main.height):
            return self._reject(
                DEPTH,
                f"depth is {msg.width}x{msg.height}, the main camera ({self.cameras[0]}) {main.width}x{main.height}",
            )
        if msg.encoding == "16UC1":  # millimetres, 0 = no return (REP 118)
            metres = np.where(depth > 0, depth.astype(np.float32) / 1000.0, np.float32(np.nan))
            msg = image_to_msg(metres, "32FC1", msg.header)
        self._add(DEPTH, msg)

    @staticmethod
    def _header_problem(msg: Image) -> str:
        if not msg.header.frame_id:
            return "no header.frame_id: its camera pose cannot be looked up in TF"
        return stamp_problem(msg.header)

    def _add(self, stream: str, msg: Image):
        try:
            return self.sync.add(stream, stamp_seconds(msg.header), msg)
        except StampRejected as exc:  # counted by the synchronizer
            self._log_rejection(stream, str(exc))
            return None

    def _reject(self, stream: str, reason: str) -> None:
        self.sync.reject(stream, reason)
        self._log_rejection(stream, reason)

    def _log_rejection(self, stream: str, reason: str) -> None:
        # At most one line every LOG_EVERY_S per stream (rclpy's throttle is per call site, and
        # would let one stream's rejections hide another's).
        now = time.monotonic()
        if now - self._logged.get(stream, -LOG_EVERY_S) >= LOG_EVERY_S:
            self._logged[stream] = now
            self.get_logger().warning(
                f"rejected a message from {stream}: {reason} ({self.sync.health[stream].rejected} so far)"
            )

    def _on_clock_event(self, description: str) -> None:
        self.get_logger().warning(f"clock: {description}")

    # -- outputs ------------------------------------------------------------------------------
    def camera_poses(self, synced) -> tuple[list | None, str]:
        """Each image's optical frame in the world frame, from TF; or None and what is missing."""
        poses, missing = [], []
        for camera in self.cameras:
            frame = synced.items[camera].payload.header.frame_id
            try:
                poses.append(matrix_to_pose(self.tf.tree.lookup(self.world_frame, frame)))
            except TransformError as exc:
                missing.append(f"{camera}: {exc}" if frame else f"{camera}: images have no header.frame_id")
        return (None, "; ".join(missing)) if missing else (poses, "")

    def build_observation(self, synced) -> tuple[Observation | None, str]:
        """The Observation of a synchronized set, or None and why not."""
        no_info = [c for c in self.cameras if c not in self.infos]
        if no_info:
            return None, f"no camera_info yet for {', '.join(no_info)}"
        poses, missing = self.camera_poses(synced)
        if poses is None:
            return None, f"no camera pose in {self.world_frame} from TF: {missing}"
        observation = Observation()
        observation.header.stamp = synced.items[self.cameras[0]].payload.header.stamp
        observation.header.frame_id = self.world_frame
        observation.camera_names = list(self.cameras)
        observation.images = [synced.items[c].payload for c in self.cameras]
        observation.camera_infos = [self.infos[c] for c in self.cameras]
        observation.camera_poses = poses
        if self.use_depth:
            observation.depth = synced.items[DEPTH].payload
        problems = observation_problems(
            observation, require_depth=self.use_depth
        )  # camera_info may have changed since the images came
        if problems:
            return None, "; ".join(problems)
        return observation, ""

    def on_capture(self, request: Capture.Request, response: Capture.Response) -> Capture.Response:
        try:
            return self._capture(request, response)
        except Exception as exc:  # noqa: BLE001 -- a request must get an answer and capture must keep serving
            response.success = False
            response.message = f"capture failed: {type(exc).__name__}: {exc}"
            self.get_logger().error(response.message)
            return response

    def _capture(self, request: Capture.Request, response: Capture.Response) -> Capture.Response:
        asked = time.monotonic()
        timeout = float(request.timeout)
        problem = timeout_problem(timeout)
        if problem:
            response.success = False
            response.message = f"refused: {problem}"
            self.get_logger().warning(f"capture request {response.message}", throttle_duration_sec=2.0)
            return response
        if timeout > 0:
            if not self.waiting.acquire(blocking=False):
                response.success = False
                response.message = f"refused: {MAX_WAITING} capture requests are already waiting; ask again"
                return response
            try:
                synced = self.sync.wait_newer(asked, timeout)
            finally:
                self.waiting.release()
        else:
            synced = self.sync.latest()
        problem = self.sync.describe_problems(self.stale_after)
        if synced is None:
            response.success = False
            response.message = f"no synchronized set{' newer than the request' if timeout > 0 else ''}" + (
                f": {problem}" if problem else ""
            )
            return response
        if timeout <= 0 and time.monotonic() - synced.arrival > self.stale_after:
            response.success = False
            response.message = f"latest synchronized set is stale: {problem or 'cameras out of sync'}"
            return response
        observation, why_not = self.build_observation(synced)
        if observation is None:
            response.success = False
            response.message = why_not
            return response
        response.success = True
        response.message = problem or "ok"
        response.observation = observation
        return response

    def request_stop(self) -> None:
        """Stopping: capture requests still waiting are answered at once."""
        self.sync.close()

    def report_health(self) -> None:
        try:
            self._report_health()
        except Exception as exc:  # noqa: BLE001 -- the status must not stop capture
            self.get_logger().error(f"status report failed: {type(exc).__name__}: {exc}", throttle_duration_sec=10.0)

    def _report_health(self) -> None:
        problems = self.sync.problems(self.stale_after)
        texts = [p.text for p in problems]
        subjects = [p.subject for p in problems]
        latest = self.sync.latest()
        if latest is not None:
            _, why_not = self.build_observation(latest)
            if why_not:
                texts.append(f"observation: {why_not}")
                subjects.append("observation")
        problem = "; ".join(texts)
        # Log when the set of troubled streams changes, not every second while it lasts.
        troubled = ",".join(subjects)
        if problem:
            self.status_publisher.publish(String(data=problem))
            if troubled != self.last_problem:
                self.get_logger().warning(f"cameras: {problem}")
        elif self.last_problem:
            self.get_logger().info("all cameras are publishing again")
            self.status_publisher.publish(String(data=""))
        self.last_problem = troubled


def main(args: list[str] | None = None) -> int:
    return run_node(CaptureNode, args, threads=EXECUTOR_THREADS)
