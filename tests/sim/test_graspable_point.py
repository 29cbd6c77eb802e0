"""graspable_point: where a segmentation-based picker aims on composite shapes (synthetic depth)."""
from __future__ import annotations

import numpy as np
import pytest

from interseg.geometry import PinholeCamera, look_at
from interseg.grasping import GraspRejected, GraspSettings, graspable_point


def _top_down_camera() -> PinholeCamera:
    return PinholeCamera.from_fov("cam0", 320, 240, 30.0, look_at(np.array([0.5, 0.0, 0.8]), np.array([0.5, 0.0, 0.0])))


def _render(camera: PinholeCamera, boxes: list[tuple[float, float, float, float, float]]):
    """Depth and mask of axis-aligned boxes (x0, x1, y0, y1, height) on a table at z = 0."""
    v, u = np.mgrid[0:camera.height, 0:camera.width]
    table = camera.intersect_plane_z(np.stack([u.ravel(), v.ravel()], 1).astype(float), 0.0)
    depth = np.full(len(table), np.nan)
    mask = np.zeros(len(table), bool)
    for x0, x1, y0, y1, h in sorted(boxes, key=lambda b: b[4]):
        top = camera.intersect_plane_z(np.stack([u.ravel(), v.ravel()], 1).astype(float), h)
        inside = (top[:, 0] >= x0) & (top[:, 0] <= x1) & (top[:, 1] >= y0) & (top[:, 1] <= y1)
        mask |= inside
    camera_z = camera.position[2]
    depth = np.full(len(table), camera_z, np.float32)  # table (the camera looks straight down)
    for x0, x1, y0, y1, h in sorted(boxes, key=lambda b: b[4]):
        top = camera.intersect_plane_z(np.stack([u.ravel(), v.ravel()], 1).astype(float), h)
        inside = (top[:, 0] >= x0) & (top[:, 0] <= x1) & (top[:, 1] >= y0) & (top[:, 1] <= y1)
        depth[inside] = camera_z - h
    return mask.reshape(camera.height, camera.width), depth.reshape(camera.height, camera.width)


def test_l_shape_is_grasped_on_an_arm_across_its_narrow_side():
    camera = _top_down_camera()
    # an L: a bar along x (6 cm x 3 cm) and one along y (3 cm x 5 cm) at its right end, 3 cm tall
    mask, depth = _render(camera, [(0.47, 0.53, -0.015, 0.015, 0.03), (0.50, 0.53, 0.015, 0.065, 0.03)])
    plan = graspable_point(mask, depth, camera, GraspSettings())
    x, y = plan.position[:2]
    on_first = 0.47 <= x <= 0.53 and -0.015 <= y <= 0.015
    on_second = 0.50 <= x <= 0.53 and 0.015 <= y <= 0.065
    assert on_first or on_second  # on material, not in the empty corner of the bounding box
    # fingers close across the arm it stands on: the finger-width axis runs along that arm
    expected = 0.0 if on_first else np.pi / 2
    assert abs(np.cos(plan.yaw - expected)) > 0.9
    assert plan.position[2] == pytest.approx(0.01, abs=0.003)  # 2 cm below the top


def test_dumbbell_is_grasped_on_its_bar_below_the_knobs():
    camera = _top_down_camera()
    # knobs 4 cm tall at both ends, a 1.6 cm bar 2.6 cm tall between them
    mask, depth = _render(camera, [(0.44, 0.48, -0.02, 0.02, 0.04), (0.52, 0.56, -0.02, 0.02, 0.04),
                                   (0.48, 0.52, -0.008, 0.008, 0.026)])
    plan = graspable_point(mask, depth, camera, GraspSettings())
    assert abs(plan.position[0] - 0.5) < 0.006 and abs(plan.position[1]) < 0.006
    assert abs(np.cos(plan.yaw)) > 0.95  # finger width along the bar, closing across it
    assert plan.surface_height == pytest.approx(0.026, abs=0.003)


def test_object_wider_than_the_open_gripper_everywhere_is_rejected():
    camera = _top_down_camera()
    mask, depth = _render(camera, [(0.45, 0.55, -0.05, 0.05, 0.03)])  # a 10 x 10 cm block
    with pytest.raises(GraspRejected, match="fits between"):
        graspable_point(mask, depth, camera, GraspSettings())
