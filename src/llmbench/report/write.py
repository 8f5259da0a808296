"""``write_reports``: ``report.md`` and ``report.html`` into a run directory, atomically.

Both are written as they are produced (a line or a record at a time) to a temporary file that
replaces the report only once complete, so that a run of any size is reported without holding
its results; see :mod:`llmbench.report.markdown` and :mod:`llmbench.report.html` for what each
shows of them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from llmbench import redact
from llmbench.errors import ResultsError
from llmbench.report.html import html_chunks
from llmbench.report.markdown import markdown_lines
from llmbench.scoring.scored import ScoredResult
from llmbench.store.files import FILE_MODE, TEMPORARY_PREFIX, dumps, write_atomic
from llmbench.store.run_dir import SUMMARY

Load = Callable[[int], Mapping[str, Any]]
"""The full scored record (docs/summary-format.md) of ``results[j]``."""


def _scrubbed(value: Any) -> Any:
    """``value`` with every string in it scrubbed of registered secrets."""
    if isinstance(value, str):
        return redact.scrub(value)
    if isinstance(value, Mapping):
        return {_scrubbed(k): _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrubbed(v) for v in value]
    return value


def in_memory(records: Sequence[Mapping[str, Any]]) -> tuple[list[ScoredResult], Load]:
    """``write_reports``' ``results`` and ``load`` for scored records already in memory."""
    return [ScoredResult.from_record(r) for r in records], records.__getitem__


def write_streamed(path: Path, pieces: Iterable[str]) -> None:
    """Write ``pieces`` one after another to a temporary file beside ``path``, then put it in
    ``path``'s place (fsynced first), so a reader never sees a half-written report."""
    # named like write_atomic's (one writer per file at a time) and created with FILE_MODE,
    # not mkstemp's 0600; the .json suffix lets RunDirectory.remove_stale_temporaries clean up
    tmp = path.with_name(f"{TEMPORARY_PREFIX}{os.getpid()}-{path.name}.json")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    except OSError as exc:
        raise ResultsError(f"{path}: cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for piece in pieces:
                fh.write(piece)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise ResultsError(f"{path}: cannot write: {exc.strerror or exc}") from None
        raise


def write_reports(
    run_dir: Path,
    summary: Mapping[str, Any],
    results: Sequence[ScoredResult],
    load: Load,
) -> dict[str, Path]:
    """Write ``report.md`` and ``report.html`` into ``run_dir``; return their paths by format
    (``"markdown"``, ``"html"``).

    ``results`` are the run's compact results in run order; ``load(j)`` gives the full record
    of ``results[j]`` and is asked only for the records a report shows. Registered secrets are
    scrubbed twice: from every string of the data before rendering (an escaped form in the
    page, ``\\u003c`` or ``&amp;``, would not match afterwards) and from each piece of text
    written (a whole line or a whole record, so a secret is never split between two).
    report.html shows the first lines of the agents' submissions saved under ``run_dir``
    (``<agent>/<test>-r<N>/files/``; a comparison of runs written elsewhere shows none).
    """
    scrubbed: Load = load
    if redact.any_registered():  # else there is nothing to scrub: skip the walk
        summary = _scrubbed(summary)

        def scrubbed(j: int) -> Mapping[str, Any]:
            loaded: Mapping[str, Any] = _scrubbed(load(j))
            return loaded

    markdown = (f"{line}\n" for line in markdown_lines(summary, results, scrubbed))
    pages = {
        "markdown": ("report.md", markdown),
        "html": ("report.html", html_chunks(summary, results, scrubbed, files_root=run_dir)),
    }
    paths: dict[str, Path] = {}
    for kind, (name, pieces) in pages.items():
        path = Path(run_dir) / name
        write_streamed(path, (redact.scrub(piece) for piece in pieces))
        paths[kind] = path
    return paths


def write_summary_and_reports(
    directory: Path,
    summary: Mapping[str, Any],
    results: Sequence[ScoredResult],
    load: Load,
) -> dict[str, Path]:
    """What the end of a run writes: ``summary.json`` (secrets scrubbed) and
    :func:`write_reports`' ``report.md`` and ``report.html`` into ``directory``, made if
    missing; their paths by format (``"summary"``, ``"markdown"``, ``"html"``)."""
    path = Path(directory)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ResultsError(f"{path}: cannot create the directory: {exc.strerror or exc}") from None
    write_atomic(path / SUMMARY, dumps(summary, pretty=True) + "\n")
    return {"summary": path / SUMMARY, **write_reports(path, summary, results, load)}
