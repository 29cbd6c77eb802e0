"""The hypotheses node's `segment` service and continuous segmentation of a camera topic, across
real processes: any encoding and size in, hypotheses and a mono16 label image with the request's
header out; bad images answered with an error and the node still serving; a fast camera segmented
at the rate the node is given, newest frame first."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from conftest import call_service, node_command, wait_for

pytestmark = pytest.mark.slow


def _checkpoint(path) -> str:
    """A 320x240 network whose hypotheses are its windows' full squares (mask threshold near 0)."""
    import torch

    from interseg.learning.model import ModelConfig
    from interseg.learning.trainer import Trainer

    torch.manual_seed(0)
    trainer = Trainer(path, ModelConfig(input_scale=1.0, expected_size=(320, 240)))
    trainer.model.config.mask_threshold = 0.001
    return str(trainer.save_checkpoint().path)


def _image(seed: int, size=(320, 240)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(60, 200, (size[1], size[0], 3), dtype=np.uint8)


def _call(node, request, timeout: float = 60.0):
    from interseg_interfaces.srv import Segment

    client = node.create_client(Segment, "/seg/segment")
    assert client.wait_for_service(timeout_sec=60), "segment service not available"
    return call_service(client, request, timeout, resend_after=10, message="segment response")


def test_segment_service_and_a_camera_topic(processes, ros_node, tmp_path):
    from builtin_interfaces.msg import Time
    from sensor_msgs.msg import Image
    from std_msgs.msg import Header

    from interseg.nodes.convert import image_to_msg, msg_to_image
    from interseg_interfaces.msg import ObjectHypotheses
    from interseg_interfaces.srv import Segment

    params = {
        "checkpoint": _checkpoint(tmp_path / "ckpt"),
        "segment_topic": "/seg/camera/image_raw",
        "segment_max_rate": "2.0",
        "segment_min_score": "0.0",
    }
    processes.start(node_command("hypotheses", "/seg", "config/hypotheses.yaml", **params), name="hypotheses")
    header = Header(stamp=Time(sec=42, nanosec=7), frame_id="camera_optical")
    # rgb8 at the network's size, then bgr8 at twice it (resized to the network and back).
    for encoding, size in (("rgb8", (320, 240)), ("bgr8", (640, 480))):
        response = _call(ros_node, Segment.Request(image=image_to_msg(_image(1, size), encoding, header)))
        assert response.success, response.message
        labels = msg_to_image(response.labels, "mono16")
        assert labels.shape == (size[1], size[0]) and response.labels.header == header
        assert response.hypotheses.header == header and len(response.hypotheses.hypotheses) > 0
        ids = sorted(int(i) for i in np.unique(labels) if i)
        assert ids and ids[0] == 1 and ids[-1] <= len(response.hypotheses.hypotheses)
        best = msg_to_image(response.hypotheses.hypotheses[0].mask, "mono8") > 0
        assert best.shape == labels.shape and np.array_equal(labels == 1, best)  # id 1: the best, all of it
    # min_score leaves out what scores below it.
    scores = [h.score for h in response.hypotheses.hypotheses]
    cut = float(np.median(scores))
    request = Segment.Request(image=image_to_msg(_image(1, (640, 480)), "bgr8", header), min_score=cut)
    assert all(h.score >= cut for h in _call(ros_node, request).hypotheses.hypotheses)

    # Bad images: an error answer, and the node goes on serving.
    broken = image_to_msg(_image(2), "rgb8", header)
    broken.data = bytes(broken.data)[:100]
    bad = [broken, image_to_msg(np.zeros((240, 320), np.float32), "32FC1", header)]
    for image in bad:
        response = _call(ros_node, Segment.Request(image=image))
        assert not response.success and "rejected image" in response.message
    assert _call(ros_node, Segment.Request(image=image_to_msg(_image(3), "rgb8", header))).success

    # A camera at 20 Hz for 3 s: segmented at most ~2 times a second, each result carrying the
    # header of one of the frames sent.
    received: list = []
    lock = threading.Lock()

    def on_labels(msg: Image) -> None:
        with lock:
            received.append(("labels", msg.header.stamp.sec, msg.encoding, msg.width))

    def on_hypotheses(msg: ObjectHypotheses) -> None:
        with lock:
            received.append(("hypotheses", msg.header.stamp.sec, len(msg.hypotheses), 0))

    ros_node.create_subscription(Image, "/seg/hypotheses/segmentation/labels", on_labels, 10)
    ros_node.create_subscription(ObjectHypotheses, "/seg/hypotheses/segmentation/hypotheses", on_hypotheses, 10)
    publisher = ros_node.create_publisher(Image, "/seg/camera/image_raw", 10)
    wait_for(lambda: publisher.get_subscription_count() > 0, 30, message="the node's camera subscription")
    frames = [image_to_msg(_image(10 + k), "rgb8", Header(stamp=Time(sec=1000 + k))) for k in range(60)]
    started = time.monotonic()
    for frame in frames:
        publisher.publish(frame)
        time.sleep(0.05)
    elapsed = time.monotonic() - started

    def quiet_for(seconds: float):  # the last segmentation in flight has arrived, both its messages
        state = {"count": -1, "since": time.monotonic()}

        def check() -> bool:
            with lock:
                count, balanced = len(received), 2 * sum(r[0] == "labels" for r in received) == len(received)
            if count != state["count"]:
                state["count"], state["since"] = count, time.monotonic()
            return balanced and time.monotonic() - state["since"] >= seconds

        return check

    wait_for(quiet_for(1.5), 60, message=f"the segmentations to settle: {received}")
    with lock:
        labels = [r for r in received if r[0] == "labels"]
        hypotheses = [r for r in received if r[0] == "hypotheses"]
    assert 2 <= len(labels) <= 2.0 * (elapsed + 1.5) + 1, (len(labels), elapsed)
    assert all(r[2] == "mono16" and r[3] == 320 and 1000 <= r[1] < 1060 for r in labels)
    assert sorted(r[1] for r in labels) == sorted(r[1] for r in hypotheses)
    assert len({r[1] for r in labels}) == len(labels)  # each frame segmented once at most
