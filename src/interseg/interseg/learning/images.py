"""Input validation shared by the network, the labeller and the store (no torch import, so the
store and the labeller stay light for readers in other processes)."""

from __future__ import annotations

import numpy as np


def validate_rgb_image(image, expected_size: tuple[int, int] | None = None, name: str = "image") -> np.ndarray:
    """Reject what is not an HxWx3 uint8 RGB array (with the size expected, if given)."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f"{name} must be a numpy array (H, W, 3) uint8 RGB, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(f"{name} must have dtype uint8 (rgb8 encoding), got {image.dtype}")
    if image.ndim != 3 or image.shape[2] != 3:
        hint = " (4 channels: convert RGBA/BGRA to RGB first)" if image.ndim == 3 and image.shape[2] == 4 else ""
        raise ValueError(f"{name} must have shape (H, W, 3) RGB, got {image.shape}{hint}")
    h, w = image.shape[:2]
    if h < 32 or w < 32:
        raise ValueError(f"{name} is too small ({w}x{h}); at least 32x32 is needed")
    if expected_size is not None and (w, h) != tuple(expected_size):
        raise ValueError(f"{name} is {w}x{h}, the model expects {expected_size[0]}x{expected_size[1]}")
    return image
