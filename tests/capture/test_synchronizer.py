"""The approximate-time synchronizer survives clocks that jump and stamps that lie: a clock that
goes back drops the queued state (with an event naming it) and sets form again on the new time;
stamps far ahead are refused without disturbing the good ones; a clock that really jumps forward
is followed once nothing else arrives. The policy itself: bad settings are refused, stamps match
within slop (inclusive), the closest candidate and the newest complete set win, queues are bounded,
a set is never formed twice, waiting ends on a new set, a timeout or close, and missing, stale and
rejecting streams are named."""

from __future__ import annotations

import math
import threading
import time

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


# -- the policy itself: construction, matching, queues, waiting and health ------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"streams": []}, "at least one stream"),
        ({"slop": -0.01}, "slop"),
        ({"slop": math.nan}, "slop"),
        ({"max_ahead": 0.0}, "max_ahead"),
        ({"rebase_after": -1.0}, "rebase_after"),
        ({"event_window": math.nan}, "event_window"),
        ({"reference": "cam9"}, "reference stream 'cam9'"),
    ],
)
def test_bad_settings_are_refused(kwargs, message):
    settings = {"streams": STREAMS, "slop": 0.05, **kwargs}
    with pytest.raises(ValueError, match=message):
        ApproximateTimeSynchronizer(settings.pop("streams"), settings.pop("slop"), **settings)


def test_a_stamp_exactly_slop_away_matches_and_one_beyond_does_not():
    sync = ApproximateTimeSynchronizer(["a", "b"], 0.25, clock=FakeClock())
    sync.add("a", 10.0, "a")
    assert sync.add("b", 10.25, "b") is not None  # 0.25 is exact in binary: on the boundary, inside
    sync = ApproximateTimeSynchronizer(["a", "b"], 0.25, clock=FakeClock())
    sync.add("a", 10.0, "a")
    assert sync.add("b", 10.2500001, "b") is None
    assert sync.latest() is None


def test_zero_slop_needs_identical_stamps():
    sync = ApproximateTimeSynchronizer(["a", "b"], 0.0, clock=FakeClock())
    sync.add("a", 3.5, "a")
    assert sync.add("b", 3.4999999, "early") is None
    assert sync.add("b", 3.5, "same").items["b"].payload == "same"


def test_with_zero_slop_any_step_back_is_a_clock_reset():
    sync = ApproximateTimeSynchronizer(["a", "b"], 0.0, clock=FakeClock())
    sync.add("a", 3.5, "a")
    sync.add("a", 3.4999999, "one step back")
    assert sync.jumps_back == 1 and [i.payload for i in sync.queues["a"]] == ["one step back"]


def test_the_closest_candidate_within_slop_is_chosen():
    sync = ApproximateTimeSynchronizer(["ref", "other"], 0.05, clock=FakeClock())
    for stamp in (9.96, 9.99, 10.03):
        sync.add("other", stamp, f"other@{stamp}")
    formed = sync.add("ref", 10.0, "ref")
    assert formed.items["other"].payload == "other@9.99"


def test_the_set_carries_the_reference_streams_stamp_when_the_reference_is_not_the_first_stream():
    clock = FakeClock()
    sync = ApproximateTimeSynchronizer(["cam1", "cam0"], 0.05, reference="cam0", clock=clock)
    sync.add("cam1", 7.02, "cam1")
    clock.now += 0.3
    formed = sync.add("cam0", 7.0, "cam0")
    assert formed.stamp == 7.0 and formed.arrival == clock.now
    assert set(formed.items) == {"cam0", "cam1"}


def test_the_newest_complete_set_wins_and_older_messages_are_dropped():
    sync = ApproximateTimeSynchronizer(["a", "b"], 0.05, clock=FakeClock())
    for stamp in (1.0, 1.1, 1.2):
        sync.add("a", stamp, f"a@{stamp}")
    sync.add("b", 1.0, "b@1.0")  # completes the set at 1.0
    sync.add("b", 1.2, "b@1.2")  # completes 1.2, skipping 1.1 (which cannot be completed any more)
    assert sync.latest().stamp == 1.2 and sync.sets_formed == 2
    assert [i.stamp for i in sync.queues["a"]] == [1.2] and [i.stamp for i in sync.queues["b"]] == [1.2]
    assert sync.add("b", 1.16, "b@1.16") is None  # late within slop: matches a@1.2 again, which is not newer
    assert sync.latest().items["b"].payload == "b@1.2"


def test_a_stream_going_back_by_more_than_slop_drops_the_last_set_too():
    sync = ApproximateTimeSynchronizer(["a", "b"], 0.05, clock=FakeClock())
    sync.add("a", 1.2, "a")
    sync.add("b", 1.2, "b")
    assert sync.add("b", 1.1, "b@1.1: 0.1 s back") is None
    assert sync.latest() is None and sync.jumps_back == 1


