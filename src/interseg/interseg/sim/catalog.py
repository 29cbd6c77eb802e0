"""Objects, table backgrounds and the paper's disjoint splits, all generated from fixed seeds.

The paper used 36 training / 8 validation / 15 test objects and 24 / 6 / 10 table backgrounds.
Here every object and background is procedural: its id seeds its own random generator, so the
catalogue is identical on every machine without shipping asset files, and the split of ids is a
fixed permutation (``SPLIT_SEED``). Objects are made hard for colour grouping on purpose:
several parts of different colours, striped/checkered/dotted parts, composite shapes (L, T,
dumbbell, stacks), elongated bars, flat plates, round cylinders and balls, plus small meshes
from pybullet's ``random_urdfs`` when pybullet_data is installed. Backgrounds and objects draw
their colours from one shared palette, so some tables are close in colour to some objects.
"""

from __future__ import annotations

import colorsys
import importlib.util
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path

import numpy as np

SPLIT_SEED = 20180618  # fixed: the splits must never change between runs or machines
OBJECT_SPLIT_SIZES = {"train": 36, "val": 8, "test": 15}
BACKGROUND_SPLIT_SIZES = {"train": 24, "val": 6, "test": 10}
SPLITS = ("train", "val", "test")

NUM_OBJECTS = sum(OBJECT_SPLIT_SIZES.values())
NUM_BACKGROUNDS = sum(BACKGROUND_SPLIT_SIZES.values())

OBJECT_KINDS = ("block", "bar", "plate", "cylinder", "ball", "l_shape", "t_shape", "dumbbell", "stack", "mesh")
BACKGROUND_KINDS = ("wood", "cloth", "noise", "stripes", "checker", "dots", "marble", "grain")
PART_PATTERNS = ("plain", "plain", "stripes", "checker", "dots")

# Hues shared by objects and tables (degrees): tables close in colour to some objects.
PALETTE_HUES = (0, 25, 45, 60, 90, 130, 170, 200, 220, 260, 300, 330)

MAX_GRASP_WIDTH = 0.065  # metres across the fingers; the Panda opens to 0.08


@dataclass(frozen=True)
class PartSpec:
    """One rigid primitive of an object, in the object's frame (MuJoCo geom conventions)."""

    geom_type: str  # "box", "cylinder", "sphere", "capsule", "ellipsoid" or "mesh"
    size: tuple[float, ...]  # MuJoCo half sizes; for meshes the uniform scale
    pos: tuple[float, float, float] = (0.0, 0.0, 0.0)
    euler: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rgb: tuple[float, float, float] = (0.5, 0.5, 0.5)
    pattern: str = "plain"  # plain / stripes / checker / dots (a texture with a second colour)
    rgb2: tuple[float, float, float] = (0.0, 0.0, 0.0)
    pattern_scale: int = 4
    mesh_file: str | None = None


@dataclass(frozen=True)
class ObjectSpec:
    object_id: int
    name: str
    kind: str
    parts: tuple[PartSpec, ...]
    mass: float
    footprint_radius: float  # radius of a disc covering the object seen from above, metres
    height: float  # resting height above the table, metres


@dataclass(frozen=True)
class BackgroundSpec:
    background_id: int
    name: str
    kind: str
    rgb: tuple[float, float, float]
    rgb2: tuple[float, float, float]
    frequency: float  # pattern cycles across the table
    contrast: float
    seed: int = field(default=0)


def _colour(rng: np.random.Generator, hue_deg: float | None = None) -> tuple[float, float, float]:
    hue = (hue_deg if hue_deg is not None else float(rng.choice(PALETTE_HUES))) + rng.normal(0, 6)
    sat = rng.uniform(0.35, 0.95)
    val = rng.uniform(0.35, 0.95)
    return tuple(float(c) for c in colorsys.hsv_to_rgb((hue % 360) / 360.0, sat, val))


def _part(
    rng: np.random.Generator,
    geom_type: str,
    size,
    pos=(0.0, 0.0, 0.0),
    euler=(0.0, 0.0, 0.0),
    pattern: str | None = None,
) -> PartSpec:
    pattern = pattern if pattern is not None else str(rng.choice(PART_PATTERNS))
    return PartSpec(
        geom_type,
        tuple(float(s) for s in size),
        tuple(float(p) for p in pos),
        tuple(float(e) for e in euler),
        _colour(rng),
        pattern,
        _colour(rng),
        int(rng.integers(2, 7)),
    )


