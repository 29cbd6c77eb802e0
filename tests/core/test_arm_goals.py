"""PickPlace goals as every arm backend reads them: top-down poses in `world` are accepted with
their yaw, anything else is rejected with the reason before the arm moves; the Cartesian stops of
a pick-and-place go approach -> descend -> lift -> carry -> place -> retreat at the right heights."""

from __future__ import annotations

import math

import numpy as np
import pytest

from interseg.arm_goals import GoalRejected, TopDownPose, pick_place_waypoints, validate_top_down_pose
from interseg.geometry import top_down_grasp_quaternion

POSITION = [0.5, -0.1, 0.02]


def _tilted(degrees: float, yaw: float = 0.0) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return (
        Rotation.from_euler("z", yaw) * Rotation.from_euler("x", np.pi) * Rotation.from_euler("y", np.radians(degrees))
    ).as_quat()


@pytest.mark.parametrize("yaw", [0.0, 0.7, -1.2, math.pi - 1e-6, -math.pi / 2])
def test_a_top_down_pose_gives_back_its_yaw_and_position(yaw):
    pose = validate_top_down_pose("grasp_pose", "world", POSITION, top_down_grasp_quaternion(yaw))
    assert pose.yaw == pytest.approx(yaw, abs=1e-9)
    np.testing.assert_allclose(pose.position, POSITION)
    assert pose.position.dtype == np.float64


def test_a_yaw_past_pi_wraps_into_minus_pi_to_pi():
    pose = validate_top_down_pose("grasp_pose", "world", POSITION, top_down_grasp_quaternion(3 * math.pi / 2))
    assert pose.yaw == pytest.approx(-math.pi / 2)


def test_the_quaternion_sign_does_not_matter():
    q = top_down_grasp_quaternion(0.4)
    assert validate_top_down_pose("p", "world", POSITION, -q).yaw == pytest.approx(0.4)


def test_a_leading_slash_on_the_frame_is_accepted_as_tf2_does():
    assert validate_top_down_pose("p", "/world", POSITION, top_down_grasp_quaternion(0.0)).yaw == pytest.approx(0.0)


@pytest.mark.parametrize("frame", ["map", "", "/", "world ", "base_link"])
def test_a_frame_other_than_world_is_rejected_with_its_name(frame):
    with pytest.raises(GoalRejected, match=f"place_pose: frame '{frame}' is not 'world'"):
        validate_top_down_pose("place_pose", frame, POSITION, top_down_grasp_quaternion(0.0))


@pytest.mark.parametrize("position", [[math.nan, 0.0, 0.0], [0.0, math.inf, 0.0], [0.0, 0.0, -math.inf]])
def test_a_position_that_is_not_finite_is_rejected(position):
    with pytest.raises(GoalRejected, match="grasp_pose: position is not finite"):
        validate_top_down_pose("grasp_pose", "world", position, top_down_grasp_quaternion(0.0))


@pytest.mark.parametrize("position", [[0.5, 0.0], [0.5, 0.0, 0.0, 1.0], [[0.5, 0.0, 0.0]], ["a", "b", "c"], None])
def test_a_position_that_is_not_three_numbers_is_rejected(position):
    with pytest.raises(GoalRejected, match="grasp_pose: position must be 3 finite numbers"):
        validate_top_down_pose("grasp_pose", "world", position, top_down_grasp_quaternion(0.0))


@pytest.mark.parametrize(
    "quaternion, reason",
    [
        ([0.0, 0.0, 0.0, 0.0], "not normalized"),
        ([1.0, 1.0, 0.0, 0.0], "not normalized"),
        ([math.nan, 0.0, 0.0, 1.0], "finite"),
        ([0.0, 0.0, 1.0], "4 finite numbers"),
    ],
)
def test_a_bad_quaternion_is_rejected(quaternion, reason):
    with pytest.raises(GoalRejected, match=reason):
        validate_top_down_pose("grasp_pose", "world", POSITION, quaternion)


