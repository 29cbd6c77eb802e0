"""Stand-ins for the servers the experimenter needs, in real processes, for the supervision tests.

``servers.py capture``: serves capture (an empty Observation) and propose_objects (one hypothesis).
``servers.py interact DIR``: serves interact; while ``DIR/reject`` exists goals are not
accepted, while ``DIR/hang`` exists an accepted goal never ends and sends no feedback (until it
is cancelled or the node stops); otherwise a goal takes about 0.3 s with feedback and succeeds
with interaction ids 1, 2, ...
"""

import sys
import threading
import time
from pathlib import Path

from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node

from interseg.nodes.common import run_node
from interseg_interfaces.action import Interact
from interseg_interfaces.msg import ObjectHypothesis
from interseg_interfaces.srv import Capture, ProposeObjects


class Perception(Node):
    def __init__(self) -> None:
        super().__init__("fake_perception")
        group = ReentrantCallbackGroup()
        self.create_service(Capture, "capture", self.capture, callback_group=group)
        self.create_service(ProposeObjects, "propose_objects", self.propose, callback_group=group)

    def capture(self, _request, response):
        response.success, response.message = True, "ok"
        return response

    def propose(self, _request, response):
        response.hypotheses.hypotheses.append(ObjectHypothesis(id=0, score=1.0, grasp_u=10.0, grasp_v=10.0))
        response.success, response.message = True, "1 hypothesis"
        return response


class FakeInteract(Node):
    def __init__(self, flags: Path) -> None:
        super().__init__("fake_interact")
        self.flags = flags
        self.count = 0
        self.stopping = threading.Event()
        self.server = ActionServer(
            self,
            Interact,
            "interact",
            self.execute,
            callback_group=ReentrantCallbackGroup(),
            goal_callback=self.on_goal,
            cancel_callback=lambda _g: CancelResponse.ACCEPT,
        )

    def on_goal(self, _goal):
        return GoalResponse.REJECT if (self.flags / "reject").exists() else GoalResponse.ACCEPT

    def request_stop(self) -> None:
        self.stopping.set()

    def execute(self, goal_handle):
        if (self.flags / "hang").exists():
            while not goal_handle.is_cancel_requested and not self.stopping.is_set():
                time.sleep(0.05)
            goal_handle.abort()
            return Interact.Result(message="stopped: hung goal ended")
        for phase in ("capturing_before", "planning", "picking", "capturing_after"):
            goal_handle.publish_feedback(Interact.Feedback(phase=phase))
            time.sleep(0.075)
        self.count += 1
        goal_handle.succeed()
        return Interact.Result(
            success=True, something_moved=True, object_lifted=True, interaction_id=self.count, message="ok"
        )


if __name__ == "__main__":
    kind = sys.argv[1]
    if kind == "capture":
        sys.exit(run_node(Perception, sys.argv[:1]))
    sys.exit(run_node(lambda: FakeInteract(Path(sys.argv[2])), sys.argv[:1]))
