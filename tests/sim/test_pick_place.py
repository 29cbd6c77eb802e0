"""Pick-and-place in the real simulator: lifts a centred object, parks exactly, rejects bad goals."""

from __future__ import annotations

import numpy as np
import pytest

from interseg.arm_goals import GoalRejected, validate_top_down_pose
from interseg.evaluation import ground_truth
from interseg.geometry import top_down_grasp_quaternion
from interseg.sim.arena import ArenaConfig, SimulatedArena
from interseg.sim.catalog import make_object, object_split
from interseg.sim.controller import PARK_CONFIGURATION, PickPlaceRejected


@pytest.fixture(scope="module")
def block_arena():
    blocks = [i for i in object_split("train") if make_object(i).kind in ("block", "cylinder")][:2]
    others = [i for i in object_split("train") if make_object(i).kind == "plate"][:1]
    arena = SimulatedArena(ArenaConfig(width=160, height=120, calibration_error_m=0.0), seed=21)
    arena.reset(21, object_ids=blocks + others)
    yield arena
    arena.close()


def test_pick_and_place_of_a_centred_object_lifts_and_moves_it(block_arena):
    target = ground_truth.objects(block_arena)[0]
    grasp = np.array([target.centre[0], target.centre[1], max(0.02, target.top_z - 0.02)])
    others = [t.centre[:2] for t in ground_truth.objects(block_arena)[1:]]
    # a free place spot: the workspace point farthest from the other objects
    candidates = [np.array([x, y]) for x in np.linspace(0.4, 0.7, 7) for y in np.linspace(-0.25, 0.25, 11)]
    spot = max(candidates, key=lambda c: min(np.linalg.norm(c - o) for o in others + [target.centre[:2]]))
    place = np.array([spot[0], spot[1], grasp[2] + 0.01])
    phases, held_at_hold = [], []
    result = block_arena.pick_place(
        grasp,
        0.0,
        place,
        phase_callback=lambda p, f: phases.append(p) or True,
        hold_callback=lambda: held_at_hold.append(ground_truth.objects(block_arena)[0].top_z) or True,
    )
    assert result.success and result.object_lifted, result.message
    assert held_at_hold and held_at_hold[0] > target.top_z + 0.08  # it was up in the air while holding
    moved = ground_truth.objects(block_arena)[0]
    assert np.linalg.norm(moved.centre[:2] - spot) < 0.03
    assert phases[:5] == ["approach", "descend", "close", "lift", "hold"] and phases[-1] == "park"
    assert np.array_equal(block_arena.arm_joint_positions(), PARK_CONFIGURATION)  # exactly the same pose
    for name in block_arena.camera_names:
        assert ground_truth.visible_arm_bodies(block_arena, name) == set()


def test_grasp_on_empty_table_reports_nothing_lifted(block_arena):
    result = block_arena.pick_place([0.42, -0.27, 0.02], 0.5, [0.45, -0.27, 0.03])
    assert result.success and not result.object_lifted


def test_goals_outside_the_workspace_are_rejected_without_moving(block_arena):
    before = ground_truth.object_positions(block_arena)
    for grasp in ([1.2, 0.0, 0.03], [0.5, 0.0, -0.05], [0.5, 0.6, 0.03], [np.nan, 0.0, 0.03]):
        with pytest.raises(PickPlaceRejected):
            block_arena.pick_place(grasp, 0.0, [0.5, 0.0, 0.03])
    with pytest.raises(PickPlaceRejected, match="outside the workspace"):
        block_arena.validate_goal([0.5, 0.0, 0.03], 0.0, [0.5, 0.0, 0.9])
    np.testing.assert_array_equal(before, ground_truth.object_positions(block_arena))
    assert np.array_equal(block_arena.arm_joint_positions(), PARK_CONFIGURATION)


def _top_down(quaternion, frame="world"):
    return validate_top_down_pose("grasp_pose", frame, [0.5, 0.0, 0.02], quaternion)


def test_orientation_checks():
    assert _top_down(top_down_grasp_quaternion(0.7)).yaw == pytest.approx(0.7)
    with pytest.raises(GoalRejected, match="not normalized"):
        _top_down(np.array([0.0, 0.0, 0.0, 2.0]))
    with pytest.raises(GoalRejected, match="finite"):
        _top_down(np.array([np.nan, 0.0, 0.0, 1.0]))
    with pytest.raises(GoalRejected, match="top-down"):
        _top_down(np.array([0.0, 0.0, 0.0, 1.0]))  # identity: gripper pointing up
    with pytest.raises(GoalRejected, match="not 'world'"):
        _top_down(top_down_grasp_quaternion(0.0), frame="map")


@pytest.mark.parametrize("instantly", [False, True])
def test_stop_request_aborts_and_parks(block_arena, instantly):
    phases, stopped_at = [], []

    def on_phase(phase, progress):
        phases.append(phase)
        if phase == "descend":
            stopped_at.append(block_arena.sim_time)
            block_arena.request_stop(instantly=instantly)
        return True

    result = block_arena.pick_place([0.5, 0.2, 0.03], 0.0, [0.5, -0.2, 0.04], phase_callback=on_phase)
    assert not result.success and "cancelled" in result.message
    assert "close" not in phases
    assert np.array_equal(block_arena.arm_joint_positions(), PARK_CONFIGURATION)
    moved_after_stop = block_arena.sim_time - stopped_at[0]  # simulated seconds
    # a normal stop moves up and back to the park pose; an instant one (the simulation ending) does not
    # move there: only the control tick that saw the request passes
    assert (moved_after_stop < 0.05) if instantly else (moved_after_stop > 0.5)
