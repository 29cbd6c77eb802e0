"""From an object hypothesis in the main view to a top-down grasp and a free place location
(ROS-free core of the grasp planner).

The grasp point is the hypothesis's grasp pixel back-projected with the main camera's depth and
calibration; the gripper yaw comes from the mask's principal axis (the image-plane angle is
turned into a world angle through the table plane, so an oblique main camera is handled); the
grasp height is a little below the object's top surface, never below the table. Checks: finite
depth at the grasp pixel, inside the workspace box, within the arm's reach. The place location
is a random table point in the place region whose surroundings look empty in the depth image.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from interseg.geometry import Box, PinholeCamera  # noqa: F401  (Box is part of this module's API)


class GraspRejected(ValueError):
    """The hypothesis cannot be turned into an executable grasp; the message says why."""


@dataclass(frozen=True)
class GraspSettings:
    table_height: float = 0.0  # world z of the table surface
    workspace: Box = Box((0.25, -0.3, -0.01), (0.75, 0.3, 0.3))
    robot_base: tuple[float, float, float] = (0.0, 0.0, 0.0)
    max_reach: float = 0.85  # metres from the base
    grasp_depth: float = 0.02  # how far below the top surface the fingertips close
    min_height: float = 0.008  # fingertips at least this far above the table
    depth_window: int = 5  # pixels: half-size of the window the depth is read in


@dataclass(frozen=True)
class GraspPlan:
    position: np.ndarray  # fingertip centre at grasp time, world
    yaw: float  # radians about world z: direction of the mask's major axis in the world
    surface_height: float  # top of the object at the grasp point, world z
    pixel: tuple[float, float]


def image_yaw_to_world(camera: PinholeCamera, pixel: tuple[float, float], image_yaw: float, plane_z: float) -> float:
    """World yaw of an image-plane direction at ``pixel``, measured on the plane z = plane_z."""
    u, v = pixel
    step = 10.0
    points = camera.intersect_plane_z(np.array([[u, v], [u + step * np.cos(image_yaw), v + step * np.sin(image_yaw)]]), plane_z)
    if not np.all(np.isfinite(points)):
        raise GraspRejected("the grasp pixel's ray does not meet the table plane")
    direction = points[1] - points[0]
    return float(np.arctan2(direction[1], direction[0]))


def wrap_yaw(yaw: float) -> float:
    """A parallel gripper is symmetric: yaw and yaw + pi are the same grasp; keep (-pi/2, pi/2]."""
    yaw = (yaw + np.pi / 2) % np.pi - np.pi / 2
    return float(np.pi / 2 if np.isclose(yaw, -np.pi / 2) else yaw)


def plan_grasp(pixel: tuple[float, float], image_yaw: float, depth: np.ndarray, camera: PinholeCamera, settings: GraspSettings, mask: np.ndarray | None = None) -> GraspPlan:
    """Back-project the grasp pixel and check the result; raises GraspRejected with a reason."""
    depth = np.asarray(depth, dtype=np.float32)
    if depth.shape != (camera.height, camera.width):
        raise GraspRejected(f"depth image is {depth.shape[1]}x{depth.shape[0]}, camera is {camera.width}x{camera.height}")
    u, v = float(pixel[0]), float(pixel[1])
    if not (np.isfinite(u) and np.isfinite(v) and np.isfinite(image_yaw)):
        raise GraspRejected("grasp pixel or yaw is not finite")
    if not camera.in_image(np.array([[u, v]]))[0]:
        raise GraspRejected(f"grasp pixel ({u:.0f}, {v:.0f}) is outside the {camera.width}x{camera.height} image")
    iu, iv, r = int(round(u)), int(round(v)), settings.depth_window
    window = depth[max(0, iv - r):iv + r + 1, max(0, iu - r):iu + r + 1]
    if mask is not None:
        window_mask = np.asarray(mask, dtype=bool)[max(0, iv - r):iv + r + 1, max(0, iu - r):iu + r + 1]
        if window_mask.any():
            window = window[window_mask]
    valid = window[np.isfinite(window) & (window > 0)]
    if valid.size == 0:
        raise GraspRejected(f"no valid depth around the grasp pixel ({u:.0f}, {v:.0f})")
    surface = camera.backproject(np.array([[u, v]]), np.array([np.median(valid)]))[0]
    surface_height = float(surface[2])
    grasp_z = max(settings.table_height + settings.min_height, surface_height - settings.grasp_depth)
    position = np.array([surface[0], surface[1], grasp_z])
    if not settings.workspace.contains(position):
        raise GraspRejected(f"grasp point ({position[0]:.3f}, {position[1]:.3f}, {position[2]:.3f}) is outside the workspace ({settings.workspace.describe()})")
    reach = float(np.linalg.norm(position - np.asarray(settings.robot_base)))
    if reach > settings.max_reach:
        raise GraspRejected(f"grasp point is {reach:.2f} m from the robot base, beyond its reach of {settings.max_reach:.2f} m")
    yaw = wrap_yaw(image_yaw_to_world(camera, (u, v), image_yaw, surface_height))
    return GraspPlan(position, yaw, surface_height, (u, v))


def choose_place_location(depth: np.ndarray, camera: PinholeCamera, settings: GraspSettings, place_region: Box, rng: np.random.Generator,
                          avoid: np.ndarray | None = None, clearance: float = 0.06, min_distance: float = 0.12, tries: int = 200) -> np.ndarray:
    """A table point in ``place_region`` whose surroundings (``clearance`` m) look empty in the
    depth image and that is at least ``min_distance`` from ``avoid`` (the grasp point)."""
    depth = np.asarray(depth, dtype=np.float32)
    # Height above the table of every pixel, from depth: where it is > 1 cm something stands.
    v, u = np.mgrid[0:camera.height, 0:camera.width]
    points = camera.backproject(np.stack([u.ravel(), v.ravel()], axis=1), depth.ravel())
    occupied = np.isfinite(points[:, 2]) & (points[:, 2] > settings.table_height + 0.01)
    occupied_xy = points[occupied, :2]
    low, high = np.asarray(place_region.low), np.asarray(place_region.high)
    best, best_score = None, -np.inf
    for _ in range(tries):
        candidate = np.array([rng.uniform(low[0], high[0]), rng.uniform(low[1], high[1]), settings.table_height + settings.min_height])
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
