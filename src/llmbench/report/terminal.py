"""The terminal report: a leaderboard table and the differences that are real.

Also home of the number formats that the Markdown and HTML reports share, so that a score
reads ``0.70 [0.55, 0.84]`` everywhere. Every value may be ``null`` in ``summary.json``; a
missing value prints as ``n/a``.

The terminal leaderboard fits the console's width (the terminal's, or ``$COLUMNS``): a rank
column ``#``, then :data:`LEADERBOARD_COLUMNS`, each cell on one line (``0.62 [0.51, 0.72]``
never wraps; headers may). When the columns do not all fit, they are left out in the order of
:data:`DROP_ORDER`, and a note under the table names them and says that report.md and
report.html have them all:

1. Model (the agent id names the agent),
2. Tokens/s p50, 3. Latency p50 / p95 (s) (speed before quality),
4. Pass rate [95% CI], 5. n / errors, 6. Not run.

Only when ``#``, Agent and Score [95% CI] alone do not fit are agent ids cut (ending in
``…``), and a note says so. In a comparison of runs (``llmbench report RUN RUN ...``) an agent
in more than one run is ``agent@<run_id>`` in the summary; the terminal shows it as
``agent@r1``, ``agent@r2`` (the runs numbered in the order they were given), with a legend under
the table naming each run and when it started.

Without a terminal (stdout a pipe or a file, as in CI) :func:`stdout_console` prints at
``$COLUMNS`` when set, else at :data:`PLAIN_WIDTH` columns; the leaderboard is then plain text,
its only rules ``|``, ``-`` and ``+``, and nothing prints colours.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from llmbench.report.fit import Fit, fit, wrap_header
from llmbench.scoring.analysis import k_values

MISSING = "n/a"

Summary = Mapping[str, Any]
"""The ``summary.json`` dict (docs/summary-format.md)."""


def number(value: float | None, digits: int = 2) -> str:
    """``value`` with ``digits`` decimals, or ``n/a``."""
    return MISSING if value is None else f"{value:.{digits}f}"


def interval(value: float | None, ci: Sequence[float | None] | None, digits: int = 2) -> str:
    """``0.70 [0.55, 0.84]``: a value and its 95% interval (the interval left out if unknown)."""
    if value is None:
        return MISSING
    if not ci or ci[0] is None or ci[1] is None:
        return number(value, digits)
    return f"{number(value, digits)} [{number(ci[0], digits)}, {number(ci[1], digits)}]"


def p_value(p: float | None) -> str:
    """``= 0.03``, ``= 0.004`` or ``< 0.001``: a p value after ``p``."""
    if p is None:
        return f"= {MISSING}"
    if p < 0.001:
        return "< 0.001"
    return f"= {p:.2f}" if p >= 0.01 else f"= {p:.3f}"


NOT_MEASURED = "not measured"
"""What a streaming figure (time to first token, tokens/s) shows for an agent that did not
stream (``stream = false``): not a zero, and not a missing value."""


def streamed(speed: Mapping[str, Any] | None, shown: str) -> str:
    """``shown``, or :data:`NOT_MEASURED` when the agent's answers were not streamed."""
    return NOT_MEASURED if speed is not None and speed.get("streamed") is False else shown


def seconds(value: float | None) -> str:
    """A duration in seconds, two decimals."""
    return number(value, 2)


def ranked_agents(summary: Summary) -> list[Mapping[str, Any]]:
    """The agents, best mean score first; agents without a score last, then by id."""

    def key(agent: Mapping[str, Any]) -> tuple[bool, float, str]:
        mean = agent["quality"]["mean_score"]
        return (mean is None, -(mean or 0.0), agent["agent_id"])

    return sorted(summary["agents"], key=key)


def pick(data: Mapping[str, Any] | None, *path: str) -> Any:
    """``data[path[0]][path[1]]...``, or ``None`` as soon as a step is missing or null."""
    value: Any = data
    for step in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(step)
    return value


