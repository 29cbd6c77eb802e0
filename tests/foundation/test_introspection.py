"""`interseg topics` and `interseg echo` see a running graph."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import interseg_command

pytestmark = pytest.mark.slow


def _start_talker(processes):
    return processes.start(
        [
            sys.executable,
            "-c",
            "import sys; from interseg.nodes.demo_pair import talker_main; sys.exit(talker_main())",
            "--ros-args",
            "-p",
            "width:=32",
            "-p",
            "height:=24",
            "-r",
            "hypotheses:=/look/here",
        ],
        name="talker",
    )


def test_topics_lists_the_graph(processes, ros_env):
    talker = _start_talker(processes)
    rows: list[str] = []
    for _ in range(6):  # the talker may still be starting (a loaded machine): ask again
        result = subprocess.run(
            interseg_command("topics", "--wait", "3"), env=ros_env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode in (0, 1), result.stderr
        rows = [line for line in result.stdout.splitlines() if line.startswith("/look/here")]
        if rows:
            break
    assert rows, f"/look/here never listed:\n{result.stdout}\n{processes.output(talker)}"
    row = rows[0]
    assert "interseg_interfaces/msg/ObjectHypotheses" in row
    assert row.split()[-2] == "1"  # one publisher


def test_echo_once_summarises_images(processes, ros_env):
    _start_talker(processes)
    result = subprocess.run(
        interseg_command("echo", "/look/here", "--once", "--timeout", "30"),
        env=ros_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "image: 32x24 mono8, 768 bytes" in result.stdout
    assert "model_version:" in result.stdout and "grasp_u:" in result.stdout


def test_echo_unknown_topic_times_out(ros_env):
    result = subprocess.run(
        interseg_command("echo", "/nothing/here", "--timeout", "2"),
        env=ros_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and "not found" in result.stderr
