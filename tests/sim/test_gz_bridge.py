"""config/gz_bridge.yaml between the two sides it joins: every topic the capture node really
subscribes to (a capture process, asked over the graph) comes out of the bridge with the same
name and type, and every Gazebo topic it reads is one the world's sensors publish."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import yaml
from conftest import REPO, node_command, wait_for

from interseg.cli import main as interseg

pytestmark = pytest.mark.slow

ROS_TO_GZ_TYPES = {
    "sensor_msgs/msg/Image": "gz.msgs.Image",
    "sensor_msgs/msg/CameraInfo": "gz.msgs.CameraInfo",
    "rosgraph_msgs/msg/Clock": "gz.msgs.Clock",
}
NOT_FROM_THE_BRIDGE = {"/tf_static", "/parameter_events"}  # robot_state_publisher and ROS itself


def _bridge() -> list[dict]:
    entries = yaml.safe_load((REPO / "config" / "gz_bridge.yaml").read_text())
    assert isinstance(entries, list) and entries
    for entry in entries:
        assert entry["direction"] == "GZ_TO_ROS", entry
        assert ROS_TO_GZ_TYPES[entry["ros_type_name"]] == entry["gz_type_name"], entry
    return entries


def _resolve(name: str, namespace: str) -> str:
    return name if name.startswith("/") else f"{namespace}/{name}"


def test_the_bridge_yields_what_the_capture_node_subscribes_to(processes, ros_node):
    namespace = "/gz_robot"
    processes.start(node_command("capture", namespace, "config/capture.yaml", use_sim_time="true"), name="capture")
    expected = {}

    def subscriptions():
        if ("capture", namespace) not in ros_node.get_node_names_and_namespaces():
            return False
        found = ros_node.get_subscriber_names_and_types_by_node("capture", namespace)
        expected.update({name: types for name, types in found})
        return any(name.endswith("depth/image_raw") for name in expected)

    wait_for(subscriptions, 60, message="the capture node's subscriptions")
    bridged = {_resolve(e["ros_topic_name"], namespace): e["ros_type_name"] for e in _bridge()}
    needed = {name: types for name, types in expected.items() if name not in NOT_FROM_THE_BRIDGE}
    assert "/clock" in needed  # with use_sim_time the clock is one of them
    for name, types in needed.items():
        assert name in bridged, f"the capture node subscribes to {name}, which the bridge does not publish"
        assert bridged[name] in types, (name, bridged[name], types)


def test_the_bridge_reads_what_the_worlds_sensors_publish(tmp_path):
    assert interseg(["gz", "world", "--split", "train", "--seed", "0", "--out", str(tmp_path)]) == 0
    root = ET.parse(tmp_path / "world.sdf").getroot()
    published = {"/clock": "gz.msgs.Clock"}  # gz sim's own clock
    for sensor in root.iter("sensor"):
        topic = sensor.find("topic").text
        if sensor.get("type") == "rgbd_camera":  # gz-sensors' RGB-D topics under <topic>
            published |= {f"{topic}/image": "gz.msgs.Image", f"{topic}/depth_image": "gz.msgs.Image"}
            published[f"{topic}/camera_info"] = "gz.msgs.CameraInfo"
        else:
            published[topic] = "gz.msgs.Image"
            published[sensor.find("camera/camera_info_topic").text] = "gz.msgs.CameraInfo"
    for entry in _bridge():
        assert published.get(entry["gz_topic_name"]) == entry["gz_type_name"], entry
    assert len({e["ros_topic_name"] for e in _bridge()}) == len(_bridge())  # no ROS topic twice
