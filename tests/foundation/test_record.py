"""`interseg record` writes what a talker publishes into an MCAP bag that rosbags reads back."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import interseg_command

pytestmark = pytest.mark.slow


def test_record_project_messages_to_mcap(processes, ros_env, tmp_path):
    from rosbags.rosbag2 import Reader

    from interseg.nodes.recorder import interface_typestore

    processes.start(
        [
            sys.executable,
            "-c",
            "import sys; from interseg.nodes.demo_pair import talker_main; sys.exit(talker_main())",
            "--ros-args",
            "-p",
            "width:=32",
            "-p",
            "height:=24",
            "-p",
            "rate:=20.0",
        ],
        name="talker",
    )
    bag = tmp_path / "bag"
    result = subprocess.run(
        interseg_command("record", "/hypotheses", "-o", str(bag), "--max-messages", "5"),
        env=ros_env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr
    assert list(bag.glob("*.mcap"))
    typestore = interface_typestore()
    with Reader(bag) as reader:
        messages = [typestore.deserialize_cdr(raw, conn.msgtype) for conn, _, raw in reader.messages()]
    assert len(messages) >= 5
    mask = messages[-1].hypotheses[0].mask
    assert (mask.width, mask.height, mask.encoding) == (32, 24, "mono8")
    assert np.asarray(mask.data).max() == 255


def test_record_refuses_existing_output(tmp_path, ros_env):
    result = subprocess.run(
        interseg_command("record", "/x", "-o", str(tmp_path)), env=ros_env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and "already exists" in result.stderr
