"""The ROS-free transform tree, camera frames, the measured-poses file, and forward-only stamps."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from interseg.geometry import PinholeCamera, look_at
from interseg.timestamps import ForwardStamps, stamp_from_seconds
from interseg.transforms import (
    LINK_FROM_OPTICAL,
    Transform,
    TransformError,
    TransformTree,
    camera_transforms,
    load_transforms_file,
    transform_from_pose,
)


def _random_transform(rng) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3] = Rotation.random(random_state=rng.integers(1 << 30)).as_matrix()
    m[:3, 3] = rng.normal(size=3)
    return m


def test_lookup_through_the_common_ancestor_matches_composed_matrices():
    rng = np.random.default_rng(3)
    a, b, c, d = (_random_transform(rng) for _ in range(4))
    tree = TransformTree()
    tree.set(Transform("world", "base", a))
    tree.set(Transform("base", "arm", b))
    tree.set(Transform("world", "cam_link", c))
    tree.set(Transform("cam_link", "cam_optical", d))
    world_from_arm, world_from_optical = a @ b, c @ d
    expected = np.linalg.inv(world_from_optical) @ world_from_arm  # optical <- arm
    assert np.allclose(tree.lookup("cam_optical", "arm"), expected, atol=1e-12)
    assert np.allclose(tree.lookup("arm", "cam_optical"), np.linalg.inv(expected), atol=1e-12)
    assert np.allclose(tree.lookup("/world", "cam_optical"), world_from_optical)  # tf2 drops one leading slash
    assert np.allclose(tree.lookup("base", "base"), np.eye(4))


def test_newer_transform_replaces_the_older_and_loops_are_refused():
    tree = TransformTree()
    first = np.eye(4)
    first[0, 3] = 1.0
    tree.set(Transform("world", "cam", first))
    version = tree.version
    moved = np.eye(4)
    moved[0, 3] = 2.0
    tree.set(Transform("world", "cam", moved))
    assert tree.version == version + 1 and tree.lookup("world", "cam")[0, 3] == 2.0
    tree.set(Transform("cam", "optical", np.eye(4)))
    with pytest.raises(TransformError, match="loop"):
        tree.set(Transform("optical", "world", np.eye(4)))
    assert tree.lookup("world", "optical")[0, 3] == 2.0  # the refused transform changed nothing


def test_unknown_and_disconnected_frames_are_named():
    tree = TransformTree()
    tree.set(Transform("world", "cam0_link", np.eye(4)))
    tree.set(Transform("robot_base", "gripper", np.eye(4)))
    with pytest.raises(TransformError, match="cam9_optical_frame unknown.*known frames: cam0_link"):
        tree.lookup("world", "cam9_optical_frame")
    with pytest.raises(TransformError, match="separate trees"):
        tree.lookup("world", "gripper")


@pytest.mark.parametrize(
    "matrix, message",
    [
        (np.full((4, 4), np.nan), "finite"),
        (np.diag([1.0, 1.0, -1.0, 1.0]), "proper rotation"),
        (np.diag([2.0, 1.0, 1.0, 1.0]), "proper rotation"),
    ],
)
def test_malformed_transforms_are_refused(matrix, message):
    with pytest.raises(TransformError, match=message):
        Transform("world", "cam", matrix)
    with pytest.raises(TransformError, match="itself"):
        Transform("world", "/world", np.eye(4))
    with pytest.raises(TransformError, match="empty"):
        Transform("", "cam", np.eye(4))


def test_camera_frames_follow_rep_103():
    pose = look_at(np.array([0.6, 0.2, 0.9]), np.array([0.5, 0.0, 0.0]))
    tree = TransformTree()
    tree.set_all(camera_transforms("cam0", pose))
    assert np.allclose(tree.lookup("world", "cam0_optical_frame"), pose)
    world_from_link = tree.lookup("world", "cam0_link")
    # The body frame looks along its x axis (the optical z), with z up-ish and y to the left.
    assert np.allclose(world_from_link[:3, 0], pose[:3, 2])
    assert np.allclose(world_from_link[:3, 1], -pose[:3, 0])
    assert world_from_link[2, 2] > 0
    assert np.allclose(LINK_FROM_OPTICAL[:3, :3], Rotation.from_euler("xyz", [-np.pi / 2, 0.0, -np.pi / 2]).as_matrix())
    camera = PinholeCamera.from_fov("cam0", 64, 48, 40.0, tree.lookup("world", "cam0_optical_frame"))
    uv, in_front = camera.project(np.array([[0.5, 0.0, 0.0]]))
    assert in_front[0] and np.allclose(uv[0], [camera.cx, camera.cy])


def test_transforms_file_reads_quaternions_and_rpy(tmp_path):
    path = tmp_path / "cameras.yaml"
    path.write_text("""
