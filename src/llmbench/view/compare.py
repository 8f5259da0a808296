"""The same tests side by side: agents of one run, or of several runs (:func:`compare`).

A column is one agent of one run. Rows are the (test, repeat) pairs any column has, in the
order the first column met them, then the others'. Each cell is the result's status, score and
verdict. Under the table, every pair of columns is compared on the pairs both scored, as
``summary.json``'s ``comparisons`` are (:func:`llmbench.scoring.analysis.analyse`): the mean
difference with its paired bootstrap 95% interval, exact McNemar on pass/fail, significant
when the interval excludes 0 and, for pass/fail scores, McNemar's p is under 0.05 too.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llmbench.scoring.statistics import (
    mcnemar_exact,
    min_detectable_difference,
    paired_bootstrap_diff,
)
from llmbench.view.index import RunIndex

Key = tuple[str, int]
"""``(test_id, repeat)``: what two columns' results are paired on."""


@dataclass(frozen=True)
class Column:
    """One agent of one run."""

    run_id: str
    agent_id: str

    @property
    def label(self) -> str:
        return f"{self.run_id} / {self.agent_id}"


def _cells(index: RunIndex, agent_id: str) -> dict[Key, int]:
    return {
        (index.test_ids[i], index.key_of(i)[2]): i
        for i in range(len(index))
        if index.agent_of(i) == agent_id
    }


def _cell(index: RunIndex, i: int) -> dict[str, Any]:
    return {
        "position": i,
        "status": index.status_of(i),
        "score": index.score_of(i),
        "passed": index.passed_of(i),
        "failed": index.failed(i),
        "category": index.row(i)["category"],
    }


def paired(
    a_id: str, a: Sequence[float], a_pass: Sequence[bool], b_id: str, b: Sequence[float],
    b_pass: Sequence[bool],
) -> dict[str, Any]:  # fmt: skip
    """One comparison of two columns over their paired scores and verdicts."""
    a_only = sum(x and not y for x, y in zip(a_pass, b_pass, strict=True))
    b_only = sum(y and not x for x, y in zip(a_pass, b_pass, strict=True))
    entry: dict[str, Any] = {
        "a": a_id,
        "b": b_id,
        "n_pairs": len(a),
        "mean_a": None,
        "mean_b": None,
        "mean_diff": None,
        "diff_ci": None,
        "mcnemar": {"a_only": a_only, "b_only": b_only, "p_value": mcnemar_exact(a_only, b_only)},
        "significant": False,
        "min_detectable_diff": None,
    }
    if not a:
        return entry
    diff, ci = paired_bootstrap_diff(a, b)
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    sd = statistics.stdev(diffs) if len(diffs) >= 2 else None
    excludes_zero = ci is not None and (ci[0] > 0 or ci[1] < 0)
    binary = all(v in (0.0, 1.0) for v in (*a, *b))
    entry.update(
        mean_a=statistics.fmean(a),
        mean_b=statistics.fmean(b),
        mean_diff=diff,
        diff_ci=None if ci is None else list(ci),
        significant=excludes_zero and (not binary or entry["mcnemar"]["p_value"] < 0.05),
        min_detectable_diff=min_detectable_difference(len(a), sd),
    )
    return entry


def compare(
    columns: Sequence[tuple[Column, RunIndex]],
    *,
    offset: int = 0,
    limit: int = 100,
    category: str | None = None,
    differ: bool = False,
) -> dict[str, Any]:
    """``{"columns", "total", "offset", "rows": [{"test_id", "repeat", "category", "cells"}],
    "paired": [...]}``; ``differ``: only the rows whose columns do not all agree (pass, fail,
    error)."""
    cells = [_cells(index, column.agent_id) for column, index in columns]
    keys = list(dict.fromkeys(k for per in cells for k in per))
    categories: set[str] = set()
    rows = []
    for key in keys:
        row: list[dict[str, Any] | None] = []
        for (_, index), per in zip(columns, cells, strict=True):
            i = per.get(key)
            row.append(None if i is None else _cell(index, i))
        present = [c for c in row if c is not None]
        cat = present[0]["category"] if present else ""
        categories.add(cat)
        if category is not None and cat != category:
            continue
        agree = len({(c["status"], c["passed"]) for c in present}) <= 1
        if differ and agree and len(present) == len(row):
            continue
        rows.append({"test_id": key[0], "repeat": key[1], "category": cat, "cells": row})
    pairs = []
    for x in range(len(columns)):
        for y in range(x + 1, len(columns)):
            (ca, ia), (cb, ib) = columns[x], columns[y]
            both = [
                (ia.score_of(i), ib.score_of(j), ia.passed_of(i) is True, ib.passed_of(j) is True)
                for k, i in cells[x].items()
                if (j := cells[y].get(k)) is not None
                and ia.score_of(i) is not None
                and ib.score_of(j) is not None
            ]
            pairs.append(
                paired(
                    ca.label,
                    [float(p[0] or 0.0) for p in both],
                    [p[2] for p in both],
                    cb.label,
                    [float(p[1] or 0.0) for p in both],
                    [p[3] for p in both],
                )
            )
    return {
        "columns": [{"run_id": c.run_id, "agent_id": c.agent_id} for c, _ in columns],
        "total": len(rows),
        "offset": offset,
        "rows": rows[offset : offset + limit],
        "paired": pairs,
        "categories": sorted(categories),
    }
