"""tf2_msgs as the set-up provides it (built from the vendored upstream definitions where the ROS 2
wheels lack it): the types import with upstream's fields, a TFMessage crosses two real process
boundaries unchanged, and the type hashes are upstream's, so that rviz, tf2_ros and recorded bags
of a full ROS install accept /tf and /tf_static from this stack."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
from conftest import wait_for

pytestmark = pytest.mark.slow

HELPERS = Path(__file__).resolve().parent.parent / "ros_helpers"

# RIHS01 hashes of the upstream types, as a ROS 2 Jazzy system with the binary tf2_msgs reports
# them: `ros2 topic info /robot1/tf --verbose` ("Topic type hash") and a Jazzy rosbag2
# metadata.yaml (`type_description_hash` of /tf) both give the TFMessage value; generated
# type-support tables of third-party ROS 2 clients list the same TFMessage and TF2Error values.
TF_MESSAGE_HASH = "RIHS01_e369d0f05a23ae52508854b66f6aa0437f3449d652e8cbf22d5abe85d020f087"
TF2_ERROR_HASH = "RIHS01_db2485e7d6a0ec75bf087e058ee45df682acc3a621ca7780503d10aac141809a"


def test_tf2_msgs_imports_with_upstream_fields():
    from tf2_msgs.action import LookupTransform
    from tf2_msgs.msg import TF2Error, TFMessage
    from tf2_msgs.srv import FrameGraph

    assert TFMessage.get_fields_and_field_types() == {"transforms": "sequence<geometry_msgs/TransformStamped>"}
    assert TF2Error.get_fields_and_field_types() == {"error": "uint8", "error_string": "string"}
    assert (TF2Error.NO_ERRORS, TF2Error.LOOKUP_ERROR, TF2Error.TRANSFORM_ERROR) == (0, 1, 6)
    assert FrameGraph.Request.get_fields_and_field_types() == {}
    assert FrameGraph.Response.get_fields_and_field_types() == {"frame_yaml": "string"}
    assert LookupTransform.Goal.get_fields_and_field_types() == {
        "target_frame": "string",
        "source_frame": "string",
        "source_time": "builtin_interfaces/Time",
        "timeout": "builtin_interfaces/Duration",
        "target_time": "builtin_interfaces/Time",
        "fixed_frame": "string",
        "advanced": "boolean",
    }
    assert LookupTransform.Result.get_fields_and_field_types() == {
        "transform": "geometry_msgs/TransformStamped",
        "error": "tf2_msgs/TF2Error",
    }


def _type_description(kind: str, name: str) -> dict:
    """The type description rosidl generated for tf2_msgs/<kind>/<name>, from the ament index."""
    from ament_index_python.packages import get_package_share_directory

    path = Path(get_package_share_directory("tf2_msgs")) / kind / f"{name}.json"
    return json.loads(path.read_text())


def test_type_hashes_equal_upstream():
    hashes = {
        entry["type_name"]: entry["hash_string"] for entry in _type_description("msg", "TFMessage")["type_hashes"]
    }
    assert hashes["tf2_msgs/msg/TFMessage"] == TF_MESSAGE_HASH
    errors = {entry["type_name"]: entry["hash_string"] for entry in _type_description("msg", "TF2Error")["type_hashes"]}
    assert errors["tf2_msgs/msg/TF2Error"] == TF2_ERROR_HASH
    # The hash covers the nested geometry_msgs types too: they are the wheels', referenced by name.
    referenced = {
        t["type_name"]
        for t in _type_description("msg", "TFMessage")["type_description_msg"]["referenced_type_descriptions"]
    }
    assert {
        "geometry_msgs/msg/TransformStamped",
        "geometry_msgs/msg/Transform",
        "std_msgs/msg/Header",
        "builtin_interfaces/msg/Time",
    } <= referenced


def _transforms():
    from geometry_msgs.msg import TransformStamped

    first = TransformStamped()
    first.header.stamp.sec, first.header.stamp.nanosec = 1_700_000_000, 123_456_789
    first.header.frame_id, first.child_frame_id = "world", "panda_link0"
    first.transform.translation.x, first.transform.translation.y, first.transform.translation.z = 0.25, -0.5, 1e-9
    first.transform.rotation.x, first.transform.rotation.y, first.transform.rotation.z, first.transform.rotation.w = (
        0.0,
        0.0,
        0.38268343236508984,
        0.9238795325112867,
    )
    second = TransformStamped()
    second.header.stamp.sec, second.header.stamp.nanosec = 1_700_000_001, 7
    second.header.frame_id, second.child_frame_id = "panda_link7", "panda_grasp_point"
    second.transform.translation.z = 0.253
    second.transform.rotation.x, second.transform.rotation.w = -0.5, 0.8660254037844386
    return [first, second]


def _as_tuple(t):
    tr, rot = t.transform.translation, t.transform.rotation
    return (
        t.header.stamp.sec,
        t.header.stamp.nanosec,
        t.header.frame_id,
        t.child_frame_id,
        tr.x,
        tr.y,
        tr.z,
        rot.x,
        rot.y,
        rot.z,
        rot.w,
    )


def test_tf_message_round_trip_across_processes(processes, ros_node):
    from tf2_msgs.msg import TFMessage

    echo = processes.start([sys.executable, str(HELPERS / "tf2_echo.py")], name="tf2_echo")
    received: list = []
    ros_node.create_subscription(TFMessage, "tf_out", received.append, 10)
    publisher = ros_node.create_publisher(TFMessage, "tf_in", 10)
    sent = TFMessage(transforms=_transforms())

    def echoed():
        if echo.poll() is not None:
            raise AssertionError(f"the echo process exited\n{processes.output(echo)}")
        publisher.publish(sent)
        time.sleep(0.1)
        return received

    wait_for(echoed, 30, message=f"the TFMessage back from the echo process\n{processes.output(echo)}")
    message = received[0]
    assert len(message.transforms) == 2
    assert [_as_tuple(t) for t in message.transforms] == [_as_tuple(t) for t in sent.transforms]  # bit-exact

    # Both processes advertise the upstream type hash on the graph (what a full ROS install checks).
    endpoints = wait_for(
        lambda: [e for e in ros_node.get_publishers_info_by_topic("tf_out") if e.node_name == "tf2_echo"],
        10,
        message="the echo process's publisher on the graph",
    )
    assert endpoints[0].topic_type == "tf2_msgs/msg/TFMessage"
    assert str(endpoints[0].topic_type_hash) == TF_MESSAGE_HASH
    subscriptions = [e for e in ros_node.get_subscriptions_info_by_topic("tf_in") if e.node_name == "tf2_echo"]
    assert subscriptions and str(subscriptions[0].topic_type_hash) == TF_MESSAGE_HASH
