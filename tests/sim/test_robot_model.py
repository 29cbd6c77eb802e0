"""The Panda's URDF written from the simulator's MuJoCo model, and forward kinematics over it: the
URDF's chain (parsed from its text) must put every link where MuJoCo's own kinematics puts the
corresponding body, for random joint configurations."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote, urlparse

import mujoco
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from interseg.sim import panda_description
from interseg.sim.kinematics import RobotChain, matrix_from_rpy, rpy_from_matrix
from interseg.sim.panda_description import (
    GRASP_POINT_LINK,
    LINK_OF_BODY,
    MUJOCO_JOINT_OF,
    PANDA_JOINT_NAMES,
    panda_urdf,
)
from interseg.sim.robot_model import link_transforms, panda_joint_state, static_link_transforms
from interseg.sim.scene import ARM_BODIES, ARM_JOINTS, FINGER_JOINTS

EXPECTED_LINKS = {
    "world",
    *(f"panda_link{i}" for i in range(9)),
    "panda_hand",
    "panda_leftfinger",
    "panda_rightfinger",
    "panda_grasp_point",
}


@pytest.fixture(scope="module")
def model():
    return panda_description.arm_only_model()


@pytest.fixture(scope="module")
def urdf(model):
    return panda_urdf(model)


@pytest.fixture(scope="module")
def robot(urdf):
    return ET.fromstring(urdf)


def _qpos(model, positions: dict[str, float]) -> mujoco.MjData:
    """MuJoCo's own kinematics at the given URDF joint positions."""
    data = mujoco.MjData(model)
    for name, value in positions.items():
        data.qpos[model.joint(MUJOCO_JOINT_OF[name]).qposadr[0]] = value
    mujoco.mj_forward(model, data)
    return data


def _random_positions(model, rng) -> dict[str, float]:
    return {name: float(rng.uniform(*model.joint(MUJOCO_JOINT_OF[name]).range)) for name in PANDA_JOINT_NAMES}


def _compose_from_world(transforms: list[tuple[str, str, np.ndarray]]) -> dict[str, np.ndarray]:
    """world <- link for every link, by walking the (parent, child, matrix) edges from `world`."""
    children: dict[str, list[tuple[str, np.ndarray]]] = {}
    for parent, child, matrix in transforms:
        children.setdefault(parent, []).append((child, matrix))
    poses, stack = {"world": np.eye(4)}, ["world"]
    while stack:
        parent = stack.pop()
        for child, matrix in children.get(parent, []):
            assert child not in poses, f"{child} reached twice"
            poses[child] = poses[parent] @ matrix
            stack.append(child)
    return poses


def _rotation_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(Rotation.from_matrix(a.T @ b).as_rotvec()))


def test_urdf_is_a_tree_of_the_expected_links_and_joints(robot):
    assert robot.tag == "robot" and robot.get("name") == "panda"
    links = [link.get("name") for link in robot.findall("link")]
    assert len(links) == len(set(links)) and set(links) == EXPECTED_LINKS
    joints = robot.findall("joint")
    parent_of = {}
    for joint in joints:
        parent, child = joint.find("parent").get("link"), joint.find("child").get("link")
        assert parent in links and child in links, joint.get("name")
        assert child not in parent_of, f"{child} has two parents"
        parent_of[child] = parent
    assert [link for link in links if link not in parent_of] == ["world"]  # one root
    for link in links:  # no cycles: every link reaches the root
        seen = set()
        while link != "world":
            assert link not in seen, f"cycle through {link}"
            seen.add(link)
            link = parent_of[link]
    types = {joint.get("name"): joint.get("type") for joint in joints}
    assert types == {
        **{f"panda_joint{i}": "revolute" for i in range(1, 8)},
        "panda_finger_joint1": "prismatic",
        "panda_finger_joint2": "prismatic",
        "panda_base_joint": "fixed",
        "panda_joint8": "fixed",
        "panda_hand_joint": "fixed",
        "panda_grasp_point_joint": "fixed",
    }
    assert parent_of["panda_leftfinger"] == parent_of["panda_rightfinger"] == "panda_hand"


