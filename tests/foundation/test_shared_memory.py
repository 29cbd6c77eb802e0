"""Stale Fast DDS shared-memory segments: a participant killed with SIGKILL leaves its segment
(tens of MB of memory) in /dev/shm; the cleaner removes exactly those whose owner is gone."""

from __future__ import annotations

import fcntl
import os
import signal
import time
from pathlib import Path

import pytest
from conftest import wait_for

from interseg.rosenv import remove_stale_shared_memory

pytestmark = pytest.mark.slow

SHM = Path("/dev/shm")
PARTICIPANT = """
import time, rclpy
rclpy.init()
node = rclpy.create_node("shm_owner")
print("ready", flush=True)
time.sleep(600)
"""


def _segments() -> set[str]:
    return {p.name for p in SHM.glob("fastdds_*_el") if len(p.name) == len("fastdds_") + 16 + 3}


def test_only_segments_without_a_living_owner_are_removed(tmp_path):
    old = time.time() - 3600
    for name, _held in (("fastdds_00000000000000aa", False), ("fastdds_00000000000000bb", True)):
        (tmp_path / name).write_bytes(b"\0" * 4096)
        (tmp_path / f"{name}_el").touch()
        os.utime(tmp_path / f"{name}_el", (old, old))
    (tmp_path / "fastdds_port7411").write_bytes(b"\0" * 64)  # shared by all: never touched
    (tmp_path / "fastdds_00000000000000cc").write_bytes(b"\0" * 64)  # young: being created
    (tmp_path / "fastdds_00000000000000cc_el").touch()
    owner = os.open(tmp_path / "fastdds_00000000000000bb_el", os.O_RDWR)
    fcntl.flock(owner, fcntl.LOCK_EX)  # as a live participant holds it (another open file: conflicts)
    try:
        assert remove_stale_shared_memory(tmp_path) == (1, 4096)
    finally:
        os.close(owner)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "fastdds_00000000000000bb",
        "fastdds_00000000000000bb_el",
        "fastdds_00000000000000cc",
        "fastdds_00000000000000cc_el",
        "fastdds_port7411",
    ]
    assert remove_stale_shared_memory(tmp_path / "missing") == (0, 0)


def test_a_sigkilled_participants_segments_are_removed_and_a_live_ones_kept(processes):
    def start(name: str, before: set[str]):
        proc = processes.python(["-c", PARTICIPANT], name=name)
        wait_for(lambda: "ready" in processes.output(proc), 60, message=f"participant {name}")
        wait_for(lambda: _segments() - before, 30, message=f"the segments of {name}")
        time.sleep(0.5)
        return proc, _segments() - before

    killed, killed_segments = start("killed", _segments())
    alive, alive_segments = start("alive", _segments())
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait(timeout=10)
    assert all((SHM / s).exists() for s in killed_segments)  # what SIGKILL leaves behind
    removed, freed = remove_stale_shared_memory(min_age_s=0.0)
    assert removed >= len(killed_segments) and freed > 0
    assert not any((SHM / s).exists() or (SHM / s[:-3]).exists() for s in killed_segments)
    assert all((SHM / s).exists() and (SHM / s[:-3]).exists() for s in alive_segments)
    assert alive.poll() is None
