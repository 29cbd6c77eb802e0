"""Seeded corruption of ground-truth masks in the ways frame differencing fails, for the noise
experiment (benchmarks/noise_bench.py): a controlled amount of label noise of one kind, so that
cross-entropy and the Robust Set Loss can be compared at known noise levels.

Kinds (``strength`` is in pixels where it applies):

* ``dilate`` / ``erode``: the mask grown or shrunk by ``strength`` px (a shadow or a blurred edge
  that changed with the object; a thin or low-contrast rim that did not change);
* ``shift``: the mask moved ``strength`` px in a random direction (camera jitter, a mask from the
  after-image of an object that was nudged);
* ``merge``: the union with the mask of the touching (else the nearest) other object of the same
  instance map (two objects moved together);
* ``half``: the pixels on one side of a random line through the centroid dropped (the part that
  looks like the table, or hidden by the gripper);
* ``false``: a label where nothing moved: a positive gets a blob on the table instead of its
  object's mask (its point still on the object), a negative (a table point) becomes a positive
  with a blob around its point (a shadow, a lighting change).

``rate`` is the fraction of the examples a spec corrupts (of the positives for the first five
kinds, of all examples for ``false``). An example's draw depends only on the seed and its index,
so a store corrupted at a higher rate contains the corruptions of the lower rates.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

KINDS = ("dilate", "erode", "shift", "merge", "half", "false")
DEFAULT_STRENGTH = {"dilate": 4.0, "erode": 4.0, "shift": 6.0, "merge": 0.0, "half": 0.0, "false": 12.0}


@dataclass(frozen=True)
class NoiseSpec:
    kind: str
    rate: float  # fraction of the examples corrupted
    strength: float | None = None  # pixels (dilate, erode, shift; the blob radius for false); None: the default

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"noise kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"noise rate must be in [0, 1], got {self.rate}")
        if self.strength is not None and self.strength < 0:
            raise ValueError(f"noise strength must be >= 0, got {self.strength}")

    @property
    def pixels(self) -> float:
        return DEFAULT_STRENGTH[self.kind] if self.strength is None else float(self.strength)


@dataclass(frozen=True)
class NoisyExample:
    """An example as the store holds it (point, label, mask), with the instance map of its image
    (ground truth; ``merge`` and ``false`` need it) and what was done to it."""

    u: float
    v: float
    positive: bool
    mask: np.ndarray | None  # bool (H, W), None for negatives
    instance: np.ndarray | None = None  # (H, W) int, 0 = table
    corruptions: tuple[str, ...] = ()


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def dilate(mask: np.ndarray, k: int) -> np.ndarray:
    if k <= 0:
        return mask.copy()
    return cv2.dilate(mask.astype(np.uint8), _disk(k)).astype(bool)


def erode(mask: np.ndarray, k: int) -> np.ndarray:
    """Shrunk by ``k`` px; by less when ``k`` would erase the mask (never empty)."""
    for r in range(int(k), 0, -1):
        out = cv2.erode(mask.astype(np.uint8), _disk(r)).astype(bool)
        if out.any():
            return out
    return mask.copy()


def shift(mask: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """Moved by (dx, dy) px, the pixels leaving the image dropped."""
    h, w = mask.shape
    out = np.zeros_like(mask, dtype=bool)
    src = mask[max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)]
    out[max(0, dy) : max(0, dy) + src.shape[0], max(0, dx) : max(0, dx) + src.shape[1]] = src
    return out


def random_shift(mask: np.ndarray, k: float, rng: np.random.Generator) -> np.ndarray:
    angle = rng.uniform(0, 2 * np.pi)
    return shift(mask, int(round(k * np.cos(angle))), int(round(k * np.sin(angle))))


def owner(mask: np.ndarray, instance: np.ndarray) -> int:
    """The instance id most of the mask lies on (0 when it is on the table)."""
    ids = instance[mask]
    ids = ids[ids > 0]
    return int(np.bincount(ids).argmax()) if len(ids) else 0


def neighbour(mask: np.ndarray, instance: np.ndarray) -> int:
    """The other object touching ``mask`` along the longest border, else the nearest one; 0 if none."""
    own = owner(mask, instance)
    others = (instance > 0) & (instance != own)
    if not others.any():
        return 0
    ring = dilate(mask, 2) & ~mask & others
    if ring.any():
        return int(np.bincount(instance[ring]).argmax())
    distance = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 5)
    ids = np.unique(instance[others])
    return int(min(ids, key=lambda i: float(distance[instance == i].min())))


def merge(mask: np.ndarray, instance: np.ndarray) -> np.ndarray:
    """The union with the touching (or nearest) other object's mask; unchanged without one."""
    k = neighbour(mask, instance)
    return mask | (instance == k) if k else mask.copy()