@lru_cache(maxsize=1)
def _random_meshes() -> tuple[str, ...]:
    """Small OBJ meshes shipped by pybullet_data (empty when it is not installed)."""
    spec = importlib.util.find_spec("pybullet_data")
    if spec is None or spec.origin is None:
        return ()
    root = Path(spec.origin).parent / "random_urdfs"
    paths = sorted(root.glob("*/[0-9][0-9][0-9].obj"))
    return tuple(str(p) for p in paths if _usable_mesh(p))


def _usable_mesh(path: Path) -> bool:
    """Single-part meshes with finite vertices: MuJoCo reads one object per OBJ file."""
    lines = path.read_text().splitlines()
    if sum(line.startswith("o ") for line in lines) > 1:
        return False
    vertices = np.array([[float(v) for v in line.split()[1:4]] for line in lines if line.startswith("v ")])
    return vertices.size > 0 and bool(np.all(np.isfinite(vertices)))


@cache
def _mesh_extent(path: str) -> np.ndarray:
    vertices = [list(map(float, line.split()[1:4])) for line in open(path) if line.startswith("v ")]
    v = np.asarray(vertices)
    return v.max(axis=0) - v.min(axis=0)


def make_object(object_id: int) -> ObjectSpec:
    """The object with this id (0 .. NUM_OBJECTS-1), identical on every call."""
    if not 0 <= object_id < NUM_OBJECTS:
        raise ValueError(f"object id {object_id} outside 0..{NUM_OBJECTS - 1}")
    rng = np.random.default_rng(1_000 + object_id)
    kind = OBJECT_KINDS[object_id % len(OBJECT_KINDS)]
    u = rng.uniform
    parts: list[PartSpec]
    if kind == "mesh" and not _random_meshes():
        kind = "t_shape"  # deterministic fallback without pybullet_data
    if kind == "block":
        a, b, c = u(0.018, 0.03), u(0.015, 0.028), u(0.015, 0.03)
        parts = [_part(rng, "box", (a, b, c), (0, 0, c))]
        if rng.random() < 0.6:  # a differently coloured cap: one object, two colours
            parts.append(_part(rng, "box", (a, b, 0.006), (0, 0, 2 * c + 0.006)))
    elif kind == "bar":
        length, w, h = u(0.045, 0.07), u(0.012, 0.02), u(0.012, 0.022)  # total length 2 x length
        parts = [
            _part(rng, "box", (length * 0.5, w, h), (-length * 0.5, 0, h)),
            _part(rng, "box", (length * 0.5, w, h), (length * 0.5, 0, h)),
        ]
    elif kind == "plate":
        r, h = u(0.035, 0.05), u(0.008, 0.012)
        if rng.random() < 0.5:
            parts = [_part(rng, "cylinder", (r, h), (0, 0, h))]
        else:
            parts = [_part(rng, "box", (r, r * u(0.6, 1.0), h), (0, 0, h))]
        parts.append(_part(rng, "cylinder", (r * 0.45, 0.002), (0, 0, 2 * h + 0.002), pattern="plain"))
    elif kind == "cylinder":
        r, h = u(0.016, 0.028), u(0.025, 0.05)
        parts = [_part(rng, "cylinder", (r, h), (0, 0, h))]
        if rng.random() < 0.5:
            parts.append(_part(rng, "cylinder", (r * 1.02, h * 0.25), (0, 0, h * 0.6), pattern="plain"))
    elif kind == "ball":
        r = u(0.022, 0.03)
        parts = [_part(rng, "ellipsoid", (r, r, r * 0.8), (0, 0, r * 0.8))]
    elif kind == "l_shape":
        length, w, h = u(0.045, 0.07), u(0.012, 0.018), u(0.012, 0.02)
        parts = [
            _part(rng, "box", (length * 0.5, w, h), (0, 0, h)),
            _part(rng, "box", (w, length * 0.35, h), (length * 0.5 - w, length * 0.35 + w, h)),
        ]
    elif kind == "t_shape":
        length, w, h = u(0.05, 0.075), u(0.012, 0.018), u(0.012, 0.02)
        parts = [
            _part(rng, "box", (length * 0.5, w, h), (0, 0, h)),
            _part(rng, "box", (w, length * 0.3, h), (0, -length * 0.3 - w, h)),
        ]
    elif kind == "dumbbell":
        length, r = u(0.05, 0.07), u(0.007, 0.01)
        knob = u(0.016, 0.022)
        parts = [
            _part(rng, "capsule", (r, length * 0.5), (0, 0, knob), (0, np.pi / 2, 0)),
            _part(rng, "sphere", (knob,), (-length * 0.5 - knob * 0.5, 0, knob)),
            _part(rng, "sphere", (knob,), (length * 0.5 + knob * 0.5, 0, knob)),
        ]
    elif kind == "stack":
        a, h1 = u(0.022, 0.03), u(0.01, 0.016)
        parts = [
            _part(rng, "box", (a, a, h1), (0, 0, h1)),
            _part(rng, "box", (a * 0.8, a * 0.8, h1), (0, 0, 3 * h1), euler=(0, 0, u(0.2, 0.6))),
            _part(rng, "box", (a * 0.6, a * 0.6, h1), (0, 0, 5 * h1), euler=(0, 0, u(0.7, 1.2))),
        ]
    else:  # mesh
        meshes = _random_meshes()
        path = meshes[int(rng.integers(len(meshes)))]
        extent = _mesh_extent(path)
        target = u(0.045, 0.06)
        scale = target / float(max(extent[0], extent[1]))
        scale = min(scale, 0.06 / float(extent[2]))
        part = _part(rng, "mesh", (scale,), (0, 0, float(extent[2]) * scale * 0.5))
        parts = [PartSpec(**{**part.__dict__, "mesh_file": path})]
    mins, maxs = _part_bounds(parts)
    footprint = float(np.hypot(max(abs(mins[0]), abs(maxs[0])), max(abs(mins[1]), abs(maxs[1]))))
    name = f"{kind}_{object_id:02d}"
    return ObjectSpec(
        object_id, name, kind, tuple(parts), float(u(0.05, 0.15)), footprint, float(maxs[2] - min(mins[2], 0.0))
    )


