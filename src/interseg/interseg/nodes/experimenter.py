"""experimenter: Algorithm 1 of the paper, as a node.

Loop: capture an observation -> ask for object hypotheses -> choose one (uniformly at random, as
in the paper, or weighted by score) -> Interact with it -> count. Every ``reset_every``
interactions the arena is reset (the paper's experimenter re-scattered the objects every 25).
A camera that stops pauses the loop (capture fails and says which camera); it resumes when the
camera is back. A failed or rejected grasp is recorded as such and the loop goes on.

Service clients: capture (interseg_interfaces/Capture), propose_objects (ProposeObjects),
  reset_arena (ResetArena; optional, see ``reset_every``)
Action clients: interact (interseg_interfaces/Interact)
Published topics: ~/progress (std_msgs/String, one JSON object per interaction)
Files: ``progress_file`` (JSON lines, one per interaction, appended)
Exits with code 0 when ``max_interactions`` or ``max_minutes`` is reached (0 = no limit).
"""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
from rclpy.action import ActionClient
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.task import Future
from std_msgs.msg import String

from interseg_interfaces.action import Interact
from interseg_interfaces.srv import Capture, ProposeObjects, ResetArena

from interseg.experiment import ExperimentTally, choose_hypothesis
from interseg.nodes.common import declare, run_node


