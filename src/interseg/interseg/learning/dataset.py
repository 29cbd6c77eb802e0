"""Training windows over the examples store, with augmentation, refreshable for online training.

Each example (image, point, positive/negative, noisy mask) gives one window centred on its
point: the full image is first resized by ``input_scale`` exactly as at inference, then a
``window``-pixel square is cut around the point (with random scale, flip, a small shift for
positives and colour jitter when augmenting). Targets: objectness 1/0 and, for positives, the
mask inside the window at ``mask_size`` resolution.

Only file paths (no database handle) live in the dataset, so DataLoader workers can load
examples in other processes; :meth:`WindowDataset.refresh` (main process) reads new rows.

An example whose files turn out bad when first loaded (missing, truncated, corrupt, the wrong
size) is quarantined in the store (see :mod:`interseg.learning.quarantine`) and another example
takes its place in the batch; the next refresh drops it. Only when every example is bad does
loading fail (:class:`NoReadableExamplesError`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from interseg.learning.example_files import BadExampleError, ExampleRecord, read_example
from interseg.learning.model import STRIDE, ModelConfig
from interseg.learning.quarantine import Quarantine
from interseg.learning.store import ExampleStore
from interseg.learning.store_errors import NoReadableExamplesError


@dataclass(frozen=True)
class ScaledExample:
    """An example's image and mask resized to the network's input scale (what every window of it
    is cut from): ``image`` uint8 RGB, ``mask`` uint8 coverage 0..255 or None, ``full_size``
    (width, height) of the original image, in whose pixels the example's point is given."""

    image: np.ndarray
    mask: np.ndarray | None
    full_size: tuple[int, int]

    @property
    def nbytes(self) -> int:
        return self.image.nbytes + (0 if self.mask is None else self.mask.nbytes)


def scale_example(image: np.ndarray, mask: np.ndarray | None, config: ModelConfig) -> ScaledExample:
    """Resize a full-resolution image (and its mask) by ``config.input_scale``, as at inference."""
    s = config.input_scale
    h, w = image.shape[:2]
    size = (max(1, int(round(w * s))), max(1, int(round(h * s))))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    small_mask = None
    if mask is not None:
        coverage = cv2.resize((mask > 0).astype(np.float32), size, interpolation=cv2.INTER_AREA)
        small_mask = np.round(coverage * 255.0).astype(np.uint8)
    return ScaledExample(small, small_mask, (w, h))


