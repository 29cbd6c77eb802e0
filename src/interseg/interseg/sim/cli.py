"""`interseg sim snapshot --out DIR`: write the four camera views and a grid image of a scene,
so that anyone can look at what the robot sees (no ROS graph needed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from interseg.cli_args import ArgumentParser, image_side, random_seed


def snapshot(out: Path, seed: int, split: str, width: int, height: int) -> list[Path]:
    import cv2

    from interseg.sim.arena import ArenaConfig, SimulatedArena

    out.mkdir(parents=True, exist_ok=True)
    with SimulatedArena(ArenaConfig(width=width, height=height, split=split), seed=seed) as arena:
        views = arena.render_views(depth=True)
        written = []
        for name, image in views.rgb.items():
            path = out / f"{name}.png"
            cv2.imwrite(str(path), image[..., ::-1])
            written.append(path)
        names = arena.camera_names
        grid = np.vstack([np.hstack([views.rgb[n] for n in names[:2]]), np.hstack([views.rgb[n] for n in names[2:4]])])
        for index, name in enumerate(names[:4]):  # label each tile with its camera name
            x, y = (index % 2) * width + 8, (index // 2) * height + 24
            cv2.putText(grid, name, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2, cv2.LINE_AA)
        cv2.imwrite(str(out / "grid.png"), grid[..., ::-1])
        written.append(out / "grid.png")
        depth = views.depth
        finite = np.isfinite(depth)
        lo, hi = np.percentile(depth[finite], [1, 99]) if finite.any() else (0.0, 1.0)
        scaled = np.zeros(depth.shape, np.uint8)
        scaled[finite] = np.clip(255 * (hi - depth[finite]) / max(hi - lo, 1e-6), 0, 255).astype(np.uint8)
        cv2.imwrite(str(out / "cam0_depth.png"), cv2.applyColorMap(scaled, cv2.COLORMAP_VIRIDIS))
        written.append(out / "cam0_depth.png")
        (out / "scene.json").write_text(
            json.dumps(
                {
                    "seed": seed,
                    "split": split,
                    "background_id": arena.background_id,
                    "num_objects": arena.num_objects,
                    "cameras": names,
                }
            )
        )
    return written


def main(argv: list[str]) -> int:
    parser = ArgumentParser(prog="interseg sim", description="look at the embedded simulator")
    sub = parser.add_subparsers(dest="command", required=True)
    snap = sub.add_parser("snapshot", help="write the four views, cam0 depth and a grid PNG")
    snap.add_argument("--out", type=Path, required=True)
    snap.add_argument("--seed", type=random_seed, default=0)
    snap.add_argument("--split", choices=("train", "val", "test"), default="train")
    snap.add_argument("--width", type=image_side, default=640)
    snap.add_argument("--height", type=image_side, default=480)
    args = parser.parse_args(argv)
    for path in snapshot(args.out, args.seed, args.split, args.width, args.height):
        print(path)
    return 0
