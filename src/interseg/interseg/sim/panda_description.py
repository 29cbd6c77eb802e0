"""The simulated Franka Panda as a URDF, written from the simulator's own MuJoCo model (ROS-free:
no rclpy here).

:func:`panda_urdf` walks the compiled arm-only MuJoCo model (:func:`arm_only_model`): every link
pose, joint axis, limit, inertial and visual mesh comes from the model, so the URDF cannot drift
from what the simulator renders and moves. ``interseg.sim.kinematics`` parses a URDF's joint
chain; ``interseg.sim.robot_model`` gives the Panda's joint states and link transforms for TF.

Links (= TF frame names) and where they come from in the MuJoCo model:

=====================  =========================================================================
``world``              the world body (root link; the robot stands at its origin)
``panda_link0..7``     bodies ``panda0_link0`` .. ``panda0_link7``
``panda_link8``        the flange: origin of the hand mesh on ``panda0_link7``, link7's axes
``panda_hand``         the frame of the hand's visual mesh (``hand_viz``) on ``panda0_link7``
``panda_leftfinger``   body ``panda0_leftfinger``
``panda_rightfinger``  body ``panda0_rightfinger``
``panda_grasp_point``  site ``grasp_site``: the fingertip centre, the PickPlace grasp point
                       (z along the fingers, y the fingers' closing axis)
=====================  =========================================================================

Joints: ``panda_joint1..7`` (revolute) = ``robot:panda0_joint1..7``; ``panda_finger_joint1`` /
``panda_finger_joint2`` (prismatic, metres from closed, each finger driven by its own actuator in
the simulator, so neither mimics the other) = ``robot:panda0_finger_joint1`` / ``..._joint2``;
fixed: ``panda_base_joint`` (world -> panda_link0), ``panda_joint8`` (panda_link7 -> panda_link8),
``panda_hand_joint`` (panda_link8 -> panda_hand), ``panda_grasp_point_joint`` (panda_hand ->
panda_grasp_point).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from interseg.sim.kinematics import inverse_pose, pose_from_wxyz, rpy_from_matrix
from interseg.sim.scene import ARM_BODIES, ARM_JOINTS, FINGER_JOINTS

if TYPE_CHECKING:
    import mujoco

ROOT_LINK = "world"
FLANGE_LINK = "panda_link8"
HAND_LINK = "panda_hand"
GRASP_POINT_LINK = "panda_grasp_point"
GRASP_SITE = "grasp_site"  # the MuJoCo site the grasp point link is made from
HAND_MESH = "hand_viz"  # the MuJoCo mesh whose frame is the hand's


def _ros_name(mujoco_name: str) -> str:
    """``robot:panda0_joint1`` -> ``panda_joint1``; ``panda0_link3`` -> ``panda_link3``."""
    name = mujoco_name.removeprefix("robot:")
    if not name.startswith("panda0_"):
        raise ValueError(f"unexpected MuJoCo name {mujoco_name!r}: expected a panda0_ prefix")
    return "panda_" + name.removeprefix("panda0_")


# MuJoCo body -> URDF link, URDF joint -> MuJoCo joint.
LINK_OF_BODY: dict[str, str] = {body: _ros_name(body) for body in ARM_BODIES}
MUJOCO_JOINT_OF: dict[str, str] = {_ros_name(joint): joint for joint in ARM_JOINTS + FINGER_JOINTS}
PANDA_ARM_JOINT_NAMES: tuple[str, ...] = tuple(_ros_name(j) for j in ARM_JOINTS)
PANDA_FINGER_JOINT_NAMES: tuple[str, ...] = tuple(_ros_name(j) for j in FINGER_JOINTS)
PANDA_JOINT_NAMES: tuple[str, ...] = PANDA_ARM_JOINT_NAMES + PANDA_FINGER_JOINT_NAMES

# Velocity limits of the Franka Emika Panda datasheet (rad/s; the fingers m/s, as franka_description
# and the model's own actuator file note them): the compiled MuJoCo model holds no velocity limits.
PANDA_VELOCITY_LIMITS: dict[str, float] = {
    **{f"panda_joint{i}": 2.175 for i in range(1, 5)},
    **{f"panda_joint{i}": 2.61 for i in range(5, 8)},
    "panda_finger_joint1": 0.2,
    "panda_finger_joint2": 0.2,
}

# ---------------------------------------------------------------------------------------------
# The Panda's URDF from the compiled MuJoCo model.


def arm_only_model() -> mujoco.MjModel:
    """The compiled arm-only MuJoCo model of the simulator's Panda (as the IK solver uses it)."""
    import mujoco

    from interseg.sim.scene import build_scene, default_camera_rig

    xml, assets = build_scene([], [], None, default_camera_rig(), width=64, height=64, arm_only=True)
    return mujoco.MjModel.from_xml_string(xml, assets)


