"""Step 1 of `interseg bench`: collect one seed's interactions with Algorithm 1 in-process
(:class:`interseg.interaction.InteractionRunner` on the simulated arena, the RSL learner in the
loop), reading the simulator's ground truth of the very scene the robot acted on through the
runner's hooks: for label quality, the efficacy of experimentation, and the oracle's training
data. The learning side never sees it."""

from __future__ import annotations

import shutil
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from interseg.evaluation.bench.methods import records_of, train_round
from interseg.evaluation.bench.profiles import Profile, network_config
from interseg.evaluation.bench.scoring import judge_example


@dataclass
class SeedRun:
    seed: int
    work: Path
    schedule: list[tuple[int, int]] = field(default_factory=list)  # (last interaction id usable, steps)
    label_records: list[dict] = field(default_factory=list)
    chosen_hits: list[float] = field(default_factory=list)  # per interaction: chosen hypothesis hits a GT object
    chosen_recall: list[float] = field(default_factory=list)
    interaction_versions: list[int] = field(default_factory=list)
    gt_images: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)  # (rgb, instance map), oracle data
    counts: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)


class PolicyProposer:
    """The learner's current network on the main view. Until the first model update (while
    ``bootstrap``) the robot tests bottom-up proposals instead, reported as model version 0
    (see ``Profile.bootstrap_bottom_up``); the network still runs, for its timing."""

    def __init__(self, predictor, bootstrap: bool) -> None:
        self.predictor, self.bootstrap = predictor, bootstrap
        self.predict_ms: list[float] = []
        self.fallbacks = 0  # proposals the network left empty, made bottom-up (as the hypotheses node does)

    def propose(self, rgb: np.ndarray) -> tuple[list, int]:
        from interseg.learning.baselines import bottom_up_proposals, network_or_bottom_up

        start = time.perf_counter()
        hypotheses = self.predictor.predict(rgb)
        self.predict_ms.append((time.perf_counter() - start) * 1000)
        if self.bootstrap:
            return bottom_up_proposals(rgb), 0
        hypotheses, fell_back = network_or_bottom_up(hypotheses, rgb)
        self.fallbacks += fell_back
        return hypotheses, self.predictor.version


def _add_oracle_examples(
    oracle, rgb: np.ndarray, instance: np.ndarray, camera: str, interaction_id: int, rng: np.random.Generator
) -> None:
    """The oracle's training data of one view: every visible object's ground-truth mask, plus two
    table points."""
    from interseg.learning.hypothesis import grasp_from_mask

    for k in np.unique(instance):
        if k == 0:
            continue
        mask = instance == k
        if mask.sum() < 20:
            continue
        u, v, _, _ = grasp_from_mask(mask)
        oracle.add(
            image=rgb,
            u=u,
            v=v,
            positive=True,
            mask=mask,
            reason="ground truth",
            interaction_id=interaction_id,
            view=camera,
            source="ground_truth",
        )
    free = np.argwhere(instance == 0)
    for v, u in free[rng.choice(len(free), size=min(2, len(free)), replace=False)]:
        oracle.add(
            image=rgb,
            u=float(u),
            v=float(v),
            positive=False,
            mask=None,
            reason="ground truth: table",
            interaction_id=interaction_id,
            view=camera,
            source="ground_truth",
        )


