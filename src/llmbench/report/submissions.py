"""What the reports show of data-analysis tasks beyond the terminal's table: the metric of each
task against its baseline and best, per agent; the paired comparisons of the agents'
submissions; and, for the HTML record view, the first lines of the file an agent submitted.

The submission is read from the run directory's files folder of the result
(:func:`llmbench.store.run_dir.files_dir`), a regular file inside it only (a symlink the agent
left is not followed), at most :data:`PREVIEW_LINES` lines of at most :data:`PREVIEW_LINE_CHARS`
characters from its first :data:`PREVIEW_BYTES` bytes, as text: the page sets it with
``textContent``, never as HTML.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from llmbench import redact
from llmbench.report.terminal import MISSING, Summary, interval, number, p_value, ranked_agents
from llmbench.scoring.scored import SUBMISSION
from llmbench.store.run_dir import files_dir

PREVIEW_LINES = 10
PREVIEW_LINE_CHARS = 500
PREVIEW_BYTES = 64 * 1024


def metric(value: float | None) -> str:
    """A metric value: ``21,000`` for large ones, four significant digits for the rest."""
    if value is None:
        return MISSING
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


TASK_COLUMNS = (
    "Task",
    "Metric",
    "Baseline",
    "Best",
    "Agent",
    "Metric mean (valid)",
    "Skill mean",
    "Valid",
    "Achieved",
    "Eval errors",
)


def task_table(summary: Summary) -> tuple[list[str], list[list[str]]]:
    """One row per data-analysis task and agent (tasks in the order first met, agents best
    first): the task's metric, baseline and best, the agent's mean metric over its valid
    submissions, its mean skill and its counts out of its tries; no rows without tasks."""
    agents = [a for a in ranked_agents(summary) if a.get("submissions")]
    tasks: dict[str, dict[str, Mapping[str, Any]]] = {}
    for agent in agents:
        for task in agent["submissions"].get("by_task") or []:
            tasks.setdefault(str(task["test_id"]), {})[str(agent["agent_id"])] = task
    rows = []
    for test_id, per_agent in tasks.items():
        for agent in agents:
            task = per_agent.get(str(agent["agent_id"]))
            if task is None:
                continue
            tries = task.get("tries", 0)
            rows.append(
                [
                    test_id,
                    str(task.get("metric") or MISSING),
                    metric(task.get("baseline")),
                    metric(task.get("best")),
                    str(agent["agent_id"]),
                    metric(task.get("metric_value")),
                    number(task.get("skill")),
                    f"{task.get('valid', 0)}/{tries}",
                    f"{task.get('achieved', 0)}/{tries}",
                    str(task.get("errors", 0)),
                ]
            )
    return list(TASK_COLUMNS), rows


TASK_NOTE = (
    "Per task: the metric of each agent's valid submissions (mean over tries) against the "
    "task's baseline and best; skill 0 is the baseline, 1 the best (clipped, invalid 0)."
)

COMPARISON_COLUMNS = (
    "A",
    "B",
    "Pairs",
    "Skill A",
    "Skill B",
    "A − B [95% CI]",
    "Achieved A / B",
    "A only / B only",
    "McNemar p",
)


def comparison_table(summary: Summary) -> tuple[list[str], list[list[str]]]:
    """The paired comparisons of agents on the data-analysis tries both had evaluated; no rows
    when no two agents share one."""
    rows = []
    for c in summary.get("comparisons") or []:
        sub = c.get("submissions")
        if not sub:
            continue
        achieved = sub.get("achieved") or {}
        rows.append(
            [
                str(c["a"]),
                str(c["b"]),
                str(sub["n_pairs"]),
                number(sub.get("skill_a")),
                number(sub.get("skill_b")),
                interval(sub.get("skill_diff"), sub.get("skill_diff_ci")),
                f"{achieved.get('a')} / {achieved.get('b')}",
                f"{achieved.get('a_only')} / {achieved.get('b_only')}",
                p_value(achieved.get("p_value")).removeprefix("= "),
            ]
        )
    return list(COMPARISON_COLUMNS), rows


COMPARISON_NOTE = (
    "Paired over the (task, repeat) tries both agents had evaluated: skill by the paired "
    "bootstrap, baseline achieved by the exact McNemar test."
)


def submitted_file(record: Mapping[str, Any]) -> str | None:
    """The file name the record's ``submission`` score judged, if it has one."""
    scoring = record.get("scoring")
    if not isinstance(scoring, Mapping):
        return None
    for score in scoring.get("scores") or []:
        if isinstance(score, Mapping) and score.get("scorer") == SUBMISSION:
            details = score.get("details")
            name = details.get("file") if isinstance(details, Mapping) else None
            return name if isinstance(name, str) and name else None
    return None


def _read_head(run_path: Path, folder: Path, relative: Path) -> bytes | None:
    """The first :data:`PREVIEW_BYTES` of ``folder / relative`` when it is a regular file
    reached without a symlink, inside ``folder`` inside ``run_path``; None otherwise."""
    target = folder / relative
    try:
        inside = folder.resolve(strict=True)
        if not inside.is_relative_to(Path(run_path).resolve(strict=True)):
            return None
        # no folder on the way is a symlink; O_NOFOLLOW refuses one as the file itself
        if target.parent.resolve(strict=True) != (inside / relative).parent:
            return None
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except (OSError, ValueError):
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, PREVIEW_BYTES)
    except OSError:
        return None
    finally:
        os.close(fd)


def submission_preview(run_path: Path, record: Mapping[str, Any]) -> dict[str, Any] | None:
    """``{"file", "lines", "more"}``: the first lines of the file the record's submission
    score judged, read from its files folder under ``run_path`` (secrets scrubbed); None when
    the record has no submission or the file was not saved."""
    name = submitted_file(record)
    if name is None:
        return None
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts:
        return None
    try:
        folder = files_dir(
            run_path, str(record["agent_id"]), str(record["test_id"]), int(record["repeat"])
        )
    except (KeyError, TypeError, ValueError):
        return None
    head = _read_head(run_path, folder, relative)
    if head is None:
        return None
    text = head.decode("utf-8", errors="replace")
    lines = text.splitlines()
    shown = [redact.scrub(line[:PREVIEW_LINE_CHARS]) for line in lines[:PREVIEW_LINES]]
    with_more = len(lines) > PREVIEW_LINES or len(head) == PREVIEW_BYTES
    return {"file": name, "lines": shown, "more": with_more}
