"""A URDF's joint chain and its forward kinematics (ROS-free: no rclpy here).

:class:`RobotChain` parses a URDF made of fixed, revolute, continuous and prismatic joints and
computes what robot_state_publisher would publish: :meth:`RobotChain.link_transforms` for the
movable joints (``/tf``) and :meth:`RobotChain.static_link_transforms` for the fixed ones
(``/tf_static``), each as ``(parent_link, child_link, 4x4)`` with the matrix mapping child
coordinates to the parent (tf2's convention). Rigid-transform helpers (4x4 homogeneous matrices,
quaternions as MuJoCo's w, x, y, z; URDF's roll-pitch-yaw) come with it.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

# ---------------------------------------------------------------------------------------------
# Small rigid-transform helpers (4x4 homogeneous matrices; quaternions as MuJoCo's w, x, y, z).


def _matrix_from_wxyz(quaternion) -> np.ndarray:
    w, x, y, z = np.asarray(quaternion, dtype=np.float64) / np.linalg.norm(quaternion)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def pose_from_wxyz(position, quaternion_wxyz) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, :3] = _matrix_from_wxyz(quaternion_wxyz)
    pose[:3, 3] = position
    return pose


def inverse_pose(pose: np.ndarray) -> np.ndarray:
    inverse = np.eye(4)
    inverse[:3, :3] = pose[:3, :3].T
    inverse[:3, 3] = -pose[:3, :3].T @ pose[:3, 3]
    return inverse


def matrix_from_rpy(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """URDF's rpy (fixed axes: roll about x, then pitch about y, then yaw about z) -> 3x3."""
    cr, sr, cp, sp, cy, sy = (
        math.cos(roll),
        math.sin(roll),
        math.cos(pitch),
        math.sin(pitch),
        math.cos(yaw),
        math.sin(yaw),
    )
    return np.array(
        [
            [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
            [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
            [-sp, cp * sr, cp * cr],
        ]
    )


def rpy_from_matrix(rotation: np.ndarray) -> tuple[float, float, float]:
    """3x3 rotation -> URDF rpy; at pitch = +-pi/2 the roll is set to 0 (yaw carries the rest)."""
    r = np.asarray(rotation, dtype=np.float64)
    cos_pitch = math.hypot(r[0, 0], r[1, 0])
    pitch = math.atan2(-r[2, 0], cos_pitch)
    if cos_pitch < 1e-9:
        return 0.0, pitch, math.atan2(-r[0, 1], r[1, 1])
    return math.atan2(r[2, 1], r[2, 2]), pitch, math.atan2(r[1, 0], r[0, 0])


def _axis_rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    x, y, z = axis
    c, s = math.cos(angle), math.sin(angle)
    k = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    return np.eye(3) + s * k + (1 - c) * (k @ k)


# ---------------------------------------------------------------------------------------------
# The kinematic chain of a URDF and its forward kinematics.


@dataclass(frozen=True)
class JointLimit:
    lower: float
    upper: float
    effort: float
    velocity: float


@dataclass(frozen=True)
class ChainJoint:
    """One URDF joint: ``origin`` is the child's frame in the parent's at zero joint position."""

    name: str
    type: str  # fixed, revolute, continuous, prismatic
    parent: str
    child: str
    origin: np.ndarray
    axis: np.ndarray
    limit: JointLimit | None = None
    mimic: tuple[str, float, float] | None = None  # (joint, multiplier, offset)

    @property
    def movable(self) -> bool:
        return self.type != "fixed"

    def transform(self, position: float = 0.0) -> np.ndarray:
        """parent <- child at joint position ``position`` (rad or m)."""
        motion = np.eye(4)
        if self.type in ("revolute", "continuous"):
            motion[:3, :3] = _axis_rotation(self.axis, position)
        elif self.type == "prismatic":
            motion[:3, 3] = self.axis * position
        return self.origin @ motion


_SUPPORTED_TYPES = ("fixed", "revolute", "continuous", "prismatic")


def _floats(text: str | None, default: Sequence[float]) -> np.ndarray:
    if text is None:
        return np.asarray(default, dtype=np.float64)
    values = np.array([float(v) for v in text.split()])
    if values.shape != (len(default),) or not np.all(np.isfinite(values)):
        raise ValueError(f"expected {len(default)} finite numbers, got {text!r}")
    return values


class RobotChain:
    """The joints of a URDF as a tree from its root link, with forward kinematics."""

    def __init__(self, joints: Sequence[ChainJoint], links: Sequence[str]):
        self.joints = tuple(joints)
        self.links = tuple(links)
        self.root = self._check_tree()
        self._by_name = {j.name: j for j in self.joints}
        for joint in self.joints:
            if joint.mimic is not None:
                target = self._by_name.get(joint.mimic[0])
                if target is None or not target.movable or target.mimic is not None:
                    raise ValueError(
                        f"joint {joint.name} mimics {joint.mimic[0]!r}, which is not a movable, non-mimic joint"
                    )
        # The joints a state must give: movable and not mimicking another, in document order.
        self.movable_joint_names = tuple(j.name for j in self.joints if j.movable and j.mimic is None)

    def _check_tree(self) -> str:
        links = set(self.links)
        if len(links) != len(self.links):
            raise ValueError("a link name appears twice")
        parent_of: dict[str, str] = {}
        names: set[str] = set()
        for joint in self.joints:
            if joint.name in names:
                raise ValueError(f"joint name {joint.name!r} appears twice")
            names.add(joint.name)
            for link in (joint.parent, joint.child):
                if link not in links:
                    raise ValueError(f"joint {joint.name} names link {link!r}, which is not defined")
            if joint.child in parent_of:
                raise ValueError(f"link {joint.child!r} is the child of two joints")
            parent_of[joint.child] = joint.parent
        roots = [link for link in self.links if link not in parent_of]
        if len(roots) != 1:
            raise ValueError(f"a URDF needs exactly one root link, found {roots}")
        for link in self.links:  # every link reaches the root without revisiting a link
            seen = {link}
            while link in parent_of:
                link = parent_of[link]
                if link in seen:
                    raise ValueError(f"the joints form a cycle through link {link!r}")
                seen.add(link)
        return roots[0]

    @classmethod
    def from_urdf(cls, text: str) -> RobotChain:
        """Parse a URDF's links and joints (origin xyz/rpy, axis, limit, mimic)."""
        robot = ET.fromstring(text)
        if robot.tag != "robot":
            raise ValueError(f"not a URDF: root element <{robot.tag}>")
        links = [link.get("name") for link in robot.findall("link")]
        joints = []
        for element in robot.findall("joint"):
            name, kind = element.get("name"), element.get("type")
            if kind not in _SUPPORTED_TYPES:
                raise ValueError(f"joint {name}: type {kind!r} not supported (only {', '.join(_SUPPORTED_TYPES)})")
            origin = np.eye(4)
            origin_element = element.find("origin")
            if origin_element is not None:
                origin[:3, 3] = _floats(origin_element.get("xyz"), (0.0, 0.0, 0.0))
                origin[:3, :3] = matrix_from_rpy(*_floats(origin_element.get("rpy"), (0.0, 0.0, 0.0)))
            axis_element = element.find("axis")
            axis = _floats(None if axis_element is None else axis_element.get("xyz"), (1.0, 0.0, 0.0))
            if kind != "fixed":
                norm = np.linalg.norm(axis)
                if norm < 1e-12:
                    raise ValueError(f"joint {name}: zero axis")
                axis = axis / norm
            limit = None
            limit_element = element.find("limit")
            if limit_element is not None:
                limit = JointLimit(
                    float(limit_element.get("lower", 0.0)),
                    float(limit_element.get("upper", 0.0)),
                    float(limit_element.get("effort")),
                    float(limit_element.get("velocity")),
                )
            elif kind in ("revolute", "prismatic"):
                raise ValueError(f"joint {name}: a {kind} joint needs <limit>")
            mimic = None
            mimic_element = element.find("mimic")
            if mimic_element is not None:
                mimic = (
                    mimic_element.get("joint"),
                    float(mimic_element.get("multiplier", 1.0)),
                    float(mimic_element.get("offset", 0.0)),
                )
            joints.append(
                ChainJoint(
                    name,
                    kind,
                    element.find("parent").get("link"),
                    element.find("child").get("link"),
                    origin,
                    axis,
                    limit,
                    mimic,
                )
            )
        return cls(joints, links)

    def _positions(self, joint_positions: Mapping[str, float] | Sequence[float]) -> dict[str, float]:
        if isinstance(joint_positions, Mapping):
            given = {str(k): float(v) for k, v in joint_positions.items()}
        else:
            values = [float(v) for v in joint_positions]
            if len(values) != len(self.movable_joint_names):
                raise ValueError(
                    f"{len(values)} joint positions for {len(self.movable_joint_names)} joints "
                    f"({', '.join(self.movable_joint_names)})"
                )
            given = dict(zip(self.movable_joint_names, values))
        missing = [n for n in self.movable_joint_names if n not in given]
        if missing:
            raise KeyError(f"no position for joint(s) {', '.join(missing)}")
        bad = [n for n in self.movable_joint_names if not math.isfinite(given[n])]
        if bad:
            raise ValueError(f"joint position of {', '.join(bad)} is not finite")
        positions = {n: given[n] for n in self.movable_joint_names}
        for joint in self.joints:  # as robot_state_publisher: a mimic joint follows its joint
            if joint.mimic is not None:
                target, multiplier, offset = joint.mimic
                positions[joint.name] = multiplier * positions[target] + offset
        return positions

    def link_transforms(
        self, joint_positions: Mapping[str, float] | Sequence[float]
    ) -> list[tuple[str, str, np.ndarray]]:
        """(parent, child, parent <- child) of every movable joint at these positions (``/tf``).

        ``joint_positions`` maps joint names to positions (extra names are ignored, mimic joints
        follow their joint), or lists them in the order of :attr:`movable_joint_names`."""
        positions = self._positions(joint_positions)
        return [(j.parent, j.child, j.transform(positions[j.name])) for j in self.joints if j.movable]

    def static_link_transforms(self) -> list[tuple[str, str, np.ndarray]]:
        """(parent, child, parent <- child) of every fixed joint (``/tf_static``)."""
        return [(j.parent, j.child, j.origin.copy()) for j in self.joints if not j.movable]

    def link_poses(self, joint_positions: Mapping[str, float] | Sequence[float]) -> dict[str, np.ndarray]:
        """Every link's pose in the root link (root <- link) at these joint positions."""
        edges = {
            child: (parent, matrix)
            for parent, child, matrix in self.static_link_transforms() + self.link_transforms(joint_positions)
        }
        poses = {self.root: np.eye(4)}

        def pose(link: str) -> np.ndarray:
            if link not in poses:
                parent, matrix = edges[link]
                poses[link] = pose(parent) @ matrix
            return poses[link]

        for link in self.links:
            pose(link)
        return poses