def leaderboard_row(agent: Mapping[str, Any]) -> list[str]:
    """One agent's leaderboard cells, in the order of :data:`LEADERBOARD_COLUMNS`."""
    quality = agent["quality"]
    speed = agent.get("speed")
    latency = (
        f"{seconds(pick(speed, 'latency_s', 'p50'))} / {seconds(pick(speed, 'latency_s', 'p95'))}"
    )
    return [
        str(agent["agent_id"]),
        str(agent.get("model") or MISSING),
        interval(quality["mean_score"], quality.get("score_ci")),
        interval(quality["pass_rate"], quality.get("pass_ci")),
        f"{quality['n']} / {quality['errors']}",
        latency,
        streamed(speed, number(pick(speed, "tokens_per_second", "p50"), 1)),
    ]


LEADERBOARD_COLUMNS = (
    "Agent",
    "Model",
    "Score [95% CI]",
    "Pass rate [95% CI]",
    "n / errors",
    "Latency p50 / p95 (s)",
    "Tokens/s p50",
)


NOT_RUN_COLUMN = "Not run"
"""The leaderboard column of the tests that never ran, shown when an agent has any."""


def leaderboard_table(summary: Summary) -> tuple[list[str], list[list[str]]]:
    """The leaderboard's header and its rows (best mean score first): the
    :data:`LEADERBOARD_COLUMNS`, and :data:`NOT_RUN_COLUMN` after ``n / errors`` when some
    agent has tests that never ran (an interrupted run), so that no one takes part of a run for
    all of it."""
    agents = ranked_agents(summary)
    header = list(LEADERBOARD_COLUMNS)
    rows = [leaderboard_row(agent) for agent in agents]
    if any(agent.get("not_run") for agent in agents):
        at = LEADERBOARD_COLUMNS.index("n / errors") + 1
        header.insert(at, NOT_RUN_COLUMN)
        for row, agent in zip(rows, agents, strict=True):
            row.insert(at, str(agent.get("not_run") or 0))
    return header, rows


RANK_COLUMN = "#"
"""The terminal leaderboard's first column: the agent's place, 1 for the best mean score."""

DROP_ORDER = (
    "Model",
    "Tokens/s p50",
    "Latency p50 / p95 (s)",
    "Pass rate [95% CI]",
    "n / errors",
    NOT_RUN_COLUMN,
)
"""The leaderboard columns a narrow terminal leaves out, first to go first; ``#``, Agent and
Score [95% CI] are always shown."""

PLAIN_WIDTH = 120
"""The width of reports printed without a terminal (a pipe, a file, CI) when ``$COLUMNS`` is
not set."""

PLAIN_BOX = box.Box("    \n  | \n -+ \n  | \n    \n    \n  | \n    \n", ascii=True)
"""The leaderboard's rules without a terminal: ``|`` between columns, ``-+-`` under the
header."""


def run_labels(summary: Summary) -> dict[str, str]:
    """``{run_id: "r1", ...}`` for a comparison of runs, numbered in the order the summary lists
    their agents (the order the runs were given); empty for one run."""
    runs = dict.fromkeys(str(a["run_id"]) for a in summary["agents"] if a.get("run_id"))
    return {run: f"r{n}" for n, run in enumerate(runs, 1)} if len(runs) > 1 else {}


def abbreviated(text: str, labels: Mapping[str, str]) -> str:
    """``text`` with each ``@<run_id>`` of ``labels`` shortened to ``@r1``, ``@r2``..."""
    for run, label in labels.items():
        text = text.replace(f"@{run}", f"@{label}")
    return text


def _started(run_id: str) -> str | None:
    """When a run with an id of :func:`~llmbench.store.run_dir.new_run_id` started, as
    ``2026-11-21 10:30 UTC``; None for another id (a renamed run directory)."""
    try:
        moment = datetime.strptime(run_id[:16], "%Y%m%dT%H%M%SZ")
    except ValueError:
        return None
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def run_legend(labels: Mapping[str, str]) -> list[str]:
    """The lines under a comparison's leaderboard naming the run behind each label; empty
    without labels."""
    if not labels:
        return []
    lines = ["Runs (an agent in more than one run is shown as agent@r1, agent@r2, ...):"]
    for run, label in labels.items():
        started = _started(run)
        lines.append(f"  {label}  {run}" + (f"  started {started}" if started else ""))
    return lines


