"""Approximate-time synchronisation of several camera streams (ROS-free).

message_filters cannot be installed from wheels; this is the part of its ApproximateTime policy
the capture node needs: keep a short queue per stream, and form a set when every stream has a
message whose stamp lies within ``slop`` seconds of the reference stream's (the main camera's).
The newest complete set wins; older messages are dropped. Staleness is judged on arrival time
(monotonic), so a camera that stops is noticed even when the clock it stamps with stops too.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable


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


class ApproximateTimeSynchronizer:
    """Thread-safe: ``add`` from subscription callbacks, ``latest`` / ``wait_newer`` from others."""

    def __init__(self, streams: list[str], slop: float, queue_size: int = 10, reference: str | None = None,
                 clock: Callable[[], float] = time.monotonic):
        if not streams:
            raise ValueError("at least one stream is needed")
        if slop < 0:
            raise ValueError("slop must be >= 0")
        self.streams = list(streams)
        self.reference = reference or streams[0]
        if self.reference not in self.streams:
            raise ValueError(f"reference stream '{self.reference}' is not one of {self.streams}")
        self.slop = slop
        self.clock = clock
        self.queues: dict[str, deque[StampedItem]] = {s: deque(maxlen=queue_size) for s in self.streams}
        self.health: dict[str, StreamHealth] = {s: StreamHealth(s) for s in self.streams}
        self.sets_formed = 0
        self._latest: SyncedSet | None = None
        self._condition = threading.Condition()

    def add(self, stream: str, stamp: float, payload: Any) -> SyncedSet | None:
        """Add a message; return the new synced set if this message completed one."""
        with self._condition:
            now = self.clock()
            self.queues[stream].append(StampedItem(stamp, now, payload))
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
            health = self.health[stream]
            health.rejected += 1
            health.last_reason = reason
            health.last_arrival = self.clock()

    def _try_match(self) -> SyncedSet | None:
        # Newest reference first: the most recent complete set is the useful one.
        for ref in reversed(self.queues[self.reference]):
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
                    while queue and queue[0] is not item and queue[0].stamp <= item.stamp:
                        queue.popleft()
                return SyncedSet(ref.stamp, max(i.arrival for i in chosen.values()), chosen)
        return None

    def latest(self) -> SyncedSet | None:
        with self._condition:
            return self._latest

    def wait_newer(self, arrived_after: float, timeout: float) -> SyncedSet | None:
        """Block until a set whose members all arrived after ``arrived_after`` exists."""
        deadline = self.clock() + timeout
        with self._condition:
            while True:
                latest = self._latest
                if latest is not None and min(i.arrival for i in latest.items.values()) > arrived_after:
                    return latest
                remaining = deadline - self.clock()
                if remaining <= 0:
                    return None
                self._condition.wait(remaining)

    def stale_streams(self, max_age: float) -> list[str]:
        """Streams with no message (accepted or rejected) for more than ``max_age`` seconds."""
        now = self.clock()
        with self._condition:
            return [s for s, h in self.health.items() if h.last_arrival is None or now - h.last_arrival > max_age]

    def describe_problems(self, max_age: float) -> str:
        """One line naming missing, stale, or rejecting streams (empty when all is well)."""
        now = self.clock()
        problems = []
        with self._condition:
            for name, health in self.health.items():
                if health.last_arrival is None:
                    problems.append(f"{name}: no message yet")
                elif now - health.last_arrival > max_age:
                    problems.append(f"{name}: stale ({now - health.last_arrival:.1f} s since the last message)")
                elif health.rejected and health.last_reason and (not self.queues[name] or self.queues[name][-1].arrival < health.last_arrival):
                    problems.append(f"{name}: rejecting messages ({health.last_reason})")
        return "; ".join(problems)
