"""``report.html``: one self-contained page that works offline.

The page skeleton, the leaderboard, the significant differences and, when a run has them, the
reasoning, tools (with the sandbox's isolation), conversations and data-analysis tables
(:mod:`llmbench.report.submissions`) and pass@k
(:mod:`llmbench.report.repeats`) are rendered here, every value through :func:`html.escape`.
The summary, the charts (:func:`llmbench.report.charts.chart_specs`: Vega-Lite specs, data
inline) and the records travel in a ``<script type="application/json" id="data">`` block in
which every ``<``, ``>`` and ``&`` is a JSON ``\\u`` escape, so no text (``</script>``,
``<!--``) can end or alter the block. ``assets/report.js`` parses it, hands the charts to
``llmbenchCharts`` (``assets/charts.js``, drawn by the vendored Vega, Vega-Lite and vega-embed)
and draws the record table, inserting model and test text with ``textContent`` only. CSS and
every script are inlined from package data, and a Content-Security-Policy allows exactly those
(by hash) and nothing from the network; Vega runs with its expression interpreter, so the
policy needs no ``'unsafe-eval'``.

The charts are computed over every result, so they show the whole run. The record table holds
at most :data:`MAX_RECORDS` records (:func:`select_records`): all of them when there are no
more; otherwise every failed, errored or unscored result first (spread evenly over them in run
order when they alone are too many), then passing results spread evenly over the run (agents,
repeats, tests) for the places left.
The page then says so: "Showing N of M results; all results are in results.jsonl". The text is
produced piece by piece (:func:`html_chunks`), one record at a time.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any

from llmbench import jsonio
from llmbench.report.charts import Chart, chart_css, chart_specs, vendor_scripts
from llmbench.report.figures import spread
from llmbench.report.repeats import REPEATS_NOTE, repeats_table
from llmbench.report.submissions import (
    COMPARISON_NOTE,
    TASK_NOTE,
    comparison_table,
    submission_preview,
    task_table,
)
from llmbench.report.terminal import (
    MISSING,
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
from llmbench.scoring.scored import ScoredResult

Record = Mapping[str, Any]
"""One scored record (docs/summary-format.md)."""
Load = Callable[[int], Record]
"""The full scored record of ``results[j]``."""

MAX_RECORDS = 2000
"""Records embedded in the page at most."""


def asset(name: str) -> str:
    """The text of ``assets/<name>``, shipped as package data."""
    return resources.files("llmbench.report").joinpath("assets", name).read_text("utf-8")


def _json(value: Any) -> str:
    """``value`` as JSON text that is safe inside a ``<script>`` block (NaN and infinities are
    ``null``)."""
    text = jsonio.dumps(value)
    # \u003c also covers "</" and "<!--"; JSON.parse reads the escapes back as the characters
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def data_block(
    summary: Summary,
    records: Iterable[Record],
    *,
    charts: Sequence[Chart] = (),
    total: int | None = None,
) -> Iterator[str]:
    """The JSON text for the data ``<script>``, safe inside HTML, a record at a time:
    ``{"summary": ..., "charts": [...], "total": ..., "records": [...]}``."""
    yield f'{{"summary": {_json(summary)}, "charts": {_json(list(charts))}, '
    yield f'"total": {_json(total)}, "records": ['
    for n, r in enumerate(records):
        yield f"{', ' if n else ''}{_json(r)}"
    yield "]}"


def select_records(results: Sequence[ScoredResult], limit: int = MAX_RECORDS) -> list[int]:
    """Which results the page embeds, as indexes in run order (see the module docstring)."""
    if len(results) <= limit:
        return list(range(len(results)))
    failed = [j for j, r in enumerate(results) if r.failed]
    chosen = spread(failed, limit)
    if len(chosen) < limit:
        passed = [j for j, r in enumerate(results) if not r.failed]
        chosen += spread(passed, limit - len(chosen))
    return sorted(chosen)


def csp_hash(text: str) -> str:
    """``'sha256-...'``: the Content-Security-Policy source that allows exactly the inline
    ``<script>`` or ``<style>`` whose text is ``text``."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def _table(table_id: str, header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A table of text cells, every cell escaped."""
    head = "".join(f"<th>{escape(c)}</th>" for c in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _leaderboard(summary: Summary) -> str:
    header, table = leaderboard_table(summary)
    ranked = ([str(rank), *row] for rank, row in enumerate(table, 1))
    return _table("leaderboard", ("#", *header), ranked)


def _repeats(summary: Summary) -> str:
    """The pass@k section, or nothing when the run had one repeat."""
    header, rows = repeats_table(summary)
    if not rows:
        return ""
    return (
        f"<section><h2>Repeats</h2><p>{escape(str(summary.get('repeats')))} repeats per test. "
        f"{escape(REPEATS_NOTE)}</p>{_table('repeats', header, rows)}</section>"
    )


def _reasoning(summary: Summary) -> str:
    """The thinking of the agents that thought, or nothing when none did."""
    header, rows = reasoning_table(summary)
    if not rows:
        return ""
    return (
        "<section><h2>Reasoning</h2><p>Thinking is kept apart from the answer; each record "
        f"shows it folded.</p>{_table('reasoning', header, rows)}</section>"
    )


def _tools(summary: Summary) -> str:
    """The code calls of the agents that ran tests with tools and the sandbox's isolation, or
    nothing when no agent ran tests with tools."""
    header, rows = tools_table(summary)
    sandbox = sandbox_line(summary)
    if not rows and sandbox is None:
        return ""
    parts = ["<section><h2>Tools</h2>"]
    if sandbox is not None:
        text, warning = sandbox
        css = "warning" if warning else "note"
        parts.append(f'<p class="{css}" id="sandbox">{escape(text)}</p>')
    if rows:
        parts.append(
            "<p>Tests: tests with tools; calls: code calls; errors: calls that raised; "
            "timeouts: calls stopped at their time limit; restarts: the agent's Python session "
            f"killed and started again (state lost).</p>{_table('tools', header, rows)}"
        )
    notes = "".join(f"<li>{escape(line)}</li>" for line in protocol_notes(summary))
    if notes:
        parts.append(f'<ul id="protocol-notes">{notes}</ul>')
    parts.append("</section>")
    return "".join(parts)


def _conversations(summary: Summary) -> str:
    """Turns, end reasons and helper tokens of interactive tests, or nothing without them."""
    header, rows = conversations_table(summary)
    if not rows:
        return ""
    return (
        "<section><h2>Conversations</h2><p>Instructor and supervisor tokens are the helpers' "
        "own, never counted in the agent's tokens.</p>"
        f"{_table('conversations', header, rows)}</section>"
    )


def _submissions(summary: Summary) -> str:
    """The data-analysis tasks per agent, per task (the metric against the baseline and best)
    and paired, or nothing when no agent has a submission score."""
    header, rows = submissions_table(summary)
    if not rows:
        return ""
    task_header, task_rows = task_table(summary)
    parts = [
        f"<section><h2>Data-analysis tasks</h2><p>{escape(SUBMISSIONS_NOTE)}</p>",
        _table("submissions", header, rows),
        f"<h3>Per task</h3><p>{escape(TASK_NOTE)}</p>",
        _table("submission-tasks", task_header, task_rows),
        '<div class="charts" id="submission-charts"></div>',
    ]
    pair_header, pair_rows = comparison_table(summary)
    if pair_rows:
        items = "".join(f"<li>{escape(line)}</li>" for line in submission_difference_lines(summary))
        parts += [
            f"<h3>Paired</h3><p>{escape(COMPARISON_NOTE)}</p>",
            _table("submission-comparisons", pair_header, pair_rows),
            f'<ul id="submission-differences">{items}</ul>',
        ]
    parts.append("</section>")
    return "".join(parts)


def _with_preview(record: Record, files_root: Path | None) -> Record:
    """``record`` with ``submission_preview`` (:func:`submission_preview`) when its submitted
    file was saved under ``files_root``."""
    if files_root is None:
        return record
    preview = submission_preview(files_root, record)
    return record if preview is None else {**record, "submission_preview": preview}


def _differences(summary: Summary) -> str:
    lines = significant_differences(summary) or ["one agent: nothing to compare"]
    items = "".join(f"<li>{escape(line)}</li>" for line in lines)
    return f'<ul id="differences">{items}</ul>'


def _charts(charts: Sequence[Chart]) -> str:
    """The holder of the charts (report.js draws them), or nothing when the run has none but
    the data-analysis one, which its own section holds."""
    if not any(c["id"] != "submissions" for c in charts):
        return ""
    return '<section><h2>Charts</h2><div class="charts" id="charts"></div></section>'


_RECORD_CONTROLS = """
<div class="controls">
  <input id="filter-text" type="search" placeholder="Filter: test, agent, answer…"
         aria-label="Filter records by text">
  <select id="filter-agent" aria-label="Agent"><option value="">All agents</option></select>
  <select id="filter-category" aria-label="Category">
    <option value="">All categories</option></select>
  <label title="failed, errored or not scored"><input id="filter-failed" type="checkbox">
    only failed</label>
  <span id="record-count" aria-live="polite"></span>
</div>
<table id="records"><thead><tr>
  <th data-key="agent_id">Agent</th><th data-key="test_id">Test</th>
  <th data-key="category">Category</th><th data-key="repeat">Repeat</th>
  <th data-key="status">Status</th><th data-key="score">Score</th>
  <th data-key="passed">Passed</th><th data-key="execution_time">Latency (s)</th>
</tr></thead><tbody></tbody></table>
"""


def _records_note(shown: int, total: int) -> str:
    if shown >= total:
        return ""
    return (
        f'<p class="note" id="records-note">Showing {shown:,} of {total:,} results (failed, '
        "errored and unscored ones first, then passing ones spread over the run); all results "
        "are in results.jsonl.</p>"
    )


def html_chunks(
    summary: Summary,
    results: Sequence[ScoredResult],
    load: Load,
    *,
    max_records: int = MAX_RECORDS,
    files_root: Path | None = None,
) -> Iterator[str]:
    """The ``report.html`` text, piece by piece.

    ``results`` are the compact results of the run in run order; ``load(j)`` gives the full
    record of ``results[j]``, asked only for the records embedded (:func:`select_records`).
    ``files_root``: the run directory whose files folders hold the agents' submissions (their
    first lines go into the records as ``submission_preview``); None: none shown.
    """
    css = chart_css() + asset("report.css")
    # records.js draws a record's detail for the viewer too: joined with report.js, one hash
    scripts = [*vendor_scripts(), asset("records.js") + "\n" + asset("report.js")]
    csp = (
        f"default-src 'none'; style-src {csp_hash(css)}; "
        f"script-src {' '.join(map(csp_hash, scripts))}; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    charts = chart_specs(summary, results)
    run_id = escape(str(summary["run_id"]))
    meta = (
        f"Status: <strong>{escape(str(summary['status']))}</strong> · repeats: "
        f"{escape(str(summary.get('repeats', 1)))} · generated "
        f"{escape(str(summary.get('generated_at') or MISSING))}"
    )
    chosen = select_records(results, max_records)
    note = _records_note(len(chosen), len(results))
    body = [
        f"<header><h1>llmbench report: {run_id}</h1><p>{meta}</p></header>",
        "<main>",
        f"<section><h2>Leaderboard</h2>{_leaderboard(summary)}</section>",
        _reasoning(summary),
        _tools(summary),
        _conversations(summary),
        _submissions(summary),
        f"<section><h2>Significant differences</h2>{_differences(summary)}</section>",
        _repeats(summary),
        _charts(charts),
        f"<section><h2>Records</h2>{note}{_RECORD_CONTROLS}</section>",
        "</main>",
        '<noscript><p class="note">Charts and the record table need JavaScript.</p></noscript>',
    ]
    yield "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>llmbench report {run_id}</title>",
            f"<style>{css}</style></head><body>",
            *body,
            '<script type="application/json" id="data">',
        ]
    )
    yield from data_block(
        summary,
        (_with_preview(load(j), files_root) for j in chosen),
        charts=charts,
        total=len(results),
    )
    yield "\n".join(
        ["</script>", *(f"<script>{js}</script>" for js in scripts), "</body></html>", ""]
    )


def render_html(
    summary: Summary,
    results: Sequence[ScoredResult],
    load: Load,
    *,
    max_records: int = MAX_RECORDS,
    files_root: Path | None = None,
) -> str:
    """The whole ``report.html`` text (see :func:`html_chunks`)."""
    return "".join(
        html_chunks(summary, results, load, max_records=max_records, files_root=files_root)
    )
