"""Approximate-time synchronisation of several camera streams (ROS-free).

message_filters cannot be installed from wheels; this is the part of its ApproximateTime policy
the capture node needs: keep a short queue per stream, and form a set when every stream has a
message whose stamp lies within ``slop`` seconds of the reference stream's (the main camera's).
The newest complete set wins; older messages are dropped. Staleness is judged on arrival time
(monotonic), so a camera that stops is noticed even when the clock it stamps with stops too.

Stamps come from clocks that can be reset (a simulator restarts at 0, a driver switches from
simulated to wall time) and from messages that can be wrong. Two rules keep one bad clock or
message from stopping the sets for good:

* A stream whose stamp goes back by more than ``slop`` means the clock jumped back (as tf2's
  buffer and message_filters treat it): every queue and the last set are dropped, and sets form
  again from the new time on.
* A stamp more than ``max_ahead`` seconds ahead of the newest stamp accepted so far is refused
  (counted, with the reason), so that it can neither form a set nobody can follow nor push the
  good messages out of the queues. Only when no stream has had a message accepted for
  ``rebase_after`` seconds is such a stamp taken as the clock having jumped forward.

Each jump is logged through ``on_event`` and named by :meth:`problems` (and its one-line form
:meth:`describe_problems`) for ``event_window`` seconds.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class StampRejected(ValueError):
    """A message refused for its stamp (not finite, negative, or implausibly far ahead)."""


@dataclass
class StampedItem:
    stamp: float  # seconds, from the message header
    arrival: float  # time.monotonic() when received
    payload: Any


@dataclass
class SyncedSet:
    stamp: float  # the reference stream's stamp
    arrival: float  # when the last member arrived
    items: dict[str, StampedItem]


@dataclass
class StreamHealth:
    name: str
    received: int = 0
    rejected: int = 0
    last_arrival: float | None = None
    last_reason: str = ""
    last_rejection: float | None = None  # arrival time of the last rejected message
    recent_rejections: deque = None  # arrival times of rejections within the event window

    def __post_init__(self) -> None:
        if self.recent_rejections is None:
            self.recent_rejections = deque()


@dataclass
class ClockEvent:
    arrival: float
    description: str


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, as :meth:`ApproximateTimeSynchronizer.problems` reports it."""

    subject: str  # what it is about: a stream's name, "clock" (a jump) or "sync" (no set forms)
    text: str  # the whole line, e.g. "cam1: stale (2.0 s since the last message)"


