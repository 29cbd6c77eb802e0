"""Algorithm 1's interaction step, written once (ROS-free): observe -> propose hypotheses ->
choose one -> plan grasp and place -> pick and place -> label by frame differences -> store.

The pure steps are what the nodes call too:

* :func:`plan_grasp_and_place`: a hypothesis (grasp pixel, image yaw, mask) in the main view, the
  main depth and camera -> the grasp (:func:`interseg.grasping.plan_grasp`) and a free place
  location (:func:`interseg.grasping.choose_place_location`); the grasp planner node's planning.
* :func:`views_from_images`: the images of one interaction -> one
  :class:`~interseg.learning.labelling.ViewCapture` per camera for the labeller (before vs after,
  or before vs mid-grasp), as the labeller node builds them from an Interaction message.

:class:`InteractionRunner` runs one interaction in-process against small backends
(:class:`Cameras`, :class:`Proposer`, :class:`Arm`, :class:`ExampleSink`) with hook points
before and after the pick, so that evaluation code can read the simulator's ground truth of the
very scene the robot acted on (ground truth stays in ``interseg.evaluation``; nothing here
imports it). :func:`run_interactions` repeats it until a number of pick-and-places were
executed. :mod:`interseg.sim.backends` adapts the simulated arena to the backends.

:class:`BackgroundCapture` is the mid-grasp ("lifted") capture taken on another thread while the
arm holds the object up, with a bounded, interruptible wait for it.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from interseg.constants import PLACE_CLEARANCE
from interseg.experiment import choose_hypothesis
from interseg.geometry import PinholeCamera
from interseg.grasping import (
    DEFAULT_PLACE_REGION,
    Box,
    GraspPlan,
    GraspRejected,
    GraspSettings,
    choose_place_location,
    plan_grasp,
)
from interseg.learning.labelling import FrameDifferenceLabeller, ViewCapture, ViewLabels

# ---------------------------------------------------------------------------------------------
# Pure steps
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedInteraction:
    grasp: GraspPlan
    place: np.ndarray  # world xyz of the place location


def plan_grasp_and_place(
    pixel: tuple[float, float],
    image_yaw: float,
    mask: np.ndarray | None,
    depth: np.ndarray,
    camera: PinholeCamera,
    settings: GraspSettings,
    rng: np.random.Generator,
    place_region: Box = DEFAULT_PLACE_REGION,
    clearance: float = PLACE_CLEARANCE,
) -> PlannedInteraction:
    """The grasp for a hypothesis in the main view (``pixel``, ``image_yaw``, ``mask`` or None)
    and a place location away from it whose surroundings look empty in ``depth``. Raises
    GraspRejected with the reason."""
    grasp = plan_grasp((float(pixel[0]), float(pixel[1])), float(image_yaw), depth, camera, settings, mask)
    place = choose_place_location(depth, camera, settings, place_region, rng, avoid=grasp.position, clearance=clearance)
    return PlannedInteraction(grasp, place)


def views_from_images(
    cameras: Sequence[PinholeCamera],
    before: Mapping[str, np.ndarray],
    after: Mapping[str, np.ndarray],
    *,
    before_depth: np.ndarray | None = None,
    after_depth: np.ndarray | None = None,
    lifted: Mapping[str, np.ndarray] | None = None,
    lifted_depth: np.ndarray | None = None,
) -> list[ViewCapture]:
    """One ViewCapture per camera (images keyed by camera name; the first camera is the main one,
    the only one with depth).

    Without ``lifted`` the labeller compares before with after, and the main view carries
    ``before_depth`` / ``after_depth`` when both are given. With ``lifted`` (the mid-grasp view of
    every camera) it compares before with lifted, and the main view carries ``before_depth`` /
    ``lifted_depth`` when both are given."""
    if not cameras:
        raise ValueError("no cameras")
    views = []
    for index, camera in enumerate(cameras):
        view = ViewCapture(
            camera=camera,
            before=before[camera.name],
            after=after[camera.name],
            lifted=lifted[camera.name] if lifted is not None else None,
        )
        if index == 0:
            compared = after_depth if lifted is None else lifted_depth
            if before_depth is not None and compared is not None:
                view.before_depth, view.after_depth = before_depth, compared
        views.append(view)
    return views


# ---------------------------------------------------------------------------------------------
# Backends
# ---------------------------------------------------------------------------------------------


@dataclass
class Observed:
    """One synchronized set of views: rgb per camera name, the main view's depth (metres) and the
    camera models (the first is the main view)."""

    cameras: list[PinholeCamera]
    rgb: dict[str, np.ndarray]
    depth: np.ndarray | None

    @property
    def main(self) -> PinholeCamera:
        return self.cameras[0]


class Cameras(Protocol):
    def observe(self) -> Observed: ...


class Proposer(Protocol):
    def propose(self, rgb: np.ndarray) -> tuple[list, int]:
        """Hypotheses (``grasp_u``, ``grasp_v``, ``grasp_yaw``, ``mask``, ``score``) for the main
        view's rgb, and the version of the model that made them."""
        ...


