"""From an object hypothesis in the main view to a top-down grasp and a free place location
(ROS-free core of the grasp planner).

With the hypothesis's mask, the grasp is the one :func:`graspable_point` finds on the mask's
height map (the mask's pixels back-projected with the main depth): the point of the top-down
footprint nearest the centroid where the open fingers fit, yaw across the narrow side there.
When no point fits (or there is no mask), the hypothesis's grasp pixel is back-projected with the
main camera's depth and calibration and the gripper yaw comes from the hypothesis's image yaw,
the mask's principal axis (the image-plane angle is turned into a world angle through the table
plane, so an oblique main camera is handled). Either way the grasp height is a little below the
object's top surface, never below the table, and the grasp must lie inside the workspace box and
within the arm's reach. The place location is a random table point in the place region whose
surroundings look empty in the depth image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from interseg.constants import PLACE_CLEARANCE, PLACE_REGION, WORKSPACE
from interseg.geometry import Box, PinholeCamera  # Box is part of this module's API


def box_from_tuple(values, name: str = "box") -> Box:
    """A Box from ``(x_min, y_min, z_min, x_max, y_max, z_max)`` (the layout of interseg.constants
    and of the ``workspace`` / ``place_region`` parameters)."""
    values = tuple(float(v) for v in values)
    if len(values) != 6:
        raise ValueError(f"{name} needs 6 numbers [x_min, y_min, z_min, x_max, y_max, z_max]")
    return Box(values[:3], values[3:])


DEFAULT_WORKSPACE = box_from_tuple(WORKSPACE, "WORKSPACE")  # grasp points must lie in it
DEFAULT_PLACE_REGION = box_from_tuple(PLACE_REGION, "PLACE_REGION")  # place locations are drawn from it


class GraspRejected(ValueError):
    """The hypothesis cannot be turned into an executable grasp; the message says why."""


@dataclass(frozen=True)
class GraspSettings:
    table_height: float = 0.0  # world z of the table surface
    workspace: Box = DEFAULT_WORKSPACE
    robot_base: tuple[float, float, float] = (0.0, 0.0, 0.0)
    max_reach: float = 0.85  # metres from the base
    grasp_depth: float = 0.02  # how far below the top surface the fingertips close
    min_height: float = 0.008  # fingertips at least this far above the table
    depth_window: int = 5  # pixels: half-size of the window the depth is read in


@dataclass(frozen=True)
class GraspPlan:
    position: np.ndarray  # fingertip centre at grasp time, world
    yaw: float  # radians about world z of the fingers' width direction; they close across it
    surface_height: float  # top of the object at the grasp point, world z
    pixel: tuple[float, float]  # the grasp point on the surface, main image (u, v)
    source: str = "pixel"  # "footprint": found on the mask's height map; "pixel": the hypothesis's grasp pixel and yaw


def image_yaw_to_world(camera: PinholeCamera, pixel: tuple[float, float], image_yaw: float, plane_z: float) -> float:
    """World yaw of an image-plane direction at ``pixel``, measured on the plane z = plane_z."""
    u, v = pixel
    step = 10.0
    points = camera.intersect_plane_z(
        np.array([[u, v], [u + step * np.cos(image_yaw), v + step * np.sin(image_yaw)]]), plane_z
    )
    if not np.all(np.isfinite(points)):
        raise GraspRejected("the grasp pixel's ray does not meet the table plane")
    direction = points[1] - points[0]
    return float(np.arctan2(direction[1], direction[0]))


def wrap_yaw(yaw: float) -> float:
    """A parallel gripper is symmetric: yaw and yaw + pi are the same grasp; keep (-pi/2, pi/2]."""
    yaw = (yaw + np.pi / 2) % np.pi - np.pi / 2
    return float(np.pi / 2 if np.isclose(yaw, -np.pi / 2) else yaw)


def _check_images(
    depth: np.ndarray, camera: PinholeCamera, mask: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    depth = np.asarray(depth, dtype=np.float32)
    if depth.shape != (camera.height, camera.width):
        raise GraspRejected(
            f"depth image is {depth.shape[1]}x{depth.shape[0]}, camera is {camera.width}x{camera.height}"
        )
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != depth.shape:
            raise GraspRejected(
                f"hypothesis mask is {mask.shape[1]}x{mask.shape[0]}, camera is {camera.width}x{camera.height}"
            )
    return depth, mask


def grasp_height(surface_above_table, settings: GraspSettings):
    """Fingertip height above the table for an object top at ``surface_above_table`` (metres,
    scalar or array): ``grasp_depth`` below the top, at least ``min_height`` above the table."""
    return np.maximum(settings.min_height, np.asarray(surface_above_table) - settings.grasp_depth)


def _check_reachable(position: np.ndarray, settings: GraspSettings) -> None:
    if not settings.workspace.contains(position):
        raise GraspRejected(
            f"grasp point ({position[0]:.3f}, {position[1]:.3f}, {position[2]:.3f}) is outside the workspace "
            f"({settings.workspace.describe()})"
        )
    reach = float(np.linalg.norm(position - np.asarray(settings.robot_base)))
    if reach > settings.max_reach:
        raise GraspRejected(
            f"grasp point is {reach:.2f} m from the robot base, beyond its reach of {settings.max_reach:.2f} m"
        )


def plan_grasp(
    pixel: tuple[float, float],
    image_yaw: float,
    depth: np.ndarray,
    camera: PinholeCamera,
    settings: GraspSettings,
    mask: np.ndarray | None = None,
) -> GraspPlan:
    """The grasp for a hypothesis (grasp pixel, image yaw, mask in the main view); raises
    GraspRejected with the reason.

    With a mask, :func:`graspable_point` on it (``source="footprint"``); when no point of the
    mask fits the gripper, or without a mask, the grasp pixel back-projected with the depth and
    the image yaw (``source="pixel"``). The plan must lie in the workspace and within reach."""
    depth, mask = _check_images(depth, camera, mask)
    u, v = float(pixel[0]), float(pixel[1])
    if not (np.isfinite(u) and np.isfinite(v) and np.isfinite(image_yaw)):
        raise GraspRejected("grasp pixel or yaw is not finite")
    if not camera.in_image(np.array([[u, v]]))[0]:
        raise GraspRejected(f"grasp pixel ({u:.0f}, {v:.0f}) is outside the {camera.width}x{camera.height} image")
    no_fit = None
    if mask is not None:
        try:
            plan = graspable_point(mask, depth, camera, settings)
        except GraspRejected as exc:  # nothing fits between the fingers: the hypothesis's own grasp
            no_fit = str(exc)
        else:
            _check_reachable(plan.position, settings)
            return plan
    try:
        plan = _pixel_grasp((u, v), image_yaw, depth, camera, settings, mask)
        _check_reachable(plan.position, settings)
    except GraspRejected as exc:
        if no_fit is None:
            raise
        raise GraspRejected(f"{exc} (and on the mask's footprint: {no_fit})") from exc
    return plan


def _pixel_grasp(
    pixel: tuple[float, float],
    image_yaw: float,
    depth: np.ndarray,
    camera: PinholeCamera,
    settings: GraspSettings,
    mask: np.ndarray | None,
) -> GraspPlan:
    """The grasp pixel back-projected with the median depth around it (on the mask where the
    window meets it), yaw from the image yaw."""
    u, v = pixel
    iu, iv, r = int(round(u)), int(round(v)), settings.depth_window
    window = depth[max(0, iv - r) : iv + r + 1, max(0, iu - r) : iu + r + 1]
    if mask is not None:
        window_mask = mask[max(0, iv - r) : iv + r + 1, max(0, iu - r) : iu + r + 1]
        if window_mask.any():
            window = window[window_mask]
    valid = window[np.isfinite(window) & (window > 0)]
    if valid.size == 0:
        raise GraspRejected(f"no valid depth around the grasp pixel ({u:.0f}, {v:.0f})")
    surface = camera.backproject(np.array([[u, v]]), np.array([np.median(valid)]))[0]
    surface_height = float(surface[2])
    grasp_z = settings.table_height + float(grasp_height(surface_height - settings.table_height, settings))
    position = np.array([surface[0], surface[1], grasp_z])
    yaw = wrap_yaw(image_yaw_to_world(camera, (u, v), image_yaw, surface_height))
    return GraspPlan(position, yaw, surface_height, (u, v), source="pixel")


def choose_place_location(
    depth: np.ndarray,
    camera: PinholeCamera,
    settings: GraspSettings,
    place_region: Box,
    rng: np.random.Generator,
    avoid: np.ndarray | None = None,
    clearance: float = PLACE_CLEARANCE,
    min_distance: float = 0.12,
    tries: int = 200,
) -> np.ndarray:
    """A table point in ``place_region`` whose surroundings (``clearance`` m) look empty in the
    depth image and that is at least ``min_distance`` from ``avoid`` (the grasp point)."""
    depth = np.asarray(depth, dtype=np.float32)
    # Height above the table of every pixel, from depth: where it is > 1 cm something stands.
    v, u = np.mgrid[0 : camera.height, 0 : camera.width]
    points = camera.backproject(np.stack([u.ravel(), v.ravel()], axis=1), depth.ravel())
    occupied = np.isfinite(points[:, 2]) & (points[:, 2] > settings.table_height + 0.01)
    occupied_xy = points[occupied, :2]
    low, high = np.asarray(place_region.low), np.asarray(place_region.high)
    best, best_score = None, -np.inf
    for _ in range(tries):
        candidate = np.array(
            [rng.uniform(low[0], high[0]), rng.uniform(low[1], high[1]), settings.table_height + settings.min_height]
        )
        if avoid is not None and np.linalg.norm(candidate[:2] - np.asarray(avoid)[:2]) < min_distance:
            continue
        uv, in_front = camera.project(candidate[None])
        if not (in_front[0] and camera.in_image(uv, margin=5)[0]):
            continue  # place only where the main camera sees it
        nearest = np.min(np.linalg.norm(occupied_xy - candidate[:2], axis=1)) if len(occupied_xy) else np.inf
        if nearest >= clearance:
            return candidate
        if nearest > best_score:
            best, best_score = candidate, nearest
    if best is None:
        raise GraspRejected("no place location in view and away from the grasp point")
    return best


# Parallel-gripper geometry used to judge a top-down grasp on a height map (Franka hand).
FINGER_HALF_WIDTH = 0.016  # half the pads' extent along the finger-width axis, metres
FINGER_TIP_BELOW_GRASP = 0.007  # the fingertips end this far below the grasp point, metres
MAX_OPENING = 0.08  # between the fingers, metres


def graspable_point(
    mask: np.ndarray,
    depth: np.ndarray,
    camera: PinholeCamera,
    settings: GraspSettings,
    clearance: float = 0.004,
    yaw_steps: int = 18,
    spacing: float = 0.003,
    max_edge_slope: float = 0.8,
    max_offset: float = 0.06,
) -> GraspPlan:
    """The grasp a segmentation-based picker aims at: the point of the mask's top-down footprint
    nearest its centroid where the open fingers clear the object and close across it, with the
    yaw across the narrowest side there.

    The mask's pixels are back-projected with the main depth into a height map of the object. A
    candidate (point, yaw) is kept when every part of the object that reaches above the
    fingertips inside the fingers' band lies between the open fingers with ``clearance`` to
    spare, there is material on both sides of the point along the band, and the outline each
    finger meets is not steeper than ``max_edge_slope`` against the finger (the pads do not
    close on a corner). Among the kept candidates from the one nearest the centroid to 2 cm
    farther out, the narrowest, best centred and squarest grasp wins, nearer ones first. Points
    more than ``max_offset`` from the centroid are not tried (a mask with no fitting point that
    near is not one graspable object, and searching all of a large one takes seconds).
    The grasp height follows :func:`plan_grasp` (``grasp_depth`` below the surface at the point).
    Raises GraspRejected when no candidate fits the gripper.
    """
    depth = np.asarray(depth, dtype=np.float32)
    mask = np.asarray(mask, dtype=bool)
    if depth.shape != (camera.height, camera.width) or mask.shape != depth.shape:
        raise GraspRejected(
            f"mask {mask.shape} and depth {depth.shape} must match the {camera.width}x{camera.height} camera"
        )
    v, u = np.nonzero(mask & np.isfinite(depth) & (depth > 0))
    if len(u) < 10:
        raise GraspRejected("the mask has too few pixels with depth")
    points = camera.backproject(np.stack([u, v], axis=1).astype(np.float64), depth[v, u])
    points = points[points[:, 2] > settings.table_height + 0.003]  # edge pixels that see the table
    if len(points) < 10:
        raise GraspRejected("the mask stands no higher than the table")
    if len(points) > 1500:  # a regular subsample keeps the search fast on large masks
        points = points[:: int(np.ceil(len(points) / 1500))]
    xy, z = points[:, :2], points[:, 2] - settings.table_height
    centroid = xy.mean(axis=0)
    # Candidate points on a grid over the footprint, nearest the centroid first.
    cells = np.unique(np.round(xy / spacing).astype(np.int64), axis=0) * spacing
    cells = cells[np.argsort(np.linalg.norm(cells - centroid, axis=1))]
    cells = cells[np.linalg.norm(cells - centroid, axis=1) <= max_offset]
    if len(cells) == 0:
        raise GraspRejected("no point of the mask's footprint near its centroid")
    yaws = np.arange(yaw_steps) * np.pi / yaw_steps
    axis_along = np.stack([np.cos(yaws), np.sin(yaws)], axis=1)  # the fingers' width direction
    axis_across = np.stack([np.sin(yaws), -np.cos(yaws)], axis=1)  # the closing direction
    limit = MAX_OPENING / 2 - clearance
    slope_limit = max_edge_slope * FINGER_HALF_WIDTH
    distance = np.linalg.norm(cells - centroid, axis=1)
    best, best_score, reach = None, np.inf, np.inf
    for start in range(0, len(cells), 32):
        if distance[start] > reach:
            break
        batch = cells[start : start + 32]
        offsets = xy[None, :, :] - batch[:, None, :]  # (C, N, 2)
        near = np.linalg.norm(offsets, axis=2) < 0.006
        surface = np.array([np.percentile(z[n], 90) if n.any() else np.nan for n in near])
        grasp_z = grasp_height(surface, settings)
        along = np.einsum("cnk,yk->cyn", offsets, axis_along)
        across = np.einsum("cnk,yk->cyn", offsets, axis_across)
        tall = (z[None, :] > (grasp_z - FINGER_TIP_BELOW_GRASP)[:, None])[:, None, :]  # reaches the pads
        band = (np.abs(along) <= FINGER_HALF_WIDTH) & tall
        inf = np.inf
        hi = np.where(band, across, -inf).max(axis=2)
        lo = np.where(band, across, inf).min(axis=2)
        supported = (np.where(band, along, inf).min(axis=2) < -0.005) & (
            np.where(band, along, -inf).max(axis=2) > 0.005
        )
        # Opposed contacts: the object's outline where each finger meets it runs roughly along the
        # finger (a corner or a steep diagonal edge would squeeze out of the grasp).
        halves = [band & (along <= 0), band & (along >= 0)]
        hi_halves = [np.where(h, across, -inf).max(axis=2) for h in halves]
        lo_halves = [np.where(h, across, inf).min(axis=2) for h in halves]
        skew = np.abs(hi_halves[0] - hi_halves[1]) + np.abs(lo_halves[0] - lo_halves[1])
        opposed = (np.abs(hi_halves[0] - hi_halves[1]) <= slope_limit) & (
            np.abs(lo_halves[0] - lo_halves[1]) <= slope_limit
        )
        fits = np.isfinite(surface)[:, None] & (hi < limit) & (lo > -limit) & (hi > 0) & (lo < 0) & supported & opposed
        if not fits.any():
            continue
        if not np.isfinite(reach):  # look a little beyond the first point that fits, for a better one
            reach = distance[start + int(np.flatnonzero(fits.any(axis=1))[0])] + 0.02
        # narrow, centred between the fingers, square to the outline, near the centroid
        score = (hi - lo) + 0.5 * np.abs(hi + lo) + skew + 0.3 * distance[start : start + len(batch)][:, None]
        score = np.where(fits, score, inf)
        c, y = np.unravel_index(int(np.argmin(score)), score.shape)
        if score[c, y] < best_score:
            best_score = float(score[c, y])
            best = (
                np.array([batch[c][0], batch[c][1], settings.table_height + grasp_z[c]]),
                float(yaws[y]),
                float(settings.table_height + surface[c]),
            )
    if best is not None:
        point, yaw, surface_height = best
        uv, _ = camera.project(np.array([[point[0], point[1], surface_height]]))
        return GraspPlan(point, wrap_yaw(yaw), surface_height, (float(uv[0, 0]), float(uv[0, 1])), source="footprint")
    raise GraspRejected("no point of the object fits between the open fingers")
