"""The charts of a scored run as Vega-Lite specs, data inline: what ``report.html`` draws and
what ``llmbench view`` reuses.

The interface (the viewer relies on exactly these shapes):

- :func:`chart_specs` ``(summary, results) -> list[dict]``: one item per chart that has data,
  in display order, each ``{"id": str, "title": str, "caption": str, "spec": dict}``; ``spec``
  is a Vega-Lite 6 spec with its data inline, and the whole item is JSON-serialisable (no NaN:
  a missing value is ``None``). Ids: ``categories``, ``quality-speed``, ``latency``, ``ttft``,
  ``tokens-per-second``, ``latency-prompt`` and ``submissions`` (data-analysis tasks).
- :func:`vendor_scripts` ``() -> list[str]``: the JavaScript texts a page loads, in this
  order, to draw them: Vega, Vega-Lite, vega-embed (``assets/vendor/``, see its README), then
  ``assets/charts.js``, which defines ``llmbenchCharts(container, charts)``: one
  ``<figure class="chart" id="chart-<id>">`` per item appended to ``container`` (title and
  caption set as text), drawn as SVG with Vega's CSP-safe expression interpreter (no
  ``eval``), no action menu and a tooltip built with ``textContent`` only; it returns a
  Promise, and sets ``data-state`` to ``rendered`` or ``failed`` on each figure.
- :func:`chart_css` ``() -> str``: the style sheet those figures and the tooltip need
  (``assets/charts.css``).

Every figure is computed over every result (:mod:`llmbench.report.figures`), so a chart shows
the whole run however few records a page embeds, and the data stays bounded however large the
run: the box plots carry five figures and at most ``MAX_OUTLIERS`` outliers per agent, the
scatter plot at most ``max_points`` points (spread evenly over each agent's requests). Speed
figures leave out failed requests and answers from the response cache (they were not timed).
Each agent has one colour in every chart (its place in the leaderboard, best first, picks it),
every axis title gives its unit, every mark has a tooltip, and labels are drawn whole up to
:data:`LABEL_LIMIT` pixels (Vega-Lite lays the chart out around them; legends go below the
plot so they take none of its width). The run's text (agent ids, categories, test ids) is only
ever data: inline rows, scale domains and legend entries, never part of an expression.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from typing import Any

from llmbench.report.figures import boxes, latency_boxes, spread, timed
from llmbench.report.submissions import metric
from llmbench.report.terminal import Summary, interval, number, pick, ranked_agents
from llmbench.scoring.scored import ScoredResult

Chart = dict[str, Any]
"""``{"id", "title", "caption", "spec"}`` (see the module docstring)."""

MAX_POINTS = 2000
"""Points of the latency-against-prompt-length scatter plot at most, over all agents."""
SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"
"""Names the spec's language for vega-embed; never fetched."""
PALETTE = (
    # Okabe-Ito (colour-blind safe), then Tableau's: one colour per agent up to 16
    *("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000"),
    *("#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#9c755f", "#bab0ac", "#76b7b2", "#ff9da7"),
)
LABEL_LIMIT = 260
"""Pixels of an axis or legend label at most (about 45 characters): Vega lays the chart out
around labels up to this long, and ends a longer one with "…" (its mark's tooltip and the
tables have it whole), so that one absurd name cannot squeeze the plot to nothing."""
LEGEND_WIDTH = 320
"""Pixels a legend below a chart may take (the narrowest figure is 22rem): its columns are as
many as fit."""
VENDOR = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js")
"""``assets/vendor/`` scripts in load order."""

_CONFIG: dict[str, Any] = {
    "axis": {"labelLimit": LABEL_LIMIT, "titleLimit": 0, "labelFontSize": 11, "titleFontSize": 11},
    "legend": {"labelLimit": LABEL_LIMIT, "titleLimit": 0, "labelFontSize": 11},
    "font": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif",
    "view": {"stroke": None},
}


def _asset(*parts: str) -> str:
    return resources.files("llmbench.report").joinpath("assets", *parts).read_text("utf-8")