class ArmResult(Protocol):
    success: bool
    object_lifted: bool


class Arm(Protocol):
    def validate(self, grasp_xyz: np.ndarray, yaw: float, place_xyz: np.ndarray) -> None:
        """Raise a ValueError (e.g. PickPlaceRejected) with the reason when the goal is not executable."""
        ...

    def pick_place(self, grasp_xyz: np.ndarray, yaw: float, place_xyz: np.ndarray) -> ArmResult: ...


class ExampleSink(Protocol):
    def add_example(self, example, *, interaction_id: int, model_version: int) -> Any: ...


# ---------------------------------------------------------------------------------------------
# One interaction, many interactions
# ---------------------------------------------------------------------------------------------


@dataclass
class Interaction:
    """What one pass of the runner did. ``status``: "executed", "no_hypotheses" or "rejected"."""

    status: str
    before: Observed
    hypotheses: list
    model_version: int
    chosen: Any = None
    plan: PlannedInteraction | None = None
    reason: str = ""  # why it was rejected
    interaction_id: int | None = None
    arm: ArmResult | None = None
    after: Observed | None = None
    labels: list[ViewLabels] = field(default_factory=list)
    propose_ms: float = 0.0
    labeller_ms: float = 0.0
    started: float = field(default_factory=time.perf_counter)  # perf_counter at the start of the step

    @property
    def examples(self) -> list:
        return [example for view in self.labels for example in view.examples]


@dataclass
class Hooks:
    """Called around the pick: ``before_pick(interaction)`` once the plan is accepted (the scene
    is still the one observed before), ``after_pick(interaction)`` once the after views are in,
    before labelling."""

    before_pick: Callable[[Interaction], None] | None = None
    after_pick: Callable[[Interaction], None] | None = None


class InteractionRunner:
    """Algorithm 1's interaction step on the given backends (see the module docstring)."""

    def __init__(
        self,
        cameras: Cameras,
        proposer: Proposer,
        arm: Arm,
        sink: ExampleSink | None,
        settings: GraspSettings | None = None,
        rng: np.random.Generator | None = None,
        *,
        labeller: FrameDifferenceLabeller | None = None,
        place_region: Box = DEFAULT_PLACE_REGION,
        place_clearance: float = PLACE_CLEARANCE,
        policy: str = "uniform",
        use_place_examples: bool = True,
        label: bool = True,
        hooks: Hooks | None = None,
    ) -> None:
        self.cameras, self.proposer, self.arm, self.sink = cameras, proposer, arm, sink
        self.settings = settings or GraspSettings()
        self.rng = rng if rng is not None else np.random.default_rng()
        self.labeller = labeller or FrameDifferenceLabeller()
        self.place_region, self.place_clearance = place_region, place_clearance
        self.policy, self.use_place_examples, self.label = policy, use_place_examples, label
        self.hooks = hooks or Hooks()

    def run_once(self, interaction_id: int) -> Interaction:
        """Observe, propose, choose, plan; when the plan is executable pick and place, observe
        again, label every view (unless ``label`` is off) and store the examples under
        ``interaction_id``."""
        started = time.perf_counter()
        before = self.cameras.observe()
        start = time.perf_counter()
        hypotheses, version = self.proposer.propose(before.rgb[before.main.name])
        interaction = Interaction(
            "no_hypotheses",
            before,
            list(hypotheses),
            int(version),
            propose_ms=(time.perf_counter() - start) * 1000,
            started=started,
        )
        if not hypotheses:
            return interaction
        chosen = hypotheses[choose_hypothesis([h.score for h in hypotheses], self.policy, self.rng)]
        interaction.chosen = chosen
        try:
            if before.depth is None:
                raise GraspRejected("no depth image in the main view")
            plan = plan_grasp_and_place(
                (chosen.grasp_u, chosen.grasp_v),
                chosen.grasp_yaw,
                chosen.mask,
                before.depth,
                before.main,
                self.settings,
                self.rng,
                self.place_region,
                self.place_clearance,
            )
            self.arm.validate(plan.grasp.position, plan.grasp.yaw, plan.place)
        except ValueError as exc:  # GraspRejected, or the arm's own rejection
            interaction.status, interaction.reason = "rejected", str(exc)
            return interaction
        interaction.plan = plan
        if self.hooks.before_pick:
            self.hooks.before_pick(interaction)
        interaction.arm = self.arm.pick_place(plan.grasp.position, plan.grasp.yaw, plan.place)
        interaction.after = after = self.cameras.observe()
        interaction.status, interaction.interaction_id = "executed", interaction_id
        if self.hooks.after_pick:
            self.hooks.after_pick(interaction)
        if not self.label:  # the caller labels the recorded images itself
            return interaction
        views = views_from_images(
            before.cameras, before.rgb, after.rgb, before_depth=before.depth, after_depth=after.depth
        )
        place = plan.place if self.use_place_examples and interaction.arm.success else None
        start = time.perf_counter()
        interaction.labels = self.labeller.label_interaction(views, plan.grasp.position, place)
        interaction.labeller_ms = (time.perf_counter() - start) * 1000
        if self.sink is not None:
            for example in interaction.examples:
                self.sink.add_example(example, interaction_id=interaction_id, model_version=interaction.model_version)
        return interaction