transforms:
  - {parent: world, child: cam0_link, translation: [0.6, 0.0, 0.9], rotation: [0.0, 0.7071068, 0.0, 0.7071068]}
  - {parent: cam0_link, child: cam0_optical_frame, translation: [0, 0, 0], rpy: [-1.5707963, 0.0, -1.5707963]}
""")
    transforms = load_transforms_file(path)
    assert [(t.parent, t.child) for t in transforms] == [("world", "cam0_link"), ("cam0_link", "cam0_optical_frame")]
    assert np.allclose(transforms[1].matrix, LINK_FROM_OPTICAL, atol=1e-7)
    assert np.allclose(transforms[0].matrix[:3, 0], [0.0, 0.0, -1.0], atol=1e-6)  # pitched down 90 degrees


@pytest.mark.parametrize(
    "body, message",
    [
        ("transforms: []", "non-empty 'transforms'"),
        ("transforms: [{parent: world, child: cam, translation: [0, 0, 0]}]", "exactly one of 'rotation'"),
        ("transforms: [{parent: world, child: cam, translation: [0, 0], rotation: [0, 0, 0, 1]}]", "3 finite numbers"),
        (
            "transforms: [{parent: world, child: cam, translation: [0, 0, .nan], rotation: [0, 0, 0, 1]}]",
            "3 finite numbers",
        ),
        ("transforms: [{parent: world, child: cam, translation: [0, 0, 0], rotation: [0, 0, 0, 2]}]", "not normalized"),
        (
            "transforms: [{parent: world, child: cam, translation: [0, 0, 0], rotation: [0, 0, 0, 1], scale: 2}]",
            "unknown key",
        ),
        (
            "transforms:\n- {parent: world, child: cam, translation: [0, 0, 0], rotation: [0, 0, 0, 1]}\n"
            "- {parent: base, child: cam, translation: [0, 0, 0], rotation: [0, 0, 0, 1]}",
            "parent twice",
        ),
        (
            "transforms:\n- {parent: a, child: b, translation: [0, 0, 0], rotation: [0, 0, 0, 1]}\n"
            "- {parent: b, child: a, translation: [0, 0, 0], rotation: [0, 0, 0, 1]}",
            "loop",
        ),
        ("transforms: [ {parent: world", "not valid YAML"),
    ],
)
def test_bad_transforms_files_name_the_problem(tmp_path, body, message):
    path = tmp_path / "bad.yaml"
    path.write_text(body)
    with pytest.raises(TransformError, match=message) as error:
        load_transforms_file(path)
    assert str(path) in str(error.value)
    with pytest.raises(TransformError, match="cannot read"):
        load_transforms_file(tmp_path / "missing.yaml")


def test_stamps_carry_nanoseconds_into_seconds():
    assert stamp_from_seconds(1.9999999999) == (2, 0)  # rounds up into the next second, not back to x.0
    assert stamp_from_seconds(2.5) == (2, 500_000_000)
    assert stamp_from_seconds(0.0) == (0, 0)
    for bad in (float("nan"), float("inf"), -1.0):
        with pytest.raises(ValueError):
            stamp_from_seconds(bad)


def test_forward_stamps_strictly_increase():
    stamps = ForwardStamps()
    seen = [stamps.next(t) for t in (0.2, 0.2, 0.4, 0.39999999995, 1.0)]
    values = [s * 10**9 + n for s, n in seen]
    assert all(b > a for a, b in zip(values, values[1:]))
    assert not stamps.advanced(1.0) and stamps.advanced(1.000000001)


def test_transform_from_pose_rejects_bad_input():
    with pytest.raises(TransformError):
        transform_from_pose([0, 0, np.inf], [0, 0, 0, 1])
    with pytest.raises(TransformError):
        transform_from_pose([0, 0, 0], [0, 0, 0, 0])