def test_name_mappings():
    assert PANDA_JOINT_NAMES == tuple(f"panda_joint{i}" for i in range(1, 8)) + (
        "panda_finger_joint1",
        "panda_finger_joint2",
    )
    assert [MUJOCO_JOINT_OF[n] for n in PANDA_JOINT_NAMES] == list(ARM_JOINTS + FINGER_JOINTS)
    assert LINK_OF_BODY["panda0_link0"] == "panda_link0" and LINK_OF_BODY["panda0_leftfinger"] == "panda_leftfinger"
    assert set(LINK_OF_BODY) == set(ARM_BODIES)


def _read_binary_stl(path: Path) -> np.ndarray:
    raw = path.read_bytes()
    count = int(np.frombuffer(raw, "<u4", 1, 80)[0])
    assert len(raw) == 84 + 50 * count, f"{path} is not a binary STL"
    triangles = np.frombuffer(
        raw, np.dtype([("normal", "<f4", 3), ("vertices", "<f4", (3, 3)), ("attr", "<u2")]), count, 84
    )
    return triangles["vertices"].reshape(-1, 3).astype(np.float64)


def test_visual_meshes_are_existing_files_placed_as_mujoco_places_them(model, robot):
    chain = RobotChain.from_urdf(ET.tostring(robot, encoding="unicode"))
    at_zero = chain.link_poses({name: 0.0 for name in PANDA_JOINT_NAMES})
    data = _qpos(model, {name: 0.0 for name in PANDA_JOINT_NAMES})
    # MuJoCo's visual geoms of the arm: mesh geoms that take no part in contacts.
    visual_geoms = [
        g
        for g in range(model.ngeom)
        if model.geom_type[g] == int(mujoco.mjtGeom.mjGEOM_MESH)
        and model.geom_contype[g] == 0
        and model.geom_conaffinity[g] == 0
    ]
    mujoco_boxes = []
    for g in visual_geoms:
        mesh = model.geom_dataid[g]
        vertices = model.mesh_vert[model.mesh_vertadr[mesh] : model.mesh_vertadr[mesh] + model.mesh_vertnum[mesh]]
        world = data.geom_xpos[g] + vertices @ data.geom_xmat[g].reshape(3, 3).T
        mujoco_boxes.append(np.concatenate([world.min(axis=0), world.max(axis=0)]))
    urdf_boxes = []
    for link in robot.findall("link"):
        for visual in link.findall("visual"):
            mesh = visual.find("geometry/mesh")
            uri = urlparse(mesh.get("filename"))
            assert uri.scheme == "file" and uri.netloc == ""
            path = Path(unquote(uri.path))
            assert path.is_absolute() and path.is_file(), path
            origin = np.eye(4)
            origin[:3, 3] = [float(v) for v in visual.find("origin").get("xyz").split()]
            origin[:3, :3] = matrix_from_rpy(*(float(v) for v in visual.find("origin").get("rpy").split()))
            scale = np.array([float(v) for v in mesh.get("scale").split()])
            pose = at_zero[link.get("name")] @ origin
            world = pose[:3, 3] + (_read_binary_stl(path) * scale) @ pose[:3, :3].T
            urdf_boxes.append(np.concatenate([world.min(axis=0), world.max(axis=0)]))
    assert len(urdf_boxes) == len(mujoco_boxes) == 11  # link0..7, hand, two fingers
    # Each URDF visual covers exactly the space of one MuJoCo visual geom (float32 vertices).
    unmatched = list(range(len(mujoco_boxes)))
    for box in urdf_boxes:
        errors = [np.abs(box - mujoco_boxes[i]).max() for i in unmatched]
        best = int(np.argmin(errors))
        assert errors[best] < 2e-6, f"no MuJoCo visual geom where the URDF puts {box}"
        unmatched.pop(best)


def test_forward_kinematics_matches_mujoco_for_random_configurations(model, urdf):
    chain = RobotChain.from_urdf(urdf)
    rng = np.random.default_rng(7)
    site = model.site(panda_description.GRASP_SITE).id
    static = chain.static_link_transforms()
    for _ in range(20):
        positions = _random_positions(model, rng)
        poses = _compose_from_world(static + chain.link_transforms(positions))
        assert set(poses) == EXPECTED_LINKS
        data = _qpos(model, positions)
        for body, link in LINK_OF_BODY.items():
            b = model.body(body).id
            assert np.abs(poses[link][:3, 3] - data.xpos[b]).max() < 1e-6, (link, positions)
            assert _rotation_error(poses[link][:3, :3], data.xmat[b].reshape(3, 3)) < 1e-6, (link, positions)
        grasp = poses[GRASP_POINT_LINK]
        assert np.abs(grasp[:3, 3] - data.site_xpos[site]).max() < 1e-6
        assert _rotation_error(grasp[:3, :3], data.site_xmat[site].reshape(3, 3)) < 1e-6
        # link_poses composes the same way.
        composed = chain.link_poses(positions)
        for link, pose in poses.items():
            np.testing.assert_allclose(composed[link], pose, atol=1e-12)


