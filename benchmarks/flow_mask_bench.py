"""Flow-mask benchmark: the passive pre-training's motion masks against the simulator's ground truth.

    .venv/bin/python benchmarks/flow_mask_bench.py --frames 300 --seed 2000 \
        --variant robot_margin=8,colour_reach=6 [--out benchmarks/results/flow-masks.json]

Push frames are recorded once (``collect_push_examples`` with its defaults: the views facing the
arm, no cast shadows, the arena re-scattered every 10 pushes) with the ground-truth instance map
of every view and the objects' positions at every frame. Then every ``MotionMaskConfig`` (the
default first, then each ``--variant`` of its fields) turns the same consecutive frame pairs into
masks, with the robot self-filtered from its joint states as in pre-training. Each mask is
matched to the ground-truth object (visible pixels in its frame) it overlaps best: median IoU,
false positives (best IoU < 0.3), and how many of the frame pairs in which a visible object
moved gave a correct mask (IoU >= 0.3). Evaluation code: ground truth is read here only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def record(frames: int, seed: int, cameras: tuple[str, ...], width: int) -> tuple[dict, list, dict]:
    """Push frames with ground truth: ({(push, index): (frame, instance maps, positions)}, consecutive
    pairs, cameras by name)."""
    from interseg.sim.push_examples import import_torchvision_before_opengl

    import_torchvision_before_opengl()
    from interseg.evaluation import ground_truth
    from interseg.learning.store import ExampleStore
    from interseg.sim.push_examples import collect_push_examples

    arena_box: dict = {}
    recorded: dict = {}

    def on_frame(frame) -> None:
        arena = arena_box["arena"]
        recorded[(frame.push_id, frame.index)] = (
            frame,
            {c: ground_truth.instance_map(arena, c) for c in cameras},
            ground_truth.object_positions(arena),
        )

    with tempfile.TemporaryDirectory() as tmp, ExampleStore(Path(tmp) / "examples", writer=True) as store:
        collect_push_examples(
            store,
            frames,
            width=width,
            height=width * 3 // 4,
            cameras=cameras,
            seed=seed,
            progress=True,
            on_frame=on_frame,
            arena_hook=lambda arena: arena_box.__setitem__("arena", arena),
        )
    by_name = {c.name: c for c in arena_box["arena"].cameras}
    pairs = [(k, (k[0], k[1] + 1)) for k in sorted(recorded) if (k[0], k[1] + 1) in recorded]
    return recorded, pairs, by_name


def best_iou(mask: np.ndarray, instances: np.ndarray) -> float:
    """IoU of ``mask`` with the ground-truth object (instance map id >= 1) it overlaps best."""
    from interseg.learning.hypothesis import mask_iou_matrix

    truths = [instances == j for j in range(1, int(instances.max()) + 1)]
    truths = [t for t in truths if t.any()]
    return float(mask_iou_matrix([mask], truths).max()) if truths else 0.0


def score(recorded: dict, pairs: list, cameras: dict, names: tuple[str, ...], config) -> dict:
    from interseg.learning.motion_frames import MotionFrame
    from interseg.learning.motion_masks import MotionMaskExtractor
    from interseg.sim.self_filter import SelfFilter

    self_filter = SelfFilter([cameras[c] for c in names])
    extractor = MotionMaskExtractor(config, self_filter)
    ious: list[float] = []
    moved_pairs, found = 0, 0
    start = time.perf_counter()
    try:
        for key_a, key_b in pairs:
            frame_a, truth_a, positions_a = recorded[key_a]
            frame_b, _, positions_b = recorded[key_b]
            moved = np.linalg.norm(positions_b - positions_a, axis=1) > 0.003
            for name in names:
                result = extractor.process(
                    MotionFrame(
                        frame_a.images[name], frame_a.stamp, frame_a.arm_joints, frame_a.finger_joints, frame_a.tip_xyz
                    ),
                    MotionFrame(
                        frame_b.images[name], frame_b.stamp, frame_b.arm_joints, frame_b.finger_joints, frame_b.tip_xyz
                    ),
                    cameras[name],
                )
                instances = truth_a[name]
                correct = False
                for mask in result.masks:
                    best = best_iou(mask, instances)
                    ious.append(best)
                    correct |= best >= 0.3
                if any((instances == k + 1).sum() >= 100 for k in np.flatnonzero(moved)):
                    moved_pairs += 1
                    found += correct
    finally:
        self_filter.close()
    values = np.array(ious)
    return {
        "masks": int(values.size),
        "median_iou": round(float(np.median(values)), 4) if values.size else None,
        "false_positive_rate": round(float((values < 0.3).mean()), 4) if values.size else None,
        "pairs_with_moving_object": moved_pairs,
        "of_which_gave_a_correct_mask": found,
        "ms_per_view_pair": round(1000 * (time.perf_counter() - start) / max(1, len(pairs) * len(names)), 1),
        "dropped": extractor.summary().get("dropped", {}),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument(
        "--seed", type=int, default=2000, help="arena and push seed (pre-training's quality check uses 1000)"
    )
    parser.add_argument("--width", type=int, default=640, help="image width (height = 3/4 of it)")
    parser.add_argument("--cameras", default="cam1,cam2", help="views to record (pre-training's default)")
    parser.add_argument("--variant", action="append", default=[], help="MotionMaskConfig fields, e.g. robot_margin=8")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "flow-masks.json")
    args = parser.parse_args(argv)
    from interseg.evaluation.variants import parse_variant
    from interseg.learning.motion_frames import MotionMaskConfig

    try:
        variants = [("default", {})] + [(text, parse_variant(text, MotionMaskConfig)) for text in args.variant]
    except ValueError as exc:
        print(f"flow_mask_bench: --{exc}", file=sys.stderr)
        return 2
    names = tuple(c.strip() for c in args.cameras.split(",") if c.strip())
    recorded, pairs, cameras = record(args.frames, args.seed, names, args.width)
    results = {}
    for name, values in variants:
        results[name] = score(recorded, pairs, cameras, names, MotionMaskConfig(**values)) | {"config": values}
        print(f"{name:40s} {results[name]}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "command": "benchmarks/flow_mask_bench.py " + " ".join(argv if argv is not None else sys.argv[1:]),
                "image_size": [args.width, args.width * 3 // 4],
                "frames": len(recorded),
                "frame_pairs": len(pairs),
                "cameras": list(names),
                "seed": args.seed,
                "cpus": os.cpu_count(),
                "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
                "definition": (
                    "each mask is matched to the ground-truth object (visible pixels in its frame) it overlaps best; "
                    "false positive: best IoU < 0.3; pairs_with_moving_object: view pairs in which an object visible "
                    "with >= 100 px moved > 3 mm; of_which_gave_a_correct_mask: with a mask of IoU >= 0.3"
                ),
                "results": results,
            },
            indent=1,
        )
        + "\n"
    )
    print(f"[flow_mask_bench] {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
