"""Coordinate frames and a tree of transforms between them, as tf2 sees them (ROS-free).

Frame names follow REP 103/105: ``world`` is z-up; each camera has a body frame ``camN_link``
(x forward, y left, z up) and an optical frame ``camN_optical_frame`` (z forward along the
viewing direction, x right, y down in the image), joined by a fixed rotation. A transform from
``parent`` to ``child`` is the 4x4 matrix that maps coordinates in the child frame to the parent
frame (tf2's TransformStamped with ``header.frame_id = parent`` and ``child_frame_id = child``).

:class:`TransformTree` holds the latest transform per child frame, as tf2's buffer does for
static transforms (a child has exactly one parent; a newer transform for it replaces the older
one, also when the parent changes), and answers ``lookup(target, source)`` through the common
ancestor. Nodes feed it from ``/tf_static``; the core never sees a message type.

:func:`load_transforms_file` reads a YAML file of measured poses (a camera calibration, the
``cameras.yaml`` of a real robot) that the ``static_transforms`` node publishes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from interseg.constants import WORLD_FRAME
from interseg.geometry import invert_transform, matrix_from_quaternion, quaternion_from_matrix

# The optical frame in its camera's body frame: optical z = body x, optical x = -body y,
# optical y = -body z (REP 103's "_optical" suffix convention; roll -pi/2, yaw -pi/2).
LINK_FROM_OPTICAL = np.array([[0.0, 0.0, 1.0, 0.0], [-1.0, 0.0, 0.0, 0.0], [0.0, -1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])


_IDENTITY3 = np.eye(3)
_LAST_ROW = np.array([0.0, 0.0, 0.0, 1.0])


class TransformError(LookupError):
    """A transform that is unknown, malformed, or would break the tree; says which frames."""


def camera_link_frame(camera: str) -> str:
    return f"{camera}_link"


def optical_frame(camera: str) -> str:
    return f"{camera}_optical_frame"


def normalize_frame_id(frame_id: str) -> str:
    """tf2 ignores one leading slash in frame ids (and warns); empty ids are invalid."""
    frame = str(frame_id)
    if frame.startswith("/"):
        frame = frame[1:]
    if not frame:
        raise TransformError(f"invalid frame id {frame_id!r}: empty")
    if any(c.isspace() for c in frame):
        raise TransformError(f"invalid frame id {frame_id!r}: contains white space")
    return frame


def check_transform(matrix: np.ndarray, what: str = "transform") -> np.ndarray:
    """A finite 4x4 rigid transform (orthonormal, right-handed rotation), as float64."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape != (4, 4) or not np.all(np.isfinite(m)):
        raise TransformError(f"{what}: not a finite 4x4 matrix")
    rotation = m[:3, :3]
    if np.abs(rotation @ rotation.T - _IDENTITY3).max() > 1e-5 or np.linalg.det(rotation) < 0:
        raise TransformError(f"{what}: rotation is not a proper rotation")
    if np.abs(m[3] - _LAST_ROW).max() > 1e-9:
        raise TransformError(f"{what}: last row is not [0, 0, 0, 1]")
    return m


def transform_from_pose(translation, quaternion_xyzw) -> np.ndarray:
    """Translation (x, y, z) and unit quaternion (x, y, z, w) -> 4x4."""
    t = np.asarray(translation, dtype=np.float64)
    if t.shape != (3,) or not np.all(np.isfinite(t)):
        raise TransformError(f"translation must be 3 finite numbers, got {translation!r}")
    try:
        rotation = matrix_from_quaternion(np.asarray(quaternion_xyzw, dtype=np.float64), tolerance=1e-3)
    except ValueError as exc:
        raise TransformError(str(exc)) from None
    m = np.eye(4)
    m[:3, :3], m[:3, 3] = rotation, t
    return m


def pose_from_transform(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """4x4 -> translation (x, y, z) and quaternion (x, y, z, w)."""
    m = np.asarray(matrix, dtype=np.float64)
    return m[:3, 3].copy(), quaternion_from_matrix(m[:3, :3])


@dataclass(frozen=True)
class Transform:
    """``matrix`` maps coordinates in ``child`` to coordinates in ``parent``."""

    parent: str
    child: str
    matrix: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "parent", normalize_frame_id(self.parent))
        object.__setattr__(self, "child", normalize_frame_id(self.child))
        if self.parent == self.child:
            raise TransformError(f"transform from {self.parent} to itself")
        object.__setattr__(self, "matrix", check_transform(self.matrix, f"transform {self.parent} -> {self.child}"))


def camera_transforms(camera: str, world_from_optical: np.ndarray, world_frame: str = WORLD_FRAME) -> list[Transform]:
    """The two static transforms of a camera: world -> camN_link -> camN_optical_frame."""
    world_from_link = np.asarray(world_from_optical, dtype=np.float64) @ invert_transform(LINK_FROM_OPTICAL)
    return [
        Transform(world_frame, camera_link_frame(camera), world_from_link),
        Transform(camera_link_frame(camera), optical_frame(camera), LINK_FROM_OPTICAL),
    ]