def collect(profile: Profile, seed: int, work: Path, progress: bool = True, start: Path | None = None) -> SeedRun:
    """Algorithm 1 for ``profile.interactions`` pick-and-places, the RSL learner in the loop,
    started from the weights in ``start`` (pre-training) or random ones; records ground truth
    beside it for the evaluation (see the module docstring)."""
    import torch

    from interseg.evaluation import ground_truth
    from interseg.grasping import GraspSettings
    from interseg.interaction import Hooks, InteractionRunner, run_interactions
    from interseg.learning.dataset import WindowDataset
    from interseg.learning.hypothesis import mask_iou_matrix
    from interseg.learning.predictor import HypothesisPredictor
    from interseg.learning.store import ExampleStore
    from interseg.learning.trainer import Trainer
    from interseg.learning.trainer_config import TrainerConfig
    from interseg.progress import progress_bar
    from interseg.sim.arena import ArenaConfig, SimulatedArena
    from interseg.sim.backends import ArenaArm, ArenaCameras
    from interseg.sim.randomisation import RandomisationConfig

    run = SeedRun(seed, work)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model_config = network_config(profile)
    trainer = Trainer(
        work / "rsl",
        model_config,
        TrainerConfig(
            mask_loss="rsl",
            batch_size=profile.batch_size,
            seed=seed,
            steps_per_round=profile.steps_per_round,
            keep_checkpoints=0,
        ),
    )
    if start is not None:
        trainer.load_weights(start)
    trainer.save_checkpoint({})  # version 1: the initial weights (AP before any interaction)
    run.schedule.append((0, 0))
    proposer = PolicyProposer(
        HypothesisPredictor(trainer.model, version=trainer.version), profile.bootstrap_bottom_up and start is None
    )
    store = ExampleStore(work / "examples", writer=True)
    oracle = ExampleStore(work / "oracle_examples", writer=True)
    arena = SimulatedArena(
        ArenaConfig(
            width=profile.width,
            height=profile.height,
            split="train",
            shadows=profile.shadows,
            randomisation=RandomisationConfig(enabled=profile.randomise),
        ),
        seed=1_000_003 * (seed + 1),
    )
    near_px = 12 * profile.width / 640 + 2
    truth: dict = {}  # ground truth of the current interaction, read by the hooks

    def before_pick(interaction) -> None:
        maps = {name: ground_truth.instance_map(arena, name) for name in arena.camera_names}
        truth.update(before_maps=maps, before_positions=ground_truth.object_positions(arena))
        main = maps[interaction.before.main.name]
        gt_main = [main == k + 1 for k in np.unique(main) if k > 0]
        hit = len(gt_main) > 0 and mask_iou_matrix([interaction.chosen.mask], gt_main).max() > 0.3
        run.chosen_hits.append(float(hit))
        run.interaction_versions.append(interaction.model_version)

    def after_pick(interaction) -> None:
        truth["after_maps"] = {name: ground_truth.instance_map(arena, name) for name in arena.camera_names}
        displacement = np.linalg.norm(ground_truth.object_positions(arena) - truth["before_positions"], axis=1)
        truth["moved"] = [int(k) for k in np.flatnonzero(displacement > 0.01)]

    runner = InteractionRunner(
        ArenaCameras(arena),
        proposer,
        ArenaArm(arena),
        store,
        GraspSettings(),
        rng,
        policy=profile.policy,
        hooks=Hooks(before_pick=before_pick, after_pick=after_pick),
    )
    times = {"interaction_s": [], "train_s": 0.0, "train_samples": 0}
    dataset = None  # created once the store has its first example
    bar = progress_bar(total=profile.interactions, desc=f"seed {seed}: interactions", disable=not progress)

    def on_executed(interaction, stats) -> None:
        nonlocal dataset
        interaction_id, lifted = interaction.interaction_id, bool(interaction.arm.object_lifted)
        for example in interaction.examples:
            run.label_records.append(
                judge_example(
                    example,
                    truth["moved"],
                    truth["before_maps"][example.view],
                    truth["after_maps"][example.view],
                    lifted,
                    profile.shadows,
                    near_px,
                )
                | {"interaction": interaction_id}
            )
        before = interaction.before
        for camera in before.cameras:  # the oracle's training data: the same before-images, all four views
            instance = truth["before_maps"][camera.name]
            run.gt_images.append((before.rgb[camera.name], instance.astype(np.uint8)))
            _add_oracle_examples(oracle, before.rgb[camera.name], instance, camera.name, interaction_id, rng)
        times["interaction_s"].append(time.perf_counter() - interaction.started)
        bar.update(1)
        bar.set_postfix_str(
            f"{stats.lifted} lifted, {stats.positive_interactions} positive, model v{proposer.predictor.version}"
        )
        last_round = stats.executed == profile.interactions
        if stats.executed % profile.round_every == 0 or last_round:
            records = records_of(work / "examples")
            steps = profile.steps_per_round + (profile.final_steps if last_round else 0)
            if records:
                if dataset is None:
                    dataset = WindowDataset(work / "examples", model_config, augment=True, seed=seed)
                _, seconds = train_round(trainer, dataset, records, interaction_id, steps, profile.batch_size)
                times["train_s"] += seconds
                times["train_samples"] += steps * profile.batch_size
                run.schedule.append((interaction_id, steps))
                proposer.predictor = HypothesisPredictor(trainer.model, version=trainer.version)
                proposer.bootstrap = False

    collect_start = time.perf_counter()
    try:
        stats = run_interactions(
            runner,
            profile.interactions,
            max_attempts=profile.interactions * profile.max_attempts_factor,
            reset=lambda: arena.reset(rng.integers(2**31)),
            reset_every=profile.reset_every,
            on_executed=on_executed,
        )
    except RuntimeError as exc:
        raise RuntimeError(f"seed {seed}: {exc}") from exc
    finally:
        bar.close()
        store.close()
        oracle.close()
        arena.close()
    wall = time.perf_counter() - collect_start
    run.counts.update(stats.counts())
    run.counts["bottom_up_fallbacks"] = proposer.fallbacks
    if stats.rejections:
        run.counts["rejections"] = stats.rejections
    run.chosen_recall = run.chosen_hits  # per interaction; smoothed when plotted
    executed = stats.executed
    run.timings = {
        "collection_wall_s": wall,
        "interaction_s_median": statistics.median(times["interaction_s"]),
        "interactions_per_hour_with_training": 3600 * executed / wall,
        "interactions_per_hour": 3600 * executed / max(1e-9, wall - times["train_s"]),
        "hypothesis_ms": statistics.median(proposer.predict_ms),
        "labeller_ms": statistics.median(stats.labeller_ms),
        "train_s_rsl": times["train_s"],
        "trainer_samples_per_s": times["train_samples"] / times["train_s"] if times["train_s"] else None,
    }
    return run
