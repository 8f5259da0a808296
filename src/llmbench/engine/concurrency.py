"""``max_concurrency = "auto"``: find how many requests a server serves at once, and stay there.

Local servers (llama.cpp, vLLM, Ollama) rarely refuse work: past the number of requests they
can serve at once, they queue, and the time to first token climbs while throughput stays flat.
:class:`AutoConcurrency` is a delay-based AIMD limiter in the spirit of TCP Vegas and Netflix's
concurrency-limits:

- It measures each finished request's *latency*: the time to first token when the answer was
  streamed (queueing shows there, and it does not depend on how long the answer is), else the
  whole request time.
- Only requests sent under the current limit count. Each request gets a ticket when it is
  sent (:meth:`AutoConcurrency.sent`), and a result whose ticket predates the last change of
  the limit is ignored: the requests still queued from a limit that was too high would make
  the windows after a cut look queued too, and cut the limit again and again, far below the
  knee.
- It keeps a *floor*: the lowest window mean over the last :data:`FLOOR_WINDOWS` windows, the
  latency of a server that is not queueing. Now and then it runs one *probe* window at half
  the limit, so that the floor is measured again below the knee: without that, windows spent
  just above the knee would raise the floor bit by bit and the limit with it. The first probe
  comes :data:`PROBE_EVERY` windows after slow start, or one window after a cut to a limit no
  window was measured below (the floor may then hold a queue itself: a one-slot server at
  :data:`START`). A probe that finds the floor where it was doubles the wait for the next one,
  up to :data:`PROBE_EVERY_MAX` windows (a probe costs throughput); one that finds it lower
  brings the wait back to :data:`PROBE_EVERY`.
- After each *window* (``max(limit, MIN_WINDOW)`` results), it compares the window's mean
  latency with the floor. Below ``floor * RAISE_BELOW`` there is no queue: raise the limit,
  doubling in slow start, afterwards by 1, 2, 4, ... (at most a quarter of the limit) while
  the windows stay below the knee, so that a server that gained slots is followed in a few
  windows. Above ``floor * LOWER_ABOVE`` requests are queueing: cut the limit in proportion,
  ``limit * floor / mean * RAISE_BELOW`` (more queueing, deeper cut), so that it lands just
  above the knee in one step. In between it holds.
- When two cuts in a row leave the mean latency where it was, the latency is not a queue of
  ours but a server that got slower (longer prompts, another client): the floor is measured
  again from there.
- A 429 or 503, or a timeout, halves the limit at once; the failures of the other requests
  sent before the cut are the echo of the same burst and are ignored.

With a server of S slots, a limit L > S makes latency about ``floor * L / S``, so the limit
settles between ``RAISE_BELOW * S`` and ``LOWER_ABOVE * S``, at full throughput; when S changes
the mean moves and the limit follows within a few windows.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from llmbench.result import TestResult

START = 2
"""The first limit: low, so that the first window measures the floor. Starting above the
server's slots would take a queued latency for the floor (a one-slot server sent 32 requests
at once answers them in 16 times the floor on average) and hold the limit far above the knee
until a probe; slow start reaches 16 slots in about 10 rounds of the server's latency."""
MIN_WINDOW = 8
PROBE_EVERY = 16
PROBE_EVERY_MAX = 128
FLOOR_WINDOWS = PROBE_EVERY_MAX + PROBE_EVERY
"""Long enough to always hold the last probe's window."""
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
    _floors: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=FLOOR_WINDOWS))
    """``(mean latency, limit)`` of the last windows."""
    _sent: int = 0
    """Tickets handed out: requests sent so far."""
    _fresh_from: int = 0
    """The first ticket sent under the current limit; older results are ignored."""
    _finished: int = 0
    _limits_sum: float = 0.0
    _step: int = 1
    """The next additive raise (after slow start)."""
    _probe_every: int = PROBE_EVERY
    _next_probe: int | None = None
    """The window count at which the next probe starts; None in slow start."""
    _windows: int = 0
    _probe_from: int | None = None
    """The limit to go back to after a probe window; None when not probing."""
    _cut_mean: float | None = None
    """The mean latency of the window that made the last cut, until the next window."""
    _futile_cuts: int = 0
    """Cuts in a row after which the latency stayed where it was."""

    def __post_init__(self) -> None:
        self.limit = max(1, min(self.limit, self.ceiling))
        self.history.append((0, self.limit))

    @property
    def floor(self) -> float | None:
        """The lowest window mean latency of late: the latency without a queue."""
        return min(self._floors)[0] if self._floors else None

    def sent(self) -> int:
        """Count a request sent now; its ticket, to hand back to :meth:`observe`."""
        ticket = self._sent
        self._sent += 1
        return ticket

    def observe(self, result: TestResult, ticket: int) -> None:
        """Take one finished test into account (cancelled ones are ignored)."""
        if result.status == "cancelled":
            return
        self._finished += 1
        self._limits_sum += self.limit
        if ticket < self._fresh_from:
            return  # sent under an older limit: it says nothing about this one
        if result.status == "error":
            if result.http_status in BACKOFF_STATUS or result.error_kind == "timeout":
                self._back_off()
            return
        latency = result.time_to_first_token or result.execution_time
        if latency is None or not math.isfinite(latency) or latency <= 0:
            return
        self._window.append(latency)
        if len(self._window) >= max(self.limit, MIN_WINDOW):
            self._end_window()

    def _end_window(self) -> None:
        mean = sum(self._window) / len(self._window)
        self._window.clear()
        self._windows += 1
        if self._cut_mean is None or not (
            self._cut_mean / RAISE_BELOW <= mean <= self._cut_mean * RAISE_BELOW
        ):
            self._futile_cuts = 0
        else:
            self._futile_cuts += 1
            if self._futile_cuts == 2:
                # two cuts in a row left the latency where it was: not our queue but a server
                # that got slower; the floor is measured again from here on. (One is not
                # enough: the window of a cut may have seen a queue only half-filled.)
                self._floors.clear()
                self._probe_every = PROBE_EVERY
                self._futile_cuts = 0
        self._cut_mean = None
        floor = self.floor
        self._floors.append((mean, self.limit))
        if self._probe_from is not None:
            self._end_probe(mean, floor)
            return
        if floor is not None and mean > floor * LOWER_ABOVE:
            self._leave_slow_start()
            self._set(math.floor(self.limit * floor / mean * RAISE_BELOW))
            self._cut_mean = mean
            if self.limit <= min(limit for _, limit in self._floors):
                # no window below this limit to vouch for the floor: it may hold a queue itself
                # (a server of one slot, at START), so measure it lower soon
                self._next_probe = self._windows + 1
            return  # no probe before the cut is measured
        if floor is None or mean < floor * RAISE_BELOW:
            self._raise()
        else:
            self._leave_slow_start()
        if self._next_probe is not None and self._windows >= self._next_probe:
            self._start_probe()

    def _raise(self) -> None:
        if self.slow_start:
            self._set(2 * self.limit)
            return
        self._set(self.limit + self._step)
        self._step = min(2 * self._step, max(1, self.limit // 4))

    def _leave_slow_start(self) -> None:
        self._step = 1
        if self.slow_start:
            self.slow_start = False
            self._next_probe = self._windows + self._probe_every

    def _start_probe(self) -> None:
        self._next_probe = None
        if self.limit < 2:
            self._next_probe = self._windows + self._probe_every
            return
        self._probe_from = self.limit
        self.limit = self.limit // 2
        self._fresh_from = self._sent

    def _end_probe(self, mean: float, floor: float | None) -> None:
        """Back to the limit of before the probe; probe less often while the floor holds."""
        assert self._probe_from is not None
        self.limit, self._probe_from = self._probe_from, None
        self._fresh_from = self._sent
        if floor is not None and mean * RAISE_BELOW < floor:
            self._probe_every = PROBE_EVERY
        else:
            self._probe_every = min(2 * self._probe_every, PROBE_EVERY_MAX)
        self._next_probe = self._windows + self._probe_every

    def _back_off(self) -> None:
        if self._probe_from is not None:  # the probe measured nothing: cut from where it began
            self.limit, self._probe_from = self._probe_from, None
        self._leave_slow_start()
        self._next_probe = self._windows + self._probe_every
        self._set(self.limit // 2)
        self._fresh_from = self._sent  # also at limit 1, where the cut changes nothing
        self._window.clear()

    def _set(self, limit: int) -> None:
        limit = max(1, min(limit, self.ceiling))
        if limit != self.limit:
            self.limit = limit
            self._fresh_from = self._sent
            self._window.clear()
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
