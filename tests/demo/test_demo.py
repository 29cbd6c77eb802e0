"""`interseg demo` end to end on a small setting: pre-training made and cached, the node graph
started from it (hypotheses and trainer load the checkpoint), every checkpoint scored, the report
written; and the random start."""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import interseg_command

pytestmark = pytest.mark.slow

SMALL = ["--width", "320", "--height", "240", "--eval-per-background", "1", "--pretrain-frames", "60"]


def demo(tmp_path, name: str, *extra: str) -> subprocess.CompletedProcess:
    args = [
        "demo",
        "--minutes",
        "0.75",
        "--out",
        str(tmp_path / name),
        "--eval-dir",
        str(tmp_path / "eval"),
        "--pretrain-cache",
        str(tmp_path / "pretrain-cache"),
        "--pretrain-steps",
        "20",
        *SMALL,
        *extra,
    ]
    return subprocess.run(interseg_command(*args), capture_output=True, text=True, timeout=600)


def test_the_demo_starts_the_graph_from_the_cached_pretraining(tmp_path, ros_env):
    run = demo(tmp_path, "run")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    start = results["settings"]["start"]
    assert start["kind"] == "pretrained" and not start["cached"]
    assert start["setting"] == {
        "width": 320,
        "height": 240,
        "input_scale": 0.5,
        "frames": 60,
        "steps": 20,
        "batch_size": 32,
        "seed": 0,
    }
    log = (tmp_path / "run" / "launch.log").read_text()
    assert f"starting from {start['checkpoint']}" in log  # the trainer
    assert f"checkpoint {start['checkpoint']}" in log  # the hypotheses node
    assert results["curve"][0]["version"] == 0 and results["curve"][0]["interactions"] == 0
    page = (tmp_path / "run" / "report" / "index.html").read_text()
    assert "pre-trained by pushing (before any interaction)" in page

    again = demo(tmp_path, "again", "--start", "random")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    results = json.loads((tmp_path / "again" / "results.json").read_text())
    assert results["settings"]["start"] == {"kind": "random"}
    assert results["interactions"].get("interactions", 0) > 0  # the random network proposes, the robot acts
    assert "starting from" not in (tmp_path / "again" / "launch.log").read_text()
    page = (tmp_path / "again" / "report" / "index.html").read_text()
    assert "random initial weights (before any interaction)" in page
