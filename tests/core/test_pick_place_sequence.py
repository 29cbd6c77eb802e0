"""The MoveIt node's pick-and-place decisions (interseg.pick_place_sequence) against recorded
sequences of planner and controller outcomes: every failure is reported by its step, gripper and
parking included; a close that stalls on an object is a grasp; a cancel opens the gripper."""

import numpy as np
import pytest

from interseg.arm_goals import TopDownPose
from interseg.pick_place_sequence import Step, run_pick_place

GRASP = TopDownPose(np.array([0.5, 0.0, 0.02]), 0.3)
PLACE = TopDownPose(np.array([0.6, 0.1, 0.02]), -0.2)


class RecordedArm:
    """Answers each call with the next recorded outcome for that kind of step (ok by default)."""

    def __init__(self, outcomes=None, gaps=(0.02,)):
        self.outcomes = {k: list(v) for k, v in (outcomes or {}).items()}
        self.gaps = list(gaps)
        self.calls: list[str] = []

    def _next(self, kind: str) -> Step:
        self.calls.append(kind)
        queue = self.outcomes.get(kind, [])
        return queue.pop(0) if queue else Step(True)

    def open_gripper(self):
        return self._next("open")

    def close_gripper(self):
        return self._next("close")

    def move_to(self, fingertip, yaw):
        return self._next("move")

    def park(self):
        return self._next("park")

    def finger_gap(self):
        self.calls.append("gap")
        return self.gaps.pop(0) if len(self.gaps) > 1 else self.gaps[0]


def run(arm, **kwargs):
    phases = []
    outcome = run_pick_place(
        arm,
        GRASP,
        PLACE,
        approach_height=0.12,
        lift_height=0.15,
        lifted_gap=0.004,
        feedback=lambda phase, progress: phases.append((phase, progress)),
        sleep=lambda s: phases.append(("slept", s)),
        **kwargs,
    )
    return outcome, phases


def test_everything_succeeds_with_an_object_held():
    arm = RecordedArm(gaps=(0.03,))
    outcome, phases = run(arm, hold_s=0.5)
    assert (outcome.success, outcome.object_lifted, outcome.message) == (True, True, "ok")
    assert arm.calls == ["open", "move", "move", "close", "move", "gap", "move", "move", "open", "move", "park"]
    assert [p for p, _ in phases] == [
        "open", "approach", "descend", "close", "lift", "hold", "slept", "carry", "place", "release", "retreat", "park"
    ]  # fmt: skip
    progress = [v for p, v in phases if p != "slept"]
    assert progress == sorted(progress) and progress[-1] < 1.0


def test_an_empty_grasp_succeeds_without_a_lift():
    outcome, _ = run(RecordedArm(gaps=(0.0,)))
    assert outcome.success and not outcome.object_lifted


@pytest.mark.parametrize(
    "outcomes, step, words",
    [
        ({"open": [Step(False, "ABORTED")]}, "open", "could not open the gripper: ABORTED"),
        ({"move": [Step(True), Step(False, "no plan (MoveIt error code -1)")]}, "descend", "phase 'descend' failed"),
        ({"move": [Step(True)] * 3 + [Step(False, "PREEMPTED")]}, "carry", "phase 'carry' failed: PREEMPTED"),
        ({"open": [Step(True), Step(False, "TIMED_OUT")]}, "release", "releasing the object failed"),
        ({"park": [Step(False, "no plan")]}, "park", "the pick-and-place was done but parking failed: no plan"),
    ],
)
def test_each_failure_is_reported_by_its_step(outcomes, step, words):
    arm = RecordedArm(outcomes, gaps=(0.03,))
    outcome, _ = run(arm)
    assert not outcome.success and outcome.failed_step == step and words in outcome.message
    if step in ("release", "park"):
        assert outcome.object_lifted  # what happened before the failure is kept
    if step in ("descend", "carry"):
        assert arm.calls[-1] == "move"  # nothing moves after a failed motion


def test_a_close_that_stalls_on_an_object_is_a_grasp_and_one_that_shut_is_a_failure():
    stalled = RecordedArm({"close": [Step(False, "ABORTED: goal tolerance violated")]}, gaps=(0.03,))
    outcome, _ = run(stalled)
    assert outcome.success and outcome.object_lifted
    shut = RecordedArm({"close": [Step(False, "ABORTED")]}, gaps=(0.0,))
    outcome, _ = run(shut)
    assert not outcome.success and outcome.failed_step == "close"
    assert "closing the gripper failed: ABORTED" in outcome.message


def test_a_cancel_opens_the_gripper_and_says_so():
    asked = iter([False, False, True])
    arm = RecordedArm({"open": [Step(True), Step(False, "ABORTED")]})
    outcome, _ = run(arm, cancel_requested=lambda: next(asked))
    assert outcome.cancelled and not outcome.success
    assert outcome.message.startswith("cancelled before lift") and "did not open: ABORTED" in outcome.message
    assert arm.calls[-1] == "open"
