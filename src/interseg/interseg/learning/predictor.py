"""The hypothesis predictor: runs the network on a full frame and decodes its dense output into
hypotheses (full-resolution masks, duplicates removed by mask IoU, a grasp for each survivor).

Geometry (see the package docstring for the scale convention): at network scale, location
(row i, column j) is the window of ``window`` pixels centred on the pixel-centre coordinate
``(stride * j + stride / 2 - 0.5, stride * i + stride / 2 - 0.5)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from interseg.learning.checkpoint import load_network
from interseg.learning.hypothesis import Hypothesis, hypothesis_from_mask, mask_nms
from interseg.learning.images import validate_rgb_image
from interseg.learning.model import STRIDE, HypothesisNetwork, ModelConfig


class HypothesisPredictor:
    """Runs the network on a full frame and decodes it into hypotheses.

    The hypotheses node holds one of these and replaces it wholesale on a model update (build the
    new one with :meth:`from_checkpoint` first, then swap), so a failed load never touches it.
    """

    def __init__(self, network: HypothesisNetwork, version: int = 0):
        self.network = network.eval()
        self.config = network.config
        self.version = int(version)

    @classmethod
    def from_checkpoint(cls, path) -> HypothesisPredictor:
        network, meta = load_network(path)
        return cls(network, version=meta.get("version", 0))

    def _network_input(self, image: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(network_image(image, self.config)).permute(2, 0, 1).unsqueeze(0)
        x = x.to(next(self.network.parameters()).device)  # wherever the network lives (CPU or GPU)
        return self.network.normalize(x).contiguous()  # channels-first memory: the fast conv path

    @torch.inference_mode()
    def predict(self, image_rgb: np.ndarray) -> list[Hypothesis]:
        """HxWx3 uint8 RGB frame -> up to ``top_k`` hypotheses, best first."""
        image_rgb = validate_rgb_image(image_rgb, self.config.expected_size)
        if self.network.refiner is None:
            objectness, masks = self.network(self._network_input(image_rgb))
            return decode_hypotheses(objectness[0].cpu(), masks[0].cpu(), image_rgb.shape[:2], self.config)
        f4, f8, f16 = self.network.trunk_stages(self._network_input(image_rgb))
        objectness, masks = self.network.heads(f16)
        found = select_candidates(objectness[0].cpu(), masks[0].cpu(), self.config)
        device = f8.device

        def refine(kept: torch.Tensor) -> torch.Tensor:
            chosen = (found.rows[kept].to(device), found.cols[kept].to(device), found.logits[kept].to(device))
            return self.network.refine_cells(f4, f8, *chosen).cpu()

        return decode_candidates(found, image_rgb.shape[:2], self.config, refine)


def network_image(image: np.ndarray, config: ModelConfig) -> np.ndarray:
    """A camera frame resized to the network's resolution (``input_scale``), uint8 HxWx3."""
    h, w = image.shape[:2]
    s = config.input_scale
    size = (max(STRIDE, int(round(w * s))), max(STRIDE, int(round(h * s))))
    return np.ascontiguousarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA) if size != (w, h) else image)


def _window_boxes(rows: torch.Tensor, cols: torch.Tensor, scale: float, window: float) -> np.ndarray:
    """Top-left corners (x0, y0) in pixel edge coordinates of the windows at the given cells,
    for an image at ``scale`` times the network resolution."""
    half = window / 2.0
    cx = (cols.double().numpy() * STRIDE + STRIDE / 2.0) * scale
    cy = (rows.double().numpy() * STRIDE + STRIDE / 2.0) * scale
    return np.stack([np.round(cx - half * scale), np.round(cy - half * scale)], axis=1).astype(np.int64)


def _paste(window_masks: np.ndarray, corners: np.ndarray, height: int, width: int) -> np.ndarray:
    """Paste square window masks [N, S, S] at integer corners into [N, height, width] canvases."""
    n, size = window_masks.shape[0], window_masks.shape[1]
    out = np.zeros((n, height, width), dtype=bool)
    for k in range(n):
        x0, y0 = int(corners[k, 0]), int(corners[k, 1])
        xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + size, width), min(y0 + size, height)
        if xa < xb and ya < yb:
            out[k, ya:yb, xa:xb] = window_masks[k, ya - y0 : yb - y0, xa - x0 : xb - x0]
    return out


