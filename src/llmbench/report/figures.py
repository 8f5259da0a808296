"""Figures the charts show, computed over every result of a run and bounded however large it
is: box plots (five figures and at most :data:`MAX_OUTLIERS` outliers per agent) and samples
spread evenly over a sequence. Speed figures leave out failed requests and answers from the
response cache, which were not timed (:func:`timed`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from llmbench.report.terminal import Summary
from llmbench.scoring.scored import ScoredResult

MAX_OUTLIERS = 200
"""Outliers drawn per box plot at most (spread evenly over them, the extremes included)."""

T = TypeVar("T")


def spread(items: Sequence[T], k: int) -> list[T]:
    """``k`` of ``items`` spread evenly over them, the first and the last included (all of
    them when there are no more than ``k``)."""
    if len(items) <= k:
        return list(items)
    if k <= 1:
        return list(items[:k])
    return [items[m * (len(items) - 1) // (k - 1)] for m in range(k)]


def _quantile(ordered: Sequence[float], p: float) -> float:
    h = (len(ordered) - 1) * p
    low = math.floor(h)
    high = math.ceil(h)
    return ordered[low] + (ordered[high] - ordered[low]) * (h - low)


def box(values: list[float]) -> dict[str, Any]:
    """Box-plot figures of ``values``: quartiles, whiskers at the furthest values within 1.5
    interquartile ranges of the box (Tukey), and the values beyond them (at most
    :data:`MAX_OUTLIERS`); ``{"n": 0}`` without values."""
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    q1, median, q3 = (_quantile(ordered, p) for p in (0.25, 0.5, 0.75))
    fence = 1.5 * (q3 - q1)
    inside = [t for t in ordered if q1 - fence <= t <= q3 + fence] or ordered
    low, high = inside[0], inside[-1]
    outliers = [t for t in ordered if t < low or t > high]
    return {
        "n": len(ordered),
        "q1": q1,
        "median": median,
        "q3": q3,
        "low": low,
        "high": high,
        "max": ordered[-1],
        "outliers": spread(outliers, MAX_OUTLIERS),
        "outliers_n": len(outliers),
    }


def timed(result: ScoredResult) -> bool:
    """A result whose speed was measured: its request succeeded and was not answered from the
    response cache."""
    return result.status == "ok" and not result.cached


def boxes(
    summary: Summary,
    results: Sequence[ScoredResult],
    measure: Callable[[ScoredResult], float | None],
) -> dict[str, dict[str, Any]]:
    """Per agent of the summary, in its order, the box plot (:func:`box`) of ``measure`` over
    its timed results (:func:`timed`) where the measure is not None."""
    values: dict[str, list[float]] = {str(a["agent_id"]): [] for a in summary["agents"]}
    for r in results:
        mine = values.get(r.agent_id)
        if mine is not None and timed(r):
            value = measure(r)
            if value is not None and math.isfinite(value):
                mine.append(float(value))
    return {agent_id: box(v) for agent_id, v in values.items()}


def latency_boxes(summary: Summary, results: Sequence[ScoredResult]) -> dict[str, Any]:
    """Per agent of the summary, the box plot of the latency of its timed requests."""
    return boxes(summary, results, lambda r: r.execution_time)
