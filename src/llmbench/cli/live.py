"""What a person watches during a run: live progress per agent, from the run's reports.

On a terminal the progress is a rich display (one bar per agent with counts, errors and an
ETA); otherwise (a pipe, CI, a log file) it is a plain log line per agent every few seconds.
"""

from __future__ import annotations

import logging

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from llmbench.result import ExecutionProgress
from llmbench.runs.progress import RunProgress

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
    """Shows each agent's progress from the run's :class:`RunProgress` reports."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.rich = console.is_terminal
        self._progress: Progress | None = None
        self._ids: dict[str, TaskID] = {}
        self._last: RunProgress | None = None

    @property
    def interval_s(self) -> float:
        """How often the run should report: often on a terminal, seldom in a log."""
        return 0.25 if self.rich else PLAIN_EVERY_S

    def show(self, progress: RunProgress) -> None:
        """Show ``progress`` (the first report starts the display)."""
        first = self._last is None
        self._last = progress
        if not self.rich:
            if not first and not progress.finished:
                for agent_id, p in progress.agents.items():
                    if p.total_tests:
                        log.info("%s", progress_line(agent_id, p))
            return
        if self._progress is None:
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
            for agent_id, p in progress.agents.items():
                self._ids[agent_id] = self._progress.add_task(
                    agent_id, total=p.total_tests, errors=0, eta="ETA -"
                )
            self._progress.start()
        for agent_id, p in progress.agents.items():
            self._progress.update(
                self._ids[agent_id],
                completed=p.completed_tests,
                total=p.total_tests,
                errors=p.failed_tests,
                eta=_eta(p),
            )

    def stop(self) -> None:
        """Stop the display (the run's last report has been shown)."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