def terminal_leaderboard(summary: Summary) -> tuple[list[str], list[list[str]]]:
    """:func:`leaderboard_table` as the terminal shows it: the rank first, and the run ids of a
    comparison shortened to their :func:`run_labels`."""
    header, rows = leaderboard_table(summary)
    labels = run_labels(summary)
    ranked = [[str(n), abbreviated(row[0], labels), *row[1:]] for n, row in enumerate(rows, 1)]
    return [RANK_COLUMN, *header], ranked


def leaderboard_title(summary: Summary) -> str:
    """``Run <run_id> (<status>)``, or ``Comparison of runs r1, r2`` for a comparison."""
    labels = run_labels(summary)
    if labels:
        return f"Comparison of runs {', '.join(labels.values())}"
    return f"Run {summary['run_id']} ({summary['status']})"


def leaderboard_fit(summary: Summary, width: int | None) -> Fit:
    """How the terminal leaderboard is laid out in ``width`` columns (None: all, unwrapped)."""
    header, rows = terminal_leaderboard(summary)
    return fit(header, rows, width, drop=DROP_ORDER, cut="Agent")


def leaderboard(summary: Summary, width: int | None = None, *, plain: bool = False) -> Table:
    """One row per agent, best mean score first, fitted to ``width`` columns (None: every
    column); ``plain``: rules of ASCII characters and no bold header, for a pipe or a file."""
    header, rows = terminal_leaderboard(summary)
    suffixes = [f"@{label}" for label in run_labels(summary).values()]
    left = ("Agent", "Model")
    return _fitted(header, rows, leaderboard_fit(summary, width), left, suffixes, plain)


def _fitted(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    laid_out: Fit,
    left: Sequence[str],
    suffixes: Sequence[str],
    plain: bool,
) -> Table:
    """``rows`` as ``laid_out`` says: cells on one line, headers wrapped between words, the
    Agent column cut (keeping its run label) only when the layout says so; ``plain``: ASCII
    rules and no bold header."""
    table = Table(
        box=PLAIN_BOX if plain else box.MINIMAL_HEAVY_HEAD,
        show_edge=False,
        pad_edge=False,
        header_style="" if plain else "bold",
    )
    for i, column_width in zip(laid_out.shown, laid_out.widths, strict=True):
        table.add_column(
            Text(wrap_header(header[i], column_width)),
            justify="left" if header[i] in left else "right",
            width=column_width,
            no_wrap=True,
            overflow="ellipsis",
        )
    agent = laid_out.shown.index(header.index("Agent")) if "Agent" in header else None
    for row in rows:
        # Text, not str: an agent id or model name is never read as rich markup
        cells = [Text(row[i]) for i in laid_out.shown]
        if agent is not None:
            cells[agent] = _cut(cells[agent], laid_out.widths[agent], suffixes)
        table.add_row(*cells)
    return table


def _cut(agent_id: Text, width: int, suffixes: Sequence[str]) -> Text:
    """``agent_id`` in at most ``width`` cells, ending in ``…`` when cut, its ``@r1`` run label
    (one of ``suffixes``) kept so that the same agent of two runs stays two rows apart."""
    if agent_id.cell_len <= width:
        return agent_id
    suffix = next((s for s in suffixes if agent_id.plain.endswith(s)), "")
    name = agent_id[: len(agent_id) - len(suffix)]
    name.truncate(max(width - cell_len(suffix), 1), overflow="ellipsis")
    return name + suffix


