"""``report.md``: the run's results as GitHub-flavoured Markdown tables.

Sections: title, leaderboard, score by category, speed, then (when a run has them) reasoning,
tools, conversations and data-analysis tasks, pairwise comparisons, repeats, and last errors by
kind and the failed tests of each agent (the first :data:`MAX_FAILURES` of each, in run order,
then a line saying how many more there are). Text from a model, a test file or an error goes
into cells through :func:`cell`, which escapes ``|``, newlines and HTML.

The text is produced line by line (:func:`markdown_lines`) from the summary and the compact
results; only the failures listed are read back in full (``load``), one at a time.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from llmbench.report.submissions import (
    COMPARISON_NOTE,
    TASK_NOTE,
    comparison_table,
    task_table,
)
from llmbench.report.terminal import (
    MISSING,
    SUBMISSIONS_NOTE,
    Summary,
    conversations_table,
    detectable,
    interval,
    leaderboard_table,
    number,
    p_value,
    pick,
    protocol_notes,
    ranked_agents,
    reasoning_table,
    sandbox_line,
    seconds,
    significant_differences,
    streamed,
    submission_difference_lines,
    submissions_table,
    tools_table,
)
from llmbench.scoring.scored import ScoredResult

Record = Mapping[str, Any]
"""One scored record (docs/summary-format.md)."""
Load = Callable[[int], Record]
"""The full scored record of ``results[j]``."""

MAX_CELL = 200
MAX_FAILURES = 200
"""Failed tests listed per agent; the rest are counted."""
_NEWLINES = re.compile(r"\r\n|\r|\n")
LIMITS = frozenset({"max_turns", "tool_limit", "time_limit", "token_limit"})
"""End reasons of a test stopped at a limit: still scored, and named beside a failure."""


def cell(value: Any, max_len: int = MAX_CELL) -> str:
    """``value`` as one table cell: ``|`` escaped, newlines as ``<br>``, HTML escaped, shortened."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if len(text) > max_len:
        text = text[: max_len - 1] + "…"
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _NEWLINES.sub("<br>", text.replace("|", "\\|"))


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    """A Markdown table; every header and value goes through :func:`cell`."""
    lines = [
        "| " + " | ".join(cell(h) for h in header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return [*lines, ""]


def _leaderboard(summary: Summary) -> list[str]:
    header, rows = leaderboard_table(summary)
    ranked = [[rank, *row] for rank, row in enumerate(rows, 1)]
    return ["## Leaderboard", "", *table(["#", *header], ranked)]


def _categories(summary: Summary) -> list[str]:
    agents = ranked_agents(summary)
    names = sorted({name for agent in agents for name in agent.get("categories") or {}})
    rows = []
    for name in names:
        row: list[str] = [name]
        for agent in agents:
            quality = (agent.get("categories") or {}).get(name)
            row.append(
                interval(quality["mean_score"], quality.get("score_ci")) if quality else MISSING
            )
        rows.append(row)
    header = ["Category", *(str(a["agent_id"]) for a in agents)]
    return ["## Score by category", "", "Mean score [95% CI].", "", *table(header, rows)]


def _speed(summary: Summary) -> list[str]:
    header = [
        "Agent",
        "Latency p50 (s)",
        "p95",
        "p99",
        "TTFT p50 (s)",
        "TTFT p95",
        "Tokens/s p50",
        "Prompt tokens",
        "Completion tokens",
    ]
    rows = []
    for agent in ranked_agents(summary):
        speed = agent.get("speed")
        rows.append(
            [
                agent["agent_id"],
                *(seconds(pick(speed, "latency_s", q)) for q in ("p50", "p95", "p99")),
                *(
                    streamed(speed, seconds(pick(speed, "time_to_first_token_s", q)))
                    for q in ("p50", "p95")
                ),
                streamed(speed, number(pick(speed, "tokens_per_second", "p50"), 1)),
                str(pick(speed, "prompt_tokens") or 0),
                str(pick(speed, "completion_tokens") or 0),
            ]
        )
    return ["## Speed", "", *table(header, rows)]


def _reasoning(summary: Summary) -> list[str]:
    """The thinking of the agents that thought; nothing when none did."""
    header, rows = reasoning_table(summary)
    if not rows:
        return []
    note = (
        "Thinking is kept apart from the answer (scorers see only the answer); TTFT counts the "
        "first token of any kind, tokens/s every token, thinking included."
    )
    return ["## Reasoning", "", note, "", *table(header, rows)]


def _tools(summary: Summary) -> list[str]:
    """The code calls of the agents that ran tests with tools, the sandbox they ran in and why
    each protocol was chosen; nothing when no agent ran tests with tools."""
    header, rows = tools_table(summary)
    sandbox = sandbox_line(summary)
    if not rows and sandbox is None:
        return []
    lines = ["## Tools", ""]
    if sandbox is not None:
        text, warning = sandbox
        lines += [f"**{cell(text)}**" if warning else cell(text), ""]
    if rows:
        note = (
            "Tests: tests with tools; calls: code calls; errors: calls that raised; timeouts: "
            "calls stopped at their time limit; restarts: the agent's Python session killed and "
            "started again (state lost)."
        )
        lines += [note, "", *table(header, rows)]
    notes = [f"- {cell(line)}" for line in protocol_notes(summary)]
    return [*lines, *notes, ""] if notes else lines


def _conversations(summary: Summary) -> list[str]:
    """Turns and end reasons of interactive tests, and the helpers' tokens; nothing when no
    agent recorded any."""
    header, rows = conversations_table(summary)
    if not rows:
        return []
    note = (
        "Instructor and supervisor tokens are the helpers' own, never counted in the agent's "
        "prompt and completion tokens."
    )
    return ["## Conversations", "", note, "", *table(header, rows)]


def _submissions(summary: Summary) -> list[str]:
    """The data-analysis tasks: per agent, per task and agent against each other; nothing when
    no agent has a submission score."""
    header, rows = submissions_table(summary)
    if not rows:
        return []
    lines = ["## Data-analysis tasks", "", SUBMISSIONS_NOTE, "", *table(header, rows)]
    task_header, task_rows = task_table(summary)
    lines += ["### Per task", "", TASK_NOTE, "", *table(task_header, task_rows)]
    pair_header, pair_rows = comparison_table(summary)
    if pair_rows:
        notes = [f"- {cell(line)}" for line in submission_difference_lines(summary)]
        lines += ["### Paired", "", COMPARISON_NOTE, "", *table(pair_header, pair_rows), *notes]
        lines.append("")
    return lines


def _verdict(comparison: Mapping[str, Any]) -> str:
    if not comparison.get("significant"):
        return "not significant"
    diff = comparison["mean_diff"] or 0.0
    return f"significant: {comparison['a'] if diff > 0 else comparison['b']} better"


def _comparisons(summary: Summary) -> list[str]:
    comparisons = summary.get("comparisons") or []
    if not comparisons:
        return []
    header = [
        "A",
        "B",
        "Pairs",
        "Mean A",
        "Mean B",
        "A − B [95% CI]",
        "A only / B only passed",
        "McNemar p",
        "Verdict",
        "Min detectable",
    ]
    rows = [
        [
            c["a"],
            c["b"],
            c["n_pairs"],
            number(c["mean_a"]),
            number(c["mean_b"]),
            interval(c["mean_diff"], c.get("diff_ci")),
            f"{pick(c, 'mcnemar', 'a_only')} / {pick(c, 'mcnemar', 'b_only')}",
            p_value(pick(c, "mcnemar", "p_value")).removeprefix("= "),
            _verdict(c),
            number(c.get("min_detectable_diff")),
        ]
        for c in comparisons
    ]
    notes = [f"- {line}" for line in significant_differences(summary)]
    intro = (
        "Paired over the (test, repeat) pairs both agents scored; significant when the "
        "bootstrap 95% interval of the difference excludes 0. With these pairs a difference "
        f"smaller than about {detectable(comparisons)} cannot be told from noise."
    )
    return ["## Comparisons", "", intro, "", *table(header, rows), *notes, ""]


def _repeats(summary: Summary) -> list[str]:
    agents = [a for a in ranked_agents(summary) if a.get("repeats")]
    if not agents:
        return []
    ks = sorted({int(k) for a in agents for k in a["repeats"]["pass_at_k"]})
    header = [
        "Agent",
        *(f"pass@{k}" for k in ks),
        *(f"pass^{k}" for k in ks),
        "Agreement",
    ]
    rows = [
        [
            a["agent_id"],
            *(number(a["repeats"]["pass_at_k"].get(str(k))) for k in ks),
            *(number(a["repeats"]["pass_hat_k"].get(str(k))) for k in ks),
            number(a["repeats"]["agreement"]),
        ]
        for a in agents
    ]
    intro = (
        f"{summary.get('repeats')} repeats per test. pass@k: at least one of k samples passes; "
        "pass^k: all k pass; agreement: share of repeats agreeing with the majority."
    )
    return ["## Repeats", "", intro, "", *table(header, rows)]


def _scoring_errors(results: Sequence[ScoredResult]) -> Counter[str]:
    return Counter(r.agent_id for r in results if r.status == "ok" and r.scoring_error)


def _errors(summary: Summary, results: Sequence[ScoredResult]) -> list[str]:
    scoring = _scoring_errors(results)
    rows = []
    for agent in ranked_agents(summary):
        kinds = dict(pick(agent, "speed", "errors_by_kind") or {})
        if scoring[agent["agent_id"]]:
            kinds["scoring"] = scoring[agent["agent_id"]]
        rows += [[agent["agent_id"], kind, count] for kind, count in sorted(kinds.items())]
    if not rows:
        return ["## Errors", "", "None.", ""]
    return ["## Errors", "", *table(["Agent", "Kind", "Count"], rows)]


def failure_reason(record: Record) -> str | None:
    """Why ``record`` did not pass (its request error, scoring error or first failing
    scorer's reason), or ``None`` when it passed."""
    scoring = record.get("scoring") or {}
    if record["status"] != "ok":
        kind = record.get("error_kind") or record["status"]
        message = record.get("error_message")
        if not message:
            return str(kind)
        # older journals say "cancelled: the run was cancelled": the kind once, not twice
        return message if message.startswith(f"{kind}:") else f"{kind}: {message}"
    if record.get("reasoning_truncated") and scoring.get("passed") is not True:
        return "ran out of tokens while thinking (no answer; raise max_tokens)"
    if scoring.get("error"):
        return f"scoring error: {scoring['error']}"
    if scoring.get("passed") is not False:
        return None
    for score in scoring.get("scores") or []:
        if not score.get("secondary") and score.get("passed") is False:
            return f"{score['scorer']}: {score.get('reason') or ''}"
    return "failed"


def _failures(
    summary: Summary, results: Sequence[ScoredResult], load: Load, limit: int
) -> Iterator[str]:
    yield from [
        "## Failed tests",
        "",
        "Failed, errored or not scored; the reason is the request error, the scoring error or "
        "the first failing scorer's.",
        "",
    ]
    for agent in ranked_agents(summary):
        agent_id = agent["agent_id"]
        rows: list[list[Any]] = []
        more = 0
        for j, result in enumerate(results):
            if result.agent_id != agent_id or not result.failed:
                continue
            if len(rows) >= limit:
                more += 1
                continue
            r = load(j)
            reason = failure_reason(r) or "failed"
            if r.get("end_reason") in LIMITS:
                reason = f"{reason} (stopped: {r['end_reason']})"
            rows.append([r["test_id"], r["repeat"], r["category"], reason])
        yield from [f"### {cell(agent_id)}", ""]
        if rows:
            yield from table(["Test", "Repeat", "Category", "Reason"], rows)
        else:
            yield from ["None.", ""]
        if more:
            yield from [f"... and {more} more, see results.jsonl", ""]


def markdown_lines(
    summary: Summary,
    results: Sequence[ScoredResult],
    load: Load,
    *,
    max_failures: int = MAX_FAILURES,
) -> Iterator[str]:
    """The lines of ``report.md`` (without their newlines), one section after another.

    ``results`` are the compact results of the run in run order; ``load(j)`` gives the full
    record of ``results[j]``, which is asked only for the failures listed (``max_failures``
    per agent).
    """
    title = [
        f"# llmbench report: {cell(summary['run_id'])}",
        "",
        f"Status: **{cell(summary['status'])}** · repeats: {summary.get('repeats', 1)} · "
        f"generated {cell(summary.get('generated_at') or MISSING)}",
        "",
    ]
    sections: list[Iterable[str]] = [
        title,
        _leaderboard(summary),
        _categories(summary),
        _speed(summary),
        _reasoning(summary),
        _tools(summary),
        _conversations(summary),
        _submissions(summary),
        _comparisons(summary),
        _repeats(summary),
        _errors(summary, results),
        _failures(summary, results, load, max_failures),
    ]
    held: list[str] = []  # blank lines held back: the text ends with its last non-blank line
    for section in sections:
        for line in section:
            if not line.strip():
                held.append(line)
                continue
            yield from held
            held.clear()
            yield line


def render_markdown(
    summary: Summary,
    results: Sequence[ScoredResult],
    load: Load,
    *,
    max_failures: int = MAX_FAILURES,
) -> str:
    """The whole ``report.md`` text (see :func:`markdown_lines`)."""
    return "".join(
        f"{line}\n" for line in markdown_lines(summary, results, load, max_failures=max_failures)
    )
