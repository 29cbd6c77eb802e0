"""Simulator benchmark: render and physics speed, wall time per pick-and-place with its three
captures, and grasp success on training objects.

Evaluation code: it aims with the ground truth, which the controller itself never sees. The
target's oracle mask in the main view (what a perfect hypothesis would be, with its grasp pixel and
yaw) and the measured depth of the "before" capture give the grasp the grasp planner makes
(:func:`interseg.grasping.plan_grasp`: the point of the footprint nearest the object's centroid
where the open fingers fit, yaw across the narrow side there; else the hypothesis's grasp pixel
and yaw; a grasp it rejects is tried at the object's centre). A grasp counts as a
success when the arm reports something held after lifting and the object really was lifted (its
top rose by more than 5 cm during the hold). The wall time of an attempt spans the before
capture, the grasp computation, the pick-and-place with its mid-grasp capture, and the after
capture.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from interseg.cli_args import image_side, positive_int, random_seed


def run(attempts: int, width: int, height: int, shadows: bool, seed: int, reset_every: int) -> dict:
    from interseg.evaluation import ground_truth
    from interseg.progress import progress_bar
    from interseg.sim.arena import ArenaConfig, SimulatedArena

    arena = SimulatedArena(ArenaConfig(width=width, height=height, shadows=shadows), seed=seed)
    try:
        arena.render_views(depth=True)  # warm-up: first frames compile shaders and shadow maps
        t0 = time.perf_counter()
        for _ in range(10):
            arena.render_views(depth=True)
        render_sets_per_s = 10 / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        arena.step_idle(2.0)  # 1000 steps with the arm holding its pose and objects resting
        physics_steps_per_s = 1000 / (time.perf_counter() - t0)

        load_before = os.getloadavg()
        records = []
        rng = np.random.default_rng(seed)
        bar = progress_bar(total=attempts, desc="grasps")
        for attempt in range(attempts):
            if attempt % reset_every == 0:
                arena.reset(seed + attempt)
            truths = ground_truth.objects(arena)
            # objects pushed off the workspace by earlier attempts are not targets
            reachable = [t for t in truths if arena.config.workspace.contains([t.centre[0], t.centre[1], 0.05])]
            if not reachable:
                arena.reset(seed + attempt + 100_000)
                truths = reachable = ground_truth.objects(arena)
            target = reachable[int(rng.integers(len(reachable)))]
            records.append(attempt_grasp(arena, target.index))
            bar.update(1)
        bar.close()
        load_after = os.getloadavg()
        wall = [r["wall_s"] for r in records]
        per_kind: dict[str, list[int]] = {}
        for r in records:
            per_kind.setdefault(r["kind"], [0, 0])
            per_kind[r["kind"]][0] += 1
            per_kind[r["kind"]][1] += int(r["success"])
        successes = sum(r["success"] for r in records)
        return {
            "device": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "load_average_1_5_15_min": {
                "before_grasps": [round(x, 2) for x in load_before],
                "after_grasps": [round(x, 2) for x in load_after],
            },
            "mujoco_gl": os.environ.get("MUJOCO_GL"),
            "image_size": [width, height],
            "shadows": shadows,
            "four_view_render_sets_per_s": round(render_sets_per_s, 2),
            "physics_steps_per_s": round(physics_steps_per_s, 0),
            "attempts": attempts,
            "executed": sum(r["executed"] for r in records),
            "reported_lifted": sum(r["reported_lifted"] for r in records),
            "no_grasp_fits": sum(not r["fits"] for r in records),
            "grasp_sources": {k: sum(r["source"] == k for r in records) for k in ("footprint", "pixel", "rejected")},
            "grasp_success_rate": round(successes / max(1, attempts), 3),
            "pick_place_wall_s_with_3_captures": {
                "mean": round(float(np.mean(wall)), 3),
                "median": round(float(np.median(wall)), 3),
                "p90": round(float(np.percentile(wall, 90)), 3),
                "max": round(float(np.max(wall)), 3),
            },
            "simulated_s_per_pick_place": round(float(np.mean([r["sim_s"] for r in records])), 2),
            "success_by_kind": {k: f"{v[1]}/{v[0]}" for k, v in sorted(per_kind.items())},
            "failures": [
                {k: r[k] for k in ("kind", "object_id", "source", "message", "rise_m")}
                for r in records
                if not r["success"]
            ],
        }
    finally:
        arena.close()


def attempt_grasp(arena, index: int) -> dict:
    """One timed pick-and-place of object ``index`` with its three captures; what happened."""
    from interseg.evaluation import ground_truth
    from interseg.grasping import DEFAULT_PLACE_REGION, GraspRejected, GraspSettings, plan_grasp
    from interseg.learning.hypothesis import grasp_from_mask
    from interseg.sim.catalog import make_object

    truths = ground_truth.objects(arena)
    target = truths[index]
    # The oracle segmentation of the target (what a perfect hypothesis would give) ...
    mask = ground_truth.instance_map(arena, "cam0") == index + 1
    u, v, image_yaw, _ = grasp_from_mask(mask)  # the grasp pixel and yaw it comes with
    others = [t.centre[:2] for t in truths]
    # place: the point of a grid over the place region farthest from every object
    low, high = DEFAULT_PLACE_REGION.low, DEFAULT_PLACE_REGION.high
    candidates = [np.array([x, y]) for x in np.linspace(low[0], high[0], 8) for y in np.linspace(low[1], high[1], 9)]
    spot = max(candidates, key=lambda c: min(np.linalg.norm(c - o) for o in others))
    heights: list[float] = []

    def hold() -> bool:
        heights.append(ground_truth.objects(arena)[index].top_z)
        arena.render_views()  # the mid-grasp capture
        return True

    start = time.perf_counter()
    before = arena.render_views()
    # ... and the grasp the grasp planner makes of that hypothesis with the measured depth.
    try:
        plan = plan_grasp(
            (u, v), image_yaw, before.depth, arena.cameras[0], GraspSettings(workspace=arena.config.workspace), mask
        )
        grasp, yaw, source = plan.position, plan.yaw, plan.source
    except GraspRejected:  # not executable: try the middle anyway
        grasp, yaw, source = (
            np.array([target.centre[0], target.centre[1], max(0.012, target.top_z - 0.02)]),
            0.0,
            "rejected",
        )
    fits = source == "footprint"
    place = np.array([spot[0], spot[1], grasp[2] + 0.01])
    result = arena.pick_place(grasp, yaw, place, hold_callback=hold)
    arena.render_views()  # after
    wall = time.perf_counter() - start
    rise = heights[0] - target.top_z if heights else 0.0
    return {
        "kind": make_object(target.object_id).kind,
        "object_id": target.object_id,
        "wall_s": wall,
        "sim_s": result.sim_seconds,
        "executed": result.success,
        "reported_lifted": result.object_lifted,
        "success": bool(result.object_lifted and rise > 0.05),
        "fits": fits,
        "source": source,
        "message": result.message,
        "rise_m": round(float(rise), 3),
        "grasp": np.round(grasp, 4).tolist(),
        "yaw": round(float(yaw), 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--attempts", type=positive_int, default=100)
    parser.add_argument("--width", type=image_side, default=640)
    parser.add_argument("--height", type=image_side, default=480)
    parser.add_argument("--no-shadows", action="store_true")
    parser.add_argument("--seed", type=random_seed, default=1)
    parser.add_argument(
        "--reset-every",
        type=positive_int,
        default=10,
        help="re-scatter every N attempts (more arrangements, more object kinds)",
    )
    parser.add_argument("--out", type=Path, default=None, help="JSON file (default benchmarks/results/sim_bench.json)")
    args = parser.parse_args(argv)
    summary = run(args.attempts, args.width, args.height, not args.no_shadows, args.seed, args.reset_every)
    summary["command"] = "benchmarks/sim_bench.py " + " ".join(argv or [])
    print(json.dumps(summary, indent=1))
    from interseg.paths import repo_root

    out = args.out or ((repo_root() or Path.cwd()) / "benchmarks" / "results" / "sim_bench.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=1) + "\n")
    print(f"saved {out}")
    return 0
