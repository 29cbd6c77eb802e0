"""The hypothesis network: a DeepMask-like segmenter computed densely in one forward pass.

A randomly initialised ResNet-18 trunk (up to ``layer3``, stride 16, as DeepMask) feeds a shared
context layer whose kernel spans one window (``window / stride`` cells), so that each feature
location sees the whole window it speaks for. Two 1x1 heads read it:

* objectness: one logit per location, "is the centre of this window on an object?";
* mask: ``mask_size * mask_size`` logits per location, the object's mask inside the window.

With ``refine`` (a SharpMask-like refinement), each window's coarse mask is refined with the trunk's
stride-8 and stride-4 features of that window (local edges the single context vector cannot carry):
two small convolutional stages, the coarse mask added back as a residual.

Training uses single windows (``forward_windows``): the location at the window centre is the one
trained. Inference runs the same layers over the whole downscaled frame (``forward``), then
:class:`interseg.learning.predictor.HypothesisPredictor` decodes the top locations into
full-resolution masks, removes duplicates by mask IoU and derives a grasp for each survivor.
Checkpoints (save, load, inspect) are :mod:`interseg.learning.checkpoint`'s.

Geometry (see the package docstring for the scale convention): at network scale, location
(row i, column j) is the window of ``window`` pixels centred on the pixel-centre coordinate
``(stride * j + stride / 2 - 0.5, stride * i + stride / 2 - 0.5)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
STRIDE = 16


# What a checkpoint's weights are only meaningful with: the layers' shapes and the image geometry.
ARCHITECTURE_FIELDS = (
    "input_scale",
    "window",
    "mask_size",
    "trunk_width",
    "context_channels",
    "reduce_channels",
    "refine",
    "refine_channels",
    "expected_size",
)


@dataclass
class ModelConfig:
    """Everything needed to rebuild the network and decode its output (saved in checkpoints)."""

    input_scale: float = 0.5  # network resolution / camera resolution; 0.5 keeps 640x480 < 60 ms
    # window side at network scale (an odd multiple of the stride): 80 holds every test object
    # (at 320 px wide their longest side is at most ~65 px, median 35) with the mask's cells on it;
    # 112 left them a third of the window (benchmarks/results/masks)
    window: int = 80
    mask_size: int = 32  # side of the predicted window mask (upsampled when pasted)
    # ResNet-18 channel multiplier: 0.5 costs about a quarter of 1.0 per step, which on a CPU budget
    # buys four times the steps (benchmarks/results/learning.json); checkpoints without it are 1.0
    trunk_width: float = 0.5
    context_channels: int = 128
    reduce_channels: int = 64
    refine: bool = True  # refine each window's mask with the stride-8 and stride-4 features
    refine_channels: int = 32
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

    def architecture(self) -> dict:
        """The fields the weights depend on (``ARCHITECTURE_FIELDS``)."""
        return {k: v for k, v in self.to_dict().items() if k in ARCHITECTURE_FIELDS}

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown model config keys {sorted(unknown)}")
        data = dict(data)
        data.setdefault("trunk_width", 1.0)  # written before the width was configurable
        data.setdefault("refine", False)  # written before the refinement existed
        if data.get("expected_size") is not None:
            data["expected_size"] = tuple(data["expected_size"])
        return cls(**data)


def resnet18_trunk(width: float = 1.0) -> tuple[nn.Sequential, int]:
    """ResNet-18 up to ``layer3`` (stride 16) with its channels scaled by ``width``, randomly
    initialised as torchvision initialises ResNets. At width 1 the modules and parameter names
    are those of ``torchvision.models.resnet18`` (conv1, bn1, relu, maxpool, layer1-3).
    Returns the trunk and its output channels (``trunk_channels`` gives every stage's)."""
    from torchvision.models.resnet import BasicBlock, conv1x1

    c1, c2, c3 = trunk_channels(width)

    def layer(cin: int, cout: int, stride: int) -> nn.Sequential:
        down = None if stride == 1 and cin == cout else nn.Sequential(conv1x1(cin, cout, stride), nn.BatchNorm2d(cout))
        return nn.Sequential(BasicBlock(cin, cout, stride, down), BasicBlock(cout, cout))

    trunk = nn.Sequential(
        nn.Conv2d(3, c1, 7, 2, 3, bias=False),
        nn.BatchNorm2d(c1),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, 2, 1),
        layer(c1, c1, 1),
        layer(c1, c2, 2),
        layer(c2, c3, 2),
    )
    for module in trunk.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    return trunk, c3


def trunk_channels(width: float) -> tuple[int, int, int]:
    """Channels of the trunk's stride-4, stride-8 and stride-16 stages (layer1, layer2, layer3)."""
    c1, c2, c3 = (max(8, int(round(64 * width * m))) for m in (1, 2, 4))
    return c1, c2, c3


