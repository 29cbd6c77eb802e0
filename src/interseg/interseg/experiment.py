"""Bookkeeping and choice policy of the experimenter (ROS-free)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

POLICIES = ("uniform", "score_weighted", "uncertain")


def choose_hypothesis(scores: list[float], policy: str, rng: np.random.Generator) -> int:
    """Index of the hypothesis to test: uniform (the paper), proportional to score, or
    preferring the hypotheses the network is least sure of.

    ``score_weighted`` gives NaN, negative and -inf scores no weight, chooses among +inf scores
    when there are any, and falls back to uniform when no score is positive. ``uncertain`` reads
    a score as the probability that the hypothesis is an object and weighs it by s (1 - s) (most
    at 0.5: what touching it teaches the network most about); scores outside [0, 1] or NaN weigh
    nothing, and it falls back to uniform when none weighs anything."""
    if not scores:
        raise ValueError("no hypotheses to choose from")
    if policy == "uniform":
        return int(rng.integers(len(scores)))
    if policy == "uncertain":
        values = np.nan_to_num(np.asarray(scores, dtype=float), nan=-1.0)
        inside = (values >= 0) & (values <= 1)
        weights = np.zeros_like(values)
        weights[inside] = values[inside] * (1 - values[inside])
        if weights.max() <= 0:
            return int(rng.integers(len(scores)))
        return int(rng.choice(len(scores), p=weights / weights.sum()))
    if policy == "score_weighted":
        values = np.asarray(scores, dtype=float)
        if np.isposinf(values).any():  # an infinite score outweighs every finite one
            weights = np.isposinf(values).astype(float)
        else:  # NaN, negative and -inf scores weigh nothing
            weights = np.clip(np.nan_to_num(values, nan=0.0, neginf=0.0), 0.0, None)
        if weights.max() <= 0:
            return int(rng.integers(len(scores)))
        weights = weights / weights.max()  # huge finite scores do not overflow the sum
        return int(rng.choice(len(scores), p=weights / weights.sum()))
    raise ValueError(f"unknown policy '{policy}'")


# action_msgs/GoalStatus values (this module does not import ROS; tests check they agree)
STATUS_UNKNOWN = 0
STATUS_SUCCEEDED = 4
STATUS_CANCELED = 5
STATUS_ABORTED = 6
STATUS_NAMES = {
    0: "unknown",
    1: "accepted",
    2: "executing",
    3: "canceling",
    4: "succeeded",
    5: "canceled",
    6: "aborted",
}
# Messages of Interact results whose goal the grasp planner ended before anything moved.
NOT_RUN_PREFIXES = ("stopped:", "not run:")


@dataclass(frozen=True)
class InteractOutcome:
    """How the experimenter counts one Interact result."""

    counted: bool  # the goal ran (the arm was asked to move, or the grasp was rejected): one interaction
    success: bool = False  # the pick-and-place ran to the end
    moved: bool = False
    lifted: bool = False
    rejected: bool = False  # aborted by the grasp planner: grasp rejected, arm refused or timed out, no view after
    reason: str = ""  # why it is not counted


def read_interact_result(
    status: int, success: bool, something_moved: bool, object_lifted: bool, message: str, interaction_id: int = 0
) -> InteractOutcome:
    """Count an Interact result by the goal's final status, not by its fields alone.

    succeeded: counted, executed when ``success``. aborted: counted as rejected and never as
    executed, unless the message says the goal never ran (``stopped:``, ``not run:``). canceled:
    counted only when the Interaction was published before the cancel arrived
    (``interaction_id`` != 0). Any other status (unknown: the server did not know the goal, e.g.
    a restarted one; or a status that is not final) is not counted.
    """
    status = int(status)
    name = STATUS_NAMES.get(status, f"status {status}")
    if status == STATUS_SUCCEEDED or (status == STATUS_CANCELED and interaction_id):
        return InteractOutcome(True, success=bool(success), moved=bool(something_moved), lifted=bool(object_lifted))
    if status == STATUS_ABORTED:
        if message.startswith(NOT_RUN_PREFIXES):
            return InteractOutcome(False, reason=message)
        return InteractOutcome(True, moved=bool(something_moved), lifted=bool(object_lifted), rejected=True)
    if status == STATUS_CANCELED:
        return InteractOutcome(False, reason=f"canceled: {message}" if message else "canceled")
    return InteractOutcome(False, reason=f"ended with goal status '{name}'" + (f": {message}" if message else ""))


@dataclass
class ExperimentTally:
    interactions: int = 0  # Interact goals that ran to a result (successful or not)
    executed: int = 0  # pick-and-place ran to the end
    positives: int = 0  # something moved
    lifted: int = 0  # the gripper held something
    rejected: int = 0  # of those, aborted by the grasp planner (grasp rejected, arm refused or timed out)
    empty_proposals: int = 0
    resets: int = 0
    model_version: int = 0
    paused_reason: str = ""

    def resets_due(self, reset_every: int) -> bool:
        return self.resets <= self.interactions // reset_every

    def record(
        self,
        *,
        success: bool = False,
        moved: bool = False,
        lifted: bool = False,
        rejected: bool = False,
        model_version: int = 0,
    ) -> None:
        self.interactions += 1
        self.executed += int(success)
        self.positives += int(moved)
        self.lifted += int(lifted)
        self.rejected += int(rejected)
        self.model_version = max(self.model_version, int(model_version))

    def as_record(self) -> dict:
        return {
            "interactions": self.interactions,
            "executed": self.executed,
            "positives": self.positives,
            "lifted": self.lifted,
            "rejected": self.rejected,
            "resets": self.resets,
            "grasp_success": self.lifted / self.interactions if self.interactions else 0.0,
        }

    def summary(self) -> str:
        n = max(1, self.interactions)
        return (
            f"{self.interactions} interactions, {self.positives} positive ({100 * self.positives / n:.0f}%), "
            f"{self.lifted} lifted ({100 * self.lifted / n:.0f}%), {self.rejected} rejected, {self.resets} resets"
        )

    def progress_bar(self, target: int, width: int = 20) -> str:
        filled = int(width * min(1.0, self.interactions / max(1, target)))
        return f"[{'#' * filled}{'.' * (width - filled)}] {self.interactions}/{target}"
