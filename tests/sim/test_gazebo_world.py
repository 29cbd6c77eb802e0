"""The Gazebo world of an arrangement against the MuJoCo scene built from the same split and seed:
objects, part geometry, poses, colours and masses read back from the compiled MuJoCo model, and
each camera's intrinsics against the camera_info the MuJoCo path publishes."""

import xml.etree.ElementTree as ET

import mujoco
import numpy as np
import pytest

from interseg.cli import main as interseg
from interseg.geometry import matrix_from_quaternion
from interseg.sim.arena import ArenaConfig, SimulatedArena
from interseg.sim.arrangement import plan_arrangement
from interseg.sim.catalog import make_background
from interseg.sim.scene import build_scene, default_camera_rig


def _pose(element) -> np.ndarray:
    """A <pose rotation_format="quat_xyzw"> as a 4x4 matrix."""
    pose = element.find("pose")
    assert pose.get("rotation_format") == "quat_xyzw"
    values = [float(v) for v in pose.text.split()]
    matrix = np.eye(4)
    matrix[:3, :3] = matrix_from_quaternion(np.array(values[3:]))
    matrix[:3, 3] = values[:3]
    return matrix


def _vector(element, path) -> np.ndarray:
    return np.array([float(v) for v in element.find(path).text.split()])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("gz")
    assert interseg(["gz", "world", "--split", "test", "--seed", "11", "--out", str(out)]) == 0
    return out, ET.parse(out / "world.sdf").getroot()


def test_the_world_holds_the_arenas_objects_where_mujoco_drops_them(world):
    out, root = world
    assert root.tag == "sdf" and root.get("version") == "1.11"
    plan = plan_arrangement("test", 11)
    arena = SimulatedArena(ArenaConfig(width=64, height=48, split="test"), seed=11)
    try:
        assert arena.num_objects == len(plan.objects) and arena.background_id == plan.background_id
    finally:
        arena.close()
    xml, assets = build_scene(
        plan.objects, plan.poses, make_background(plan.background_id), default_camera_rig(), width=64, height=48
    )
    model = mujoco.MjModel.from_xml_string(xml, assets)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)  # the drop poses, before any settling

    models = {m.get("name"): m for m in root.find("world").findall("model")}
    objects = sorted(name for name in models if name.startswith("object_"))
    assert objects == [f"object_{i}" for i in range(len(plan.objects))]
    for index, spec in enumerate(plan.objects):
        sdf_model = models[f"object_{index}"]
        world_from_model = _pose(sdf_model)
        links = sdf_model.findall("link")
        assert len(links) == len(spec.parts)
        total_mass = 0.0
        for p, link in enumerate(links):
            geom = model.geom(f"object_{index}_part_{p}")
            world_from_link = world_from_model @ _pose(link)
            np.testing.assert_allclose(world_from_link[:3, 3], data.geom_xpos[geom.id], atol=1e-6)
            np.testing.assert_allclose(world_from_link[:3, :3], data.geom_xmat[geom.id].reshape(3, 3), atol=1e-6)
            shape = link.find("collision/geometry")[0]
            size = model.geom_size[geom.id]  # from the MJCF's 6 significant digits: compared to 1e-6 m
            if shape.tag == "box":
                np.testing.assert_allclose(_vector(shape, "size"), 2 * size, atol=1e-6)
            elif shape.tag in ("cylinder", "capsule"):
                assert float(shape.find("radius").text) == pytest.approx(size[0], abs=1e-6)
                assert float(shape.find("length").text) == pytest.approx(2 * size[1], abs=1e-6)
            elif shape.tag == "sphere":
                assert float(shape.find("radius").text) == pytest.approx(size[0], abs=1e-6)
            elif shape.tag == "ellipsoid":
                np.testing.assert_allclose(_vector(shape, "radii"), size, atol=1e-6)
            else:
                assert shape.tag == "mesh" and (out / shape.find("uri").text).is_file()
            diffuse = _vector(link, "visual/material/diffuse")
            rgba = model.mat_rgba[model.geom_matid[geom.id]]
            texture = link.find("visual/material/pbr/metal/albedo_map")
            if texture is None:  # a plain part: its colour; a patterned one: its texture
                np.testing.assert_allclose(diffuse, rgba, atol=1e-6)
            else:
                assert (out / texture.text).is_file()
            total_mass += float(link.find("inertial/mass").text)
            assert all(float(link.find(f"inertial/inertia/{k}").text) > 0 for k in ("ixx", "iyy", "izz"))
        # the MJCF writes each part's mass to 5 decimals
        assert total_mass == pytest.approx(model.body(f"object_{index}").mass[0], abs=1e-5 * len(links))
    table = models["table"]
    np.testing.assert_allclose(
        _vector(table, "link/collision/geometry/box/size"), 2 * model.geom_size[model.geom("table").id]
    )
    assert (out / table.find("link/visual/material/pbr/metal/albedo_map").text).is_file()


def test_cameras_give_the_camera_info_the_mujoco_path_publishes(world):
    from interseg.nodes.convert import camera_to_info

    _, root = world
    cameras = {c.name: c for c in default_camera_rig().pinhole(640, 480)}
    sensors = root.findall("world/model[@name='interseg_cameras']/link/sensor")
    assert sorted(s.get("name") for s in sensors) == sorted(cameras)
    for sensor in sensors:
        camera = cameras[sensor.get("name")]
        assert sensor.get("type") == ("rgbd_camera" if camera.name == "cam0" else "camera")
        assert sensor.find("gz_frame_id").text == f"{camera.name}_optical_frame"
        intrinsics = sensor.find("camera/lens/intrinsics")
        k = np.array(
            [
                [float(intrinsics.find("fx").text), 0, float(intrinsics.find("cx").text)],
                [0, float(intrinsics.find("fy").text), float(intrinsics.find("cy").text)],
                [0, 0, 1],
            ]
        )
        info = camera_to_info(camera)
        np.testing.assert_allclose(k.ravel(), info.k, rtol=1e-8)
        width = int(sensor.find("camera/image/width").text)
        hfov = float(sensor.find("camera/horizontal_fov").text)
        assert (width, int(sensor.find("camera/image/height").text)) == (info.width, info.height)
        assert width / (2 * np.tan(hfov / 2)) == pytest.approx(info.k[0], rel=1e-8)
        # Gazebo's camera looks along its x axis, y to the left, z up: the optical frame's z, -x, -y.
        world_from_gz = _pose(sensor)
        optical = camera.world_from_camera
        np.testing.assert_allclose(world_from_gz[:3, 0], optical[:3, 2], atol=1e-8)
        np.testing.assert_allclose(world_from_gz[:3, 1], -optical[:3, 0], atol=1e-8)
        np.testing.assert_allclose(world_from_gz[:3, 2], -optical[:3, 1], atol=1e-8)
        np.testing.assert_allclose(world_from_gz[:3, 3], optical[:3, 3], atol=1e-8)