class ApproximateTimeSynchronizer:
    """Thread-safe: ``add`` from subscription callbacks, ``latest`` / ``wait_newer`` from others."""

    def __init__(
        self,
        streams: list[str],
        slop: float,
        queue_size: int = 10,
        reference: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_ahead: float = 60.0,
        rebase_after: float = 1.0,
        event_window: float = 5.0,
        on_event: Callable[[str], None] | None = None,
    ):
        if not streams:
            raise ValueError("at least one stream is needed")
        if not slop >= 0:
            raise ValueError("slop must be >= 0")
        if not max_ahead > 0 or not rebase_after > 0 or not event_window > 0:
            raise ValueError("max_ahead, rebase_after and event_window must be > 0")
        self.streams = list(streams)
        self.reference = reference or streams[0]
        if self.reference not in self.streams:
            raise ValueError(f"reference stream '{self.reference}' is not one of {self.streams}")
        self.slop = slop
        self.max_ahead = max_ahead
        self.rebase_after = rebase_after
        self.event_window = event_window
        self.on_event = on_event
        self.clock = clock
        self.queues: dict[str, deque[StampedItem]] = {s: deque(maxlen=queue_size) for s in self.streams}
        self.health: dict[str, StreamHealth] = {s: StreamHealth(s) for s in self.streams}
        self.last_stamp: dict[str, float | None] = {s: None for s in self.streams}  # newest accepted, this clock epoch
        self.newest: float | None = None  # newest stamp accepted on any stream, this clock epoch
        self.last_accepted: float | None = None  # arrival of the last accepted message
        self.epoch_start: float | None = None  # arrival of the first message accepted on this clock
        self.sets_formed = 0
        self.jumps_back = 0
        self.jumps_forward = 0
        self.events: deque[ClockEvent] = deque(maxlen=20)
        self._latest: SyncedSet | None = None
        self._closed = False
        self._condition = threading.Condition()

    def close(self) -> None:
        """Wake every ``wait_newer`` (it returns None) and make later ones return at once."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()

    def add(self, stream: str, stamp: float, payload: Any) -> SyncedSet | None:
        """Add a message; return the new synced set if this message completed one.

        Raises StampRejected (the message is counted as rejected, with the reason) for a stamp
        that is not a finite non-negative number or lies implausibly far ahead."""
        with self._condition:
            now = self.clock()
            if not math.isfinite(stamp) or stamp < 0:
                self._reject(stream, f"stamp {stamp!r} s is not a finite non-negative time", now)
            last = self.last_stamp[stream]
            if last is not None and stamp < last - self.slop:
                self._restart_clock(
                    now,
                    stamp,
                    f"{stream}'s stamps went back {last - stamp:.3f} s (from {last:.3f} to {stamp:.3f} s): "
                    "the clock was reset, or earlier messages were stamped ahead",
                )
                self.jumps_back += 1
                last = None
            elif self.newest is not None and stamp > self.newest + self.max_ahead:
                quiet = self.last_accepted is None or now - self.last_accepted > self.rebase_after
                if not quiet:
                    self._reject(
                        stream,
                        f"stamp {stamp:.3f} s is {stamp - self.newest:.3f} s ahead of the newest accepted "
                        f"({self.newest:.3f} s, at most {self.max_ahead:g} s)",
                        now,
                    )
                self._restart_clock(
                    now,
                    stamp,
                    f"{stream}'s stamps jumped ahead {stamp - self.newest:.3f} s (from {self.newest:.3f} to "
                    f"{stamp:.3f} s) after {now - self.last_accepted if self.last_accepted is not None else 0.0:.1f} s "
                    "without an accepted message: the clock jumped forward",
                )
                self.jumps_forward += 1
                last = None
            if self.newest is None:
                self.epoch_start = now
            self.queues[stream].append(StampedItem(stamp, now, payload))
            self.last_stamp[stream] = stamp if last is None else max(last, stamp)
            self.newest = stamp if self.newest is None else max(self.newest, stamp)
            self.last_accepted = now
            health = self.health[stream]
            health.received += 1
            health.last_arrival = now
            synced = self._try_match()
            if synced is not None:
                self._latest = synced
                self.sets_formed += 1
                self._condition.notify_all()
            return synced

    def reject(self, stream: str, reason: str) -> None:
        """Count a message that was refused before reaching the queue (bad encoding, size ...)."""
        with self._condition:
            self._count_rejection(stream, reason, self.clock())

    def _count_rejection(self, stream: str, reason: str, now: float) -> None:
        health = self.health[stream]
        health.rejected += 1
        health.last_reason = reason
        health.last_arrival = now
        health.last_rejection = now
        health.recent_rejections.append(now)
        while health.recent_rejections and now - health.recent_rejections[0] > self.event_window:
            health.recent_rejections.popleft()

    def _reject(self, stream: str, reason: str, now: float) -> None:
        self._count_rejection(stream, reason, now)
        raise StampRejected(reason)

    def _restart_clock(self, now: float, stamp: float, what: str) -> None:
        """A new clock epoch: nothing held so far can be matched against the new stamps."""
        dropped = sum(len(q) for q in self.queues.values())
        for queue in self.queues.values():
            queue.clear()
        self.last_stamp = {s: None for s in self.streams}
        self.newest = None
        self._latest = None
        description = f"{what} (dropped {dropped} queued message{'s' if dropped != 1 else ''} and the last set)"
        self.events.append(ClockEvent(now, description))
        if self.on_event is not None:
            self.on_event(description)

    def _try_match(self) -> SyncedSet | None:
        # Newest reference first: the most recent complete set is the useful one.
        for ref in sorted(self.queues[self.reference], key=lambda i: i.stamp, reverse=True):
            chosen = {self.reference: ref}
            for stream in self.streams:
                if stream == self.reference:
                    continue
                candidates = [i for i in self.queues[stream] if abs(i.stamp - ref.stamp) <= self.slop]
                if not candidates:
                    break
                chosen[stream] = min(candidates, key=lambda i: abs(i.stamp - ref.stamp))
            else:
                if self._latest is not None and ref.stamp <= self._latest.stamp:
                    return None  # nothing newer than what we already have
                for stream, item in chosen.items():  # drop what is now older than the set
                    queue = self.queues[stream]
                    kept = [i for i in queue if i is item or i.stamp > item.stamp]
                    queue.clear()
                    queue.extend(kept)
                return SyncedSet(ref.stamp, max(i.arrival for i in chosen.values()), chosen)
        return None

    def latest(self) -> SyncedSet | None:
        with self._condition:
            return self._latest

    def wait_newer(self, arrived_after: float, timeout: float) -> SyncedSet | None:
        """Block until a set whose members all arrived after ``arrived_after`` exists."""
        if not math.isfinite(timeout) or timeout < 0:
            raise ValueError(f"timeout {timeout!r} s is not a finite non-negative number")
        deadline = self.clock() + timeout
        with self._condition:
            while True:
                latest = self._latest
                if latest is not None and min(i.arrival for i in latest.items.values()) > arrived_after:
                    return latest
                remaining = deadline - self.clock()
                if remaining <= 0 or self._closed:
                    return None
                self._condition.wait(remaining)

    def describe_problems(self, max_age: float) -> str:
        """One line naming missing, stale, rejecting or unmatched streams and recent clock jumps
        (empty when all is well): the texts of :meth:`problems` joined by "; "."""
        return "; ".join(problem.text for problem in self.problems(max_age))

    def problems(self, max_age: float) -> list[Problem]:
        """Missing, stale (no message for more than ``max_age`` seconds), rejecting or unmatched
        streams and recent clock jumps, in that order; empty when all is well."""
        now = self.clock()
        problems: list[Problem] = []
        with self._condition:
            fresh = True
            for name, health in self.health.items():
                while health.recent_rejections and now - health.recent_rejections[0] > self.event_window:
                    health.recent_rejections.popleft()
                if health.last_arrival is None:
                    problems.append(Problem(name, f"{name}: no message yet"))
                    fresh = False
                elif now - health.last_arrival > max_age:
                    problems.append(
                        Problem(name, f"{name}: stale ({now - health.last_arrival:.1f} s since the last message)")
                    )
                    fresh = False
                elif (
                    health.rejected
                    and health.last_reason
                    and (not self.queues[name] or self.queues[name][-1].arrival < health.last_arrival)
                ):
                    problems.append(Problem(name, f"{name}: rejecting messages ({health.last_reason})"))
                elif health.recent_rejections:
                    count = len(health.recent_rejections)
                    problems.append(
                        Problem(
                            name,
                            f"{name}: rejected {count} message{'s' if count != 1 else ''} "
                            f"in the last {self.event_window:g} s ({health.last_reason})",
                        )
                    )
            for event in self.events:
                if now - event.arrival <= self.event_window:
                    problems.append(Problem("clock", f"clock ({now - event.arrival:.1f} s ago): {event.description}"))
            latest = self._latest
            since_set = now - (
                latest.arrival if latest is not None else self.epoch_start if self.epoch_start is not None else now
            )
            if fresh and since_set > max_age:
                newest = ", ".join(
                    f"{s} {self.last_stamp[s]:.3f}" for s in self.streams if self.last_stamp[s] is not None
                )
                problems.append(
                    Problem(
                        "sync",
                        f"sync: no synchronized set for {since_set:.1f} s; newest stamps {newest or 'none'} "
                        f"(slop {self.slop:g} s)",
                    )
                )
        return problems
