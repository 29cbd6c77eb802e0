"""`interseg evaluate-images MODEL --images DIR [--labels DIR | --coco FILE] [--layout L] --out DIR`:
score a trained network on labelled images (real tabletop photos, OCID, OSD, your own) with the
paper's class-agnostic mask AP at IoU 0.3 and 0.5 and the unseen-object segmentation metrics
(overlap and boundary P/R/F, objects at F >= 0.75; interseg.learning.prf_metrics).

Writes DIR/metrics.json (the numbers, the layout, the model, the settings), DIR/per_image.csv
(one row per image) and the first ``--overlays`` images' overlays under DIR/overlays/.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path

from interseg.cli_args import ArgumentParser, float_range, non_negative_int, positive_int


def _parser() -> ArgumentParser:
    from interseg.use.labelled_sets import LAYOUTS

    parser = ArgumentParser(prog="interseg evaluate-images", description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a trainer checkpoint, or a network written by `interseg export-model`")
    parser.add_argument("--images", required=True, type=Path, help="the images (or the set's root folder)")
    parser.add_argument("--labels", type=Path, help="instance label PNGs beside --images' tree (pairs layout)")
    parser.add_argument("--coco", type=Path, help="COCO instance annotations for --images (coco layout)")
    parser.add_argument("--depth", type=Path, help="depth PNGs beside --images' tree (pairs layout; not used)")
    parser.add_argument("--layout", choices=LAYOUTS, default="auto", help="folder layout (default: recognised)")
    parser.add_argument("--out", required=True, type=Path, help="output folder (created)")
    parser.add_argument(
        "--min-score",
        type=float_range(0.0, 1.0),
        default=0.5,
        help="score a hypothesis needs for the P/R/F label image",
    )
    parser.add_argument("--boundary-tolerance", type=non_negative_int, help="pixels (default: 0.3%% of the diagonal)")
    parser.add_argument("--no-resize", action="store_true", help="refuse images of another size than the network's")
    parser.add_argument("--limit", type=positive_int, help="evaluate only the first N images")
    parser.add_argument("--overlays", type=non_negative_int, default=8, help="overlays written (default 8)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def evaluate(segmenter, items, min_score: float, tolerance: int | None, out: Path, overlays: int, quiet: bool) -> dict:
    """Segment and score every labelled image; per-image rows go to per_image.csv."""
    from interseg.learning.metrics import coco_annotation, coco_ap, coco_result
    from interseg.learning.prf_metrics import KEYS, image_prf, masks_of, mean_prf
    from interseg.progress import progress_bar
    from interseg.use.inputs import read_rgb
    from interseg.use.segment import write_outputs

    images, annotations, results, scores, failed = [], [], [], [], []
    rows = []
    started = time.monotonic()
    with progress_bar(total=len(items), desc="evaluate", disable=quiet) as bar:
        for item in items:
            bar.update(1)
            try:
                image = read_rgb(item.image_path)
                labels = item.load_labels()
                if labels.shape != image.shape[:2]:
                    raise ValueError(
                        f"labels are {labels.shape[1]}x{labels.shape[0]}, the image {image.shape[1]}x{image.shape[0]}"
                    )
                segmentation = segmenter.segment(image)
            except (OSError, ValueError) as exc:
                failed.append({"name": item.name, "error": str(exc)})
                print(f"interseg evaluate-images: skipped {item.name}: {exc}", file=sys.stderr)
                continue
            image_id = len(images) + 1
            images.append({"id": image_id, "file_name": item.name, "width": image.shape[1], "height": image.shape[0]})
            for mask in masks_of(labels):
                annotations.append(coco_annotation(mask, len(annotations) + 1, image_id))
            results += [coco_result(h.mask, h.score, image_id) for h in segmentation.hypotheses]
            prf = image_prf(segmentation.labels(min_score), labels, tolerance)
            scores.append(prf)
            rows.append(
                {"image": item.name, **{k: round(getattr(prf, k), 4) for k in KEYS}, "objects": prf.num_objects}
            )
            if len(images) <= overlays:
                safe = item.name.replace("/", "__")
                write_outputs(out, safe, image, segmentation, min_score)
    if not images:
        raise ValueError("no image could be evaluated: " + "; ".join(f["error"] for f in failed[:3]))
    ap = coco_ap({"images": images, "annotations": annotations}, results)
    with (out / "per_image.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return {
        "ap30": ap.ap30,
        "ap50": ap.ap50,
        **mean_prf(scores),
        "hypotheses": len(results),
        "hypotheses_per_image": round(len(results) / len(images), 2),
        "failed": failed,
        "seconds": round(time.monotonic() - started, 2),
    }


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    from interseg.use.inputs import InputError
    from interseg.use.labelled_sets import find_labelled_images
    from interseg.use.models import open_for_command

    try:
        layout, items = find_labelled_images(args.images, args.labels, args.layout, args.coco, args.depth)
    except InputError as exc:
        print(f"interseg evaluate-images: {exc}", file=sys.stderr)
        return 2
    items = items[: args.limit] if args.limit else items

    warnings: list[str] = []
    segmenter = open_for_command("interseg evaluate-images", args.model, not args.no_resize, args.out, warnings)
    if segmenter is None:
        return 2
    try:
        numbers = evaluate(
            segmenter, items, args.min_score, args.boundary_tolerance, args.out, args.overlays, args.quiet
        )
    except ValueError as exc:
        print(f"interseg evaluate-images: {exc}", file=sys.stderr)
        return 1
    report = {
        "model": str(Path(args.model).resolve()),
        "model_version": segmenter.predictor.version,
        "images_folder": str(args.images.resolve()),
        "layout": layout,
        "min_score": args.min_score,
        "boundary_tolerance": args.boundary_tolerance
        if args.boundary_tolerance is not None
        else "0.3% of the diagonal",
        "resize": not args.no_resize,
        "warnings": warnings,
        **numbers,
    }
    (args.out / "metrics.json").write_text(json.dumps(report, indent=1))
    print(
        f"interseg evaluate-images: {report['images']} image(s), {report['objects']} object(s) ({layout} layout)\n"
        f"  AP@0.3 {100 * report['ap30']:.1f}  AP@0.5 {100 * report['ap50']:.1f}\n"
        f"  overlap   P {100 * report['overlap_precision']:.1f}  R {100 * report['overlap_recall']:.1f}"
        f"  F {100 * report['overlap_f']:.1f}\n"
        f"  boundary  P {100 * report['boundary_precision']:.1f}  R {100 * report['boundary_recall']:.1f}"
        f"  F {100 * report['boundary_f']:.1f}\n"
        f"  objects at F >= 0.75: {100 * report['objects_at_075']:.1f}%\n"
        f"  -> {args.out / 'metrics.json'}"
        + (f"\n  {len(report['failed'])} image(s) skipped (metrics.json lists them)" if report["failed"] else "")
    )
    return 0
