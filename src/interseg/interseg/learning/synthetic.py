"""A tiny procedural tabletop renderer for tests and benchmarks of the learning core.

Flat objects (ellipses and boxes) lie on a textured table plane (z = 0); each calibrated camera
renders them by intersecting its pixel rays with the plane, so all views are geometrically
consistent and every instance mask is known exactly. Soft shadows, a global lighting gain and
sensor noise make differencing realistic enough to test robustness. This is generated data for
unit tests, independent of the MuJoCo simulator (whose ground truth the learning code never
touches).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from interseg.geometry import PinholeCamera, look_at

TABLE_HALF_SIZE = 0.5  # metres: the texture covers [-0.5, 0.5]^2


@dataclass(frozen=True)
class FlatObject:
    x: float
    y: float
    half_length: float  # metres, along the object's yaw
    half_width: float
    yaw: float
    colour: tuple[int, int, int]
    shape: str = "ellipse"  # or "box"

    def contains(self, px: np.ndarray, py: np.ndarray) -> np.ndarray:
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        dx, dy = px - self.x, py - self.y
        a = (c * dx + s * dy) / self.half_length
        b = (-s * dx + c * dy) / self.half_width
        if self.shape == "box":
            return (np.abs(a) <= 1) & (np.abs(b) <= 1)
        return a * a + b * b <= 1

    def moved_to(self, x: float, y: float) -> FlatObject:
        return replace(self, x=x, y=y)


def table_texture(seed: int, size: int = 512) -> np.ndarray:
    """An RGB texture (uint8) for the table: blotches plus fine grain, reproducible by seed."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(60, 190, size=3)
    coarse = cv2.GaussianBlur(rng.normal(0, 1, (size, size, 3)).astype(np.float32), (0, 0), 12)
    coarse /= coarse.std() + 1e-6
    fine = cv2.GaussianBlur(rng.normal(0, 1, (size, size, 1)).astype(np.float32), (0, 0), 1.2)
    fine /= fine.std() + 1e-6
    texture = base + 18 * coarse + 10 * fine[..., None]
    return np.clip(texture, 0, 255).astype(np.uint8)


def default_cameras(width: int = 640, height: int = 480) -> list[PinholeCamera]:
    """Four views of the table's centre: one from above and three oblique ones."""
    eyes = [(0.0, -0.05, 0.9), (0.6, 0.0, 0.6), (-0.5, 0.35, 0.65), (0.0, 0.6, 0.55)]
    return [
        PinholeCamera.from_fov(f"cam{i}", width, height, 50.0, look_at(np.array(eye), np.zeros(3)))
        for i, eye in enumerate(eyes)
    ]


def random_objects(rng: np.random.Generator, count: int, min_separation: float = 0.13) -> list[FlatObject]:
    objects: list[FlatObject] = []
    attempts = 0
    while len(objects) < count and attempts < 500:
        attempts += 1
        x, y = rng.uniform(-0.22, 0.22, size=2)
        if any(np.hypot(x - o.x, y - o.y) < min_separation for o in objects):
            continue
        length = rng.uniform(0.03, 0.06)
        objects.append(
            FlatObject(
                float(x),
                float(y),
                float(length),
                float(length * rng.uniform(0.45, 1.0)),
                float(rng.uniform(-np.pi, np.pi)),
                tuple(int(c) for c in rng.integers(0, 256, 3)),
                str(rng.choice(["ellipse", "box"])),
            )
        )
    return objects


def render(
    camera: PinholeCamera,
    objects: list[FlatObject],
    texture: np.ndarray,
    *,
    shadow_offset: tuple[float, float] | None = None,
    shadow_strength: float = 0.55,
    gain: float = 1.0,
    noise_sigma: float = 0.0,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """RGB uint8 image and one boolean mask per object (visible pixels) for one camera."""
    h, w = camera.height, camera.width
    us, vs = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    points = camera.intersect_plane_z(np.stack([us.ravel(), vs.ravel()], axis=1), 0.0)
    px = points[:, 0].reshape(h, w)
    py = points[:, 1].reshape(h, w)
    size = texture.shape[0]
    map_x = ((px + TABLE_HALF_SIZE) / (2 * TABLE_HALF_SIZE) * size).astype(np.float32)
    map_y = ((py + TABLE_HALF_SIZE) / (2 * TABLE_HALF_SIZE) * size).astype(np.float32)
    image = cv2.remap(texture, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT).astype(np.float32)
    valid = np.isfinite(px)
    shade = np.ones((h, w), np.float32)
    if shadow_offset is not None:
        shadow = np.zeros((h, w), np.float32)
        for obj in objects:
            shadow[valid & obj.moved_to(obj.x + shadow_offset[0], obj.y + shadow_offset[1]).contains(px, py)] = 1
        shadow = cv2.GaussianBlur(shadow, (0, 0), 2.0 * w / 640)
        shade -= shadow_strength * shadow
    owner = np.full((h, w), -1, np.int32)
    for k, obj in enumerate(objects):
        inside = valid & obj.contains(px, py)
        owner[inside] = k
    for k, obj in enumerate(objects):
        here = owner == k
        # a faint radial shading so objects are not perfectly flat colour
        grain = 1.0 + 0.06 * np.cos(40 * (px[here] - obj.x)) * np.cos(40 * (py[here] - obj.y))
        image[here] = np.asarray(obj.colour, np.float32)[None] * grain[:, None]
        shade[here] = 1.0  # shadows fall on the table, not on the object's own top
    image *= shade[..., None] * gain
    if noise_sigma > 0:
        rng = rng or np.random.default_rng()
        image += rng.normal(0, noise_sigma, image.shape).astype(np.float32)
    masks = [owner == k for k in range(len(objects))]
    return np.clip(image, 0, 255).astype(np.uint8), masks
