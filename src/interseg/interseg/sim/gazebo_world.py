"""A Gazebo (Harmonic, gz sim 8, SDFormat 1.11) world of one arena arrangement: the same table,
background texture, objects, lights and four cameras as the MuJoCo arena built from the same split
and seed (interseg.sim.arrangement), so that the two simulators show the same scene.

Written without Gazebo (plain XML): ``DIR/world.sdf`` with ``DIR/textures/*.png`` and
``DIR/meshes/*`` beside it, referred to by relative URIs (launch/gazebo.launch.py puts DIR on
GZ_SIM_RESOURCE_PATH). The arm is not in the world: the robot description is spawned into it.

Conventions carried over:

- objects: one model per object, dropped where the MuJoCo arena drops it (it settles under
  Gazebo's physics); one link per part (MuJoCo geom) with that part's geometry, pose, colour or
  pattern texture, mass (the arena's split of the object's mass) and the inertia of its solid
  primitive, joined to the first part by fixed joints;
- cameras: a static model with one link per camera; the sensor's pose is the camera's optical
  pose turned into Gazebo's camera frame (x forward, y left, z up), and ``<lens><intrinsics>`` give
  the projection the MuJoCo path publishes in camera_info (square pixels, principal point at
  ((w - 1) / 2, (h - 1) / 2)); cam0 is an RGB-D camera; image and camera_info frame ids are the
  optical frames (``<gz_frame_id>``, ``<optical_frame_id>``); gz topics are ``/cameras/<name>/...``
  (:func:`gz_camera_topics`; config/gz_bridge.yaml maps them to the capture node's topics).
"""

from __future__ import annotations

import math
import shutil
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from interseg.constants import MAIN_CAMERA
from interseg.geometry import PinholeCamera, quaternion_from_matrix
from interseg.sim.arrangement import Arrangement
from interseg.sim.catalog import PartSpec, background_texture, make_background, part_texture
from interseg.sim.scene import FLOOR_Z, TABLE_X, TABLE_Y, CameraRig, part_masses
from interseg.transforms import optical_frame

SDF_VERSION = "1.11"
# Gazebo's camera frame (x forward, y left, z up) in the optical frame (z forward, x right, y down).
OPTICAL_FROM_GZ_CAMERA = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])
CAMERA_RATE_HZ = 10.0
DEPTH_RANGE = (0.05, 10.0)


def _fmt(values) -> str:
    return " ".join(f"{float(v):.9g}" for v in np.atleast_1d(values))


def _sub(parent: ET.Element, tag: str, text=None, **attrib) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: str(v) for k, v in attrib.items()})
    if text is not None:
        element.text = text if isinstance(text, str) else _fmt(text)
    return element


def _pose(parent: ET.Element, position, quaternion_xyzw=(0.0, 0.0, 0.0, 1.0)) -> ET.Element:
    return _sub(parent, "pose", _fmt([*position, *quaternion_xyzw]), rotation_format="quat_xyzw")


def euler_xyz_quaternion(euler) -> np.ndarray:
    """MuJoCo's default ``euler`` (intrinsic x, then y, then z; radians) as a quaternion (x, y, z, w)."""
    q = np.array([0.0, 0.0, 0.0, 1.0])
    for axis, angle in zip(np.eye(3), euler):
        r = np.array([*(axis * math.sin(angle / 2)), math.cos(angle / 2)])
        q = _multiply(q, r)  # intrinsic: each rotation about the rotated axes, so compose on the right
    return q / np.linalg.norm(q)


def _multiply(a, b) -> np.ndarray:
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return np.array(
        [
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz,
        ]
    )


def _geometry(parent: ET.Element, part: PartSpec, mesh_uri: str | None) -> None:
    geometry = _sub(parent, "geometry")
    s = part.size
    if part.geom_type == "box":
        _sub(_sub(geometry, "box"), "size", [2 * s[0], 2 * s[1], 2 * s[2]])
    elif part.geom_type in ("cylinder", "capsule"):
        shape = _sub(geometry, part.geom_type)
        _sub(shape, "radius", [s[0]])
        _sub(shape, "length", [2 * s[1]])
    elif part.geom_type == "sphere":
        _sub(_sub(geometry, "sphere"), "radius", [s[0]])
    elif part.geom_type == "ellipsoid":
        _sub(_sub(geometry, "ellipsoid"), "radii", list(s[:3]))
    elif part.geom_type == "mesh":
        mesh = _sub(geometry, "mesh")
        _sub(mesh, "uri", mesh_uri)
        _sub(mesh, "scale", [s[0]] * 3)
    else:
        raise ValueError(f"no SDF geometry for a {part.geom_type!r} part")


