"""hypotheses: the network's object hypotheses for the main camera view.

Services:
  propose_objects (interseg_interfaces/ProposeObjects): the first image of the request's
      Observation (or its ``image``) -> ObjectHypotheses (also published); the loop's proposals
  segment (interseg_interfaces/Segment): any image (rgb8, bgr8, rgba8, bgra8, mono8; any size) ->
      its hypotheses and their mono16 label image, for any node of the robot; nothing published
Subscribed topics: segment_topic (parameter; sensor_msgs/Image, sensor-data QoS): when set, the
  latest image is segmented at most segment_max_rate times a second (frames that arrive while the
  network is busy are dropped, never queued) and published on ~/segmentation/*
Subscribed topics: model_updates (interseg_interfaces/ModelUpdate): load the announced checkpoint
  in the background and swap it in; requests in flight finish on the model they started with,
  and a checkpoint that fails to load leaves the running model untouched. The checkpoint comes in
  the message (the trainer's model_transport: weights; written to model_cache first) or is read
  at its path on a shared disk; either way its SHA-256 and size must be the announced ones, so a
  partial or corrupt transfer is refused and the running model stays
Published topics:
  hypotheses (interseg_interfaces/ObjectHypotheses)
  ~/segmentation/hypotheses (interseg_interfaces/ObjectHypotheses), ~/segmentation/labels
      (sensor_msgs/Image, mono16): segment_topic's images segmented, with their headers
  ~/overlay (sensor_msgs/Image, rgb8): masks, grasp points and yaws drawn on the image (rviz Image display)
  ~/markers (visualization_msgs/MarkerArray): each hypothesis's own grasp pixel and yaw as an
      arrow in the Observation's frame (`world`), from the main camera's depth and pose when the request carries an
      Observation (the grasp actually executed, which the planner may move onto the mask's
      footprint, is on grasp_planner/markers)
Parameters: see config/hypotheses.yaml.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from geometry_msgs.msg import Point
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
from visualization_msgs.msg import Marker, MarkerArray

from interseg.learning.baselines import network_or_bottom_up
from interseg.learning.checkpoint import CheckpointError
from interseg.learning.model import HypothesisNetwork, ModelConfig
from interseg.learning.model_transfer import Digest, check_digest, receive_checkpoint
from interseg.learning.predictor import HypothesisPredictor
from interseg.learning.segmenter import Segmenter
from interseg.nodes.common import MODEL_UPDATE_QOS, declare, run_node
from interseg.nodes.convert import ImageFormatError, image_to_msg, info_to_camera, msg_to_image, msg_to_rgb
from interseg.transforms import WORLD_FRAME
from interseg.visualization import overlay_hypotheses, palette
from interseg_interfaces.msg import ModelUpdate, ObjectHypotheses, ObjectHypothesis
from interseg_interfaces.srv import ProposeObjects, Segment


def announced_checkpoint(msg: ModelUpdate, cache: Path) -> Path:
    """The announced checkpoint as a local file, checked against the announced digest: the bytes
    in the message written to ``cache``, or the file at its path (a shared disk). Raises
    CheckpointError when it is not what was announced."""
    expected = Digest(msg.checkpoint_sha256, int(msg.checkpoint_size)) if msg.checkpoint_sha256 else None
    if len(msg.checkpoint_data):
        if expected is None:
            raise CheckpointError("the message carries a checkpoint without its SHA-256 and size")
        return receive_checkpoint(memoryview(msg.checkpoint_data), expected, cache, msg.version)
    path = Path(msg.checkpoint_path)
    if expected is not None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CheckpointError(
                f"cannot read {path} ({exc.strerror or exc}); on a host without the trainer's disk, "
                "run the trainer with model_transport: weights"
            ) from None
        check_digest(data, expected, str(path))
    return path


class HypothesesNode(Node):
    def __init__(self) -> None:
        super().__init__("hypotheses")
        checkpoint = declare(self, "checkpoint", "", "checkpoint to start from ('' = randomly initialised network)")
        self.threads = declare(self, "threads", 1, "torch CPU threads for inference", minimum=1, maximum=64)
        seed = declare(self, "seed", 0, "seed of the random initial weights", minimum=0)
        input_scale = declare(
            self,
            "input_scale",
            0.5,
            "network resolution / camera resolution (initial network only)",
            minimum=0.05,
            maximum=2.0,
        )
        width = declare(self, "image_width", 640, "main camera width the initial network expects", minimum=32)
        height = declare(self, "image_height", 480, "main camera height the initial network expects", minimum=32)
        self.default_count = declare(
            self, "max_hypotheses", 10, "hypotheses returned when the request asks for 0", minimum=1, maximum=100
        )
        self.publish_overlay = declare(self, "publish_overlay", True, "publish ~/overlay images")
        self.fallback_bottom_up = declare(
            self, "fallback_bottom_up", True, "bottom-up proposals when the network proposes none"
        )
        segment_topic = declare(self, "segment_topic", "", "image topic to segment continuously ('' = none)")
        segment_rate = declare(
            self,
            "segment_max_rate",
            2.0,
            "segmentations per second at most (segment_topic)",
            minimum=0.1,
            maximum=100.0,
        )
        self.segment_min_score = declare(
            self, "segment_min_score", 0.5, "score a hypothesis needs on ~/segmentation/*", minimum=0.0, maximum=1.0
        )
        model_cache = declare(
            self,
            "model_cache",
            "",
            "folder for models received in their announcement ('' = a private temporary folder, removed at exit)",
        )
        self.own_cache = None if model_cache else tempfile.TemporaryDirectory(prefix="interseg-models-")
        self.model_cache = Path(model_cache) if model_cache else Path(self.own_cache.name)
        import torch

        torch.set_num_threads(self.threads)
        if checkpoint:
            self.predictor = HypothesisPredictor.from_checkpoint(checkpoint)
        else:
            torch.manual_seed(seed)
            self.predictor = HypothesisPredictor(
                HypothesisNetwork(ModelConfig(input_scale=input_scale, expected_size=(width, height))), version=0
            )
        self.model_lock = threading.Lock()  # guards the swap, not the inference
        self.rejected_requests = 0
        self.hypotheses_publisher = self.create_publisher(ObjectHypotheses, "hypotheses", 10)
        self.overlay_publisher = self.create_publisher(Image, "~/overlay", 2)
        self.marker_publisher = self.create_publisher(MarkerArray, "~/markers", 2)
        self.service = self.create_service(
            ProposeObjects, "propose_objects", self.on_propose, callback_group=ReentrantCallbackGroup()
        )
        self.segment_service = self.create_service(
            Segment, "segment", self.on_segment, callback_group=ReentrantCallbackGroup()
        )
        self.latest_image: Image | None = None  # segment_topic's newest frame, not yet segmented
        self.latest_lock = threading.Lock()
        if segment_topic:
            self.segmentation_hypotheses = self.create_publisher(ObjectHypotheses, "~/segmentation/hypotheses", 2)
            self.segmentation_labels = self.create_publisher(Image, "~/segmentation/labels", 2)
            self.image_subscription = self.create_subscription(
                Image, segment_topic, self.on_image, qos_profile_sensor_data
            )
            self.segment_timer = self.create_timer(
                1.0 / segment_rate, self.segment_latest, callback_group=MutuallyExclusiveCallbackGroup()
            )
        self.update_subscription = self.create_subscription(
            ModelUpdate,
            "model_updates",
            self.on_model_update,
            MODEL_UPDATE_QOS,
            callback_group=MutuallyExclusiveCallbackGroup(),
        )
        self.get_logger().info(
            f"serving model version {self.predictor.version} "
            f"({'checkpoint ' + checkpoint if checkpoint else 'random initial weights'})"
        )

    # -- model updates ------------------------------------------------------------------------
    def on_model_update(self, msg: ModelUpdate) -> None:
        if msg.version <= self.predictor.version:
            return
        start = time.monotonic()
        received = len(msg.checkpoint_data) > 0
        source = f"{msg.checkpoint_size} bytes received" if received else msg.checkpoint_path
        try:  # outside the lock
            predictor = HypothesisPredictor.from_checkpoint(announced_checkpoint(msg, self.model_cache))
        except Exception as exc:  # noqa: BLE001 -- a bad checkpoint must not take the node down
            self.get_logger().error(
                f"keeping model version {self.predictor.version}: model version {msg.version} ({source}) refused: {exc}"
            )
            return
        with self.model_lock:
            self.predictor = predictor
        self.get_logger().info(
            f"switched to model version {predictor.version} (step {msg.training_step}, {source}, "
            f"loaded in {time.monotonic() - start:.2f} s)"
        )

    # -- proposals ----------------------------------------------------------------------------
    def on_propose(self, request: ProposeObjects.Request, response: ProposeObjects.Response) -> ProposeObjects.Response:
        image_msg = request.observation.images[0] if request.observation.images else request.image
        try:
            image = msg_to_image(image_msg, "rgb8")
            with self.model_lock:
                predictor = self.predictor  # this request finishes on this model even if it is swapped
            hypotheses = predictor.predict(image)
            fell_back = False
            if self.fallback_bottom_up:
                hypotheses, fell_back = network_or_bottom_up(hypotheses, image)
        except (ImageFormatError, ValueError) as exc:
            self.rejected_requests += 1
            response.success = False
            response.message = f"rejected image: {exc}"
            self.get_logger().warning(
                f"{response.message} ({self.rejected_requests} rejected so far)", throttle_duration_sec=2.0
            )
            return response
        count = request.max_hypotheses or self.default_count
        hypotheses = hypotheses[:count]
        out = hypotheses_msg(hypotheses, image_msg.header, predictor.version)
        response.success = True
        response.message = (
            f"model version {predictor.version} proposed none: {len(hypotheses)} bottom-up proposals"
            if fell_back
            else f"{len(hypotheses)} hypotheses from model version {predictor.version}"
        )
        if fell_back:
            self.get_logger().warning(response.message, throttle_duration_sec=10.0)
        response.hypotheses = out
        self.hypotheses_publisher.publish(out)
        if self.publish_overlay:
            self.overlay_publisher.publish(
                image_to_msg(overlay_hypotheses(image, hypotheses), "rgb8", image_msg.header)
            )
        if request.observation.images and request.observation.depth.width:
            self.publish_markers(request.observation, hypotheses)
        return response

    # -- segmentation for the rest of the robot ---------------------------------------------------
    def segment(self, image_msg: Image, min_score: float):
        """Image message -> (ObjectHypotheses, mono16 label image); ImageFormatError/ValueError if bad."""
        image = msg_to_rgb(image_msg)
        with self.model_lock:
            predictor = self.predictor

        def warn(message: str) -> None:  # once per size per request: throttled across requests
            self.get_logger().warning(message, throttle_duration_sec=60.0)

        segmentation = Segmenter(predictor, resize=True, warn=warn).segment(image)
        kept = [h for h in segmentation.hypotheses if h.score >= min_score]
        labels = image_to_msg(segmentation.labels(min_score), "mono16", image_msg.header)
        return hypotheses_msg(kept, image_msg.header, predictor.version), labels

    def on_segment(self, request: Segment.Request, response: Segment.Response) -> Segment.Response:
        try:
            response.hypotheses, response.labels = self.segment(request.image, float(request.min_score))
        except (ImageFormatError, ValueError) as exc:
            self.rejected_requests += 1
            response.success, response.message = False, f"rejected image: {exc}"
            self.get_logger().warning(response.message, throttle_duration_sec=2.0)
            return response
        response.success = True
        response.message = (
            f"{len(response.hypotheses.hypotheses)} hypotheses from model version {response.hypotheses.model_version}"
        )
        return response

    def on_image(self, msg: Image) -> None:
        with self.latest_lock:
            self.latest_image = msg  # replaces a frame not yet segmented: the newest one wins

    def segment_latest(self) -> None:
        with self.latest_lock:
            msg, self.latest_image = self.latest_image, None
        if msg is None:
            return
        try:
            hypotheses, labels = self.segment(msg, self.segment_min_score)
        except (ImageFormatError, ValueError) as exc:
            self.get_logger().warning(f"cannot segment the image: {exc}", throttle_duration_sec=5.0)
            return
        self.segmentation_hypotheses.publish(hypotheses)
        self.segmentation_labels.publish(labels)

    def publish_markers(self, observation, hypotheses) -> None:
        try:
            camera = info_to_camera(
                observation.camera_infos[0], observation.camera_poses[0], observation.camera_names[0]
            )
            depth = msg_to_image(observation.depth, "32FC1")
        except (ImageFormatError, ValueError, IndexError):
            return
        frame = observation.header.frame_id or WORLD_FRAME  # the frame capture put the camera poses in
        markers = MarkerArray()
        clear = Marker(action=Marker.DELETEALL)
        clear.header.frame_id = frame
        markers.markers.append(clear)
        for index, (h, colour) in enumerate(zip(hypotheses, palette(len(hypotheses)))):
            v, u = int(round(h.grasp_v)), int(round(h.grasp_u))
            d = float(depth[min(max(v, 0), depth.shape[0] - 1), min(max(u, 0), depth.shape[1] - 1)])
            if not np.isfinite(d):
                continue
            centre = camera.backproject(np.array([[h.grasp_u, h.grasp_v]]), np.array([d]))[0]
            tip = camera.backproject(
                np.array([[h.grasp_u + 20 * np.cos(h.grasp_yaw), h.grasp_v + 20 * np.sin(h.grasp_yaw)]]), np.array([d])
            )[0]
            marker = Marker(ns="grasps", id=index, type=Marker.ARROW, action=Marker.ADD)
            marker.header.frame_id = frame
            marker.header.stamp = observation.header.stamp
            marker.points = [
                Point(x=float(centre[0]), y=float(centre[1]), z=float(centre[2])),
                Point(x=float(tip[0]), y=float(tip[1]), z=float(tip[2])),
            ]
            marker.scale.x, marker.scale.y, marker.scale.z = 0.005, 0.01, 0.01
            marker.color.r, marker.color.g, marker.color.b = (c / 255.0 for c in colour)
            marker.color.a = float(0.3 + 0.7 * h.score)
            markers.markers.append(marker)
        self.marker_publisher.publish(markers)


def hypotheses_msg(hypotheses, header, version: int) -> ObjectHypotheses:
    out = ObjectHypotheses(header=header, model_version=int(version))
    for index, h in enumerate(hypotheses):
        msg = ObjectHypothesis(
            id=index,
            score=float(h.score),
            grasp_u=float(h.grasp_u),
            grasp_v=float(h.grasp_v),
            grasp_yaw=float(h.grasp_yaw),
        )
        msg.bbox = [int(v) for v in h.bbox]
        msg.mask = image_to_msg(h.mask.astype(np.uint8) * 255, "mono8", header)
        out.hypotheses.append(msg)
    return out

    def close(self) -> None:
        if self.own_cache is not None:
            self.own_cache.cleanup()


def main(args: list[str] | None = None) -> int:
    return run_node(HypothesesNode, args)
