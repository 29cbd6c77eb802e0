"""Frame-difference labelling: what moved at the grasp point becomes a training example.

Per view, the grasp point (world) is projected with the view's calibrated camera; inside a crop
around it (240x240 at 640x480, scaled with the image) the labeller compares the image before the
interaction with the one after it (the lifted, mid-grasp image when there is one, as in the
paper; pixels covered by the robot there are ignored). A change map robust to sensor noise,
lighting changes and shadows combines:

* chromaticity (r, g, b divided by their sum, lightly offset so dark pixels are not noise): a
  shadow or a global lighting change scales all channels together and leaves it nearly intact;
* log-intensity after removing the crop's median gain, with separate thresholds: brightening
  (a dark object removed) counts earlier than darkening, which shadows cause;
* texture: the gradient of log-intensity, unchanged by smooth shading, changes where a textured
  surface is uncovered or an object's edges disappear;
* optionally depth (metres; NaN pixels ignored).

Then Gaussian blur before, and morphological opening / closing after, remove sensor noise; the
connected component at (or within a few pixels of) the projected point, holes filled, is the
object's mask if it has at least the paper's minimum area (1000 px at 640x480, scaled with the
image area). Nothing changed there: a negative example at the grasp point. The place point
gives an extra positive: the object appears there in the after image (before vs after).
Every example and every skipped view carries a human-readable reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy import ndimage

from interseg.geometry import PinholeCamera
from interseg.learning.images import validate_rgb_image

REFERENCE_WIDTH, REFERENCE_HEIGHT = 640, 480


@dataclass
class LabellerConfig:
    """Thresholds at the 640x480 reference resolution; sizes scale with the image."""

    crop: int = 240  # side of the crop around the projected point
    min_area: int = 1000  # paper: a changed region of at least 1000 px makes a positive
    blur_sigma: float = 1.5  # Gaussian blur before differencing (sensor noise)
    chroma_threshold: float = 0.03  # max channel change of offset chromaticity (benchmarks/label_bench.py)
    chroma_offset: float = 4.0  # added to each channel: dark pixels' chromaticity is mostly noise
    brighten_threshold: float = 1.0  # log-intensity rise after removing the median gain
    darken_threshold: float = 1.2  # log-intensity fall; large because shadows darken
    texture_threshold: float = 0.8  # change of the log-intensity gradient (per pixel at 640 wide)
    depth_threshold: float = 0.01  # metres
    open_radius: int = 2
    close_radius: int = 4
    near_radius: int = 12  # look this far from the projected point for a changed component
    max_changed_fraction: float = 0.85  # more of the crop changed: lighting/camera moved, no label
    max_nan_depth_fraction: float = 0.5
    # Views agree on what happened at the grasp point: when one view sees the object move, the
    # others' "nothing (large enough) changed" is occlusion or distance, not a free table, and
    # they give no negative example (a negative on an object teaches the network the opposite of
    # the truth). False: every view decides alone, as the paper's single view did.
    views_agree: bool = True

    def scaled(self, width: int, height: int) -> dict:
        s = width / REFERENCE_WIDTH
        area = (width * height) / (REFERENCE_WIDTH * REFERENCE_HEIGHT)
        return {
            "crop": max(16, int(round(self.crop * s))),
            "min_area": max(1, int(round(self.min_area * area))),
            "blur_sigma": self.blur_sigma * s,
            "open_radius": max(0, int(round(self.open_radius * s))),
            "close_radius": max(0, int(round(self.close_radius * s))),
            "near_radius": max(1, int(round(self.near_radius * s))),
            "texture_threshold": self.texture_threshold / s,  # edges are sharper in pixels at low res
        }


@dataclass
class ViewCapture:
    """The images of one camera around one interaction (full resolution, RGB uint8)."""

    camera: PinholeCamera
    before: np.ndarray
    after: np.ndarray
    lifted: np.ndarray | None = None  # mid-grasp image, object in the gripper
    robot_mask: np.ndarray | None = None  # (H, W) bool: robot pixels in ``lifted`` (ignored)
    before_depth: np.ndarray | None = None  # (H, W) float metres, NaN = no reading
    after_depth: np.ndarray | None = None  # depth matching the compared image (lifted or after)


@dataclass
class LabelledExample:
    """One training example: an image, a point, positive or not, and a (noisy) mask."""

    view: str
    kind: str  # "pick" (at the grasp point) or "place" (where the object was put)
    positive: bool
    u: float
    v: float
    image: np.ndarray  # the image the example is about (before for pick, after for place)
    mask: np.ndarray | None  # (H, W) bool for positives, None for negatives
    reason: str

    @property
    def mask_area(self) -> int:
        return 0 if self.mask is None else int(self.mask.sum())


@dataclass
class ViewLabels:
    view: str
    examples: list[LabelledExample] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # why a view gave fewer examples


def _validate_depth(name: str, depth, shape: tuple[int, int], max_nan_fraction: float) -> np.ndarray:
    if not isinstance(depth, np.ndarray) or depth.dtype.kind != "f" or depth.shape != shape:
        got = getattr(depth, "shape", None), getattr(depth, "dtype", type(depth).__name__)
        raise ValueError(f"{name} must be a float (H, W) array in metres of shape {shape}, got {got}")
    nan_fraction = float(np.mean(~np.isfinite(depth)))
    if nan_fraction > max_nan_fraction:
        raise ValueError(f"{name} is {nan_fraction:.0%} NaN/inf: the depth image is unusable")
    return depth


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def change_map(
    a: np.ndarray,
    b: np.ndarray,
    config: LabellerConfig | None = None,
    ignore: np.ndarray | None = None,
    depth_a: np.ndarray | None = None,
    depth_b: np.ndarray | None = None,
    params: dict | None = None,
) -> np.ndarray:
    """Boolean map of pixels that changed between two RGB uint8 images of the same view."""
    config = config or LabellerConfig()
    params = params or config.scaled(a.shape[1], a.shape[0])
    fa, fb = a.astype(np.float32), b.astype(np.float32)
    if params["blur_sigma"] > 0:
        fa = cv2.GaussianBlur(fa, (0, 0), params["blur_sigma"])
        fb = cv2.GaussianBlur(fb, (0, 0), params["blur_sigma"])
    offset = config.chroma_offset
    chroma_a = (fa + offset) / (fa.sum(axis=2, keepdims=True) + 3 * offset)
    chroma_b = (fb + offset) / (fb.sum(axis=2, keepdims=True) + 3 * offset)
    # a clipped channel no longer measures colour: brightening into saturation is not a change
    clipped = (a.max(axis=2) >= 250) | (b.max(axis=2) >= 250)
    changed = (np.abs(chroma_a - chroma_b).max(axis=2) > config.chroma_threshold) & ~clipped

    log_a = np.log(fa.mean(axis=2) + 8.0)
    log_b = np.log(fb.mean(axis=2) + 8.0)
    valid = np.ones(a.shape[:2], bool) if ignore is None else ~ignore
    delta = log_b - log_a
    gain = float(np.median(delta[valid])) if valid.any() else 0.0  # global lighting change
    delta -= gain
    changed |= (delta > config.brighten_threshold) | (delta < -config.darken_threshold)

    def gradient(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3) / 8.0, cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3) / 8.0

    gxa, gya = gradient(log_a)
    gxb, gyb = gradient(log_b)
    texture = cv2.blur(np.abs(gxa - gxb) + np.abs(gya - gyb), (5, 5))
    changed |= texture > params["texture_threshold"] * 0.25

    if depth_a is not None and depth_b is not None:
        with np.errstate(invalid="ignore"):
            moved = np.abs(depth_a - depth_b) > config.depth_threshold
        changed |= np.where(np.isfinite(depth_a) & np.isfinite(depth_b), moved, False)
    changed &= valid
    mask = changed.astype(np.uint8)
    if params["open_radius"] > 0:
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, _disk(params["open_radius"]))
    if params["close_radius"] > 0:
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, _disk(params["close_radius"]))
    return mask.astype(bool)


def _crop_box(u: float, v: float, side: int, width: int, height: int) -> tuple[int, int, int, int]:
    x0 = int(round(u - side / 2))
    y0 = int(round(v - side / 2))
    return max(x0, 0), max(y0, 0), min(x0 + side, width), min(y0 + side, height)


def component_at(changed: np.ndarray, u: float, v: float, near_radius: int) -> tuple[np.ndarray | None, str]:
    """The connected changed region at pixel (u, v) or, failing that, the nearest one within
    ``near_radius`` pixels, with holes filled. Returns (mask or None, where it was found)."""
    count, labels = cv2.connectedComponents(changed.astype(np.uint8), connectivity=8)
    h, w = changed.shape
    ui, vi = int(round(u)), int(round(v))
    if count <= 1:
        return None, "nothing changed in the crop"
    label = labels[min(max(vi, 0), h - 1), min(max(ui, 0), w - 1)]
    where = "at the point"
    if label == 0:
        y0, y1 = max(vi - near_radius, 0), min(vi + near_radius + 1, h)
        x0, x1 = max(ui - near_radius, 0), min(ui + near_radius + 1, w)
        ys, xs = np.nonzero(labels[y0:y1, x0:x1])
        if len(ys) == 0:
            return None, f"nothing changed within {near_radius} px of the point"
        d2 = (ys + y0 - v) ** 2 + (xs + x0 - u) ** 2
        k = int(np.argmin(d2))
        if d2[k] > near_radius**2:
            return None, f"nothing changed within {near_radius} px of the point"
        label = labels[ys[k] + y0, xs[k] + x0]
        where = f"{np.sqrt(d2[k]):.0f} px from the point"
    return ndimage.binary_fill_holes(labels == label), where


class FrameDifferenceLabeller:
    """Turns the images of one interaction (all views) into labelled examples."""

    def __init__(self, config: LabellerConfig | None = None):
        self.config = config or LabellerConfig()

    def _validate(self, view: ViewCapture) -> tuple[int, int]:
        cam = view.camera
        expected = (cam.width, cam.height)
        validate_rgb_image(view.before, expected, f"{cam.name} before")
        validate_rgb_image(view.after, expected, f"{cam.name} after")
        if view.lifted is not None:
            validate_rgb_image(view.lifted, expected, f"{cam.name} lifted")
        shape = (cam.height, cam.width)
        if view.robot_mask is not None:
            if view.robot_mask.shape != shape:
                raise ValueError(f"{cam.name} robot_mask has shape {view.robot_mask.shape}, expected {shape}")
            if view.lifted is None:
                raise ValueError(f"{cam.name}: a robot_mask belongs to the lifted image, which is missing")
        for name in ("before_depth", "after_depth"):
            depth = getattr(view, name)
            if depth is not None:
                _validate_depth(f"{cam.name} {name}", depth, shape, self.config.max_nan_depth_fraction)
        return shape

    def _difference_at(self, a, b, point, ignore, depth_a, depth_b, pair_name):
        """(mask in full image or None, reason fragment, positive?) for the region at ``point``."""
        h, w = a.shape[:2]
        p = self.config.scaled(w, h)
        x0, y0, x1, y1 = _crop_box(point[0], point[1], p["crop"], w, h)
        crop = (slice(y0, y1), slice(x0, x1))
        changed = change_map(
            a[crop],
            b[crop],
            self.config,
            None if ignore is None else ignore[crop],
            None if depth_a is None else depth_a[crop],
            None if depth_b is None else depth_b[crop],
            params=p,
        )
        fraction = float(changed.mean())
        if fraction > self.config.max_changed_fraction:
            return (
                None,
                (
                    f"{fraction:.0%} of the {x1 - x0}x{y1 - y0} crop changed ({pair_name}): lighting "
                    f"change or camera motion, no reliable label"
                ),
                None,
            )
        component, where = component_at(changed, point[0] - x0, point[1] - y0, p["near_radius"])
        if component is None:
            return None, f"{where} ({pair_name}, crop {x1 - x0}x{y1 - y0})", False
        area = int(component.sum())
        if area < p["min_area"]:
            return (
                None,
                (f"changed region {where} has {area} px, below the {p['min_area']} px minimum ({pair_name})"),
                False,
            )
        full = np.zeros((h, w), bool)
        full[crop] = component
        touches = component[0].any() or component[-1].any() or component[:, 0].any() or component[:, -1].any()
        clipped = (
            (x0 > 0 and component[:, 0].any())
            or (y0 > 0 and component[0].any())
            or (x1 < w and component[:, -1].any())
            or (y1 < h and component[-1].any())
        )
        note = ", clipped by the crop" if touches and clipped else ""
        return full, f"changed region of {area} px {where} ({pair_name}{note})", True

    def label_view(
        self, view: ViewCapture, grasp_point_world: np.ndarray, place_point_world: np.ndarray | None = None
    ) -> ViewLabels:
        self._validate(view)
        cam = view.camera
        out = ViewLabels(view=cam.name)
        compared = view.lifted if view.lifted is not None else view.after
        pair = "before vs lifted" if view.lifted is not None else "before vs after"
        depth_b = view.after_depth
        uv, in_front = cam.project(np.asarray(grasp_point_world, dtype=np.float64).reshape(1, 3))
        if not in_front[0] or not cam.in_image(uv)[0]:
            out.notes.append(f"pick: grasp point projects outside the image of {cam.name}; no example")
        else:
            u, v = float(uv[0, 0]), float(uv[0, 1])
            mask, why, positive = self._difference_at(
                view.before, compared, (u, v), view.robot_mask, view.before_depth, depth_b, pair
            )
            if positive is None:
                out.notes.append(f"pick: {why}")
            elif positive:
                out.examples.append(
                    LabelledExample(cam.name, "pick", True, u, v, view.before, mask, f"positive: {why}")
                )
            else:
                out.examples.append(
                    LabelledExample(cam.name, "pick", False, u, v, view.before, None, f"negative: {why}")
                )
        if place_point_world is not None:
            uv, in_front = cam.project(np.asarray(place_point_world, dtype=np.float64).reshape(1, 3))
            if not in_front[0] or not cam.in_image(uv)[0]:
                out.notes.append(f"place: place point projects outside the image of {cam.name}; no example")
            else:
                u, v = float(uv[0, 0]), float(uv[0, 1])
                # before vs after: neither image has the robot in it; the object appears in after.
                depth_a = view.before_depth if view.lifted is None else None
                depth_after = view.after_depth if view.lifted is None else None
                mask, why, positive = self._difference_at(
                    view.before, view.after, (u, v), None, depth_a, depth_after, "before vs after"
                )
                if positive:
                    out.examples.append(
                        LabelledExample(cam.name, "place", True, u, v, view.after, mask, f"positive (place): {why}")
                    )
                else:
                    out.notes.append(f"place: {why}; no example (a failed place is no evidence of background)")
        return out

    def label_interaction(
        self, views: list[ViewCapture], grasp_point_world: np.ndarray, place_point_world: np.ndarray | None = None
    ) -> list[ViewLabels]:
        """All views of one interaction; validates everything before labelling anything."""
        grasp = np.asarray(grasp_point_world, dtype=np.float64)
        if grasp.shape != (3,) or not np.all(np.isfinite(grasp)):
            raise ValueError(f"grasp point must be 3 finite world coordinates, got {grasp_point_world!r}")
        if place_point_world is not None:
            place = np.asarray(place_point_world, dtype=np.float64)
            if place.shape != (3,) or not np.all(np.isfinite(place)):
                raise ValueError(f"place point must be 3 finite world coordinates, got {place_point_world!r}")
        for view in views:
            self._validate(view)
        labels = [self.label_view(view, grasp_point_world, place_point_world) for view in views]
        if self.config.views_agree:
            seen = [vl.view for vl in labels if any(e.kind == "pick" and e.positive for e in vl.examples)]
            if seen:
                for vl in labels:
                    for example in [e for e in vl.examples if e.kind == "pick" and not e.positive]:
                        vl.examples.remove(example)
                        vl.notes.append(
                            f"pick: no negative although {example.reason.removeprefix('negative: ')}: "
                            f"{', '.join(seen)} saw the object move"
                        )
        return labels


def something_moved(
    before: np.ndarray,
    after: np.ndarray,
    config: LabellerConfig | None = None,
    ignore: np.ndarray | None = None,
    width: int = 160,
) -> bool:
    """Cheap whole-image check (at ``width`` pixels wide): did a region of at least the minimum
    area change? Lets a node skip the full labelling when a grasp clearly missed."""
    validate_rgb_image(before, None, "before")
    validate_rgb_image(after, (before.shape[1], before.shape[0]), "after")
    config = config or LabellerConfig()
    h, w = before.shape[:2]
    scale = min(1.0, width / w)
    size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
    a = cv2.resize(before, size, interpolation=cv2.INTER_AREA)
    b = cv2.resize(after, size, interpolation=cv2.INTER_AREA)
    small_ignore = None
    if ignore is not None:
        small_ignore = cv2.resize(ignore.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
    params = config.scaled(size[0], size[1])
    changed = change_map(a, b, config, small_ignore, params=params)
    count, _, stats, _ = cv2.connectedComponentsWithStats(changed.astype(np.uint8), connectivity=8)
    return bool(count > 1 and stats[1:, cv2.CC_STAT_AREA].max() >= params["min_area"])
