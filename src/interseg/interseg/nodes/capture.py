"""capture: four camera streams in, synchronized Observations out.

Subscribed topics (sensor-data QoS unless ``reliable_images``):
  <image_topic> per camera (sensor_msgs/Image, rgb8), default /cameras/{camera}/image_raw
  <info_topic> per camera (sensor_msgs/CameraInfo), default /cameras/{camera}/camera_info
  <pose_topic> per camera (geometry_msgs/PoseStamped, transient local), default /cameras/{camera}/pose:
      the optical frame's pose in `world` (from the simulator, or a calibration publisher)
  <depth_topic> (sensor_msgs/Image, 32FC1, metres) of the main camera, default /cameras/cam0/depth
Published topics:
  observation (interseg_interfaces/Observation): every synchronized set, when ``publish_observations``
  ~/status (std_msgs/String): one line naming missing or stale cameras, once a second while any is
Services:
  capture (interseg_interfaces/Capture): the latest set, or (timeout > 0) the first set whose
      images all arrived after the request
Parameters: see config/capture_node.yaml and the declarations below.

Images with the wrong encoding or a size that does not match their header are rejected with a
logged reason and counted per camera; the node never crashes on them.
"""
from __future__ import annotations

import time

from geometry_msgs.msg import PoseStamped
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import String

from interseg_interfaces.msg import Observation
from interseg_interfaces.srv import Capture

from interseg.nodes.common import declare, run_node
from interseg.nodes.convert import ImageFormatError, msg_to_image
from interseg.synchronizer import ApproximateTimeSynchronizer

DEPTH = "depth"


def stamp_seconds(header) -> float:
    return header.stamp.sec + header.stamp.nanosec * 1e-9