def test_module_level_transforms_are_the_default_urdfs(model):
    rng = np.random.default_rng(3)
    positions = _random_positions(model, rng)
    movable = link_transforms(positions)
    assert [(p, c) for p, c, _ in movable] == [
        ("panda_link0", "panda_link1"),
        ("panda_link1", "panda_link2"),
        ("panda_link2", "panda_link3"),
        ("panda_link3", "panda_link4"),
        ("panda_link4", "panda_link5"),
        ("panda_link5", "panda_link6"),
        ("panda_link6", "panda_link7"),
        ("panda_hand", "panda_leftfinger"),
        ("panda_hand", "panda_rightfinger"),
    ]
    assert [(p, c) for p, c, _ in static_link_transforms()] == [
        ("world", "panda_link0"),
        ("panda_link7", "panda_link8"),
        ("panda_link8", "panda_hand"),
        ("panda_hand", "panda_grasp_point"),
    ]
    # A sequence in PANDA_JOINT_NAMES order is the same as the mapping.
    by_order = link_transforms([positions[n] for n in PANDA_JOINT_NAMES])
    for (_, _, a), (_, _, b) in zip(movable, by_order):
        np.testing.assert_array_equal(a, b)
    # The fingers slide along the hand's y axis by their joint positions, in opposite directions.
    left = {c: m for _, c, m in movable}["panda_leftfinger"]
    right = {c: m for _, c, m in movable}["panda_rightfinger"]
    assert left[1, 3] == pytest.approx(positions["panda_finger_joint1"], abs=1e-12)
    assert right[1, 3] == pytest.approx(-positions["panda_finger_joint2"], abs=1e-12)
    with pytest.raises(KeyError, match="panda_joint7"):
        link_transforms({n: 0.0 for n in PANDA_JOINT_NAMES if n != "panda_joint7"})
    with pytest.raises(ValueError):
        link_transforms([0.0] * 8)
    with pytest.raises(ValueError, match="not finite"):
        link_transforms({**positions, "panda_joint2": float("nan")})


def test_joint_limits_and_efforts_are_the_models(model, robot):
    for joint in robot.findall("joint"):
        name = joint.get("name")
        if joint.get("type") == "fixed":
            assert joint.find("limit") is None
            continue
        limit = joint.find("limit")
        j = model.joint(MUJOCO_JOINT_OF[name])
        assert (float(limit.get("lower")), float(limit.get("upper"))) == pytest.approx(tuple(j.range), abs=1e-12)
        actuator = next(a for a in range(model.nu) if model.actuator_trnid[a, 0] == j.id)
        assert float(limit.get("effort")) == pytest.approx(model.actuator_forcerange[actuator, 1])
        assert float(limit.get("velocity")) > 0
        axis = np.array([float(v) for v in joint.find("axis").get("xyz").split()])
        np.testing.assert_allclose(axis, model.jnt_axis[j.id], atol=1e-12)
    assert float(robot.find("joint[@name='panda_joint4']/limit").get("upper")) == pytest.approx(-0.4)


def test_inertials_put_mass_and_centres_of_mass_where_mujoco_does(model, robot):
    chain = RobotChain.from_urdf(ET.tostring(robot, encoding="unicode"))
    arm_mass = sum(model.body_mass[model.body(b).id] for b in ARM_BODIES)
    masses = {
        link.get("name"): float(link.find("inertial/mass").get("value"))
        for link in robot.findall("link")
        if link.find("inertial") is not None
    }
    assert sum(masses.values()) == pytest.approx(arm_mass, rel=1e-9)
    rng = np.random.default_rng(11)
    positions = _random_positions(model, rng)
    poses = chain.link_poses(positions)
    data = _qpos(model, positions)
    for body, link in LINK_OF_BODY.items():
        inertial = robot.find(f"link[@name='{link}']/inertial")
        origin = inertial.find("origin")
        centre = poses[link][:3, :3] @ np.array([float(v) for v in origin.get("xyz").split()]) + poses[link][:3, 3]
        b = model.body(body).id
        np.testing.assert_allclose(centre, data.xipos[b], atol=1e-9)
        # The principal axes: the inertia tensor in the world equals MuJoCo's (ximat, body_inertia).
        element = inertial.find("inertia")
        principal = np.diag([float(element.get(k)) for k in ("ixx", "iyy", "izz")])
        axes = poses[link][:3, :3] @ matrix_from_rpy(*(float(v) for v in origin.get("rpy").split()))
        mujoco_axes = data.ximat[b].reshape(3, 3)
        np.testing.assert_allclose(
            axes @ principal @ axes.T, mujoco_axes @ np.diag(model.body_inertia[b]) @ mujoco_axes.T, atol=1e-12
        )


