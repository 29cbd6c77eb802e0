"""`interseg bench`: the paper's Table 1 and Figure 2 on the held-out test split, with baselines,
label quality, throughput and seed variance, in one command.

Why one command: every learned method sees the same training scenes and the same number of
optimizer steps, so the ratios between them are fair; and the numbers, plots and COCO files of
one run sit together in one folder.

Per seed:

1. **Collect** interactions with a ROS-free copy of Algorithm 1 (the same library calls the node
   graph makes): render the four views -> the current network proposes hypotheses on the main
   view -> one is chosen uniformly -> ``plan_grasp`` + ``choose_place_location`` ->
   ``SimulatedArena.pick_place`` -> render again -> ``FrameDifferenceLabeller`` -> examples
   store (until the first model update the robot tests bottom-up proposals instead: a label-free
   stand-in for passive pre-training, see ``Profile.bootstrap_bottom_up``). Every ``round_every`` interactions the learner (Robust Set Loss) trains
   ``steps_per_round`` steps and its checkpoint becomes the policy. Running the loop in-process
   rather than through ``interseg launch`` is what lets the harness read the ground truth of the
   very scene the labeller saw (for label quality, the efficacy of experimentation, and the
   oracle's training masks); the learning side never sees it.
2. **Train** on the same store and the same schedule (same examples available at every round,
   same steps, same seed): plain cross-entropy (replayed; the data were collected by the RSL
   learner), and the supervised oracle (the same network on ground-truth masks of the same
   before-images, all four views). Torchvision Mask R-CNN (ResNet-18 FPN backbone, no pretrained
   weights, class-agnostic) trains on the same ground truth for the oracle's wall-clock seconds.
3. **Score** on the test split's main view (unseen objects and backgrounds): mask AP at IoU 0.3
   and 0.5 with pycocotools; every checkpoint of the run for AP versus interactions.

Once per run: the bottom-up baseline untuned and tuned on the validation split (a small grid of
``BottomUpConfig``; it is deterministic, so its seeds agree).

Output folder: ``bench.json`` (every number), ``coco/`` (ground truth and detections of every
scored method and seed, so AP can be recomputed), PNG plots, ``index.html`` and ``RESULTS.md``.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from interseg.cli_args import ArgumentParser, random_seed

METHODS = ("bottom_up", "bottom_up_tuned", "self_sup_ce", "self_sup_rsl", "supervised_oracle", "mask_rcnn")


@dataclass(frozen=True)
class Profile:
    name: str
    width: int
    height: int
    shadows: bool
    seeds: tuple[int, ...]
    interactions: int  # executed pick-and-places per seed
    round_every: int  # interactions between training rounds (the policy is updated after each)
    steps_per_round: int
    final_steps: int  # extra steps on the complete store once collection ends
    batch_size: int
    reset_every: int  # re-scatter the arena every N interactions (paper: 25)
    test_per_background: int  # test split: 10 backgrounds x this (paper: 5)
    val_per_background: int  # validation split: 6 backgrounds x this
    bottom_up_grid: int  # how many BottomUpConfig candidates the tuning tries
    maskrcnn_batch: int = 2
    efficacy_window: int = 10
    max_attempts_factor: int = 4  # give up after interactions x this attempts (rejected grasps)
    test_limit: int | None = None  # score on the first N test images only (CI smoke test)
    val_limit: int | None = None
    ce_curve: bool = True  # also score every cross-entropy checkpoint (AP versus interactions for CE)
    # Until the first model update the robot tests bottom-up proposals instead of the random
    # network's: a label-free stand-in for the paper's passive pre-training (without it a random
    # network almost never points at an object and a short run collects no positive at all).
    bootstrap_bottom_up: bool = True

    # The network sees every profile's images at 320 px wide (input_scale = 320 / width), as the
    # node graph runs it on 640x480 cameras: the same window (112 px) and the same cost per step.
    network_width: int = 320
    window: int = 112

    @property
    def input_scale(self) -> float:
        return self.network_width / self.width


PROFILES = {
    "tiny": Profile("tiny", 320, 240, shadows=False, seeds=(0,), interactions=4, round_every=2, steps_per_round=2,
                    final_steps=2, batch_size=4, reset_every=4, test_per_background=1, val_per_background=1,
                    bottom_up_grid=2, efficacy_window=2, test_limit=4, val_limit=3, ce_curve=False),
    # A short run resets the arena often so that the learners see more than two or three scenes.
    "quick": Profile("quick", 320, 240, shadows=True, seeds=(0, 1, 2), interactions=36, round_every=12,
                     steps_per_round=60, final_steps=150, batch_size=16, reset_every=4, test_per_background=3,
                     val_per_background=1, bottom_up_grid=3, efficacy_window=6, ce_curve=False),
    # Sized from one measured seed of 200 interactions (benchmarks/results/standard-seed0: each
    # interaction ~3.1 s at 640x480 with its labelling and ground truth, scoring ~1.2 min) and the
    # trainer's ~125 samples/s once the examples' scaled images are cached: 150 interactions and
    # 1,200 steps of 32 per method (~5 min each; Mask R-CNN gets the oracle's time) project to
    # ~30 min per seed on two cores. The hypothesis network (TrainerConfig.device "auto") and
    # Mask R-CNN train on a GPU when torch sees one.
    "standard": Profile("standard", 640, 480, shadows=True, seeds=(0, 1, 2), interactions=150, round_every=25,
                        steps_per_round=100, final_steps=600, batch_size=32, reset_every=10, test_per_background=5,
                        val_per_background=5, bottom_up_grid=8, efficacy_window=25),
}

# The paper's Table 1 (AP in percent), for the side-by-side table.
PAPER_TABLE1 = {
    "bottom_up": ("GOP", 7.4, 5.6),
    "bottom_up_tuned": ("GOP tuned", 24.3, 20.7),
    "self_sup_ce": ("Ours", 44.1, 20.2),
    "self_sup_rsl": ("Ours + RSL", 48.7, 24.6),
    "supervised_oracle": ("DeepMask tuned (COCO + ImageNet)", 61.8, 47.3),
    "mask_rcnn": ("DeepMask (COCO + ImageNet)", 44.5, 34.3),
}
METHOD_LABELS = {
    "bottom_up": "bottom-up (Felzenszwalb + RAG merging), untuned",
    "bottom_up_tuned": "bottom-up, tuned on val",
    "self_sup_ce": "ours, self-supervised, cross-entropy",
    "self_sup_rsl": "ours, self-supervised, Robust Set Loss",
    "supervised_oracle": "same network on ground-truth masks (oracle)",
    "mask_rcnn": "Mask R-CNN R18-FPN, scratch, ground truth",
}


def _model_config(profile: Profile):
    from interseg.learning.model import ModelConfig

    return ModelConfig(input_scale=profile.input_scale, window=profile.window, expected_size=(profile.width, profile.height))


def _bottom_up_grid(n: int) -> list:
    """Candidates for the validation tuning, the untuned default first."""
    from interseg.learning.baselines import BottomUpConfig

    base = BottomUpConfig()
    candidates = [base,
                  replace(base, felzenszwalb_scale=300.0, merge_thresholds=(12.0, 24.0, 40.0)),
                  replace(base, felzenszwalb_scale=80.0, min_area_fraction=0.001, max_area_fraction=0.08),
                  replace(base, felzenszwalb_scale=200.0, nms_iou=0.5, contrast_scale=15.0),
                  replace(base, felzenszwalb_scale=100.0, merge_thresholds=(6.0, 12.0, 20.0, 32.0), top_k=50),
                  replace(base, felzenszwalb_sigma=1.2, felzenszwalb_scale=250.0, max_area_fraction=0.08),
                  replace(base, felzenszwalb_min_size=80, merge_thresholds=(10.0, 20.0, 35.0, 50.0)),
                  replace(base, felzenszwalb_scale=150.0, nms_iou=0.6, min_area_fraction=0.003, top_k=50)]
    return candidates[:max(1, n)]


# ---------------------------------------------------------------------------------------------
# Label quality: the labeller's masks against the simulator's ground truth
# ---------------------------------------------------------------------------------------------

def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


def judge_example(example, moved: list[int], before_map: np.ndarray, after_map: np.ndarray, lifted: bool,
                  shadows: bool, near_px: float) -> dict:
    """Compare one labelled example with the ground truth of its view.

    ``moved``: indices of objects whose pose changed in the interaction. A pick example is about
    the before-image, a place example about the after-image. Returns the IoU with the matching
    moved object (positives), whether the label is a false positive / false negative, and the
    most likely cause of an error."""
    gt_map = before_map if example.kind == "pick" else after_map
    u, v = int(round(example.u)), int(round(example.v))
    h, w = gt_map.shape
    # the moved object the example is about: the one under (or nearest to) the point
    candidates = []
    for k in moved:
        mask = gt_map == k + 1
        if not mask.any():
            continue
        vs, us = np.nonzero(mask)
        distance = float(np.min((us - u) ** 2 + (vs - v) ** 2)) ** 0.5
        candidates.append((distance, k, mask))
    candidates.sort(key=lambda c: c[0])
    target = candidates[0] if candidates and candidates[0][0] <= near_px else None
    record = {"view": example.view, "kind": example.kind, "positive": bool(example.positive),
              "objects_moved": len(moved), "lifted": bool(lifted)}
    if example.positive:
        if target is None:
            record.update(iou=0.0, error="false_positive", cause=_cause(moved, lifted, shadows, example.mask, before_map, after_map))
            return record
        iou = _iou(example.mask, target[2])
        if len(moved) > 1 and example.kind == "pick":  # the label may span the objects that moved together
            union = np.isin(gt_map, [k + 1 for k in moved])
            record["iou_with_all_moved"] = _iou(example.mask, union)
        record.update(iou=iou, error=None if iou >= 0.5 else "poor_mask")
        if record["error"]:
            record["cause"] = _cause(moved, lifted, shadows, example.mask & ~target[2], before_map, after_map)
        return record
    record.update(iou=None, error="false_negative" if target is not None else None)
    if target is not None:
        record["cause"] = "failed_grasp" if not lifted else "missed_change"
    return record


def _cause(moved: list[int], lifted: bool, shadows: bool, extra: np.ndarray | None, before_map, after_map) -> str:
    """Best guess of why a positive label is wrong: two objects moved together; a failed grasp
    that only nudged the object; changed pixels on the bare table in both images (a shadow when
    shadows are rendered, otherwise lighting or noise); otherwise unexplained."""
    if len(moved) > 1:
        return "two_objects_moved"
    if moved and not lifted:
        return "failed_grasp"
    if extra is not None and extra.any():
        on_table = (before_map[extra] == 0) & (after_map[extra] == 0)
        if on_table.mean() > 0.5:
            return "shadow" if shadows else "lighting_or_noise"
    if not moved:
        return "nothing_moved"
    return "other"


def summarize_labels(records: list[dict]) -> dict:
    """Median IoU on positives, false positive / negative rates, errors by cause."""
    positives = [r for r in records if r["positive"]]
    ious = [r["iou"] for r in positives]
    true_pos = [r["iou"] for r in positives if r["error"] != "false_positive"]
    fps = [r for r in positives if r["error"] == "false_positive"]
    fns = [r for r in records if r["error"] == "false_negative"]
    should_be_positive = len(positives) - len(fps) + len(fns)
    causes: dict[str, int] = {}
    for r in records:
        if r.get("error"):
            key = f"{r['error']}:{r.get('cause', 'unknown')}"
            causes[key] = causes.get(key, 0) + 1
    by_kind = {}
    for kind in ("pick", "place"):
        k_ious = [r["iou"] for r in positives if r["kind"] == kind]
        by_kind[kind] = {"positives": len(k_ious), "median_iou": float(np.median(k_ious)) if k_ious else None}
    return {
        "examples": len(records),
        "positives": len(positives),
        "negatives": len(records) - len(positives),
        "median_iou": float(np.median(ious)) if ious else None,
        "median_iou_true_positives": float(np.median(true_pos)) if true_pos else None,
        "fraction_iou_at_least_0_5": float(np.mean(np.asarray(ious) >= 0.5)) if ious else None,
        "fp_rate": len(fps) / len(positives) if positives else None,
        "fn_rate": len(fns) / should_be_positive if should_be_positive else None,
        "errors_by_cause": dict(sorted(causes.items())),
        "by_kind": by_kind,
        "ious": [round(float(v), 4) for v in ious],
        "definitions": ("median_iou over all positive labels (a positive where no object moved counts as IoU 0); "
                        "fp_rate = positives where no moved object is near the point / positives; fn_rate = negatives "
                        "at a point where an object did move / labels that should be positive"),
    }


# ---------------------------------------------------------------------------------------------
# Collection (one seed)
# ---------------------------------------------------------------------------------------------

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


def _train_round(trainer, dataset, all_records, last_interaction: int, steps: int, batch: int):
    """Train ``steps`` steps on the examples of interactions <= ``last_interaction``, checkpoint."""
    from torch.utils.data import DataLoader, RandomSampler

    dataset.records = [r for r in all_records if r.interaction_id <= last_interaction]
    if not dataset.records:
        raise RuntimeError(f"no examples up to interaction {last_interaction} in {dataset.root}")
    sampler = RandomSampler(dataset, replacement=True, num_samples=steps * batch)
    loader = DataLoader(dataset, batch_size=batch, sampler=sampler, drop_last=True, num_workers=0)
    start = time.perf_counter()
    stats = trainer.train_one_epoch(loader, progress=False)
    seconds = time.perf_counter() - start
    info = trainer.save_checkpoint(stats)
    return info, seconds


def _records(store_root: Path):
    from interseg.learning.store import ExampleStore

    with ExampleStore(store_root) as store:
        return store.records()


def collect(profile: Profile, seed: int, work: Path, progress: bool = True) -> SeedRun:
    """Algorithm 1 for ``profile.interactions`` pick-and-places, the RSL learner in the loop;
    records ground truth beside it for the evaluation (see the module docstring)."""
    import torch
    from tqdm import tqdm

    from interseg.evaluation import ground_truth
    from interseg.experiment import choose_hypothesis
    from interseg.grasping import Box, GraspRejected, GraspSettings, choose_place_location, plan_grasp
    from interseg.learning.dataset import WindowDataset
    from interseg.learning.baselines import bottom_up_proposals
    from interseg.learning.labelling import FrameDifferenceLabeller, ViewCapture
    from interseg.learning.metrics import _iou_matrix
    from interseg.learning.model import HypothesisPredictor, grasp_from_mask
    from interseg.learning.store import ExampleStore
    from interseg.learning.trainer import Trainer, TrainerConfig
    from interseg.sim.arena import ArenaConfig, SimulatedArena
    from interseg.sim.controller import PickPlaceRejected

    run = SeedRun(seed, work)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model_config = _model_config(profile)
    trainer = Trainer(work / "rsl", model_config, TrainerConfig(mask_loss="rsl", batch_size=profile.batch_size, seed=seed,
                                                              steps_per_round=profile.steps_per_round, keep_checkpoints=0))
    trainer.save_checkpoint({})  # version 1: the initial weights (AP before any interaction)
    run.schedule.append((0, 0))
    predictor = HypothesisPredictor(trainer.model, version=trainer.version)
    labeller = FrameDifferenceLabeller()
    settings = GraspSettings()
    place_region = Box((0.38, -0.22, 0.0), (0.68, 0.22, 0.1))  # the grasp planner's default
    store = ExampleStore(work / "examples", writer=True)
    oracle = ExampleStore(work / "oracle_examples", writer=True)
    arena = SimulatedArena(ArenaConfig(width=profile.width, height=profile.height, split="train", shadows=profile.shadows),
                           seed=1_000_003 * (seed + 1))
    near_px = 12 * profile.width / 640 + 2
    times = {"predict_ms": [], "labeller_ms": [], "interaction_s": [], "train_s": 0.0, "train_samples": 0}
    counts = {"attempts": 0, "executed": 0, "rejected": 0, "lifted": 0, "positive_interactions": 0, "empty_proposals": 0,
              "resets": 0}
    dataset = None  # created once the store has its first example
    executed = 0
    collect_start = time.perf_counter()
    bar = tqdm(total=profile.interactions, desc=f"seed {seed}: interactions", disable=not progress)
    try:
        arena.reset(rng.integers(2**31))
        counts["resets"] += 1
        while executed < profile.interactions:
            if counts["attempts"] >= profile.interactions * profile.max_attempts_factor:
                raise RuntimeError(f"seed {seed}: {counts['attempts']} attempts gave only {executed} executed pick-and-places "
                                   f"({counts['rejected']} rejected); the policy cannot produce executable grasps")
            counts["attempts"] += 1
            t_interaction = time.perf_counter()
            before = arena.render_views(depth=True)
            camera = arena.cameras[0]
            t = time.perf_counter()
            hypotheses = predictor.predict(before.rgb[camera.name])
            times["predict_ms"].append((time.perf_counter() - t) * 1000)
            policy_version = predictor.version
            if profile.bootstrap_bottom_up and len(run.schedule) == 1:  # no model update yet
                hypotheses = bottom_up_proposals(before.rgb[camera.name])
                policy_version = 0
            if not hypotheses:
                counts["empty_proposals"] += 1
                arena.reset(rng.integers(2**31))
                counts["resets"] += 1
                continue
            chosen = hypotheses[choose_hypothesis([h.score for h in hypotheses], "uniform", rng)]
            try:
                grasp = plan_grasp((chosen.grasp_u, chosen.grasp_v), chosen.grasp_yaw, before.depth, camera, settings, chosen.mask)
                place = choose_place_location(before.depth, camera, settings, place_region, rng, avoid=grasp.position)
                arena.validate_goal(grasp.position, grasp.yaw, place)
            except (GraspRejected, PickPlaceRejected) as exc:
                counts["rejected"] += 1
                run.counts.setdefault("rejections", []).append(str(exc)[:120])
                continue
            # ground truth of the scene the robot acted on (evaluation only)
            before_maps = {name: ground_truth.instance_map(arena, name) for name in arena.camera_names}
            before_positions = ground_truth.object_positions(arena)
            gt_cam0 = [before_maps[camera.name] == k + 1 for k in np.unique(before_maps[camera.name]) if k > 0]
            hit = float(len(gt_cam0) > 0 and _iou_matrix([chosen.mask], gt_cam0).max() > 0.3)
            run.chosen_hits.append(hit)
            run.interaction_versions.append(policy_version)
            result = arena.pick_place(grasp.position, grasp.yaw, place)
            after = arena.render_views(depth=True)
            executed += 1
            interaction_id = executed
            counts["executed"] += 1
            counts["lifted"] += int(result.object_lifted)
            after_maps = {name: ground_truth.instance_map(arena, name) for name in arena.camera_names}
            displacement = np.linalg.norm(ground_truth.object_positions(arena) - before_positions, axis=1)
            moved = [int(k) for k in np.flatnonzero(displacement > 0.01)]

            views = []
            for cam in arena.cameras:
                view = ViewCapture(camera=cam, before=before.rgb[cam.name], after=after.rgb[cam.name])
                if cam.name == camera.name:
                    view.before_depth, view.after_depth = before.depth, after.depth
                views.append(view)
            t = time.perf_counter()
            labels = labeller.label_interaction(views, grasp.position, place)
            times["labeller_ms"].append((time.perf_counter() - t) * 1000)
            any_positive = False
            for view_labels in labels:
                for example in view_labels.examples:
                    store.add_example(example, interaction_id=interaction_id, model_version=policy_version)
                    any_positive |= example.positive
                    run.label_records.append(judge_example(example, moved, before_maps[example.view], after_maps[example.view],
                                                           result.object_lifted, profile.shadows, near_px)
                                             | {"interaction": interaction_id})
            counts["positive_interactions"] += int(any_positive)
            # the oracle's training data: every visible object of the same before-images, plus table points
            for cam in arena.cameras:
                instance = before_maps[cam.name]
                run.gt_images.append((before.rgb[cam.name], instance.astype(np.uint8)))
                for k in np.unique(instance):
                    if k == 0:
                        continue
                    mask = instance == k
                    if mask.sum() < 20:
                        continue
                    u, v, _, _ = grasp_from_mask(mask)
                    oracle.add(image=before.rgb[cam.name], u=u, v=v, positive=True, mask=mask, reason="ground truth",
                               interaction_id=interaction_id, view=cam.name, source="ground_truth")
                free = np.argwhere(instance == 0)
                for v, u in free[rng.choice(len(free), size=min(2, len(free)), replace=False)]:
                    oracle.add(image=before.rgb[cam.name], u=float(u), v=float(v), positive=False, mask=None,
                               reason="ground truth: table", interaction_id=interaction_id, view=cam.name, source="ground_truth")
            times["interaction_s"].append(time.perf_counter() - t_interaction)
            bar.update(1)
            bar.set_postfix_str(f"{counts['lifted']} lifted, {counts['positive_interactions']} positive, model v{predictor.version}")

            last_round = executed == profile.interactions
            if executed % profile.round_every == 0 or last_round:
                records = _records(work / "examples")
                steps = profile.steps_per_round + (profile.final_steps if last_round else 0)
                if records:
                    if dataset is None:
                        dataset = WindowDataset(work / "examples", model_config, augment=True, seed=seed)
                    _, seconds = _train_round(trainer, dataset, records, interaction_id, steps, profile.batch_size)
                    times["train_s"] += seconds
                    times["train_samples"] += steps * profile.batch_size
                    run.schedule.append((interaction_id, steps))
                    predictor = HypothesisPredictor(trainer.model, version=trainer.version)
            if executed % profile.reset_every == 0 and not last_round:
                arena.reset(rng.integers(2**31))
                counts["resets"] += 1
    finally:
        bar.close()
        store.close()
        oracle.close()
        arena.close()
    wall = time.perf_counter() - collect_start
    run.counts.update(counts)
    run.chosen_recall = run.chosen_hits  # per interaction; smoothed when plotted
    run.timings = {
        "collection_wall_s": wall,
        "interaction_s_median": statistics.median(times["interaction_s"]),
        "interactions_per_hour_with_training": 3600 * executed / wall,
        "interactions_per_hour": 3600 * executed / max(1e-9, wall - times["train_s"]),
        "hypothesis_ms": statistics.median(times["predict_ms"]),
        "labeller_ms": statistics.median(times["labeller_ms"]),
        "train_s_rsl": times["train_s"],
        "trainer_samples_per_s": times["train_samples"] / times["train_s"] if times["train_s"] else None,
    }
    return run


def train_replay(profile: Profile, run: SeedRun, store_root: Path, out: Path, mask_loss: str) -> tuple[float, int]:
    """The RSL learner's schedule replayed on ``store_root`` with another loss or other labels:
    same examples available at every round, same steps, same seed. Returns (seconds, samples)."""
    import torch

    from interseg.learning.dataset import WindowDataset
    from interseg.learning.trainer import Trainer, TrainerConfig

    torch.manual_seed(run.seed)
    model_config = _model_config(profile)
    trainer = Trainer(out, model_config, TrainerConfig(mask_loss=mask_loss, batch_size=profile.batch_size, seed=run.seed,
                                                       keep_checkpoints=0))
    trainer.save_checkpoint({})
    records = _records(store_root)
    dataset = WindowDataset(store_root, model_config, augment=True, seed=run.seed)
    seconds, samples = 0.0, 0
    for last_interaction, steps in run.schedule:
        if steps == 0:
            continue
        _, s = _train_round(trainer, dataset, records, last_interaction, steps, profile.batch_size)
        seconds += s
        samples += steps * profile.batch_size
    return seconds, samples


# ---------------------------------------------------------------------------------------------
# Mask R-CNN (torchvision), class-agnostic, from scratch
# ---------------------------------------------------------------------------------------------

def _mask_rcnn(profile: Profile):
    from torchvision.models.detection import MaskRCNN
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.backbone_utils import resnet_fpn_backbone

    backbone = resnet_fpn_backbone(backbone_name="resnet18", weights=None, trainable_layers=5)
    scale = profile.width / 640
    sizes = tuple((max(8, int(round(s * scale))),) for s in (32, 64, 128, 256, 512))
    anchors = AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * len(sizes))
    return MaskRCNN(backbone, num_classes=2, min_size=profile.height, max_size=profile.width,
                    rpn_anchor_generator=anchors, box_detections_per_img=50)


def train_mask_rcnn(profile: Profile, run: SeedRun, seconds_budget: float, progress: bool = True):
    """Train on the ground truth of the same before-images for ``seconds_budget`` wall seconds
    (the oracle's training time): the same compute budget in wall time, not steps, because one
    Mask R-CNN step costs several of our steps."""
    import torch
    from tqdm import tqdm

    torch.manual_seed(run.seed)
    rng = np.random.default_rng(run.seed)
    data = [(image, instance) for image, instance in run.gt_images if instance.max() > 0]
    if not data:
        raise RuntimeError("no ground-truth objects in the training scenes")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = _mask_rcnn(profile).to(device)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01, momentum=0.9, weight_decay=1e-4)
    model.train()
    start = time.perf_counter()
    steps = samples = 0
    bar = tqdm(desc=f"seed {run.seed}: mask r-cnn", total=int(seconds_budget), unit="s", disable=not progress, leave=False)
    while steps == 0 or time.perf_counter() - start < seconds_budget:
        images, targets = [], []
        for i in rng.choice(len(data), size=profile.maskrcnn_batch):
            image, instance = data[i]
            ids = [k for k in np.unique(instance) if k > 0 and (instance == k).sum() >= 4]
            masks = np.stack([instance == k for k in ids])
            boxes = []
            for m in masks:
                vs, us = np.nonzero(m)
                boxes.append([us.min(), vs.min(), us.max() + 1, vs.max() + 1])
            images.append(torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().to(device) / 255.0)
            targets.append({"boxes": torch.tensor(boxes, dtype=torch.float32, device=device),
                            "labels": torch.ones(len(ids), dtype=torch.int64, device=device),
                            "masks": torch.from_numpy(masks.astype(np.uint8)).to(device)})
        losses = model(images, targets)
        loss = sum(losses.values())
        if not torch.isfinite(loss):
            raise RuntimeError(f"Mask R-CNN: non-finite loss at step {steps}: { {k: float(v) for k, v in losses.items()} }")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimizer.step()
        steps += 1
        samples += len(images)
        bar.n = min(int(seconds_budget), int(time.perf_counter() - start))
        bar.set_postfix(loss=f"{float(loss.detach()):.3f}")
    bar.close()
    model.eval()
    return model, {"steps": steps, "images": samples, "wall_s": time.perf_counter() - start, "device": str(device)}


class _Detection:
    def __init__(self, mask: np.ndarray, score: float):
        self.mask, self.score = mask, score


def mask_rcnn_predictor(model):
    import torch

    @torch.inference_mode()
    def predict(image: np.ndarray) -> list:
        device = next(model.parameters()).device
        x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().to(device) / 255.0
        out = model([x])[0]
        masks = (out["masks"][:, 0] > 0.5).cpu().numpy()
        return [_Detection(m, float(s)) for m, s in zip(masks, out["scores"].cpu().numpy()) if m.any()]

    return predict


# ---------------------------------------------------------------------------------------------
# The whole benchmark
# ---------------------------------------------------------------------------------------------

def _machine() -> dict:
    import torch

    info = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "torch_threads": torch.get_num_threads(), "gpu": torch.cuda.is_available(),
            "gpu_name": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    try:
        info["load_average_at_start"] = os.getloadavg()
    except OSError:
        pass
    return info


def _versions() -> dict:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for package in ("torch", "torchvision", "mujoco", "numpy", "opencv-python-headless", "opencv-python", "pycocotools",
                    "scikit-image"):
        try:
            out[package] = md.version(package)
        except md.PackageNotFoundError:
            pass
    from interseg import __version__

    out["interseg"] = __version__
    try:
        import subprocess

        out["git_commit"] = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                           cwd=Path(__file__).parent, timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        out["git_commit"] = None
    return out


def _score(predict, eval_set, coco_path: Path):
    from interseg.learning.metrics import evaluate_predictor

    result = evaluate_predictor(predict, eval_set.images, eval_set.gt_masks)
    result.save_json(coco_path)
    return result


def _mean_spread(values: list[float]) -> dict:
    finite = [v for v in values if v is not None and np.isfinite(v)]
    return {"mean": float(np.mean(finite)) if finite else None, "std": float(np.std(finite)) if len(finite) > 1 else 0.0,
            "min": float(min(finite)) if finite else None, "max": float(max(finite)) if finite else None}


def preload_torchvision_ops() -> None:
    """Import torchvision's detection ops (which pull in torch._dynamo and triton) before the
    simulator creates its OpenGL context: triton's bundled LLVM loaded after Mesa's llvmpipe
    segfaults the process."""
    import torchvision.models.detection  # noqa: F401
    import torchvision.ops  # noqa: F401


def run_benchmark(profile: Profile, out: Path, work: Path, eval_root: Path, progress: bool = True) -> dict:
    import torch

    preload_torchvision_ops()

    from interseg.evaluation.evaluate import ensure_eval_set
    from interseg.learning.baselines import bottom_up_proposals
    from interseg.learning.metrics import evaluate_predictor
    from interseg.learning.model import HypothesisPredictor
    from interseg.learning.trainer import list_checkpoints

    started = time.time()
    out.mkdir(parents=True, exist_ok=True)
    coco_dir = out / "coco"
    coco_dir.mkdir(exist_ok=True)
    machine = _machine()
    size = f"{profile.width}x{profile.height}"
    phase_s: dict[str, float] = {}

    t = time.perf_counter()
    test = ensure_eval_set("test", eval_root / f"test-{size}-{profile.test_per_background}", profile.width, profile.height,
                           profile.test_per_background)
    val = ensure_eval_set("val", eval_root / f"val-{size}-{profile.val_per_background}", profile.width, profile.height,
                          profile.val_per_background)
    for subset, limit in ((test, profile.test_limit), (val, profile.val_limit)):
        if limit is not None:
            subset.images, subset.gt_masks, subset.file_names = subset.images[:limit], subset.gt_masks[:limit], subset.file_names[:limit]
    phase_s["eval_sets"] = time.perf_counter() - t

    # bottom-up: untuned, and tuned on the validation split
    t = time.perf_counter()
    grid = _bottom_up_grid(profile.bottom_up_grid)
    tuning = []
    for index, config in enumerate(grid):
        result = evaluate_predictor(lambda image, c=config: bottom_up_proposals(image, c), val.images, val.gt_masks)
        tuning.append({"candidate": index, "val_ap30": result.ap30, "val_ap50": result.ap50,
                       "config": {k: v for k, v in asdict(config).items() if k != "extra"}})
        if progress:
            print(f"[bench] bottom-up candidate {index}: val AP@0.3 {result.ap30:.3f}", flush=True)
    best = max(range(len(grid)), key=lambda i: (tuning[i]["val_ap30"], -i))
    bottom_up = _score(lambda image: bottom_up_proposals(image, grid[0]), test, coco_dir / "bottom_up-seed0.json")
    bottom_up_tuned = _score(lambda image: bottom_up_proposals(image, grid[best]), test, coco_dir / "bottom_up_tuned-seed0.json")
    phase_s["bottom_up"] = time.perf_counter() - t

    per_seed: dict[str, list[dict]] = {m: [] for m in METHODS}
    curves, efficacy, label_records, seed_info = [], [], [], []
    pr_curves = {}
    for seed in profile.seeds:
        seed_start = time.perf_counter()
        seed_work = work / f"seed{seed}"
        run = collect(profile, seed, seed_work, progress)
        t = time.perf_counter()
        ce_s, ce_samples = train_replay(profile, run, seed_work / "examples", seed_work / "ce", "ce")
        # the oracle's labels are clean: plain cross-entropy, as DeepMask was trained
        oracle_s, oracle_samples = train_replay(profile, run, seed_work / "oracle_examples", seed_work / "oracle", "ce")
        rcnn, rcnn_info = train_mask_rcnn(profile, run, oracle_s, progress)
        train_s = time.perf_counter() - t
        t = time.perf_counter()
        results = {}
        for method, folder in (("self_sup_rsl", "rsl"), ("self_sup_ce", "ce"), ("supervised_oracle", "oracle")):
            final = list_checkpoints(seed_work / folder)[-1][1]
            predictor = HypothesisPredictor.from_checkpoint(final)
            results[method] = _score(predictor.predict, test, coco_dir / f"{method}-seed{seed}.json")
        results["mask_rcnn"] = _score(mask_rcnn_predictor(rcnn), test, coco_dir / f"mask_rcnn-seed{seed}.json")
        results["bottom_up"], results["bottom_up_tuned"] = bottom_up, bottom_up_tuned
        for method in METHODS:
            coco_seed = 0 if method.startswith("bottom_up") else seed
            per_seed[method].append({"seed": seed, "ap30": results[method].ap30, "ap50": results[method].ap50,
                                     "coco_gt": f"coco/{method}-seed{coco_seed}.json",
                                     "coco_results": f"coco/{method}-seed{coco_seed}_results.json"})
        if seed == profile.seeds[0]:
            pr_curves = {m: {str(th): results[m].precision[th].tolist() for th in (0.3, 0.5)} for m in METHODS}
        # AP versus interactions along the run (every checkpoint of both self-supervised learners)
        # (the final checkpoints were scored above; the cross-entropy curve only when the profile asks)
        curve = {"seed": seed, "interactions": [], "rsl_ap30": [], "rsl_ap50": []} | ({"ce_ap30": []} if profile.ce_curve else {})
        rsl_checkpoints, ce_checkpoints = list_checkpoints(seed_work / "rsl"), list_checkpoints(seed_work / "ce")
        for index, (last_interaction, _) in enumerate(run.schedule):
            last = index == len(run.schedule) - 1
            r = results["self_sup_rsl"] if last else evaluate_predictor(
                HypothesisPredictor.from_checkpoint(rsl_checkpoints[index][1]).predict, test.images, test.gt_masks)
            curve["interactions"].append(last_interaction)
            curve["rsl_ap30"].append(r.ap30)
            curve["rsl_ap50"].append(r.ap50)
            if profile.ce_curve:
                c = results["self_sup_ce"] if last else evaluate_predictor(
                    HypothesisPredictor.from_checkpoint(ce_checkpoints[index][1]).predict, test.images, test.gt_masks)
                curve["ce_ap30"].append(c.ap30)
        curves.append(curve)
        eval_s = time.perf_counter() - t
        efficacy.append({"seed": seed, "hits": run.chosen_hits, "model_version": run.interaction_versions})
        label_records += [r | {"seed": seed} for r in run.label_records]
        seed_info.append({"seed": seed, "counts": {k: v for k, v in run.counts.items() if k != "rejections"},
                          "rejection_examples": run.counts.get("rejections", [])[:5], "schedule": run.schedule,
                          "timings": run.timings | {"train_s_ce": ce_s, "train_s_oracle": oracle_s,
                                                    "train_samples_each": ce_samples, "mask_rcnn": rcnn_info,
                                                    "replay_and_mask_rcnn_s": train_s, "evaluation_s": eval_s,
                                                    "seed_wall_s": time.perf_counter() - seed_start}})
        if progress:
            print(f"[bench] seed {seed}: " + ", ".join(f"{m} {results[m].ap30:.3f}/{results[m].ap50:.3f}" for m in METHODS),
                  flush=True)

    ap = {}
    for method in METHODS:
        values = per_seed[method]
        ap[method] = {"ap30": _mean_spread([v["ap30"] for v in values])["mean"],
                      "ap50": _mean_spread([v["ap50"] for v in values])["mean"],
                      "ap30_spread": _mean_spread([v["ap30"] for v in values]),
                      "ap50_spread": _mean_spread([v["ap50"] for v in values]),
                      "per_seed": values}
    ap["bottom_up"]["note"] = ap["bottom_up_tuned"]["note"] = "deterministic: scored once, the same for every seed"

    # Figure 2a: mean over seeds at each round (rounds fall on the same interaction counts)
    points = sorted({n for c in curves for n in c["interactions"]})
    curve_summary = {"interactions": points}
    for key in ("rsl_ap30", "rsl_ap50") + (("ce_ap30",) if profile.ce_curve else ()):
        curve_summary[key] = [float(np.mean([c[key][c["interactions"].index(n)] for c in curves if n in c["interactions"]]))
                              for n in points]
    curve_map = {str(n): v for n, v in zip(points, curve_summary["rsl_ap30"])}

    def seed_mean(key: str):
        values = [s["timings"][key] for s in seed_info if s["timings"].get(key) is not None]
        return float(np.mean(values)) if values else None

    train_seconds = sum(s["timings"]["train_s_rsl"] + s["timings"]["train_s_ce"] + s["timings"]["train_s_oracle"] for s in seed_info)
    train_samples = sum(3 * s["timings"]["train_samples_each"] for s in seed_info)
    throughput = {
        "interactions_per_hour": seed_mean("interactions_per_hour"),
        "interactions_per_hour_with_training": seed_mean("interactions_per_hour_with_training"),
        "hypothesis_ms": seed_mean("hypothesis_ms"),
        "trainer_samples_per_s": train_samples / train_seconds if train_seconds else None,
        "labeller_ms": seed_mean("labeller_ms"),
        "notes": (f"in-process loop (no ROS transport) at {size}, shadows {'on' if profile.shadows else 'off'}; "
                  "interactions_per_hour excludes the synchronous training rounds, the _with_training figure includes "
                  "them; hypothesis_ms and labeller_ms are medians (labeller: all four views); trainer samples/s over "
                  f"every training round of the three networks, batch {profile.batch_size}, window {profile.window} px"),
    }
    labels = summarize_labels(label_records)
    rsl, oracle_ap, tuned = ap["self_sup_rsl"], ap["supervised_oracle"], ap["bottom_up_tuned"]

    def ratio(a, b):
        return a / b if a is not None and b else None

    numbers = {
        "profile": profile.name,
        "profile_settings": asdict(profile) | {"input_scale": profile.input_scale},
        "ap": ap,
        "ratios": {"rsl_over_oracle_ap30": ratio(rsl["ap30"], oracle_ap["ap30"]),
                   "rsl_over_oracle_ap50": ratio(rsl["ap50"], oracle_ap["ap50"]),
                   "rsl_over_bottom_up_tuned_ap30": ratio(rsl["ap30"], tuned["ap30"]),
                   "rsl_minus_ce_ap30": (rsl["ap30"] - ap["self_sup_ce"]["ap30"]) if rsl["ap30"] is not None else None},
        "targets": {"rsl_over_oracle_ap30": 0.9, "rsl_over_oracle_ap50": 0.7, "rsl_over_bottom_up_tuned_ap30": 2.5,
                    "median_label_iou": 0.85, "paper": {"rsl_over_deepmask_tuned_ap30": 0.79, "rsl_over_deepmask_tuned_ap50": 0.52,
                                                          "rsl_over_gop_tuned_ap30": 2.0}},
        "paper_table1": {m: {"paper_method": v[0], "ap30": v[1] / 100, "ap50": v[2] / 100} for m, v in PAPER_TABLE1.items()},
        "curve": curve_map,
        "curve_detail": {"mean": curve_summary, "per_seed": curves},
        "efficacy": {"iou_threshold": 0.3, "window": profile.efficacy_window, "per_seed": efficacy,
                     "overall_recall": float(np.mean([h for e in efficacy for h in e["hits"]])) if efficacy else None},
        "pr_curves_seed0": {"recall": np.linspace(0, 1, 101).tolist(), "precision": pr_curves},
        "labels": labels,
        "throughput": throughput,
        "bottom_up_tuning": {"split": "val", "images": len(val.images), "chosen": best, "candidates": tuning},
        "eval_set": {"split": "test", "view": "cam0", "images": len(test.images), "objects": sum(len(m) for m in test.gt_masks),
                     "directory": str(test.directory)},
        "seeds": seed_info,
        "machine": machine,
        "versions": _versions(),
        "phase_wall_s": phase_s,
        "wall_s": time.time() - started,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": "interseg bench " + " ".join(sys.argv[2:] if len(sys.argv) > 2 and sys.argv[1] == "bench" else sys.argv[1:]),
    }
    try:
        numbers["machine"]["load_average_at_end"] = os.getloadavg()
    except OSError:
        pass
    (out / "bench.json").write_text(json.dumps(numbers, indent=1, default=_json_default) + "\n")
    from interseg.evaluation.bench_report import write_outputs

    write_outputs(numbers, out, label_records)
    return numbers


def _json_default(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="interseg bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="quick",
                        help="tiny: CI smoke test; quick: <= 20 min on 2 cores; standard: <= 2 h")
    parser.add_argument("--out", type=Path, default=None, help="results folder (default benchmarks/results/PROFILE)")
    parser.add_argument("--work", type=Path, default=None, help="stores and checkpoints (default runs/bench-PROFILE)")
    parser.add_argument("--eval-root", type=Path, default=None, help="cached evaluation sets (default runs/eval)")
    parser.add_argument("--seeds", type=random_seed, nargs="+", default=None, help="override the profile's seeds")
    parser.add_argument("--markdown", type=Path, default=None,
                        help="also write the results section here (e.g. benchmarks/RESULTS.md)")
    parser.add_argument("--from-json", type=Path, default=None,
                        help="only regenerate plots, HTML and markdown from an existing bench.json")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    from interseg.paths import repo_root

    base = repo_root() or Path.cwd()
    if args.from_json is not None:
        from interseg.evaluation.bench_report import write_outputs

        numbers = json.loads(args.from_json.read_text())
        write_outputs(numbers, args.from_json.parent, None)
        if args.markdown:
            args.markdown.write_text((args.from_json.parent / "RESULTS.md").read_text())
        print(f"[bench] regenerated {args.from_json.parent / 'index.html'}")
        return 0
    profile = PROFILES[args.profile]
    if args.seeds:
        profile = replace(profile, seeds=tuple(args.seeds))
    out = (args.out or base / "benchmarks" / "results" / profile.name).resolve()
    work = (args.work or base / "runs" / f"bench-{profile.name}").resolve()
    eval_root = (args.eval_root or base / "runs" / "eval").resolve()
    print(f"[bench] profile {profile.name}: {len(profile.seeds)} seed(s) x {profile.interactions} interactions at "
          f"{profile.width}x{profile.height}; results -> {out}; work -> {work}", flush=True)
    numbers = run_benchmark(profile, out, work, eval_root, progress=not args.quiet)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text((out / "RESULTS.md").read_text())
    from interseg.evaluation.bench_report import table_text

    print(table_text(numbers))
    print(f"[bench] {out / 'bench.json'}, {out / 'index.html'} ({numbers['wall_s'] / 60:.1f} min)")
    return 0
