"""Checks that an Observation (or one camera's image and calibration) is internally consistent
before anything acts on it (ROS-free).

The grasp planner turns a pixel of the main view into a point through the main camera's
calibration and depth; the labeller projects that point into every view. An image whose size
differs from its calibration, a depth image that is not the main view's size, a calibration
with a non-positive or non-finite focal length, or a camera pose that is not a finite rigid
transform makes one of them fail, possibly after the arm has already moved. These functions name
such problems in one line each. :func:`observation_problems` reads the fields of an
``interseg_interfaces/Observation`` (or any object with the same fields); the others take plain
values, as capture has them per message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from interseg.transforms import TransformError, transform_from_pose

# Bytes per pixel of the encodings the project uses (REP 118 depth included).
PIXEL_BYTES = {"rgb8": 3, "bgr8": 3, "mono8": 1, "32FC1": 4, "16UC1": 2}
MAX_DIMENSION = 16384  # pixels: larger than any camera the stack is meant for (8K is 7680 x 4320)
MAX_DISTORTION = 16  # coefficients: OpenCV's richest model has 14


class ObservationRejected(ValueError):
    """An Observation that must not be acted on; the message says why."""


def size_problem(width: int, height: int) -> str:
    if not 0 < width <= MAX_DIMENSION or not 0 < height <= MAX_DIMENSION:
        return f"size {width}x{height} is outside 1..{MAX_DIMENSION} pixels"
    return ""


def image_problem(
    width: int, height: int, encoding: str, step: int, data_bytes: int, encodings: Sequence[str] | None = None
) -> str:
    """Why an image's header fields and data do not fit together ('' when they do)."""
    if encodings is not None and encoding not in encodings:
        return f"encoding '{encoding}', expected {' or '.join(encodings)}"
    if encoding not in PIXEL_BYTES:
        return f"unsupported encoding '{encoding}'"
    problem = size_problem(width, height)
    if problem:
        return problem
    if step < width * PIXEL_BYTES[encoding]:
        return f"step {step} smaller than a row ({width * PIXEL_BYTES[encoding]} bytes)"
    if data_bytes != step * height:
        return f"data has {data_bytes} bytes, expected {step * height} ({height} rows x step {step})"
    return ""


def camera_info_problem(
    width: int, height: int, k: Sequence[float], d: Sequence[float] = (), p: Sequence[float] = ()
) -> str:
    """Why a camera calibration (CameraInfo's fields) cannot be used ('' when it can)."""
    problem = size_problem(width, height)
    if problem:
        return problem
    if len(k) != 9:
        return f"k has {len(k)} numbers, expected 9"
    if len(d) > MAX_DISTORTION:
        return f"d has {len(d)} coefficients, at most {MAX_DISTORTION}"
    if len(p) not in (0, 12):
        return f"p has {len(p)} numbers, expected 12"
    for name, values in (("k", k), ("d", d), ("p", p)):
        finite = np.isfinite(np.asarray(values, dtype=np.float64))
        if not finite.all():
            index = int(np.argmin(finite))
            return f"{name}[{index}] is {values[index]}, not a finite number"
    fx, fy = k[0], k[4]
    if fx <= 0 or fy <= 0:
        return f"focal length fx {fx:g}, fy {fy:g} is not positive"
    return ""


def pose_problem(position: Sequence[float], quaternion_xyzw: Sequence[float]) -> str:
    """Why a camera pose is not a finite rigid transform ('' when it is)."""
    try:
        transform_from_pose(position, quaternion_xyzw)
    except TransformError as exc:
        return str(exc)
    return ""


def _image_fields(image: Any) -> tuple[int, int, str, int, int]:
    return int(image.width), int(image.height), str(image.encoding), int(image.step), len(image.data)


def observation_problems(observation: Any, like: Any = None, require_depth: bool = True) -> list[str]:
    """Everything that makes ``observation`` unusable: views whose image, calibration and pose
    disagree or are malformed, a missing depth image or one not the main view's size; with
    ``like``, main images of another size than ``like``'s (before and after an interaction)."""
    names = list(observation.camera_names)
    images, infos, poses = list(observation.images), list(observation.camera_infos), list(observation.camera_poses)
    if not names:
        return ["no cameras"]
    if not len(images) == len(infos) == len(poses) == len(names):
        return [f"{len(names)} camera names, {len(images)} images, {len(infos)} camera_infos, {len(poses)} poses"]
    problems = []
    for name, image, info, pose in zip(names, images, infos, poses):
        problem = image_problem(*_image_fields(image), encodings=("rgb8",))
        if problem:
            problems.append(f"{name} image: {problem}")
        problem = camera_info_problem(int(info.width), int(info.height), info.k, info.d, info.p)
        if problem:
            problems.append(f"{name} camera_info: {problem}")
        elif (image.width, image.height) != (info.width, info.height):
            problems.append(f"{name} image is {image.width}x{image.height}, its camera_info {info.width}x{info.height}")
        p, q = pose.position, pose.orientation
        problem = pose_problem([p.x, p.y, p.z], [q.x, q.y, q.z, q.w])
        if problem:
            problems.append(f"{name} pose: {problem}")
    main = images[0]
    depth = observation.depth
    if require_depth:
        if not depth.width or not depth.height:
            problems.append("no depth image")
        else:
            problem = image_problem(*_image_fields(depth), encodings=("32FC1",))
            if problem:
                problems.append(f"depth: {problem}")
            elif (depth.width, depth.height) != (main.width, main.height):
                problems.append(
                    f"depth is {depth.width}x{depth.height}, the main image ({names[0]}) {main.width}x{main.height}"
                )
    if like is not None and like.images and (main.width, main.height) != (like.images[0].width, like.images[0].height):
        problems.append(
            f"main image is {main.width}x{main.height}, it was {like.images[0].width}x{like.images[0].height}"
        )
    return problems


def validate_observation(observation: Any, like: Any = None, require_depth: bool = True) -> None:
    """Raise ObservationRejected naming every problem :func:`observation_problems` finds."""
    problems = observation_problems(observation, like, require_depth)
    if problems:
        raise ObservationRejected("observation: " + "; ".join(problems))
