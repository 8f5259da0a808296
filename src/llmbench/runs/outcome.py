"""What :func:`llmbench.run` returns: the run's id, directory, status and summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

RunStatus = Literal["completed", "interrupted", "failed"]


@dataclass(frozen=True)
class Run:
    """A run that ended: everything it saved is in :attr:`directory`."""

    run_id: str
    directory: Path
    """``results/<run_id>``: manifest, journal, scores, summary and reports."""
    status: RunStatus
    """``completed``: every test has a result (answers may still be wrong); ``interrupted``:
    cancelled, resumable with ``resume=directory``; ``failed``: results could not be saved."""
    summary: dict[str, Any]
    """The data of ``summary.json`` (docs/summary-format.md)."""
    executed: int = 0
    """Tests started by this call (0 when a resumed run had nothing left to run)."""
    errors: tuple[str, ...] = field(default_factory=tuple)
    """What stopped work besides single tests: an endpoint's circuit breaker that tripped,
    results that could not be saved. Each one line."""

    @property
    def all_ran(self) -> bool:
        """True when the run completed and every test of every agent ran without an error
        (the command line's exit code 0)."""
        if self.status != "completed":
            return False
        for agent in self.summary.get("agents", []):
            s = agent["summary"]
            if agent.get("not_run") or s["failed_tests"] or s["cancelled_tests"]:
                return False
        return True

    def results(self) -> Any:
        """Every result of the run, one row each (a pandas DataFrame, as
        :func:`llmbench.load_results` gives; needs pandas)."""
        from llmbench.report.frame import load_results

        return load_results(self.directory)
