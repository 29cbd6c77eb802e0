"""Conversions between ROS messages and numpy (the subset of cv_bridge the project needs).

ROS 2 cv_bridge cannot be installed from wheels; these functions cover the encodings the
project uses (rgb8, bgr8, rgba8, bgra8, mono8, 32FC1, 16UC1) and check sizes, so that a malformed
message raises ``ImageFormatError`` with a reason instead of producing a silently wrong array.
Decoding lives in the ROS-free :mod:`interseg.image_messages` (bags are read without ROS too).
"""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Pose, TransformStamped
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from interseg.geometry import PinholeCamera, matrix_from_quaternion, quaternion_from_matrix
from interseg.image_messages import ENCODINGS, ImageFormatError, msg_to_image, msg_to_rgb  # noqa: F401 (for nodes)
from interseg.timestamps import stamp_from_seconds
from interseg.transforms import Transform, TransformError, pose_from_transform, transform_from_pose


def image_to_msg(array: np.ndarray, encoding: str, header: Header | None = None) -> Image:
    if encoding not in ENCODINGS:
        raise ImageFormatError(f"unsupported encoding '{encoding}'")
    dtype, channels = ENCODINGS[encoding]
    array = np.asarray(array)
    expected_ndim = 2 if channels == 1 else 3
    if array.ndim != expected_ndim or (channels > 1 and array.shape[2] != channels):
        raise ImageFormatError(f"array of shape {array.shape} does not fit encoding {encoding}")
    array = np.ascontiguousarray(array, dtype=dtype)
    msg = Image()
    if header is not None:
        msg.header = header
    msg.height, msg.width = int(array.shape[0]), int(array.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = int(array.shape[1] * channels * dtype.itemsize)
    msg.data = array.tobytes()  # assigning bytes is ~50x faster than a numpy array
    return msg


def pose_to_matrix(pose: Pose) -> np.ndarray:
    transform = np.eye(4)
    q = pose.orientation
    transform[:3, :3] = matrix_from_quaternion(np.array([q.x, q.y, q.z, q.w]))
    transform[:3, 3] = [pose.position.x, pose.position.y, pose.position.z]
    return transform


def matrix_to_pose(transform: np.ndarray) -> Pose:
    pose = Pose()
    pose.position.x, pose.position.y, pose.position.z = (float(v) for v in transform[:3, 3])
    x, y, z, w = quaternion_from_matrix(transform[:3, :3])
    pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w = (
        float(x),
        float(y),
        float(z),
        float(w),
    )
    return pose


def time_msg(seconds: float) -> Time:
    sec, nanosec = stamp_from_seconds(seconds)
    return Time(sec=sec, nanosec=nanosec)


def transform_to_msg(transform: Transform, stamp: Time) -> TransformStamped:
    msg = TransformStamped()
    msg.header.stamp = stamp
    msg.header.frame_id = transform.parent
    msg.child_frame_id = transform.child
    translation, quaternion = pose_from_transform(transform.matrix)
    msg.transform.translation.x, msg.transform.translation.y, msg.transform.translation.z = (
        float(v) for v in translation
    )
    r = msg.transform.rotation
    r.x, r.y, r.z, r.w = (float(v) for v in quaternion)
    return msg


def msg_to_transform(msg: TransformStamped) -> Transform:
    """TransformStamped -> Transform; raises TransformError for empty frames, NaN or a non-unit quaternion."""
    t, r = msg.transform.translation, msg.transform.rotation
    try:
        matrix = transform_from_pose([t.x, t.y, t.z], [r.x, r.y, r.z, r.w])
        return Transform(msg.header.frame_id, msg.child_frame_id, matrix)
    except TransformError as exc:
        raise TransformError(f"transform {msg.header.frame_id!r} -> {msg.child_frame_id!r}: {exc}") from None


def camera_to_info(camera: PinholeCamera, header: Header | None = None) -> CameraInfo:
    info = CameraInfo()
    if header is not None:
        info.header = header
    info.width, info.height = camera.width, camera.height
    info.distortion_model = "plumb_bob"
    info.d = [0.0] * 5
    info.k = [float(v) for v in camera.K.ravel()]
    info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    info.p = [camera.fx, 0.0, camera.cx, 0.0, 0.0, camera.fy, camera.cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return info


def info_to_camera(info: CameraInfo, pose: Pose, name: str = "") -> PinholeCamera:
    """CameraInfo plus the optical frame's pose in the world -> PinholeCamera."""
    k = np.asarray(info.k, dtype=np.float64).reshape(3, 3)
    return PinholeCamera(
        name or info.header.frame_id,
        int(info.width),
        int(info.height),
        k[0, 0],
        k[1, 1],
        k[0, 2],
        k[1, 2],
        pose_to_matrix(pose),
    )
