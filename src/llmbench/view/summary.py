"""The sections of a run page above its records, as data: the same tables and lines report.html
shows (its builders in :mod:`llmbench.report.terminal`, :mod:`~llmbench.report.submissions` and
:mod:`~llmbench.report.repeats`), so the viewer and the report cannot disagree. The page's
script draws each section's table with ``textContent``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from llmbench.report.repeats import REPEATS_NOTE, repeats_table
from llmbench.report.submissions import (
    COMPARISON_NOTE,
    TASK_NOTE,
    comparison_table,
    task_table,
)
from llmbench.report.terminal import (
    SUBMISSIONS_NOTE,
    Summary,
    conversations_table,
    leaderboard_table,
    protocol_notes,
    reasoning_table,
    sandbox_line,
    significant_differences,
    submission_difference_lines,
    submissions_table,
    tools_table,
)


@dataclass(frozen=True)
class Table:
    """One table of a section: its element id, header and rows of text cells."""

    id: str
    header: list[str]
    rows: list[list[str]]
    title: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Section:
    """A titled part of the run page: notes, tables and lines, in that order."""

    id: str
    title: str
    notes: list[str] = field(default_factory=list)
    warning: str | None = None
    tables: list[Table] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def _leaderboard(summary: Summary) -> Section:
    header, rows = leaderboard_table(summary)
    ranked = [[str(rank), *row] for rank, row in enumerate(rows, 1)]
    lines = significant_differences(summary) or ["one agent: nothing to compare"]
    return Section(
        "leaderboard-section",
        "Leaderboard",
        tables=[Table("leaderboard", ["#", *header], ranked)],
        lines=lines,
    )


def _tools(summary: Summary) -> Section | None:
    header, rows = tools_table(summary)
    sandbox = sandbox_line(summary)
    if not rows and sandbox is None:
        return None
    warning, notes = None, []
    if sandbox is not None:
        text, loud = sandbox
        if loud:
            warning = text
        else:
            notes.append(text)
    return Section(
        "tools-section",
        "Tools",
        notes=notes,
        warning=warning,
        tables=[Table("tools", header, rows)] if rows else [],
        lines=protocol_notes(summary),
    )


def _submissions(summary: Summary) -> Section | None:
    header, rows = submissions_table(summary)
    if not rows:
        return None
    tables = [Table("submissions", header, rows)]
    task_header, task_rows = task_table(summary)
    tables.append(Table("submission-tasks", task_header, task_rows, "Per task", TASK_NOTE))
    pair_header, pair_rows = comparison_table(summary)
    if pair_rows:
        tables.append(
            Table("submission-comparisons", pair_header, pair_rows, "Paired", COMPARISON_NOTE)
        )
    return Section(
        "submissions-section",
        "Data-analysis tasks",
        notes=[SUBMISSIONS_NOTE],
        tables=tables,
        lines=submission_difference_lines(summary),
    )


def _simple(
    section_id: str, title: str, note: str, table_id: str, table: tuple[list[str], list[list[str]]]
) -> Section | None:
    header, rows = table
    if not rows:
        return None
    return Section(section_id, title, notes=[note], tables=[Table(table_id, header, rows)])


def sections(summary: Summary) -> list[dict[str, Any]]:
    """The run page's sections for ``summary`` (summary.json), as JSON-ready dicts; only those
    the run has something for, in report.html's order."""
    repeats = f"{summary.get('repeats')} repeats per test. {REPEATS_NOTE}"
    found = [
        _leaderboard(summary),
        _simple(
            "reasoning-section",
            "Reasoning",
            "Thinking is kept apart from the answer; each record shows it folded.",
            "reasoning",
            reasoning_table(summary),
        ),
        _tools(summary),
        _simple(
            "conversations-section",
            "Conversations",
            "Instructor and supervisor tokens are the helpers' own, never counted in the "
            "agent's tokens.",
            "conversations",
            conversations_table(summary),
        ),
        _submissions(summary),
        _simple("repeats-section", "Repeats", repeats, "repeats", repeats_table(summary)),
    ]
    return [asdict(s) for s in found if s is not None]
