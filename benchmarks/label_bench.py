"""Label-quality benchmark: the frame-difference labeller against the simulator's ground truth.

    .venv/bin/python benchmarks/label_bench.py --interactions 24 --width 320 \
        --variant chroma_threshold=0.03 --variant chroma_threshold=0.04 \
        [--out benchmarks/results/labels-320.json]

Interactions are recorded once (training split, shadows on, the arena re-scattered every 4) by
the interaction step of the loop (``interseg.interaction.InteractionRunner``): a random visible
object's ground-truth mask in the main view is the hypothesis, the grasp planner's planning step
aims, the arena picks and places, and the four views before and after are kept with the
ground-truth instance maps. Then every labeller
configuration (the default first, then each ``--variant`` of ``LabellerConfig`` fields) labels
the same recordings and each example is judged as ``interseg bench`` judges it
(``evaluation.bench.scoring.judge_example``): median IoU of positives with the object that moved, false
positives, false negatives. Evaluation code: ground truth is read here only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def record(interactions: int, width: int, seed: int) -> list[dict]:
    from types import SimpleNamespace

    from interseg.evaluation import ground_truth
    from interseg.grasping import GraspSettings
    from interseg.interaction import Hooks, InteractionRunner, run_interactions
    from interseg.learning.hypothesis import grasp_from_mask
    from interseg.progress import progress_bar
    from interseg.sim.arena import ArenaConfig, SimulatedArena
    from interseg.sim.backends import ArenaArm, ArenaCameras

    arena = SimulatedArena(ArenaConfig(width=width, height=width * 3 // 4, shadows=True), seed=seed)
    rng = np.random.default_rng(seed)
    truth: dict = {}
    recordings: list[dict] = []

    class OracleProposer:
        """A random visible object's ground-truth mask in the main view, as the one hypothesis."""

        def propose(self, rgb):
            truth["before_maps"] = maps = {c: ground_truth.instance_map(arena, c) for c in arena.camera_names}
            labels, counts = np.unique(maps[arena.camera_names[0]], return_counts=True)
            visible = [int(k) for k, n in zip(labels, counts) if k > 0 and n > 50]
            if not visible:
                return [], 0
            mask = maps[arena.camera_names[0]] == visible[int(rng.integers(len(visible)))]
            u, v, yaw, _ = grasp_from_mask(mask)
            return [SimpleNamespace(grasp_u=u, grasp_v=v, grasp_yaw=yaw, mask=mask, score=1.0)], 0

    def before_pick(interaction) -> None:
        truth["positions"] = ground_truth.object_positions(arena)

    def on_executed(interaction, _stats) -> None:
        before, after = interaction.before, interaction.after
        moved = np.flatnonzero(np.linalg.norm(ground_truth.object_positions(arena) - truth["positions"], axis=1) > 0.01)
        recordings.append(
            {
                "cameras": before.cameras,
                "before": before.rgb,
                "after": after.rgb,
                "before_depth": before.depth,
                "after_depth": after.depth,
                "before_maps": truth["before_maps"],
                "after_maps": {c: ground_truth.instance_map(arena, c) for c in arena.camera_names},
                "moved": [int(k) for k in moved],
                "lifted": bool(interaction.arm.object_lifted),
                "grasp": interaction.plan.grasp.position,
                "place": interaction.plan.place if interaction.arm.success else None,
            }
        )  # as the labeller node
        bar.update(1)

    runner = InteractionRunner(
        ArenaCameras(arena),
        OracleProposer(),
        ArenaArm(arena),
        None,
        GraspSettings(workspace=arena.config.workspace),
        rng,
        label=False,
        hooks=Hooks(before_pick=before_pick),
    )
    bar = progress_bar(total=interactions, desc="interactions")
    try:
        run_interactions(
            runner,
            interactions,
            reset=lambda: arena.reset(int(rng.integers(2**31))),
            reset_every=4,
            on_executed=on_executed,
        )
    except RuntimeError as exc:  # too many rejected grasps: score what was recorded
        print(f"[label_bench] {exc}; {len(recordings)} recorded", flush=True)
    finally:
        bar.close()
        arena.close()
    return recordings


def score(recordings: list[dict], config) -> dict:
    from interseg.evaluation.bench.scoring import judge_example
    from interseg.interaction import views_from_images
    from interseg.learning.labelling import FrameDifferenceLabeller

    labeller = FrameDifferenceLabeller(config)
    ious, positives, negatives, false_positives, false_negatives = [], 0, 0, 0, 0
    start = time.perf_counter()
    for rec in recordings:
        views = views_from_images(
            rec["cameras"],
            rec["before"],
            rec["after"],
            before_depth=rec["before_depth"],
            after_depth=rec["after_depth"],
        )
        near_px = 12 * rec["cameras"][0].width / 640 + 2
        for view_labels in labeller.label_interaction(views, rec["grasp"], rec["place"]):
            for example in view_labels.examples:
                judged = judge_example(
                    example,
                    rec["moved"],
                    rec["before_maps"][example.view],
                    rec["after_maps"][example.view],
                    rec["lifted"],
                    True,
                    near_px,
                )
                if example.positive:
                    positives += 1
                    if judged["error"] == "false_positive":
                        false_positives += 1
                    else:
                        ious.append(judged["iou"])
                else:
                    negatives += 1
                    false_negatives += judged["error"] == "false_negative"
    return {
        "median_iou": round(statistics.median(ious), 4) if ious else None,
        "positives": positives,
        "false_positive_rate": round(false_positives / positives, 4) if positives else None,
        "negatives": negatives,
        "false_negatives": false_negatives,
        "labeller_ms_per_interaction": round(1000 * (time.perf_counter() - start) / max(1, len(recordings)), 1),
    }


def _parse_variant(text: str) -> dict:
    from interseg.evaluation.variants import parse_variant
    from interseg.learning.labelling import LabellerConfig

    try:
        return parse_variant(text, LabellerConfig)
    except ValueError as exc:
        raise SystemExit(f"--{exc}") from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--interactions", type=int, default=24)
    parser.add_argument("--width", type=int, default=320, help="image width (height = 3/4 of it)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--variant", action="append", default=[], help="LabellerConfig fields, e.g. chroma_threshold=0.03"
    )
    parser.add_argument("--out", type=Path, default=None, help="default benchmarks/results/labels-WIDTH.json")
    args = parser.parse_args(argv)
    from interseg.learning.labelling import LabellerConfig

    variants = [("default", {})] + [(text, _parse_variant(text)) for text in args.variant]
    recordings = record(args.interactions, args.width, args.seed)
    lifted = sum(r["lifted"] for r in recordings)
    results = {}
    for name, values in variants:
        results[name] = score(recordings, LabellerConfig(**values)) | {"config": values}
        print(f"{name:40s} {results[name]}", flush=True)
    out = args.out or REPO / "benchmarks" / "results" / f"labels-{args.width}.json"
    out.write_text(
        json.dumps(
            {
                "command": "benchmarks/label_bench.py " + " ".join(argv if argv is not None else sys.argv[1:]),
                "image_size": [args.width, args.width * 3 // 4],
                "interactions": len(recordings),
                "lifted": lifted,
                "cpus": os.cpu_count(),
                "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
                "definition": (
                    "positives judged against the ground-truth object that moved (pick: before image, place: after "
                    "image); false positive: no moved object at the point; false negative: a negative where one moved"
                ),
                "results": results,
            },
            indent=1,
        )
    )
    print(f"[label_bench] {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