def _part_bounds(parts: list[PartSpec]) -> tuple[np.ndarray, np.ndarray]:
    """Conservative axis-aligned bounds of the parts (rotations bounded by a sphere)."""
    mins, maxs = np.full(3, np.inf), np.full(3, -np.inf)
    for part in parts:
        if part.geom_type == "mesh":
            half = _mesh_extent(part.mesh_file) * part.size[0] / 2.0
        elif part.geom_type == "sphere":
            half = np.full(3, part.size[0])
        elif part.geom_type == "cylinder":
            half = np.array([part.size[0], part.size[0], part.size[1]])
        elif part.geom_type == "capsule":  # lying along x after its euler rotation
            half = np.array([part.size[1] + part.size[0], part.size[0], part.size[0]])
        else:
            half = np.array(part.size[:3])
        if part.geom_type != "capsule" and abs(part.euler[2]) > 1e-9:  # yawed: bound by a disc
            radius = float(np.hypot(half[0], half[1]))
            half = np.array([radius, radius, half[2]])
        pos = np.asarray(part.pos)
        mins, maxs = np.minimum(mins, pos - half), np.maximum(maxs, pos + half)
    return mins, maxs


def make_background(background_id: int) -> BackgroundSpec:
    """The table background with this id (0 .. NUM_BACKGROUNDS-1), identical on every call."""
    if not 0 <= background_id < NUM_BACKGROUNDS:
        raise ValueError(f"background id {background_id} outside 0..{NUM_BACKGROUNDS - 1}")
    rng = np.random.default_rng(5_000 + background_id)
    kind = BACKGROUND_KINDS[background_id % len(BACKGROUND_KINDS)]
    base = _colour(rng)
    second = (
        _colour(rng) if rng.random() < 0.5 else tuple(float(np.clip(c * rng.uniform(0.5, 0.8), 0, 1)) for c in base)
    )
    return BackgroundSpec(
        background_id,
        f"{kind}_{background_id:02d}",
        kind,
        base,
        second,
        float(rng.uniform(3, 40)),
        float(rng.uniform(0.15, 1.0)),
        int(rng.integers(2**31)),
    )


def _split_ids(total: int, sizes: dict[str, int], salt: int) -> dict[str, tuple[int, ...]]:
    order = np.random.default_rng(SPLIT_SEED + salt).permutation(total)
    out, start = {}, 0
    for name in SPLITS:
        out[name] = tuple(sorted(int(i) for i in order[start : start + sizes[name]]))
        start += sizes[name]
    return out


def object_split(split: str) -> tuple[int, ...]:
    """Object ids of a split ("train", "val", "test"); disjoint, fixed forever."""
    _check_split(split)
    return _split_ids(NUM_OBJECTS, OBJECT_SPLIT_SIZES, 0)[split]


