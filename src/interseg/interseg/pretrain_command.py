"""`interseg pretrain`: passive self-supervised pre-training (step 1 of Algorithm 1), ROS-free.

1. The simulated arm makes random pushes (:mod:`interseg.sim.pushing`) while the cameras record
   (:func:`interseg.sim.push_examples.collect_push_examples`).
2. Consecutive frames become noisy object masks (:mod:`interseg.learning.motion_masks`); each
   mask is a positive example at its centre. After each push the arm parks, and points on the
   table that the fingertips swept through without anything moving become negative examples
   (nothing stood there, or it would have been pushed). Everything goes into an examples store
   with ``source="push"``.
3. The hypothesis network is trained on that store with the same trainer as the interaction
   loop (objectness + mask loss, Robust Set Loss by default) and the checkpoint is written to
   ``--out`` (:func:`interseg.learning.pretrain.train_on_store`).
   ``interseg launch launch/sim.launch.yaml checkpoint:=CKPT`` starts the loop from it.

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
import sys
from pathlib import Path

import torch

from interseg.cli_args import ArgumentParser, float_range, image_side, non_negative_int, positive_int, random_seed
from interseg.learning.pretrain import train_on_store
from interseg.learning.store import ExampleStore
from interseg.learning.store_errors import StoreError
from interseg.sim.push_examples import DEFAULT_CAMERAS, CollectionSummary, collect_push_examples


def _parser() -> ArgumentParser:
    parser = ArgumentParser(prog="interseg pretrain", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--frames",
        type=non_negative_int,
        default=None,
        help="pushing frames to record (each has every camera's view); 0 with --store: train only",
    )
    parser.add_argument(
        "--store",
        type=Path,
        default=None,
        help="examples store to fill and train on, e.g. one the push_collector node filled "
        "(default: WORK_DIR/examples)",
    )
    parser.add_argument("--out", type=Path, required=True, help="checkpoint to write")
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=None,
        help="examples store and training run (default: next to --out, named after it)",
    )
    parser.add_argument(
        "--steps", type=non_negative_int, default=300, help="training steps (batches) on the push examples"
    )
    parser.add_argument("--batch-size", type=positive_int, default=32)
    parser.add_argument(
        "--lr", type=float_range(0.0, 10.0, exclusive_minimum=True), default=0.001, help="AdamW learning rate"
    )
    parser.add_argument("--mask-loss", choices=["rsl", "ce"], default="rsl")
    parser.add_argument("--width", type=image_side, default=640, help="camera width; the checkpoint expects it")
    parser.add_argument("--height", type=image_side, default=480)
    parser.add_argument(
        "--input-scale", type=float_range(0.05, 2.0), default=0.5, help="network resolution / camera resolution"
    )
    parser.add_argument("--split", default="train", help="objects and backgrounds pushed around")
    parser.add_argument(
        "--cameras",
        default=",".join(DEFAULT_CAMERAS),
        help="comma-separated views to record (default: the views facing the arm)",
    )
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
    torch.set_num_threads(args.threads)
    out = args.out.resolve()
    work = (args.work_dir or out.with_name(out.stem + "-pretrain")).resolve()
    store_root = (args.store or work / "examples").resolve()
    cameras = tuple(c.strip() for c in args.cameras.split(",") if c.strip())
    summary = CollectionSummary()
    if args.frames:
        with ExampleStore(store_root, writer=True) as store:
            summary = collect_push_examples(
                store,
                args.frames,
                width=args.width,
                height=args.height,
                split=args.split,
                shadows=args.shadows,
                cameras=cameras,
                seed=args.seed,
                reset_every=args.reset_every,
                progress=not args.quiet,
            )
        dropped = ", ".join(f"{k} {v}" for k, v in sorted(summary.extractor.get("dropped", {}).items())) or "none"
        print(
            f"[pretrain] {summary.frames} frames from {summary.pushes} pushes in {summary.seconds:.0f} s "
            f"(masks {summary.mask_seconds:.0f} s): {summary.positives} masks, {summary.negatives} negatives; "
            f"frame pairs dropped: {dropped}",
            flush=True,
        )
    else:
        try:
            with ExampleStore(store_root) as store:
                records = store.records()
        except (StoreError, OSError) as error:
            print(f"interseg pretrain: --store {store_root}: {error}", file=sys.stderr)
            return 2
        print(f"[pretrain] training on {len(records)} examples already in {store_root}", flush=True)
    try:
        path = train_on_store(
            store_root,
            work / "run",
            out,
            steps=args.steps,
            width=args.width,
            height=args.height,
            input_scale=args.input_scale,
            batch_size=args.batch_size,
            lr=args.lr,
            mask_loss=args.mask_loss,
            seed=args.seed,
            progress=not args.quiet,
            metrics={"push_frames": summary.frames, "push_count": summary.pushes},
        )
    except RuntimeError as error:
        print(f"interseg pretrain: {error}", file=sys.stderr)
        return 1
    (out.with_suffix(".json")).write_text(
        json.dumps(
            {
                "checkpoint": str(path),
                "store": str(store_root),
                "args": {k: str(v) for k, v in vars(args).items()},
                "collection": summary.to_dict(),
            },
            indent=2,
        )
    )
    print(
        f"[pretrain] checkpoint: {path}  (start the loop from it: "
        f"interseg launch launch/sim.launch.yaml checkpoint:={path})"
    )
    return 0
