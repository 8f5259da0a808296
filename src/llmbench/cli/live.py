"""What a person watches during a run: live progress per agent.

On a terminal the progress is a rich display (one bar per agent with counts, errors and an
ETA); otherwise (a pipe, CI, a log file) it is a plain log line per agent every few seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from llmbench.engine.progress import ProgressTracker
from llmbench.result import ExecutionProgress

log = logging.getLogger("llmbench.run")

PLAIN_EVERY_S = 10.0
"""Seconds between plain progress lines."""


def _eta(p: ExecutionProgress) -> str:
    if p.estimated_remaining_time is None:
        return "ETA -"
    seconds = int(p.estimated_remaining_time)
    return f"ETA {seconds // 60}:{seconds % 60:02d}"


def progress_line(agent_id: str, p: ExecutionProgress) -> str:
    """``agent: 12/30 done (11 ok, 1 errors), 2 running, ETA 0:40``."""
    return (
        f"{agent_id}: {p.completed_tests}/{p.total_tests} done ({p.successful_tests} ok, "
        f"{p.failed_tests} errors), {len(p.in_flight)} running, {_eta(p)}"
    )


class LiveProgress:
    """Shows the progress of each agent until :meth:`stop`."""

    def __init__(self, trackers: Mapping[str, ProgressTracker], console: Console) -> None:
        self.trackers = trackers
        self.console = console
        self.rich = console.is_terminal
        self._task: asyncio.Task[None] | None = None
        self._progress: Progress | None = None
        self._ids: dict[str, TaskID] = {}

    def start(self) -> None:
        """Start showing progress (call inside the event loop)."""
        if self.rich:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[errors]} errors"),
                TimeElapsedColumn(),
                TextColumn("{task.fields[eta]}"),
                console=self.console,
                transient=False,
            )
            for agent_id, tracker in self.trackers.items():
                p = tracker.snapshot()
                self._ids[agent_id] = self._progress.add_task(
                    agent_id, total=p.total_tests, errors=0, eta="ETA -"
                )
            self._progress.start()
        self._task = asyncio.create_task(self._refresh())

    async def _refresh(self) -> None:
        every = 0.25 if self.rich else PLAIN_EVERY_S
        while True:
            await asyncio.sleep(every)
            self.update()

    def update(self) -> None:
        """Show the current counts once."""
        for agent_id, tracker in self.trackers.items():
            p = tracker.snapshot()
            if self._progress is not None:
                self._progress.update(
                    self._ids[agent_id],
                    completed=p.completed_tests,
                    total=p.total_tests,
                    errors=p.failed_tests,
                    eta=_eta(p),
                )
            elif p.total_tests:
                log.info("%s", progress_line(agent_id, p))

    async def stop(self) -> None:
        """Show the final counts and stop."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._progress is not None:
            self.update()
            self._progress.stop()
            self._progress = None
