"""The set-up installs interseg into the venv's ament index as colcon would, so that ROS 2 tools
and `interseg launch` find the same package share, launch files and node executables."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from conftest import REPO, wait_for

import interseg.rosenv
from interseg.supervision.ament_index import package_share, resolve_executable
from interseg.supervision.launch_file import read_launch_file
from interseg.supervision.plan import LaunchError

pytestmark = pytest.mark.slow

PREFIX = Path(sys.prefix)
NODE_SCRIPTS = {e.name: e.value for e in metadata.distribution("interseg").entry_points if e.group == "console_scripts"}


def test_ament_index_finds_the_installed_share():
    from ament_index_python.packages import get_package_prefix, get_package_share_directory

    share = Path(get_package_share_directory("interseg"))
    assert share == PREFIX / "share" / "interseg" and Path(get_package_prefix("interseg")) == PREFIX
    assert (share / "package.xml").resolve() == REPO / "src" / "interseg" / "package.xml"
    for folder in ("launch", "config"):
        entries = sorted(p.name for p in (share / folder).iterdir())
        shipped = sorted(
            p.name for p in (REPO / folder).glob("*.launch.*" if folder == "launch" else "*") if p.is_file()
        )
        assert entries == shipped
        for name in entries:  # symlinks into the checkout: edits are live
            assert (share / folder / name).is_symlink() and (share / folder / name).resolve() == REPO / folder / name
    assert "sim.launch.yaml" in {p.name for p in (share / "launch").iterdir()}
    # our reader's $(find-pkg-share) is the same directory
    assert package_share("interseg") == share


def test_every_node_executable_runs_its_entry_point():
    for name, target in NODE_SCRIPTS.items():
        path = PREFIX / "lib" / "interseg" / name
        assert path.is_file() and os.access(path, os.X_OK), path
        text = path.read_text()
        assert text.startswith(f"#!{sys.executable}\n") or text.startswith(f"#!{PREFIX}/bin/python")
        module, _, attr = target.partition(":")
        assert f"from {module} import {attr} as main" in text
        assert resolve_executable("interseg", name) == [str(path)]


def test_installed_talker_starts_as_a_ros_node(processes, ros_node):
    talker = processes.start(
        [str(PREFIX / "lib" / "interseg" / "talker_node"), "--ros-args", "-r", "__node:=ament_talker"], name="talker"
    )
    wait_for(
        lambda: "ament_talker" in [n for n, _ in ros_node.get_node_names_and_namespaces()] or talker.poll() is not None,
        30,
        message="the installed talker_node in the graph",
    )
    assert talker.poll() is None, processes.output(talker)
    os.killpg(talker.pid, signal.SIGINT)
    assert talker.wait(timeout=10) == 0


def _importing_the_node(pid: int) -> bool:
    """Whether the process is past the interpreter's start-up and loading the node's modules
    (numpy's core is mapped: the labeller imports it first, before rclpy and OpenCV)."""
    return "_multiarray_umath" in Path(f"/proc/{pid}/maps").read_text()


@pytest.mark.parametrize("inherited", ["default", "ignored"])
def test_ctrl_c_while_a_node_loads_its_modules_ends_it_without_a_traceback(processes, inherited):
    """A supervisor stopping a graph can interrupt a node that is still importing (a respawned
    one), also when the node's parent left SIGINT ignored (a script's background job)."""

    def ignore_sigint() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    node = processes.start(
        [str(PREFIX / "lib" / "interseg" / "labeller_node")],
        name="labeller",
        preexec_fn=ignore_sigint if inherited == "ignored" else None,
    )
    # Python's own start-up (site) ends with a fatal error on SIGINT, whoever runs it: wait for
    # the node's imports, which take 0.6-3 s more here
    wait_for(lambda: _importing_the_node(node.pid), 30, interval=0.01, message="the node's imports")
    os.killpg(node.pid, signal.SIGINT)
    assert node.wait(timeout=30) in (-signal.SIGINT, 0)  # 0: it had loaded and stopped as a node does
    out = processes.output(node)
    assert "Traceback" not in out and "KeyboardInterrupt" not in out, out


def test_install_is_idempotent_and_removes_what_setup_py_no_longer_lists(tmp_path):
    command = [sys.executable, str(REPO / "scripts" / "install_ament_package.py"), "--prefix", str(tmp_path)]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    marker = tmp_path / "share" / "ament_index" / "resource_index" / "packages" / "interseg"
    assert marker.exists() and (tmp_path / "lib" / "interseg" / "talker_node").is_file()
    stale = tmp_path / "lib" / "interseg" / "removed_node"
    stale.write_text("old")
    manifest = tmp_path / "share" / "interseg" / ".interseg_install_manifest"
    manifest.write_text(manifest.read_text() + f"{stale}\n")
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    assert not stale.exists()
    assert sorted(str(p) for p in tmp_path.rglob("*")) == [p for p in before if p != str(stale)]


def test_checkout_without_set_up_gives_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(interseg.rosenv, "ament_prefixes", lambda: [])
    launch = tmp_path / "x.launch.yaml"
    launch.write_text("launch:\n- node: {pkg: interseg, exec: talker_node}\n")
    with pytest.raises(LaunchError, match=r"package 'interseg' not found in the ament index.*make setup"):
        read_launch_file(launch, env={"AMENT_PREFIX_PATH": str(tmp_path)})
    launch.write_text(
        "launch:\n- log: {message: $(find-pkg-share interseg)}\n- node: {pkg: interseg, exec: talker_node}\n"
    )
    with pytest.raises(LaunchError, match=r"package 'interseg' not found.*make setup"):
        read_launch_file(launch, env={"AMENT_PREFIX_PATH": str(tmp_path)})