def leaderboard_notes(summary: Summary, width: int | None) -> list[str]:
    """The lines under the leaderboard: the columns left out at ``width`` and where they are,
    whether agent ids were cut, and a comparison's legend of runs."""
    header, _ = terminal_leaderboard(summary)
    laid_out = leaderboard_fit(summary, width)
    notes = []
    if laid_out.left_out:
        names = ", ".join(header[i] for i in laid_out.left_out)
        notes.append(
            f"Left out to fit {width} columns: {names} (report.md and report.html show every "
            "column)."
        )
    if laid_out.cut:
        notes.append(
            f"Agent ids cut to fit {width} columns (…); report.md and report.html have them whole."
        )
    return notes + run_legend(run_labels(summary))


def print_leaderboard(summary: Summary, console: Console) -> None:
    """The leaderboard's title, the table fitted to ``console``'s width (plain text when the
    console is not a terminal) and its notes."""
    plain = not console.is_terminal
    console.print(Text(leaderboard_title(summary), style="" if plain else "bold"))
    console.print(leaderboard(summary, console.width, plain=plain))
    for note in leaderboard_notes(summary, console.width):
        console.print(Text(note))


REASONING_COLUMNS = (
    "Agent",
    "Reasoning tokens p50",
    "Reasoning tokens total",
    "First answer token p50 / p95 (s)",
    "Truncated while thinking",
)


def reasoning_table(summary: Summary) -> tuple[list[str], list[list[str]]]:
    """Per agent that thought (reasoning tokens, or answers cut off while thinking): its
    thinking figures; no rows when no agent did, so a run without reasoning models shows none."""
    rows = []
    for agent in ranked_agents(summary):
        speed = agent.get("speed")
        total = pick(speed, "reasoning_tokens", "total") or 0
        truncated = pick(speed, "reasoning_truncated")
        if not total and not truncated:
            continue
        first_answer = (
            f"{seconds(pick(speed, 'time_to_first_answer_token_s', 'p50'))} / "
            f"{seconds(pick(speed, 'time_to_first_answer_token_s', 'p95'))}"
        )
        rows.append(
            [
                str(agent["agent_id"]),
                number(pick(speed, "reasoning_tokens", "p50"), 0),
                str(total),
                first_answer,
                MISSING if truncated is None else f"{truncated:.0%}",
            ]
        )
    return list(REASONING_COLUMNS), rows


def end_reasons_text(reasons: Mapping[str, int] | None) -> str:
    """``answered 4, tool_limit 1``: end reasons and their counts, in the summary's order."""
    if not reasons:
        return MISSING
    return ", ".join(f"{reason} {count}" for reason, count in reasons.items())


def _mean_max(figures: Mapping[str, Any] | None, digits: int = 1) -> str:
    top = pick(figures, "max")
    return f"{number(pick(figures, 'mean'), digits)} / {MISSING if top is None else top}"


TOOLS_COLUMNS = (
    "Agent",
    "Protocol",
    "Tests",
    "Calls",
    "Errors",
    "Timeouts",
    "Restarts",
    "Calls/test mean/max",
    "End reasons",
)
"""Tests: tests with tools; calls: code calls; errors: calls that raised; restarts: session
restarts."""


def tools_table(summary: Summary) -> tuple[list[str], list[list[str]]]:
    """Per agent that ran tests with tools: its protocol, code calls and how those tests
    ended; no rows when no agent ran any, so a run without tools shows none."""
    rows = []
    for agent in ranked_agents(summary):
        tools = agent.get("tools")
        if not tools:
            continue
        rows.append(
            [
                str(agent["agent_id"]),
                str(tools.get("protocol") or MISSING),
                str(tools.get("tests", 0)),
                str(tools.get("tool_calls", 0)),
                str(tools.get("code_errors", 0)),
                str(tools.get("code_timeouts", 0)),
                str(tools.get("session_restarts", 0)),
                _mean_max(tools.get("tool_calls_per_test")),
                end_reasons_text(tools.get("end_reasons")),
            ]
        )
    return list(TOOLS_COLUMNS), rows


def protocol_notes(summary: Summary) -> list[str]:
    """``agent: text (why)`` for each agent whose tool protocol came with a reason."""
    notes = []
    for agent in ranked_agents(summary):
        tools = agent.get("tools") or {}
        if tools.get("protocol_reason"):
            notes.append(
                f"{agent['agent_id']}: tool protocol {tools.get('protocol') or MISSING} "
                f"({tools['protocol_reason']})"
            )
    return notes