def solid_inertia(part: PartSpec, mass: float) -> tuple[float, float, float]:
    """Principal moments (ixx, iyy, izz) of the part's solid primitive about its own frame."""
    s = part.size
    if part.geom_type == "box":
        a, b, c = (2 * v for v in s[:3])
        return (mass * (b * b + c * c) / 12, mass * (a * a + c * c) / 12, mass * (a * a + b * b) / 12)
    if part.geom_type in ("cylinder", "capsule"):
        r, h = s[0], 2 * s[1] + (2 * s[0] if part.geom_type == "capsule" else 0.0)
        side = mass * (3 * r * r + h * h) / 12
        return (side, side, mass * r * r / 2)
    if part.geom_type == "ellipsoid":
        a, b, c = s[:3]
        return (mass * (b * b + c * c) / 5, mass * (a * a + c * c) / 5, mass * (a * a + b * b) / 5)
    r = s[0] if part.geom_type == "sphere" else s[0] / 2  # a mesh: as a sphere of half its scale
    return (2 * mass * r * r / 5,) * 3


def _material(parent: ET.Element, rgb, texture_uri: str | None = None) -> None:
    material = _sub(parent, "material")
    _sub(material, "ambient", [*rgb, 1.0])
    _sub(material, "diffuse", [*rgb, 1.0])
    _sub(material, "specular", [0.2, 0.2, 0.2, 1.0])
    if texture_uri:
        _sub(_sub(_sub(material, "pbr"), "metal"), "albedo_map", texture_uri)


def _object_model(world, index: int, arrangement: Arrangement, out: Path, prefix: str = "", posed: bool = True) -> None:
    """Object ``index`` as a model under ``world``; its files go to ``out`` and its URIs start
    with ``prefix`` (relative to the world's folder); ``posed=False`` leaves the pose out (a
    spawn request carries it)."""
    spec = arrangement.objects[index]
    position, quat_wxyz = arrangement.poses[index]
    model = _sub(world, "model", name=f"object_{index}")
    if posed:
        _pose(model, position, [*quat_wxyz[1:], quat_wxyz[0]])
    masses = part_masses(spec)
    for p, part in enumerate(spec.parts):
        link = _sub(model, "link", name=f"part_{p}")
        _pose(link, part.pos, euler_xyz_quaternion(part.euler))
        inertial = _sub(link, "inertial")
        _sub(inertial, "mass", [masses[p]])
        inertia = _sub(inertial, "inertia")
        for name, value in zip(("ixx", "iyy", "izz"), solid_inertia(part, masses[p])):
            _sub(inertia, name, [value])
        for name in ("ixy", "ixz", "iyz"):
            _sub(inertia, name, "0")
        mesh_uri = None
        if part.geom_type == "mesh":
            source = Path(part.mesh_file)
            mesh_uri = f"{prefix}meshes/{source.name}"
            (out / "meshes").mkdir(exist_ok=True)
            shutil.copyfile(source, out / "meshes" / source.name)
        collision = _sub(link, "collision", name="collision")
        _geometry(collision, part, mesh_uri)
        friction = _sub(_sub(_sub(collision, "surface"), "friction"), "ode")
        _sub(friction, "mu", "1.0")
        _sub(friction, "mu2", "1.0")
        visual = _sub(link, "visual", name="visual")
        _geometry(visual, part, mesh_uri)
        texture = None
        if part.pattern != "plain":
            texture = f"textures/object_{index}_part_{p}.png"
            _write_png(out / texture, part_texture(part))
        _material(visual, part.rgb, texture and prefix + texture)
        if p > 0:
            joint = _sub(model, "joint", name=f"fixed_{p}", type="fixed")
            _sub(joint, "parent", "part_0")
            _sub(joint, "child", f"part_{p}")


def _write_png(path: Path, rgb: np.ndarray) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1])):
        raise OSError(f"could not write {path}")


