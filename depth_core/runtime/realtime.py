"""Real-time plumbing shared by the nodes, free of ROS: a one-slot latest-frame buffer, stamp
pairing with a slop, and rolling rate / latency statistics. Everything here is bounded: nothing
grows with run time."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np

Item = TypeVar("Item")


class LatestSlot(Generic[Item]):
    """Holds at most one item. A newer item replaces a waiting one, which counts as dropped."""

    def __init__(self) -> None:
        self._item: Item | None = None
        self._ready = threading.Condition()
        self.dropped = 0
        self._closed = False

    def put(self, item: Item) -> bool:
        """Store `item`; True when it replaced one that was never taken."""
        with self._ready:
            replaced = self._item is not None
            self.dropped += replaced
            self._item = item
            self._ready.notify()
            return replaced

    def take(self, timeout: float | None = None) -> Item | None:
        """The waiting item (removing it), or None after `timeout` or once closed."""
        with self._ready:
            if self._item is None and not self._closed:
                self._ready.wait(timeout)
            item, self._item = self._item, None
            return item

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify_all()


@dataclass
class Stamped(Generic[Item]):
    stamp: float  # seconds
    value: Item


class StampPairer(Generic[Item]):
    """Pairs primary items (RGB frames) with secondary ones (raw depth) whose stamps differ by
    at most `slop` seconds, whichever arrives first. Both wait in short bounded queues; nothing
    ever blocks. A primary that can no longer find a partner (a newer secondary has passed it
    by more than the slop, or its queue overflowed) is returned as dropped."""

    def __init__(self, slop: float, queue_size: int = 3):
        self.slop = slop
        self._primary: deque[Stamped] = deque()
        self._secondary: deque[Stamped] = deque()
        self._queue_size = queue_size
        self._lock = threading.Lock()

    def add_primary(self, stamp: float, value: Item) -> tuple[tuple[Item, Any] | None, int]:
        """(pair or None, primaries dropped)."""
        with self._lock:
            partner = self._closest(self._secondary, stamp)
            if partner is not None:
                return (value, self._pop_through(self._secondary, partner)), 0
            self._primary.append(Stamped(stamp, value))
            return None, self._expire()

    def add_secondary(self, stamp: float, value: Any) -> tuple[tuple[Item, Any] | None, int]:
        with self._lock:
            partner = self._closest(self._primary, stamp)
            if partner is not None:
                dropped = partner  # waiting primaries older than the partner lost their chance
                return (self._pop_through(self._primary, partner), value), dropped
            self._secondary.append(Stamped(stamp, value))
            if len(self._secondary) > self._queue_size:
                self._secondary.popleft()
            return None, self._expire()

    def _closest(self, queue: deque[Stamped], stamp: float) -> int | None:
        if not queue:
            return None
        best = min(range(len(queue)), key=lambda i: abs(queue[i].stamp - stamp))
        return best if abs(queue[best].stamp - stamp) <= self.slop else None

    @staticmethod
    def _pop_through(queue: deque[Stamped], index: int) -> Any:
        for _ in range(index):
            queue.popleft()
        return queue.popleft().value

    def _expire(self) -> int:
        """Drop primaries that can no longer pair; returns how many."""
        newest = self._secondary[-1].stamp if self._secondary else -float("inf")
        dropped = 0
        while self._primary and (
            len(self._primary) > self._queue_size or self._primary[0].stamp < newest - self.slop
        ):
            self._primary.popleft()
            dropped += 1
        return dropped

    def take_unpaired(self) -> list[Item]:
        """Every waiting primary (for degraded mode, when no secondary is coming)."""
        with self._lock:
            items = [entry.value for entry in self._primary]
            self._primary.clear()
            return items


class RollingStats:
    """Rate and latency percentiles over the last `window` seconds (bounded sample count)."""

    def __init__(self, window: float = 5.0, max_samples: int = 2000):
        self.window = window
        self._samples: deque[tuple[float, float]] = deque(maxlen=max_samples)
        self._lock = threading.Lock()
        self.count, self.total_latency = 0, 0.0  # since the start: for means over a whole run

    def add(self, latency: float = 0.0, now: float | None = None) -> None:
        with self._lock:
            self._samples.append((time.monotonic() if now is None else now, latency))
            self.count += 1
            self.total_latency += latency

    def mean_latency(self) -> float:
        """Mean latency since the start (seconds); nan before the first sample."""
        with self._lock:
            return self.total_latency / self.count if self.count else float("nan")

    def _recent(self, now: float) -> list[tuple[float, float]]:
        return [s for s in self._samples if now - s[0] <= self.window]

    def rate(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        with self._lock:
            recent = self._recent(now)
        if len(recent) < 2:
            return 0.0
        span = recent[-1][0] - recent[0][0]
        return (len(recent) - 1) / span if span > 0 else 0.0

    def latency_percentiles(self, now: float | None = None) -> tuple[float, float]:
        """(p50, p99) in seconds over the window; (nan, nan) when empty."""
        now = time.monotonic() if now is None else now
        with self._lock:
            latencies = [s[1] for s in self._recent(now)]
        if not latencies:
            return float("nan"), float("nan")
        p50, p99 = np.percentile(latencies, [50, 99])
        return float(p50), float(p99)


class ReasonCounter:
    """Counts of dropped / rejected frames by reason, thread-safe."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, reason: str) -> None:
        with self._lock:
            self._counts[reason] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)
