"""A test process that publishes four synthetic cameras the way a driver would (rgb8 images,
camera_info, latched optical-frame poses, main-camera depth). ``--drop CAMERA --drop-from S
--drop-until S`` (or ``--drop-file PATH``: while PATH exists) silences one camera, to test how the graph reacts to a camera that
stops; ``--bad-encoding CAMERA`` publishes that camera as bgr8 (must be rejected)."""
import argparse
import sys
import time
from pathlib import Path

import numpy as np
import rclpy
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image

from interseg.geometry import PinholeCamera, look_at
from interseg.nodes.common import run_node
from interseg.nodes.convert import camera_to_info, image_to_msg, matrix_to_pose

CAMERAS = ["cam0", "cam1", "cam2", "cam3"]


class Cameras(Node):
    def __init__(self, args):
        super().__init__("test_cameras")
        self.args = args
        self.start = time.monotonic()
        latched = QoSProfile(depth=1, reliability=QoSReliabilityPolicy.RELIABLE, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
        eyes = [[0.55, 0.0, 0.9], [0.55, 0.6, 0.6], [1.1, 0.0, 0.6], [0.55, -0.6, 0.6]]
        self.cameras = [PinholeCamera.from_fov(n, args.width, args.height, 50, look_at(eye, [0.55, 0.0, 0.0])) for n, eye in zip(CAMERAS, eyes)]
        self.image_pubs = {c.name: self.create_publisher(Image, f"/cameras/{c.name}/image_raw", qos_profile_sensor_data) for c in self.cameras}
        self.info_pubs = {c.name: self.create_publisher(CameraInfo, f"/cameras/{c.name}/camera_info", qos_profile_sensor_data) for c in self.cameras}
        self.depth_pub = self.create_publisher(Image, "/cameras/cam0/depth", qos_profile_sensor_data)
        self.pose_pubs = {c.name: self.create_publisher(PoseStamped, f"/cameras/{c.name}/pose", latched) for c in self.cameras}
        for camera in self.cameras:
            pose = PoseStamped(pose=matrix_to_pose(camera.world_from_camera))
            pose.header.frame_id = "world"
            self.pose_pubs[camera.name].publish(pose)
        self.rng = np.random.default_rng(0)
        self.timer = self.create_timer(1.0 / args.rate, self.publish)

    def publish(self):
        stamp = self.get_clock().now().to_msg()
        elapsed = time.monotonic() - self.start
        for camera in self.cameras:
            if camera.name == self.args.drop and (self.args.drop_from <= elapsed < self.args.drop_until
                                                  or (self.args.drop_file and Path(self.args.drop_file).exists())):
                continue
            image = self.rng.integers(0, 255, (camera.height, camera.width, 3), dtype=np.uint8)
            msg = image_to_msg(image, "bgr8" if camera.name == self.args.bad_encoding else "rgb8")
            msg.header.stamp, msg.header.frame_id = stamp, f"{camera.name}_optical_frame"
            self.image_pubs[camera.name].publish(msg)
            info = camera_to_info(camera, msg.header)
            self.info_pubs[camera.name].publish(info)
            if camera.name == "cam0":
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
    args, ros_args = parser.parse_known_args()
    sys.exit(run_node(lambda: Cameras(args), [sys.argv[0], *ros_args]))
