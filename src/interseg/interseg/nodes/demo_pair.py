"""A talker/listener pair over the project's own message type, to check a ROS set-up.

`launch/check.launch.yaml` starts both: the talker publishes ObjectHypotheses with a moving
disc mask; the listener checks every message (mask size, encoding, content) and reports the
rate and latency, then exits. If the listener finishes with code 0, the interfaces, the DDS
profile and the supervisor work on this machine.

Talker parameters: ``rate`` (Hz), ``width``/``height`` (mask size), ``frame_id``.
Listener parameters: ``count`` (messages to receive before exiting, 0 = forever).
Topic: ``hypotheses`` (interseg_interfaces/msg/ObjectHypotheses).
"""

from __future__ import annotations

import time

import numpy as np
from rclpy.node import Node
from rclpy.task import Future

from interseg.constants import MAIN_CAMERA
from interseg.nodes.common import declare, run_node
from interseg.nodes.convert import image_to_msg, msg_to_image
from interseg.transforms import optical_frame
from interseg_interfaces.msg import ObjectHypotheses, ObjectHypothesis


class Talker(Node):
    def __init__(self) -> None:
        super().__init__("talker")
        self.rate = declare(self, "rate", 10.0, "messages per second", minimum=0.1, maximum=1000.0)
        self.width = declare(self, "width", 320, "mask width in pixels", minimum=8, maximum=4096)
        self.height = declare(self, "height", 240, "mask height in pixels", minimum=8, maximum=4096)
        self.frame_id = declare(self, "frame_id", optical_frame(MAIN_CAMERA), "frame of the masks")
        self.publisher = self.create_publisher(ObjectHypotheses, "hypotheses", 10)
        self.sequence = 0
        self.timer = self.create_timer(1.0 / self.rate, self.publish)

    def publish(self) -> None:
        msg = ObjectHypotheses()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = self.frame_id
        msg.model_version = self.sequence
        v, u = np.mgrid[0 : self.height, 0 : self.width]
        cu = (self.sequence * 7) % self.width
        cv = self.height // 2
        radius = max(2, min(self.width, self.height) // 8)
        mask = (((u - cu) ** 2 + (v - cv) ** 2) <= radius**2).astype(np.uint8) * 255
        hypothesis = ObjectHypothesis(id=0, score=1.0, grasp_u=float(cu), grasp_v=float(cv), grasp_yaw=0.0)
        hypothesis.mask = image_to_msg(mask, "mono8", msg.header)
        msg.hypotheses = [hypothesis]
        self.publisher.publish(msg)
        self.sequence += 1


class Listener(Node):
    def __init__(self) -> None:
        super().__init__("listener")
        self.count = declare(self, "count", 0, "messages to receive before exiting (0 = forever)", minimum=0)
        self.finished = Future() if self.count > 0 else None
        self.received = 0
        self.latencies: list[float] = []
        self.first_time: float | None = None
        self.subscription = self.create_subscription(ObjectHypotheses, "hypotheses", self.on_message, 10)

    def on_message(self, msg: ObjectHypotheses) -> None:
        now = self.get_clock().now()
        self.latencies.append((now.nanoseconds - (msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec)) / 1e6)
        self.first_time = self.first_time or time.monotonic()
        mask = msg_to_image(msg.hypotheses[0].mask, "mono8")
        area = int((mask > 0).sum())
        self.received += 1
        if self.received == 1 or self.received % 10 == 0:
            self.get_logger().info(
                f"message {self.received}: version {msg.model_version}, mask {mask.shape[1]}x{mask.shape[0]}, "
                f"area {area} px"
            )
        if self.finished is not None and self.received >= self.count and not self.finished.done():
            elapsed = max(1e-6, time.monotonic() - self.first_time)
            self.get_logger().info(
                f"received {self.received} messages, {(self.received - 1) / elapsed:.1f} Hz, "
                f"latency median {np.median(self.latencies):.1f} ms, max {np.max(self.latencies):.1f} ms"
            )
            self.finished.set_result(0)


def talker_main(args: list[str] | None = None) -> int:
    return run_node(Talker, args)


def listener_main(args: list[str] | None = None) -> int:
    return run_node(Listener, args)