PROCESS_WARNING = (
    "code ran with isolation = process: rlimits only, no filesystem or network isolation"
)
"""What every report says, loudly, when the sandbox isolated code by rlimits alone."""


def sandbox_line(summary: Summary) -> tuple[str, bool] | None:
    """The line naming the sandbox isolation of a run with tools, and whether it is a warning
    (isolation ``process``); None when no agent ran tests with tools and no sandbox is named."""
    sandbox = summary.get("sandbox")
    if not isinstance(sandbox, Mapping):
        if not any(agent.get("tools") for agent in summary["agents"]):
            return None
        return "code ran in a sandbox whose isolation was not recorded", False
    isolation = sandbox.get("isolation")
    if isolation == "process":
        return f"WARNING: {PROCESS_WARNING}", True
    details = []
    if sandbox.get("call_timeout_s") is not None:
        details.append(f"call timeout {sandbox['call_timeout_s']} s")
    if sandbox.get("max_parallel") is not None:
        details.append(f"at most {sandbox['max_parallel']} sessions at once")
    if sandbox.get("python"):
        details.append(str(sandbox["python"]))
    extra = f" ({', '.join(details)})" if details else ""
    return f"code ran with isolation = {isolation or MISSING}{extra}", False


CONVERSATION_COLUMNS = (
    "Agent",
    "Interactive tests",
    "Turns mean / max",
    "End reasons",
    "Instructor tokens",
    "Supervisor tokens",
)


def _helper(tokens: Mapping[str, Any] | None, helper: str) -> str:
    value = pick(tokens, helper)
    return MISSING if value is None else f"{value:,}"


def conversations_table(summary: Summary) -> tuple[list[str], list[list[str]]]:
    """Per agent whose interactive tests recorded how they went (turns, end reasons) or whose
    tests used helper tokens: those figures, the instructor's and supervisor's tokens apart
    from the agent's; no rows otherwise (a run without interactive tests, or one saved before
    these figures were recorded)."""
    rows = []
    for agent in ranked_agents(summary):
        talks = agent.get("interactive") or {}
        helpers = agent.get("helper_tokens")
        recorded = talks.get("end_reasons") or pick(talks, "turns_per_test", "mean") is not None
        if not recorded and not helpers:
            continue
        rows.append(
            [
                str(agent["agent_id"]),
                str(talks.get("tests", 0)),
                _mean_max(talks.get("turns_per_test")),
                end_reasons_text(talks.get("end_reasons")),
                _helper(helpers, "instructor"),
                _helper(helpers, "supervisor"),
            ]
        )
    return list(CONVERSATION_COLUMNS), rows


def percent(rate: float | None, ci: Sequence[float | None] | None = None) -> str:
    """``75% [41%, 93%]``: a rate as a percentage and its 95% interval (left out if unknown)."""
    if rate is None:
        return MISSING
    if not ci or ci[0] is None or ci[1] is None:
        return f"{rate:.0%}"
    return f"{rate:.0%} [{ci[0]:.0%}, {ci[1]:.0%}]"


def _count(value: float | None) -> str:
    return MISSING if value is None else f"{value:,.0f}"


SUBMISSIONS_COLUMNS = (
    "Agent",
    "Tasks",
    "Tries",
    "Valid % [95% CI]",
    "Baseline achieved % [95% CI]",
    "Skill [95% CI]",
    "Time mean (s)",
    "Turns mean",
    "Code cells mean",
    "Code errors mean",
    "Tokens mean",
    "Eval errors",
)
"""Tries: submissions evaluated; skill: (metric - baseline) / (best - baseline) clipped to
[0, 1], an invalid submission 0; eval errors: evaluations that failed (left out of the rest)."""