def _num(value: float) -> str:
    value = float(value)
    if abs(value) < 1e-12:
        value = 0.0
    return f"{value:.12g}"


def _nums(values) -> str:
    return " ".join(_num(v) for v in values)


def _origin_element(parent: ET.Element, pose: np.ndarray) -> None:
    ET.SubElement(parent, "origin", xyz=_nums(pose[:3, 3]), rpy=_nums(rpy_from_matrix(pose[:3, :3])))


def _mesh_file_frame(model, geom: int) -> np.ndarray:
    """The mesh file's own frame in the geom's body. MuJoCo moves a mesh's vertices to its centre
    of mass and principal axes (mesh_pos, mesh_quat, after scaling) and compensates in the geom's
    pose; undoing that gives the frame the file's (scaled) vertices are written in."""
    mesh = model.geom_dataid[geom]
    return pose_from_wxyz(model.geom_pos[geom], model.geom_quat[geom]) @ inverse_pose(
        pose_from_wxyz(model.mesh_pos[mesh], model.mesh_quat[mesh])
    )


def _mesh_path(model, mesh: int) -> str:
    address = int(model.mesh_pathadr[mesh])
    if address < 0:
        raise ValueError(f"mesh {mesh} has no file (an inline mesh cannot be referenced by a URDF)")
    raw = bytes(model.paths[address:])
    return raw.split(b"\0", 1)[0].decode()


def panda_urdf(model: mujoco.MjModel | None = None, *, name: str = "panda") -> str:
    """The URDF of the simulator's Panda, from ``model`` (default: :func:`arm_only_model`)."""
    if model is None:
        return _default_panda_urdf(name)
    return _build_urdf(model, name)


@lru_cache(maxsize=4)
def _default_panda_urdf(name: str) -> str:
    return _build_urdf(arm_only_model(), name)


