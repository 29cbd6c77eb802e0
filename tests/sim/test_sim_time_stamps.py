"""Simulated time as ROS stamps: thousands of frames at the shipped camera rates give strictly
increasing stamps that equal the simulator's clock to the nanosecond (the old arithmetic took the
nanoseconds modulo 1e9 without carrying into the seconds and stepped back a second once every
few dozen frames)."""

from __future__ import annotations

import pytest
import yaml
from conftest import REPO

from interseg.sim.arena import ArenaConfig, SimulatedArena
from interseg.timestamps import NANOSECONDS, stamp_from_seconds

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "rate_hz",
    [yaml.safe_load((REPO / "config" / "sim.yaml").read_text())["/**/sim"]["ros__parameters"]["camera_rate_hz"], 10.0],
)
def test_stamps_of_thousands_of_frames_strictly_increase(rate_hz):
    with SimulatedArena(ArenaConfig(width=32, height=24, min_objects=1, max_objects=1, shadows=False), seed=4) as arena:
        previous = None
        for frame in range(3000):
            arena.step_idle(1.0 / rate_hz)
            seconds = arena.sim_time
            sec, nanosec = stamp_from_seconds(seconds)
            assert 0 <= nanosec < NANOSECONDS
            value = sec * NANOSECONDS + nanosec
            assert abs(value - seconds * NANOSECONDS) <= 1.0, (frame, seconds, sec, nanosec)
            if previous is not None:
                assert value > previous, f"frame {frame}: stamp {sec}.{nanosec:09d} not after the previous one"
                assert abs((value - previous) - NANOSECONDS / rate_hz) < 1e4  # one camera period, within 10 us
            previous = value
