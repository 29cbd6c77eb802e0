"""MuJoCo scene assembly: table, Franka Panda (from gymnasium-robotics' offline assets), objects,
lights and four cameras, built as one MJCF string plus in-memory texture assets.

World frame (REP 103): z up, the table top is the plane z = 0, the robot base stands at the
origin and faces +x; the workspace is in front of it. Camera poses are given as optical frames
(z forward, y down, see :mod:`interseg.geometry`); MuJoCo cameras look along their -z with y up,
so the MJCF orientation is the optical rotation turned by pi about x.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from interseg.constants import CAMERA_NAMES, WORLD_FRAME
from interseg.geometry import PinholeCamera, look_at, quaternion_from_matrix
from interseg.sim.catalog import BackgroundSpec, ObjectSpec, background_texture, part_texture
from interseg.transforms import Transform

if TYPE_CHECKING:
    from interseg.sim.randomisation import Clutter

# Fingertip centre (the grasp point of the PickPlace action) in the link7 frame: the centre of the
# lowest finger-pad capsules; the fingers end 7 mm below it. The fixed yaw makes the site's y
# axis the fingers' closing axis.
GRASP_SITE_POS_Z = 0.253
FINGERTIP_BELOW_GRASP_POINT = 0.007

ARM_JOINTS = tuple(f"robot:panda0_joint{i}" for i in range(1, 8))
FINGER_JOINTS = ("robot:panda0_finger_joint1", "robot:panda0_finger_joint2")
ARM_BODIES = tuple(f"panda0_link{i}" for i in range(8)) + ("panda0_leftfinger", "panda0_rightfinger")

FLOOR_Z = -0.75  # the room's floor, the lowest surface anything stands on or casts a shadow onto
TABLE_X = (0.12, 0.98)  # table top extent, metres
TABLE_Y = (-0.55, 0.55)


TABLE_FRAME = "table"


def table_transform() -> Transform:
    """world -> table: the centre of the table top (x forward, z up; the top is the plane z = 0)."""
    matrix = np.eye(4)
    matrix[:3, 3] = [(TABLE_X[0] + TABLE_X[1]) / 2, (TABLE_Y[0] + TABLE_Y[1]) / 2, 0.0]
    return Transform(WORLD_FRAME, TABLE_FRAME, matrix)


@dataclass(frozen=True)
class CameraRig:
    """Names, optical poses in the world and vertical fields of view of the four cameras."""

    names: tuple[str, ...]
    poses: tuple[np.ndarray, ...]
    fovy_deg: tuple[float, ...]

    def pinhole(self, width: int, height: int) -> list[PinholeCamera]:
        return [
            PinholeCamera.from_fov(n, width, height, f, p) for n, p, f in zip(self.names, self.poses, self.fovy_deg)
        ]


def default_camera_rig() -> CameraRig:
    """cam0: near top-down main view (with depth); cam1..3: oblique views from front and sides."""
    target = np.array([0.54, 0.0, 0.0])
    eyes = [
        np.array([0.60, 0.0, 0.90]),
        np.array([1.12, 0.0, 0.70]),
        np.array([0.38, 0.64, 0.62]),
        np.array([0.38, -0.64, 0.62]),
    ]
    poses = tuple(look_at(eye, target) for eye in eyes)
    # cam0 frames the scatter and place regions tightly, so objects cover ~2000-4000 px at 640x480
    # (the paper's labeller needs 1000 px for a positive).
    return CameraRig(CAMERA_NAMES, poses, (32.0, 50.0, 50.0, 50.0))


@lru_cache(maxsize=1)
def franka_asset_dir() -> Path:
    """gymnasium-robotics' Franka Panda MJCF folder (shipped offline with the package)."""
    spec = importlib.util.find_spec("gymnasium_robotics")
    if spec is None or spec.origin is None:
        raise RuntimeError("gymnasium-robotics is not installed: it provides the Franka Panda model files")
    path = Path(spec.origin).parent / "envs" / "assets" / "kitchen_franka" / "franka_assets"
    if not (path / "chain.xml").is_file():
        raise RuntimeError(f"{path}: Franka Panda model files not found in gymnasium-robotics")
    return path


def _include_body(name: str) -> str:
    text = (franka_asset_dir() / name).read_text()
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = re.sub(r"</?mujocoinclude>", "", text)
    return text