def _box_model(world, name: str, size, position, rgb=None, texture: str | None = None, collide: bool = True) -> None:
    model = _sub(world, "model", name=name)
    _sub(model, "static", "true")
    _pose(model, position)
    link = _sub(model, "link", name="link")
    if collide:
        _geometry(_sub(link, "collision", name="collision"), PartSpec("box", tuple(v / 2 for v in size)), None)
    visual = _sub(link, "visual", name="visual")
    _geometry(visual, PartSpec("box", tuple(v / 2 for v in size)), None)
    _material(visual, rgb or (1.0, 1.0, 1.0), texture)


def gz_camera_topics(name: str, main: bool) -> dict[str, str]:
    """The Gazebo topics of a camera of the world (config/gz_bridge.yaml bridges them)."""
    topics = {"image": f"/cameras/{name}/image", "camera_info": f"/cameras/{name}/camera_info"}
    if main:
        topics["depth"] = f"/cameras/{name}/depth_image"
    return topics


def _camera_sensor(link, camera: PinholeCamera, main: bool) -> None:
    world_from_gz = camera.world_from_camera[:3, :3] @ OPTICAL_FROM_GZ_CAMERA
    sensor = _sub(link, "sensor", name=camera.name, type="rgbd_camera" if main else "camera")
    x, y, z, w = quaternion_from_matrix(world_from_gz)
    _pose(sensor, camera.world_from_camera[:3, 3], [x, y, z, w])
    _sub(sensor, "always_on", "true")
    _sub(sensor, "update_rate", [CAMERA_RATE_HZ])
    topics = gz_camera_topics(camera.name, main)
    # gz-sensors: an rgbd_camera publishes <topic>/image, <topic>/depth_image and <topic>/camera_info;
    # a camera publishes its image on <topic> and its camera_info where <camera_info_topic> says.
    _sub(sensor, "topic", f"/cameras/{camera.name}" if main else topics["image"])
    _sub(sensor, "gz_frame_id", optical_frame(camera.name))
    cam = _sub(sensor, "camera", name=camera.name)
    if not main:
        _sub(cam, "camera_info_topic", topics["camera_info"])
    _sub(cam, "horizontal_fov", [2 * math.atan(camera.width / (2 * camera.fx))])
    image = _sub(cam, "image")
    _sub(image, "width", str(camera.width))
    _sub(image, "height", str(camera.height))
    _sub(image, "format", "R8G8B8")
    clip = _sub(cam, "clip")
    _sub(clip, "near", [0.01])
    _sub(clip, "far", [20.0])
    if main:
        depth = _sub(cam, "depth_camera")
        _sub(depth, "output", "depths")
        depth_clip = _sub(depth, "clip")
        _sub(depth_clip, "near", [DEPTH_RANGE[0]])
        _sub(depth_clip, "far", [DEPTH_RANGE[1]])
    lens = _sub(cam, "lens")
    _sub(lens, "type", "gnomonical")
    _sub(lens, "scale_to_hfov", "true")
    intrinsics = _sub(lens, "intrinsics")
    for name in ("fx", "fy", "cx", "cy"):
        _sub(intrinsics, name, [getattr(camera, name)])
    _sub(intrinsics, "s", "0")
    _sub(cam, "optical_frame_id", optical_frame(camera.name))