@dataclass
class Candidates:
    """The ``pre_nms`` best locations of one image's dense output, best first."""

    scores: torch.Tensor  # [n] objectness probabilities
    rows: torch.Tensor  # [n] cell rows
    cols: torch.Tensor  # [n] cell columns
    logits: torch.Tensor  # [n, m, m] coarse mask logits
    grid: tuple[int, int]  # (h, w) cells of the dense output


def select_candidates(objectness: torch.Tensor, masks: torch.Tensor, config: ModelConfig) -> Candidates:
    """Dense output of one image (objectness [h, w], masks [m, m, h, w]) -> its candidates."""
    h, w = objectness.shape
    scores = torch.sigmoid(objectness).reshape(-1)
    n = min(config.pre_nms, scores.numel())
    top_scores, top_idx = torch.topk(scores, n)
    logits = masks.reshape(config.mask_size, config.mask_size, -1)[:, :, top_idx].permute(2, 0, 1)
    return Candidates(top_scores, top_idx // w, top_idx % w, logits, (h, w))


def decode_hypotheses(
    objectness: torch.Tensor, masks: torch.Tensor, image_shape: tuple[int, int], config: ModelConfig
) -> list[Hypothesis]:
    """Dense output of one image (objectness [h, w], masks [m, m, h, w]) -> hypotheses, unrefined."""
    return decode_candidates(select_candidates(objectness, masks, config), image_shape, config)


def decode_candidates(
    found: Candidates,
    image_shape: tuple[int, int],
    config: ModelConfig,
    refine: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> list[Hypothesis]:
    """Candidates -> hypotheses.

    NMS runs on masks pasted at a quarter of the network resolution (IoU does not need pixel
    precision, and it keeps decoding a few milliseconds); only the survivors are pasted at full
    resolution, refined first when ``refine(kept indices) -> [K, m, m]`` is given.
    """
    height, width = image_shape
    top_scores, rows, cols = found.scores, found.rows, found.cols
    n = top_scores.numel()
    logits = found.logits[:, None]
    threshold_logit = math.log(config.mask_threshold / (1 - config.mask_threshold))

    coarse = 4  # NMS canvas: network resolution / 4
    net_h, net_w = found.grid[0] * STRIDE // coarse, found.grid[1] * STRIDE // coarse
    side = config.window // coarse
    small = F.interpolate(logits, size=(side, side), mode="bilinear", align_corners=False)
    small_masks = _paste(
        small[:, 0].numpy() > threshold_logit, _window_boxes(rows, cols, 1.0 / coarse, config.window), net_h, net_w
    )
    areas = small_masks.reshape(n, -1).sum(1)
    min_area_small = config.min_mask_area * (height * width) / (640 * 480) * (config.input_scale / coarse) ** 2
    candidates = np.nonzero((areas >= max(1.0, min_area_small)) & (top_scores.numpy() >= config.min_score))[0]
    kept = [candidates[i] for i in mask_nms(small_masks[candidates], top_scores.numpy()[candidates], config.nms_iou)]
    kept = kept[: config.top_k]
    if not kept:
        return []

    # Full resolution: the window spans full_window camera pixels; cells map through input_scale.
    scale_x = 1.0 / config.input_scale
    full = int(round(config.full_window))
    kept_t = torch.as_tensor(np.asarray(kept, dtype=np.int64))
    chosen = logits[kept_t] if refine is None else refine(kept_t)[:, None]
    big = F.interpolate(chosen, size=(full, full), mode="bilinear", align_corners=False)
    corners = _window_boxes(rows[kept_t], cols[kept_t], scale_x, config.window)
    full_masks = _paste(big[:, 0].numpy() > threshold_logit, corners, height, width)
    hypotheses = []
    for k, idx in enumerate(kept):
        if not full_masks[k].any():
            continue
        hyp = hypothesis_from_mask(full_masks[k], float(top_scores[idx]))
        hyp.extra = {"cell": (int(rows[idx]), int(cols[idx]))}
        hypotheses.append(hyp)
    return hypotheses
