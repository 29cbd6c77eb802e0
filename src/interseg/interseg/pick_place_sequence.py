"""The pick-and-place sequence of an arm driven by a motion planner (MoveIt), and what its result
says, decided without ROS: every step's outcome is checked and the first failure is reported.

The arm behind :class:`ArmSteps` plans and executes one step at a time (the MoveIt node adapts
MoveIt's planning responses and execution statuses to :class:`Step`). The sequence: open the
gripper; approach; descend; close; lift (an object is held when the finger gap stays above
``lifted_gap``); hold; carry; place; open; retreat; park. Rules:

- a step that fails ends the sequence with ``success = False`` and a message naming the step
  and what its planner or controller said; nothing more is moved after a failed motion;
- closing on an object usually stops the fingers short of their goal, which a trajectory
  controller reports as a failure: a failed close that left the fingers apart by more than
  ``lifted_gap`` is a grasp, not a failure; one that left them shut is a failure;
- a cancel between steps opens the gripper and ends the sequence as cancelled;
- the pick-and-place succeeds only when everything up to and including parking did: an arm that
  placed the object but could not park says so (``success = False``, ``object_lifted`` kept).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from interseg.arm_goals import TopDownPose, pick_place_waypoints


@dataclass(frozen=True)
class Step:
    ok: bool
    detail: str = ""  # what the planner or controller said (failures)


class ArmSteps(Protocol):
    def open_gripper(self) -> Step: ...
    def close_gripper(self) -> Step: ...
    def move_to(self, fingertip: np.ndarray, yaw: float) -> Step: ...
    def park(self) -> Step: ...
    def finger_gap(self) -> float: ...


@dataclass
class Outcome:
    success: bool
    object_lifted: bool
    message: str
    cancelled: bool = False
    failed_step: str | None = None


def run_pick_place(
    arm: ArmSteps,
    grasp: TopDownPose,
    place: TopDownPose,
    *,
    approach_height: float,
    lift_height: float,
    lifted_gap: float,
    hold_s: float = 0.0,
    cancel_requested: Callable[[], bool] = lambda: False,
    feedback: Callable[[str, float], None] = lambda phase, progress: None,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """Run the sequence (module docstring) and say how it went."""
    steps = pick_place_waypoints(grasp, place, approach_height, lift_height)
    total = len(steps) + 4  # the waypoints, close, release, park and the first open
    done = 0
    lifted = False

    def failed(step: str, what: str, result: Step) -> Outcome:
        detail = f": {result.detail}" if result.detail else ""
        return Outcome(False, lifted, f"{what}{detail}", failed_step=step)

    feedback("open", 0.0)
    result = arm.open_gripper()
    if not result.ok:
        return failed("open", "could not open the gripper", result)
    done += 1
    for phase, position, yaw in steps:
        if cancel_requested():
            released = arm.open_gripper()
            note = "" if released.ok else f" (and the gripper did not open: {released.detail or 'no reason given'})"
            return Outcome(False, lifted, f"cancelled before {phase}{note}", cancelled=True)
        feedback(phase, done / total)
        result = arm.move_to(position, yaw)
        if not result.ok:
            return failed(phase, f"phase '{phase}' failed", result)
        done += 1
        if phase == "descend":
            feedback("close", done / total)
            result = arm.close_gripper()
            if not result.ok and arm.finger_gap() <= lifted_gap:
                return failed("close", "closing the gripper failed", result)
            done += 1
        elif phase == "lift":
            lifted = arm.finger_gap() > lifted_gap
            if hold_s > 0:
                feedback("hold", done / total)
                sleep(hold_s)
        elif phase == "place":
            feedback("release", done / total)
            result = arm.open_gripper()
            if not result.ok:
                return failed("release", "releasing the object failed (the gripper did not open)", result)
            done += 1
    feedback("park", done / total)
    result = arm.park()
    if not result.ok:
        return failed("park", "the pick-and-place was done but parking failed", result)
    return Outcome(True, lifted, "ok")
