"""The hypothesis network: a DeepMask-like segmenter computed densely in one forward pass.

A randomly initialised ResNet-18 trunk (up to ``layer3``, stride 16, as DeepMask) feeds a shared
context layer whose kernel spans one window (``window / stride`` cells), so that each feature
location sees the whole window it speaks for. Two 1x1 heads read it:

* objectness: one logit per location, "is the centre of this window on an object?";
* mask: ``mask_size * mask_size`` logits per location, the object's mask inside the window.

Training uses single windows (``forward_windows``): the location at the window centre is the one
trained. Inference runs the same layers over the whole downscaled frame (``forward``), then
``HypothesisPredictor`` decodes the top locations into full-resolution masks, removes duplicates
by mask IoU and derives a grasp for each survivor.

Geometry (see the package docstring for the scale convention): at network scale, location
(row i, column j) is the window of ``window`` pixels centred on the pixel-centre coordinate
``(stride * j + stride / 2 - 0.5, stride * i + stride / 2 - 0.5)``.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from interseg.learning.images import validate_rgb_image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
STRIDE = 16


@dataclass
class ModelConfig:
    """Everything needed to rebuild the network and decode its output (saved in checkpoints)."""

    input_scale: float = 0.5  # network resolution / camera resolution; 0.5 keeps 640x480 < 60 ms
    window: int = 112  # window side at network scale (an odd multiple of the stride)
    mask_size: int = 32  # side of the predicted window mask (upsampled when pasted)
    # ResNet-18 channel multiplier: 0.5 costs about a quarter of 1.0 per step, which on a CPU budget
    # buys four times the steps (benchmarks/results/learning.json); checkpoints without it are 1.0
    trunk_width: float = 0.5
    context_channels: int = 128
    reduce_channels: int = 64
    top_k: int = 10  # hypotheses returned after NMS
    pre_nms: int = 50  # best locations considered before NMS
    nms_iou: float = 0.3  # a mask overlapping a better one by more than this is dropped
    mask_threshold: float = 0.5  # probability above which a pixel is on the object
    min_mask_area: int = 200  # full-resolution pixels at 640x480; scales with the image area
    min_score: float = 0.0
    expected_size: tuple[int, int] | None = (640, 480)  # (width, height) accepted by predict; None: any

    def __post_init__(self) -> None:
        if self.expected_size is not None:
            self.expected_size = (int(self.expected_size[0]), int(self.expected_size[1]))
        cells = self.window // STRIDE
        if self.window % STRIDE or cells % 2 == 0:
            raise ValueError(f"window must be an odd multiple of {STRIDE} (e.g. 80, 112, 144), got {self.window}")
        if not 0.05 <= self.input_scale <= 2.0:
            raise ValueError(f"input_scale must be in [0.05, 2], got {self.input_scale}")
        if not 0.125 <= self.trunk_width <= 2.0:
            raise ValueError(f"trunk_width must be in [0.125, 2], got {self.trunk_width}")
        if self.mask_size < 4:
            raise ValueError(f"mask_size must be at least 4, got {self.mask_size}")
        if not 0.0 < self.nms_iou <= 1.0 or not 0.0 < self.mask_threshold < 1.0:
            raise ValueError("nms_iou must be in (0, 1] and mask_threshold in (0, 1)")

    @property
    def window_cells(self) -> int:
        return self.window // STRIDE

    @property
    def full_window(self) -> float:
        """Window side in camera (full-resolution) pixels."""
        return self.window / self.input_scale

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown model config keys {sorted(unknown)}")
        data = dict(data)
        data.setdefault("trunk_width", 1.0)  # written before the width was configurable
        if data.get("expected_size") is not None:
            data["expected_size"] = tuple(data["expected_size"])
        return cls(**data)


def resnet18_trunk(width: float = 1.0) -> tuple[nn.Sequential, int]:
    """ResNet-18 up to ``layer3`` (stride 16) with its channels scaled by ``width``, randomly
    initialised as torchvision initialises ResNets. At width 1 the modules and parameter names
    are those of ``torchvision.models.resnet18`` (conv1, bn1, relu, maxpool, layer1-3).
    Returns the trunk and its output channels."""
    from torchvision.models.resnet import BasicBlock, conv1x1

    c1, c2, c3 = (max(8, int(round(64 * width * m))) for m in (1, 2, 4))

    def layer(cin: int, cout: int, stride: int) -> nn.Sequential:
        down = None if stride == 1 and cin == cout else nn.Sequential(conv1x1(cin, cout, stride), nn.BatchNorm2d(cout))
        return nn.Sequential(BasicBlock(cin, cout, stride, down), BasicBlock(cout, cout))

    trunk = nn.Sequential(nn.Conv2d(3, c1, 7, 2, 3, bias=False), nn.BatchNorm2d(c1), nn.ReLU(inplace=True),
                          nn.MaxPool2d(3, 2, 1), layer(c1, c1, 1), layer(c1, c2, 2), layer(c2, c3, 2))
    for module in trunk.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    return trunk, c3


class HypothesisNetwork(nn.Module):
    """ResNet-18 trunk (random init) + context layer + objectness and mask heads."""

    def __init__(self, config: ModelConfig | None = None):
        super().__init__()
        self.config = config or ModelConfig()
        self.trunk, channels = resnet18_trunk(self.config.trunk_width)  # no downloaded weights, by design
        k = self.config.window_cells
        self.context = nn.Sequential(
            nn.Conv2d(channels, self.config.reduce_channels, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(self.config.reduce_channels, self.config.context_channels, k, padding=k // 2),
            nn.ReLU(inplace=True),
        )
        self.objectness_head = nn.Conv2d(self.config.context_channels, 1, 1)
        self.mask_head = nn.Conv2d(self.config.context_channels, self.config.mask_size**2, 1)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def normalize(self, images_uint8_or_unit: torch.Tensor) -> torch.Tensor:
        """[B, 3, H, W] floats in [0, 1] (or uint8) -> normalised input."""
        x = images_uint8_or_unit
        if x.dtype == torch.uint8:
            x = x.float() / 255.0
        return (x - self.mean) / self.std

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised [B, 3, H, W] -> objectness logits [B, h, w], mask logits [B, m, m, h, w]."""
        features = self.context(self.trunk(x))
        objectness = self.objectness_head(features)[:, 0]
        masks = self.mask_head(features)
        b, _, h, w = masks.shape
        m = self.config.mask_size
        return objectness, masks.view(b, m, m, h, w)

    def forward_windows(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised windows [B, 3, window, window] -> objectness [B], mask logits [B, m, m]."""
        win = self.config.window
        if x.shape[-2:] != (win, win):
            raise ValueError(f"windows must be {win}x{win}, got {tuple(x.shape[-2:])}")
        objectness, masks = self.forward(x)
        c = self.config.window_cells // 2
        return objectness[:, c, c], masks[:, :, :, c, c]


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
    vs, us = np.nonzero(mask[v0:rows[-1] + 1, u0:cols[-1] + 1])  # within the bbox: much faster
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
    def from_checkpoint(cls, path) -> "HypothesisPredictor":
        from interseg.learning.trainer import load_network

        network, meta = load_network(path)
        return cls(network, version=meta.get("version", 0))

    def _network_input(self, image: np.ndarray) -> torch.Tensor:
        import cv2

        h, w = image.shape[:2]
        s = self.config.input_scale
        size = (max(STRIDE, int(round(w * s))), max(STRIDE, int(round(h * s))))
        small = cv2.resize(image, size, interpolation=cv2.INTER_AREA) if size != (w, h) else image
        x = torch.from_numpy(np.ascontiguousarray(small)).permute(2, 0, 1).unsqueeze(0)
        x = x.to(next(self.network.parameters()).device)  # wherever the network lives (CPU or GPU)
        return self.network.normalize(x).contiguous()  # channels-first memory: the fast conv path

    @torch.inference_mode()
    def predict(self, image_rgb: np.ndarray) -> list[Hypothesis]:
        """HxWx3 uint8 RGB frame -> up to ``top_k`` hypotheses, best first."""
        image_rgb = validate_rgb_image(image_rgb, self.config.expected_size)
        objectness, masks = self.network(self._network_input(image_rgb))
        return decode_hypotheses(objectness[0].cpu(), masks[0].cpu(), image_rgb.shape[:2], self.config)


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
            out[k, ya:yb, xa:xb] = window_masks[k, ya - y0:yb - y0, xa - x0:xb - x0]
    return out


def mask_iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boolean masks [N, H, W] x [M, H, W] -> [N, M]."""
    # torch's matmul uses the intra-op threads already set; numpy's BLAS would start its own
    fa = torch.from_numpy(a.reshape(len(a), -1).astype(np.float32))
    fb = torch.from_numpy(b.reshape(len(b), -1).astype(np.float32))
    inter = fa @ fb.T
    union = fa.sum(1)[:, None] + fb.sum(1)[None, :] - inter
    return (inter / union.clamp(min=1.0)).numpy()


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


def decode_hypotheses(objectness: torch.Tensor, masks: torch.Tensor, image_shape: tuple[int, int],
                      config: ModelConfig) -> list[Hypothesis]:
    """Dense output of one image (objectness [h, w], masks [m, m, h, w]) -> hypotheses.

    NMS runs on masks pasted at a quarter of the network resolution (IoU does not need pixel
    precision, and it keeps decoding a few milliseconds); only the survivors are pasted at full
    resolution.
    """
    height, width = image_shape
    h, w = objectness.shape
    scores = torch.sigmoid(objectness).reshape(-1)
    n = min(config.pre_nms, scores.numel())
    top_scores, top_idx = torch.topk(scores, n)
    rows, cols = top_idx // w, top_idx % w
    logits = masks.reshape(config.mask_size, config.mask_size, -1)[:, :, top_idx].permute(2, 0, 1)[:, None]
    threshold_logit = math.log(config.mask_threshold / (1 - config.mask_threshold))

    coarse = 4  # NMS canvas: network resolution / 4
    net_h, net_w = h * STRIDE // coarse, w * STRIDE // coarse
    side = config.window // coarse
    small = F.interpolate(logits, size=(side, side), mode="bilinear", align_corners=False)
    small_masks = _paste(small[:, 0].numpy() > threshold_logit,
                         _window_boxes(rows, cols, 1.0 / coarse, config.window), net_h, net_w)
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
    big = F.interpolate(logits[kept_t], size=(full, full), mode="bilinear", align_corners=False)
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
