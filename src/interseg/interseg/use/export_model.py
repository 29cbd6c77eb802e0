"""`interseg export-model CKPT --format onnx|torchscript --out FILE`: export a trained network
(interseg.learning.export) and check the file against the checkpoint on test images.

The check runs both on every image: the candidates' cells must be the same, their scores and mask
logits within ``--tolerance`` (absolute; 1e-3 by default; onnxruntime's float32 kernels differ from
PyTorch's by ~2e-6 on the default network), and the decoded hypotheses the same masks (IoU >= 0.99
each). Check images: ``--images`` (a folder) or, by default, four tabletop scenes drawn by the
procedural renderer at the network's image size. The result goes to FILE.check.json; a failed check exits 1.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from interseg.cli_args import ArgumentParser, positive_float


def _parser() -> ArgumentParser:
    from interseg.learning.export import FORMATS

    parser = ArgumentParser(prog="interseg export-model", description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="a checkpoint written by the trainer (model-NNNNNN.pt)")
    parser.add_argument("--format", choices=FORMATS, required=True)
    parser.add_argument("--out", required=True, type=Path, help="the file to write (.onnx / .pt)")
    parser.add_argument("--images", type=Path, help="a folder of test images for the check (default: rendered)")
    parser.add_argument("--tolerance", type=positive_float, default=1e-3, help="largest output difference allowed")
    return parser


def check_images(size: tuple[int, int], folder: Path | None, count: int = 4) -> list[np.ndarray]:
    """Images for the check at the network's size (``size`` = (width, height))."""
    import cv2

    if folder is not None:
        from interseg.use.inputs import plan, read_rgb

        files = plan([str(folder)])[0].files[:count]
        return [cv2.resize(read_rgb(f), size, interpolation=cv2.INTER_AREA) for f in files]
    from interseg.learning import synthetic

    camera = synthetic.default_cameras(*size)[0]
    images = []
    for seed in range(count):
        rng = np.random.default_rng(seed)
        objects = synthetic.random_objects(rng, 5)
        images.append(synthetic.render(camera, objects, synthetic.table_texture(seed), shadow_offset=(0.01, 0.01))[0])
    return images


def parity(exported, reference, images: list[np.ndarray], tolerance: float) -> dict:
    """Compare an exported file's outputs and hypotheses with the checkpoint's on ``images``."""
    import torch

    from interseg.learning.export import OUTPUTS, CandidateNetwork
    from interseg.learning.hypothesis import mask_iou
    from interseg.learning.predictor import network_image

    module = CandidateNetwork(reference.network).eval()
    worst = dict.fromkeys(OUTPUTS[:1] + OUTPUTS[3:], 0.0)
    same_cells, same_hypotheses, min_iou, counts = True, True, 1.0, []
    for image in images:
        x = torch.from_numpy(network_image(image, reference.config)).permute(2, 0, 1).unsqueeze(0).contiguous()
        with torch.inference_mode():
            expected = [t.numpy() for t in module(x)]
        got = exported.candidates(image)
        same_cells &= bool(np.array_equal(expected[1], got[1]) and np.array_equal(expected[2], got[2]))
        for key in worst:
            k = OUTPUTS.index(key)
            worst[key] = max(worst[key], float(np.max(np.abs(expected[k] - got[k]))))
        a, b = reference.predict(image), exported.predict(image)
        counts.append(len(a))
        same_hypotheses &= len(a) == len(b)
        for ha, hb in zip(a, b):
            min_iou = min(min_iou, mask_iou(ha.mask, hb.mask))
    ok = same_cells and same_hypotheses and all(v <= tolerance for v in worst.values()) and min_iou >= 0.99
    return {
        "passed": bool(ok),
        "images": len(images),
        "tolerance": tolerance,
        "max_abs_difference": worst,
        "same_cells": same_cells,
        "same_hypothesis_count": same_hypotheses,
        "hypotheses_per_image": counts,
        "min_mask_iou": min_iou,
    }


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    from interseg.learning.checkpoint import CheckpointError
    from interseg.learning.export import ExportedPredictor, ExportError, export
    from interseg.learning.predictor import HypothesisPredictor
    from interseg.use.inputs import InputError

    try:
        reference = HypothesisPredictor.from_checkpoint(args.checkpoint)
        started = time.monotonic()
        export(args.checkpoint, args.format, args.out)
        seconds = time.monotonic() - started
        exported = ExportedPredictor(args.out)
        images = check_images(reference.config.expected_size, args.images)
    except (CheckpointError, ExportError, InputError) as exc:
        print(f"interseg export-model: {exc}", file=sys.stderr)
        return 2
    check = parity(exported, reference, images, args.tolerance)
    check |= {"format": args.format, "file": str(args.out), "checkpoint": str(Path(args.checkpoint).resolve())}
    check["export_seconds"] = round(seconds, 2)
    check["bytes"] = args.out.stat().st_size
    check_file = args.out.with_name(args.out.name + ".check.json")
    check_file.write_text(json.dumps(check, indent=1))
    worst = max(check["max_abs_difference"].values())
    verdict = "passed" if check["passed"] else "FAILED"
    print(
        f"interseg export-model: {args.out} ({args.format}, {check['bytes'] / 1e6:.1f} MB); check {verdict} on "
        f"{len(images)} image(s): largest difference {worst:.2e} (tolerance {args.tolerance:g}), "
        f"smallest mask IoU {check['min_mask_iou']:.3f} -> {check_file}"
    )
    return 0 if check["passed"] else 1
