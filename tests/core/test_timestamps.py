"""Seconds as ROS stamps: nanoseconds carry into seconds, rounding never steps back, bad times
(NaN, infinite, negative, past an int32 of seconds) are refused with the reason, and ForwardStamps
never repeats or goes back. nodes/convert.time_msg builds the message from the same pair."""

from __future__ import annotations

import math

import numpy as np
import pytest

from interseg.timestamps import (
    MAX_SECONDS,
    NANOSECONDS,
    ForwardStamps,
    nanoseconds_from_seconds,
    stamp_from_nanoseconds,
    stamp_from_seconds,
)


@pytest.mark.parametrize(
    "seconds, nanoseconds",
    [
        (0.0, 0),
        (1e-9, 1),
        (0.4e-9, 0),
        (0.6e-9, 1),
        (1.5, 1_500_000_000),
        (123.000000001, 123_000_000_001),
        (0.1 + 0.2, 300_000_000),
    ],
)
def test_nearest_nanosecond(seconds, nanoseconds):
    assert nanoseconds_from_seconds(seconds) == nanoseconds


def test_integers_and_numpy_floats_are_seconds_too():
    assert nanoseconds_from_seconds(7) == 7 * NANOSECONDS
    assert nanoseconds_from_seconds(np.float32(0.5)) == 500_000_000
    assert type(nanoseconds_from_seconds(np.float64(2.25))) is int


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, -1e-9, -1.0, float(MAX_SECONDS + 1), 1e300])
def test_bad_seconds_are_refused_with_the_value(bad):
    with pytest.raises(ValueError, match="time stamp"):
        nanoseconds_from_seconds(bad)
    with pytest.raises(ValueError):
        stamp_from_seconds(bad)


@pytest.mark.parametrize(
    "nanoseconds, stamp",
    [
        (0, (0, 0)),
        (999_999_999, (0, 999_999_999)),
        (NANOSECONDS, (1, 0)),
        (5 * NANOSECONDS + 7, (5, 7)),
        (MAX_SECONDS * NANOSECONDS + 999_999_999, (MAX_SECONDS, 999_999_999)),
    ],
)
def test_nanoseconds_split_into_sec_and_nanosec(nanoseconds, stamp):
    assert stamp_from_nanoseconds(nanoseconds) == stamp


@pytest.mark.parametrize("bad", [-1, -NANOSECONDS, (MAX_SECONDS + 1) * NANOSECONDS])
def test_nanoseconds_outside_a_ros_stamp_are_refused(bad):
    with pytest.raises(ValueError, match="not a ROS stamp"):
        stamp_from_nanoseconds(bad)


def test_stamps_never_step_back_as_seconds_grow():
    """Every millisecond over a few seconds, across the points where rounding carries into the next second."""
    previous = (-1, 0)
    for k in range(5000):
        sec, nanosec = stamp_from_seconds(k * 0.001 + 0.9999999996)
        assert 0 <= nanosec < NANOSECONDS
        assert (sec, nanosec) > previous
        previous = (sec, nanosec)


def test_the_largest_stamp_fits_an_int32():
    sec, nanosec = stamp_from_seconds(float(MAX_SECONDS))
    assert (sec, nanosec) == (MAX_SECONDS, 0) and sec < 2**31


# -- ForwardStamps ------------------------------------------------------------------------------


def test_forward_stamps_pass_increasing_times_through_unchanged():
    stamps = ForwardStamps()
    assert [stamps.next(t) for t in (0.0, 0.5, 1.25)] == [(0, 0), (0, 500_000_000), (1, 250_000_000)]


def test_a_repeated_or_earlier_time_is_stamped_one_nanosecond_later():
    stamps = ForwardStamps()
    assert stamps.next(2.0) == (2, 0)
    assert stamps.next(2.0) == (2, 1)
    assert stamps.next(1.0) == (2, 2)  # a time before the last one: still after it, by the least possible
    assert stamps.next(2.0000000025) == (2, 3)  # rounds to 2.000000003, which is past 2.000000002: unchanged
    assert stamps.next(3.0) == (3, 0)


def test_a_one_nanosecond_bump_carries_into_the_next_second():
    stamps = ForwardStamps()
    assert stamps.next(4.999999999) == (4, 999_999_999)
    assert stamps.next(4.999999999) == (5, 0)


def test_advanced_compares_with_the_last_stamp_given_out():
    stamps = ForwardStamps()
    assert stamps.advanced(0.0)  # nothing given out yet
    stamps.next(1.0)
    stamps.next(1.0)  # given out as 1.000000001
    assert not stamps.advanced(1.0) and not stamps.advanced(1.000000001)
    assert stamps.advanced(1.000000002)


def test_a_bad_time_leaves_forward_stamps_as_they_were():
    stamps = ForwardStamps()
    stamps.next(3.0)
    for bad in (math.nan, -1.0, math.inf):
        with pytest.raises(ValueError):
            stamps.next(bad)
        with pytest.raises(ValueError):
            stamps.advanced(bad)
    assert stamps.last == 3 * NANOSECONDS
    assert stamps.next(3.5) == (3, 500_000_000)


# -- nodes/convert.time_msg ---------------------------------------------------------------------


def test_time_msg_holds_the_same_pair():
    convert = pytest.importorskip("interseg.nodes.convert")
    msg = convert.time_msg(12.000000001)
    assert (msg.sec, msg.nanosec) == (12, 1)
    assert (convert.time_msg(1.9999999999).sec, convert.time_msg(1.9999999999).nanosec) == (2, 0)
    for bad in (math.nan, -0.5, float(2**31)):
        with pytest.raises(ValueError):
            convert.time_msg(bad)
