"""A test process standing in for capture and the arm, with a slow mid-grasp capture: serves
``capture`` with the consistent synthetic Observation of ros_helpers/observation_server.py and
``pick_place``, which reports the "hold" phase (the grasp planner then asks for the mid-grasp
capture) and finishes at once. The capture requested while the arm holds answers only after
``--lifted-delay`` seconds, after the planner's "after" capture has been answered."""

import argparse
import sys
import threading
import time
from pathlib import Path

from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "ros_helpers"))

from observation_server import observation

from interseg.nodes.common import run_node
from interseg_interfaces.action import PickPlace
from interseg_interfaces.srv import Capture


class SlowLiftedServer(Node):
    def __init__(self, lifted_delay: float):
        super().__init__("test_slow_lifted_server")
        self.lifted_delay = lifted_delay
        self.holding = threading.Event()
        group = ReentrantCallbackGroup()
        self.create_service(Capture, "capture", self.on_capture, callback_group=group)
        self.server = ActionServer(
            self,
            PickPlace,
            "pick_place",
            self.execute,
            callback_group=group,
            goal_callback=lambda _g: GoalResponse.ACCEPT,
            cancel_callback=lambda _g: CancelResponse.ACCEPT,
        )

    def on_capture(self, request, response):
        if self.holding.is_set():  # the mid-grasp capture: answered late
            self.holding.clear()
            print("lifted capture requested", flush=True)
            time.sleep(self.lifted_delay)
            print("lifted capture answered", flush=True)
        response.success, response.message = True, "ok"
        response.observation = observation("none", self.get_clock().now().to_msg())
        return response

    def execute(self, goal_handle):
        print("pick_place goal received", flush=True)
        self.holding.set()
        goal_handle.publish_feedback(PickPlace.Feedback(phase="hold"))
        time.sleep(0.3)
        goal_handle.publish_feedback(PickPlace.Feedback(phase="place"))
        goal_handle.succeed()
        return PickPlace.Result(success=True, object_lifted=True, message="ok")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--lifted-delay", type=float, default=2.0)
    args, ros_args = parser.parse_known_args()
    sys.exit(run_node(lambda: SlowLiftedServer(args.lifted_delay), [sys.argv[0], *ros_args]))
