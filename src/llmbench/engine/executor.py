"""The asynchronous engine: runs tests against one API, with bounded concurrency and retries.

One :class:`~llmbench.providers.http1.HttpClient` (one connection pool) serves a whole run.
``workers`` coroutines take tests in input order from a shared iterator, so at most ``workers``
requests are in flight and no per-test task is created up front. Results come back in input order.

Cancellation (:meth:`Engine.request_cancel`, safe from any thread or a signal handler) stops new
tests from starting and cancels the requests in flight; each of those ends as a result with
``status="cancelled"``, within :data:`~llmbench.engine.test_run.CANCEL_GRACE_S` even when a test
ignores the cancellation. Tests that never started are not in the returned list.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from llmbench.config.api import APIConfiguration
from llmbench.engine.calls import Caller
from llmbench.engine.progress import ProgressTracker
from llmbench.engine.test_run import CANCEL_GRACE_S, SCRIPTED, Target, TestRun, Transcript
from llmbench.providers.http1 import HttpClient
from llmbench.result import ExecutionProgress, TestResult
from llmbench.suite.models import TestCase

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineSettings:
    """What the engine needs beyond the API configuration."""

    save_raw_responses: bool = True
    progress_reporting: bool = True
    parameter_overrides: dict[str, Any] | None = None


class Engine:
    """Runs tests against one :class:`APIConfiguration`."""

    def __init__(
        self,
        api: APIConfiguration,
        settings: EngineSettings,
        progress: ProgressTracker,
        on_result: Callable[[ExecutionProgress, TestResult], None] | None = None,
    ) -> None:
        self.api = api
        self.settings = settings
        self.progress = progress
        self.on_result = on_result
        """Called on the event loop with the progress and the result as each test ends: it must
        return at once (``TestRunner`` queues the call for its callbacks' thread)."""
        self.target = Target(
            Caller(api),
            overrides=dict(settings.parameter_overrides or {}),
            save_raw_responses=settings.save_raw_responses,
        )
        self._cancel = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._stopping: asyncio.Future[None] | None = None
        """Done once the run is cancelled: the grace period for the tests in flight starts."""
        self._in_flight: dict[int, TestRun] = {}
        """Tests started and not yet recorded, by their index in the run."""
        self.partial: list[TestResult] = []
        """Results so far; read it when :meth:`run` was interrupted."""
        self.transcripts: list[tuple[TestResult, Transcript]] = []
        """The conversation of each interactive test that ended, with its result (scoring
        needs it: the judge reads the whole conversation)."""

    # -- cancellation -------------------------------------------------------------------------

    def request_cancel(self) -> None:
        """Stop starting tests and cancel those in flight. Safe from any thread."""
        self._cancel.set()
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._cancel_workers)
            except RuntimeError:  # the loop closed between the check and the call
                pass

    def _cancel_workers(self) -> None:
        for task in self._workers:
            task.cancel()
        if self._stopping is not None and not self._stopping.done():
            self._stopping.set_result(None)

    # -- running ------------------------------------------------------------------------------

    async def run(
        self, tests: Sequence[TestCase], workers: int = 1, delay_s: float = 0.0
    ) -> list[TestResult]:
        """Run ``tests`` with up to ``workers`` in flight; ``delay_s`` between starts when 1."""
        self._loop = asyncio.get_running_loop()
        slots: list[TestResult | None] = [None] * len(tests)
        self.progress.start_run(len(tests))
        queue: Iterator[tuple[int, TestCase]] = iter(enumerate(tests))
        try:
            async with HttpClient(limit=max(workers, 1)) as session:
                self._workers = [
                    asyncio.create_task(self._worker(session, queue, slots, delay_s))
                    for _ in range(max(1, min(workers, len(tests))))
                ]
                self._stopping = self._loop.create_future()
                if self._cancel.is_set():  # cancelled before the loop was known
                    self._cancel_workers()
                everything = asyncio.gather(*self._workers, return_exceptions=True)
                try:
                    either: list[asyncio.Future[Any]] = [everything, self._stopping]
                    await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
                    if not everything.done():  # cancelled: the tests in flight have a grace
                        await self._end_in_flight(everything, slots)
                except asyncio.CancelledError:
                    # the caller's task was cancelled (Ctrl-C under asyncio.run): finish cleanly
                    self._cancel.set()
                    self._cancel_workers()
                    await self._end_in_flight(everything, slots)
                    raise
                finally:
                    self.partial = [r for r in slots if r is not None]
        finally:
            self.progress.end_run()
            self._loop = None
        return [r for r in slots if r is not None]

    async def _worker(
        self,
        session: HttpClient,
        queue: Iterator[tuple[int, TestCase]],
        slots: list[TestResult | None],
        delay_s: float,
    ) -> None:
        first = True
        for index, test in queue:
            if self._cancel.is_set():
                return
            if delay_s > 0 and not first:
                await asyncio.sleep(delay_s)
                if self._cancel.is_set():
                    return
            first = False
            await self._run_recorded(session, test, slots, index)

    async def _end_in_flight(
        self, everything: asyncio.Future[Any], slots: list[TestResult | None]
    ) -> None:
        """Wait (a bounded time) for the cancelled workers; record what is still in flight."""
        await asyncio.wait([everything], timeout=CANCEL_GRACE_S)
        for index, run in list(self._in_flight.items()):
            log.warning(
                "test %s did not end within %gs of the cancellation; recorded as cancelled",
                run.test.id,
                CANCEL_GRACE_S,
            )
            self._record(slots, index, run.cancelled().result)

    async def _run_recorded(
        self,
        session: HttpClient,
        test: TestCase,
        slots: list[TestResult | None],
        index: int,
    ) -> None:
        run = TestRun(test, self.target)
        self._in_flight[index] = run
        self.progress.test_started(test.id)
        try:
            outcome = await run.execute(session, SCRIPTED)
            result = outcome.result
            if outcome.transcript is not None:
                self.transcripts.append((result, outcome.transcript))
        except asyncio.CancelledError:
            self._record(slots, index, run.cancelled().result)
            raise
        except Exception as exc:  # a bug in llmbench must not lose the test
            log.exception("internal error while running test %s", test.id)
            result = run.internal_error(exc).result
        self._record(slots, index, result)

    def _record(self, slots: list[TestResult | None], index: int, result: TestResult) -> None:
        if self._in_flight.pop(index, None) is None:
            return  # recorded as cancelled already, when it outlived the grace period
        slots[index] = result
        self._finish(result)

    def _finish(self, result: TestResult) -> None:
        self.progress.test_finished(result)
        if self.on_result is None and not self.settings.progress_reporting:
            return
        p = self.progress.snapshot()
        if self.on_result is not None:
            self.on_result(p, result)
        if self.settings.progress_reporting:
            extra = f": {result.error_message}" if result.error_message else ""
            log.info(
                "[%d/%d] %s %s in %.2fs%s",
                p.completed_tests,
                p.total_tests,
                result.test_id,
                result.status,
                result.execution_time,
                extra,
            )
