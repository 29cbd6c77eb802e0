"""Object hypotheses in the camera image and what derives them from a mask: the grasp pixel and
yaw (:func:`grasp_from_mask`), and greedy mask non-maximum suppression (:func:`mask_nms`).

Shared by the network's decoder (:mod:`interseg.learning.predictor`), the bottom-up baseline and
the push-example collection, none of which needs the network itself here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass
class Hypothesis:
    """One object hypothesis in the camera image (ROS-free; the hypotheses node converts it).

    ``grasp_yaw`` is the direction of the mask's principal (major) axis in the image, in radians,
    measured from the image u axis towards the v axis, wrapped to [-pi/2, pi/2). The gripper's
    fingers close across it, along the minor axis. ``bbox`` is (u_min, v_min, u_max, v_max),
    inclusive pixel indices.
    """

    mask: np.ndarray  # (H, W) bool, full resolution
    score: float
    grasp_u: float
    grasp_v: float
    grasp_yaw: float
    bbox: tuple[int, int, int, int]
    source: str = "network"
    extra: dict = field(default_factory=dict)

    @property
    def area(self) -> int:
        return int(self.mask.sum())


def grasp_from_mask(mask: np.ndarray) -> tuple[float, float, float, tuple[int, int, int, int]]:
    """Grasp pixel (centroid, moved onto the mask when it falls outside), yaw by PCA, bbox."""
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    if len(rows) == 0:
        raise ValueError("cannot derive a grasp from an empty mask")
    v0, u0 = int(rows[0]), int(cols[0])
    vs, us = np.nonzero(mask[v0 : rows[-1] + 1, u0 : cols[-1] + 1])  # within the bbox: much faster
    vs, us = vs + v0, us + u0
    u_mean, v_mean = float(us.mean()), float(vs.mean())
    u, v = u_mean, v_mean
    ui, vi = int(round(u)), int(round(v))
    if not mask[min(max(vi, 0), mask.shape[0] - 1), min(max(ui, 0), mask.shape[1] - 1)]:
        # Concave shapes (rings, L shapes): grasp the mask pixel nearest to the centroid instead.
        nearest = int(np.argmin((us - u) ** 2 + (vs - v) ** 2))
        u, v = float(us[nearest]), float(vs[nearest])
    yaw = 0.0
    if len(us) >= 3:
        du, dv = us - u_mean, vs - v_mean
        cov = np.array([[np.mean(du * du), np.mean(du * dv)], [np.mean(du * dv), np.mean(dv * dv)]])
        evals, evecs = np.linalg.eigh(cov)
        if evals[1] > evals[0] * (1 + 1e-6):
            major = evecs[:, 1]
            yaw = math.atan2(major[1], major[0])
            yaw = (yaw + math.pi / 2) % math.pi - math.pi / 2
    bbox = (int(us.min()), int(vs.min()), int(us.max()), int(vs.max()))
    return u, v, yaw, bbox


def hypothesis_from_mask(mask: np.ndarray, score: float, source: str = "network") -> Hypothesis:
    u, v, yaw, bbox = grasp_from_mask(mask)
    return Hypothesis(mask=mask, score=float(score), grasp_u=u, grasp_v=v, grasp_yaw=yaw, bbox=bbox, source=source)


def mask_iou_matrix(a, b) -> np.ndarray:
    """Pairwise IoU of boolean masks [N, H, W] x [M, H, W] (arrays or sequences of H x W masks)
    -> [N, M]; 0 where both masks are empty. The one IoU of masks in interseg."""
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)), dtype=np.float32)
    a = np.stack([np.asarray(m, bool) for m in a]) if not isinstance(a, np.ndarray) else a
    b = np.stack([np.asarray(m, bool) for m in b]) if not isinstance(b, np.ndarray) else b
    # torch's matmul uses the intra-op threads already set; numpy's BLAS would start its own
    fa = torch.from_numpy(a.reshape(len(a), -1).astype(np.float32))
    fb = torch.from_numpy(b.reshape(len(b), -1).astype(np.float32))
    inter = fa @ fb.T
    union = fa.sum(1)[:, None] + fb.sum(1)[None, :] - inter
    return (inter / union.clamp(min=1.0)).numpy()


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two boolean H x W masks (0 when both are empty)."""
    return float(mask_iou_matrix(np.asarray(a, bool)[None], np.asarray(b, bool)[None])[0, 0])


def mask_nms(masks: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[int]:
    """Greedy mask NMS: indices kept, best score first."""
    order = np.argsort(-scores, kind="stable")
    if len(order) == 0:
        return []
    iou = mask_iou_matrix(masks[order], masks[order])
    kept: list[int] = []
    for i in range(len(order)):
        if all(iou[i, j] <= iou_threshold for j in kept):
            kept.append(i)
    return [int(order[i]) for i in kept]
