"""Evaluation: class-agnostic mask AP (pycocotools), precision-recall curves, and the recall of
ground-truth objects by the hypotheses the robot chose to test ("efficacy of experimentation").

Predictions and ground truth are exported as COCO JSON (masks as RLE, one category "object"),
and COCOeval runs with ``useCats=0`` at IoU thresholds 0.3 and 0.5 (the paper's), one area range
and up to ``max_dets`` detections per image. AP is reported as a fraction in [0, 1].
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from interseg.learning.hypothesis import mask_iou_matrix

CATEGORY = {"id": 1, "name": "object"}


def _check_masks(masks: Sequence[np.ndarray], shape: tuple[int, int] | None, what: str) -> tuple[int, int] | None:
    for m in masks:
        m = np.asarray(m)
        if m.ndim != 2:
            raise ValueError(f"{what} masks must be 2-D (H, W), got shape {m.shape}")
        if shape is None:
            shape = m.shape
        elif m.shape != shape:
            raise ValueError(f"{what} mask shape {m.shape} differs from the image's {shape}")
    return shape


def _rle(mask: np.ndarray) -> dict:
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(np.asarray(mask, dtype=np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def coco_annotation(mask: np.ndarray, annotation_id: int, image_id: int) -> dict:
    """One ground-truth object in COCO's instance annotation format (category 1, RLE)."""
    from pycocotools import mask as mask_utils

    rle = _rle(mask)
    return {
        "id": int(annotation_id),
        "image_id": int(image_id),
        "category_id": 1,
        "iscrowd": 0,
        "segmentation": rle,
        "area": float(mask_utils.area(rle)),
        "bbox": [float(x) for x in mask_utils.toBbox(rle)],
    }


def coco_result(mask: np.ndarray, score: float, image_id: int) -> dict:
    """One detection in COCO's results format (class-agnostic: category 1, the mask as RLE)."""
    from pycocotools import mask as mask_utils

    if not np.isfinite(score):
        raise ValueError(f"image {image_id}: non-finite score {score}")
    rle = _rle(mask)
    bbox = [float(x) for x in mask_utils.toBbox(rle)]
    return {"image_id": int(image_id), "category_id": 1, "segmentation": rle, "score": float(score), "bbox": bbox}


def to_coco(
    gt_masks: Sequence[Sequence[np.ndarray]],
    pred_masks: Sequence[Sequence[np.ndarray]],
    pred_scores: Sequence[Sequence[float]],
) -> tuple[dict, list[dict]]:
    """Per-image lists of GT masks, predicted masks and scores -> (COCO GT dict, results list)."""

    if not len(gt_masks) == len(pred_masks) == len(pred_scores):
        raise ValueError("gt_masks, pred_masks and pred_scores need one entry per image")
    images, annotations, results = [], [], []
    for image_id, (gts, preds, scores) in enumerate(zip(gt_masks, pred_masks, pred_scores), start=1):
        if len(preds) != len(scores):
            raise ValueError(f"image {image_id}: {len(preds)} predicted masks but {len(scores)} scores")
        shape = _check_masks(gts, None, "ground-truth")
        shape = _check_masks(preds, shape, "predicted")
        if shape is None:
            shape = (1, 1)
        images.append({"id": image_id, "height": int(shape[0]), "width": int(shape[1])})
        for m in gts:
            if not np.asarray(m).any():
                raise ValueError(f"image {image_id}: an empty ground-truth mask is not an object")
            annotations.append(coco_annotation(m, len(annotations) + 1, image_id))
        results += [coco_result(m, s, image_id) for m, s in zip(preds, scores)]
    gt = {"images": images, "annotations": annotations, "categories": [CATEGORY]}
    return gt, results


@dataclass
class APResult:
    ap: dict[float, float]  # IoU threshold -> AP (fraction); NaN when there is no ground truth
    recall_thresholds: np.ndarray  # COCO's 101 recall points
    precision: dict[float, np.ndarray]  # IoU threshold -> interpolated precision at those points
    num_gt: int
    num_predictions: int
    coco_gt: dict = field(repr=False, default_factory=dict)
    coco_results: list = field(repr=False, default_factory=list)

    @property
    def ap30(self) -> float:
        return self.ap[0.3]

    @property
    def ap50(self) -> float:
        return self.ap[0.5]

    def save_json(self, path: str | Path) -> None:
        """The evaluated GT and predictions as COCO JSON (``<path>`` and ``<path stem>_results``)."""
        path = Path(path)
        path.write_text(json.dumps(self.coco_gt))
        path.with_name(path.stem + "_results.json").write_text(json.dumps(self.coco_results))


def mask_ap(
    gt_masks: Sequence[Sequence[np.ndarray]],
    pred_masks: Sequence[Sequence[np.ndarray]],
    pred_scores: Sequence[Sequence[float]],
    iou_thresholds: Sequence[float] = (0.3, 0.5),
    max_dets: int = 100,
) -> APResult:
    """Class-agnostic mask AP with pycocotools' COCOeval (see the module docstring)."""
    gt, results = to_coco(gt_masks, pred_masks, pred_scores)
    return coco_ap(gt, results, iou_thresholds, max_dets)


