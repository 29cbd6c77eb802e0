"""Images for the tests of the commands that use a trained network."""

import cv2
import numpy as np


def photo(seed: int, size=(320, 240)) -> np.ndarray:
    """An RGB image with a few coloured blobs on a textured background."""
    rng = np.random.default_rng(seed)
    width, height = size
    image = rng.integers(90, 140, (height, width, 3), dtype=np.uint8)
    for _ in range(4):
        centre = (int(rng.integers(20, width - 20)), int(rng.integers(20, height - 20)))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        cv2.circle(image, centre, int(rng.integers(8, 25)), colour, -1)
    return image


def write_rgb(path, image) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.ascontiguousarray(image[..., ::-1]))
