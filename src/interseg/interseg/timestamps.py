"""Seconds as ROS time stamps (``sec``, ``nanosec``), and stamps that only move forward (ROS-free)."""

from __future__ import annotations

import math

NANOSECONDS = 1_000_000_000
MAX_SECONDS = 2**31 - 1  # builtin_interfaces/Time.sec is an int32


def nanoseconds_from_seconds(seconds: float) -> int:
    """Whole nanoseconds nearest to ``seconds``; rejects NaN, infinities, negative times and times
    past what a ROS stamp holds (``MAX_SECONDS``)."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"time stamp {seconds!r} s is not a finite non-negative number")
    if seconds >= MAX_SECONDS + 1:
        raise ValueError(f"time stamp {seconds!r} s is past the largest ROS stamp ({MAX_SECONDS} s)")
    return int(round(seconds * NANOSECONDS))


def stamp_from_nanoseconds(nanoseconds: int) -> tuple[int, int]:
    """(sec, nanosec) with 0 <= nanosec < 1e9, as builtin_interfaces/Time holds it; rejects
    negative times and times past ``MAX_SECONDS``."""
    sec, nanosec = divmod(int(nanoseconds), NANOSECONDS)
    if sec < 0 or sec > MAX_SECONDS:
        raise ValueError(f"{int(nanoseconds)} ns is not a ROS stamp (0 to {MAX_SECONDS} s)")
    return sec, nanosec


def stamp_from_seconds(seconds: float) -> tuple[int, int]:
    return stamp_from_nanoseconds(nanoseconds_from_seconds(seconds))


class ForwardStamps:
    """Stamps for a stream whose consecutive messages must carry strictly increasing times.

    A frame rendered at the same simulated instant as the previous one (nothing stepped in
    between) is stamped one nanosecond later, so that a synchronizer that only accepts newer
    sets and tools that drop out-of-order messages never see a step back."""

    def __init__(self) -> None:
        self.last: int | None = None

    def next(self, seconds: float) -> tuple[int, int]:
        nanoseconds = nanoseconds_from_seconds(seconds)
        if self.last is not None and nanoseconds <= self.last:
            nanoseconds = self.last + 1
        self.last = nanoseconds
        return stamp_from_nanoseconds(nanoseconds)

    def advanced(self, seconds: float) -> bool:
        """Whether ``seconds`` lies after the last stamp (a clock publishes only then)."""
        return self.last is None or nanoseconds_from_seconds(seconds) > self.last
