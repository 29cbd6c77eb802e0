"""Unseen-object segmentation metrics on label images: overlap and boundary precision, recall and
F-measure after Hungarian matching, and the share of objects segmented at F >= 0.75.

These are the metrics of the tabletop unseen-object benchmarks (OCID, OSD) as defined by Xie et
al., "Unseen Object Instance Segmentation for Robotic Environments" (T-RO 2021), after Dave et al.,
"Towards Segmenting Anything That Moves" (2019). A label image holds 0 for background and one id
per object; ids need not be consecutive.

Per image, with predicted objects c_j and ground-truth objects g_i:

- pairwise F(i, j) = 2 P R / (P + R) with P = |c_j & g_i| / |c_j| and R = |c_j & g_i| / |g_i|;
- a one-to-one matching maximising the sum of pairwise F (Hungarian method);
- overlap P = sum over matched pairs of |c & g| / sum_j |c_j|, R = the same sum / sum_i |g_i|,
  F = 2 P R / (P + R): unmatched predictions cost precision, unmatched objects cost recall;
- boundary P, R, F: the same with each object's boundary pixels, where a predicted boundary pixel
  is a true positive when a boundary pixel of its matched object lies within ``tolerance`` pixels
  (a disk), and the other way round for recall. Boundaries follow the DAVIS convention: a pixel is
  on a mask's boundary when the mask differs at its east, south or south-east neighbour; the
  image's frame is not a boundary. The default tolerance is ceil(0.003 x image diagonal) pixels
  (3 at 640x480), as published;
- objects at 0.75: matched pairs whose pairwise F is at least 0.75, as a share of the objects.

Edge cases, as published: no object and no prediction scores 1 everywhere; predictions without
objects score P 0, R 1, F 0; objects without predictions score P 1, R 0, F 0 (the share at 0.75
is 0 in both). A set's numbers are
the means of its images' numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

F_OBJECT_THRESHOLD = 0.75
KEYS = (
    "overlap_precision",
    "overlap_recall",
    "overlap_f",
    "boundary_precision",
    "boundary_recall",
    "boundary_f",
    "objects_at_075",
)


@dataclass
class ImagePRF:
    overlap_precision: float
    overlap_recall: float
    overlap_f: float
    boundary_precision: float
    boundary_recall: float
    boundary_f: float
    objects_at_075: float  # share of ground-truth objects matched with pairwise F >= 0.75
    num_objects: int
    num_predicted: int
    num_at_075: int

    def to_dict(self) -> dict:
        return asdict(self)


def _f(p: float, r: float) -> float:
    return 2.0 * p * r / (p + r) if p + r > 0 else 0.0


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """Boundary pixels of a binary mask (DAVIS convention, see the module docstring)."""
    m = np.asarray(mask, dtype=bool)
    padded = np.pad(m, ((0, 1), (0, 1)), mode="edge")
    east, south, south_east = padded[:-1, 1:], padded[1:, :-1], padded[1:, 1:]
    return (m != east) | (m != south) | (m != south_east)


def default_tolerance(shape: tuple[int, int]) -> int:
    return max(1, math.ceil(0.003 * math.hypot(shape[0], shape[1])))


def _disk(radius: int) -> np.ndarray:
    yy, xx = np.ogrid[-radius : radius + 1, -radius : radius + 1]
    return (xx * xx + yy * yy <= radius * radius).astype(np.uint8)


def _dilate(boundary: np.ndarray, radius: int) -> np.ndarray:
    if radius <= 0:
        return boundary
    import cv2

    return cv2.dilate(boundary.astype(np.uint8), _disk(radius)).astype(bool)


def check_label_image(labels, name: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"{name} must be a 2-D label image (H, W), got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{name} must hold integer labels, got dtype {labels.dtype}")
    if labels.size and labels.min() < 0:
        raise ValueError(f"{name} has negative labels")
    return labels


def image_prf(predicted, truth, tolerance: int | None = None) -> ImagePRF:
    """Overlap and boundary P/R/F of one predicted label image against its ground truth."""
    from scipy.optimize import linear_sum_assignment

    predicted = check_label_image(predicted, "predicted label image")
    truth = check_label_image(truth, "ground-truth label image")
    if predicted.shape != truth.shape:
        raise ValueError(f"predicted labels are {predicted.shape}, ground truth {truth.shape}")
    radius = default_tolerance(truth.shape) if tolerance is None else int(tolerance)
    gt_ids = [int(i) for i in np.unique(truth) if i != 0]
    pred_ids = [int(i) for i in np.unique(predicted) if i != 0]
    n_gt, n_pred = len(gt_ids), len(pred_ids)
    if n_gt == 0 or n_pred == 0:
        p, r = (1.0, 1.0) if n_gt == n_pred else ((0.0, 1.0) if n_gt == 0 else (1.0, 0.0))
        f = 1.0 if n_gt == n_pred else 0.0
        return ImagePRF(p, r, f, p, r, f, f, n_gt, n_pred, 0)

    gt_masks = [truth == i for i in gt_ids]
    pred_masks = [predicted == j for j in pred_ids]
    gt_area = np.array([m.sum() for m in gt_masks], dtype=np.float64)
    pred_area = np.array([m.sum() for m in pred_masks], dtype=np.float64)
    # Intersections of every pair from one joint histogram of (gt index, prediction index).
    gt_index = np.zeros(truth.shape, dtype=np.int64)
    for k, m in enumerate(gt_masks, start=1):
        gt_index[m] = k
    pred_index = np.zeros(truth.shape, dtype=np.int64)
    for k, m in enumerate(pred_masks, start=1):
        pred_index[m] = k
    joint = np.bincount((gt_index * (n_pred + 1) + pred_index).ravel(), minlength=(n_gt + 1) * (n_pred + 1))
    inter = joint.reshape(n_gt + 1, n_pred + 1)[1:, 1:].astype(np.float64)
    precision = inter / pred_area[None, :]
    recall = inter / gt_area[:, None]
    pair_f = np.where(inter > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
    rows, cols = linear_sum_assignment(pair_f, maximize=True)

    overlap_p = inter[rows, cols].sum() / pred_area.sum()
    overlap_r = inter[rows, cols].sum() / gt_area.sum()
    at_075 = int(np.sum(pair_f[rows, cols] >= F_OBJECT_THRESHOLD - 1e-9))  # 0.75 exactly, despite rounding

    gt_bounds = [boundary_map(m) for m in gt_masks]
    pred_bounds = [boundary_map(m) for m in pred_masks]
    tp_p = tp_r = 0
    for i, j in zip(rows, cols):
        tp_p += int(np.sum(pred_bounds[j] & _dilate(gt_bounds[i], radius)))
        tp_r += int(np.sum(gt_bounds[i] & _dilate(pred_bounds[j], radius)))
    pred_boundary_total = sum(int(b.sum()) for b in pred_bounds)
    gt_boundary_total = sum(int(b.sum()) for b in gt_bounds)
    boundary_p = tp_p / pred_boundary_total if pred_boundary_total else 0.0
    boundary_r = tp_r / gt_boundary_total if gt_boundary_total else 0.0
    return ImagePRF(
        float(overlap_p),
        float(overlap_r),
        _f(float(overlap_p), float(overlap_r)),
        float(boundary_p),
        float(boundary_r),
        _f(boundary_p, boundary_r),
        at_075 / n_gt,
        n_gt,
        n_pred,
        at_075,
    )


def mean_prf(scores: Iterable[ImagePRF]) -> dict:
    """A set's numbers: the mean of each metric over its images, plus object counts."""
    scores = list(scores)
    if not scores:
        return {k: float("nan") for k in KEYS} | {"images": 0, "objects": 0, "objects_at_075_count": 0}
    out = {k: float(np.mean([getattr(s, k) for s in scores])) for k in KEYS}
    out["images"] = len(scores)
    out["objects"] = int(sum(s.num_objects for s in scores))
    out["objects_at_075_count"] = int(sum(s.num_at_075 for s in scores))
    return out


def label_image(masks: Sequence[np.ndarray], scores: Sequence[float], shape: tuple[int, int]) -> np.ndarray:
    """Overlapping scored masks -> one uint16 label image (0 background; id 1 is the best mask,
    2 the next ...; where masks overlap the better one wins, so a mask fully covered by better ones
    leaves no pixel)."""
    if len(masks) != len(scores):
        raise ValueError(f"{len(masks)} masks but {len(scores)} scores")
    if len(masks) > np.iinfo(np.uint16).max:
        raise ValueError(f"{len(masks)} masks do not fit a uint16 label image")
    labels = np.zeros(shape, dtype=np.uint16)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    for rank in range(len(order) - 1, -1, -1):  # worst first, so that better masks paint over it
        mask = np.asarray(masks[order[rank]], dtype=bool)
        if mask.shape != tuple(shape):
            raise ValueError(f"mask shape {mask.shape} differs from the image's {tuple(shape)}")
        labels[mask] = rank + 1
    return labels


def masks_of(labels: np.ndarray) -> list[np.ndarray]:
    """One boolean mask per non-zero id of a label image, in id order."""
    labels = check_label_image(labels, "label image")
    return [labels == i for i in np.unique(labels) if i != 0]
