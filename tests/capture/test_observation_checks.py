"""Observation checks (ROS-free core; the messages here are plain data holders): a consistent
Observation passes; each way its images, calibrations, depth and poses can disagree is named."""

from __future__ import annotations

import math

import numpy as np
import pytest

from interseg.geometry import PinholeCamera, look_at
from interseg.observation_checks import (
    ObservationRejected,
    camera_info_problem,
    image_problem,
    observation_problems,
    validate_observation,
)


def observation(width=160, height=120):
    from interseg.nodes.convert import camera_to_info, image_to_msg, matrix_to_pose
    from interseg_interfaces.msg import Observation

    msg = Observation()
    msg.header.frame_id = "world"
    for index, name in enumerate(["cam0", "cam1"]):
        camera = PinholeCamera.from_fov(name, width, height, 50, look_at([0.55, 0.3 * index, 0.9], [0.55, 0.0, 0.0]))
        msg.camera_names.append(name)
        msg.images.append(image_to_msg(np.zeros((height, width, 3), np.uint8), "rgb8"))
        msg.camera_infos.append(camera_to_info(camera))
        msg.camera_poses.append(matrix_to_pose(camera.world_from_camera))
    msg.depth = image_to_msg(np.full((height, width), 0.9, np.float32), "32FC1")
    return msg


def test_a_consistent_observation_passes():
    validate_observation(observation())
    validate_observation(observation(), like=observation())


def _resized(width, height, encoding="rgb8"):
    from interseg.nodes.convert import image_to_msg

    shape = (height, width, 3) if encoding == "rgb8" else (height, width)
    return image_to_msg(np.zeros(shape, np.uint8 if encoding == "rgb8" else np.float32), encoding)


@pytest.mark.parametrize(
    "defect, expected",
    [
        (lambda o: o.images.__setitem__(1, _resized(320, 240)), "cam1 image is 320x240, its camera_info 160x120"),
        (lambda o: setattr(o, "depth", _resized(80, 60, "32FC1")), "depth is 80x60, the main image (cam0) 160x120"),
        (lambda o: setattr(o.depth, "width", 0), "no depth image"),
        (
            lambda o: setattr(o.camera_infos[0], "k", [0.0, 0, 80, 0, 100, 60, 0, 0, 1]),
            "cam0 camera_info: focal length fx 0",
        ),
        (
            lambda o: setattr(o.camera_infos[1], "k", [math.nan, 0, 80, 0, 100, 60, 0, 0, 1]),
            "cam1 camera_info: k[0] is nan",
        ),
        (
            lambda o: setattr(o.camera_poses[1].position, "x", math.nan),
            "cam1 pose: translation must be 3 finite numbers",
        ),
        (lambda o: setattr(o.camera_poses[0].orientation, "w", 3.0), "cam0 pose:"),
        (lambda o: setattr(o.images[0], "height", 100000), "cam0 image: size 160x100000 is outside"),
        (lambda o: o.camera_infos.pop(), "2 camera names, 2 images, 1 camera_infos, 2 poses"),
    ],
)
def test_each_defect_is_named(defect, expected):
    msg = observation()
    defect(msg)
    problems = observation_problems(msg)
    assert any(expected in p for p in problems), problems
    with pytest.raises(ObservationRejected, match="observation: "):
        validate_observation(msg)


def test_after_must_have_the_size_of_before():
    problems = observation_problems(observation(320, 240), like=observation())
    assert problems == ["main image is 320x240, it was 160x120"]


def test_message_level_checks():
    assert image_problem(160, 120, "rgb8", 480, 480 * 120) == ""
    assert "outside 1..16384 pixels" in image_problem(100000, 100000, "rgb8", 300000, 10)
    assert "data has 10 bytes, expected 57600" in image_problem(160, 120, "rgb8", 480, 10)
    assert camera_info_problem(160, 120, [100, 0, 80, 0, 100, 60, 0, 0, 1]) == ""
    assert "not positive" in camera_info_problem(160, 120, [-1, 0, 80, 0, 100, 60, 0, 0, 1])
    assert "d[2] is inf" in camera_info_problem(160, 120, [100, 0, 80, 0, 100, 60, 0, 0, 1], d=[0, 0, math.inf])
    assert "outside" in camera_info_problem(0, 120, [100, 0, 80, 0, 100, 60, 0, 0, 1])


def test_camera_info_with_a_huge_distortion_array_is_refused_quickly():
    import time

    k = [100, 0, 80, 0, 100, 60, 0, 0, 1]
    start = time.perf_counter()
    assert "d has 4000000 coefficients, at most 16" in camera_info_problem(160, 120, k, d=np.zeros(4_000_000))
    assert "p has 3 numbers" in camera_info_problem(160, 120, k, p=[1.0, 2.0, 3.0])
    assert time.perf_counter() - start < 0.1