def _build_urdf(model, robot_name: str) -> str:
    from pathlib import Path

    import mujoco

    def body_id(body: str) -> int:
        index = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, body)
        if index < 0:
            raise ValueError(f"the model has no body {body!r}")
        return index

    def name_of(kind, index: int) -> str:
        return mujoco.mj_id2name(model, kind, index) or ""

    # World poses of the bodies at qpos0 (every joint at zero), composed from body_pos/body_quat.
    world_at_zero: dict[int, np.ndarray] = {0: np.eye(4)}
    for b in range(1, model.nbody):
        world_at_zero[b] = world_at_zero[int(model.body_parentid[b])] @ pose_from_wxyz(
            model.body_pos[b], model.body_quat[b]
        )

    bodies = {LINK_OF_BODY[body]: body_id(body) for body in ARM_BODIES}
    link7 = bodies["panda_link7"]
    hand_geoms = [
        g
        for g in range(model.ngeom)
        if model.geom_type[g] == int(mujoco.mjtGeom.mjGEOM_MESH)
        and name_of(mujoco.mjtObj.mjOBJ_MESH, int(model.geom_dataid[g])) == HAND_MESH
    ]
    if len(hand_geoms) != 1 or model.geom_bodyid[hand_geoms[0]] != link7:
        raise ValueError(f"expected one {HAND_MESH} geom on panda0_link7, found {len(hand_geoms)}")
    hand_in_link7 = _mesh_file_frame(model, hand_geoms[0])
    flange_in_link7 = np.eye(4)
    flange_in_link7[:3, 3] = hand_in_link7[:3, 3]
    site = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, GRASP_SITE)
    if site < 0:
        raise ValueError(f"the model has no site {GRASP_SITE!r}")
    site_body = int(model.site_bodyid[site])

    # Each URDF link: its pose in the world at qpos0 and the MuJoCo body it moves with.
    world_pose: dict[str, np.ndarray] = {ROOT_LINK: np.eye(4)}
    body_of_link: dict[str, int] = {ROOT_LINK: 0}
    for link, b in bodies.items():
        world_pose[link], body_of_link[link] = world_at_zero[b], b
    world_pose[FLANGE_LINK], body_of_link[FLANGE_LINK] = world_at_zero[link7] @ flange_in_link7, link7
    world_pose[HAND_LINK], body_of_link[HAND_LINK] = world_at_zero[link7] @ hand_in_link7, link7
    world_pose[GRASP_POINT_LINK] = world_at_zero[site_body] @ pose_from_wxyz(
        model.site_pos[site], model.site_quat[site]
    )
    body_of_link[GRASP_POINT_LINK] = site_body

    def origin(parent: str, child: str) -> np.ndarray:
        return inverse_pose(world_pose[parent]) @ world_pose[child]

    robot = ET.Element("robot", name=robot_name)
    materials: dict[tuple, str] = {}
    link_elements: dict[str, ET.Element] = {}
    link_order = (
        [ROOT_LINK]
        + [f"panda_link{i}" for i in range(8)]
        + [FLANGE_LINK, HAND_LINK]
        + [LINK_OF_BODY[b] for b in ARM_BODIES if "finger" in b]
        + [GRASP_POINT_LINK]
    )
    if set(link_order) != set(world_pose):
        raise ValueError(f"links {sorted(set(world_pose) ^ set(link_order))} are not placed")
    material_anchor = len(robot)
    for link in link_order:
        link_elements[link] = ET.SubElement(robot, "link", name=link)

    # Inertials: the MuJoCo bodies' (centre of mass, principal axes and moments). The hand's mass
    # belongs to panda0_link7 in the model, so it stays with panda_link7 here.
    for link, b in bodies.items():
        if model.body_mass[b] <= 0:
            continue
        inertial = ET.SubElement(link_elements[link], "inertial")
        _origin_element(inertial, pose_from_wxyz(model.body_ipos[b], model.body_iquat[b]))
        ET.SubElement(inertial, "mass", value=_num(model.body_mass[b]))
        ixx, iyy, izz = model.body_inertia[b]
        ET.SubElement(inertial, "inertia", ixx=_num(ixx), ixy="0", ixz="0", iyy=_num(iyy), iyz="0", izz=_num(izz))

    # Visuals: the arm bodies' visual mesh geoms (no contacts: contype = conaffinity = 0).
    arm_body_ids = set(bodies.values())
    for g in range(model.ngeom):
        b = int(model.geom_bodyid[g])
        if b not in arm_body_ids or model.geom_type[g] != int(mujoco.mjtGeom.mjGEOM_MESH):
            continue
        if model.geom_contype[g] != 0 or model.geom_conaffinity[g] != 0:
            continue
        mesh = int(model.geom_dataid[g])
        link = HAND_LINK if g == hand_geoms[0] else LINK_OF_BODY[name_of(mujoco.mjtObj.mjOBJ_BODY, b)]
        path = Path(_mesh_path(model, mesh))
        if not path.is_absolute():
            raise ValueError(f"mesh file {path} is relative: the MJCF's meshdir must be absolute")
        rgba = tuple(round(float(v), 4) for v in model.geom_rgba[g])
        if rgba not in materials:
            materials[rgba] = f"panda_material_{len(materials)}"
        visual = ET.SubElement(link_elements[link], "visual")
        _origin_element(visual, inverse_pose(world_pose[link]) @ world_at_zero[b] @ _mesh_file_frame(model, g))
        geometry = ET.SubElement(visual, "geometry")
        ET.SubElement(geometry, "mesh", filename=path.as_uri(), scale=_nums(model.mesh_scale[mesh]))
        ET.SubElement(visual, "material", name=materials[rgba])
    for index, (rgba, material_name) in enumerate(materials.items()):
        material = ET.Element("material", name=material_name)
        ET.SubElement(material, "color", rgba=_nums(rgba))
        robot.insert(material_anchor + index, material)

    def add_joint(joint_name: str, kind: str, parent: str, child: str) -> ET.Element:
        element = ET.SubElement(robot, "joint", name=joint_name, type=kind)
        ET.SubElement(element, "parent", link=parent)
        ET.SubElement(element, "child", link=child)
        _origin_element(element, origin(parent, child))
        return element

    add_joint("panda_base_joint", "fixed", ROOT_LINK, "panda_link0")
    for joint_name in PANDA_JOINT_NAMES:
        j = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, MUJOCO_JOINT_OF[joint_name])
        if j < 0:
            raise ValueError(f"the model has no joint {MUJOCO_JOINT_OF[joint_name]!r}")
        child = LINK_OF_BODY[name_of(mujoco.mjtObj.mjOBJ_BODY, int(model.jnt_bodyid[j]))]
        if np.any(np.abs(model.jnt_pos[j]) > 1e-12) or abs(model.qpos0[model.jnt_qposadr[j]]) > 1e-12:
            raise ValueError(
                f"joint {MUJOCO_JOINT_OF[joint_name]}: a joint away from its body's origin or with a "
                "non-zero reference position has no URDF equivalent here"
            )
        kind = {int(mujoco.mjtJoint.mjJNT_HINGE): "revolute", int(mujoco.mjtJoint.mjJNT_SLIDE): "prismatic"}.get(
            int(model.jnt_type[j])
        )
        if kind is None:
            raise ValueError(f"joint {MUJOCO_JOINT_OF[joint_name]}: only hinge and slide joints map to the URDF")
        if kind == "revolute" and not model.jnt_limited[j]:
            kind = "continuous"
        parent = (
            HAND_LINK
            if child in ("panda_leftfinger", "panda_rightfinger")
            else LINK_OF_BODY[name_of(mujoco.mjtObj.mjOBJ_BODY, int(model.body_parentid[model.jnt_bodyid[j]]))]
        )
        element = add_joint(joint_name, kind, parent, child)
        ET.SubElement(element, "axis", xyz=_nums(model.jnt_axis[j]))
        actuators = [
            a
            for a in range(model.nu)
            if model.actuator_trntype[a] == int(mujoco.mjtTrn.mjTRN_JOINT) and model.actuator_trnid[a, 0] == j
        ]
        if len(actuators) != 1 or not model.actuator_forcelimited[actuators[0]]:
            raise ValueError(f"joint {MUJOCO_JOINT_OF[joint_name]}: expected one force-limited actuator")
        effort = float(np.max(np.abs(model.actuator_forcerange[actuators[0]])))
        attributes = {"effort": _num(effort), "velocity": _num(PANDA_VELOCITY_LIMITS[joint_name])}
        if kind != "continuous":
            attributes = {"lower": _num(model.jnt_range[j, 0]), "upper": _num(model.jnt_range[j, 1]), **attributes}
        ET.SubElement(element, "limit", **attributes)
    add_joint("panda_joint8", "fixed", "panda_link7", FLANGE_LINK)
    add_joint("panda_hand_joint", "fixed", FLANGE_LINK, HAND_LINK)
    add_joint("panda_grasp_point_joint", "fixed", HAND_LINK, GRASP_POINT_LINK)

    ET.indent(robot, space="  ")
    return '<?xml version="1.0"?>\n' + ET.tostring(robot, encoding="unicode") + "\n"
