"""experimenter: Algorithm 1 of the paper, as a node.

Loop: capture an observation -> ask for object hypotheses -> choose one (uniformly at random, as
in the paper, or weighted by score) -> Interact with it -> count. Every ``reset_every``
interactions the arena is reset (the paper's experimenter re-scattered the objects every 25).
A camera that stops pauses the loop (capture fails and says which camera); it resumes when the
camera is back. A failed or rejected grasp is recorded as such and the loop goes on.

What never ran is not counted: the loop pauses, saying why, while a server it needs is not
available (capture, propose_objects, the interact action), when an Interact goal is not accepted,
when an interaction is lost (its server went away or was replaced by a restarted one, or it made
no progress for ``call_timeout`` s; the grasp planner reports progress at every step of the arm),
when the grasp planner ended the goal without running it (cancelled, shutting down, no arm
backend), and when the goal ended with a status that is not final or not known (a server that did
not know the goal). The goal's status decides (interseg.experiment.read_interact_result): an
aborted goal is counted as rejected, never as executed. It resumes by itself when the server is
back. SIGINT / SIGTERM: the goal in flight is cancelled (the grasp planner parks the arm) and not
counted.

Service clients: capture (interseg_interfaces/Capture), propose_objects (ProposeObjects),
  reset_arena (ResetArena; optional, see ``reset_every``)
Action clients: interact (interseg_interfaces/Interact)
Published topics: ~/progress (std_msgs/String, one JSON object per interaction)
Files: ``progress_file`` (JSON lines, one per interaction, appended)
Exits with code 0 when ``max_interactions`` or ``max_minutes`` is reached (0 = no limit).
Parameters: see config/experimenter.yaml.
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

from interseg.experiment import POLICIES, ExperimentTally, choose_hypothesis, read_interact_result
from interseg.nodes.common import declare, run_node
from interseg_interfaces.action import Interact
from interseg_interfaces.srv import Capture, ProposeObjects, ResetArena

POLL_S = 0.05  # how often a waiting loop looks at the stop request
SERVER_CHECK_S = 1.0  # how often a request's server is looked up in the graph while waiting for it


class _Stopped(Exception):
    """The node is stopping: leave the loop, count nothing more."""


class _Lost(Exception):
    """The server of a request in flight went away, was replaced, or stopped reporting progress."""


class Experimenter(Node):
    def __init__(self) -> None:
        super().__init__("experimenter")
        self.policy = declare(
            self,
            "policy",
            "uniform",
            "how to choose among hypotheses: 'uniform' (the paper), 'score_weighted' or 'uncertain'",
        )
        self.max_interactions = declare(
            self, "max_interactions", 0, "stop after this many interactions (0: no limit)", minimum=0
        )
        self.max_minutes = declare(self, "max_minutes", 0.0, "stop after this many minutes (0: no limit)", minimum=0.0)
        self.reset_every = declare(
            self, "reset_every", 25, "reset the arena every N interactions (0: never)", minimum=0
        )
        self.seed = declare(self, "seed", 0, "seed of the choice policy and of the arena resets", minimum=0)
        self.max_hypotheses = declare(
            self, "max_hypotheses", 10, "hypotheses to ask for per observation", minimum=1, maximum=100
        )
        self.capture_timeout = declare(
            self, "capture_timeout", 2.0, "seconds to wait for a fresh observation", minimum=0.0, maximum=60.0
        )
        self.call_timeout = declare(self, "call_timeout", 30.0, "seconds to wait for a service or action", minimum=1.0)
        self.pause_s = declare(
            self, "pause_s", 1.0, "seconds between retries while paused (camera missing, service down)", minimum=0.01
        )
        self.progress_file = declare(
            self, "progress_file", "", "JSON-lines file the progress is appended to ('' = none)"
        )
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
        self._last_progress = time.monotonic()  # last feedback of the interaction in flight
        self.progress_path = Path(self.progress_file) if self.progress_file else None
        if self.progress_path is not None:
            self.progress_path.parent.mkdir(parents=True, exist_ok=True)
        self.thread = threading.Thread(target=self.loop, name="experimenter", daemon=True)
        self.thread.start()

    def policy_check(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"policy must be one of {', '.join(POLICIES)}, not '{self.policy}'")

    # -- stopping (run_node) ----------------------------------------------------------------------
    def request_stop(self) -> None:
        self._stop.set()

    def busy(self) -> str:
        return "the experiment loop" if self.thread.is_alive() else ""

    # -- helpers that wait on futures from this worker thread (the executor spins elsewhere) --
    def _servers(self, name: str, action: bool) -> set[bytes]:
        """The endpoints serving a service or action in the graph: a service's reply publishers
        (DDS topic ``rr/<service>Reply`` in ROS 2's name mapping), an action's feedback
        publishers. A server process that dies stays listed until its DDS lease ends (about 20 s
        after SIGKILL); a restarted one appears with a new endpoint at once."""
        resolved = self.resolve_topic_name(name)
        if action:
            infos = self.get_publishers_info_by_topic(f"{resolved}/_action/feedback")
        else:
            infos = self.get_publishers_info_by_topic(f"rr{resolved}Reply", no_mangle=True)
        return {bytes(info.endpoint_gid) for info in infos}

    def _wait(self, future: Future, timeout: float | None, server: str, action: bool = False, progress: bool = False):
        """The future's result, or None after ``timeout`` s (None: no limit). Raises _Stopped
        when the node stops, and _Lost when the server that got the request leaves the graph or
        a new one appears (a restarted server does not know the request), or, with
        ``progress``, when no feedback came for ``call_timeout`` s."""
        done = threading.Event()
        future.add_done_callback(lambda _f: done.set())
        known = self._servers(server, action)
        now = time.monotonic()
        deadline = now + timeout if timeout is not None else float("inf")
        next_check = now + SERVER_CHECK_S
        while not done.wait(POLL_S):
            if self._stop.is_set():
                raise _Stopped()
            now = time.monotonic()
            if now >= deadline:
                return None
            if progress and now - self._last_progress > self.call_timeout:
                raise _Lost(f"{server} made no progress for {self.call_timeout:g} s")
            if now >= next_check:
                next_check = now + SERVER_CHECK_S
                current = self._servers(server, action)
                if known and not current & known:
                    raise _Lost(f"the {server} server went away")
                if known and current - known:
                    raise _Lost(f"the {server} server was restarted")
        return future.result()

    def _missing_servers(self) -> str:
        needed = (
            ("the capture service", self.capture_client.service_is_ready),
            ("the propose_objects service", self.propose_client.service_is_ready),
            ("the interact action server", self.interact_client.server_is_ready),
        )
        return ", ".join(name for name, ready in needed if not ready())

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
        if not self.reset_client.service_is_ready():
            self.get_logger().warning(
                "reset_arena is not available; going on without a reset", throttle_duration_sec=60.0
            )
            return
        seed = self.seed * 100003 + self.tally.resets + 1
        try:
            response = self._wait(
                self.reset_client.call_async(ResetArena.Request(seed=seed)), self.call_timeout, "reset_arena"
            )
        except _Lost as lost:
            self.get_logger().warning(f"arena reset failed: {lost}")
            return
        if response is None or not response.success:
            self.get_logger().warning(f"arena reset failed: {getattr(response, 'message', 'no response')}")
            return
        self.tally.resets += 1
        self.get_logger().info(f"arena reset {self.tally.resets} (seed {seed}): {response.num_objects} objects")

    # -- Algorithm 1 ---------------------------------------------------------------------------
    def loop(self) -> None:
        start = time.monotonic()
        try:
            while not self._stop.is_set():
                if self.max_interactions and self.tally.interactions >= self.max_interactions:
                    break
                if self.max_minutes and time.monotonic() - start >= self.max_minutes * 60:
                    break
                missing = self._missing_servers()
                if missing:
                    self._pause(f"not available: {missing}")
                    continue
                if (
                    self.reset_every
                    and self.tally.interactions % self.reset_every == 0
                    and self.tally.resets_due(self.reset_every)
                ):
                    self._reset_arena()
                self.step()
            if self._stop.is_set():
                raise _Stopped()
        except _Stopped:
            self.get_logger().info(f"stopped: {self.tally.summary()}")
            return
        except Exception as exc:  # noqa: BLE001 -- report, then end the run with a failure code
            self.get_logger().error(f"experiment loop failed: {exc!r}")
            if not self.finished.done():
                self.finished.set_result(1)
            return
        self.get_logger().info(f"done: {self.tally.summary()}")
        if not self.finished.done():
            self.finished.set_result(0)

    def step(self) -> None:
        try:
            capture = self._wait(
                self.capture_client.call_async(Capture.Request(timeout=float(self.capture_timeout))),
                self.capture_timeout + self.call_timeout,
                "capture",
            )
        except _Lost as lost:
            return self._pause(f"no observation: {lost}")
        if capture is None or not capture.success:
            return self._pause(f"no observation: {getattr(capture, 'message', 'capture did not answer')}")
        request = ProposeObjects.Request(observation=capture.observation, max_hypotheses=int(self.max_hypotheses))
        try:
            proposal = self._wait(self.propose_client.call_async(request), self.call_timeout, "propose_objects")
        except _Lost as lost:
            return self._pause(f"no hypotheses: {lost}")
        if proposal is None or not proposal.success:
            return self._pause(f"no hypotheses: {getattr(proposal, 'message', 'propose_objects did not answer')}")
        hypotheses = proposal.hypotheses.hypotheses
        if not hypotheses:
            self._resume()
            self.tally.empty_proposals += 1
            self.get_logger().warning("the network proposed no hypotheses; capturing again", throttle_duration_sec=5.0)
            return
        index = choose_hypothesis([h.score for h in hypotheses], self.policy, self.rng)
        version = proposal.hypotheses.model_version
        self._interact(Interact.Goal(hypothesis=hypotheses[index], model_version=int(version)), index, len(hypotheses))

    def _interact(self, goal: Interact.Goal, index: int, count: int) -> None:
        """Send the goal; count it when the grasp planner ran it, pause (saying why) when not."""
        self._last_progress = time.monotonic()
        try:
            sent = self._wait(
                self.interact_client.send_goal_async(goal, feedback_callback=self._on_feedback),
                self.call_timeout,
                "interact",
                action=True,
            )
        except _Lost as lost:
            return self._pause(f"interact goal lost: {lost}; not counted")
        if sent is None:
            return self._pause(f"interact did not answer a goal in {self.call_timeout:g} s; not counted")
        if not sent.accepted:
            return self._pause("interact goal not accepted (the grasp planner is busy or stopping); not counted")
        try:
            wrapped = self._wait(sent.get_result_async(), None, "interact", action=True, progress=True)
        except _Stopped:
            sent.cancel_goal_async()  # the grasp planner cancels the pick-and-place and parks the arm
            raise
        except _Lost as lost:
            sent.cancel_goal_async()
            return self._pause(f"interaction lost: {lost}; not counted")
        result = wrapped.result
        outcome = read_interact_result(
            wrapped.status,
            result.success,
            result.something_moved,
            result.object_lifted,
            result.message,
            result.interaction_id,
        )
        if not outcome.counted:
            return self._pause(f"interaction did not run ({outcome.reason}); not counted")
        self._resume()
        self.tally.record(
            success=outcome.success,
            moved=outcome.moved,
            lifted=outcome.lifted,
            rejected=outcome.rejected,
            model_version=goal.model_version,
        )
        self._publish_progress(result, goal.model_version, index, count)

    def _on_feedback(self, _feedback) -> None:
        self._last_progress = time.monotonic()

    def _publish_progress(self, result, model_version: int, index: int, count: int) -> None:
        record = self.tally.as_record()
        record.update(
            {
                "time": time.time(),
                "chosen": index,
                "hypotheses": count,
                "model_version": int(model_version),
                "interaction_id": int(result.interaction_id),
                "message": result.message,
            }
        )
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
        self.thread.join(timeout=1.0)


def main(args: list[str] | None = None) -> int:
    return run_node(Experimenter, args)