def test_a_quaternion_slightly_off_unit_length_is_tolerated():
    q = top_down_grasp_quaternion(0.3) * (1 + 5e-4)
    assert validate_top_down_pose("p", "world", POSITION, q).yaw == pytest.approx(0.3)


def test_tilt_up_to_the_limit_is_accepted_and_beyond_it_rejected():
    assert validate_top_down_pose("p", "world", POSITION, _tilted(4.9, yaw=0.5)).yaw == pytest.approx(0.5, abs=1e-6)
    with pytest.raises(GoalRejected, match=r"not top-down \(tool axis 5\.2 deg from straight down, at most 5\)"):
        validate_top_down_pose("p", "world", POSITION, _tilted(5.2))
    assert validate_top_down_pose("p", "world", POSITION, _tilted(10.0), max_tilt_deg=10.5)
    with pytest.raises(GoalRejected, match="not top-down"):  # identity: the gripper points up
        validate_top_down_pose("p", "world", POSITION, [0.0, 0.0, 0.0, 1.0])


def test_goal_rejected_is_a_value_error():
    assert issubclass(GoalRejected, ValueError)


# -- pick_place_waypoints -----------------------------------------------------------------------


def _poses():
    return TopDownPose(np.array([0.5, -0.1, 0.02]), 0.3), TopDownPose(np.array([0.45, 0.15, 0.05]), -1.0)


def test_waypoints_in_order_with_heights_and_yaws():
    grasp, place = _poses()
    steps = pick_place_waypoints(grasp, place, approach_height=0.1, lift_height=0.2)
    assert [phase for phase, _, _ in steps] == ["approach", "descend", "lift", "carry", "place", "retreat"]
    expected = [
        ([0.5, -0.1, 0.12], 0.3),
        ([0.5, -0.1, 0.02], 0.3),
        ([0.5, -0.1, 0.22], 0.3),
        ([0.45, 0.15, 0.25], -1.0),
        ([0.45, 0.15, 0.05], -1.0),
        ([0.45, 0.15, 0.15], -1.0),
    ]
    for (_, position, yaw), (want_position, want_yaw) in zip(steps, expected):
        np.testing.assert_allclose(position, want_position, atol=1e-12)
        assert yaw == want_yaw


def test_waypoints_use_the_default_heights():
    grasp, place = _poses()
    steps = dict((phase, position) for phase, position, _ in pick_place_waypoints(grasp, place))
    assert steps["approach"][2] == pytest.approx(0.02 + 0.12)
    assert steps["lift"][2] == pytest.approx(0.02 + 0.15)
    assert steps["carry"][2] == pytest.approx(0.05 + 0.15)


def test_waypoints_are_new_arrays_and_leave_the_poses_alone():
    grasp, place = _poses()
    steps = pick_place_waypoints(grasp, place)
    for _, position, _ in steps:
        position += 1.0  # a caller editing a waypoint
    np.testing.assert_allclose(grasp.position, [0.5, -0.1, 0.02])
    np.testing.assert_allclose(place.position, [0.45, 0.15, 0.05])
    descend = pick_place_waypoints(grasp, place)[1][1]
    assert descend is not grasp.position


@pytest.mark.parametrize(
    "heights",
    [{"approach_height": 0.0}, {"lift_height": -0.1}, {"approach_height": math.nan}, {"lift_height": math.inf}],
)
def test_waypoints_refuse_heights_that_are_not_positive_and_finite(heights):
    grasp, place = _poses()
    with pytest.raises(ValueError, match="must be a finite positive number of metres"):
        pick_place_waypoints(grasp, place, **heights)


def test_a_validated_pose_does_not_share_the_callers_array():
    position = np.array(POSITION)
    pose = validate_top_down_pose("p", "world", position, top_down_grasp_quaternion(0.0))
    position[2] = 5.0
    assert pose.position[2] == pytest.approx(0.02)