class WindowDataset(Dataset):
    def __init__(
        self,
        store_root: str | os.PathLike,
        model_config: ModelConfig | None = None,
        *,
        augment: bool = True,
        seed: int = 0,
        scale_range: float = 0.25,
        max_shift: float | None = None,
        colour_jitter: float = 0.2,
        offcentre_negatives: float = 0.25,
        cache_mb: float = 2048.0,
    ):
        self.root = Path(store_root)
        self.config = model_config or ModelConfig()
        self.augment = augment
        self.seed = seed
        self.scale_range = scale_range  # log2 range of random zoom
        # Full-resolution pixels, positives only. Default: half the distance between two dense
        # locations, the largest offset between an object's centre and its nearest location at
        # inference (DeepMask's +-16 px at stride 16).
        self.max_shift = STRIDE / 2 / self.config.input_scale if max_shift is None else max_shift
        self.colour_jitter = colour_jitter
        # DeepMask's negatives include windows whose centre is just off an object: with this
        # probability (when augmenting) a positive yields a negative centred a little outside
        # its mask, which teaches objectness *where* the object is, not only *that* one is near.
        self.offcentre_negatives = offcentre_negatives
        # Decoding a 640x480 PNG costs more than the rest of a window; examples are drawn dozens
        # of times each, so their scaled images stay in memory up to this many megabytes (per
        # process: each DataLoader worker has its own).
        self.cache_bytes = int(cache_mb * 2**20)
        self._cache: dict[int, ScaledExample] = {}
        self._cached_bytes = 0
        self.records: list[ExampleRecord] = []
        self._last_id = 0
        self._draws = 0
        self.quarantine = Quarantine(self.root)
        self._bad: set[int] = set()  # indices into records found bad in this process since the last refresh
        self.refresh()

    def refresh(self) -> int:
        """Read rows added since the last refresh and drop the examples quarantined since (here
        or by another reader); returns how many are new."""
        with ExampleStore(self.root) as store:
            new = store.records(after_id=self._last_id, include_quarantined=True)
        self.quarantine.reload()
        if new:
            self._last_id = new[-1].id
        self.records = [r for r in self.records + new if r.key not in self.quarantine]
        self._bad = set()
        return sum(r.key not in self.quarantine for r in new)

    def keep_up_to(self, last_id: int) -> None:
        """Forget the rows after ``last_id`` (the next refresh reads them again): the ranks of a
        distributed trainer train each round on exactly the rows rank 0 planned."""
        self.records = [r for r in self.records if r.id <= last_id]
        self._last_id = min(self._last_id, last_id)
        self._bad = set()

    @property
    def quarantined(self) -> int:
        """Examples of the store that are quarantined, by any reader."""
        return len(self.quarantine)

    @property
    def last_id(self) -> int:
        return self._last_id

    def __len__(self) -> int:
        return len(self.records)

    def _rng(self, index: int) -> np.random.Generator:
        info = torch.utils.data.get_worker_info()
        worker = 0 if info is None else info.id
        self._draws += 1  # per process: a fresh augmentation every time an example is drawn
        return np.random.default_rng([self.seed, index, worker, self._draws, torch.initial_seed() % (2**32)])

    def _load(self, rec: ExampleRecord) -> ScaledExample:
        cached = self._cache.get(rec.id)
        if cached is not None:
            return cached
        image, mask = read_example(self.root, rec)
        scaled = scale_example(image, mask, self.config)
        if self._cached_bytes + scaled.nbytes <= self.cache_bytes:
            self._cache[rec.id] = scaled
            self._cached_bytes += scaled.nbytes
        return scaled

    def _load_usable(self, index: int) -> tuple[int, ScaledExample]:
        """Example ``index``, or when its files are bad (it is quarantined) the next usable one."""
        for k in range(len(self.records)):
            candidate = (index + k) % len(self.records)
            if candidate in self._bad:
                continue
            rec = self.records[candidate]
            if rec.key not in self.quarantine:
                try:
                    return candidate, self._load(rec)
                except BadExampleError as exc:
                    self.quarantine.add(rec, exc.reason)
            self._bad.add(candidate)
        raise NoReadableExamplesError(
            f"none of the {len(self.records)} examples read from {self.root} is usable "
            f"({len(self.quarantine)} quarantined, see {self.quarantine.path})"
        )

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        index, scaled = self._load_usable(index)
        rec = self.records[index]
        rng = self._rng(index) if self.augment else None
        if rng is not None and scaled.mask is not None and rng.random() < self.offcentre_negatives:
            point = offcentre_point(
                scaled.mask >= 128, self.config, rng, scale=scaled.image.shape[1] / scaled.full_size[0]
            )
            if point is not None:
                window = window_from_scaled(
                    scaled, point[0], point[1], False, self.config, rng, self.scale_range, 0.0, self.colour_jitter
                )
                return window | {"example_id": torch.tensor(rec.id)}
        window = window_from_scaled(
            scaled, rec.u, rec.v, rec.positive, self.config, rng, self.scale_range, self.max_shift, self.colour_jitter
        )
        return window | {"example_id": torch.tensor(rec.id)}