class TransformTree:
    """The latest transform per child frame, and lookups between any two connected frames.

    Thread-safe: subscription callbacks ``set`` while service handlers ``lookup``."""

    def __init__(self) -> None:
        self._parent: dict[str, Transform] = {}  # child -> transform from its parent
        self._lock = threading.Lock()
        self.version = 0  # bumped on every change, so users can cache lookups

    def set(self, transform: Transform) -> None:
        """Add or replace the transform to ``transform.child``; refuses one that closes a loop."""
        with self._lock:
            frame = transform.parent
            while frame in self._parent:  # walk up from the new parent: the child must not be above it
                frame = self._parent[frame].parent
                if frame == transform.child:
                    raise TransformError(
                        f"{transform.parent} -> {transform.child} would close a loop in the transform tree"
                    )
            old = self._parent.get(transform.child)
            if old is None or old.parent != transform.parent or not np.array_equal(old.matrix, transform.matrix):
                self._parent[transform.child] = transform
                self.version += 1

    def set_all(self, transforms) -> list[str]:
        """Set each transform; returns one line per transform that was refused (and skipped)."""
        problems = []
        for transform in transforms:
            try:
                self.set(transform)
            except TransformError as exc:
                problems.append(str(exc))
        return problems

    def frames(self) -> set[str]:
        with self._lock:
            return set(self._parent) | {t.parent for t in self._parent.values()}

    def transforms(self) -> list[Transform]:
        with self._lock:
            return list(self._parent.values())

    def _chain_to_root(self, frame: str) -> list[str]:
        chain = [frame]
        while chain[-1] in self._parent:
            chain.append(self._parent[chain[-1]].parent)
        return chain

    def _root_from(self, chain: list[str]) -> np.ndarray:
        """Transform from the last frame of ``chain`` (its root) to the first."""
        m = np.eye(4)
        for frame in chain[:-1]:
            m = self._parent[frame].matrix @ m
        return m

    def lookup(self, target: str, source: str) -> np.ndarray:
        """4x4 mapping coordinates in ``source`` to ``target`` (tf2's lookupTransform(target, source))."""
        target, source = normalize_frame_id(target), normalize_frame_id(source)
        if target == source:
            return np.eye(4)
        with self._lock:
            known = set(self._parent) | {t.parent for t in self._parent.values()}
            missing = [f for f in (target, source) if f not in known]
            if missing:
                names = ", ".join(sorted(known)) or "none yet"
                raise TransformError(
                    f"no transform between {target} and {source}: frame {' and '.join(missing)} unknown "
                    f"(known frames: {names})"
                )
            up_target, up_source = self._chain_to_root(target), self._chain_to_root(source)
            if up_target[-1] != up_source[-1]:
                raise TransformError(
                    f"no transform between {target} and {source}: they are in separate trees "
                    f"(rooted at {up_target[-1]} and {up_source[-1]})"
                )
            common = next(f for f in up_source if f in set(up_target))
            source_part = up_source[: up_source.index(common) + 1]
            target_part = up_target[: up_target.index(common) + 1]
            common_from_source = self._root_from(source_part)
            common_from_target = self._root_from(target_part)
        return invert_transform(common_from_target) @ common_from_source

    def can_transform(self, target: str, source: str) -> bool:
        try:
            self.lookup(target, source)
            return True
        except TransformError:
            return False


def load_transforms_file(path: str | Path) -> list[Transform]:
    """Measured static poses from YAML, e.g. a robot's camera calibration::

        transforms:
          - parent: world
            child: cam0_link           # the frame your camera driver publishes its optical frame under
            translation: [0.60, 0.0, 0.90]      # metres
            rotation: [0.0, 0.7071, 0.0, 0.7071]  # quaternion x, y, z, w   (or rpy: [roll, pitch, yaw], radians)

    Every problem (missing keys, non-finite numbers, a non-unit quaternion, a child listed twice,
    a loop) raises TransformError naming the file and the entry.
    """
    import yaml

    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise TransformError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise TransformError(f"{path}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    entries = document.get("transforms") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        raise TransformError(f"{path}: expected a mapping with a non-empty 'transforms' list")
    result: list[Transform] = []
    tree = TransformTree()
    for index, entry in enumerate(entries, start=1):
        where = f"{path}: transform {index}"
        if not isinstance(entry, dict):
            raise TransformError(f"{where}: expected a mapping, got {entry!r}")
        unknown = set(entry) - {"parent", "child", "translation", "rotation", "rpy"}
        if unknown:
            raise TransformError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        for key in ("parent", "child", "translation"):
            if key not in entry:
                raise TransformError(f"{where}: missing '{key}'")
        if ("rotation" in entry) == ("rpy" in entry):
            raise TransformError(f"{where}: give exactly one of 'rotation' (quaternion x, y, z, w) or 'rpy'")
        try:
            if "rpy" in entry:
                rpy = np.asarray(entry["rpy"], dtype=np.float64)
                if rpy.shape != (3,) or not np.all(np.isfinite(rpy)):
                    raise TransformError(f"rpy must be 3 finite numbers, got {entry['rpy']!r}")
                from scipy.spatial.transform import Rotation

                quaternion = Rotation.from_euler("xyz", rpy).as_quat()  # fixed axes, as URDF and tf2
            else:
                quaternion = np.asarray(entry["rotation"], dtype=np.float64)
            matrix = transform_from_pose(np.asarray(entry["translation"], dtype=np.float64), quaternion)
            transform = Transform(str(entry["parent"]), str(entry["child"]), matrix)
        except (TransformError, ValueError, TypeError) as exc:
            raise TransformError(f"{where}: {exc}") from None
        if any(t.child == transform.child for t in result):
            raise TransformError(f"{where}: frame {transform.child} is given a parent twice")
        try:
            tree.set(transform)
        except TransformError as exc:
            raise TransformError(f"{where}: {exc}") from None
        result.append(transform)
    return result
