"""The capture node against cameras in another process: synchronized Observations with the
camera poses from /tf_static, a camera that stops is reported by name and recovers, bad
encodings are rejected and counted, drivers' bgr8 and 16UC1 millimetre depth are converted."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from conftest import REPO, wait_for

HELPERS = Path(__file__).resolve().parent.parent / "ros_helpers"


def _capture_node(processes, *extra):
    return processes.start([sys.executable, "-c", "import sys; from interseg.nodes.capture import main; sys.exit(main())",
                            "--ros-args", "--params-file", str(REPO / "config/capture.yaml"), "-p", "stale_after:=1.0", *extra], name="capture")


_clients: dict = {}


def _call_capture(ros_node, timeout: float = 0.0):
    """Call the capture service (one client per test node, created and discovered once)."""
    from interseg_interfaces.srv import Capture

    if ros_node not in _clients:
        client = ros_node.create_client(Capture, "capture")
        assert client.wait_for_service(timeout_sec=60), "capture service not discovered"
        _clients[ros_node] = client
    future = _clients[ros_node].call_async(Capture.Request(timeout=timeout))
    return wait_for(lambda: future.result(), 10, message="capture response")


def test_synchronized_observation_with_calibration(processes, ros_node):
    from interseg.nodes.convert import info_to_camera, msg_to_image

    processes.start([sys.executable, str(HELPERS / "cameras.py")], name="cameras")
    node = _capture_node(processes)
    response = wait_for(lambda: (r := _call_capture(ros_node, timeout=2.0)).success and r, 30, message="a synchronized set")
    observation = response.observation
    assert observation.camera_names == ["cam0", "cam1", "cam2", "cam3"]
    stamps = [m.header.stamp.sec + 1e-9 * m.header.stamp.nanosec for m in observation.images]
    assert max(stamps) - min(stamps) <= 0.05
    assert msg_to_image(observation.images[2], "rgb8").shape == (120, 160, 3)
    assert msg_to_image(observation.depth, "32FC1").shape == (120, 160)
    camera = info_to_camera(observation.camera_infos[1], observation.camera_poses[1], "cam1")
    assert abs(camera.position[1] - 0.6) < 1e-6  # cam1's extrinsics from /tf_static reached the Observation
    # The optical frame looks at the target the helper aimed it at: TF's chain world -> cam1_link ->
    # cam1_optical_frame composed the right way round.
    uv, in_front = camera.project(np.array([[0.55, 0.0, 0.0]]))
    assert in_front[0] and np.allclose(uv[0], [camera.cx, camera.cy], atol=1e-6)
    assert "ERROR" not in processes.output(node)


def test_camera_poses_wait_for_tf_and_driver_encodings_are_converted(processes, ros_node):
    from interseg.nodes.convert import msg_to_image

    processes.start([sys.executable, str(HELPERS / "cameras.py"), "--tf-after", "6", "--colour-encoding", "bgr8",
                     "--depth-encoding", "16UC1"], name="cameras")
    node = _capture_node(processes)
    failed = wait_for(lambda: (r := _call_capture(ros_node, timeout=1.0)) and not r.success and "TF" in r.message and r, 30,
                      message="capture refusing while no transform is known")
    assert "cam0_optical_frame" in failed.message and "world" in failed.message, failed.message
    response = wait_for(lambda: (r := _call_capture(ros_node, timeout=1.0)).success and r, 30, message="capture once /tf_static arrives")
    observation = response.observation
    assert all(image.encoding == "rgb8" for image in observation.images)
    depth = msg_to_image(observation.depth, "32FC1")
    assert np.isnan(depth[0]).all() and np.allclose(depth[1:], 0.9)  # millimetres -> metres, 0 -> no return
    assert node.poll() is None


def test_camera_that_stops_is_named_and_recovers(processes, ros_node):
    from std_msgs.msg import String

    processes.start([sys.executable, str(HELPERS / "cameras.py"), "--drop", "cam2", "--drop-from", "4", "--drop-until", "9"], name="cameras")
    node = _capture_node(processes)
    statuses: list[str] = []
    ros_node.create_subscription(String, "/capture/status", lambda m: statuses.append(m.data), 10)
    wait_for(lambda: _call_capture(ros_node, timeout=1.0).success, 30, message="capture working before the drop")
    # A loaded machine can stall every camera for a moment; what must come is a failure naming cam2 alone.
    failed = wait_for(lambda: (r := _call_capture(ros_node, timeout=0.5)) and not r.success and "cam2" in r.message and r, 20,
                      message="capture failing during the drop")
    wait_for(lambda: (r := _call_capture(ros_node, timeout=0.5)) and not r.success and "cam2" in r.message and "cam0" not in r.message, 20,
             message=f"cam2 named alone (last: {failed.message})")
    wait_for(lambda: any("cam2: stale" in s for s in statuses), 5, message=f"stale status for cam2 in {statuses}")
    wait_for(lambda: _call_capture(ros_node, timeout=1.0).success, 30, message="capture recovering after the drop")
    wait_for(lambda: "all cameras are publishing again" in processes.output(node), 5, message="recovery logged")


def test_wrong_encoding_is_rejected_and_counted(processes, ros_node):
    processes.start([sys.executable, str(HELPERS / "cameras.py"), "--bad-encoding", "cam3"], name="cameras")
    node = _capture_node(processes)
    response = wait_for(lambda: (r := _call_capture(ros_node, timeout=0.5)) and "cam3: rejecting" in r.message and r, 30, message="cam3 reported")
    assert not response.success
    assert "rejecting messages" in response.message and "mono8" in response.message
    wait_for(lambda: "rejected a message from cam3" in processes.output(node), 10, message="logged rejection")
    assert node.poll() is None  # still running