class MaskRefiner(nn.Module):
    """Coarse window masks [B, m, m] + the windows' stride-8 [B, c8, w/8, w/8] and stride-4
    [B, c4, w/4, w/4] features -> refined mask logits [B, m, m]."""

    def __init__(self, c4: int, c8: int, mask_size: int, channels: int):
        super().__init__()
        self.mask_size = mask_size
        self.skip8 = nn.Sequential(nn.Conv2d(c8, channels, 1), nn.ReLU(inplace=True))
        self.skip4 = nn.Sequential(nn.Conv2d(c4, channels, 1), nn.ReLU(inplace=True))
        self.stage8 = nn.Sequential(
            nn.Conv2d(channels + 1, channels, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.ReLU(inplace=True),
        )
        self.stage4 = nn.Sequential(
            nn.Conv2d(2 * channels, channels, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(channels, 1, 3, padding=1)
        )

    def forward(self, f4: torch.Tensor, f8: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        def resized(t: torch.Tensor, side: int) -> torch.Tensor:
            return F.interpolate(t, size=(side, side), mode="bilinear", align_corners=False)

        coarse = coarse[:, None]
        h = self.stage8(torch.cat([self.skip8(f8), resized(coarse, f8.shape[-1])], 1))
        side4 = f4.shape[-1]
        out = self.stage4(torch.cat([self.skip4(f4), resized(h, side4)], 1)) + resized(coarse, side4)
        return resized(out, self.mask_size)[:, 0]


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
        c4, c8, _ = trunk_channels(self.config.trunk_width)
        self.refiner = (
            MaskRefiner(c4, c8, self.config.mask_size, self.config.refine_channels) if self.config.refine else None
        )
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def normalize(self, images_uint8_or_unit: torch.Tensor) -> torch.Tensor:
        """[B, 3, H, W] floats in [0, 1] (or uint8) -> normalised input."""
        x = images_uint8_or_unit
        if x.dtype == torch.uint8:
            x = x.float() / 255.0
        return (x - self.mean) / self.std

    def trunk_stages(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Normalised [B, 3, H, W] -> the trunk's stride-4, stride-8 and stride-16 features."""
        f4 = self.trunk[:5](x)
        f8 = self.trunk[5](f4)
        return f4, f8, self.trunk[6](f8)

    def heads(self, f16: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Stride-16 features -> objectness logits [B, h, w], coarse mask logits [B, m, m, h, w]."""
        features = self.context(f16)
        objectness = self.objectness_head(features)[:, 0]
        masks = self.mask_head(features)
        b, _, h, w = masks.shape
        m = self.config.mask_size
        return objectness, masks.view(b, m, m, h, w)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised [B, 3, H, W] -> objectness logits [B, h, w], coarse mask logits [B, m, m, h, w]
        (the refinement, when configured, runs on chosen windows: :meth:`refine_cells`)."""
        return self.heads(self.trunk(x))

    def forward_windows(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised windows [B, 3, window, window] -> objectness [B], mask logits [B, m, m]
        (refined when configured)."""
        win = self.config.window
        if x.shape[-2:] != (win, win):
            raise ValueError(f"windows must be {win}x{win}, got {tuple(x.shape[-2:])}")
        f4, f8, f16 = self.trunk_stages(x)
        objectness, masks = self.heads(f16)
        c = self.config.window_cells // 2
        objectness, masks = objectness[:, c, c], masks[:, :, :, c, c]
        if self.refiner is not None:
            masks = self.refiner(f4, f8, masks)
        return objectness, masks

    def refine_cells(
        self, f4: torch.Tensor, f8: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, coarse: torch.Tensor
    ) -> torch.Tensor:
        """Refine the coarse masks [K, m, m] of the windows at cells (rows, cols) of one frame whose
        trunk features are f4 [1, c4, ., .] and f8 [1, c8, ., .]: each window's features are cut
        out exactly (the window's edges fall on feature cells) and refined as in training."""
        return self.refiner(
            window_features(f4, rows, cols, 4, self.config.window),
            window_features(f8, rows, cols, 8, self.config.window),
            coarse,
        )


def window_features(features: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, stride: int, window: int):
    """The [K, C, window/stride, window/stride] features of one frame's [1, C, H, W] map at
    ``stride`` under the windows centred on the stride-16 cells (rows, cols).

    The window's edges fall on feature cells, so this is a plain cut (indexing, which exports to
    ONNX as it is). Cells beyond the map read as torchvision's aligned ``roi_align`` with one
    sample per cell reads them: the first cell outside repeats the edge, the ones after are 0.
    """
    side = window // stride
    pad = side + 1
    padded = F.pad(F.pad(features, (1, 1, 1, 1), mode="replicate"), (side, side, side, side))
    offset = torch.arange(side, device=features.device)
    x0 = (cols.long() * STRIDE + STRIDE // 2 - window // 2) // stride + pad
    y0 = (rows.long() * STRIDE + STRIDE // 2 - window // 2) // stride + pad
    ys, xs = y0[:, None] + offset[None, :], x0[:, None] + offset[None, :]
    cut = padded[0][:, ys[:, :, None], xs[:, None, :]]  # [C, K, side, side]
    return cut.permute(1, 0, 2, 3)
