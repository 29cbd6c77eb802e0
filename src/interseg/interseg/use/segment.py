"""`interseg segment MODEL INPUT... --out DIR`: run a trained network on image files, folders or
a bag's image topic and write, per image, an overlay PNG and a uint16 instance label image, and for
the run COCO results (one list of detections, every hypothesis with its score) with the COCO
``images`` entries they refer to, and a summary.

Output layout::

    DIR/overlays/NAME.png   the image with each hypothesis tinted, its grasp and score
    DIR/labels/NAME.png     uint16, 0 background, id 1 the best hypothesis scoring >= --min-score
    DIR/results.json        COCO results: [{image_id, category_id, segmentation (RLE), score, bbox}]
    DIR/images.json         COCO images: [{id, file_name, width, height}] (file_name = NAME)
    DIR/summary.json        the model, settings, counts and every frame that could not be read
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from interseg.cli_args import ArgumentParser, float_range, positive_int


def _parser() -> ArgumentParser:
    parser = ArgumentParser(prog="interseg segment", description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a trainer checkpoint, or a network written by `interseg export-model`")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders of images, or bags")
    parser.add_argument("--out", required=True, type=Path, help="output folder (created)")
    parser.add_argument("--topic", help="the image topic to read from bags (sensor_msgs/Image or CompressedImage)")
    parser.add_argument(
        "--min-score", type=float_range(0.0, 1.0), default=0.5, help="score a hypothesis needs to enter the label image"
    )
    parser.add_argument(
        "--no-resize",
        action="store_true",
        help="refuse images of another size than the network's instead of resizing them (with a warning)",
    )
    parser.add_argument("--limit", type=positive_int, help="stop after this many frames")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def write_outputs(out: Path, name: str, image, segmentation, min_score: float) -> None:
    import cv2

    from interseg.visualization import overlay_hypotheses

    overlay = overlay_hypotheses(image, segmentation.hypotheses)
    if not cv2.imwrite(str(out / "overlays" / f"{name}.png"), overlay[..., ::-1]):
        raise OSError(f"could not write {out / 'overlays' / name}.png")
    if not cv2.imwrite(str(out / "labels" / f"{name}.png"), segmentation.labels(min_score)):
        raise OSError(f"could not write {out / 'labels' / name}.png")


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    from interseg.learning.metrics import coco_result
    from interseg.learning.segmenter import ImageSizeError
    from interseg.progress import progress_bar
    from interseg.use.inputs import InputError, frames, plan
    from interseg.use.models import open_for_command

    try:
        sources = plan(args.inputs, args.topic)
    except InputError as exc:
        print(f"interseg segment: {exc}", file=sys.stderr)
        return 2
    warnings: list[str] = []
    segmenter = open_for_command("interseg segment", args.model, not args.no_resize, args.out, warnings)
    if segmenter is None:
        return 2
    total = sum(s.count for s in sources)
    total = min(total, args.limit) if args.limit else total
    images, results, failed = [], [], []
    started = time.monotonic()
    with progress_bar(total=total, desc="segment", disable=args.quiet) as bar:
        for frame in frames(sources):
            if args.limit and len(images) + len(failed) >= args.limit:
                break
            bar.update(1)
            if frame.image is None:
                failed.append({"name": frame.name, "error": frame.error})
                print(f"interseg segment: skipped {frame.name}: {frame.error}", file=sys.stderr)
                continue
            try:
                segmentation = segmenter.segment(frame.image)
            except (ImageSizeError, ValueError) as exc:
                failed.append({"name": frame.name, "error": str(exc)})
                print(f"interseg segment: skipped {frame.name}: {exc}", file=sys.stderr)
                continue
            write_outputs(args.out, frame.name, frame.image, segmentation, args.min_score)
            image_id = len(images) + 1
            height, width = frame.image.shape[:2]
            entry = {"id": image_id, "file_name": frame.name, "width": width, "height": height}
            if frame.stamp_ns is not None:
                entry["stamp_ns"] = frame.stamp_ns
            images.append(entry)
            results += [coco_result(h.mask, h.score, image_id) for h in segmentation.hypotheses]
    seconds = time.monotonic() - started
    (args.out / "results.json").write_text(json.dumps(results))
    (args.out / "images.json").write_text(json.dumps(images, indent=1))
    summary = {
        "model": str(Path(args.model).resolve()),
        "model_version": segmenter.predictor.version,
        "inputs": [str(s.path) for s in sources],
        "topic": args.topic,
        "min_score": args.min_score,
        "resize": not args.no_resize,
        "images": len(images),
        "hypotheses": len(results),
        "failed": failed,
        "warnings": warnings,
        "seconds": round(seconds, 2),
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(
        f"interseg segment: {len(images)} image(s), {len(results)} hypotheses -> {args.out}"
        + (f"; {len(failed)} could not be segmented (summary.json lists them)" if failed else "")
    )
    if not images:
        return 1
    return 1 if failed else 0
