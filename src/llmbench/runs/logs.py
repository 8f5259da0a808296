"""A run's log files: ``run.log`` in the run directory and, with ``[benchmark] log_dir``,
``<run_id>.log`` there; each line redacted. A console handler is the caller's (the command line
gives one); the library adds none, so a notebook's logging stays its own."""

from __future__ import annotations

import logging
from pathlib import Path

from llmbench import redact
from llmbench.errors import ResultsError
from llmbench.runs.plan import RunPlan
from llmbench.store.run_dir import RUN_LOG, RunDirectory

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def start_logging(
    level: str, run_dir: RunDirectory, plan: RunPlan, console: logging.Handler | None = None
) -> list[logging.Handler]:
    """Attach the run's log files (at ``level``, and INFO at least) and ``console`` (at its own
    level) to the ``llmbench`` logger; returns the handlers for :func:`stop_logging`."""
    root = logging.getLogger("llmbench")
    handlers: list[logging.Handler] = []
    files = [run_dir.path / RUN_LOG]
    if plan.base.benchmark.log_dir is not None:
        log_dir = Path(plan.base.benchmark.log_dir)
        try:
            log_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ResultsError(
                f"{log_dir}: cannot create the log directory: {exc.strerror}"
            ) from None
        files.append(log_dir / f"{run_dir.run_id}.log")
    for path in files:
        fh = logging.FileHandler(path, encoding="utf-8")
        fh.setLevel(min(logging.INFO, logging.getLevelName(level)))
        fh.setFormatter(logging.Formatter(FORMAT))
        handlers.append(fh)
    if console is not None:
        handlers.append(console)
    for h in handlers:
        h.addFilter(redact.RedactingFilter())
        root.addHandler(h)
    root.setLevel(min(h.level for h in handlers))
    return handlers


def stop_logging(handlers: list[logging.Handler]) -> None:
    """Detach and close what :func:`start_logging` attached."""
    root = logging.getLogger("llmbench")
    for h in handlers:
        root.removeHandler(h)
        h.close()
