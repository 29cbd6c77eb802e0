"""A test process serving ProposeObjects and PickPlace (``--arm-only``: PickPlace only), to
exercise the interfaces across a real process boundary. ProposeObjects returns one hypothesis
per bright connected region of the image; PickPlace walks through timed phases with feedback
and honours cancel."""

import sys
import time

import cv2
import numpy as np
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node

from interseg.nodes.common import run_node
from interseg.nodes.convert import image_to_msg, msg_to_image
from interseg_interfaces.action import PickPlace
from interseg_interfaces.msg import ObjectHypothesis
from interseg_interfaces.srv import ProposeObjects

PHASES = ["approach", "descend", "close", "lift", "carry", "place", "release", "park"]


class Servers(Node):
    def __init__(self, arm_only: bool = False):
        super().__init__("test_servers")
        group = ReentrantCallbackGroup()
        if not arm_only:
            self.create_service(ProposeObjects, "propose_objects", self.propose, callback_group=group)
        self.server = ActionServer(
            self,
            PickPlace,
            "pick_place",
            self.execute,
            callback_group=group,
            goal_callback=self.accept,
            cancel_callback=lambda _g: CancelResponse.ACCEPT,
        )

    def propose(self, request, response):
        image = msg_to_image(request.image, "rgb8")
        count, labels = cv2.connectedComponents((image.mean(axis=2) > 128).astype(np.uint8))
        for label in range(1, count):
            mask = (labels == label).astype(np.uint8) * 255
            v, u = np.nonzero(mask)
            response.hypotheses.hypotheses.append(
                ObjectHypothesis(
                    id=label - 1,
                    score=1.0,
                    grasp_u=float(u.mean()),
                    grasp_v=float(v.mean()),
                    mask=image_to_msg(mask, "mono8", request.image.header),
                )
            )
        response.hypotheses.header = request.image.header
        response.success = True
        response.message = f"{count - 1} regions"
        return response

    def accept(self, goal):
        return GoalResponse.REJECT if goal.grasp_pose.header.frame_id != "world" else GoalResponse.ACCEPT

    def execute(self, goal_handle):
        feedback = PickPlace.Feedback()
        for index, phase in enumerate(PHASES):
            if goal_handle.is_cancel_requested:
                goal_handle.canceled()
                return PickPlace.Result(success=False, message=f"cancelled before {phase}")
            feedback.phase, feedback.progress = phase, index / len(PHASES)
            goal_handle.publish_feedback(feedback)
            time.sleep(0.15)
        goal_handle.succeed()
        return PickPlace.Result(success=True, object_lifted=True, message="ok")


if __name__ == "__main__":
    arm_only = "--arm-only" in sys.argv  # only pick_place: a stand-in arm next to the real nodes
    sys.exit(run_node(lambda: Servers(arm_only), [a for a in sys.argv if a != "--arm-only"]))
