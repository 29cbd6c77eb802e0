"""A test process that publishes four synthetic cameras the way drivers and a calibration would
(images, camera_info, main-camera depth under depth/, the extrinsics on /tf_static).
``--drop CAMERA --drop-file PATH`` silences one camera while PATH exists, to test how the graph
reacts to a camera that stops; ``--bad-encoding CAMERA`` publishes that camera as mono8 (must be
rejected); ``--tf-file PATH`` publishes the extrinsics only once PATH exists;
``--colour-encoding`` / ``--depth-encoding`` choose what a driver would send (bgr8, 16UC1
millimetres).

Clocks: ``--sim-time`` stamps with a clock that starts at 0 when the process starts (as a
simulator's does), ``--stamp-offset S`` adds S seconds to every stamp; ``--future-at S
--future-count N --future-by D`` stamps the N frames of every stream published from S seconds on
(with ``--future-file``: each time that file appears; the helper deletes it after the N frames,
so a test can ask for another burst) D seconds ahead. Faults: ``--fault STREAM:KIND``
(repeatable; STREAM is a camera or ``depth``) publishes that stream wrongly, only while
``--fault-file`` exists when one is given. KIND:
``image-size`` (image twice its camera_info's size), ``info-fx-zero``, ``info-nan`` (NaN in K),
``frame-id-empty``, ``huge`` (the header claims 100000 x 100000 pixels, the data is the usual),
``stamp-negative``; for depth ``size`` (half the main image's size)."""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from builtin_interfaces.msg import Time
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header
from tf2_msgs.msg import TFMessage

from interseg.geometry import PinholeCamera, look_at
from interseg.nodes.common import run_node
from interseg.nodes.convert import camera_to_info, image_to_msg
from interseg.nodes.tf import STATIC_BROADCASTER_QOS, tf_message
from interseg.transforms import camera_transforms

CAMERAS = ["cam0", "cam1", "cam2", "cam3"]


