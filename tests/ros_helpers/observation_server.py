"""A test process standing in for capture and the arm: serves ``capture`` with a synthetic
Observation of four 160x120 cameras over a flat table (``--defect KIND`` makes it inconsistent
in one way), and ``pick_place``, printing "pick_place goal received" for every goal it gets so a
test can tell whether the arm was asked to move. KIND: ``none``, ``main-image-size`` (cam0's
image 320x240, its camera_info and depth 160x120), ``depth-size``, ``no-depth``,
``info-fx-zero`` (cam1), ``pose-nan`` (cam2)."""

import argparse
import sys

import numpy as np
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from std_msgs.msg import Header

from interseg.geometry import PinholeCamera, look_at
from interseg.nodes.common import run_node
from interseg.nodes.convert import camera_to_info, image_to_msg, matrix_to_pose
from interseg_interfaces.action import PickPlace
from interseg_interfaces.msg import Observation
from interseg_interfaces.srv import Capture

EYES = {"cam0": [0.55, 0.0, 0.9], "cam1": [0.55, 0.6, 0.6], "cam2": [1.1, 0.0, 0.6], "cam3": [0.55, -0.6, 0.6]}
WIDTH, HEIGHT = 160, 120


def observation(defect: str, stamp) -> Observation:
    msg = Observation()
    msg.header = Header(stamp=stamp, frame_id="world")
    rng = np.random.default_rng(0)
    for name, eye in EYES.items():
        camera = PinholeCamera.from_fov(name, WIDTH, HEIGHT, 50, look_at(eye, [0.55, 0.0, 0.0]))
        header = Header(stamp=stamp, frame_id=f"{name}_optical_frame")
        scale = 2 if name == "cam0" and defect == "main-image-size" else 1
        msg.camera_names.append(name)
        msg.images.append(
            image_to_msg(rng.integers(0, 255, (HEIGHT * scale, WIDTH * scale, 3), dtype=np.uint8), "rgb8", header)
        )
        info = camera_to_info(camera, header)
        if name == "cam1" and defect == "info-fx-zero":
            info.k[0] = 0.0
        msg.camera_infos.append(info)
        pose = matrix_to_pose(camera.world_from_camera)
        if name == "cam2" and defect == "pose-nan":
            pose.position.x = float("nan")
        msg.camera_poses.append(pose)
    if defect != "no-depth":
        size = (HEIGHT // 2, WIDTH // 2) if defect == "depth-size" else (HEIGHT, WIDTH)
        msg.depth = image_to_msg(
            np.full(size, 0.9, np.float32), "32FC1", Header(stamp=stamp, frame_id="cam0_optical_frame")
        )
    return msg


class ObservationServer(Node):
    def __init__(self, defect: str):
        super().__init__("test_observation_server")
        self.defect = defect
        group = ReentrantCallbackGroup()
        self.create_service(Capture, "capture", self.on_capture, callback_group=group)
        self.server = ActionServer(
            self,
            PickPlace,
            "pick_place",
            self.execute,
            callback_group=group,
            goal_callback=self.on_goal,
            cancel_callback=lambda _g: CancelResponse.ACCEPT,
        )

    def on_capture(self, request, response):
        response.success, response.message = True, "ok"
        response.observation = observation(self.defect, self.get_clock().now().to_msg())
        return response

    def on_goal(self, goal):
        print("pick_place goal received", flush=True)
        return GoalResponse.ACCEPT

    def execute(self, goal_handle):
        goal_handle.succeed()
        return PickPlace.Result(success=True, object_lifted=False, message="ok")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--defect",
        default="none",
        choices=["none", "main-image-size", "depth-size", "no-depth", "info-fx-zero", "pose-nan"],
    )
    args, ros_args = parser.parse_known_args()
    sys.exit(run_node(lambda: ObservationServer(args.defect), [sys.argv[0], *ros_args]))