def offcentre_point(
    mask: np.ndarray,
    config: ModelConfig,
    rng: np.random.Generator,
    near: float = 0.1,
    far: float = 0.25,
    scale: float = 1.0,
) -> tuple[float, float] | None:
    """A pixel outside ``mask`` at a distance between ``near`` and ``far`` window sides from it,
    in full-resolution pixel coordinates, or None when there is none in the image. ``mask`` may
    be the full-resolution mask (``scale`` 1) or one resized by ``scale``."""
    distance = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 3)
    side = config.full_window * scale
    vs, us = np.nonzero((distance >= near * side) & (distance <= far * side))
    if len(us) == 0:
        return None
    k = int(rng.integers(len(us)))
    return float((us[k] + 0.5) / scale - 0.5), float((vs[k] + 0.5) / scale - 0.5)


def make_window(
    image: np.ndarray,
    u: float,
    v: float,
    positive: bool,
    mask: np.ndarray | None,
    config: ModelConfig,
    rng: np.random.Generator | None = None,
    scale_range: float = 0.25,
    max_shift: float = 8.0,
    colour_jitter: float = 0.2,
) -> dict[str, torch.Tensor]:
    """One training window from a full-resolution image (see the module docstring); ``rng=None``
    means no augmentation."""
    return window_from_scaled(
        scale_example(image, mask if positive else None, config),
        u,
        v,
        positive,
        config,
        rng,
        scale_range,
        max_shift,
        colour_jitter,
    )


def window_from_scaled(
    scaled: ScaledExample,
    u: float,
    v: float,
    positive: bool,
    config: ModelConfig,
    rng: np.random.Generator | None = None,
    scale_range: float = 0.25,
    max_shift: float = 8.0,
    colour_jitter: float = 0.2,
) -> dict[str, torch.Tensor]:
    """One training window around full-resolution point (u, v) of an example already scaled by
    :func:`scale_example`."""
    small = scaled.image
    w, h = scaled.full_size
    size = (small.shape[1], small.shape[0])
    zoom, flip, du, dv = 1.0, False, 0.0, 0.0
    if rng is not None:
        zoom = float(2.0 ** rng.uniform(-scale_range, scale_range))
        flip = bool(rng.random() < 0.5)
        if positive:
            du, dv = rng.uniform(-max_shift, max_shift, size=2)
    # point in network-scale pixel-centre coordinates
    cu = (u + du + 0.5) * size[0] / w - 0.5
    cv_ = (v + dv + 0.5) * size[1] / h - 0.5
    win = config.window
    c = (win - 1) / 2.0
    sx = -zoom if flip else zoom
    affine = np.array([[sx, 0.0, c - sx * cu], [0.0, zoom, c - zoom * cv_]], dtype=np.float64)
    window = cv2.warpAffine(small, affine, (win, win), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    pixels = window.astype(np.float32) / 255.0
    if rng is not None and colour_jitter > 0:
        j = colour_jitter
        pixels = pixels * rng.uniform(1 - j, 1 + j)  # brightness
        mean = pixels.mean()
        pixels = (pixels - mean) * rng.uniform(1 - j, 1 + j) + mean  # contrast
        grey = pixels.mean(axis=2, keepdims=True)
        pixels = (pixels - grey) * rng.uniform(1 - j, 1 + j) + grey  # saturation
        pixels = pixels * rng.uniform(1 - j / 4, 1 + j / 4, size=3).astype(np.float32)  # white balance
        pixels = np.clip(pixels, 0.0, 1.0)
    m = config.mask_size
    mask_target = np.zeros((m, m), np.float32)
    has_mask = 0.0
    if positive and scaled.mask is not None:
        warped = cv2.warpAffine(
            scaled.mask, affine, (win, win), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
        )
        mask_target = (cv2.resize(warped, (m, m), interpolation=cv2.INTER_AREA) > 127).astype(np.float32)
        has_mask = float(mask_target.any())
    return {
        "image": torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1))),
        "objectness": torch.tensor(1.0 if positive else 0.0),
        "mask": torch.from_numpy(mask_target),
        "has_mask": torch.tensor(has_mask),
    }