@lru_cache(maxsize=1)
def _franka_parts() -> tuple[str, str, str]:
    """(assets/defaults, kinematic chain, actuators) with absolute mesh paths and a grasp site."""
    assets = _include_body("assets.xml")
    assets = assets.replace('meshdir="franka_assets/meshes"', f'meshdir="{franka_asset_dir() / "meshes"}"')
    assets = re.sub(r"<option[^>]*/>", "", assets)
    assets = re.sub(r"<size[^>]*/>", "", assets)
    chain = _include_body("chain.xml")
    grasp_site = (
        f"<site name='grasp_site' pos='0 0 {GRASP_SITE_POS_Z}' size='0.005' euler='0 0 -0.785398' "
        "rgba='1 0 0 0' group='5'/>"
    )
    chain, count = re.subn(r"(<site name='end_effector'[^>]*/>)", r"\1" + grasp_site, chain)
    if count != 1:
        raise RuntimeError("unexpected Franka chain.xml: end_effector site not found")
    # Gravity compensation must be in the MJCF: MuJoCo decides at compile time whether to compute it.
    chain = chain.replace('<body name="panda0_', '<body gravcomp="1" name="panda0_')
    actuators = _include_body("actuator.xml")
    return assets, chain, actuators


def _fmt(values) -> str:
    return " ".join(f"{float(v):.6g}" for v in np.atleast_1d(values))


def mujoco_camera_quaternion(world_from_optical: np.ndarray) -> np.ndarray:
    """(w, x, y, z) of a MuJoCo camera whose image matches the optical frame's."""
    rotation = world_from_optical[:3, :3] @ np.diag([1.0, -1.0, -1.0])
    x, y, z, w = quaternion_from_matrix(rotation)
    return np.array([w, x, y, z])


def _png(image: np.ndarray) -> bytes:
    import cv2

    ok, buffer = cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]))
    if not ok:
        raise RuntimeError("PNG encoding of a texture failed")
    return buffer.tobytes()


