"""`interseg gz world --split S --seed N --out DIR`: the Gazebo (Harmonic) world of an arena
arrangement, the same scene the embedded MuJoCo simulator builds from that split and seed
(interseg.sim.gazebo_world). Runs without Gazebo; launch/gazebo.launch.py runs the world."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from interseg.cli_args import ArgumentParser, image_side, int_range, random_seed


def main(argv: list[str]) -> int:
    parser = ArgumentParser(prog="interseg gz", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    world = sub.add_parser("world", help="write DIR/world.sdf with its textures and meshes")
    world.add_argument("--split", choices=("train", "val", "test"), default="train")
    world.add_argument("--seed", type=random_seed, default=0, help="the arrangement (as the sim node's seed)")
    world.add_argument("--out", type=Path, required=True, help="output folder (created)")
    world.add_argument("--width", type=image_side, default=640)
    world.add_argument("--height", type=image_side, default=480)
    world.add_argument("--min-objects", type=int_range(1, 12), default=4)
    world.add_argument("--max-objects", type=int_range(1, 12), default=8)
    args = parser.parse_args(argv)
    if args.min_objects > args.max_objects:
        print("interseg gz: --min-objects is above --max-objects", file=sys.stderr)
        return 2
    from interseg.sim.arrangement import plan_arrangement
    from interseg.sim.gazebo_world import world_sdf
    from interseg.sim.scene import default_camera_rig

    plan = plan_arrangement(args.split, args.seed, (args.min_objects, args.max_objects))
    path = world_sdf(plan, default_camera_rig(), args.width, args.height, args.out)
    summary = {
        "world": str(path),
        "split": args.split,
        "seed": args.seed,
        "background_id": plan.background_id,
        "objects": [spec.name for spec in plan.objects],
    }
    (args.out / "arrangement.json").write_text(json.dumps(summary, indent=1))
    print(f"interseg gz: {path} ({len(plan.objects)} objects, background {plan.background_id})")
    return 0