def vendor_scripts() -> list[str]:
    """The scripts that draw :func:`chart_specs`' charts, in load order (module docstring)."""
    return [*(_asset("vendor", name) for name in VENDOR), _asset("charts.js")]


def chart_css() -> str:
    """The style sheet of the chart figures and their tooltip."""
    return _asset("charts.css")


# ---- shared parts of the specs ----


def _spec(**parts: Any) -> dict[str, Any]:
    # the width of the page's figure; the height fixed, or from the number of rows
    autosize = {"type": "fit-x", "contains": "padding"}
    return {
        "$schema": SCHEMA,
        "width": "container",
        "autosize": autosize,
        "config": _CONFIG,
        **parts,
    }


def _rows_height(rows: int, step: int) -> int:
    """The plot height for ``rows`` bars or boxes of ``step`` pixels (a fixed height, not
    Vega-Lite's ``{"step": ...}``, which cannot be combined with a width that fits the page)."""
    return max(60, rows * step)


def _color(agents: Sequence[str], shown: Sequence[str]) -> dict[str, Any]:
    """The agent colour encoding: the same colour for an agent in every chart, a legend of the
    agents ``shown``."""
    return {
        "field": "agent",
        "type": "nominal",
        "title": "agent",
        "scale": {
            "domain": list(agents),
            "range": [PALETTE[i % len(PALETTE)] for i in range(len(agents))],
        },
        "legend": _legend(shown),
    }