class CaptureNode(Node):
    def __init__(self) -> None:
        super().__init__("capture")
        self.cameras: list[str] = declare(self, "cameras", ["cam0", "cam1", "cam2", "cam3"], "camera names; the first is the main view (with depth)")
        image_topic = declare(self, "image_topic", "/cameras/{camera}/image_raw", "image topic pattern ({camera} is replaced)")
        info_topic = declare(self, "info_topic", "/cameras/{camera}/camera_info", "camera_info topic pattern")
        pose_topic = declare(self, "pose_topic", "/cameras/{camera}/pose", "optical-frame pose topic pattern (PoseStamped in world, transient local)")
        depth_topic = declare(self, "depth_topic", "/cameras/{camera}/depth", "depth topic pattern of the main camera (32FC1, metres)")
        self.slop = declare(self, "slop", 0.05, "seconds: largest stamp difference within a synchronized set", minimum=0.0, maximum=10.0)
        self.stale_after = declare(self, "stale_after", 1.0, "seconds without messages after which a camera is reported stale", minimum=0.01, maximum=60.0)
        self.publish_observations = declare(self, "publish_observations", True, "publish every synchronized set on `observation`")
        self.use_depth = declare(self, "use_depth", True, "synchronize the main camera's depth too")
        reliable = declare(self, "reliable_images", False, "subscribe to images with reliable QoS instead of sensor-data QoS")
        queue_size = declare(self, "queue_size", 10, "messages kept per stream for matching", minimum=1, maximum=100)
        if not self.cameras:
            raise ValueError("parameter 'cameras' is empty")

        streams = list(self.cameras) + ([DEPTH] if self.use_depth else [])
        self.sync = ApproximateTimeSynchronizer(streams, self.slop, queue_size=queue_size, reference=self.cameras[0])
        self.infos: dict[str, CameraInfo] = {}
        self.poses: dict[str, PoseStamped] = {}
        self.rejected = 0
        image_qos = QoSProfile(depth=queue_size, reliability=QoSReliabilityPolicy.RELIABLE) if reliable else qos_profile_sensor_data
        latched = QoSProfile(depth=1, reliability=QoSReliabilityPolicy.RELIABLE, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
        self.subscriptions_ = []
        for camera in self.cameras:
            self.subscriptions_.append(self.create_subscription(Image, image_topic.format(camera=camera), lambda m, c=camera: self.on_image(c, m), image_qos))
            self.subscriptions_.append(self.create_subscription(CameraInfo, info_topic.format(camera=camera), lambda m, c=camera: self.infos.__setitem__(c, m), image_qos))
            self.subscriptions_.append(self.create_subscription(PoseStamped, pose_topic.format(camera=camera), lambda m, c=camera: self.poses.__setitem__(c, m), latched))
        if self.use_depth:
            self.subscriptions_.append(self.create_subscription(Image, depth_topic.format(camera=self.cameras[0]), self.on_depth, image_qos))

        self.publisher = self.create_publisher(Observation, "observation", 2)
        self.status_publisher = self.create_publisher(String, "~/status", 10)
        self.service = self.create_service(Capture, "capture", self.on_capture, callback_group=ReentrantCallbackGroup())
        self.health_timer = self.create_timer(1.0, self.report_health, callback_group=MutuallyExclusiveCallbackGroup())
        self.last_problem = ""
        self.get_logger().info(f"synchronizing {', '.join(streams)} with slop {self.slop:.3f} s")

    # -- inputs -------------------------------------------------------------------------------
    def on_image(self, camera: str, msg: Image) -> None:
        try:
            msg_to_image(msg, "rgb8")  # validates encoding and size; cheap relative to transport
        except ImageFormatError as exc:
            return self._reject(camera, str(exc))
        synced = self.sync.add(camera, stamp_seconds(msg.header), msg)
        if synced is not None and self.publish_observations:
            observation = self.build_observation(synced)
            if observation is not None:
                self.publisher.publish(observation)

    def on_depth(self, msg: Image) -> None:
        try:
            msg_to_image(msg, "32FC1")
        except ImageFormatError as exc:
            return self._reject(DEPTH, str(exc))
        self.sync.add(DEPTH, stamp_seconds(msg.header), msg)

    def _reject(self, stream: str, reason: str) -> None:
        self.rejected += 1
        self.sync.reject(stream, reason)
        self.get_logger().warning(f"rejected a message from {stream}: {reason} ({self.sync.health[stream].rejected} so far)", throttle_duration_sec=2.0)

    # -- outputs ------------------------------------------------------------------------------
    def build_observation(self, synced) -> Observation | None:
        missing = [c for c in self.cameras if c not in self.infos or c not in self.poses]
        if missing:
            return None
        observation = Observation()
        observation.header.stamp = synced.items[self.cameras[0]].payload.header.stamp
        observation.header.frame_id = "world"
        observation.camera_names = list(self.cameras)
        observation.images = [synced.items[c].payload for c in self.cameras]
        observation.camera_infos = [self.infos[c] for c in self.cameras]
        observation.camera_poses = [self.poses[c].pose for c in self.cameras]
        if self.use_depth:
            observation.depth = synced.items[DEPTH].payload
        return observation

    def on_capture(self, request: Capture.Request, response: Capture.Response) -> Capture.Response:
        asked = time.monotonic()
        synced = self.sync.wait_newer(asked, request.timeout) if request.timeout > 0 else self.sync.latest()
        problem = self.sync.describe_problems(self.stale_after)
        if synced is None:
            response.success = False
            response.message = f"no synchronized set{' newer than the request' if request.timeout > 0 else ''}" + (f": {problem}" if problem else "")
            return response
        if request.timeout <= 0 and time.monotonic() - synced.arrival > self.stale_after:
            response.success = False
            response.message = f"latest synchronized set is stale: {problem or 'cameras out of sync'}"
            return response
        observation = self.build_observation(synced)
        if observation is None:
            missing = [c for c in self.cameras if c not in self.infos or c not in self.poses]
            response.success = False
            response.message = f"no camera_info or pose yet for {', '.join(missing)}"
            return response
        response.success = True
        response.message = problem or "ok"
        response.observation = observation
        return response

    def report_health(self) -> None:
        problem = self.sync.describe_problems(self.stale_after)
        # Log when the set of troubled streams changes, not every second while it lasts.
        troubled = ",".join(part.split(":")[0] for part in problem.split("; ")) if problem else ""
        if problem:
            self.status_publisher.publish(String(data=problem))
            if troubled != self.last_problem:
                self.get_logger().warning(f"cameras: {problem}")
        elif self.last_problem:
            self.get_logger().info("all cameras are publishing again")
            self.status_publisher.publish(String(data=""))
        self.last_problem = troubled


def main(args: list[str] | None = None) -> int:
    return run_node(CaptureNode, args)
