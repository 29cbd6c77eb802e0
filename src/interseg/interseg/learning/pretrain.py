"""`interseg pretrain`: passive self-supervised pre-training (step 1 of Algorithm 1), ROS-free.

1. The simulated arm makes random pushes (:mod:`interseg.sim.pushing`) while the cameras record.
2. Consecutive frames become noisy object masks (:mod:`interseg.learning.motion_masks`); each
   mask is a positive example at its centre. After each push the arm parks, and points on the
   table that the fingertips swept through without anything moving become negative examples
   (nothing stood there, or it would have been pushed). Everything goes into an examples store
   with ``source="push"``.
3. The hypothesis network is trained on that store with the same trainer as the interaction
   loop (objectness + mask loss, Robust Set Loss by default) and the checkpoint is written to
   ``--out``. ``interseg launch launch/sim.launch.yaml checkpoint:=CKPT`` starts the loop from it.

Recording choices (the numbers behind them are in benchmarks/results/pretrain.json):
* the views facing the arm (cam1, cam2) are recorded by default; from above (cam0) the hand
  hides most of what it pushes and the flow there mostly outlines the hand's surroundings;
* cast shadows are off while recording by default: the arm's moving shadow produces strong flow
  that the shadow and fingertip-reach tests of the motion masks only partly remove
  (``--shadows`` turns them on);
* the lights barely change between frames 0.1 s apart (they do change between interactions).
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from interseg.cli_args import ArgumentParser, float_range, image_side, non_negative_int, positive_int, random_seed
from interseg.learning.motion_masks import (
    ARM_COVERS_OBJECT, MotionFrame, MotionMaskConfig, MotionMaskExtractor, SelfFilter,
)


def import_torchvision_before_opengl() -> None:
    """torchvision's first import pulls in triton, which crashes the process (SIGSEGV) once an
    EGL context exists; importing it before any renderer is created avoids that."""
    import torchvision  # noqa: F401


# Views that face the arm: from above (cam0) the hand hides most of what it pushes, and the
# masks there are mostly wrong; the front and side views see the object ahead of the fingers.
DEFAULT_CAMERAS = ("cam1", "cam2")


@dataclass
class CollectionSummary:
    frames: int = 0
    pushes: int = 0
    unreachable_pushes: int = 0
    positives: int = 0
    negatives: int = 0
    seconds: float = 0.0
    mask_seconds: float = 0.0  # time spent turning frames into masks (flow, self-filter, components)
    extractor: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _negative_points(record, camera, union_mask: np.ndarray, count: int, clearance_px: int) -> list[tuple[float, float]]:
    """Pixels (in the parked frame) on the swept path that nothing moved away from."""
    import cv2

    plan = record.plan
    points = []
    blocked = cv2.dilate(union_mask.astype(np.uint8), cv2.getStructuringElement(
        cv2.MORPH_ELLIPSE, (2 * clearance_px + 1, 2 * clearance_px + 1))) > 0
    for t in np.linspace(0.15, 0.75, count):
        world = plan.start + t * (plan.end - plan.start)
        world = np.array([world[0], world[1], 0.0])
        uv, in_front = camera.project(world[None])
        if not in_front[0] or not camera.in_image(uv, margin=clearance_px)[0]:
            continue
        u, v = float(uv[0, 0]), float(uv[0, 1])
        if blocked[int(round(v)), int(round(u))]:
            continue
        points.append((u, v))
    return points


def collect_push_examples(store, frames: int, *, width: int = 640, height: int = 480, split: str = "train",
                          shadows: bool = False, cameras: tuple[str, ...] = DEFAULT_CAMERAS, seed: int = 0,
                          reset_every: int = 10, negatives_per_push: int = 2,
                          mask_config: MotionMaskConfig | None = None, progress: bool = True,
                          on_frame=None, on_masks=None, arena_hook=None, on_example=None,
                          on_push=None) -> CollectionSummary:
    """Push until ``frames`` frames are recorded; write examples to ``store`` (an open writer).

    ``on_frame(frame)`` runs at each recorded frame with the simulation paused there,
    ``on_masks(frame, camera_name, result)`` after each frame pair is processed and
    ``arena_hook(arena)`` once after the arena is built (an evaluation harness uses these;
    pre-training itself never looks at anything but frames and joint states).
    ``on_example(key, push_id, view, positive, mask_area, reason)`` runs after each example is
    written (``key`` is its store key) and ``on_push(summary)`` after each push is processed (the
    push collector node announces both). An exception raised by any hook ends the collection
    (the arena is closed; examples already written stay in the store).
    """
    import_torchvision_before_opengl()
    from tqdm import tqdm

    from interseg.learning.model import grasp_from_mask
    from interseg.sim.arena import ArenaConfig, SimulatedArena
    from interseg.sim.pushing import PushCollector, PushConfig
    from interseg.sim.realism import RealismConfig

    if frames < 1:
        raise ValueError(f"frames must be at least 1, got {frames}")
    # Frames 0.1 s apart: the lights of a real cell barely change within one video.
    realism = RealismConfig(light_position_jitter_m=0.01, light_intensity_jitter=0.02)
    arena = SimulatedArena(ArenaConfig(width=width, height=height, split=split, shadows=shadows, realism=realism),
                           seed=seed)
    summary = CollectionSummary()
    start = time.monotonic()
    existing = store.records(include_quarantined=True)
    push_offset = 1 + max((r.interaction_id for r in existing), default=-1)
    try:
        if arena_hook is not None:
            arena_hook(arena)
        collector = PushCollector(arena, PushConfig(cameras=tuple(cameras)), seed=seed)
        camera_by_name = {c.name: c for c in arena.cameras}
        self_filter = SelfFilter([camera_by_name[c] for c in cameras])
        extractor = MotionMaskExtractor(mask_config, self_filter)
        bar = tqdm(total=frames, desc="push frames", unit="frame", disable=not progress)
        try:
            while summary.frames < frames:
                if summary.pushes and reset_every > 0 and summary.pushes % reset_every == 0:
                    arena.reset(seed + summary.pushes)
                record = collector.push(on_frame=on_frame)
                summary.pushes += 1
                if not record.frames:
                    summary.unreachable_pushes += 1
                    if on_push is not None:
                        on_push(summary)
                    continue
                push_id = push_offset + record.push_id
                new_frames = min(len(record.frames), frames - summary.frames)
                summary.frames += new_frames
                bar.update(new_frames)
                for name in cameras:
                    camera = camera_by_name[name]
                    union = np.zeros((height, width), bool)
                    occluded = False
                    t0 = time.monotonic()
                    results = []
                    for fa, fb in zip(record.frames[:new_frames], record.frames[1:new_frames + 1]):
                        result = extractor.process(
                            MotionFrame(fa.images[name], fa.stamp, fa.arm_joints, fa.finger_joints, fa.tip_xyz),
                            MotionFrame(fb.images[name], fb.stamp, fb.arm_joints, fb.finger_joints, fb.tip_xyz), camera)
                        results.append((fa, result))
                    summary.mask_seconds += time.monotonic() - t0
                    if on_masks is not None:
                        for fa, result in results:
                            on_masks(fa, name, result)
                    for fa, result in results:
                        occluded |= result.dropped == ARM_COVERS_OBJECT or result.rejected.get(ARM_COVERS_OBJECT, 0) > 0
                        for mask in result.masks:
                            union |= mask
                            u, v, _, _ = grasp_from_mask(mask)
                            area = int(mask.sum())
                            reason = f"push {push_id} frame {fa.index}: moving region of {area} px"
                            key = store.add(image=fa.images[name], u=u, v=v, positive=True, mask=mask, reason=reason,
                                            interaction_id=push_id, view=name, kind="push", source="push")
                            summary.positives += 1
                            if on_example is not None:
                                on_example(key, push_id, name, True, area, reason)
                    if record.after is not None and not occluded and negatives_per_push > 0:
                        clearance = max(4, int(round(24 * width / 640)))
                        for u, v in _negative_points(record, camera, union, negatives_per_push, clearance):
                            reason = f"push {push_id}: the fingertips swept here and nothing moved"
                            key = store.add(image=record.after.images[name], u=u, v=v, positive=False, mask=None,
                                            reason=reason, interaction_id=push_id, view=name, kind="push",
                                            source="push")
                            summary.negatives += 1
                            if on_example is not None:
                                on_example(key, push_id, name, False, 0, reason)
                bar.set_postfix(masks=summary.positives, negatives=summary.negatives)
                if on_push is not None:
                    on_push(summary)
        finally:
            bar.close()
            summary.extractor = extractor.summary()
            self_filter.close()
    finally:
        arena.close()
    summary.seconds = time.monotonic() - start
    return summary


def train_on_store(store_root: str | os.PathLike, run_dir: str | os.PathLike, out: str | os.PathLike, *, steps: int,
                   width: int = 640, height: int = 480, input_scale: float = 0.5, batch_size: int = 32,
                   lr: float = 0.001, mask_loss: str = "rsl", seed: int = 0, progress: bool = True,
                   metrics: dict | None = None) -> Path:
    """Train the hypothesis network on the push examples and write the checkpoint to ``out``."""
    from torch.utils.data import DataLoader, RandomSampler

    from interseg.learning.dataset import WindowDataset
    from interseg.learning.model import ModelConfig
    from interseg.learning.trainer import Trainer, TrainerConfig

    model_config = ModelConfig(input_scale=input_scale, expected_size=(width, height))
    config = TrainerConfig(batch_size=batch_size, lr=lr, mask_loss=mask_loss, steps_per_round=max(1, steps),
                           min_examples=1, seed=seed, keep_checkpoints=2)
    dataset = WindowDataset(store_root, model_config, augment=True, seed=seed)
    positives = sum(r.positive for r in dataset.records)
    if positives == 0:
        raise RuntimeError(f"{store_root} holds no positive example: no push moved anything visibly; "
                           "record more frames (--frames) before pre-training")
    trainer = Trainer(run_dir, model_config, config)
    stats: dict[str, float] = {}
    if steps > 0:
        sampler = RandomSampler(dataset, replacement=True, num_samples=steps * batch_size)
        loader = DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=True)
        stats = trainer.train_one_epoch(loader, max_steps=steps, progress=progress)
    # The push store is not the store the interaction loop will read: start that count afresh.
    trainer.examples_seen = 0
    numeric = {k: float(v) for k, v in (metrics or {}).items() if isinstance(v, (int, float))}
    info = trainer.save_checkpoint(stats | numeric | {"push_examples": float(len(dataset)),
                                                      "push_positives": float(positives)})
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    shutil.copyfile(info.path, tmp)
    os.replace(tmp, out)
    return out


def _parser() -> ArgumentParser:
    parser = ArgumentParser(prog="interseg pretrain", description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=non_negative_int, default=None,
                        help="pushing frames to record (each has every camera's view); 0 with --store: train only")
    parser.add_argument("--store", type=Path, default=None,
                        help="examples store to fill and train on, e.g. one the push_collector node filled "
                             "(default: WORK_DIR/examples)")
    parser.add_argument("--out", type=Path, required=True, help="checkpoint to write")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="examples store and training run (default: next to --out, named after it)")
    parser.add_argument("--steps", type=non_negative_int, default=300, help="training steps (batches) on the push examples")
    parser.add_argument("--batch-size", type=positive_int, default=32)
    parser.add_argument("--lr", type=float_range(0.0, 10.0, exclusive_minimum=True), default=0.001, help="AdamW learning rate")
    parser.add_argument("--mask-loss", choices=["rsl", "ce"], default="rsl")
    parser.add_argument("--width", type=image_side, default=640, help="camera width; the checkpoint expects it")
    parser.add_argument("--height", type=image_side, default=480)
    parser.add_argument("--input-scale", type=float_range(0.05, 2.0), default=0.5, help="network resolution / camera resolution")
    parser.add_argument("--split", default="train", help="objects and backgrounds pushed around")
    parser.add_argument("--cameras", default=",".join(DEFAULT_CAMERAS),
                        help="comma-separated views to record (default: the views facing the arm)")
    parser.add_argument("--shadows", action="store_true", help="render cast shadows while recording")
    parser.add_argument("--reset-every", type=positive_int, default=10, help="re-scatter the objects every N pushes")
    parser.add_argument("--seed", type=random_seed, default=0)
    parser.add_argument("--threads", type=positive_int, default=2, help="torch threads")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.frames is None:
        args.frames = 0 if args.store is not None else -1
    if args.frames < (0 if args.store is not None else 1) or args.steps < 0:
        print("interseg pretrain: --frames must be >= 1 (or >= 0 with --store) and --steps >= 0", file=sys.stderr)
        return 2
    import torch

    from interseg.learning.store import ExampleStore, StoreError

    torch.set_num_threads(args.threads)
    out = args.out.resolve()
    work = (args.work_dir or out.with_name(out.stem + "-pretrain")).resolve()
    store_root = (args.store or work / "examples").resolve()
    cameras = tuple(c.strip() for c in args.cameras.split(",") if c.strip())
    summary = CollectionSummary()
    if args.frames:
        with ExampleStore(store_root, writer=True) as store:
            summary = collect_push_examples(store, args.frames, width=args.width, height=args.height, split=args.split,
                                            shadows=args.shadows, cameras=cameras, seed=args.seed,
                                            reset_every=args.reset_every, progress=not args.quiet)
        dropped = ", ".join(f"{k} {v}" for k, v in sorted(summary.extractor.get("dropped", {}).items())) or "none"
        print(f"[pretrain] {summary.frames} frames from {summary.pushes} pushes in {summary.seconds:.0f} s "
              f"(masks {summary.mask_seconds:.0f} s): {summary.positives} masks, {summary.negatives} negatives; "
              f"frame pairs dropped: {dropped}", flush=True)
    else:
        try:
            with ExampleStore(store_root) as store:
                records = store.records()
        except (StoreError, OSError) as error:
            print(f"interseg pretrain: --store {store_root}: {error}", file=sys.stderr)
            return 2
        print(f"[pretrain] training on {len(records)} examples already in {store_root}", flush=True)
    try:
        path = train_on_store(store_root, work / "run", out, steps=args.steps, width=args.width, height=args.height,
                              input_scale=args.input_scale, batch_size=args.batch_size, lr=args.lr,
                              mask_loss=args.mask_loss, seed=args.seed, progress=not args.quiet,
                              metrics={"push_frames": summary.frames, "push_count": summary.pushes})
    except RuntimeError as error:
        print(f"interseg pretrain: {error}", file=sys.stderr)
        return 1
    (out.with_suffix(".json")).write_text(json.dumps({"checkpoint": str(path), "store": str(store_root),
                                                      "args": {k: str(v) for k, v in vars(args).items()},
                                                      "collection": summary.to_dict()}, indent=2))
    print(f"[pretrain] checkpoint: {path}  (start the loop from it: "
          f"interseg launch launch/sim.launch.yaml checkpoint:={path})")
    return 0