def build_scene(
    objects: list[ObjectSpec],
    object_poses: list[tuple[np.ndarray, np.ndarray]],
    background: BackgroundSpec | None,
    rig: CameraRig,
    *,
    width: int,
    height: int,
    shadow_size: int = 1024,
    arm_only: bool = False,
    table_texture: np.ndarray | None = None,
    clutter: Sequence[Clutter] = (),
) -> tuple[str, dict[str, bytes]]:
    """MJCF text and its in-memory assets (PNG textures) for one arena arrangement.

    ``object_poses`` holds (position, quaternion wxyz) of each object's free body. With
    ``arm_only`` the model holds the Panda alone: the IK solver uses it so that it can never
    move (or know about) the objects. ``table_texture`` replaces the background's texture and
    ``clutter`` adds static, non-colliding things (domain randomisation: interseg.sim.randomisation).
    """
    franka_assets, chain, actuators = _franka_parts()
    assets: dict[str, bytes] = {}
    asset_xml: list[str] = []
    world_xml: list[str] = []
    if not arm_only:
        if background is None:
            raise ValueError("a background is required for the full scene")
        assets["table.png"] = _png(background_texture(background) if table_texture is None else table_texture)
        asset_xml.append('<texture name="table_tex" type="2d" file="table.png"/>')
        asset_xml.append(
            '<material name="table_mat" texture="table_tex" texrepeat="1 1" specular="0.15" shininess="0.2"/>'
        )
        asset_xml.append('<texture name="floor_tex" type="2d" builtin="flat" rgb1=".32 .31 .30" width="8" height="8"/>')
        asset_xml.append('<material name="floor_mat" texture="floor_tex" specular="0"/>')
        tx, ty = TABLE_X, TABLE_Y
        world_xml += [
            '<light name="key_light" pos="0.9 0.6 1.8" dir="-0.3 -0.3 -1" directional="false" castshadow="true" '
            'diffuse="0.75 0.75 0.72" specular="0.2 0.2 0.2" cutoff="70" exponent="1"/>',
            '<light name="fill_light" pos="0.2 -0.8 1.5" dir="0.3 0.6 -1" directional="true" castshadow="false" '
            'diffuse="0.35 0.35 0.38" specular="0 0 0"/>',
            f'<geom name="floor" type="plane" size="4 4 0.1" pos="0 0 {FLOOR_Z}" material="floor_mat" '
            'contype="0" conaffinity="0"/>',
            f'<geom name="table" type="box" size="{(tx[1] - tx[0]) / 2} {(ty[1] - ty[0]) / 2} 0.02" '
            f'pos="{(tx[0] + tx[1]) / 2} {(ty[0] + ty[1]) / 2} -0.02" material="table_mat" '
            'friction="0.7 0.005 0.0001"/>',
            '<geom name="table_legs" type="box" size="0.4 0.5 0.36" pos="0.55 0 -0.4" rgba="0.25 0.23 0.22 1" '
            'contype="0" conaffinity="0"/>',
            '<geom name="pedestal" type="box" size="0.12 0.12 0.375" pos="-0.02 0 -0.375" rgba="0.2 0.2 0.22 1"/>',
        ]
        for index, thing in enumerate(clutter):
            quat = [np.cos(thing.yaw / 2), 0.0, 0.0, np.sin(thing.yaw / 2)]
            world_xml.append(
                f'<geom name="clutter_{index}" type="{thing.geom_type}" size="{_fmt(thing.size)}" '
                f'pos="{_fmt(thing.pos)}" quat="{_fmt(quat)}" rgba="{_fmt(thing.rgb)} 1" contype="0" conaffinity="0"/>'
            )
        for name, pose, fovy in zip(rig.names, rig.poses, rig.fovy_deg):
            world_xml.append(
                f'<camera name="{name}" pos="{_fmt(pose[:3, 3])}" quat="{_fmt(mujoco_camera_quaternion(pose))}" '
                f'fovy="{fovy}"/>'
            )
        for index, (spec, (pos, quat)) in enumerate(zip(objects, object_poses)):
            body = [
                f'<body name="object_{index}" pos="{_fmt(pos)}" quat="{_fmt(quat)}">',
                f'<freejoint name="object_{index}_joint"/>',
            ]
            masses_of_parts = part_masses(spec)
            for p, part in enumerate(spec.parts):
                geom_name = f"object_{index}_part_{p}"
                material = f"{geom_name}_mat"
                if part.pattern != "plain":
                    assets[f"{geom_name}.png"] = _png(part_texture(part))
                    asset_xml.append(f'<texture name="{geom_name}_tex" type="2d" file="{geom_name}.png"/>')
                    asset_xml.append(
                        f'<material name="{material}" texture="{geom_name}_tex" texrepeat="1 1" specular="0.3"/>'
                    )
                else:
                    asset_xml.append(f'<material name="{material}" rgba="{_fmt(part.rgb)} 1" specular="0.3"/>')
                extra = ""
                if part.geom_type == "mesh":
                    asset_xml.append(
                        f'<mesh name="{geom_name}_mesh" file="{part.mesh_file}" scale="{_fmt([part.size[0]] * 3)}"/>'
                    )
                    extra = f'mesh="{geom_name}_mesh"'
                else:
                    extra = f'size="{_fmt(part.size)}"'
                body.append(
                    f'<geom name="{geom_name}" type="{part.geom_type}" {extra} pos="{_fmt(part.pos)}" '
                    f'euler="{_fmt(part.euler)}" material="{material}" mass="{masses_of_parts[p]:.5f}" '
                    'friction="1.0 0.01 0.001" condim="4" solref="0.005 1"/>'
                )
            body.append("</body>")
            world_xml += body
    robot = f'<body name="robot_base" pos="0 0 0">{chain}</body>'
    visual = (
        f'<visual><global offwidth="{max(width, 64)}" offheight="{max(height, 64)}"/>'
        f'<quality shadowsize="{shadow_size}" offsamples="0"/>'
        '<headlight ambient="0.25 0.25 0.25" diffuse="0.15 0.15 0.15" specular="0 0 0"/>'
        '<map znear="0.01" zfar="20"/></visual>'
    )
    xml = f"""<mujoco model="interseg_arena">
{franka_assets}
<option timestep="0.002" cone="elliptic" impratio="5" integrator="implicitfast"/>
{visual}
<asset>{''.join(asset_xml)}</asset>
<worldbody>{''.join(world_xml)}{robot}</worldbody>
{actuators}
</mujoco>"""
    return xml, assets


def part_masses(spec: ObjectSpec) -> list[float]:
    """Split the object's mass over its parts in proportion to a rough volume."""
    volumes = []
    for part in spec.parts:
        if part.geom_type == "mesh":
            volumes.append(part.size[0] ** 3)
        else:
            volumes.append(float(np.prod(np.resize(part.size, 3))))
    total = sum(volumes)
    return [spec.mass * v / total for v in volumes]
