"""PickPlace goals as any arm backend sees them (ROS-free): validation and Cartesian waypoints.

Every backend (the embedded simulator, MoveIt on a real arm or in Gazebo) accepts the same goal:
grasp and place poses in `world`, top-down (tool z pointing down), yawed about world z. A goal is
rejected, with a reason, before anything moves when a pose is not in `world`, not finite, its
quaternion is not normalized or it is not top-down; each backend also rejects poses outside its
workspace.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from interseg.geometry import matrix_from_quaternion
from interseg.transforms import WORLD_FRAME, TransformError, normalize_frame_id


class GoalRejected(ValueError):
    """The goal cannot be executed; the message says why."""


@dataclass(frozen=True)
class TopDownPose:
    position: np.ndarray  # fingertip centre, world
    yaw: float


def validate_top_down_pose(
    name: str, frame_id: str, position, quaternion_xyzw, max_tilt_deg: float = 5.0
) -> TopDownPose:
    try:
        in_world = normalize_frame_id(frame_id) == WORLD_FRAME
    except TransformError:
        in_world = False
    if not in_world:
        raise GoalRejected(f"{name}: frame '{frame_id}' is not '{WORLD_FRAME}'")
    try:
        position = np.array(position, dtype=np.float64)  # a copy: the pose does not share the caller's array
    except (TypeError, ValueError):
        raise GoalRejected(f"{name}: position must be 3 finite numbers, got {position!r}") from None
    if position.shape != (3,):
        raise GoalRejected(f"{name}: position must be 3 finite numbers, got shape {position.shape}")
    if not np.all(np.isfinite(position)):
        raise GoalRejected(f"{name}: position is not finite")
    try:
        rotation = matrix_from_quaternion(np.asarray(quaternion_xyzw, dtype=np.float64))
    except ValueError as exc:
        raise GoalRejected(f"{name}: {exc}") from None
    tool_z = rotation[:, 2]
    tilt = np.degrees(np.arccos(np.clip(-tool_z[2], -1.0, 1.0)))
    if tilt > max_tilt_deg:
        raise GoalRejected(
            f"{name}: not top-down (tool axis {tilt:.1f} deg from straight down, at most {max_tilt_deg:g})"
        )
    yaw = float(np.arctan2(rotation[1, 0], rotation[0, 0]))
    return TopDownPose(position, yaw)


def pick_place_waypoints(
    grasp: TopDownPose, place: TopDownPose, approach_height: float = 0.12, lift_height: float = 0.15
) -> list[tuple[str, np.ndarray, float]]:
    """(phase, fingertip position (a new array), yaw) for every Cartesian stop of a top-down pick-and-place:
    approach and descend to the grasp, lift, carry at lift height, place, retreat. Heights must
    be finite and positive (a stop below the grasp or place point would push into the table)."""
    for what, height in (("approach_height", approach_height), ("lift_height", lift_height)):
        if not np.isfinite(height) or height <= 0:
            raise ValueError(f"{what} must be a finite positive number of metres, got {height!r}")
    up = np.array([0.0, 0.0, 1.0])
    return [
        ("approach", grasp.position + approach_height * up, grasp.yaw),
        ("descend", grasp.position.copy(), grasp.yaw),
        ("lift", grasp.position + lift_height * up, grasp.yaw),
        ("carry", place.position + lift_height * up, place.yaw),
        ("place", place.position.copy(), place.yaw),
        ("retreat", place.position + approach_height * up, place.yaw),
    ]
