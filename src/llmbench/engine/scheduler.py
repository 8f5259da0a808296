"""The multi-agent scheduler: agents x tests x repeats in one event loop.

Each agent is a :class:`Lane` with its own queue of ``(test, repeat)`` items, its own bound on
tests in flight (``max_concurrency``, fixed or adapted to the server's latency by
:class:`~llmbench.engine.concurrency.AutoConcurrency`) and its own request spacing (``rpm``).
A dispatcher starts a test whenever the run has a free slot (``max_workers`` over all agents):
it picks, among the agents that have work, a free slot of their own and no rate-limit wait, the
one with the fewest tests in flight (ties go to the one served longest ago). That is max-min
fair: a slow agent keeps at most its share of the slots while the others have work, so it cannot
hold them back, and a lone remaining agent may use every slot up to its own bound.

What runs a started test is the :class:`Executor`: :class:`~llmbench.executors.local.LocalExecutor`
runs it in this event loop, :class:`~llmbench.executors.ray.RayExecutor` on a Ray actor. The
limits above are applied here, before a test is handed over, so they hold wherever it runs.

Every test that starts ends as exactly one :class:`Outcome` handed to ``on_result`` (in the
event loop's thread): success, error, or cancelled when the run is cancelled while it is in
flight. Tests that never started produce nothing; a resumed run starts them later.

Cancellation is bounded in time: when the run is cancelled (:meth:`Scheduler.request_cancel`,
or the task running :meth:`Scheduler.run` is cancelled, e.g. by ``asyncio.timeout``) the tests
in flight are cancelled and given :data:`CANCEL_GRACE_S` to end; one that has not ended by then
is recorded as cancelled anyway and left behind, so a test that ignores cancellation cannot
hold the run (or a user's Ctrl-C) for ever.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from llmbench.engine.concurrency import AutoConcurrency
from llmbench.engine.progress import ProgressTracker
from llmbench.engine.test_run import CANCEL_GRACE_S, Outcome, Target, TestRun
from llmbench.errors import ResultsError
from llmbench.suite.models import TestCase

log = logging.getLogger(__name__)

Item = tuple[TestCase, int]
"""A test and its repeat index."""


class Work(Protocol):
    """A lane's items in order: a list, or anything sized that makes each test as it is
    reached (so that a run need not hold every test while it runs)."""

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Item]: ...


class Executor(Protocol):
    """Runs the tests the scheduler starts (see :mod:`llmbench.executors`)."""

    def execute(
        self, lane: Lane, run: TestRun, seed: int | None, repeat: int
    ) -> Coroutine[Any, Any, Outcome]:
        """The coroutine that runs ``run`` (of ``lane``'s agent) to its outcome. Cancelling its
        task cancels the test; it then ends as a cancelled outcome, or is recorded as one."""
        ...


ResultSink = Callable[[str, int, Outcome], None]
"""``on_result(agent_id, repeat, outcome)``; may raise :class:`ResultsError` to stop the run."""


@dataclass(eq=False)
class Lane:
    """One agent's work and limits."""

    agent_id: str
    target: Target
    max_concurrency: int
    items: Work
    seed: int | None = None
    """The run's seed; repeat ``r`` sends ``seed + r`` where nothing else sets one."""
    progress: ProgressTracker = field(default_factory=ProgressTracker)
    auto: AutoConcurrency | None = None
    """Set for ``max_concurrency = "auto"``: the bound then follows the server's latency."""
    in_flight: int = 0
    _queue: Iterator[Item] | None = None
    _next: Item | None = None
    served: int = 0

    def peek(self) -> Item | None:
        """The next item to start, or None when this lane has nothing left."""
        if self._queue is None:
            self._queue = iter(self.items)
        if self._next is None:
            self._next = next(self._queue, None)
        return self._next

    def take(self, order: int) -> Item:
        item = self.peek()
        assert item is not None
        self._next = None
        self.served = order
        self.in_flight += 1
        return item

    @property
    def capacity(self) -> int:
        """How many of this agent's tests may be in flight now."""
        return self.auto.limit if self.auto is not None else self.max_concurrency

    def rate_wait_s(self) -> float:
        """Seconds until the agent's rpm bound lets a test start (0 while its endpoint's breaker
        is open: those tests fail without a request, so they need no turn)."""
        limiter = self.target.caller.limiter
        if limiter is None or self.target.caller.breaker.is_open:
            return 0.0
        return limiter.wait_s()


class Scheduler:
    """Runs every lane's items; see the module docstring."""

    def __init__(
        self,
        lanes: list[Lane],
        *,
        max_workers: int,
        on_result: ResultSink,
    ) -> None:
        self.lanes = lanes
        self.max_workers = max_workers
        self.on_result = on_result
        self.fatal: ResultsError | None = None
        """Set when a result could not be saved; the run stopped because of it."""
        self._cancel = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: dict[asyncio.Task[Outcome], tuple[Lane, TestRun, int, int]] = {}
        """Tests in flight: each task's lane, run, repeat and concurrency ticket."""
        self._wake: asyncio.Event | None = None
        self._order = itertools.count(1)

    @property
    def cancelled(self) -> bool:
        """True once :meth:`request_cancel` was called (or a result could not be saved)."""
        return self._cancel.is_set()

    def request_cancel(self) -> None:
        """Start no more tests and cancel those in flight. Safe from any thread or a signal
        handler."""
        self._cancel.set()
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._cancel_in_flight)
            except RuntimeError:  # the loop closed between the check and the call
                pass

    def _cancel_in_flight(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._wake is not None:
            self._wake.set()

    async def run(self, executor: Executor) -> None:
        """Run until every lane is done or the run is cancelled; every test that started ends
        as one result, within :data:`CANCEL_GRACE_S` of a cancellation."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        for lane in self.lanes:
            lane.progress.start_run(len(lane.items))
        try:
            await self._dispatch(executor)
        except BaseException:  # this task was cancelled (a timeout, Ctrl-C) or a bug
            self._cancel.set()
            raise
        finally:
            if self._tasks:
                await self._end_in_flight()
            for lane in self.lanes:
                lane.progress.end_run()
            self._loop = None

    async def _end_in_flight(self) -> None:
        """Cancel the tests in flight and wait (a bounded time) until each is recorded."""
        self._cancel_in_flight()
        _, stuck = await asyncio.wait(list(self._tasks), timeout=CANCEL_GRACE_S)
        for task in stuck:
            if task not in self._tasks:
                continue  # it ended while the others were looked at
            lane, run, repeat, ticket = self._tasks[task]
            log.warning(
                "test %s of agent %s did not end within %gs of the cancellation; "
                "recorded as cancelled",
                run.test.id,
                lane.agent_id,
                CANCEL_GRACE_S,
            )
            self._settle(task, lane, repeat, ticket, run.cancelled())

    async def _dispatch(self, executor: Executor) -> None:
        assert self._wake is not None
        while not self._cancel.is_set():
            lane, wait_s = self._pick()
            if lane is not None:
                self._start(executor, lane)
                continue
            if not self._tasks and wait_s is None:
                return  # nothing in flight and nothing left to start
            self._wake.clear()
            try:
                async with asyncio.timeout(wait_s):
                    await self._wake.wait()
            except TimeoutError:
                pass

    def _pick(self) -> tuple[Lane | None, float | None]:
        """The lane to start next; else None and how long until a rate limit frees one (None
        when only a finishing test can)."""
        if len(self._tasks) >= self.max_workers:
            return None, None
        best: Lane | None = None
        wait_s: float | None = None
        for lane in self.lanes:
            if lane.in_flight >= lane.capacity or lane.peek() is None:
                continue
            rate_wait = lane.rate_wait_s()
            if rate_wait > 0:
                wait_s = rate_wait if wait_s is None else min(wait_s, rate_wait)
                continue
            if best is None or (lane.in_flight, lane.served) < (best.in_flight, best.served):
                best = lane
        return best, wait_s

    def _start(self, executor: Executor, lane: Lane) -> None:
        test, repeat = lane.take(next(self._order))
        run = TestRun(test, lane.target)
        limiter = lane.target.caller.limiter
        if limiter is not None and not lane.target.caller.breaker.is_open:
            # the dispatcher saw no wait: take the first request's turn now, so that the next
            # pick of this lane already sees it taken
            limiter.take()
            run.calls.prepaid = True
        lane.progress.test_started(test.id)
        seed = lane.seed + repeat if lane.seed is not None else None
        ticket = lane.auto.sent() if lane.auto is not None else 0
        task = asyncio.create_task(executor.execute(lane, run, seed, repeat))
        self._tasks[task] = (lane, run, repeat, ticket)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Outcome]) -> None:
        """Record how a test's task ended. A done callback, so that a task cancelled before it
        ever ran still ends as a cancelled result."""
        if task not in self._tasks:
            return  # recorded as cancelled already, when it outlived the grace period
        lane, run, repeat, ticket = self._tasks[task]
        if task.cancelled():
            outcome = run.cancelled()
        elif (exc := task.exception()) is not None:  # a bug in llmbench must not lose the test
            log.error(
                "internal error while running test %s of agent %s",
                run.test.id,
                lane.agent_id,
                exc_info=exc,
            )
            outcome = run.internal_error(exc)
        else:
            outcome = task.result()
        self._settle(task, lane, repeat, ticket, outcome)

    def _settle(
        self,
        task: asyncio.Task[Outcome],
        lane: Lane,
        repeat: int,
        ticket: int,
        outcome: Outcome,
    ) -> None:
        """Take ``task`` out of flight and record its outcome. ``ticket`` is the test's from
        :meth:`AutoConcurrency.sent` (0 without "auto")."""
        del self._tasks[task]
        lane.in_flight -= 1
        if lane.auto is not None:
            lane.auto.observe(outcome.result, ticket)
        self._record(lane, repeat, outcome)
        if self._wake is not None:
            self._wake.set()

    def _record(self, lane: Lane, repeat: int, outcome: Outcome) -> None:
        lane.progress.test_finished(outcome.result)
        if self.fatal is not None:
            return  # saving already failed; the run is stopping
        try:
            self.on_result(lane.agent_id, repeat, outcome)
        except ResultsError as exc:
            self.fatal = exc
            log.error("cannot save results, stopping the run: %s", exc)
            self.request_cancel()
