"""`interseg make-eval-set`: the paper's held-out evaluation images with ground-truth masks.

test: 10 unseen backgrounds x 5 images with the 15 test objects = 50 images; val: 6 x 5 = 30
with the 8 validation objects (``--per-background`` makes more). Each image is a fresh arena
arrangement (seed = split offset + background id * 1000 + k, so the set is reproducible),
rendered with the same camera noise the robot sees, arm parked. Output::

    DIR/cam0/000000.png ... cam3/...     the four views (rgb)
    DIR/depth/000000.png                 cam0 depth, uint16 millimetres (0 = unknown)
    DIR/instances_cam0.json ...          COCO instance annotations per view (RLE masks)
    DIR/cameras.json                     intrinsics and optical-frame poses of the cameras

cam0 (the main view) is the one the paper's AP is computed on.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from interseg.cli_args import ArgumentParser, image_side, positive_int
from interseg.sim.realism import REALISM_PRESETS

SPLIT_SEED_OFFSET = {"val": 7_000_000, "test": 9_000_000}


def make_eval_set(
    split: str,
    out: Path,
    per_background: int = 5,
    width: int = 640,
    height: int = 480,
    min_pixels: int = 30,
    progress: bool = True,
    realism: str = "default",
) -> dict:
    import cv2

    from interseg.evaluation import ground_truth
    from interseg.learning.metrics import coco_annotation
    from interseg.progress import progress_bar
    from interseg.sim.arena import ArenaConfig, SimulatedArena
    from interseg.sim.catalog import background_split
    from interseg.sim.realism import realism_preset

    if split not in SPLIT_SEED_OFFSET:
        raise ValueError(f"evaluation sets exist for val and test, not '{split}'")
    if per_background < 1:
        raise ValueError("--per-background must be at least 1")
    out.mkdir(parents=True, exist_ok=True)
    backgrounds = background_split(split)
    config = ArenaConfig(width=width, height=height, split=split, realism=realism_preset(realism))
    arena = SimulatedArena(config, seed=SPLIT_SEED_OFFSET[split])
    names = arena.camera_names
    coco = {
        name: {
            "info": {"description": f"interseg {split} set, view {name}"},
            "images": [],
            "annotations": [],
            "categories": [{"id": 1, "name": "object", "supercategory": "object"}],
        }
        for name in names
    }
    for name in names + ["depth"]:
        (out / name).mkdir(exist_ok=True)
    jobs = [(b, k) for b in backgrounds for k in range(per_background)]
    annotation_id = 1
    try:
        bar = progress_bar(total=len(jobs), desc=f"{split} set", disable=not progress)
        for image_id, (background, k) in enumerate(jobs):
            seed = SPLIT_SEED_OFFSET[split] + background * 1000 + k
            arena.reset(seed, background_id=background)
            views = arena.render_views(depth=True)
            file_name = f"{image_id:06d}.png"
            for name in names:
                cv2.imwrite(str(out / name / file_name), views.rgb[name][..., ::-1])
                coco[name]["images"].append(
                    {
                        "id": image_id,
                        "file_name": f"{name}/{file_name}",
                        "width": width,
                        "height": height,
                        "background_id": background,
                        "seed": seed,
                    }
                )
                for _object_index, mask in ground_truth.instance_masks(arena, name, min_pixels=min_pixels):
                    coco[name]["annotations"].append(coco_annotation(mask, annotation_id, image_id))
                    annotation_id += 1
            depth_mm = np.nan_to_num(views.depth * 1000.0, nan=0.0).clip(0, 65535).astype(np.uint16)
            cv2.imwrite(str(out / "depth" / file_name), depth_mm)
            bar.update(1)
        bar.close()
        for name in names:
            (out / f"instances_{name}.json").write_text(json.dumps(coco[name]))
        cameras = [
            {
                "name": c.name,
                "width": c.width,
                "height": c.height,
                "fx": c.fx,
                "fy": c.fy,
                "cx": c.cx,
                "cy": c.cy,
                "world_from_camera": c.world_from_camera.tolist(),
            }
            for c in arena.cameras
        ]
        (out / "cameras.json").write_text(json.dumps(cameras, indent=1))
    finally:
        arena.close()
    summary = {
        "split": split,
        "images": len(jobs),
        "backgrounds": len(backgrounds),
        "annotations_cam0": len(coco[names[0]]["annotations"]),
        "out": str(out),
    }
    return summary


def main(argv: list[str]) -> int:
    parser = ArgumentParser(prog="interseg make-eval-set", description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=sorted(SPLIT_SEED_OFFSET), required=True)
    parser.add_argument("--out", type=Path, required=True, help="output folder (created)")
    parser.add_argument("--per-background", type=positive_int, default=5, help="images per background (paper: 5)")
    parser.add_argument("--width", type=image_side, default=640)
    parser.add_argument("--height", type=image_side, default=480)
    parser.add_argument(
        "--realism", choices=REALISM_PRESETS, default="default", help="camera model: default or strongest"
    )
    args = parser.parse_args(argv)
    summary = make_eval_set(args.split, args.out, args.per_background, args.width, args.height, realism=args.realism)
    print(json.dumps(summary))
    return 0
