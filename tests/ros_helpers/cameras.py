"""A test process that publishes four synthetic cameras the way drivers and a calibration would
(images, camera_info, main-camera depth under depth/, the extrinsics on /tf_static).
``--drop CAMERA --drop-from S --drop-until S`` (or ``--drop-file PATH``: while PATH exists)
silences one camera, to test how the graph reacts to a camera that stops; ``--bad-encoding
CAMERA`` publishes that camera as mono8 (must be rejected); ``--tf-after S`` publishes the
extrinsics only S seconds after the start; ``--colour-encoding`` / ``--depth-encoding`` choose
what a driver would send (bgr8, 16UC1 millimetres)."""
import argparse
import sys
import time
from pathlib import Path

import numpy as np
import rclpy
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
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
        self.cameras = [PinholeCamera.from_fov(n, args.width, args.height, 50, look_at(eye, [0.55, 0.0, 0.0])) for n, eye in zip(CAMERAS, eyes)]
        self.image_pubs = {c.name: self.create_publisher(Image, f"cameras/{c.name}/image_raw", qos_profile_sensor_data) for c in self.cameras}
        self.info_pubs = {c.name: self.create_publisher(CameraInfo, f"cameras/{c.name}/camera_info", qos_profile_sensor_data) for c in self.cameras}
        self.depth_pub = self.create_publisher(Image, "cameras/cam0/depth/image_raw", qos_profile_sensor_data)
        self.tf_static_pub = self.create_publisher(TFMessage, "/tf_static", STATIC_BROADCASTER_QOS)
        self.tf_sent = False
        self.rng = np.random.default_rng(0)
        self.timer = self.create_timer(1.0 / args.rate, self.publish)

    def publish(self):
        stamp = self.get_clock().now().to_msg()
        elapsed = time.monotonic() - self.start
        if not self.tf_sent and elapsed >= self.args.tf_after:
            transforms = [t for camera in self.cameras for t in camera_transforms(camera.name, camera.world_from_camera)]
            self.tf_static_pub.publish(tf_message(transforms, stamp))
            self.tf_sent = True
        for camera in self.cameras:
            if camera.name == self.args.drop and (self.args.drop_from <= elapsed < self.args.drop_until
                                                  or (self.args.drop_file and Path(self.args.drop_file).exists())):
                continue
            image = self.rng.integers(0, 255, (camera.height, camera.width, 3), dtype=np.uint8)
            if camera.name == self.args.bad_encoding:
                msg = image_to_msg(image[..., 0], "mono8")
            else:
                msg = image_to_msg(image[..., ::-1] if self.args.colour_encoding == "bgr8" else image, self.args.colour_encoding)
            msg.header.stamp, msg.header.frame_id = stamp, f"{camera.name}_optical_frame"
            self.image_pubs[camera.name].publish(msg)
            info = camera_to_info(camera, msg.header)
            self.info_pubs[camera.name].publish(info)
            if camera.name == "cam0":
                if self.args.depth_encoding == "16UC1":
                    millimetres = np.full((camera.height, camera.width), 900, np.uint16)
                    millimetres[0, :] = 0  # no return
                    depth = image_to_msg(millimetres, "16UC1", msg.header)
                else:
                    depth = image_to_msg(np.full((camera.height, camera.width), 0.9, np.float32), "32FC1", msg.header)
                self.depth_pub.publish(depth)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--width", type=int, default=160)
    parser.add_argument("--height", type=int, default=120)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--drop", default="")
    parser.add_argument("--drop-from", type=float, default=0.0)
    parser.add_argument("--drop-until", type=float, default=0.0)
    parser.add_argument("--drop-file", default="", help="silence --drop while this file exists")
    parser.add_argument("--bad-encoding", default="")
    parser.add_argument("--tf-after", type=float, default=0.0)
    parser.add_argument("--colour-encoding", default="rgb8", choices=["rgb8", "bgr8"])
    parser.add_argument("--depth-encoding", default="32FC1", choices=["32FC1", "16UC1"])
    args, ros_args = parser.parse_known_args()
    sys.exit(run_node(lambda: Cameras(args), [sys.argv[0], *ros_args]))
