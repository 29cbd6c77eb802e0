"""Bottom-up proposals: the stand-in for GOP in the paper's comparison (no learning, no labels).

Felzenszwalb superpixels, then hierarchical merging of their region adjacency graph (mean Lab
colour) at several thresholds; every region of every level whose size is plausible for an
object is a proposal. Scores favour regions that stand out from their surroundings (colour
contrast with a ring around them) and are compact (solidity), which is what distinguishes
objects from table blotches without any training. ``BottomUpConfig`` is the knob set a
validation-split tuning sweeps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from interseg.learning.hypothesis import Hypothesis, hypothesis_from_mask, mask_nms
from interseg.learning.images import validate_rgb_image


@dataclass
class BottomUpConfig:
    work_width: int = 320  # segment at this width (speed); masks are returned at full resolution
    felzenszwalb_scale: float = 150.0
    felzenszwalb_sigma: float = 0.8
    felzenszwalb_min_size: int = 40
    merge_thresholds: tuple[float, ...] = (8.0, 16.0, 28.0)  # Lab distance between merged regions
    min_area_fraction: float = 0.002
    max_area_fraction: float = 0.15
    nms_iou: float = 0.7
    top_k: int = 30
    contrast_scale: float = 25.0  # Lab distance at which contrast saturates
    extra: dict = field(default_factory=dict)


def _merge_levels(lab: np.ndarray, labels: np.ndarray, thresholds) -> list[np.ndarray]:
    from skimage import graph

    levels = [labels]
    rag = graph.rag_mean_color(lab, labels, mode="distance")  # built once, copied per level

    def weight(g, src, dst, n):
        diff = g.nodes[dst]["mean color"] - g.nodes[n]["mean color"]
        return {"weight": float(np.linalg.norm(diff))}

    def merge(g, src, dst):
        g.nodes[dst]["total color"] += g.nodes[src]["total color"]
        g.nodes[dst]["pixel count"] += g.nodes[src]["pixel count"]
        g.nodes[dst]["mean color"] = g.nodes[dst]["total color"] / g.nodes[dst]["pixel count"]

    for t in thresholds:
        levels.append(
            graph.merge_hierarchical(
                labels, rag, thresh=t, rag_copy=True, in_place_merge=True, merge_func=merge, weight_func=weight
            )
        )
    return levels


def network_or_bottom_up(hypotheses: list[Hypothesis], image_rgb: np.ndarray) -> tuple[list[Hypothesis], bool]:
    """The network's hypotheses, or, when it proposed none, bottom-up proposals (label-free) and
    True: a network that proposes nothing (a weak pre-training, a collapsed model) would otherwise
    stall the loop, since nothing would ever be touched and labelled again."""
    if hypotheses:
        return hypotheses, False
    return bottom_up_proposals(image_rgb), True


def bottom_up_proposals(image_rgb: np.ndarray, config: BottomUpConfig | None = None) -> list[Hypothesis]:
    """Scored mask proposals for an HxWx3 uint8 RGB image, best first."""
    from skimage.segmentation import felzenszwalb

    image_rgb = validate_rgb_image(image_rgb)
    config = config or BottomUpConfig()
    h, w = image_rgb.shape[:2]
    scale = min(1.0, config.work_width / w)
    size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
    small = cv2.resize(image_rgb, size, interpolation=cv2.INTER_AREA) if scale < 1 else image_rgb
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
    lab[..., 0] *= 100.0 / 255.0
    lab[..., 1:] -= 128.0
    labels = felzenszwalb(
        small, scale=config.felzenszwalb_scale, sigma=config.felzenszwalb_sigma, min_size=config.felzenszwalb_min_size
    )
    total = size[0] * size[1]
    ring_kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))
    masks, scores = [], []
    seen: set[bytes] = set()
    for level in _merge_levels(lab, labels, config.merge_thresholds):
        ids, counts = np.unique(level, return_counts=True)
        for region, area in zip(ids, counts):
            if not config.min_area_fraction * total <= area <= config.max_area_fraction * total:
                continue
            mask = level == region
            signature = np.packbits(mask).tobytes()
            if signature in seen:  # unchanged between merge levels
                continue
            seen.add(signature)
            mask_u8 = mask.astype(np.uint8)
            ring = cv2.dilate(mask_u8, ring_kernel).astype(bool) & ~mask
            if not ring.any():
                continue
            contrast = float(np.linalg.norm(lab[mask].mean(0) - lab[ring].mean(0)))
            contours, _ = cv2.findContours(mask_u8, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            hull_area = sum(cv2.contourArea(cv2.convexHull(c)) for c in contours)
            solidity = min(1.0, area / max(hull_area, 1.0)) if len(contours) == 1 else 0.3
            masks.append(mask)
            scores.append((1.0 - np.exp(-contrast / config.contrast_scale)) * solidity)
    if not masks:
        return []
    masks_arr = np.stack(masks)
    scores_arr = np.asarray(scores)
    coarse = masks_arr[:, ::4, ::4]  # IoU for NMS does not need every pixel
    kept = mask_nms(coarse, scores_arr, config.nms_iou)[: config.top_k]
    hypotheses = []
    for k in kept:
        full = masks_arr[k]
        if scale < 1:
            full = cv2.resize(full.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
        if full.any():
            hypotheses.append(hypothesis_from_mask(full, float(scores_arr[k]), source="bottom_up"))
    return hypotheses