def test_the_same_set_is_not_formed_twice():
    sync = ApproximateTimeSynchronizer(["a", "b"], 0.05, clock=FakeClock())
    sync.add("a", 2.0, "a")
    assert sync.add("b", 2.0, "b") is not None
    assert sync.add("b", 2.01, "b again") is None
    assert sync.sets_formed == 1


def test_a_stream_without_messages_forms_no_set_and_is_named():
    sync, clock, _ = make()
    for k in range(5):
        publish(sync, clock, 1.0 + 0.1 * k, streams=["cam0", "cam1"])
    assert sync.latest() is None and sync.sets_formed == 0
    assert "depth: no message yet" in sync.describe_problems(1.0)
    assert [p.subject for p in sync.problems(1.0)] == ["depth"]  # no "sync" problem while a stream is missing


def test_queue_size_bounds_each_queue_and_pushes_out_the_oldest():
    sync = ApproximateTimeSynchronizer(["a", "b"], 0.05, queue_size=3, clock=FakeClock())
    for k in range(10):
        sync.add("a", 1.0 + k, f"a{k}")
    assert [i.payload for i in sync.queues["a"]] == ["a7", "a8", "a9"]
    assert sync.add("b", 1.0, "b matches a0, which is gone") is None
    assert sync.add("b", 9.0, "b matches a8").items["a"].payload == "a8"


def test_a_message_on_an_unknown_stream_is_an_error_and_changes_nothing():
    sync, clock, _ = make()
    with pytest.raises(KeyError):
        sync.add("cam7", 1.0, "x")
    assert publish(sync, clock, 1.0) is not None


def test_all_is_well_says_nothing_and_staleness_follows_arrival_time():
    sync, clock, _ = make()
    for k in range(5):
        publish(sync, clock, 20.0 + 0.1 * k)
    assert sync.describe_problems(1.0) == "" and sync.problems(1.0) == []
    clock.now += 2.0  # the cameras stop; their stamps say nothing about it
    assert [p.subject for p in sync.problems(1.0)] == STREAMS
    assert "cam0: stale (2.1 s since the last message)" in sync.describe_problems(1.0)


def test_messages_refused_before_the_queue_are_named_until_a_good_one_arrives():
    sync, clock, _ = make()
    publish(sync, clock, 30.0)
    sync.reject("cam1", "image 320x240, camera_info 640x480")
    assert sync.health["cam1"].rejected == 1
    assert "cam1: rejecting messages (image 320x240, camera_info 640x480)" in sync.describe_problems(1.0)
    assert "cam1: stale" not in sync.describe_problems(0.05)  # a rejected message is still a sign of life
    clock.now += 0.1
    publish(sync, clock, 30.2)
    problems = sync.describe_problems(1.0)
    assert "rejecting" not in problems and "cam1: rejected 1 message in the last 5 s" in problems
    clock.now += 6.0
    publish(sync, clock, 36.2)
    assert sync.describe_problems(1.0) == ""


def test_wait_newer_returns_a_set_that_arrived_after_the_given_time_or_none():
    sync = ApproximateTimeSynchronizer(["a", "b"], 0.05)  # real monotonic clock: wait_newer sleeps on it
    sync.add("a", 1.0, "a")
    sync.add("b", 1.0, "b")
    first = sync.latest()
    assert sync.wait_newer(first.arrival - 1.0, 0.0) is first
    asked = time.monotonic()
    assert sync.wait_newer(asked, 0.05) is None  # nothing newer arrived
    assert time.monotonic() - asked >= 0.04

    def later():
        time.sleep(0.1)
        sync.add("a", 2.0, "a")
        sync.add("b", 2.0, "b")

    threading.Thread(target=later, daemon=True).start()
    newer = sync.wait_newer(asked, 5.0)
    assert newer is not None and newer.stamp == 2.0
    assert time.monotonic() - asked < 4.5  # woken by the set, not by the 5 s timeout


def test_close_wakes_a_waiter_and_makes_later_waits_return_at_once():
    sync = ApproximateTimeSynchronizer(["a"], 0.05)
    results = []
    waiter = threading.Thread(target=lambda: results.append(sync.wait_newer(time.monotonic(), 30.0)), daemon=True)
    waiter.start()
    time.sleep(0.05)
    started = time.monotonic()
    sync.close()
    waiter.join(2.0)
    assert not waiter.is_alive() and results == [None]
    assert sync.wait_newer(0.0, 30.0) is None and time.monotonic() - started < 10.0  # not the 30 s