class Experimenter(Node):
    def __init__(self) -> None:
        super().__init__("experimenter")
        self.policy = declare(self, "policy", "uniform", "how to choose among hypotheses: 'uniform' (the paper) or 'score_weighted'")
        self.max_interactions = declare(self, "max_interactions", 0, "stop after this many interactions (0: no limit)", minimum=0)
        self.max_minutes = declare(self, "max_minutes", 0.0, "stop after this many minutes (0: no limit)", minimum=0.0)
        self.reset_every = declare(self, "reset_every", 25, "reset the arena every N interactions (0: never)", minimum=0)
        self.seed = declare(self, "seed", 0, "seed of the choice policy and of the arena resets", minimum=0)
        self.max_hypotheses = declare(self, "max_hypotheses", 10, "hypotheses to ask for per observation", minimum=1, maximum=100)
        self.capture_timeout = declare(self, "capture_timeout", 2.0, "seconds to wait for a fresh observation", minimum=0.0, maximum=60.0)
        self.call_timeout = declare(self, "call_timeout", 30.0, "seconds to wait for a service or action", minimum=1.0)
        self.pause_s = declare(self, "pause_s", 1.0, "seconds between retries while paused (camera missing, service down)", minimum=0.01)
        self.progress_file = declare(self, "progress_file", "", "JSON-lines file the progress is appended to ('' = none)")
        self.policy_check()

        group = ReentrantCallbackGroup()
        self.capture_client = self.create_client(Capture, "capture", callback_group=group)
        self.propose_client = self.create_client(ProposeObjects, "propose_objects", callback_group=group)
        self.reset_client = self.create_client(ResetArena, "reset_arena", callback_group=group)
        self.interact_client = ActionClient(self, Interact, "interact", callback_group=group)
        self.progress_publisher = self.create_publisher(String, "~/progress", 10)
        self.rng = np.random.default_rng(self.seed)
        self.tally = ExperimentTally()
        self.finished = Future()
        self._stop = threading.Event()
        self.progress_path = Path(self.progress_file) if self.progress_file else None
        if self.progress_path is not None:
            self.progress_path.parent.mkdir(parents=True, exist_ok=True)
        self.thread = threading.Thread(target=self.loop, name="experimenter", daemon=True)
        self.thread.start()

    def policy_check(self) -> None:
        if self.policy not in ("uniform", "score_weighted"):
            raise ValueError(f"policy must be 'uniform' or 'score_weighted', not '{self.policy}'")

    # -- helpers that wait on futures from this worker thread (the executor spins elsewhere) --
    def _wait(self, future: Future, timeout: float):
        done = threading.Event()
        future.add_done_callback(lambda _f: done.set())
        if not done.wait(timeout) or self._stop.is_set():
            return None
        return future.result()

    def _pause(self, reason: str) -> None:
        if reason != self.tally.paused_reason:
            self.get_logger().warning(f"paused: {reason}")
        self.tally.paused_reason = reason
        self._stop.wait(self.pause_s)

    def _resume(self) -> None:
        if self.tally.paused_reason:
            self.get_logger().info("resumed")
            self.tally.paused_reason = ""

    def _reset_arena(self) -> None:
        if not self.reset_client.wait_for_service(timeout_sec=self.call_timeout):
            self.get_logger().warning("reset_arena is not available; going on without a reset")
            return
        seed = self.seed * 100003 + self.tally.resets + 1
        response = self._wait(self.reset_client.call_async(ResetArena.Request(seed=seed)), self.call_timeout)
        if response is None or not response.success:
            self.get_logger().warning(f"arena reset failed: {getattr(response, 'message', 'no response')}")
            return
        self.tally.resets += 1
        self.get_logger().info(f"arena reset {self.tally.resets} (seed {seed}): {response.num_objects} objects")

    # -- Algorithm 1 ---------------------------------------------------------------------------
    def loop(self) -> None:
        start = time.monotonic()
        for client, name in ((self.capture_client, "capture"), (self.propose_client, "propose_objects")):
            while not client.wait_for_service(timeout_sec=1.0):
                if self._stop.is_set():
                    return
                self._pause(f"waiting for the {name} service")
        while not self.interact_client.wait_for_server(timeout_sec=1.0):
            if self._stop.is_set():
                return
            self._pause("waiting for the interact action")
        self._resume()
        try:
            while not self._stop.is_set():
                if self.max_interactions and self.tally.interactions >= self.max_interactions:
                    break
                if self.max_minutes and time.monotonic() - start >= self.max_minutes * 60:
                    break
                if self.reset_every and self.tally.interactions % self.reset_every == 0 and self.tally.resets_due(self.reset_every):
                    self._reset_arena()
                self.step()
        except Exception as exc:  # report, then end the run with a failure code
            self.get_logger().error(f"experiment loop failed: {exc!r}")
            if not self.finished.done():
                self.finished.set_result(1)
            return
        self.get_logger().info(f"done: {self.tally.summary()}")
        if not self.finished.done():
            self.finished.set_result(0)

    def step(self) -> None:
        capture = self._wait(self.capture_client.call_async(Capture.Request(timeout=float(self.capture_timeout))), self.capture_timeout + self.call_timeout)
        if capture is None or not capture.success:
            return self._pause(f"no observation: {getattr(capture, 'message', 'capture did not answer')}")
        request = ProposeObjects.Request(observation=capture.observation, max_hypotheses=int(self.max_hypotheses))
        proposal = self._wait(self.propose_client.call_async(request), self.call_timeout)
        if proposal is None or not proposal.success:
            return self._pause(f"no hypotheses: {getattr(proposal, 'message', 'propose_objects did not answer')}")
        self._resume()
        hypotheses = proposal.hypotheses.hypotheses
        if not hypotheses:
            self.tally.empty_proposals += 1
            self.get_logger().warning("the network proposed no hypotheses; capturing again", throttle_duration_sec=5.0)
            return
        index = choose_hypothesis([h.score for h in hypotheses], self.policy, self.rng)
        goal = Interact.Goal(hypothesis=hypotheses[index], model_version=int(proposal.hypotheses.model_version))
        sent = self._wait(self.interact_client.send_goal_async(goal), self.call_timeout)
        if sent is None or not sent.accepted:
            self.tally.record(rejected=True, model_version=proposal.hypotheses.model_version)
            self.get_logger().warning("interact goal rejected")
            return self._publish_progress(None, proposal.hypotheses.model_version, index, len(hypotheses))
        wrapped = self._wait(sent.get_result_async(), 4 * self.call_timeout)
        result = wrapped.result if wrapped is not None else None
        if result is None:
            self.tally.record(rejected=True, model_version=proposal.hypotheses.model_version)
            self.get_logger().warning("interact did not finish in time")
        else:
            self.tally.record(success=result.success, moved=result.something_moved, lifted=result.object_lifted,
                              model_version=proposal.hypotheses.model_version)
        self._publish_progress(result, proposal.hypotheses.model_version, index, len(hypotheses))

    def _publish_progress(self, result, model_version: int, index: int, count: int) -> None:
        record = self.tally.as_record()
        record.update({
            "time": time.time(), "chosen": index, "hypotheses": count, "model_version": int(model_version),
            "interaction_id": int(result.interaction_id) if result is not None else 0,
            "message": result.message if result is not None else "rejected or timed out",
        })
        line = json.dumps(record)
        self.progress_publisher.publish(String(data=line))
        if self.progress_path is not None:
            with self.progress_path.open("a") as stream:
                stream.write(line + "\n")
        target = self.max_interactions
        bar = self.tally.progress_bar(target) if target else ""
        self.get_logger().info(f"{bar} {self.tally.summary()} (model v{model_version})")

    def close(self) -> None:
        self._stop.set()
        self.thread.join(timeout=5.0)


def main(args: list[str] | None = None) -> int:
    return run_node(Experimenter, args)
