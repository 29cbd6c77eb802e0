"""The interaction step's pure pieces (interseg.interaction): planning a grasp and a place from a
hypothesis, the labeller's views from an interaction's images, one pass of the runner on small
stand-in backends, and the mid-grasp capture's bounded wait."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from interseg.constants import PLACE_REGION, WORKSPACE
from interseg.geometry import PinholeCamera, look_at
from interseg.grasping import (
    DEFAULT_PLACE_REGION,
    DEFAULT_WORKSPACE,
    GraspRejected,
    GraspSettings,
    choose_place_location,
    plan_grasp,
)
from interseg.interaction import (
    BackgroundCapture,
    Hooks,
    InteractionRunner,
    Observed,
    plan_grasp_and_place,
    run_interactions,
    views_from_images,
)

WIDTH, HEIGHT = 160, 120


def _camera(name: str = "cam0", eye=(0.55, 0.2, 0.9)) -> PinholeCamera:
    return PinholeCamera.from_fov(name, WIDTH, HEIGHT, 60, look_at(np.array(eye), np.array([0.55, 0.0, 0.0])))


def _render_depth(
    camera: PinholeCamera, block: tuple[float, float, float, float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Depth along the optical axis of a table (z = 0) with one block on it (x0, y0, x1, y1,
    height; its top only), and the block's mask."""
    v, u = np.mgrid[0:HEIGHT, 0:WIDTH]
    uv = np.stack([u.ravel(), v.ravel()], axis=1).astype(float)
    x0, y0, x1, y1, h = block
    top = camera.intersect_plane_z(uv, h)
    on_top = (top[:, 0] >= x0) & (top[:, 0] <= x1) & (top[:, 1] >= y0) & (top[:, 1] <= y1)
    points = np.where(on_top[:, None], top, camera.intersect_plane_z(uv, 0.0))
    cam = (camera.camera_from_world[:3, :3] @ points.T + camera.camera_from_world[:3, 3:4]).T
    return cam[:, 2].reshape(HEIGHT, WIDTH).astype(np.float32), on_top.reshape(HEIGHT, WIDTH)


def _hypothesis(camera, block):
    depth, mask = _render_depth(camera, block)
    vs, us = np.nonzero(mask)
    return depth, SimpleNamespace(
        grasp_u=float(us.mean()), grasp_v=float(vs.mean()), grasp_yaw=0.0, mask=mask, score=1.0
    )


def test_grasp_settings_defaults_come_from_the_constants():
    assert GraspSettings().workspace == DEFAULT_WORKSPACE
    assert DEFAULT_WORKSPACE.low + DEFAULT_WORKSPACE.high == WORKSPACE
    assert DEFAULT_PLACE_REGION.low + DEFAULT_PLACE_REGION.high == PLACE_REGION


def test_plan_grasp_and_place_is_plan_grasp_then_a_free_place():
    camera = _camera()
    block = (0.53, -0.03, 0.57, 0.03, 0.04)
    depth, h = _hypothesis(camera, block)
    settings = GraspSettings()
    planned = plan_grasp_and_place(
        (h.grasp_u, h.grasp_v), h.grasp_yaw, h.mask, depth, camera, settings, np.random.default_rng(5)
    )
    # the same calls the grasp planner made, with the same random state
    rng = np.random.default_rng(5)
    grasp = plan_grasp((h.grasp_u, h.grasp_v), h.grasp_yaw, depth, camera, settings, h.mask)
    place = choose_place_location(
        depth, camera, settings, DEFAULT_PLACE_REGION, rng, avoid=grasp.position, clearance=0.06
    )
    np.testing.assert_allclose(planned.grasp.position, grasp.position)
    np.testing.assert_allclose(planned.place, place)
    assert planned.grasp.source == "footprint"
    assert block[0] <= planned.grasp.position[0] <= block[2] and block[1] <= planned.grasp.position[1] <= block[3]
    assert DEFAULT_PLACE_REGION.contains(planned.place)
    assert np.linalg.norm(planned.place[:2] - planned.grasp.position[:2]) >= 0.12


def test_plan_grasp_and_place_rejects_a_grasp_outside_the_workspace():
    camera = _camera(eye=(0.4, 0.2, 0.9))
    block = (0.26, -0.02, 0.29, 0.02, 0.04)  # x < 0.30: outside the workspace (the old default began at 0.25)
    depth, h = _hypothesis(camera, block)
    with pytest.raises(GraspRejected, match="outside the workspace"):
        plan_grasp_and_place(
            (h.grasp_u, h.grasp_v), h.grasp_yaw, h.mask, depth, camera, GraspSettings(), np.random.default_rng(0)
        )


def _images(cameras, value: int) -> dict:
    return {c.name: np.full((HEIGHT, WIDTH, 3), value, np.uint8) for c in cameras}


def test_views_from_images_before_after_and_lifted():
    cameras = [_camera("cam0"), _camera("cam1", eye=(0.9, 0.3, 0.6)), _camera("cam2", eye=(0.2, -0.3, 0.6))]
    before, after, lifted = _images(cameras, 10), _images(cameras, 20), _images(cameras, 30)
    d_before, d_after, d_lifted = (np.full((HEIGHT, WIDTH), v, np.float32) for v in (0.8, 0.7, 0.6))

    views = views_from_images(cameras, before, after, before_depth=d_before, after_depth=d_after)
    assert [v.camera.name for v in views] == ["cam0", "cam1", "cam2"]
    assert all(v.lifted is None for v in views)
    assert views[0].before_depth is d_before and views[0].after_depth is d_after
    assert all(v.before_depth is None and v.after_depth is None for v in views[1:])
    assert views[1].before is before["cam1"] and views[1].after is after["cam1"]

    views = views_from_images(
        cameras, before, after, before_depth=d_before, after_depth=d_after, lifted=lifted, lifted_depth=d_lifted
    )
    assert [v.lifted is lifted[v.camera.name] for v in views] == [True] * 3
    assert views[0].before_depth is d_before and views[0].after_depth is d_lifted  # compared with the lifted view

    views = views_from_images(cameras, before, after, before_depth=d_before, after_depth=d_after, lifted=lifted)
    assert views[0].before_depth is None and views[0].after_depth is None  # no depth of the lifted view
    views = views_from_images(cameras, before, after, before_depth=d_before)
    assert views[0].before_depth is None


