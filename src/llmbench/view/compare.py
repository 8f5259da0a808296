"""The same tests side by side: agents of one run, or of several runs (:func:`compare`).

A column is one agent of one run. Rows are the (test, repeat) pairs any column has, in the
order the first column met them, then the others'. Each cell is the result's status, score and
verdict. Under the table, every pair of columns is compared on the pairs both scored, as
``summary.json``'s ``comparisons`` are (:func:`llmbench.scoring.analysis.analyse`): the mean
difference with its paired bootstrap 95% interval, exact McNemar on pass/fail, significant
when the interval excludes 0 and, for pass/fail scores, McNemar's p is under 0.05 too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llmbench.scoring.analysis import paired_comparison
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
                paired_comparison(
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
