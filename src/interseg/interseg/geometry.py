"""Camera geometry shared by the simulator, the grasp planner and the labeller (ROS-free).

Conventions (REP 103/105): the world frame is z-up; a camera's optical frame has z forward
(viewing direction), x right and y down in the image. ``world_from_camera`` maps points in the
optical frame to world coordinates. Pixels are (u, v) = (column, row), with pixel centres at
integer coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class PinholeCamera:
    """A calibrated pinhole camera without distortion: intrinsics plus its pose in the world."""

    name: str
    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    world_from_camera: np.ndarray = field(default_factory=lambda: np.eye(4))  # 4x4, optical frame

    def __post_init__(self) -> None:
        pose = np.asarray(self.world_from_camera, dtype=np.float64)
        if pose.shape != (4, 4) or not np.all(np.isfinite(pose)):
            raise ValueError(f"camera {self.name}: world_from_camera must be a finite 4x4 matrix")
        rotation = pose[:3, :3]
        if not np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-5):
            raise ValueError(f"camera {self.name}: world_from_camera rotation is not orthonormal")
        if self.width <= 0 or self.height <= 0 or self.fx <= 0 or self.fy <= 0:
            raise ValueError(f"camera {self.name}: size and focal lengths must be positive")
        object.__setattr__(self, "world_from_camera", pose)

    @property
    def K(self) -> np.ndarray:  # noqa: N802 (the usual name of the intrinsic matrix)
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def camera_from_world(self) -> np.ndarray:
        return invert_transform(self.world_from_camera)

    @property
    def position(self) -> np.ndarray:
        return self.world_from_camera[:3, 3].copy()

    @classmethod
    def from_fov(
        cls, name: str, width: int, height: int, fovy_deg: float, world_from_camera: np.ndarray
    ) -> PinholeCamera:
        """Square pixels, principal point at the image centre, vertical field of view in degrees."""
        fy = 0.5 * height / np.tan(np.deg2rad(fovy_deg) / 2.0)
        return cls(name, width, height, fy, fy, (width - 1) / 2.0, (height - 1) / 2.0, world_from_camera)

    def project(self, points_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points (N, 3) -> pixels (N, 2) and a mask of points in front of the camera."""
        points = np.atleast_2d(np.asarray(points_world, dtype=np.float64))
        cam = (self.camera_from_world[:3, :3] @ points.T + self.camera_from_world[:3, 3:4]).T
        in_front = cam[:, 2] > 1e-6
        z = np.where(in_front, cam[:, 2], 1.0)
        uv = np.stack([self.fx * cam[:, 0] / z + self.cx, self.fy * cam[:, 1] / z + self.cy], axis=1)
        return uv, in_front

    def in_image(self, uv: np.ndarray, margin: float = 0.0) -> np.ndarray:
        uv = np.atleast_2d(uv)
        return (
            (uv[:, 0] >= -0.5 + margin)
            & (uv[:, 0] <= self.width - 0.5 - margin)
            & (uv[:, 1] >= -0.5 + margin)
            & (uv[:, 1] <= self.height - 0.5 - margin)
        )

    def pixel_rays(self, uv: np.ndarray) -> np.ndarray:
        """Unit-depth rays (z = 1) in the optical frame for pixels (N, 2)."""
        uv = np.atleast_2d(np.asarray(uv, dtype=np.float64))
        return np.stack([(uv[:, 0] - self.cx) / self.fx, (uv[:, 1] - self.cy) / self.fy, np.ones(len(uv))], axis=1)

    def backproject(self, uv: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """Pixels (N, 2) with depth along the optical axis (N,) in metres -> world points (N, 3)."""
        rays = self.pixel_rays(uv) * np.asarray(depth, dtype=np.float64).reshape(-1, 1)
        return (self.world_from_camera[:3, :3] @ rays.T + self.world_from_camera[:3, 3:4]).T

    def intersect_plane_z(self, uv: np.ndarray, z: float) -> np.ndarray:
        """World points where the rays through pixels (N, 2) meet the horizontal plane at height z."""
        rays_world = (self.world_from_camera[:3, :3] @ self.pixel_rays(uv).T).T
        origin = self.position
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (z - origin[2]) / rays_world[:, 2]
        t = np.where(t > 0, t, np.nan)
        return origin + rays_world * t[:, None]


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in the world frame, metres."""

    low: tuple[float, float, float]
    high: tuple[float, float, float]

    def __post_init__(self) -> None:
        if len(self.low) != 3 or len(self.high) != 3 or any(lo >= hi for lo, hi in zip(self.low, self.high)):
            raise ValueError(f"box needs low < high in x, y, z: {self.low} .. {self.high}")

    def contains(self, point: np.ndarray, margin: float = 0.0) -> bool:
        point = np.asarray(point, dtype=float)
        return bool(np.all(point >= np.asarray(self.low) + margin) and np.all(point <= np.asarray(self.high) - margin))

    def describe(self) -> str:
        return (
            f"x {self.low[0]:.2f}..{self.high[0]:.2f}, y {self.low[1]:.2f}..{self.high[1]:.2f}, "
            f"z {self.low[2]:.2f}..{self.high[2]:.2f}"
        )


def invert_transform(transform: np.ndarray) -> np.ndarray:
    inverse = np.eye(4)
    rotation = transform[:3, :3]
    inverse[:3, :3] = rotation.T
    inverse[:3, 3] = -rotation.T @ transform[:3, 3]
    return inverse


def look_at(eye: np.ndarray, target: np.ndarray, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """world_from_camera for an optical frame at ``eye`` looking at ``target`` (image y down)."""
    eye, target, up = (np.asarray(a, dtype=np.float64) for a in (eye, target, up))
    z = target - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, up)
    if np.linalg.norm(x) < 1e-9:  # looking straight along `up`: pick any perpendicular x
        x = np.cross(z, np.array([0.0, 1.0, 0.0]))
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = x, y, z, eye
    return pose


def quaternion_from_matrix(rotation: np.ndarray) -> np.ndarray:
    """3x3 rotation -> unit quaternion (x, y, z, w), the order geometry_msgs uses, with w >= 0.

    Shepperd's method (the largest of the four squared components chosen for stability): about
    20x faster than building a scipy Rotation, which matters for the arm's /tf at every frame."""
    m = np.asarray(rotation, dtype=np.float64)
    trace = m[0, 0] + m[1, 1] + m[2, 2]
    candidates = (trace, m[0, 0], m[1, 1], m[2, 2])
    best = int(np.argmax(candidates))
    if best == 0:
        s = 2.0 * np.sqrt(max(1.0 + trace, 0.0))
        q = np.array([(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, 0.25 * s])
    elif best == 1:
        s = 2.0 * np.sqrt(max(1.0 + m[0, 0] - m[1, 1] - m[2, 2], 0.0))
        q = np.array([0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s])
    elif best == 2:
        s = 2.0 * np.sqrt(max(1.0 - m[0, 0] + m[1, 1] - m[2, 2], 0.0))
        q = np.array([(m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s])
    else:
        s = 2.0 * np.sqrt(max(1.0 - m[0, 0] - m[1, 1] + m[2, 2], 0.0))
        q = np.array([(m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s, (m[1, 0] - m[0, 1]) / s])
    q /= np.linalg.norm(q)
    return -q if q[3] < 0 else q


def matrix_from_quaternion(quaternion_xyzw: np.ndarray, *, tolerance: float = 1e-3) -> np.ndarray:
    """Quaternion (x, y, z, w) -> 3x3 rotation; rejects NaN and non-normalized quaternions."""
    from scipy.spatial.transform import Rotation

    q = np.asarray(quaternion_xyzw, dtype=np.float64)
    if q.shape != (4,) or not np.all(np.isfinite(q)):
        raise ValueError(f"quaternion must be 4 finite numbers, got {q!r}")
    if abs(np.linalg.norm(q) - 1.0) > tolerance:
        raise ValueError(f"quaternion is not normalized (norm {np.linalg.norm(q):.4f})")
    return Rotation.from_quat(q).as_matrix()


def top_down_grasp_quaternion(yaw: float) -> np.ndarray:
    """Gripper pointing straight down (tool z = -world z), rotated by ``yaw`` about world z."""
    from scipy.spatial.transform import Rotation

    return (Rotation.from_euler("z", yaw) * Rotation.from_euler("x", np.pi)).as_quat()
