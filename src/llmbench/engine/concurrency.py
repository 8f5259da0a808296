"""``max_concurrency = "auto"``: find how many requests a server serves at once, and stay there.

Local servers (llama.cpp, vLLM, Ollama) rarely refuse work: past the number of requests they
can serve at once, they queue, and the time to first token climbs while throughput stays flat.
:class:`AutoConcurrency` is a delay-based AIMD limiter in the spirit of TCP Vegas and Netflix's
concurrency-limits:

- It measures each finished request's *latency*: the time to first token when the answer was
  streamed (queueing shows there, and it does not depend on how long the answer is), else the
  whole request time.
- It keeps a *floor*: the lowest window mean over the last :data:`FLOOR_WINDOWS` windows, the
  latency of a server that is not queueing. Every :data:`PROBE_EVERY` windows it runs one
  window at half the limit (after letting the requests sent under the old limit finish), so the
  floor is measured again below the knee: without that, windows spent just above the knee
  would raise the floor bit by bit and the limit with it.
- After each *window* (``max(limit, MIN_WINDOW)`` requests, about one round of the limit), it
  compares the window's mean latency with the floor. Below ``floor * RAISE_BELOW`` there is no
  queue: raise the limit (doubling at first, as in slow start, then by one). Above ``floor *
  LOWER_ABOVE`` requests are queueing: cut the limit in proportion, ``limit * floor / mean``
  (more queueing, deeper cut), so that it lands near the server's knee in one step. In between
  it holds.
- A 429 or 503, or a timeout, halves the limit at once (at most once per window).

With a server of S slots, a limit L > S makes latency about ``floor * L / S``, so the limit
settles between ``RAISE_BELOW * S`` and ``LOWER_ABOVE * S``, at full throughput; when S changes
the floor or the mean moves and the limit follows within a few windows.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from llmbench.result import TestResult

START = 2
MIN_WINDOW = 8
PROBE_EVERY = 32
FLOOR_WINDOWS = 2 * PROBE_EVERY
RAISE_BELOW = 1.1
LOWER_ABOVE = 1.3
BACKOFF_STATUS = frozenset({429, 503})


@dataclass
class AutoConcurrency:
    """The adaptive limit of one agent; see the module docstring. Used from one event loop."""

    ceiling: int
    """Never above this (the run's ``max_workers``)."""
    limit: int = START
    slow_start: bool = True
    history: list[tuple[int, int]] = field(default_factory=list)
    """``(requests finished, new limit)`` at every change, for the summary."""
    _window: list[float] = field(default_factory=list)
    _floors: deque[float] = field(default_factory=lambda: deque(maxlen=FLOOR_WINDOWS))
    _finished: int = 0
    _backed_off_at: int | None = None
    _limits_sum: float = 0.0
    _windows: int = 0
    _skip: int = 0
    """Results still to ignore: requests sent under the limit before a probe."""
    _probe_from: int | None = None
    """The limit to go back to after a probe window; None when not probing."""

    def __post_init__(self) -> None:
        self.limit = max(1, min(self.limit, self.ceiling))
        self.history.append((0, self.limit))

    @property
    def floor(self) -> float | None:
        return min(self._floors) if self._floors else None

    def observe(self, result: TestResult) -> None:
        """Take one finished test into account (cancelled ones are ignored)."""
        if result.status == "cancelled":
            return
        self._finished += 1
        self._limits_sum += self.limit
        if result.status == "error":
            if result.http_status in BACKOFF_STATUS or result.error_kind == "timeout":
                self._back_off()
            return
        latency = result.time_to_first_token or result.execution_time
        if latency is None or not math.isfinite(latency) or latency <= 0:
            return
        if self._skip > 0:
            self._skip -= 1
            return
        self._window.append(latency)
        if len(self._window) >= max(self.limit, MIN_WINDOW):
            self._end_window()

    def _end_window(self) -> None:
        mean = sum(self._window) / len(self._window)
        self._window.clear()
        self._windows += 1
        floor = self.floor
        self._floors.append(mean)
        if self._probe_from is not None:  # back from a probe, with the floor measured again
            self.limit, self._probe_from = self._probe_from, None
            return
        if floor is None or mean < floor * RAISE_BELOW:
            step = self.limit if self.slow_start else 1
            self._set(self.limit + step)
        elif mean > floor * LOWER_ABOVE:
            self.slow_start = False
            self._set(math.floor(self.limit * floor / mean * RAISE_BELOW))
        if not self.slow_start and self._windows % PROBE_EVERY == 0 and self.limit >= 2:
            self._probe_from = self.limit
            self._skip = self.limit  # the requests already sent at the full limit
            self.limit = max(1, self.limit // 2)

    def _back_off(self) -> None:
        if self._backed_off_at is not None and self._finished - self._backed_off_at < self.limit:
            return  # one cut per window: the other failures of the same burst are its echo
        self._backed_off_at = self._finished
        self.slow_start = False
        self._window.clear()
        self._set(self.limit // 2)

    def _set(self, limit: int) -> None:
        limit = max(1, min(limit, self.ceiling))
        if limit != self.limit:
            self.limit = limit
            self.history.append((self._finished, limit))

    def report(self) -> dict[str, object]:
        """What the summary says about this agent's concurrency."""
        return {
            "mode": "auto",
            "final": self.limit,
            "mean": round(self._limits_sum / self._finished, 2) if self._finished else None,
            "floor_latency_s": round(self.floor, 6) if self.floor is not None else None,
            "changes": [{"after": n, "limit": v} for n, v in self.history[-50:]],
        }
