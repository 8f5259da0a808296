"""``report.html``: one self-contained page that works offline.

The page skeleton, the leaderboard and the significant differences are rendered here, every
value through :func:`html.escape`. The summary and the records travel in a
``<script type="application/json" id="data">`` block in which every ``<``, ``>`` and ``&`` is a
JSON ``\\u`` escape, so no text (``</script>``, ``<!--``) can end or alter the block;
``assets/report.js`` parses it and draws the charts (inline SVG) and the record table, inserting
model and test text with ``textContent`` only. CSS and JS are inlined from package data, and a
Content-Security-Policy allows exactly those two (by hash) and nothing from the network.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from html import escape
from importlib import resources
from typing import Any

from llmbench.report.terminal import (
    LEADERBOARD_COLUMNS,
    MISSING,
    Summary,
    leaderboard_row,
    ranked_agents,
    significant_differences,
)

Record = Mapping[str, Any]
"""One scored record (docs/summary-format.md)."""


def asset(name: str) -> str:
    """The text of ``assets/<name>``, shipped as package data."""
    return resources.files("llmbench.report").joinpath("assets", name).read_text("utf-8")


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as ``None``: the data block must be valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def data_block(summary: Summary, records: Sequence[Record]) -> str:
    """The JSON text for the data ``<script>``, safe inside HTML."""
    text = json.dumps(
        _finite({"summary": summary, "records": list(records)}),
        ensure_ascii=False,
        default=str,
        allow_nan=False,
    )
    # \u003c also covers "</" and "<!--"; JSON.parse reads the escapes back as the characters
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _csp_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def _leaderboard(summary: Summary) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in ("#", *LEADERBOARD_COLUMNS))
    rows = []
    for rank, agent in enumerate(ranked_agents(summary), 1):
        cells = "".join(f"<td>{escape(v)}</td>" for v in (str(rank), *leaderboard_row(agent)))
        rows.append(f"<tr>{cells}</tr>")
    return (
        '<table id="leaderboard"><thead><tr>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _differences(summary: Summary) -> str:
    lines = significant_differences(summary) or ["one agent: nothing to compare"]
    items = "".join(f"<li>{escape(line)}</li>" for line in lines)
    return f'<ul id="differences">{items}</ul>'


def _figure(chart_id: str, caption: str) -> str:
    return (
        f'<figure class="chart"><figcaption>{escape(caption)}</figcaption>'
        f'<div id="{chart_id}"></div></figure>'
    )


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


def render_html(summary: Summary, records: Sequence[Record]) -> str:
    """The whole ``report.html`` text."""
    css, js = asset("report.css"), asset("report.js")
    csp = (
        f"default-src 'none'; style-src {_csp_hash(css)}; script-src {_csp_hash(js)}; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    run_id = escape(str(summary["run_id"]))
    meta = (
        f"Status: <strong>{escape(str(summary['status']))}</strong> · repeats: "
        f"{escape(str(summary.get('repeats', 1)))} · generated "
        f"{escape(str(summary.get('generated_at') or MISSING))}"
    )
    body = [
        f"<header><h1>llmbench report: {run_id}</h1><p>{meta}</p></header>",
        "<main>",
        f"<section><h2>Leaderboard</h2>{_leaderboard(summary)}</section>",
        f"<section><h2>Significant differences</h2>{_differences(summary)}</section>",
        '<section><h2>Charts</h2><div class="charts">',
        _figure("chart-categories", "Mean score by category, with 95% intervals"),
        _figure("chart-quality-speed", "Quality against speed: mean score vs tokens/s p50"),
        _figure("chart-latency", "Latency per request (s): box plot of successful requests"),
        "</div></section>",
        f"<section><h2>Records</h2>{_RECORD_CONTROLS}</section>",
        "</main>",
        '<noscript><p class="note">Charts and the record table need JavaScript.</p></noscript>',
    ]
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>llmbench report {run_id}</title>",
            f"<style>{css}</style></head><body>",
            *body,
            f'<script type="application/json" id="data">{data_block(summary, records)}</script>',
            f"<script>{js}</script>",
            "</body></html>",
            "",
        ]
    )
