"""On the real simulator: random pushes are recorded at a fixed rate with the robot's joint
states, and the self-filter (the robot's own model rendered from the calibrated camera) covers
the arm, so that an arm moving over a still scene gives no object mask."""

from __future__ import annotations

import numpy as np
import pytest

from interseg.learning.motion_frames import TOO_LITTLE_MOTION, MotionFrame
from interseg.learning.motion_masks import MotionMaskExtractor
from interseg.sim.self_filter import SelfFilter

W, H = 320, 240
# Two arm poses reaching over the table, inside cam1's view (the front camera).
Q1 = np.array([0.25, 0.35, 0.0, -1.9, 0.0, 2.25, 0.785])
Q2 = Q1 + np.array([0.06, 0.03, 0.0, 0.04, 0.0, -0.02, 0.0])


@pytest.fixture(scope="module")
def arena():
    from interseg.sim.arena import ArenaConfig, SimulatedArena
    from interseg.sim.realism import RealismConfig

    realism = RealismConfig(light_position_jitter_m=0.01, light_intensity_jitter=0.02)
    arena = SimulatedArena(ArenaConfig(width=W, height=H, shadows=False, realism=realism), seed=2)
    yield arena
    arena.close()


def _arm_frames(arena, camera: str):
    from interseg.evaluation import ground_truth
    from interseg.sim.scene import ARM_BODIES

    def program(robot, kinematics):
        out = []
        for q in (Q1, Q2):
            robot.settle_exactly(q, 0.04)
            views = arena.render_views(depth=False, cameras=[camera])
            seg = ground_truth.segmentation(arena, camera)
            out.append((views.rgb[camera], views.sim_time, robot.arm_joint_positions(), robot.finger_positions(), seg))
            robot.step(0.1)
        return out

    frames = arena.run_motion(program)
    physics = ground_truth._physics(arena)
    arm_ids = [physics.model.body(name).id for name in ARM_BODIES]
    truth = []
    for *_, seg in frames:
        bodies = np.where(seg >= 0, physics.model.geom_bodyid[np.maximum(seg, 0)], -1)
        truth.append(np.isin(bodies, arm_ids))
    return frames, truth


def test_self_filter_covers_the_arm(arena):
    camera = {c.name: c for c in arena.cameras}["cam1"]
    frames, truth = _arm_frames(arena, "cam1")
    assert truth[0].mean() > 0.03, "the arm should be in view for this test"
    with SelfFilter([camera]) as self_filter:
        for (_, _, arm, fingers, _), arm_truth in zip(frames, truth):
            mask = self_filter.robot_mask("cam1", arm, fingers)
            iou = (mask & arm_truth).sum() / (mask | arm_truth).sum()
            assert iou > 0.85  # the base offset is off by a calibration error of ~2 mm


def test_moving_arm_over_a_still_scene_gives_no_mask(arena):
    camera = {c.name: c for c in arena.cameras}["cam1"]
    frames, truth = _arm_frames(arena, "cam1")
    (a, ta, qa, fa, _), (b, tb, qb, fb, _) = frames
    unfiltered = MotionMaskExtractor().process(MotionFrame(a, ta), MotionFrame(b, tb), camera)
    moved = len(unfiltered.masks) + sum(unfiltered.rejected.values())
    assert moved > 0, "without the self-filter the arm's motion must show up"
    with SelfFilter([camera]) as self_filter:
        extractor = MotionMaskExtractor(self_filter=self_filter)
        result = extractor.process(MotionFrame(a, ta, qa, fa), MotionFrame(b, tb, qb, fb), camera)
    assert result.masks == [] and result.dropped == TOO_LITTLE_MOTION, result.detail
    assert result.robot_mask[truth[0] | truth[1]].mean() > 0.97  # the arm was ignored, both poses


def test_pushes_are_recorded_at_a_fixed_rate_with_joint_states(arena):
    from interseg.sim.pushing import PushCollector, PushConfig, PushPlan

    collector = PushCollector(arena, PushConfig(frame_rate=10.0, cameras=("cam0", "cam1")), seed=0)
    plan = PushPlan(np.array([0.45, -0.1, 0.012]), np.array([0.6, 0.05, 0.012]), yaw=0.8, speed=0.12)
    record = collector.push(plan)
    assert record.message == "ok" and len(record.frames) >= 10 * plan.length / plan.speed
    stamps = np.array([f.stamp for f in record.frames])
    assert np.allclose(np.diff(stamps), 0.1, atol=0.021)  # the control period is 20 ms
    for frame in record.frames:
        assert set(frame.images) == {"cam0", "cam1"} and frame.images["cam1"].shape == (H, W, 3)
        assert frame.arm_joints.shape == (7,) and frame.finger_joints.shape == (2,)
    tips = np.array([f.tip_xyz for f in record.frames])
    # The fingertips sweep the straight line at table height (the robot's own belief of it).
    direction = (plan.end - plan.start) / plan.length
    offsets = tips - plan.start
    lateral = offsets - np.outer(offsets @ direction, direction)
    assert np.abs(lateral).max() < 0.01 and np.abs(tips[:, 2] - plan.start[2]).max() < 0.01
    assert record.after is not None and record.after.arm_parked
    assert record.after.stamp > stamps[-1]
    with pytest.raises(ValueError, match="unknown cameras"):
        PushCollector(arena, PushConfig(cameras=("cam9",)))
