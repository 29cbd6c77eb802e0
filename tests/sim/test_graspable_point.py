"""graspable_point and plan_grasp: where a segmentation-based picker aims on composite shapes (synthetic depth)."""

from __future__ import annotations

import numpy as np
import pytest

from interseg.geometry import PinholeCamera, look_at
from interseg.grasping import Box, GraspRejected, GraspSettings, graspable_point, plan_grasp


def _top_down_camera() -> PinholeCamera:
    return PinholeCamera.from_fov("cam0", 320, 240, 30.0, look_at(np.array([0.5, 0.0, 0.8]), np.array([0.5, 0.0, 0.0])))


def _render(camera: PinholeCamera, boxes: list[tuple[float, float, float, float, float]]):
    """Depth and mask of axis-aligned boxes (x0, x1, y0, y1, height) on a table at z = 0."""
    v, u = np.mgrid[0 : camera.height, 0 : camera.width]
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
    mask, depth = _render(
        camera, [(0.44, 0.48, -0.02, 0.02, 0.04), (0.52, 0.56, -0.02, 0.02, 0.04), (0.48, 0.52, -0.008, 0.008, 0.026)]
    )
    plan = graspable_point(mask, depth, camera, GraspSettings())
    assert abs(plan.position[0] - 0.5) < 0.006 and abs(plan.position[1]) < 0.006
    assert abs(np.cos(plan.yaw)) > 0.95  # finger width along the bar, closing across it
    assert plan.surface_height == pytest.approx(0.026, abs=0.003)


def test_object_wider_than_the_open_gripper_everywhere_is_rejected():
    camera = _top_down_camera()
    mask, depth = _render(camera, [(0.45, 0.55, -0.05, 0.05, 0.03)])  # a 10 x 10 cm block
    with pytest.raises(GraspRejected, match="fits between"):
        graspable_point(mask, depth, camera, GraspSettings())


# -- plan_grasp: the grasp the grasp planner node and the benchmarks execute for a hypothesis --


def _hypothesis_grasp(mask: np.ndarray) -> tuple[tuple[float, float], float]:
    from interseg.learning.hypothesis import grasp_from_mask

    u, v, yaw, _ = grasp_from_mask(mask)  # what the hypotheses node sends with the mask
    return (u, v), yaw


def test_plan_grasp_with_an_l_shaped_mask_grasps_an_arm_across_its_narrow_side():
    camera = _top_down_camera()
    # the L of the test above: the mask's centroid and principal axis say little about where it fits
    mask, depth = _render(camera, [(0.47, 0.53, -0.015, 0.015, 0.03), (0.50, 0.53, 0.015, 0.065, 0.03)])
    pixel, image_yaw = _hypothesis_grasp(mask)
    plan = plan_grasp(pixel, image_yaw, depth, camera, GraspSettings(), mask)
    assert plan.source == "footprint"
    found = graspable_point(mask, depth, camera, GraspSettings())
    assert np.array_equal(plan.position, found.position) and plan.yaw == found.yaw
    x, y = plan.position[:2]
    on_first = 0.47 <= x <= 0.53 and -0.015 <= y <= 0.015
    on_second = 0.50 <= x <= 0.53 and 0.015 <= y <= 0.065
    assert on_first or on_second  # on material
    expected = 0.0 if on_first else np.pi / 2  # finger width along the arm, closing across it
    assert abs(np.cos(plan.yaw - expected)) > 0.9
    assert plan.position[2] == pytest.approx(0.01, abs=0.003)
    # the plan's pixel is the grasp point on the object's top, inside the mask
    u, v = plan.pixel
    assert mask[int(round(v)), int(round(u))]
    top = camera.backproject(np.array([plan.pixel]), np.array([camera.position[2] - plan.surface_height]))[0]
    assert np.allclose(top[:2], plan.position[:2], atol=1e-3)


def test_plan_grasp_falls_back_to_the_hypothesis_pixel_and_yaw_when_nothing_fits():
    camera = _top_down_camera()
    mask, depth = _render(camera, [(0.45, 0.55, -0.05, 0.05, 0.03)])  # wider than the open gripper
    pixel, _ = _hypothesis_grasp(mask)
    plan = plan_grasp(pixel, 0.3, depth, camera, GraspSettings(), mask)
    assert plan.source == "pixel" and plan.pixel == pytest.approx(pixel)
    assert plan.position[:2] == pytest.approx([0.5, 0.0], abs=0.003)
    assert plan.position[2] == pytest.approx(0.01, abs=0.002)
    # top-down camera looking along -z with image u along -x or +x: the yaw keeps its angle up to the mirror
    assert abs(np.sin(abs(plan.yaw)) - np.sin(0.3)) < 0.02


def test_plan_grasp_without_a_mask_uses_the_pixel():
    camera = _top_down_camera()
    mask, depth = _render(camera, [(0.47, 0.53, -0.015, 0.015, 0.03), (0.50, 0.53, 0.015, 0.065, 0.03)])
    pixel, image_yaw = _hypothesis_grasp(mask)
    plan = plan_grasp(pixel, image_yaw, depth, camera, GraspSettings())
    assert plan.source == "pixel" and plan.pixel == pytest.approx(pixel)
    # the centroid of an L sits in its inner corner, where the fingers would land on the other arm
    # and the principal axis runs along neither arm: why the mask's footprint is searched
    assert plan.position[1] - 0.015 < 0.005 and plan.position[0] < 0.515
    assert 0.1 < abs(np.cos(plan.yaw)) < 0.9


def test_plan_grasp_rejections_say_why():
    camera = _top_down_camera()
    mask, depth = _render(camera, [(0.47, 0.53, -0.015, 0.015, 0.03), (0.50, 0.53, 0.015, 0.065, 0.03)])
    pixel, image_yaw = _hypothesis_grasp(mask)
    with pytest.raises(GraspRejected, match="mask is 10x10"):
        plan_grasp(pixel, image_yaw, depth, camera, GraspSettings(), np.ones((10, 10), bool))
    with pytest.raises(GraspRejected, match="not finite"):
        plan_grasp((np.nan, 1.0), image_yaw, depth, camera, GraspSettings(), mask)
    # a grasp point that fits but lies outside the workspace is rejected, not replaced by the pixel
    outside = GraspSettings(workspace=Box((0.6, -0.3, -0.01), (0.8, 0.3, 0.3)))
    with pytest.raises(GraspRejected, match="outside the workspace"):
        plan_grasp(pixel, image_yaw, depth, camera, outside, mask)
    with pytest.raises(GraspRejected, match="beyond its reach"):
        plan_grasp(pixel, image_yaw, depth, camera, GraspSettings(max_reach=0.3), mask)
    # nothing fits and the fallback fails too: both reasons
    block_mask, block_depth = _render(camera, [(0.45, 0.55, -0.05, 0.05, 0.03)])
    block_pixel, _ = _hypothesis_grasp(block_mask)
    with pytest.raises(GraspRejected, match=r"outside the workspace .*fits between the open fingers"):
        plan_grasp(block_pixel, 0.0, block_depth, camera, outside, block_mask)
