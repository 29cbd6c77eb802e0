"""Domain randomisation for training arenas: what a network trained in the simulator has never seen
on real photos, drawn anew at every reset so that it cannot lean on it.

Per reset (all from the arena's seed, so a run repeats exactly):

- the table's texture: instead of the split's procedural background, a "photo-like" texture, with
  the statistics of natural images rather than of clean patterns: a luminance field whose power
  spectrum falls as 1/f^alpha (alpha 1.2-2.2; natural images sit near 2), colour
  carried by two smoother chroma fields, optionally over a structure real tables have (wood grain,
  tiles with grout, a woven cloth), with specks;
- clutter the robot is not asked about: flat and low things (paper, tape, tools, cables' shapes)
  on the table's margins, outside where objects are dropped, and boxes and cylinders on the floor
  beyond the table's edge. They do not collide and are never objects of the ground truth;
- the lights' intensity and colour, and each camera's exposure, blur and noise level.

Evaluation never randomises: the paper's splits (unseen objects and backgrounds) stay as they are;
:meth:`RealismConfig.strongest` is the hardest setting of the per-frame camera model to test on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class RandomisationConfig:
    enabled: bool = False
    table_clutter: tuple[int, int] = (2, 8)  # flat or low things on the table's margins
    floor_clutter: tuple[int, int] = (2, 6)  # boxes and cylinders beyond the table's edge
    light_intensity: tuple[float, float] = (0.55, 1.45)  # scale of every light's diffuse term
    light_tint: float = 0.12  # per-channel relative spread of the lights' colour
    exposure: tuple[float, float] = (0.8, 1.2)  # a camera's gain for the whole reset
    blur_sigma_px: tuple[float, float] = (0.0, 1.2)  # Gaussian blur at 640 px wide (scaled with width)
    noise_scale: tuple[float, float] = (0.5, 3.0)  # multiplies the realism model's read and shot noise

    def __post_init__(self) -> None:
        for name in ("table_clutter", "floor_clutter", "light_intensity", "exposure", "blur_sigma_px", "noise_scale"):
            low, high = getattr(self, name)
            if not 0 <= low <= high:
                raise ValueError(f"randomisation {name} must be a range 0 <= low <= high, got {(low, high)}")


@dataclass(frozen=True)
class Clutter:
    """One static, non-colliding thing of the scene that is not an object."""

    geom_type: str  # "box" or "cylinder"
    pos: tuple[float, float, float]
    size: tuple[float, float, float]  # MuJoCo geom size (half extents; cylinder: radius, half height)
    yaw: float
    rgb: tuple[float, float, float]


@dataclass
class SceneVariation:
    """What one reset draws (see the module docstring)."""

    table_texture: np.ndarray | None = None
    clutter: list[Clutter] = field(default_factory=list)
    light_scale: float = 1.0
    light_tint: tuple[float, float, float] = (1.0, 1.0, 1.0)
    exposure: list[float] = field(default_factory=list)  # per camera
    blur_sigma_px: list[float] = field(default_factory=list)  # per camera, at the arena's width
    noise_scale: list[float] = field(default_factory=list)  # per camera


def _pink(rng: np.random.Generator, size: int, alpha: float) -> np.ndarray:
    """A field in [0, 1] whose power spectrum falls as 1/f^alpha (random phases; amplitudes
    1/f^(alpha/2)), stretched between its 1st and 99th percentiles."""
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    f[0, 0] = 1.0
    spectrum = (rng.standard_normal(f.shape) + 1j * rng.standard_normal(f.shape)) / f ** (alpha / 2)
    spectrum[0, 0] = 0.0
    field_ = np.fft.irfft2(spectrum, s=(size, size)).astype(np.float32)
    lo, hi = np.percentile(field_, [1, 99])
    return np.clip((field_ - lo) / max(hi - lo, 1e-6), 0, 1)


def photo_like_texture(rng: np.random.Generator, size: int = 512) -> np.ndarray:
    """An RGB uint8 table texture with natural-image statistics (see the module docstring)."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    luminance = _pink(rng, size, rng.uniform(1.2, 2.2))
    structure = rng.choice(["none", "grain", "tiles", "weave"], p=[0.35, 0.25, 0.2, 0.2])
    if structure == "grain":
        angle = rng.uniform(0, np.pi)
        u = np.cos(angle) * x + np.sin(angle) * y
        rings = 0.5 + 0.5 * np.sin(2 * np.pi * (rng.uniform(8, 30) * u + 2.5 * _pink(rng, size, 2.5)))
        luminance = 0.55 * luminance + 0.45 * rings**2
    elif structure == "tiles":
        n = rng.uniform(3, 10)
        gx, gy = (x * n) % 1, (y * n) % 1
        grout = (np.minimum(np.minimum(gx, 1 - gx), np.minimum(gy, 1 - gy)) < rng.uniform(0.02, 0.06)).astype(
            np.float32
        )
        luminance = (1 - grout) * (0.7 * luminance + 0.3 * rng.random()) + grout * rng.uniform(0.1, 0.9)
    elif structure == "weave":
        f = rng.uniform(30, 90)
        weave = 0.5 + 0.25 * np.sin(2 * np.pi * f * x) * np.sign(np.sin(2 * np.pi * f / 2 * y))
        luminance = 0.6 * luminance + 0.4 * weave
    specks = rng.random((size, size)) < rng.uniform(0.0, 0.01)
    luminance = np.where(specks, rng.random((size, size)).astype(np.float32), luminance)
    contrast = rng.uniform(0.15, 0.9)
    mean = rng.uniform(0.2, 0.85)
    luminance = np.clip(mean + contrast * (luminance - 0.5), 0, 1)
    # Colour: a base hue and saturation (real tables are mostly low-saturation), with the chroma
    # varying more smoothly than the luminance, as in photographs.
    import colorsys

    base = np.asarray(colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.0, 0.6) ** 1.5, 1.0), np.float32)
    chroma = np.stack([_pink(rng, size, 3.0) for _ in range(2)], -1) - 0.5
    tint = base[None, None, :] + rng.uniform(0.0, 0.25) * np.concatenate([chroma, -chroma.sum(-1, keepdims=True)], -1)
    image = luminance[..., None] * np.clip(tint, 0, 1.5) / max(float(base.max()), 1e-3)
    return (np.clip(image, 0, 1) * 255).astype(np.uint8)