def drop_half(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The pixels on one side of a random line through the centroid removed (never empty)."""
    vs, us = np.nonzero(mask)
    angle = rng.uniform(0, 2 * np.pi)
    side = (us - us.mean()) * np.cos(angle) + (vs - vs.mean()) * np.sin(angle) >= 0
    if not side.any():
        side = ~side
    out = np.zeros_like(mask, dtype=bool)
    out[vs[side], us[side]] = True
    return out


def blob(shape: tuple[int, int], u: float, v: float, radius: float, rng: np.random.Generator) -> np.ndarray:
    """A filled random ellipse centred at (u, v) with semi-axes around ``radius``."""
    out = np.zeros(shape, np.uint8)
    axes = tuple(max(2, int(round(radius * f))) for f in rng.uniform(0.6, 1.4, size=2))
    cv2.ellipse(out, (int(round(u)), int(round(v))), axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    return out.astype(bool)


def table_blob(
    shape: tuple[int, int], free: np.ndarray, radius: float, rng: np.random.Generator, avoid: np.ndarray | None = None
) -> np.ndarray:
    """A blob centred on a random pixel of ``free`` (the table), clipped to it, away from ``avoid``."""
    allowed = free if avoid is None else free & ~dilate(avoid, int(radius * 2))
    candidates = np.argwhere(allowed if allowed.any() else free)
    if not len(candidates):
        candidates = np.argwhere(np.ones(shape, bool))
    v, u = candidates[rng.integers(len(candidates))]
    out = blob(shape, u, v, radius, rng) & free
    if not out.any():
        out[v, u] = True
    return out


def corrupt(example: NoisyExample, spec: NoiseSpec, rng: np.random.Generator) -> NoisyExample:
    """``example`` with one corruption of ``spec.kind`` (the rate is not drawn here); unchanged
    where the kind does not apply (a negative for a mask kind, a merge without another object)."""
    k = spec.pixels
    if spec.kind == "false":
        shape = example.instance.shape if example.instance is not None else example.mask.shape
        free = example.instance == 0 if example.instance is not None else np.ones(shape, bool)
        if example.positive:
            mask = table_blob(shape, free, k, rng, avoid=example.mask)
        else:
            mask = blob(shape, example.u, example.v, k, rng) & free
            if not mask.any():
                mask[int(round(example.v)), int(round(example.u))] = True
        return replace(example, positive=True, mask=mask, corruptions=(*example.corruptions, "false"))
    if not example.positive or example.mask is None or not example.mask.any():
        return example
    mask = example.mask.astype(bool)
    if spec.kind == "dilate":
        out = dilate(mask, int(round(k)))
    elif spec.kind == "erode":
        out = erode(mask, int(round(k)))
    elif spec.kind == "shift":
        out = random_shift(mask, k, rng)
        if not out.any():
            return example
    elif spec.kind == "merge":
        if example.instance is None:
            raise ValueError("merge needs the example's instance map")
        out = merge(mask, example.instance)
        if out.sum() == mask.sum():
            return example
    else:  # half
        out = drop_half(mask, rng)
    if out.all():
        return example  # the store refuses a mask covering the whole image
    return replace(example, mask=out, corruptions=(*example.corruptions, spec.kind))


def applies(example: NoisyExample, spec: NoiseSpec) -> bool:
    return spec.kind == "false" or (example.positive and example.mask is not None)


def apply_noise(example: NoisyExample, specs: list[NoiseSpec], seed: int, index: int) -> NoisyExample:
    """Apply each spec to example ``index`` with probability ``spec.rate``. The draws depend only
    on (seed, index, the spec's position and kind), so the same example is corrupted at every rate
    above its draw, and in the same way."""
    for position, spec in enumerate(specs):
        rng = np.random.default_rng([seed, index, position, KINDS.index(spec.kind)])
        if rng.random() < spec.rate and applies(example, spec):
            example = corrupt(example, spec, rng)
    return example


def apply_noise_all(examples: list[NoisyExample], specs: list[NoiseSpec], seed: int) -> list[NoisyExample]:
    return [apply_noise(e, specs, seed, i) for i, e in enumerate(examples)]


def noise_summary(clean: list[NoisyExample], noisy: list[NoisyExample]) -> dict:
    """How many examples were corrupted, and the IoU of the corrupted positive masks with the clean ones."""
    ious = []
    for a, b in zip(clean, noisy):
        if b.corruptions and a.positive and b.mask is not None:
            inter = np.logical_and(a.mask, b.mask).sum()
            ious.append(float(inter / max(1, np.logical_or(a.mask, b.mask).sum())))
    corrupted = sum(bool(b.corruptions) for b in noisy)
    return {
        "examples": len(noisy),
        "positives": sum(e.positive for e in noisy),
        "corrupted": corrupted,
        "corrupted_fraction": corrupted / max(1, len(noisy)),
        "median_iou_corrupted_vs_clean": float(np.median(ious)) if ious else None,
    }