class _Cameras:
    def __init__(self, depth):
        self.camera, self.depth, self.observed = _camera(), depth, 0

    def observe(self) -> Observed:
        self.observed += 1
        return Observed([self.camera], {"cam0": np.full((HEIGHT, WIDTH, 3), 100, np.uint8)}, self.depth)


class _Proposer:
    def __init__(self, hypotheses):
        self.hypotheses = hypotheses

    def propose(self, rgb):
        return list(self.hypotheses), 7


class _Arm:
    def __init__(self, reject: str = ""):
        self.reject, self.goals = reject, []

    def validate(self, grasp, yaw, place):
        if self.reject:
            raise ValueError(self.reject)

    def pick_place(self, grasp, yaw, place):
        self.goals.append((grasp, yaw, place))
        return SimpleNamespace(success=True, object_lifted=False)


class _Sink:
    def __init__(self):
        self.added = []

    def add_example(self, example, *, interaction_id, model_version):
        self.added.append((example, interaction_id, model_version))


def test_runner_one_interaction_with_hooks_and_store():
    block = (0.53, -0.03, 0.57, 0.03, 0.04)
    cameras = _Cameras(None)
    depth, h = _hypothesis(cameras.camera, block)
    cameras.depth = depth
    calls = []
    hooks = Hooks(
        before_pick=lambda i: calls.append(("before", i.status, i.after)),
        after_pick=lambda i: calls.append(("after", i.status, i.after is not None)),
    )
    arm, sink = _Arm(), _Sink()
    runner = InteractionRunner(
        cameras, _Proposer([h]), arm, sink, GraspSettings(), np.random.default_rng(1), hooks=hooks
    )
    result = runner.run_once(42)
    assert result.status == "executed" and result.interaction_id == 42 and result.model_version == 7
    assert [c[0] for c in calls] == ["before", "after"] and calls[0][2] is None and calls[1][2]
    assert len(arm.goals) == 1 and cameras.observed == 2
    assert result.labels and len(sink.added) == len(result.examples) >= 1
    assert all(i == 42 and v == 7 for _, i, v in sink.added)
    assert not any(e.positive for e in result.examples)  # nothing changed between the images


def test_runner_rejections_and_the_loop():
    block = (0.53, -0.03, 0.57, 0.03, 0.04)
    cameras = _Cameras(None)
    depth, h = _hypothesis(cameras.camera, block)
    cameras.depth = depth
    arm = _Arm(reject="unreachable")
    runner = InteractionRunner(cameras, _Proposer([h]), arm, None, GraspSettings(), np.random.default_rng(1))
    result = runner.run_once(1)
    assert result.status == "rejected" and result.reason == "unreachable" and not arm.goals
    assert InteractionRunner(cameras, _Proposer([]), _Arm(), None).run_once(1).status == "no_hypotheses"
    with pytest.raises(RuntimeError, match="3 attempts gave only 0 executed"):
        run_interactions(runner, 2, max_attempts=3)

    resets, seen = [], []
    runner = InteractionRunner(cameras, _Proposer([h]), _Arm(), None, GraspSettings(), np.random.default_rng(1))
    stats = run_interactions(
        runner, 5, reset=lambda: resets.append(1), reset_every=2, on_executed=lambda i, s: seen.append(i.interaction_id)
    )
    assert seen == [1, 2, 3, 4, 5] and stats.executed == 5 and stats.attempts == 5
    assert stats.resets == len(resets) == 3  # at the start, after 2 and after 4 (not after the last)


def test_background_capture_is_waited_for():
    """The grasp planner read the mid-grasp capture without waiting for its thread: a capture
    still on its way came back empty. ``wait`` joins it (bounded, interruptible)."""
    release = threading.Event()

    def slow_capture():
        release.wait(5.0)
        return "lifted observation"

    capture = BackgroundCapture(slow_capture)
    assert capture.wait(1.0) is None  # never started: nothing to wait for
    capture.start()
    assert capture.peek() is None  # what reading it at once gave: nothing yet
    threading.Timer(0.3, release.set).start()
    start = time.monotonic()
    assert capture.wait(5.0) == "lifted observation"
    assert 0.2 < time.monotonic() - start < 4.5  # woken by the result, not by the 5 s timeout


def test_background_capture_wait_is_bounded_and_interruptible():
    release = threading.Event()
    capture = BackgroundCapture(lambda: release.wait(10.0) and "late")
    capture.start()
    start = time.monotonic()
    assert capture.wait(0.2) is None
    assert time.monotonic() - start < 5.0  # not the capture's 10 s
    stop = threading.Event()
    threading.Timer(0.1, stop.set).start()
    start = time.monotonic()
    assert capture.wait(10.0, interrupted=stop.is_set) is None
    assert time.monotonic() - start < 5.0  # interrupted, not the 10 s
    release.set()
    assert capture.wait(2.0) == "late"

    errors = []

    def failing():
        raise RuntimeError("capture failed")

    broken = BackgroundCapture(failing, on_error=errors.append)
    broken.start()
    assert broken.wait(2.0) is None and len(errors) == 1