def _legend(shown: Sequence[str]) -> dict[str, Any]:
    """A legend below the chart, where it takes no width from the plot, in as many columns as
    its longest label leaves room for (estimated at 7 px a character, the symbol 25 px)."""
    longest = min(LABEL_LIMIT, 7 * max((len(a) for a in shown), default=1)) + 25
    columns = max(1, min(len(shown), LEGEND_WIDTH // longest))
    return {"values": list(shown), "orient": "bottom", "direction": "vertical", "columns": columns}


def _band(field: str, domain: Sequence[str]) -> dict[str, Any]:
    """A discrete axis in exactly the order of ``domain``."""
    return {
        "field": field,
        "type": "nominal",
        "title": None,
        "sort": None,
        "scale": {"domain": list(domain)},
        "axis": {"labelLimit": LABEL_LIMIT},
    }


def _offset(agents: Sequence[str]) -> dict[str, Any]:
    """Bars side by side, one per agent, in the order of ``agents``. The explicit domain sets
    that order; a sort (of no effect beside it) keeps Vega-Lite from deriving one from the
    colour domain as an expression that would spell out every agent id."""
    return {
        "field": "agent",
        "type": "nominal",
        "sort": "ascending",
        "scale": {"domain": list(agents)},
    }


def _tips(*fields: tuple[str, str]) -> list[dict[str, Any]]:
    """Tooltip fields ``(field, title)``, all pre-formatted text."""
    return [{"field": f, "type": "nominal", "title": t} for f, t in fields]


def _names(agents: Sequence[Mapping[str, Any]]) -> list[str]:
    return [str(a["agent_id"]) for a in agents]


def _chart(chart_id: str, title: str, caption: str, spec: dict[str, Any]) -> Chart:
    return {"id": chart_id, "title": title, "caption": caption, "spec": spec}


# ---- the charts ----


def categories_chart(summary: Summary) -> Chart | None:
    """Mean score per category and agent, with its 95% interval: horizontal bars, so a long
    category name has room."""
    agents = ranked_agents(summary)
    rows = []
    for a in agents:
        for category, q in sorted((a.get("categories") or {}).items()):
            if q.get("mean_score") is None:
                continue
            ci = q.get("score_ci") or [None, None]
            rows.append(
                {
                    "agent": str(a["agent_id"]),
                    "category": str(category),
                    "mean": q["mean_score"],
                    "low": ci[0],
                    "high": ci[1],
                    "tip_score": interval(q["mean_score"], q.get("score_ci")),
                    "tip_pass": interval(q.get("pass_rate"), q.get("pass_ci")),
                    "tip_n": f"{q.get('scored', q.get('n'))} scored, {q.get('errors', 0)} errors",
                }
            )
    if not rows:
        return None
    names = _names(agents)
    shown = [n for n in names if any(r["agent"] == n for r in rows)]
    tips = _tips(
        ("agent", "agent"),
        ("category", "category"),
        ("tip_score", "mean score [95% CI]"),
        ("tip_pass", "pass rate [95% CI]"),
        ("tip_n", "results"),
    )
    categories = sorted({str(r["category"]) for r in rows})
    common: dict[str, Any] = {
        "y": _band("category", categories),
        "yOffset": _offset(shown),
        "tooltip": tips,
    }
    score: dict[str, Any] = {
        "type": "quantitative",
        "scale": {"domain": [0, 1]},
        "title": "mean score (0–1)",
    }
    # stack None: one bar per place, and no sort expression built from the agent ids
    x: dict[str, Any] = {**score, "field": "mean", "stack": None}
    bar = {**common, "x": x, "color": _color(names, shown)}
    spec = _spec(
        data={"values": rows},
        height=_rows_height(len(categories) * len(shown), 14),
        layer=[
            {"mark": {"type": "bar"}, "encoding": bar},
            {
                "mark": {"type": "rule", "color": "#1d2330"},
                "encoding": {**common, "x": {"field": "low", **score}, "x2": {"field": "high"}},
            },
        ],
    )
    caption = (
        "Mean score of each agent per category; the black line is its 95% interval "
        "(bootstrap). Hover a bar for the pass rate and counts."
    )
    return _chart("categories", "Score by category", caption, spec)


def _speed(agent: Mapping[str, Any]) -> float | None:
    value = pick(agent, "speed", "tokens_per_second", "p50")
    return value if isinstance(value, int | float) else None


def quality_speed_chart(summary: Summary) -> Chart | None:
    """Mean score against tokens/s (p50), one point per agent, with its score interval."""
    agents = ranked_agents(summary)
    rows = []
    for a in agents:
        mean, tps = a["quality"].get("mean_score"), _speed(a)
        if mean is None or tps is None:
            continue
        ci = a["quality"].get("score_ci") or [None, None]
        rows.append(
            {
                "agent": str(a["agent_id"]),
                "tps": tps,
                "mean": mean,
                "low": ci[0],
                "high": ci[1],
                "tip_model": str(a.get("model") or ""),
                "tip_score": interval(mean, a["quality"].get("score_ci")),
                "tip_tps": number(tps, 1),
                "tip_latency": number(pick(a, "speed", "latency_s", "p50")),
            }
        )
    if not rows:
        return None
    names = _names(agents)
    shown = [r["agent"] for r in rows]
    tips = _tips(
        ("agent", "agent"),
        ("tip_model", "model"),
        ("tip_score", "mean score [95% CI]"),
        ("tip_tps", "tokens/s p50"),
        ("tip_latency", "latency p50 (s)"),
    )
    x = {"field": "tps", "type": "quantitative", "title": "speed: tokens/s (p50)"}
    y = {"type": "quantitative", "scale": {"domain": [0, 1]}, "title": "mean score (0–1)"}
    color = _color(names, shown)
    spec = _spec(
        data={"values": rows},
        height=260,
        layer=[
            {
                "mark": {"type": "rule", "strokeWidth": 1.5},
                "encoding": {
                    "x": x,
                    "y": {"field": "low", **y},
                    "y2": {"field": "high"},
                    "color": color,
                    "tooltip": tips,
                },
            },
            {
                "mark": {"type": "point", "filled": True, "size": 90, "opacity": 1},
                "encoding": {"x": x, "y": {"field": "mean", **y}, "color": color, "tooltip": tips},
            },
        ],
    )
    missing = [n for n in names if n not in shown]
    caption = (
        "Each agent's mean score (with its 95% interval) against its median generation speed; "
        "up and to the right is better. Colours name the agents; hover a point for its figures."
    )
    if missing:
        caption += f" Not shown (no score or no tokens/s): {', '.join(missing)}."
    return _chart("quality-speed", "Quality against speed", caption, spec)


def _box_chart(
    chart_id: str,
    title: str,
    caption: str,
    agents: Sequence[str],
    figures: Mapping[str, Mapping[str, Any]],
    unit: tuple[str, str, int],
) -> Chart:
    """A box plot per agent from :func:`box` figures; ``unit`` is (axis title, unit, digits)."""
    axis_title, suffix, digits = unit

    def text(value: float | None) -> str:
        return f"{number(value, digits)}{suffix}"

    rows, outliers, labels = [], [], []
    for agent in agents:
        b = figures.get(agent) or {"n": 0}
        label = f"{agent} (n={b['n']})"
        labels.append(label)
        if not b["n"]:
            continue
        drawn = len(b["outliers"])
        rows.append(
            {
                "agent": agent,
                "label": label,
                **{k: b[k] for k in ("q1", "median", "q3", "low", "high")},
                "tip_median": text(b["median"]),
                "tip_box": f"{text(b['q1'])} – {text(b['q3'])}",
                "tip_whiskers": f"{text(b['low'])} – {text(b['high'])}",
                "tip_n": str(b["n"])
                + (
                    f", {drawn} of {b['outliers_n']} outliers drawn"
                    if drawn < b["outliers_n"]
                    else ""
                ),
            }
        )
        outliers += [
            {"agent": agent, "label": label, "value": v, "tip": text(v)} for v in b["outliers"]
        ]
    names = list(agents)
    shown = [r["agent"] for r in rows]
    y = _band("label", labels)
    # each row is named on the axis: no legend
    color = {**_color(names, shown), "legend": None}
    tips = _tips(
        ("agent", "agent"),
        ("tip_median", "median"),
        ("tip_box", "quartiles"),
        ("tip_whiskers", "whiskers"),
        ("tip_n", "requests"),
    )

    def x(field: str) -> dict[str, Any]:
        return {
            "field": field,
            "type": "quantitative",
            "title": axis_title,
            "scale": {"zero": True},
        }

    layer: list[dict[str, Any]] = [
        {
            "mark": {"type": "rule", "color": "#1d2330"},
            "encoding": {"y": y, "x": x("low"), "x2": {"field": "high"}, "tooltip": tips},
        },
        {
            "mark": {"type": "bar", "size": 16, "opacity": 0.7},
            "encoding": {
                "y": y,
                "x": x("q1"),
                "x2": {"field": "q3"},
                "color": color,
                "tooltip": tips,
            },
        },
        {
            "mark": {"type": "tick", "color": "#1d2330", "size": 16, "thickness": 2},
            "encoding": {"y": y, "x": x("median"), "tooltip": tips},
        },
    ]
    if outliers:
        layer.append(
            {
                "data": {"values": outliers},
                "mark": {"type": "point", "filled": False, "size": 20},
                "encoding": {
                    "y": y,
                    "x": x("value"),
                    "color": color,
                    "tooltip": _tips(("agent", "agent"), ("tip", "outlier")),
                },
            }
        )
    spec = _spec(data={"values": rows}, height=_rows_height(len(labels), 30), layer=layer)
    return _chart(chart_id, title, caption, spec)


BOX_NOTE = (
    "Box: the middle half of the requests, the dark tick the median; whiskers reach the "
    "furthest values within 1.5 box lengths, circles are the values beyond."
)


def _not_streamed(summary: Summary) -> list[str]:
    return [
        str(a["agent_id"]) for a in ranked_agents(summary) if pick(a, "speed", "streamed") is False
    ]


def _streaming_chart(
    summary: Summary,
    results: Sequence[ScoredResult],
    chart_id: str,
    title: str,
    what: str,
    measure: Callable[[ScoredResult], float | None],
    unit: tuple[str, str, int],
) -> Chart | None:
    """A box plot of a figure only streamed answers have; None when no agent has one."""
    figures = boxes(summary, results, measure)
    if not any(b["n"] for b in figures.values()):
        return None
    names = _names(ranked_agents(summary))
    caption = f"{what} of each successful streamed request, per agent. {BOX_NOTE}"
    off = _not_streamed(summary)
    if off:
        caption += f" Not measured (stream = false): {', '.join(off)}."
    return _box_chart(chart_id, title, caption, names, figures, unit)


def latency_chart(summary: Summary, results: Sequence[ScoredResult]) -> Chart | None:
    """The latency of every successful request, a box plot per agent."""
    figures = latency_boxes(summary, results)
    if not any(b["n"] for b in figures.values()):
        return None
    caption = (
        "Time from sending each successful request to its last token, per agent (answers from "
        f"the response cache left out). {BOX_NOTE}"
    )
    if not any(timed(r) and r.time_to_first_token is not None for r in results):
        caption += (
            " No time-to-first-token or tokens/s chart: no request was streamed (stream = false)."
        )
    names = _names(ranked_agents(summary))
    return _box_chart(
        "latency", "Latency per request", caption, names, figures, ("latency (s)", " s", 2)
    )


def prompt_chart(
    summary: Summary, results: Sequence[ScoredResult], max_points: int = MAX_POINTS
) -> Chart | None:
    """Latency against prompt length (tokens), a point per request, at most ``max_points``
    spread evenly over each agent's requests."""
    agents = _names(ranked_agents(summary))
    per_agent: dict[str, list[ScoredResult]] = {a: [] for a in agents}
    for r in results:
        mine = per_agent.get(r.agent_id)
        if mine is not None and timed(r) and r.prompt_tokens is not None:
            mine.append(r)
    total = sum(len(v) for v in per_agent.values())
    if not total:
        return None
    share = max(1, max_points // max(1, sum(1 for v in per_agent.values() if v)))
    drawn = [r for a in agents for r in spread(per_agent[a], share)]
    rows = [
        {
            "agent": r.agent_id,
            "test": r.test_id,
            "repeat": r.repeat,
            "tokens": r.prompt_tokens,
            "latency": round(r.execution_time, 4),  # to the 0.1 ms: a point need not be exact
        }
        for r in drawn
    ]
    shown = [a for a in agents if per_agent[a]]
    tips = [
        {"field": "agent", "type": "nominal", "title": "agent"},
        {"field": "test", "type": "nominal", "title": "test"},
        {"field": "repeat", "type": "ordinal", "title": "repeat"},
        {"field": "tokens", "type": "quantitative", "title": "prompt tokens", "format": ","},
        {"field": "latency", "type": "quantitative", "title": "latency (s)", "format": ".2f"},
    ]
    spec = _spec(
        data={"values": rows},
        height=260,
        mark={"type": "point", "filled": True, "size": 30, "opacity": 0.6},
        encoding={
            "x": {"field": "tokens", "type": "quantitative", "title": "prompt length (tokens)"},
            "y": {"field": "latency", "type": "quantitative", "title": "latency (s)"},
            "color": _color(agents, shown),
            "tooltip": tips,
        },
    )
    caption = "Latency of each successful request against the length of its prompt."
    if len(drawn) < total:
        caption += f" {len(drawn):,} of {total:,} requests drawn, spread evenly over each agent's."
    if any(r.tokens_estimated for r in drawn):
        caption += " Some token counts are llmbench's estimates (the server reported none)."
    return _chart("latency-prompt", "Latency against prompt length", caption, spec)


def submissions_chart(summary: Summary) -> Chart | None:
    """Per data-analysis task and agent, the mean metric of its valid submissions against the
    task's baseline (0) and best (1): ``(metric - baseline) / (best - baseline)``."""
    agents = [a for a in ranked_agents(summary) if a.get("submissions")]
    rows, tasks = [], []
    for a in agents:
        for t in a["submissions"].get("by_task") or []:
            test_id = str(t["test_id"])
            if test_id not in tasks:
                tasks.append(test_id)
            value, baseline, best = t.get("metric_value"), t.get("baseline"), t.get("best")
            relative = None
            if None not in (value, baseline, best) and best != baseline:
                relative = (value - baseline) / (best - baseline)
            tries = t.get("tries", 0)
            rows.append(
                {
                    "agent": str(a["agent_id"]),
                    "task": test_id,
                    "relative": relative,
                    "tip_metric": f"{t.get('metric') or 'metric'} {metric(value)}",
                    "tip_baseline": f"{metric(baseline)} (best {metric(best)})",
                    "tip_relative": number(relative),
                    "tip_skill": number(t.get("skill")),
                    "tip_tries": f"{t.get('valid', 0)}/{tries} valid, "
                    f"{t.get('achieved', 0)}/{tries} achieved",
                }
            )
    if not rows:
        return None
    names = _names(ranked_agents(summary))
    shown = _names(agents)
    tips = _tips(
        ("agent", "agent"),
        ("task", "task"),
        ("tip_metric", "metric mean (valid)"),
        ("tip_baseline", "baseline"),
        ("tip_relative", "relative (0 baseline, 1 best)"),
        ("tip_skill", "skill mean (invalid 0)"),
        ("tip_tries", "tries"),
    )
    values = [r["relative"] for r in rows if r["relative"] is not None]
    low = max(-1.0, min([0.0, *values]))
    x_scale = {"domain": [low, max([1.0, *values])], "nice": False}
    axis = {
        # the two reference points named on the axis itself, where they never overlap a bar
        "labelExpr": "datum.value == 0 ? '0 baseline' : datum.value == 1 ? '1 best' : datum.label",
    }
    x = {
        "field": "relative",
        "stack": None,
        "type": "quantitative",
        "title": "metric relative to the baseline (0) and the best (1)",
        "scale": x_scale,
        "axis": axis,
    }
    common = {
        "y": _band("task", tasks),
        "yOffset": _offset(shown),
        "tooltip": tips,
    }
    invalid = [r for r in rows if r["relative"] is None]
    layer: list[dict[str, Any]] = [
        {
            "data": {"values": [{"at": 0.0, "name": "baseline"}, {"at": 1.0, "name": "best"}]},
            "mark": {"type": "rule", "strokeDash": [4, 3], "color": "#5b6475"},
            "encoding": {
                "x": {"field": "at", "type": "quantitative", "scale": x_scale},
                "tooltip": _tips(("name", "each task's")),
            },
        },
        {
            "mark": {"type": "bar", "clip": True},
            "encoding": {**common, "x": x, "color": _color(names, shown)},
        },
    ]
    if invalid:
        layer.append(
            {
                "data": {"values": invalid},
                "mark": {"type": "text", "align": "left", "dx": 4, "color": "#5b6475"},
                "encoding": {
                    **common,
                    "x": {"datum": 0.0, "type": "quantitative", "scale": x_scale},
                    "text": {"value": "no valid submission"},
                },
            }
        )
    spec = _spec(
        data={"values": rows}, height=_rows_height(len(tasks) * len(shown), 16), layer=layer
    )
    caption = (
        "Each agent's mean metric over its valid submissions, placed between the task's "
        "baseline (0) and best (1); left of 0 is worse than the baseline (bars are cut at −1). "
        "Hover a bar for the metric, the baseline and the tries."
    )
    return _chart("submissions", "Data-analysis tasks: metric against the baseline", caption, spec)


def chart_specs(
    summary: Summary, results: Sequence[ScoredResult], *, max_points: int = MAX_POINTS
) -> list[Chart]:
    """The charts of the run that have data, in display order (module docstring)."""
    charts = [
        categories_chart(summary),
        quality_speed_chart(summary),
        latency_chart(summary, results),
        _streaming_chart(
            summary,
            results,
            "ttft",
            "Time to first token",
            "Time from sending to the first token (of any kind, thinking included)",
            lambda r: r.time_to_first_token,
            ("time to first token (s)", " s", 2),
        ),
        _streaming_chart(
            summary,
            results,
            "tokens-per-second",
            "Generation speed",
            "Completion tokens per second from the first token to the last (thinking included)",
            lambda r: r.tokens_per_second,
            ("speed (tokens/s)", " tokens/s", 1),
        ),
        prompt_chart(summary, results, max_points),
        submissions_chart(summary),
    ]
    return [c for c in charts if c is not None]
