"""The push_collector node in a real process (through launch/pretrain.launch.yaml): every example
it writes to the store is announced on labelled_examples, progress arrives on ~/progress at each
push, and the node (so the launch) exits 0 when the frame budget is recorded."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import REPO, interseg_command, wait_for

pytestmark = pytest.mark.slow

W, H, FRAMES = 160, 120, 20


def test_push_collector_announces_every_example_and_exits_0(processes, ros_node, tmp_path):
    from rclpy.qos import QoSProfile, QoSReliabilityPolicy
    from std_msgs.msg import String

    from interseg.learning.store import ExampleStore
    from interseg_interfaces.msg import LabelledExample

    lock = threading.Lock()
    examples: list[LabelledExample] = []
    progress: list[dict] = []

    def on_example(msg):
        with lock:
            examples.append(msg)

    def on_progress(msg):
        with lock:
            progress.append(json.loads(msg.data))

    reliable = QoSProfile(depth=1000, reliability=QoSReliabilityPolicy.RELIABLE)
    ros_node.create_subscription(LabelledExample, "labelled_examples", on_example, reliable)
    ros_node.create_subscription(String, "/push_collector/progress", on_progress, reliable)

    store = tmp_path / "examples"
    launch = processes.start(
        interseg_command(
            "launch",
            str(REPO / "launch/pretrain.launch.yaml"),
            f"store:={store}",
            f"frames:={FRAMES}",
            f"width:={W}",
            f"height:={H}",
            "reset_every:=2",
        ),
        name="pretrain-launch",
    )
    wait_for(
        lambda: launch.poll() is not None,
        120,
        interval=0.2,
        message=f"the push collector to finish\n{processes.output(launch)}",
    )
    output = processes.output(launch)
    assert launch.returncode == 0, output
    assert "push_collector exited with code 0" in output and "done: 20 frames" in output, output
    wait_for(lambda: progress and progress[-1]["done"], 30, message="the last progress message")

    with ExampleStore(store) as reader:
        records = reader.records()
    with lock:
        received = list(examples)
        steps = list(progress)
    assert records and {r.source for r in records} == {"push"}
    assert len(received) == len(records)
    by_key = {r.key: r for r in records}
    assert {m.store_key for m in received} == set(by_key)
    for msg in received:
        row = by_key[msg.store_key]
        assert (msg.interaction_id, msg.view, msg.positive, msg.mask_area, msg.reason) == (
            row.interaction_id,
            row.view,
            row.positive,
            row.mask_area,
            row.reason,
        )
        assert msg.view in ("cam1", "cam2")

    last = steps[-1]
    assert last["frames"] == last["total_frames"] == FRAMES
    assert last["positives"] + last["negatives"] == len(records)
    assert last["positives"] == sum(r.positive for r in records)
    frames_done = [s["frames"] for s in steps]
    assert frames_done == sorted(frames_done) and [s["pushes"] for s in steps if not s["done"]] == list(
        range(1, len(steps))
    )  # one message per push, none lost


def test_push_collector_with_an_unknown_camera_exits_non_zero(tmp_path, ros_env):
    executable = str(Path(sys.executable).parent / "push_collector_node")  # the installed entry point
    result = subprocess.run(
        [executable, "--ros-args", "-p", f"store:={tmp_path / 'examples'}", "-p", "cameras:=[cam9]"],
        env=ros_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "cam9" in result.stderr + result.stdout
    assert not (tmp_path / "examples").exists()  # rejected before the store was created


def test_push_collector_stops_cleanly_on_ctrl_c(processes, ros_node, tmp_path):
    import os
    import signal

    from rclpy.qos import QoSProfile, QoSReliabilityPolicy
    from std_msgs.msg import String

    from interseg.learning.store import ExampleStore

    progress: list[dict] = []
    reliable = QoSProfile(depth=1000, reliability=QoSReliabilityPolicy.RELIABLE)
    ros_node.create_subscription(
        String, "/push_collector/progress", lambda m: progress.append(json.loads(m.data)), reliable
    )
    store = tmp_path / "examples"
    executable = str(Path(sys.executable).parent / "push_collector_node")
    node = processes.start(
        [
            executable,
            "--ros-args",
            "-p",
            f"store:={store}",
            "-p",
            "frames:=100000",
            "-p",
            f"width:={W}",
            "-p",
            f"height:={H}",
        ],
        name="push_collector",
    )
    wait_for(lambda: progress or node.poll() is not None, 60, message=f"the first push\n{processes.output(node)}")
    assert node.poll() is None, processes.output(node)
    os.killpg(node.pid, signal.SIGINT)
    assert node.wait(timeout=30) == 0, processes.output(node)
    with ExampleStore(store, writer=True) as writer:  # the node released the store's writer lock
        assert writer.count() >= progress[0]["positives"] + progress[0]["negatives"]
    assert not any(p["done"] for p in progress)
