"""The grasp planner checks the whole Observation before it asks the arm to move: an
inconsistent one (an image not its calibration's size, depth not the main view's size or missing,
a non-positive focal length, a pose that is not finite) ends the Interact goal as rejected with
the reason, and the arm (a test process serving capture and pick_place) never gets a goal."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import REPO, send_goal, wait_for

pytestmark = pytest.mark.slow

HELPERS = Path(__file__).resolve().parent.parent / "ros_helpers"


def _interact(ros_node, timeout: float = 30.0):
    from rclpy.action import ActionClient

    from interseg_interfaces.action import Interact
    from interseg_interfaces.msg import ObjectHypothesis

    client = ActionClient(ros_node, Interact, "interact")
    assert client.wait_for_server(timeout_sec=60), "interact not discovered"
    goal = Interact.Goal(hypothesis=ObjectHypothesis(id=0, score=1.0, grasp_u=80.0, grasp_v=60.0), model_version=1)
    handle = send_goal(client, goal, 60)
    assert handle.accepted
    result = handle.get_result_async()
    return wait_for(lambda: result.result(), timeout, message="Interact result").result


@pytest.mark.parametrize(
    "defect, reason",
    [
        ("none", None),
        ("main-image-size", "cam0 image is 320x240, its camera_info 160x120"),
        ("depth-size", "depth is 80x60, the main image (cam0) 160x120"),
        ("no-depth", "no depth image"),
        ("info-fx-zero", "cam1 camera_info: focal length fx 0"),
        ("pose-nan", "cam2 pose: translation must be 3 finite numbers"),
    ],
)
def test_an_inconsistent_observation_is_rejected_before_the_arm_moves(processes, ros_node, defect, reason):
    from interseg_interfaces.srv import Capture

    server = processes.start(
        [sys.executable, str(HELPERS / "observation_server.py"), "--defect", defect], name="capture_and_arm"
    )
    assert ros_node.create_client(Capture, "capture").wait_for_service(timeout_sec=60), "capture not discovered"
    planner = _start_planner(processes, hold_lifted_s=0.0)
    result = _interact_once_matched(ros_node)
    if reason is None:  # the control: a consistent Observation reaches the arm
        wait_for(
            lambda: "pick_place goal received" in processes.output(server),
            10,
            message=f"a pick_place goal ({result.message})",
        )
        return
    assert not result.success
    assert result.message.startswith("rejected: observation: ") and reason in result.message, result.message
    assert "pick_place goal received" not in processes.output(server)
    assert planner.poll() is None


def _start_planner(processes, hold_lifted_s: float):
    return processes.start(
        [
            sys.executable,
            "-c",
            "import sys; from interseg.nodes.grasp_planner import main; sys.exit(main())",
            "--ros-args",
            "--params-file",
            str(REPO / "config/grasp_planner.yaml"),
            "-p",
            f"hold_lifted_s:={hold_lifted_s}",
        ],
        name="grasp_planner",
    )


def _interact_once_matched(ros_node):
    """An Interact goal; asked again (twice at most) while the planner's first capture request goes
    out before its client has matched the capture service."""
    result = _interact(ros_node)
    for _ in range(2):
        if "capture failed: no response" not in result.message:
            break
        result = _interact(ros_node)
    return result


@pytest.mark.slow
def test_the_published_interaction_waits_for_a_late_mid_grasp_view(processes, ros_node):
    """The mid-grasp capture runs on its own thread while the arm holds the object up; when it
    is answered after the "after" capture, the Interaction still carries it (the planner waits
    for that thread, bounded, instead of reading whatever it had so far)."""
    from interseg_interfaces.msg import Interaction
    from interseg_interfaces.srv import Capture

    received = []
    ros_node.create_subscription(Interaction, "interactions", received.append, 10)
    server = processes.start(
        [sys.executable, str(Path(__file__).resolve().parent / "lifted_capture_server.py"), "--lifted-delay", "2.0"],
        name="slow_lifted_capture",
    )
    assert ros_node.create_client(Capture, "capture").wait_for_service(timeout_sec=60), "capture not discovered"
    _start_planner(processes, hold_lifted_s=0.3)
    result = _interact_once_matched(ros_node)
    assert result.success, result.message
    assert "lifted capture answered" in processes.output(server)
    interaction = wait_for(lambda: received and received[-1], 30, message="the Interaction")
    assert len(interaction.lifted.images) == len(interaction.before.images) == 4
    assert interaction.lifted.depth.width == interaction.before.depth.width