def _clutter(rng: np.random.Generator, count_table: int, count_floor: int) -> list[Clutter]:
    from interseg.sim.scene import FLOOR_Z, TABLE_X, TABLE_Y

    keep_out_x, keep_out_y = (0.33, 0.75), (-0.28, 0.28)  # the drop area with a margin
    things: list[Clutter] = []
    while len(things) < count_table:
        xy = (rng.uniform(TABLE_X[0] + 0.03, TABLE_X[1] - 0.03), rng.uniform(TABLE_Y[0] + 0.03, TABLE_Y[1] - 0.03))
        if keep_out_x[0] < xy[0] < keep_out_x[1] and keep_out_y[0] < xy[1] < keep_out_y[1]:
            continue
        flat = rng.random() < 0.6
        half = (rng.uniform(0.02, 0.12), rng.uniform(0.005, 0.06), rng.uniform(0.0008, 0.002) if flat else 0.015)
        things.append(_thing(rng, "box", (xy[0], xy[1], half[2]), half))
    for _ in range(count_floor):
        side = rng.choice(["front", "left", "right"])
        if side == "front":
            xy = (rng.uniform(TABLE_X[1] + 0.05, TABLE_X[1] + 0.45), rng.uniform(-0.8, 0.8))
        else:
            sign = 1.0 if side == "left" else -1.0
            xy = (rng.uniform(0.0, 1.3), sign * rng.uniform(TABLE_Y[1] + 0.05, TABLE_Y[1] + 0.45))
        half_height = rng.uniform(0.05, 0.35)
        if rng.random() < 0.5:
            size = (rng.uniform(0.05, 0.2), rng.uniform(0.05, 0.2), half_height)
            things.append(_thing(rng, "box", (xy[0], xy[1], FLOOR_Z + half_height), size))
        else:
            size = (rng.uniform(0.04, 0.15), half_height, 0.0)
            things.append(_thing(rng, "cylinder", (xy[0], xy[1], FLOOR_Z + half_height), size))
    return things


def _thing(rng, geom_type: str, pos, size) -> Clutter:
    import colorsys

    rgb = colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.0, 0.9), rng.uniform(0.15, 0.95))
    return Clutter(
        geom_type, tuple(float(v) for v in pos), tuple(float(v) for v in size), float(rng.uniform(0, np.pi)), rgb
    )


def draw_variation(config: RandomisationConfig, rng: np.random.Generator, cameras: int, width: int) -> SceneVariation:
    """One reset's variation (nothing varies when ``config.enabled`` is off)."""
    if not config.enabled:
        return SceneVariation(exposure=[1.0] * cameras, blur_sigma_px=[0.0] * cameras, noise_scale=[1.0] * cameras)
    table = int(rng.integers(config.table_clutter[0], config.table_clutter[1] + 1))
    floor = int(rng.integers(config.floor_clutter[0], config.floor_clutter[1] + 1))
    return SceneVariation(
        table_texture=photo_like_texture(rng),
        clutter=_clutter(rng, table, floor),
        light_scale=float(rng.uniform(*config.light_intensity)),
        light_tint=tuple(float(v) for v in 1.0 + rng.uniform(-1, 1, 3) * config.light_tint),
        exposure=[float(rng.uniform(*config.exposure)) for _ in range(cameras)],
        blur_sigma_px=[float(rng.uniform(*config.blur_sigma_px)) * width / 640 for _ in range(cameras)],
        noise_scale=[float(rng.uniform(*config.noise_scale)) for _ in range(cameras)],
    )
