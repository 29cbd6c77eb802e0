"""The experimenter against real capture, hypotheses and grasp_planner nodes (cameras and arm
are test processes): it pauses, naming the camera, while a camera is silent and resumes when it
is back; grasps the arm rejects are recorded and the loop goes on."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import REPO, wait_for

pytestmark = pytest.mark.slow
HELPERS = Path(__file__).resolve().parent.parent / "ros_helpers"


def _node(processes, module: str, name: str, *params: str):
    args = [
        sys.executable,
        "-c",
        f"import sys; from interseg.nodes.{module} import main; sys.exit(main())",
        "--ros-args",
        "--params-file",
        str(REPO / "config" / f"{name}.yaml"),
    ]
    for param in params:
        args += ["-p", param]
    return processes.start(args, name=name)


def test_experimenter_pauses_while_a_camera_is_silent_and_resumes(processes, tmp_path):
    progress = tmp_path / "progress.jsonl"
    silence = tmp_path / "silence-cam2"
    processes.start(
        [
            sys.executable,
            str(HELPERS / "cameras.py"),
            "--width",
            "320",
            "--height",
            "240",
            "--drop",
            "cam2",
            "--drop-file",
            str(silence),
        ],
        name="cameras",
    )
    processes.start([sys.executable, str(HELPERS / "servers.py"), "--arm-only"], name="arm")  # serves pick_place
    _node(processes, "capture", "capture", "stale_after:=1.0")
    _node(processes, "hypotheses", "hypotheses", "image_width:=320", "image_height:=240")
    _node(processes, "grasp_planner", "grasp_planner", "hold_lifted_s:=0.0")
    experimenter = _node(
        processes, "experimenter", "experimenter", f"progress_file:={progress}", "pause_s:=0.3", "reset_every:=0"
    )

    def interactions() -> int:
        lines = progress.read_text().splitlines() if progress.is_file() else []
        return json.loads(lines[-1])["interactions"] if lines else 0

    wait_for(
        lambda: interactions() >= 2, 120, message=f"interactions before the drop\n{processes.output(experimenter)}"
    )
    silence.touch()

    def pause_naming_cam2_alone():
        lines = [line for line in processes.output(experimenter).splitlines() if "paused: no observation" in line]
        return next((line for line in lines if "cam2" in line and "cam0" not in line), None)

    pause_line = wait_for(pause_naming_cam2_alone, 40, message="a pause naming the silent cam2")
    silence.unlink()
    during = interactions()
    wait_for(
        lambda: "resumed" in processes.output(experimenter).split(pause_line, 1)[1],
        40,
        message="resuming after cam2 is back",
    )
    wait_for(lambda: interactions() > during, 60, message="interactions after the camera came back")
    records = [json.loads(line) for line in progress.read_text().splitlines()]
    assert all(r["interactions"] == i + 1 for i, r in enumerate(records))  # every attempt recorded, none lost
    assert experimenter.poll() is None
