"""Simulator benchmark: render and physics speed, wall time per pick-and-place with its three
captures, and grasp success on training objects at their centres.

Evaluation code: it uses the ground truth (object centres and heights) to aim, which the
controller itself never sees. A grasp counts as a success when the arm reports something held
after lifting and the object really was lifted (its top rose by more than 5 cm during the hold).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np


def run(attempts: int, width: int, height: int, shadows: bool, seed: int, reset_every: int) -> dict:
    from tqdm import tqdm

    from interseg.evaluation import ground_truth
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

        lifted = successes = executed = 0
        wall, per_kind = [], {}
        rng = np.random.default_rng(seed)
        for attempt in tqdm(range(attempts), desc="grasps"):
            if attempt % reset_every == 0:
                arena.reset(seed + attempt)
            truths = ground_truth.objects(arena)
            # objects pushed off the workspace by earlier attempts are not targets
            reachable = [t for t in truths if arena.config.workspace.contains([t.centre[0], t.centre[1], 0.05])]
            if not reachable:
                arena.reset(seed + attempt + 100_000)
                truths = reachable = ground_truth.objects(arena)
            target = reachable[int(rng.integers(len(reachable)))]
            grasp = np.array([target.centre[0], target.centre[1], max(0.012, target.top_z - 0.02)])
            others = [t.centre[:2] for t in truths]
            candidates = [np.array([x, y]) for x in np.linspace(0.4, 0.68, 8) for y in np.linspace(-0.22, 0.22, 9)]
            spot = max(candidates, key=lambda c: min(np.linalg.norm(c - o) for o in others))
            place = np.array([spot[0], spot[1], grasp[2] + 0.01])
            yaw = _principal_yaw(arena, target.index)
            heights = []
            start = time.perf_counter()
            arena.render_views()  # before
            result = arena.pick_place(grasp, yaw, place, hold_callback=lambda: heights.append(
                ground_truth.objects(arena)[target.index].top_z) or arena.render_views() is not None)
            arena.render_views()  # after
            wall.append(time.perf_counter() - start)
            executed += result.success
            really_lifted = bool(heights) and heights[0] > target.top_z + 0.05
            lifted += result.object_lifted
            successes += result.object_lifted and really_lifted
            kind = arena_kind(arena, target.index)
            per_kind.setdefault(kind, [0, 0])
            per_kind[kind][0] += 1
            per_kind[kind][1] += int(result.object_lifted and really_lifted)
        return {
            "device": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "mujoco_gl": os.environ.get("MUJOCO_GL"),
            "image_size": [width, height],
            "shadows": shadows,
            "four_view_render_sets_per_s": round(render_sets_per_s, 2),
            "physics_steps_per_s": round(physics_steps_per_s, 0),
            "attempts": attempts,
            "executed": executed,
            "reported_lifted": lifted,
            "grasp_success_rate": round(successes / attempts, 3),
            "pick_place_wall_s_with_3_captures": {"mean": round(float(np.mean(wall)), 3),
                                                   "median": round(float(np.median(wall)), 3),
                                                   "p90": round(float(np.percentile(wall, 90)), 3)},
            "success_by_kind": {k: f"{v[1]}/{v[0]}" for k, v in sorted(per_kind.items())},
        }
    finally:
        arena.close()


def arena_kind(arena, index: int) -> str:
    from interseg.evaluation import ground_truth
    from interseg.sim.catalog import make_object

    return make_object(ground_truth.objects(arena)[index].object_id).kind


def _principal_yaw(arena, index: int) -> float:
    """Yaw of the object's long axis in the main view's mask (as the grasp planner computes it)."""
    from interseg.evaluation import ground_truth

    mask = ground_truth.instance_map(arena, "cam0") == index + 1
    camera = arena.cameras[0]
    v, u = np.nonzero(mask)
    if len(u) < 5:
        return 0.0
    points = camera.intersect_plane_z(np.stack([u, v], 1).astype(float), 0.0)[:, :2]
    points = points - points.mean(axis=0)
    _, vectors = np.linalg.eigh(points.T @ points)
    major = vectors[:, -1]
    return float(np.arctan2(major[1], major[0]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--attempts", type=int, default=100)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--no-shadows", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reset-every", type=int, default=10, help="re-scatter every N attempts (more arrangements, more object kinds)")
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