def coco_ap(
    gt: dict, results: list[dict], iou_thresholds: Sequence[float] = (0.3, 0.5), max_dets: int = 100
) -> APResult:
    """:func:`mask_ap` on COCO ground truth (``images``, ``annotations``) and results already built
    (e.g. image by image with :func:`coco_annotation` and :func:`coco_result`, to keep no masks)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt = {"categories": [CATEGORY], **gt}
    thresholds = [float(t) for t in iou_thresholds]
    recall_points = np.linspace(0.0, 1.0, 101)
    num_gt = len(gt["annotations"])
    if num_gt == 0 or not results:
        nan_or_zero = float("nan") if num_gt == 0 else 0.0
        return APResult(
            {t: nan_or_zero for t in thresholds},
            recall_points,
            {t: np.zeros(101) for t in thresholds},
            num_gt,
            len(results),
            gt,
            results,
        )
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
        coco_gt = COCO()
        coco_gt.dataset = json.loads(json.dumps(gt))
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(json.loads(json.dumps(results)))
        evaluator = COCOeval(coco_gt, coco_dt, iouType="segm")
        evaluator.params.useCats = 0
        evaluator.params.iouThrs = np.array(thresholds)
        evaluator.params.areaRng = [[0.0, 1e10]]
        evaluator.params.areaRngLbl = ["all"]
        evaluator.params.maxDets = [int(max_dets)]
        evaluator.evaluate()
        evaluator.accumulate()
    precision = evaluator.eval["precision"]  # [T, R, K, A, M]
    ap, curves = {}, {}
    for i, t in enumerate(thresholds):
        p = precision[i, :, 0, 0, 0]
        curves[t] = np.where(p > -1, p, 0.0)
        ap[t] = float(np.mean(p[p > -1])) if np.any(p > -1) else float("nan")
    return APResult(ap, evaluator.params.recThrs.copy(), curves, num_gt, len(results), gt, results)


def plot_pr_curves(result: APResult, path: str | Path, title: str = "class-agnostic mask PR") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4))
    for t, p in result.precision.items():
        ax.plot(result.recall_thresholds, p, label=f"IoU {t:.1f}: AP {100 * result.ap[t]:.1f}")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


@dataclass
class RecallResult:
    recall: float  # fraction of GT objects covered; NaN without GT
    found: int
    num_gt: int


def recall_of_chosen(
    chosen_masks: Sequence[Sequence[np.ndarray]], gt_masks: Sequence[Sequence[np.ndarray]], iou_threshold: float = 0.3
) -> RecallResult:
    """Fraction of ground-truth objects that at least one chosen hypothesis (per image) overlaps
    with IoU > ``iou_threshold``: the paper's "efficacy of experimentation"."""
    if len(chosen_masks) != len(gt_masks):
        raise ValueError("chosen_masks and gt_masks need one entry per image")
    found = total = 0
    for chosen, gts in zip(chosen_masks, gt_masks):
        shape = _check_masks(gts, None, "ground-truth")
        _check_masks(chosen, shape, "chosen")
        total += len(gts)
        if len(gts) and len(chosen):
            found += int(np.sum(mask_iou_matrix(gts, chosen).max(axis=1) > iou_threshold))
    return RecallResult(found / total if total else float("nan"), found, total)


def recall_over_time(
    chosen_masks: Sequence[np.ndarray],
    gt_masks: Sequence[Sequence[np.ndarray]],
    iou_threshold: float = 0.3,
    window: int = 25,
) -> np.ndarray:
    """Per interaction t (one chosen hypothesis each, with the GT objects of its scene): the
    fraction of the last ``window`` choices that hit some GT object with IoU > threshold."""
    hits = []
    for chosen, gts in zip(chosen_masks, gt_masks):
        hits.append(float(len(gts) > 0 and mask_iou_matrix([chosen], gts).max() > iou_threshold))
    hits = np.asarray(hits)
    return np.array([hits[max(0, t - window + 1) : t + 1].mean() for t in range(len(hits))])


def evaluate_predictor(
    predict: Callable[[np.ndarray], list],
    images: Sequence[np.ndarray],
    gt_masks: Sequence[Sequence[np.ndarray]],
    max_dets: int = 100,
) -> APResult:
    """Run ``predict(image) -> hypotheses`` (anything with ``.mask`` and ``.score``, e.g. the
    network's predictor or the bottom-up baseline) on every image and score it against GT."""
    if len(images) != len(gt_masks):
        raise ValueError("images and gt_masks need one entry per image")
    pred_masks, pred_scores = [], []
    for image in images:
        hyps = predict(image)
        pred_masks.append([h.mask for h in hyps])
        pred_scores.append([h.score for h in hyps])
    return mask_ap(gt_masks, pred_masks, pred_scores, max_dets=max_dets)


def prf_of(result: APResult, min_score: float = 0.5) -> dict:
    """The unseen-object metrics (:mod:`interseg.learning.prf_metrics`: overlap and boundary P/R/F,
    objects at F >= 0.75) of the predictions an AP evaluation scored, from its COCO ground truth
    and results: per image, the objects' label image against the label image of the predictions
    scoring at least ``min_score`` (the better one owning overlaps); the means over the images."""
    from pycocotools import mask as mask_utils

    from interseg.learning.prf_metrics import image_prf, label_image, mean_prf

    truth_of: dict[int, list] = {}
    for annotation in result.coco_gt.get("annotations", []):
        truth_of.setdefault(annotation["image_id"], []).append(annotation["segmentation"])
    predicted_of: dict[int, list] = {}
    for detection in result.coco_results:
        if detection["score"] >= min_score:
            predicted_of.setdefault(detection["image_id"], []).append(detection)
    scores = []
    for image in result.coco_gt.get("images", []):
        shape = (int(image["height"]), int(image["width"]))
        truth = np.zeros(shape, dtype=np.int32)
        for k, rle in enumerate(truth_of.get(image["id"], []), start=1):
            truth[mask_utils.decode(rle).astype(bool)] = k
        found = predicted_of.get(image["id"], [])
        masks = [mask_utils.decode(d["segmentation"]).astype(bool) for d in found]
        scores.append(image_prf(label_image(masks, [d["score"] for d in found], shape), truth))
    return mean_prf(scores) | {"min_score": min_score}
