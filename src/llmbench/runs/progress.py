"""A run's progress as its caller sees it: a :class:`RunProgress` handed to ``on_progress``
when the run starts, every ``progress_interval_s`` while it runs, and once at its end."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from llmbench.engine.progress import ProgressTracker
from llmbench.result import ExecutionProgress

log = logging.getLogger("llmbench.run")


@dataclass(frozen=True)
class RunProgress:
    """One look at a run in progress."""

    run_id: str
    directory: Path
    """``results/<run_id>``: where the results are journaled as they come."""
    agents: Mapping[str, ExecutionProgress]
    """Each agent's counts, in the run's agent order."""
    finished: bool = False
    """True for the last call, once every test that started has its result."""

    @property
    def total(self) -> ExecutionProgress:
        """The counts over every agent (in flight: every agent's tests in flight)."""
        parts = list(self.agents.values())
        done = sum(p.completed_tests for p in parts)
        eta = [p.estimated_remaining_time for p in parts if p.estimated_remaining_time is not None]
        return ExecutionProgress(
            total_tests=sum(p.total_tests for p in parts),
            completed_tests=done,
            successful_tests=sum(p.successful_tests for p in parts),
            failed_tests=sum(p.failed_tests for p in parts),
            cancelled_tests=sum(p.cancelled_tests for p in parts),
            in_flight=tuple(t for p in parts for t in p.in_flight),
            estimated_remaining_time=max(eta) if eta else None,
            average_execution_time=(
                sum(p.average_execution_time * p.completed_tests for p in parts) / done
                if done
                else 0.0
            ),
            elapsed_time=max((p.elapsed_time for p in parts), default=0.0),
            is_running=any(p.is_running for p in parts),
        )


ProgressListener = Callable[[RunProgress], object]
"""``on_progress(progress)``; called in the run's event loop, so it should return quickly."""


class ProgressReporter:
    """Calls a listener with the trackers' snapshots until :meth:`stop`."""

    def __init__(
        self,
        listener: ProgressListener | None,
        run_id: str,
        directory: Path,
        trackers: Mapping[str, ProgressTracker],
        interval_s: float,
    ) -> None:
        self.listener = listener
        self.run_id = run_id
        self.directory = directory
        self.trackers = trackers
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def _tell(self, finished: bool = False) -> None:
        if self.listener is None:
            return
        agents = {agent_id: t.snapshot() for agent_id, t in self.trackers.items()}
        try:
            self.listener(RunProgress(self.run_id, self.directory, agents, finished))
        except Exception:  # a faulty listener must not stop the run or lose its results
            log.exception("on_progress raised; the run goes on")

    def start(self) -> None:
        """The first report now, then one every ``interval_s`` (call inside the loop)."""
        self._tell()
        if self.listener is not None:
            self._task = asyncio.create_task(self._every())

    async def _every(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            self._tell()

    async def stop(self) -> None:
        """The last report, with ``finished`` set."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._tell(finished=True)