SUBMISSIONS_NOTE = (
    "Data-analysis tasks are judged by the file the agent wrote. Valid: the file parsed and had "
    "exactly the reference's ids; baseline achieved: the task's metric reached its baseline "
    "(Wilson 95% intervals); skill: (metric - baseline) / (best - baseline) clipped to [0, 1], "
    "an invalid submission counting 0 (bootstrap 95% interval); pass^k: the share of tasks "
    "where all k tries reached the baseline; eval errors: evaluations that failed, left out of "
    "every figure."
)


def _pass_hat_ks(summary: Summary) -> list[int]:
    """The k of the pass^k columns: 1, the powers of 2 below the repeats and the repeats (as
    the repeats table), when the run had more than one repeat."""
    repeats = int(summary.get("repeats") or 1)
    return k_values(repeats) if repeats > 1 else []


def submissions_table(summary: Summary) -> tuple[list[str], list[list[str]]]:
    """Per agent with data-analysis tasks (``submission`` scores): valid and achieved rates,
    mean skill, and what the tries cost; no rows when no agent has any, so a run without them
    shows none."""
    ks = _pass_hat_ks(summary)
    rows = []
    for agent in ranked_agents(summary):
        block = agent.get("submissions")
        if not block:
            continue
        hat = block.get("pass_hat_k") or {}
        rows.append(
            [
                str(agent["agent_id"]),
                str(block.get("tasks", 0)),
                str(block.get("tries", 0)),
                percent(pick(block, "valid", "rate"), pick(block, "valid", "ci")),
                percent(pick(block, "achieved", "rate"), pick(block, "achieved", "ci")),
                interval(pick(block, "skill", "mean"), pick(block, "skill", "ci")),
                seconds(pick(block, "time_s", "mean")),
                number(pick(block, "turns", "mean"), 1),
                number(pick(block, "code_cells", "mean"), 1),
                number(pick(block, "code_errors", "mean"), 1),
                _count(pick(block, "tokens", "mean")),
                str(block.get("errors", 0)),
                *(number(hat.get(str(k))) for k in ks),
            ]
        )
    return [*SUBMISSIONS_COLUMNS, *(f"pass^{k}" for k in ks)], rows


def submission_difference_lines(summary: Summary) -> list[str]:
    """A line per significant difference between two agents on their data-analysis tasks (in
    skill, or in how often they reached the baseline), or one line saying there is none; empty
    when no two agents share a task."""
    compared = [c for c in summary.get("comparisons") or [] if c.get("submissions")]
    lines = []
    for c in compared:
        sub = c["submissions"]
        a, b = c["a"], c["b"]
        if sub.get("skill_significant"):
            diff = sub["skill_diff"]
            lo, hi = sub.get("skill_diff_ci") or (None, None)
            if diff < 0:
                a, b, diff = b, a, -diff
                lo, hi = (None if hi is None else -hi), (None if lo is None else -lo)
            lines.append(
                f"data-analysis: {a} > {b} in skill by {interval(diff, (lo, hi))}, "
                f"n = {sub['n_pairs']}"
            )
        achieved = sub.get("achieved") or {}
        if achieved.get("significant"):
            better, worse = (c["a"], c["b"])
            if achieved["b_only"] > achieved["a_only"]:
                better, worse = worse, better
            lines.append(
                f"data-analysis: {better} reached the baseline more often than {worse} "
                f"({achieved['a']} vs {achieved['b']} of {sub['n_pairs']}), "
                f"McNemar p {p_value(achieved.get('p_value'))}"
            )
    if compared and not lines:
        lines.append("data-analysis: no significant difference in skill or baseline achieved")
    return lines


def difference_line(comparison: Mapping[str, Any]) -> str:
    """``qwen-7b > llama-8b by 0.08 [0.01, 0.15], McNemar p = 0.03, n = 33``, better agent first."""
    a, b = comparison["a"], comparison["b"]
    diff = comparison["mean_diff"]
    lo, hi = comparison.get("diff_ci") or (None, None)
    if diff is not None and diff < 0:
        a, b = b, a
        diff = -diff
        lo, hi = (None if hi is None else -hi), (None if lo is None else -lo)
    p = pick(comparison, "mcnemar", "p_value")
    return (
        f"{a} > {b} by {interval(diff, (lo, hi))}, McNemar p {p_value(p)}, "
        f"n = {comparison['n_pairs']}"
    )