def test_joint_state_from_simulator_positions():
    arm = np.array([0.0, -1.2, 0.0, -2.9, 0.0, 1.7, 0.785])
    names, positions = panda_joint_state(arm, np.array([0.04, 0.031]))
    assert names == list(PANDA_JOINT_NAMES)
    assert positions == pytest.approx([*arm, 0.04, 0.031])
    assert all(type(p) is float for p in positions)
    with pytest.raises(ValueError):
        panda_joint_state(arm[:6], [0.0, 0.0])
    with pytest.raises(ValueError):
        panda_joint_state(arm, [0.0])
    with pytest.raises(ValueError, match="finite"):
        panda_joint_state(arm, [0.0, float("inf")])


def test_rpy_round_trip_including_gimbal_lock():
    rotations = list(Rotation.random(50, random_state=5).as_matrix())
    rotations += [matrix_from_rpy(0.3, np.pi / 2, -1.1), matrix_from_rpy(-0.7, -np.pi / 2, 0.4)]
    for rotation in rotations:
        np.testing.assert_allclose(matrix_from_rpy(*rpy_from_matrix(rotation)), rotation, atol=1e-12)


def test_chain_parses_other_urdfs_with_mimic_and_rejects_malformed_ones():
    urdf = """<robot name="toy">
      <link name="base"/><link name="arm"/><link name="slider"/><link name="twin"/>
      <joint name="spin" type="continuous"><parent link="base"/><child link="arm"/>
        <origin xyz="0 0 1" rpy="0 0 0"/><axis xyz="0 0 2"/></joint>
      <joint name="slide" type="prismatic"><parent link="arm"/><child link="slider"/>
        <origin xyz="1 0 0"/><axis xyz="1 0 0"/><limit lower="0" upper="1" effort="1" velocity="1"/></joint>
      <joint name="follow" type="prismatic"><parent link="arm"/><child link="twin"/>
        <axis xyz="0 1 0"/><limit lower="0" upper="1" effort="1" velocity="1"/>
        <mimic joint="slide" multiplier="-2" offset="0.1"/></joint>
    </robot>"""
    chain = RobotChain.from_urdf(urdf)
    assert chain.root == "base" and chain.movable_joint_names == ("spin", "slide")
    poses = chain.link_poses({"spin": np.pi / 2, "slide": 0.25, "follow": 99.0})  # a mimic joint's own value is ignored
    np.testing.assert_allclose(poses["arm"][:3, 3], [0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(poses["slider"][:3, 3], [0, 1.25, 1], atol=1e-12)  # x of arm is world y after 90 deg
    np.testing.assert_allclose(poses["twin"][:3, 3], [0.4, 0, 1], atol=1e-12)  # arm's y is world -x; -2 * 0.25 + 0.1
    assert [c for _, c, _ in chain.static_link_transforms()] == []

    cycle = urdf.replace(
        '<joint name="spin" type="continuous"><parent link="base"/>',
        '<joint name="spin" type="continuous"><parent link="twin"/>',
    )
    with pytest.raises(ValueError, match="root|cycle"):
        RobotChain.from_urdf(cycle)
    with pytest.raises(ValueError, match="not defined"):
        RobotChain.from_urdf(urdf.replace('<child link="twin"/>', '<child link="ghost"/>'))
    with pytest.raises(ValueError, match="two joints"):
        RobotChain.from_urdf(urdf.replace('<child link="twin"/>', '<child link="slider"/>'))
    with pytest.raises(ValueError, match="not supported"):
        RobotChain.from_urdf(urdf.replace('type="continuous"', 'type="floating"'))
