"""The static_transforms node across a real process: a calibration file on /tf_static, latched
for late subscribers; a bad file stops it at start with one line naming the entry."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import REPO, wait_for

pytestmark = pytest.mark.slow


def _node_args(path) -> list[str]:
    return ["-m", "interseg.nodes.static_transforms", "--ros-args", "-p", f"transforms_file:={path}"]


def test_config_cameras_file_matches_the_simulator_rig():
    from interseg.sim.scene import default_camera_rig
    from interseg.transforms import TransformTree, load_transforms_file

    tree = TransformTree()
    tree.set_all(load_transforms_file(REPO / "config" / "cameras.yaml"))
    rig = default_camera_rig()
    for name, pose in zip(rig.names, rig.poses):
        assert np.allclose(tree.lookup("world", f"{name}_optical_frame"), pose, atol=1e-6), name


def test_published_latched_for_a_late_subscriber(processes, ros_node):
    from tf2_msgs.msg import TFMessage

    from interseg.nodes.convert import msg_to_transform
    from interseg.nodes.tf import STATIC_LISTENER_QOS
    from interseg.transforms import TransformTree, load_transforms_file

    node = processes.python(_node_args(REPO / "config" / "cameras.yaml"), name="static_transforms")
    wait_for(
        lambda: "publishing 8 static transform(s)" in processes.output(node) or node.poll() is not None,
        30,
        message="node start",
    )
    assert node.poll() is None, processes.output(node)
    messages: list = []
    ros_node.create_subscription(TFMessage, "/tf_static", messages.append, STATIC_LISTENER_QOS)  # after the publish
    wait_for(lambda: messages, 20, message="the latched /tf_static message")
    received = TransformTree()
    received.set_all([msg_to_transform(t) for t in messages[0].transforms])
    expected = TransformTree()
    expected.set_all(load_transforms_file(REPO / "config" / "cameras.yaml"))
    for camera in ("cam0", "cam1", "cam2", "cam3"):
        assert np.allclose(
            received.lookup("world", f"{camera}_optical_frame"),
            expected.lookup("world", f"{camera}_optical_frame"),
            atol=1e-9,
        )


def test_bad_file_stops_the_node_with_one_line(processes, tmp_path):
    bad = tmp_path / "cameras.yaml"
    bad.write_text("transforms:\n- {parent: world, child: cam0_link, translation: [0, 0, 0], rotation: [0, 0, 0, 3]}\n")
    for path, expected in ((bad, "transform 1: quaternion is not normalized"), (tmp_path / "none.yaml", "cannot read")):
        node = processes.python(_node_args(path), name="static_transforms")
        assert node.wait(timeout=30) == 1
        output = processes.output(node)
        assert expected in output and str(path) in output, output
        assert "Traceback" not in output