def world_sdf(arrangement: Arrangement, rig: CameraRig, width: int, height: int, out: str | Path) -> Path:
    """Write the world of ``arrangement`` to ``out``/world.sdf (with its textures and meshes)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    root = ET.Element("sdf", version=SDF_VERSION)
    world = _sub(root, "world", name="interseg_arena")
    physics = _sub(world, "physics", name="1ms", type="ignored")
    _sub(physics, "max_step_size", "0.001")
    _sub(physics, "real_time_factor", "1.0")
    for plugin, name in (
        ("gz-sim-physics-system", "gz::sim::systems::Physics"),
        ("gz-sim-user-commands-system", "gz::sim::systems::UserCommands"),
        ("gz-sim-scene-broadcaster-system", "gz::sim::systems::SceneBroadcaster"),
        ("gz-sim-sensors-system", "gz::sim::systems::Sensors"),
    ):
        element = _sub(world, "plugin", filename=plugin, name=name)
        if plugin == "gz-sim-sensors-system":
            _sub(element, "render_engine", "ogre2")
    scene = _sub(world, "scene")
    _sub(scene, "ambient", [0.25, 0.25, 0.25, 1.0])
    _sub(scene, "shadows", "true")
    # The MuJoCo scene's two lights (interseg.sim.scene.build_scene).
    key = _sub(world, "light", name="key_light", type="spot")
    _pose(key, [0.9, 0.6, 1.8])
    _sub(key, "cast_shadows", "true")
    _sub(key, "diffuse", [0.75, 0.75, 0.72, 1.0])
    _sub(key, "specular", [0.2, 0.2, 0.2, 1.0])
    _sub(key, "direction", [-0.3, -0.3, -1.0])
    spot = _sub(key, "spot")
    _sub(spot, "inner_angle", [0.0])
    _sub(spot, "outer_angle", [math.radians(70)])
    _sub(spot, "falloff", [1.0])
    attenuation = _sub(key, "attenuation")
    _sub(attenuation, "range", [10.0])
    fill = _sub(world, "light", name="fill_light", type="directional")
    _pose(fill, [0.2, -0.8, 1.5])
    _sub(fill, "cast_shadows", "false")
    _sub(fill, "diffuse", [0.35, 0.35, 0.38, 1.0])
    _sub(fill, "specular", [0.0, 0.0, 0.0, 1.0])
    _sub(fill, "direction", [0.3, 0.6, -1.0])

    _box_model(world, "floor", (8.0, 8.0, 0.02), (0.0, 0.0, FLOOR_Z - 0.01), (0.32, 0.31, 0.30))
    table_texture = "textures/table.png"
    _write_png(out / table_texture, background_texture(make_background(arrangement.background_id)))
    size_x, size_y = TABLE_X[1] - TABLE_X[0], TABLE_Y[1] - TABLE_Y[0]
    centre = ((TABLE_X[0] + TABLE_X[1]) / 2, (TABLE_Y[0] + TABLE_Y[1]) / 2)
    _box_model(world, "table", (size_x, size_y, 0.04), (*centre, -0.02), texture=table_texture)
    _box_model(world, "table_legs", (0.8, 1.0, 0.72), (0.55, 0.0, -0.4), (0.25, 0.23, 0.22), collide=False)
    _box_model(world, "pedestal", (0.24, 0.24, 0.75), (-0.02, 0.0, -0.375), (0.2, 0.2, 0.22))
    for index in range(len(arrangement.objects)):
        _object_model(world, index, arrangement, out)
    cameras = _sub(world, "model", name="interseg_cameras")
    _sub(cameras, "static", "true")
    for camera in rig.pinhole(width, height):
        link = _sub(cameras, "link", name=f"{camera.name}_link")
        _camera_sensor(link, camera, camera.name == MAIN_CAMERA)
    ET.indent(root)
    path = out / "world.sdf"
    path.write_text('<?xml version="1.0"?>\n' + ET.tostring(root, encoding="unicode") + "\n")
    return path


@dataclass
class Spawn:
    name: str
    sdf: str  # a <sdf> holding the model, without its pose
    position: tuple[float, float, float]
    orientation_xyzw: tuple[float, float, float, float]


@dataclass
class ResetPlan:
    remove: list[str]  # model names to delete first
    spawn: list[Spawn]  # then these to create


def reset_plan(current: list[str], arrangement: Arrangement, world_dir: str | Path) -> ResetPlan:
    """What resetting a running Gazebo world to ``arrangement`` takes: delete the objects now in it
    (``current``), create the new ones at their drop poses. Their textures and meshes are written
    under ``world_dir``/resets/<seed>/ and referred to relative to ``world_dir`` (on
    GZ_SIM_RESOURCE_PATH), so models spawned from a string find them."""
    folder = f"resets/{arrangement.split}-{arrangement.seed}/"
    out = Path(world_dir) / folder
    out.mkdir(parents=True, exist_ok=True)
    spawns = []
    for index, (position, quat_wxyz) in enumerate(arrangement.poses):
        root = ET.Element("sdf", version=SDF_VERSION)
        _object_model(root, index, arrangement, out, prefix=folder, posed=False)
        sdf = '<?xml version="1.0"?>\n' + ET.tostring(root, encoding="unicode")
        orientation = (float(quat_wxyz[1]), float(quat_wxyz[2]), float(quat_wxyz[3]), float(quat_wxyz[0]))
        spawns.append(Spawn(f"object_{index}", sdf, tuple(float(v) for v in position), orientation))
    return ResetPlan(list(current), spawns)