@dataclass
class LoopStats:
    attempts: int = 0
    executed: int = 0
    rejected: int = 0
    lifted: int = 0
    positive_interactions: int = 0
    empty_proposals: int = 0
    resets: int = 0
    rejections: list[str] = field(default_factory=list)
    propose_ms: list[float] = field(default_factory=list)
    labeller_ms: list[float] = field(default_factory=list)
    interaction_s: list[float] = field(default_factory=list)

    def counts(self) -> dict:
        return {
            k: getattr(self, k)
            for k in (
                "attempts",
                "executed",
                "rejected",
                "lifted",
                "positive_interactions",
                "empty_proposals",
                "resets",
            )
        }

    def medians(self) -> dict:
        def median(values):
            return statistics.median(values) if values else None

        return {
            "propose_ms": median(self.propose_ms),
            "labeller_ms": median(self.labeller_ms),
            "interaction_s": median(self.interaction_s),
        }


def run_interactions(
    runner: InteractionRunner,
    interactions: int,
    *,
    max_attempts: int | None = None,
    reset: Callable[[], None] | None = None,
    reset_every: int = 0,
    on_executed: Callable[[Interaction, LoopStats], None] | None = None,
    first_id: int = 1,
) -> LoopStats:
    """Run the interaction step until ``interactions`` pick-and-places were executed (ids
    ``first_id`` on). ``reset`` (re-scatter the scene) runs first, whenever no hypothesis was
    proposed, and after every ``reset_every`` executed interactions but the last.
    ``on_executed(interaction, stats)`` runs after each executed one (e.g. training rounds).
    Raises RuntimeError after ``max_attempts`` attempts (default 4 x interactions)."""
    stats = LoopStats()
    max_attempts = interactions * 4 if max_attempts is None else max_attempts

    def do_reset() -> None:
        if reset is not None:
            reset()
            stats.resets += 1

    do_reset()
    while stats.executed < interactions:
        if stats.attempts >= max_attempts:
            raise RuntimeError(
                f"{stats.attempts} attempts gave only {stats.executed} executed pick-and-places "
                f"({stats.rejected} rejected); the policy cannot produce executable grasps"
            )
        stats.attempts += 1
        interaction = runner.run_once(first_id + stats.executed)
        stats.propose_ms.append(interaction.propose_ms)
        if interaction.status == "no_hypotheses":
            stats.empty_proposals += 1
            do_reset()
            continue
        if interaction.status == "rejected":
            stats.rejected += 1
            stats.rejections.append(interaction.reason[:120])
            continue
        stats.executed += 1
        stats.lifted += int(interaction.arm.object_lifted)
        stats.positive_interactions += int(any(e.positive for e in interaction.examples))
        stats.labeller_ms.append(interaction.labeller_ms)
        stats.interaction_s.append(time.perf_counter() - interaction.started)
        if on_executed is not None:
            on_executed(interaction, stats)
        if reset_every and stats.executed % reset_every == 0 and stats.executed < interactions:
            do_reset()
    return stats


# ---------------------------------------------------------------------------------------------
# The mid-grasp capture
# ---------------------------------------------------------------------------------------------


class BackgroundCapture:
    """A capture run on its own thread (the mid-grasp view, taken while the arm holds the object
    up and the pick-and-place goes on). :meth:`wait` joins it before its result is read."""

    def __init__(self, capture: Callable[[], Any], on_error: Callable[[Exception], None] | None = None) -> None:
        self._capture, self._on_error = capture, on_error
        self._done = threading.Event()
        self._result: Any = None
        self._thread: threading.Thread | None = None

    @property
    def started(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()

    def _run(self) -> None:
        try:
            self._result = self._capture()
        except Exception as exc:  # noqa: BLE001  (reported; the result stays None)
            if self._on_error is not None:
                self._on_error(exc)
        finally:
            self._done.set()

    def peek(self) -> Any:
        """The result if the capture has finished, else None (no waiting)."""
        return self._result if self._done.is_set() else None

    def wait(self, timeout: float, interrupted: Callable[[], bool] = lambda: False, poll: float = 0.05) -> Any:
        """The capture's result once it finished; None when it was never started, failed, took
        longer than ``timeout`` seconds, or ``interrupted()`` became true while waiting."""
        if self._thread is None:
            return None
        deadline = time.monotonic() + timeout
        while not self._done.wait(min(poll, max(0.0, deadline - time.monotonic()))):
            if interrupted() or time.monotonic() >= deadline:
                return None
        return self._result
