"""The approximate-time synchronizer survives clocks that jump and stamps that lie: a clock that
goes back drops the queued state (with an event naming it) and sets form again on the new time;
stamps far ahead are refused without disturbing the good ones; a clock that really jumps forward
is followed once nothing else arrives."""
from __future__ import annotations

import math

import pytest

from interseg.synchronizer import ApproximateTimeSynchronizer, StampRejected

STREAMS = ["cam0", "cam1", "depth"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make(**kwargs):
    clock = FakeClock()
    events: list[str] = []
    sync = ApproximateTimeSynchronizer(STREAMS, 0.05, queue_size=10, clock=clock, on_event=events.append, **kwargs)
    return sync, clock, events


def publish(sync, clock, stamp, streams=STREAMS, period=0.1):
    """One frame of every stream at ``stamp``; returns the set it completed (if any)."""
    formed = None
    for stream in streams:
        formed = sync.add(stream, stamp, f"{stream}@{stamp}") or formed
    clock.now += period
    return formed


def test_sets_form_on_matching_stamps():
    sync, clock, events = make()
    for k in range(5):
        formed = publish(sync, clock, 10.0 + 0.1 * k)
        assert formed is not None and formed.stamp == pytest.approx(10.0 + 0.1 * k)
    assert sync.sets_formed == 5 and not events


def test_a_clock_that_goes_back_drops_the_state_and_sets_form_again():
    sync, clock, events = make()
    for k in range(5):
        publish(sync, clock, 1000.0 + 0.1 * k)
    assert sync.latest().stamp == pytest.approx(1000.4)
    # The simulator restarts: its clock starts again from 0.
    formed = [publish(sync, clock, 0.1 * k) for k in range(3)]
    assert all(f is not None for f in formed), "no set formed after the clock went back"
    assert sync.latest().stamp == pytest.approx(0.2)
    assert sync.jumps_back == 1 and len(events) == 1
    assert "cam0's stamps went back 1000.400 s" in events[0] and "dropped" in events[0]
    problems = sync.describe_problems(1.0)
    assert "clock (" in problems and "went back" in problems
    clock.now += 10.0  # the event is named for event_window seconds, then no more
    publish(sync, clock, 10.0)
    assert "clock" not in sync.describe_problems(1.0)


def test_small_reordering_within_slop_is_not_a_clock_jump():
    sync, clock, events = make()
    publish(sync, clock, 5.0)
    sync.add("cam1", 5.10, "late")
    sync.add("cam1", 5.08, "out of order")  # 20 ms back: within slop
    assert not events and sync.jumps_back == 0


def test_frames_far_in_the_future_are_refused_and_do_not_poison_the_queue():
    sync, clock, events = make(max_ahead=60.0)
    publish(sync, clock, 50.0)
    for k in range(5):  # five complete sets stamped a day ahead
        for stream in STREAMS:
            with pytest.raises(StampRejected, match="ahead of the newest accepted"):
                sync.add(stream, 86400.0 + k, "future")
        clock.now += 0.02
    formed = publish(sync, clock, 50.1)
    assert formed is not None and formed.stamp == pytest.approx(50.1)
    assert all(item.payload != "future" for queue in sync.queues.values() for item in queue)
    assert sync.health["cam1"].rejected == 5
    assert "cam1: rejected 5 messages" in sync.describe_problems(1.0)
    assert not events


def test_future_frames_within_max_ahead_that_formed_a_set_are_dropped_by_the_next_good_frame():
    sync, clock, events = make(max_ahead=60.0)
    publish(sync, clock, 50.0)
    assert publish(sync, clock, 80.0) is not None  # 30 s ahead: plausible (a simulator that ran fast)
    formed = [publish(sync, clock, 50.1 + 0.1 * k) for k in range(3)]
    assert all(f is not None for f in formed) and sync.latest().stamp == pytest.approx(50.3)
    assert sync.jumps_back == 1 and "went back 29.900 s" in events[0]


def test_a_clock_that_really_jumps_forward_is_followed_after_rebase_after():
    sync, clock, events = make(max_ahead=60.0, rebase_after=1.0)
    publish(sync, clock, 50.0)
    with pytest.raises(StampRejected):
        publish(sync, clock, 86400.0)  # right after a good frame: refused
    clock.now += 1.5  # nothing accepted for longer than rebase_after
    formed = publish(sync, clock, 86400.5)
    assert formed is not None and formed.stamp == pytest.approx(86400.5)
    assert sync.jumps_forward == 1 and "jumped ahead" in events[0]


def test_one_frame_stamped_in_the_past_costs_at_most_rebase_after():
    sync, clock, events = make(max_ahead=60.0, rebase_after=1.0)
    for k in range(5):
        publish(sync, clock, 1e6 + 0.1 * k)
    sync.add("cam1", 3.0, "a stale frame")  # the stream goes back: the state is dropped
    assert sync.jumps_back == 1
    recovered_at = None
    for k in range(30):  # the cameras go on at 10 Hz
        formed = None
        for stream in STREAMS:
            try:
                formed = sync.add(stream, 1e6 + 0.5 + 0.1 * k, "good") or formed
            except StampRejected:
                pass
        clock.now += 0.1
        if formed is not None:
            recovered_at = k
            break
    assert recovered_at is not None and recovered_at * 0.1 <= 1.2, recovered_at
    assert sync.jumps_forward == 1


@pytest.mark.parametrize("stamp", [math.nan, math.inf, -1.0])
def test_invalid_stamps_are_refused(stamp):
    sync, _, _ = make()
    with pytest.raises(StampRejected, match="not a finite non-negative"):
        sync.add("cam0", stamp, "bad")
    assert sync.health["cam0"].rejected == 1 and not sync.queues["cam0"]


@pytest.mark.parametrize("timeout", [math.nan, math.inf, -1.0])
def test_wait_newer_refuses_an_impossible_timeout(timeout):
    sync, _, _ = make()
    with pytest.raises(ValueError, match="timeout"):
        sync.wait_newer(0.0, timeout)


def test_streams_that_never_match_are_named():
    sync, clock, _ = make()
    for k in range(15):  # cam1 stamps with a clock 2 s behind the others
        sync.add("cam0", 10.0 + 0.1 * k, "x")
        sync.add("depth", 10.0 + 0.1 * k, "x")
        sync.add("cam1", 8.0 + 0.1 * k, "x")
        clock.now += 0.1
    problems = sync.describe_problems(1.0)
    assert "sync: no synchronized set for" in problems and "cam1 9.400" in problems