def background_split(split: str) -> tuple[int, ...]:
    """Background ids of a split; disjoint, fixed forever."""
    _check_split(split)
    return _split_ids(NUM_BACKGROUNDS, BACKGROUND_SPLIT_SIZES, 1)[split]


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown split '{split}' (expected one of {', '.join(SPLITS)})")


# ----------------------------------------------------------------------------- textures


def _value_noise(rng: np.random.Generator, size: int, cells: float) -> np.ndarray:
    """Smooth noise in [0, 1]: a random grid upsampled bicubically (period = size / cells)."""
    import cv2

    n = max(2, int(round(cells)))
    grid = rng.random((n + 3, n + 3)).astype(np.float32)
    big = cv2.resize(grid, (size * (n + 3) // n, size * (n + 3) // n), interpolation=cv2.INTER_CUBIC)
    return np.clip(big[:size, :size], 0, 1)


def _fractal(rng: np.random.Generator, size: int, cells: float, octaves: int = 4) -> np.ndarray:
    total, amp, norm = np.zeros((size, size), np.float32), 1.0, 0.0
    for o in range(octaves):
        total += amp * _value_noise(rng, size, cells * 2**o)
        norm += amp
        amp *= 0.5
    return total / norm


def background_texture(spec: BackgroundSpec, size: int = 512) -> np.ndarray:
    """RGB uint8 texture of the table surface (procedural; frequency and contrast per spec)."""
    rng = np.random.default_rng(spec.seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    f = spec.frequency
    if spec.kind == "wood":
        warp = _fractal(rng, size, 4) * 3.0
        t = 0.5 + 0.5 * np.sin(2 * np.pi * (f * 0.5 * x + warp))
        t = t**3
    elif spec.kind == "cloth":
        weave = (
            0.5
            + 0.25 * np.sin(2 * np.pi * f * 4 * x) * np.sign(np.sin(2 * np.pi * f * 2 * y))
            + 0.25 * np.sin(2 * np.pi * f * 4 * y)
        )
        t = 0.7 * weave + 0.3 * _fractal(rng, size, 16)
    elif spec.kind == "noise":
        t = _fractal(rng, size, max(2.0, f / 3))
    elif spec.kind == "stripes":
        angle = rng.uniform(0, np.pi)
        t = (np.sin(2 * np.pi * f * 0.5 * (np.cos(angle) * x + np.sin(angle) * y)) > 0).astype(np.float32)
    elif spec.kind == "checker":
        n = max(2, f / 3)
        t = ((np.floor(x * n) + np.floor(y * n)) % 2).astype(np.float32)
    elif spec.kind == "dots":
        n = max(3, f / 2)
        cx, cy = (x * n) % 1 - 0.5, (y * n) % 1 - 0.5
        t = (np.hypot(cx, cy) < rng.uniform(0.15, 0.35)).astype(np.float32)
    elif spec.kind == "marble":
        t = 0.5 + 0.5 * np.sin(2 * np.pi * (f * 0.2 * (x + y) + 4 * _fractal(rng, size, 3)))
    else:  # grain: nearly plain with fine noise (a uniform table, like a white lab bench)
        t = 0.5 + 0.5 * (rng.random((size, size)).astype(np.float32) - 0.5)
    t = 0.5 + spec.contrast * (t - 0.5)
    t = t + 0.06 * (_fractal(rng, size, 24, 2) - 0.5)  # every real surface has some grain
    c1, c2 = np.asarray(spec.rgb, np.float32), np.asarray(spec.rgb2, np.float32)
    image = c2[None, None, :] * (1 - t[..., None]) + c1[None, None, :] * t[..., None]
    return (np.clip(image, 0, 1) * 255).astype(np.uint8)


def part_texture(part: PartSpec, size: int = 64) -> np.ndarray:
    """RGB uint8 texture of a patterned object part (stripes, checker or dots)."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    n = part.pattern_scale
    if part.pattern == "stripes":
        t = (x * n) % 1 < 0.5
    elif part.pattern == "checker":
        t = ((np.floor(x * n) + np.floor(y * n)) % 2) > 0
    elif part.pattern == "dots":
        t = np.hypot((x * n) % 1 - 0.5, (y * n) % 1 - 0.5) < 0.25
    else:
        t = np.ones_like(x, dtype=bool)
    c1, c2 = np.asarray(part.rgb, np.float32), np.asarray(part.rgb2, np.float32)
    image = np.where(t[..., None], c1[None, None, :], c2[None, None, :])
    return (image * 255).astype(np.uint8)
