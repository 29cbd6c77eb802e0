"""`interseg doctor`: what this machine can run, found by looking (imports, PATH, ament index)."""

import json
import os

from interseg.cli import main as interseg


def _report(capsys) -> dict:
    assert interseg(["doctor", "--json"]) == 0
    return {b["name"]: b for b in json.loads(capsys.readouterr().out)}


def test_the_embedded_path_runs_here_and_the_missing_ones_say_what_to_install(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", os.environ["PATH"])
    monkeypatch.delenv("AMENT_PREFIX_PATH", raising=False)
    report = _report(capsys)
    assert report["embedded"]["ok"], report["embedded"]
    gazebo = report["gazebo"]
    if not gazebo["ok"]:  # a machine without Gazebo (as CI): each missing piece named, and the fix
        assert any(not c["ok"] for c in gazebo["checks"])
        assert "ros-jazzy-ros-gz" in gazebo["install"]

    # Gazebo installed: a gz executable and the ROS packages in an ament index.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gz = bin_dir / "gz"
    gz.write_text("#!/bin/sh\necho 'Gazebo Sim, version 8.9.0'\n")
    gz.chmod(0o755)
    index = tmp_path / "prefix" / "share" / "ament_index" / "resource_index" / "packages"
    index.mkdir(parents=True)
    for package in ("ros_gz_sim", "ros_gz_bridge", "gz_ros2_control"):
        (index / package).write_text("")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(tmp_path / "prefix"))
    gazebo = _report(capsys)["gazebo"]
    assert gazebo["ok"], gazebo
    assert "version 8.9.0" in gazebo["checks"][0]["detail"]