class Cameras(Node):
    def __init__(self, args):
        super().__init__("test_cameras")
        self.args = args
        self.start = time.monotonic()
        eyes = [[0.55, 0.0, 0.9], [0.55, 0.6, 0.6], [1.1, 0.0, 0.6], [0.55, -0.6, 0.6]]
        self.cameras = [
            PinholeCamera.from_fov(n, args.width, args.height, 50, look_at(eye, [0.55, 0.0, 0.0]))
            for n, eye in zip(CAMERAS, eyes)
        ]
        self.image_pubs = {
            c.name: self.create_publisher(Image, f"cameras/{c.name}/image_raw", qos_profile_sensor_data)
            for c in self.cameras
        }
        self.info_pubs = {
            c.name: self.create_publisher(CameraInfo, f"cameras/{c.name}/camera_info", qos_profile_sensor_data)
            for c in self.cameras
        }
        self.depth_pub = self.create_publisher(Image, "cameras/cam0/depth/image_raw", qos_profile_sensor_data)
        self.tf_static_pub = self.create_publisher(TFMessage, "/tf_static", STATIC_BROADCASTER_QOS)
        self.tf_sent = False
        self.rng = np.random.default_rng(0)
        self.future_sent = 0
        self.faults = {tuple(f.split(":", 1)) for f in args.fault}
        self.timer = self.create_timer(1.0 / args.rate, self.publish)

    def stamp(self, elapsed: float):
        seconds = elapsed if self.args.sim_time else self.get_clock().now().nanoseconds * 1e-9
        seconds += self.args.stamp_offset
        if (
            self.args.future_count
            and elapsed >= self.args.future_at
            and self.future_sent < self.args.future_count
            and (not self.args.future_file or Path(self.args.future_file).exists())
        ):
            self.future_sent += 1
            seconds += self.args.future_by
            self.get_logger().info(
                f"future frame {self.future_sent} of {self.args.future_count}: stamped {self.args.future_by:g} s ahead"
            )
            if self.args.future_file and self.future_sent == self.args.future_count:
                self.future_sent = 0  # the burst is sent: the next one when the file appears again
                Path(self.args.future_file).unlink()
        sec = int(seconds)
        return Time(sec=sec, nanosec=int(round((seconds - sec) * 1e9)) % 1_000_000_000)

    def faulty(self, stream: str, kind: str) -> bool:
        return (stream, kind) in self.faults and (not self.args.fault_file or Path(self.args.fault_file).exists())

    def publish(self):
        elapsed = time.monotonic() - self.start
        stamp = self.stamp(elapsed)
        if not self.tf_sent and (not self.args.tf_file or Path(self.args.tf_file).exists()):
            transforms = [
                t for camera in self.cameras for t in camera_transforms(camera.name, camera.world_from_camera)
            ]
            self.tf_static_pub.publish(tf_message(transforms, stamp))
            self.tf_sent = True
        for camera in self.cameras:
            if camera.name == self.args.drop and self.args.drop_file and Path(self.args.drop_file).exists():
                continue
            name = camera.name
            scale = 2 if self.faulty(name, "image-size") else 1
            image = self.rng.integers(0, 255, (camera.height * scale, camera.width * scale, 3), dtype=np.uint8)
            if name == self.args.bad_encoding:
                msg = image_to_msg(image[..., 0], "mono8")
            else:
                msg = image_to_msg(
                    image[..., ::-1] if self.args.colour_encoding == "bgr8" else image, self.args.colour_encoding
                )
            frame = f"{name}_optical_frame"
            msg.header = Header(stamp=stamp, frame_id=frame)
            info = camera_to_info(camera, Header(stamp=stamp, frame_id=frame))
            if self.faulty(name, "frame-id-empty"):
                msg.header.frame_id = ""
            if self.faulty(name, "huge"):
                msg.width = msg.height = 100000
                msg.step = 3 * msg.width
            if self.faulty(name, "stamp-negative"):
                msg.header.stamp = Time(sec=-5, nanosec=0)
            if self.faulty(name, "info-fx-zero"):
                info.k[0] = 0.0
            if self.faulty(name, "info-nan"):
                info.k[2] = float("nan")
            self.image_pubs[name].publish(msg)
            self.info_pubs[name].publish(info)
            if name == "cam0":
                if self.args.depth_encoding == "16UC1":
                    millimetres = np.full((camera.height, camera.width), 900, np.uint16)
                    millimetres[0, :] = 0  # no return
                    depth = image_to_msg(millimetres, "16UC1", Header(stamp=stamp, frame_id=frame))
                else:
                    size = (
                        (camera.height // 2, camera.width // 2)
                        if self.faulty("depth", "size")
                        else (camera.height, camera.width)
                    )
                    depth = image_to_msg(np.full(size, 0.9, np.float32), "32FC1", Header(stamp=stamp, frame_id=frame))
                self.depth_pub.publish(depth)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--width", type=int, default=160)
    parser.add_argument("--height", type=int, default=120)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--drop", default="")
    parser.add_argument("--drop-file", default="", help="silence --drop while this file exists")
    parser.add_argument("--bad-encoding", default="")
    parser.add_argument("--tf-file", default="", help="/tf_static is published only once this file exists")
    parser.add_argument("--colour-encoding", default="rgb8", choices=["rgb8", "bgr8"])
    parser.add_argument("--depth-encoding", default="32FC1", choices=["32FC1", "16UC1"])
    parser.add_argument("--sim-time", action="store_true", help="stamp with a clock that starts at 0 with the process")
    parser.add_argument("--stamp-offset", type=float, default=0.0, help="seconds added to every stamp")
    parser.add_argument("--future-at", type=float, default=0.0)
    parser.add_argument("--future-count", type=int, default=0)
    parser.add_argument("--future-by", type=float, default=86400.0)
    parser.add_argument("--future-file", default="", help="a burst of future frames each time this file appears")
    parser.add_argument("--fault", action="append", default=[], help="STREAM:KIND, see the module docstring")
    parser.add_argument("--fault-file", default="", help="faults apply only while this file exists")
    args, ros_args = parser.parse_known_args()
    sys.exit(run_node(lambda: Cameras(args), [sys.argv[0], *ros_args]))
