"""The simulated arena: deterministic scenes, calibrated cameras, the arm parked out of view."""

from __future__ import annotations

import numpy as np
import pytest

from interseg.evaluation import ground_truth
from interseg.sim.arena import ArenaConfig, SimulatedArena
from interseg.sim.catalog import background_split, object_split


@pytest.fixture(scope="module")
def small_arena():
    arena = SimulatedArena(ArenaConfig(width=160, height=120), seed=3)
    yield arena
    arena.close()


def test_fixed_seed_gives_the_same_scene_and_images(small_arena):
    other = SimulatedArena(ArenaConfig(width=160, height=120), seed=3)
    try:
        assert other.num_objects == small_arena.num_objects
        assert other.background_id == small_arena.background_id
        assert [t.object_id for t in ground_truth.objects(other)] == [
            t.object_id for t in ground_truth.objects(small_arena)
        ]
        np.testing.assert_allclose(
            ground_truth.object_positions(other), ground_truth.object_positions(small_arena), atol=1e-9
        )
        a, b = small_arena.render_views(), other.render_views()
        assert a.rgb["cam0"].shape == (120, 160, 3) and a.rgb["cam0"].dtype == np.uint8
        assert np.array_equal(a.rgb["cam1"], b.rgb["cam1"])
    finally:
        other.close()


def test_scene_holds_the_expected_objects_from_the_split(small_arena):
    truths = ground_truth.objects(small_arena)
    assert 4 <= len(truths) <= 8
    assert {t.object_id for t in truths} <= set(object_split("train"))
    assert small_arena.background_id in background_split("train")
    visible = ground_truth.instance_masks(small_arena, "cam0", min_pixels=5)
    assert len(visible) == len(truths)  # the main view sees every object
    for t in truths:  # resting on the table inside the scatter area
        assert 0.3 < t.centre[0] < 0.8 and abs(t.centre[1]) < 0.3 and t.top_z < 0.12


def test_cameras_are_calibrated_against_the_renderer(small_arena):
    views = small_arena.render_views(depth=True)
    cam0 = small_arena.cameras[0]
    assert views.depth.shape == (cam0.height, cam0.width)
    # Depth back-projects onto the table plane (z = 0) where no object is.
    instances = ground_truth.instance_map(small_arena, "cam0")
    v, u = np.nonzero((instances == 0) & np.isfinite(views.depth))
    pick = np.linspace(0, len(u) - 1, 200).astype(int)
    points = cam0.backproject(np.stack([u[pick], v[pick]], 1), views.depth[v[pick], u[pick]])
    assert np.median(np.abs(points[:, 2])) < 0.004
    # Object centres project onto their own masks in every view.
    for camera in small_arena.cameras:
        ids = ground_truth.instance_map(small_arena, camera.name)
        for t in ground_truth.objects(small_arena):
            uv, front = camera.project(t.centre[None])
            col, row = np.round(uv[0]).astype(int)
            assert front[0] and camera.in_image(uv)[0]
            window = ids[max(0, row - 2) : row + 3, max(0, col - 2) : col + 3]
            assert (window == t.index + 1).any() or camera.name != "cam0"


def test_parked_arm_is_outside_every_view(small_arena):
    for name in small_arena.camera_names:
        assert ground_truth.visible_arm_bodies(small_arena, name) == set(), name


def test_realism_changes_frames_of_a_static_scene(small_arena):
    a, b = small_arena.render_views(depth=False), small_arena.render_views(depth=False)
    difference = np.abs(a.rgb["cam0"].astype(int) - b.rgb["cam0"].astype(int))
    assert difference.mean() > 0.5  # noise, light and exposure changes between frames
    assert difference.mean() < 25  # but the scene is the same


def test_reset_rescatters_and_validates(small_arena):
    before = ground_truth.object_positions(small_arena)
    count = small_arena.reset(4)
    assert count == len(ground_truth.objects(small_arena))
    assert len(before) != count or not np.allclose(before, ground_truth.object_positions(small_arena))
    with pytest.raises(ValueError, match="not in the train split"):
        small_arena.reset(5, background_id=background_split("test")[0])
    with pytest.raises(ValueError, match="non-negative"):
        small_arena.reset(-1)
    small_arena.reset(3)


def test_bad_configuration_is_rejected():
    with pytest.raises(ValueError, match="too small"):
        ArenaConfig(width=4, height=4)
    with pytest.raises(ValueError, match="unknown split"):
        ArenaConfig(split="holdout")