def detectable(comparisons: Sequence[Mapping[str, Any]]) -> str:
    """The smallest detectable difference: one value, or the range over the comparisons."""
    values = sorted(
        c["min_detectable_diff"] for c in comparisons if c.get("min_detectable_diff") is not None
    )
    if not values:
        return MISSING
    low, high = number(values[0]), number(values[-1])
    return low if low == high else f"{low}–{high}"


def significant_differences(summary: Summary) -> list[str]:
    """A line per significant comparison, or one line saying none is and what could be seen.

    Empty when there is nothing to compare (a single agent).
    """
    comparisons = summary.get("comparisons") or []
    lines = [difference_line(c) for c in comparisons if c.get("significant")]
    if comparisons and not lines:
        lines.append(
            f"no significant difference; this suite can detect about {detectable(comparisons)}"
        )
    return lines


def stdout_console() -> Console:
    """A console for reports on stdout: the terminal's width, else ``$COLUMNS``, else
    :data:`PLAIN_WIDTH` columns (a pipe or a file)."""
    # rich reads $COLUMNS itself, but only when it is not given a width
    columns = os.environ.get("COLUMNS", "")
    return Console(width=None if sys.stdout.isatty() or columns.isdigit() else PLAIN_WIDTH)


def _print_table(
    console: Console,
    title: str,
    table: tuple[list[str], list[list[str]]],
    left: Sequence[str],
    labels: Mapping[str, str],
) -> bool:
    """Print ``table`` under ``title`` when it has rows, run ids shortened to ``labels``, laid
    out as the leaderboard is (cells on one line, the Agent column whole unless nothing else
    fits), its rightmost columns left out first when it is too wide, and a note naming them;
    whether it printed."""
    header, rows = table
    if not rows:
        return False
    cells = [[abbreviated(cell, labels) for cell in row] for row in rows]
    # Agent and the first figure stay; the others go from the right
    drop = [name for name in reversed(header[2:]) if name != "Agent"]
    laid_out = fit(header, cells, console.width, drop=drop, cut="Agent")
    plain = not console.is_terminal
    suffixes = [f"@{label}" for label in labels.values()]
    console.print(Text(title, style="" if plain else "bold"))
    console.print(_fitted(header, cells, laid_out, left, suffixes, plain))
    if laid_out.left_out:
        names = ", ".join(header[i] for i in laid_out.left_out)
        console.print(
            Text(f"Left out to fit {console.width} columns: {names} (report.md has them).")
        )
    return True


def print_report(summary: Summary, console: Console) -> None:
    """Print the leaderboard, the thinking of reasoning models, the code calls of agents that
    ran tests with tools (and the sandbox they ran in), the conversations of interactive tests,
    the data-analysis tasks and the significant differences; in a comparison of runs, every
    ``agent@<run_id>`` as ``agent@r1`` (the legend is under the leaderboard)."""
    labels = run_labels(summary)

    def line(text: str, style: str | None = None) -> None:
        console.print(abbreviated(text, labels), markup=False, highlight=False, style=style)

    print_leaderboard(summary, console)
    _print_table(console, "Reasoning", reasoning_table(summary), ("Agent",), labels)
    tools = ("Agent", "Protocol", "End reasons")
    _print_table(console, "Tools", tools_table(summary), tools, labels)
    for note in protocol_notes(summary):
        line(note)
    sandbox = sandbox_line(summary)
    if sandbox is not None:
        text, warning = sandbox
        line(text, "bold red" if warning else None)
    talks = ("Agent", "End reasons")
    _print_table(console, "Conversations", conversations_table(summary), talks, labels)
    _print_table(console, "Data-analysis tasks", submissions_table(summary), ("Agent",), labels)
    for text in significant_differences(summary) + submission_difference_lines(summary):
        line(text)
