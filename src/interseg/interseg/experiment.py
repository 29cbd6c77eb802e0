"""Bookkeeping and choice policy of the experimenter (ROS-free)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def choose_hypothesis(scores: list[float], policy: str, rng: np.random.Generator) -> int:
    """Index of the hypothesis to test: uniform (the paper) or proportional to score."""
    if not scores:
        raise ValueError("no hypotheses to choose from")
    if policy == "uniform":
        return int(rng.integers(len(scores)))
    if policy == "score_weighted":
        weights = np.clip(np.nan_to_num(np.asarray(scores, dtype=float), nan=0.0), 0.0, None)
        if weights.sum() <= 0:
            return int(rng.integers(len(scores)))
        return int(rng.choice(len(scores), p=weights / weights.sum()))
    raise ValueError(f"unknown policy '{policy}'")


@dataclass
class ExperimentTally:
    interactions: int = 0  # Interact goals that ran to a result (successful or not)
    executed: int = 0  # pick-and-place ran to the end
    positives: int = 0  # something moved
    lifted: int = 0  # the gripper held something
    rejected: int = 0  # goal rejected or timed out
    empty_proposals: int = 0
    resets: int = 0
    model_version: int = 0
    paused_reason: str = ""

    def resets_due(self, reset_every: int) -> bool:
        return self.resets <= self.interactions // reset_every

    def record(self, *, success: bool = False, moved: bool = False, lifted: bool = False, rejected: bool = False, model_version: int = 0) -> None:
        self.interactions += 1
        self.executed += int(success)
        self.positives += int(moved)
        self.lifted += int(lifted)
        self.rejected += int(rejected)
        self.model_version = max(self.model_version, int(model_version))

    def as_record(self) -> dict:
        return {
            "interactions": self.interactions, "executed": self.executed, "positives": self.positives,
            "lifted": self.lifted, "rejected": self.rejected, "resets": self.resets,
            "grasp_success": self.lifted / self.interactions if self.interactions else 0.0,
        }

    def summary(self) -> str:
        n = max(1, self.interactions)
        return (f"{self.interactions} interactions, {self.positives} positive ({100 * self.positives / n:.0f}%), "
                f"{self.lifted} lifted ({100 * self.lifted / n:.0f}%), {self.rejected} rejected, {self.resets} resets")

    def progress_bar(self, target: int, width: int = 20) -> str:
        filled = int(width * min(1.0, self.interactions / max(1, target)))
        return f"[{'#' * filled}{'.' * (width - filled)}] {self.interactions}/{target}"
