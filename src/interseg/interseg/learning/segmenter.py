"""A trained network run on images of any size, for uses outside the loop (`interseg segment`,
`interseg evaluate-images`, the hypotheses node's `segment` service; :func:`interseg.use.models.load`
opens checkpoints and exported files).

The network is trained at one image size (``ModelConfig.expected_size``, the camera's); an image
of another size is resized to it (the caller is told, once per size) and the hypotheses' masks
are resized back, so that masks, grasps and label images are always in the input's pixels. With
``resize=False`` another size is refused instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from interseg.learning.hypothesis import Hypothesis, hypothesis_from_mask
from interseg.learning.images import validate_rgb_image
from interseg.learning.prf_metrics import label_image


class ImageSizeError(ValueError):
    """An image of another size than the network's, with resizing turned off."""


@dataclass
class Segmentation:
    hypotheses: list[Hypothesis]  # best first, masks at the input image's size
    size: tuple[int, int]  # (width, height) of the input image
    resized_from: tuple[int, int] | None = None  # the input's size when it was resized to the network's

    def labels(self, min_score: float = 0.5) -> np.ndarray:
        """uint16 label image of the hypotheses scoring at least ``min_score`` (id 1 = best)."""
        kept = [h for h in self.hypotheses if h.score >= min_score]
        return label_image([h.mask for h in kept], [h.score for h in kept], (self.size[1], self.size[0]))


class Segmenter:
    """Wraps a predictor (``predict(rgb) -> hypotheses`` at its ``expected_size``)."""

    def __init__(self, predictor, resize: bool = True, warn: Callable[[str], None] | None = None):
        self.predictor = predictor
        self.resize = resize
        self.warn = warn or (lambda message: None)
        self._warned: set[tuple[int, int]] = set()

    @property
    def expected_size(self) -> tuple[int, int] | None:
        return self.predictor.config.expected_size

    def segment(self, image_rgb: np.ndarray) -> Segmentation:
        image_rgb = validate_rgb_image(image_rgb)
        height, width = image_rgb.shape[:2]
        expected = self.expected_size
        if expected is None or (width, height) == tuple(expected):
            return Segmentation(self.predictor.predict(image_rgb), (width, height))
        if not self.resize:
            raise ImageSizeError(
                f"image is {width}x{height}, the network was trained on {expected[0]}x{expected[1]} "
                "(allow resizing, or bring images of that size)"
            )
        if (width, height) not in self._warned:
            self._warned.add((width, height))
            self.warn(f"images of {width}x{height} are resized to the network's {expected[0]}x{expected[1]}")
        small = cv2.resize(image_rgb, tuple(expected), interpolation=cv2.INTER_AREA)
        hypotheses = []
        for h in self.predictor.predict(small):
            mask = cv2.resize(h.mask.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST) > 0
            if mask.any():
                hypotheses.append(hypothesis_from_mask(mask, h.score, h.source))
        return Segmentation(hypotheses, (width, height), resized_from=(width, height))
