"""The simulated Panda's joint state as ROS sees it (sensor_msgs/JointState) and its link
transforms for TF, from the kinematic chain of its URDF (ROS-free: no rclpy here).

:func:`link_transforms` (``/tf``) and :func:`static_link_transforms` (``/tf_static``) give
``(parent_link, child_link, 4x4)`` with the matrix mapping child coordinates to the parent
(tf2's convention), as robot_state_publisher would publish them for :func:`panda_urdf`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np

from interseg.sim.kinematics import RobotChain
from interseg.sim.panda_description import (
    PANDA_ARM_JOINT_NAMES,
    PANDA_FINGER_JOINT_NAMES,
    PANDA_JOINT_NAMES,
    panda_urdf,
)


@lru_cache(maxsize=1)
def panda_chain() -> RobotChain:
    """The kinematic chain of :func:`panda_urdf` (parsed from its text)."""
    return RobotChain.from_urdf(panda_urdf())


def panda_joint_state(
    arm_positions: Sequence[float], finger_positions: Sequence[float]
) -> tuple[list[str], list[float]]:
    """(names, positions) for sensor_msgs/JointState from the simulator's qpos of the seven arm
    joints (rad) and the two finger joints (m from closed, as the URDF's prismatic joints: every
    joint's zero is the model's qpos0, so the values carry over unchanged)."""
    arm = np.asarray(arm_positions, dtype=np.float64).reshape(-1)
    fingers = np.asarray(finger_positions, dtype=np.float64).reshape(-1)
    if arm.shape != (len(PANDA_ARM_JOINT_NAMES),) or fingers.shape != (len(PANDA_FINGER_JOINT_NAMES),):
        raise ValueError(
            f"need {len(PANDA_ARM_JOINT_NAMES)} arm and {len(PANDA_FINGER_JOINT_NAMES)} finger positions, "
            f"got {arm.size} and {fingers.size}"
        )
    positions = np.concatenate([arm, fingers])
    if not np.all(np.isfinite(positions)):
        raise ValueError(f"joint positions must be finite: {positions.tolist()}")
    return list(PANDA_JOINT_NAMES), [float(v) for v in positions]


def link_transforms(joint_positions: Mapping[str, float] | Sequence[float]) -> list[tuple[str, str, np.ndarray]]:
    """The Panda's movable-joint transforms (``/tf``): (parent, child, parent <- child).
    ``joint_positions``: names -> positions, or positions in the order of PANDA_JOINT_NAMES."""
    return panda_chain().link_transforms(joint_positions)


def static_link_transforms() -> list[tuple[str, str, np.ndarray]]:
    """The Panda's fixed-joint transforms (``/tf_static``): (parent, child, parent <- child)."""
    return panda_chain().static_link_transforms()
