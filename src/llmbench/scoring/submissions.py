"""The ``submissions`` block of an agent and of a comparison: data-analysis tasks (issue 17),
judged by the file the agent wrote.

Over an agent's results that carry a ``submission`` score (:class:`~llmbench.scoring.scored.
SubmissionVerdict`). A result whose evaluation failed (the score has ``error`` set) is counted
under ``errors`` and left out of every figure, never counted as a zero; an invalid submission
is a try like any other: not valid, not achieved, and skill 0 in the mean skill. A result whose
request failed has no scores at all, so it is not seen here (the agent's ``quality`` counts it
under ``errors``).

The mean ``skill`` is the mean of the score's value, skill clipped to [0, 1] (0 for an invalid
submission): the baseline is 0, the best 1, and a submission worse than the baseline counts as
the baseline would. ``pass_hat_k`` is tau-bench's pass^k (Yao et al. 2024): per task with c
tries of n that reached the baseline, C(c, k) / C(n, k), averaged over the tasks with at least
``repeats`` evaluated tries, for k = 1 .. repeats.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from llmbench.scoring.scored import ScoredResult, SubmissionVerdict
from llmbench.scoring.statistics import (
    bootstrap_mean_interval,
    mcnemar_exact,
    pass_hat_k,
    wilson_interval,
)

Tried = tuple[ScoredResult, SubmissionVerdict]
"""A result and its (evaluated) submission verdict."""


def _interval(bounds: tuple[float, float] | None) -> list[float] | None:
    return None if bounds is None else [bounds[0], bounds[1]]


def _mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _rate(count: int, n: int) -> dict[str, Any]:
    return {
        "count": count,
        "rate": count / n if n else None,
        "ci": _interval(wilson_interval(count, n)),
    }


def _tries(results: Sequence[ScoredResult]) -> tuple[list[Tried], int]:
    """The results with an evaluated submission, and how many evaluations failed."""
    tried = [(r, r.submission) for r in results if r.submission is not None]
    return [(r, s) for r, s in tried if not s.error], sum(s.error for _, s in tried)


def _by_task(results: Sequence[ScoredResult]) -> dict[str, list[ScoredResult]]:
    """The results with a submission score per test, in run order of first appearance."""
    tasks: dict[str, list[ScoredResult]] = {}
    for r in results:
        if r.submission is not None:
            tasks.setdefault(r.test_id, []).append(r)
    return tasks


def _task(test_id: str, results: Sequence[ScoredResult]) -> dict[str, Any]:
    tried, errors = _tries(results)
    verdicts = [s for _, s in tried]
    # the task's metric, baseline and best are the same on every try; take the first known
    described = next((s for s in verdicts if s.metric is not None), None)
    if described is None:
        described = next((r.submission for r in results if r.submission is not None), None)
    return {
        "test_id": test_id,
        "metric": None if described is None else described.metric,
        "baseline": None if described is None else described.baseline,
        "best": None if described is None else described.best,
        "higher_is_better": None if described is None else described.higher_is_better,
        "metric_value": _mean(
            [s.metric_value for s in verdicts if s.valid and s.metric_value is not None]
        ),
        "skill": _mean([s.value for s in verdicts]),
        "valid": sum(s.valid for s in verdicts),
        "achieved": sum(s.achieved for s in verdicts),
        "tries": len(verdicts),
        "errors": errors,
    }


def _pass_hat_k(tasks: Sequence[dict[str, Any]], repeats: int) -> tuple[dict[str, Any], int]:
    """pass^k for k = 1 .. ``repeats`` over the tasks with at least ``repeats`` tries."""
    complete = [t for t in tasks if t["tries"] >= max(1, repeats)]
    figures = {
        str(k): _mean([pass_hat_k(t["tries"], t["achieved"], k) for t in complete])
        for k in range(1, max(1, repeats) + 1)
    }
    return figures, len(complete)


def submissions(results: Sequence[ScoredResult], repeats: int) -> dict[str, Any] | None:
    """An agent's ``submissions`` block (docs/summary-format.md); None when none of its
    results has a ``submission`` score."""
    by_task = _by_task(results)
    if not by_task:
        return None
    tried, errors = _tries(results)
    n = len(tried)
    values = [s.value for _, s in tried]
    turns = [float(r.turns) for r, _ in tried if r.turns is not None]
    tokens = [
        float((r.prompt_tokens or 0) + (r.completion_tokens or 0))
        for r, _ in tried
        if r.prompt_tokens is not None or r.completion_tokens is not None
    ]
    tasks = [_task(test_id, rs) for test_id, rs in by_task.items()]
    hat, hat_tasks = _pass_hat_k(tasks, repeats)
    return {
        "tasks": len(by_task),
        "tries": n,
        "errors": errors,
        "valid": _rate(sum(s.valid for _, s in tried), n),
        "achieved": _rate(sum(s.achieved for _, s in tried), n),
        "skill": {"mean": _mean(values), "ci": _interval(bootstrap_mean_interval(values))},
        "time_s": {"mean": _mean([r.execution_time for r, _ in tried])},
        "turns": {"mean": _mean(turns)},
        "code_cells": {"mean": _mean([float(r.tool_calls) for r, _ in tried])},
        "code_errors": {"mean": _mean([float(r.code_errors) for r, _ in tried])},
        "tokens": {"mean": _mean(tokens)},
        "pass_hat_k": hat,
        "pass_hat_k_tasks": hat_tasks,
        "by_task": tasks,
    }


def compare_submissions(
    a: Sequence[ScoredResult], b: Sequence[ScoredResult]
) -> dict[str, Any] | None:
    """A comparison's ``submissions`` block: agent ``a`` against ``b`` on the (test, repeat)
    pairs both have an evaluated submission for; None when there is no such pair."""
    a_by_key = {r.key: s for r, s in _tries(a)[0]}
    b_by_key = {r.key: s for r, s in _tries(b)[0]}
    keys = sorted(a_by_key.keys() & b_by_key.keys())
    if not keys:
        return None
    pairs = [(a_by_key[k], b_by_key[k]) for k in keys]
    a_values = [x.value for x, _ in pairs]
    b_values = [y.value for _, y in pairs]
    diffs = [x - y for x, y in zip(a_values, b_values, strict=True)]
    ci = bootstrap_mean_interval(diffs)
    a_only = sum(x.achieved and not y.achieved for x, y in pairs)
    b_only = sum(y.achieved and not x.achieved for x, y in pairs)
    p = mcnemar_exact(a_only, b_only)
    return {
        "n_pairs": len(pairs),
        "skill_a": statistics.fmean(a_values),
        "skill_b": statistics.fmean(b_values),
        "skill_diff": statistics.fmean(diffs),
        "skill_diff_ci": _interval(ci),
        "skill_significant": ci is not None and (ci[0] > 0 or ci[1] < 0),
        "achieved": {
            "a": sum(x.achieved for x, _ in pairs),
            "b": sum(y.achieved for _, y in pairs),
            "a_only": a_only,
            "b_only": b_only,
            "p_value": p,
            "significant": p < 0.05,
        },
    }
