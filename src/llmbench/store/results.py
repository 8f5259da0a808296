"""``save_results``: one JSON file per result plus a batch file with an execution summary."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from llmbench.config.runner_config import OutputSettings
from llmbench.result import TestResult
from llmbench.store.files import (
    MAX_NAME,
    contained_path,
    dumps,
    ensure_directory,
    safe_component,
    unique_name,
    write_atomic,
)


@dataclass(frozen=True)
class SavedResults:
    """The files one ``save_results`` call wrote."""

    directory: Path
    result_files: tuple[Path, ...]
    batch_file: Path


def _stats(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "median": None, "min": None, "max": None}
    return {
        "mean": statistics.fmean(values),
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
    }


class Measured(Protocol):
    """What :func:`summarize` reads of a result: a :class:`TestResult`, or the compact
    :class:`~llmbench.scoring.scored.ScoredResult` the end of a run keeps instead."""

    @property
    def status(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def timestamp(self) -> str: ...
    @property
    def execution_time(self) -> float: ...
    @property
    def time_to_first_token(self) -> float | None: ...
    @property
    def tokens_per_second(self) -> float | None: ...
    @property
    def prompt_tokens(self) -> int | None: ...
    @property
    def completion_tokens(self) -> int | None: ...
    @property
    def tokens_estimated(self) -> bool: ...
    @property
    def time_to_first_answer_token(self) -> float | None: ...
    @property
    def reasoning_tokens(self) -> int | None: ...
    @property
    def reasoning_truncated(self) -> bool: ...
    @property
    def attempts(self) -> int: ...
    @property
    def error_kind(self) -> str | None: ...
    @property
    def cached(self) -> bool: ...


def summarize(results: Sequence[Measured]) -> dict[str, Any]:
    """Counts, success rate, times, latency and speed figures over ``results``.

    Latency, time to first token and tokens/s are taken over successful results that were
    sent (answers from the response cache have no timings); token totals say whether any
    figure was estimated.
    """
    ok = [r for r in results if r.status == "ok"]
    timed = [r for r in ok if not r.cached]
    n = len(results)
    starts = []
    ends = []
    for r in results:
        try:
            t0 = datetime.fromisoformat(r.timestamp).timestamp()
        except ValueError:
            continue
        starts.append(t0)
        ends.append(t0 + r.execution_time)
    categories: dict[str, dict[str, int]] = {}
    for r in results:
        c = categories.setdefault(r.category, {"total": 0, "ok": 0, "error": 0, "cancelled": 0})
        c["total"] += 1
        c[r.status] += 1
    return {
        "total_tests": n,
        "successful_tests": len(ok),
        "failed_tests": sum(r.status == "error" for r in results),
        "cancelled_tests": sum(r.status == "cancelled" for r in results),
        "success_rate": len(ok) / n if n else None,
        "total_execution_time": sum(r.execution_time for r in results),
        "wall_time": (max(ends) - min(starts)) if starts else None,
        "latency_s": _stats([r.execution_time for r in timed]),
        "time_to_first_token_s": _stats(
            [r.time_to_first_token for r in timed if r.time_to_first_token is not None]
        ),
        "time_to_first_answer_token_s": _stats(
            [
                r.time_to_first_answer_token
                for r in timed
                if r.time_to_first_answer_token is not None
            ]
        ),
        "tokens_per_second": _stats(
            [r.tokens_per_second for r in timed if r.tokens_per_second is not None]
        ),
        "prompt_tokens": sum(r.prompt_tokens or 0 for r in ok),
        "completion_tokens": sum(r.completion_tokens or 0 for r in ok),
        "reasoning_tokens": sum(r.reasoning_tokens or 0 for r in ok),
        "reasoning_truncated": sum(r.reasoning_truncated for r in ok),
        "tokens_estimated": any(r.tokens_estimated for r in ok),
        "attempts": sum(r.attempts for r in results),
        "errors_by_kind": dict(Counter(r.error_kind for r in results if r.error_kind)),
        "categories": categories,
    }


def _file_name(template: str, result: TestResult, stamp: str) -> str:
    name = template.format(
        test_id=safe_component(result.test_id),
        timestamp=stamp,
        model=safe_component(result.model or "model", 40),
    )
    cleaned = safe_component(name, MAX_NAME)
    return cleaned if cleaned.endswith(".json") else f"{cleaned}.json"


def save_results(
    results: Sequence[TestResult],
    directory: str | Path,
    settings: OutputSettings,
    run_info: dict[str, Any] | None = None,
) -> SavedResults:
    """Write every result and a batch file into ``directory``; nothing is overwritten.

    ``run_info`` (already redacted) goes into the batch file when
    ``settings.include_metadata`` is on.
    """
    out = ensure_directory(directory)
    now = datetime.now(UTC)
    stamp = now.strftime("%Y%m%dT%H%M%S%fZ")
    taken: set[str] = set()
    written: list[Path] = []
    for result in results:
        name = unique_name(out, _file_name(settings.filename_template, result, stamp), taken)
        path = contained_path(out, name)
        write_atomic(path, dumps(result.to_dict(), settings.pretty_print))
        written.append(path)
    batch: dict[str, Any] = {
        "saved_at": now.isoformat(timespec="seconds"),
        "summary": summarize(results),
    }
    if settings.include_metadata and run_info:
        batch["run"] = run_info
    batch["result_files"] = [p.name for p in written]
    batch["results"] = [r.to_dict() for r in results]
    batch_name = unique_name(out, f"batch_{stamp}.json", taken)
    batch_path = contained_path(out, batch_name)
    write_atomic(batch_path, dumps(batch, settings.pretty_print))
    return SavedResults(out, tuple(written), batch_path)
