"""llmbench.report.charts: which Vega-Lite charts a run gets, what data they carry, and the bound
on that data for a big run.

The fixtures are tests/test_reports.py's (three agents, three categories, two repeats); the
long-named run below (:func:`long_names_run`) is also what the browser test draws.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

import pytest

from llmbench.report.charts import (
    LABEL_LIMIT,
    MAX_POINTS,
    PALETTE,
    chart_css,
    chart_specs,
    vendor_scripts,
)
from llmbench.report.figures import MAX_OUTLIERS
from llmbench.report.write import in_memory
from llmbench.scoring.scored import ScoredResult
from tests.test_reports import INJECTION, make_records, make_summary

ALL = ["categories", "quality-speed", "latency", "ttft", "tokens-per-second", "latency-prompt"]

LONG_AGENT = "smollm2-warm-with-a-long-name"
INJECTED_AGENT = '<img src=x onerror="window.__pwned = 7">'
INJECTED_TEST = '<b onmouseover="window.__pwned = 9">logic</b>'
# the fixture's agents, each twice: 6 agents
AGENT_NAMES = {
    "qwen-7b": (LONG_AGENT, "qwen2.5-coder-32b-instruct-q4_k_m"),
    "llama-8b": ("llm2-warm", "llama-3.1-8b-instruct-long-context"),
    "phi-3": (INJECTED_AGENT, "phi-3"),
}
CATEGORY_NAMES = {
    "arithmetic": "reading_comprehension",
    "reasoning": INJECTION,
    "dialogue": "multi_turn_dialogue_with_tools",
}
TASKS = ("house_prices_regression_with_a_long_name", INJECTION)


def charts(summary: dict[str, Any] | None = None, records: list[Any] | None = None) -> list[Any]:
    results, _ = in_memory(make_records() if records is None else records)
    return chart_specs(make_summary() if summary is None else summary, results)


def by_id(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in items}


def layers(chart: dict[str, Any]) -> list[dict[str, Any]]:
    spec = chart["spec"]
    return list(spec.get("layer") or [spec])


def values(chart: dict[str, Any]) -> list[dict[str, Any]]:
    """Every data row of the chart, over its layers' own data too."""
    rows = list(chart["spec"].get("data", {}).get("values", []))
    for layer in chart["spec"].get("layer", []):
        rows += layer.get("data", {}).get("values", [])
    return rows


def test_a_run_with_streaming_figures_gets_every_chart_but_the_tasks_one() -> None:
    assert [c["id"] for c in charts()] == ALL


def test_every_chart_is_json_with_a_title_a_caption_and_a_vega_lite_spec() -> None:
    for chart in charts():
        assert set(chart) == {"id", "title", "caption", "spec"}
        assert chart["title"] and chart["caption"].endswith(".")
        assert chart["spec"]["$schema"].endswith("/vega-lite/v6.json")
        json.dumps(chart, allow_nan=False)


def test_every_mark_has_a_tooltip() -> None:
    for chart in charts(*long_names_run()):
        for layer in layers(chart):
            assert layer["encoding"]["tooltip"], (chart["id"], layer["mark"])


def test_every_quantitative_axis_title_names_its_unit() -> None:
    titles = {
        c["id"]: {
            layer["encoding"][ch]["title"]
            for layer in layers(c)
            for ch in ("x", "y")
            if layer["encoding"].get(ch, {}).get("type") == "quantitative"
        }
        for c in charts()
    }
    assert titles == {
        "categories": {"mean score (0–1)"},
        "quality-speed": {"speed: tokens/s (p50)", "mean score (0–1)"},
        "latency": {"latency (s)"},
        "ttft": {"time to first token (s)"},
        "tokens-per-second": {"speed (tokens/s)"},
        "latency-prompt": {"prompt length (tokens)", "latency (s)"},
    }


def test_an_agent_has_the_same_colour_in_every_chart() -> None:
    # leaderboard order, best first: qwen-7b 0.88, llama-8b 0.67, phi-3 0.38
    for chart in charts():
        for layer in layers(chart):
            color = layer["encoding"].get("color")
            if color is None:
                continue
            assert color["scale"] == {
                "domain": ["qwen-7b", "llama-8b", "phi-3"],
                "range": list(PALETTE[:3]),
            }


def test_category_bars_carry_the_mean_and_interval_in_full() -> None:
    rows = values(by_id(charts())["categories"])
    assert len(rows) == 9  # 3 agents x 3 categories
    qwen = next(r for r in rows if (r["agent"], r["category"]) == ("qwen-7b", "arithmetic"))
    assert (qwen["mean"], qwen["low"], qwen["high"]) == (0.75, 0.25, 1.0)
    assert qwen["tip_score"] == "0.75 [0.25, 1.00]"
    encoding = layers(by_id(charts())["categories"])[0]["encoding"]
    assert encoding["y"]["scale"]["domain"] == ["arithmetic", "dialogue", "reasoning"]
    assert encoding["y"]["axis"]["labelLimit"] == LABEL_LIMIT == 260  # about 45 characters


@pytest.mark.parametrize(
    ("names", "columns"),
    [
        # 7 px a character and 25 px for the symbol in 320 px: 70 px each, all three in a row
        (("qwen-7b", "llama-8b", "phi-3"), 3),
        # 29 characters: 228 px, one column
        ((LONG_AGENT, "phi-3"), 1),
    ],
)
def test_the_legend_below_a_chart_has_as_many_columns_as_fit(
    names: tuple[str, ...], columns: int
) -> None:
    summary = make_summary()
    for agent, name in zip(summary["agents"], names, strict=False):
        agent["agent_id"] = name
    summary["agents"] = summary["agents"][: len(names)]
    legend = layers(by_id(charts(summary, []))["categories"])[0]["encoding"]["color"]["legend"]
    assert (legend["orient"], legend["columns"]) == ("bottom", columns)


def test_quality_speed_names_an_agent_it_cannot_place() -> None:
    summary = make_summary()
    summary["agents"][1]["speed"] = None  # phi-3
    chart = by_id(charts(summary))["quality-speed"]
    assert [r["agent"] for r in values(chart)] == ["qwen-7b", "llama-8b"]
    assert chart["caption"].endswith("Not shown (no score or no tokens/s): phi-3.")


def test_latency_boxes_label_each_agent_with_its_count_in_leaderboard_order() -> None:
    chart = by_id(charts())["latency"]
    y = layers(chart)[0]["encoding"]["y"]
    # llama-8b's request error is not a latency
    assert y["scale"]["domain"] == ["qwen-7b (n=8)", "llama-8b (n=7)", "phi-3 (n=8)"]
    qwen = values(chart)[0]
    assert (qwen["q1"], qwen["median"], qwen["q3"]) == pytest.approx((1.0, 1.3, 1.8))
    assert qwen["tip_median"] == "1.30 s"


def test_an_agent_without_a_timed_request_keeps_its_row_with_n_0() -> None:
    records = [r for r in make_records() if r["agent_id"] != "phi-3"]
    chart = by_id(charts(records=records))["latency"]
    assert layers(chart)[0]["encoding"]["y"]["scale"]["domain"][-1] == "phi-3 (n=0)"
    assert {r["agent"] for r in values(chart)} == {"qwen-7b", "llama-8b"}


def _not_streamed(agents: set[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    summary, records = make_summary(), make_records()
    for agent in summary["agents"]:
        if agent["agent_id"] in agents:
            agent["speed"]["streamed"] = False
    for r in records:
        if r["agent_id"] in agents:
            r.update(time_to_first_token=None, tokens_per_second=None)
    return summary, records


def test_a_run_that_did_not_stream_has_no_streaming_charts_and_says_so() -> None:
    got = by_id(charts(*_not_streamed({"qwen-7b", "llama-8b", "phi-3"})))
    assert list(got) == ["categories", "quality-speed", "latency", "latency-prompt"]
    assert got["latency"]["caption"].endswith(
        "No time-to-first-token or tokens/s chart: no request was streamed (stream = false)."
    )


def test_an_agent_that_did_not_stream_is_named_under_the_streaming_charts() -> None:
    got = by_id(charts(*_not_streamed({"phi-3"})))
    for chart_id in ("ttft", "tokens-per-second"):
        assert got[chart_id]["caption"].endswith("Not measured (stream = false): phi-3.")
        domain = layers(got[chart_id])[0]["encoding"]["y"]["scale"]["domain"]
        assert domain == ["qwen-7b (n=8)", "llama-8b (n=7)", "phi-3 (n=0)"]
    assert "stream = false" not in got["latency"]["caption"]


def test_no_chart_without_data() -> None:
    summary = make_summary()
    for agent in summary["agents"]:
        agent.update(categories={}, speed=None)
        agent["quality"]["mean_score"] = None
    assert charts(summary, []) == []


def test_failed_and_cached_requests_are_not_points_of_the_prompt_chart() -> None:
    records = make_records()
    records[0]["cached"] = True
    chart = by_id(charts(records=records))["latency-prompt"]
    # 24 results: 1 cached, 1 request error (llama-8b logic_01 r1)
    assert len(values(chart)) == 22
    assert "drawn" not in chart["caption"]


def _big_run(n: int, agents: int) -> tuple[dict[str, Any], list[ScoredResult]]:
    """``n`` timed results over ``agents`` agents (in turn): each agent's i-th takes 60 s when
    i is a multiple of 100 (Tukey outliers: the rest take 1.00 to 1.96 s), and its prompt
    ``10 + i % 1000`` tokens."""
    summary = make_summary()
    template = in_memory(make_records())[0][0]
    names = [f"agent-{a}" for a in range(agents)]
    summary["agents"] = [
        {**copy.deepcopy(summary["agents"][0]), "agent_id": name} for name in names
    ]
    results = []
    for j in range(n):
        i = j // agents
        seconds = 60.0 if i % 100 == 0 else 1.0 + (i % 97) / 100
        results.append(
            dataclasses.replace(
                template,
                agent_id=names[j % agents],
                test_id=f"t{i}",
                execution_time=seconds,
                prompt_tokens=10 + i % 1000,
            )
        )
    return summary, results


def test_a_big_run_keeps_each_chart_bounded() -> None:
    summary, results = _big_run(100_000, 4)
    got = by_id(chart_specs(summary, results))
    # 25,000 requests per agent: MAX_POINTS spread over the 4 agents
    assert len(values(got["latency-prompt"])) == MAX_POINTS == 2000
    assert got["latency-prompt"]["caption"].endswith(
        "2,000 of 100,000 requests drawn, spread evenly over each agent's."
    )
    # 250 outliers per agent, MAX_OUTLIERS of them drawn
    boxes = [r for r in values(got["latency"]) if "median" in r]
    assert [b["tip_n"] for b in boxes] == ["25000, 200 of 250 outliers drawn"] * 4
    outliers = [r for r in values(got["latency"]) if "value" in r]
    assert len(outliers) == 4 * MAX_OUTLIERS
    assert len(json.dumps(list(got.values()))) < 400_000


def test_the_prompt_chart_is_bounded_by_max_points() -> None:
    summary, results = _big_run(1000, 2)
    got = by_id(chart_specs(summary, results, max_points=100))
    rows = values(got["latency-prompt"])
    assert len(rows) == 100
    # spread over each agent's requests, the first and the last included
    assert [r["test"] for r in rows if r["agent"] == "agent-0"][::49] == ["t0", "t499"]


def _with_tasks(summary: dict[str, Any]) -> dict[str, Any]:
    by_task = [
        # rmse: baseline 30,000, best 0; 21,000 is 0.3 of the way
        {"test_id": "houses", "metric": "rmse", "baseline": 30000.0, "best": 0.0,
         "metric_value": 21000.0, "skill": 0.3, "valid": 2, "achieved": 2, "tries": 2},
        # accuracy: baseline 0.6, best 1; 0.5 is a quarter of the range below the baseline
        {"test_id": "iris", "metric": "accuracy", "baseline": 0.6, "best": 1.0,
         "metric_value": 0.5, "skill": 0.0, "valid": 1, "achieved": 0, "tries": 2},
        {"test_id": "churn", "metric": "f1", "baseline": 0.5, "best": 1.0,
         "metric_value": None, "skill": 0.0, "valid": 0, "achieved": 0, "tries": 2},
    ]  # fmt: skip
    summary["agents"][2]["submissions"] = {"tasks": 3, "tries": 6, "by_task": by_task}
    return summary


def test_a_run_with_tasks_places_each_metric_between_its_baseline_and_best() -> None:
    chart = by_id(charts(_with_tasks(make_summary())))["submissions"]
    rows = [r for r in values(chart) if "task" in r and "tip_tries" in r]
    relative = {r["task"]: r["relative"] for r in rows}
    assert relative == {"houses": pytest.approx(0.3), "iris": pytest.approx(-0.25), "churn": None}
    houses = rows[0]
    assert houses["tip_metric"] == "rmse 21,000"
    assert houses["tip_baseline"] == "30,000 (best 0)"
    assert houses["tip_tries"] == "2/2 valid, 2/2 achieved"
    # the task with no valid submission says so in place of a bar
    text = [layer for layer in layers(chart) if layer["mark"]["type"] == "text"]
    assert [r["task"] for r in text[0]["data"]["values"]] == ["churn"]


def test_a_run_without_tasks_has_no_tasks_chart() -> None:
    assert "submissions" not in by_id(charts())


def strings(value: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    """Every string in ``value`` with the keys leading to it."""
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in strings(v, (*path, k))]
    if isinstance(value, list):
        return [s for v in value for s in strings(v, path)]
    return []


def test_run_text_is_data_never_spec() -> None:
    summary, records = long_names_run()
    run_text = {INJECTED_AGENT, INJECTION, INJECTED_TEST, LONG_AGENT, "reading_comprehension"}
    places = set()
    for chart in charts(summary, records):
        for path, text in strings(chart["spec"]):
            if any(t in text for t in run_text):
                places.add(next(k for k in reversed(path) if k in ("values", "domain")))
    # only inline data rows, scale domains and legend entries: literal values, never an
    # expression, a field name or a mark property
    assert places == {"values", "domain"}


def test_vendor_scripts_are_the_three_libraries_then_charts_js() -> None:
    scripts = vendor_scripts()
    assert len(scripts) == 4
    assert "vega={}" in scripts[0][:400] and "vegaLite" in scripts[1][:400]
    assert "vegaEmbed" in scripts[2][:400] and "llmbenchCharts" in scripts[3]
    for text in scripts:  # each is inlined in a <script> element as it is
        assert "</script" not in text.lower() and "<!--" not in text
    assert ".chart-tooltip" in chart_css()


# ---- the long-named run (also drawn by tests/test_report_browser.py) ----


def long_names_run() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The fixture run with six agents whose ids are long or markup, long category names and
    a test id that is markup, varied speed figures, and two data-analysis tasks."""
    summary, records = make_summary(), make_records()
    agents, comparisons = [], []
    for agent in summary["agents"]:
        for copy_n, name in enumerate(AGENT_NAMES[agent["agent_id"]]):
            renamed = copy.deepcopy(agent)
            renamed["agent_id"] = name
            renamed["categories"] = {CATEGORY_NAMES[k]: v for k, v in renamed["categories"].items()}
            renamed["speed"]["tokens_per_second"]["p50"] += 7.0 * copy_n
            agents.append(renamed)
    for c in summary["comparisons"]:
        comparisons.append({**c, "a": AGENT_NAMES[c["a"]][0], "b": AGENT_NAMES[c["b"]][0]})
    by_task = [
        {"test_id": TASKS[0], "metric": "rmse", "baseline": 30000.0, "best": 0.0,
         "metric_value": 21000.0, "skill": 0.3, "valid": 2, "achieved": 2, "tries": 2},
        {"test_id": TASKS[1], "metric": "accuracy", "baseline": 0.6, "best": 1.0,
         "metric_value": 0.5, "skill": 0.0, "valid": 1, "achieved": 0, "tries": 2},
    ]  # fmt: skip
    for agent in agents[:2]:
        agent["submissions"] = {"tasks": 2, "tries": 4, "by_task": copy.deepcopy(by_task)}
    agents[1]["submissions"]["by_task"][1]["metric_value"] = None
    summary.update(agents=agents, comparisons=comparisons)
    out = []
    for n, record in enumerate(records):
        for copy_n, name in enumerate(AGENT_NAMES[record["agent_id"]]):
            r = copy.deepcopy(record)
            r["agent_id"] = name
            r["category"] = CATEGORY_NAMES[r["category"]]
            if r["test_id"] == "logic_01":
                r["test_id"] = INJECTED_TEST
            if r["status"] == "ok":
                r["execution_time"] *= 1 + 0.3 * copy_n
                r["time_to_first_token"] = 0.05 + 0.02 * (n % 7) + 0.05 * copy_n
                r["tokens_per_second"] = 30.0 + 4 * (n % 13) + 10 * copy_n
                r["prompt_tokens"] = 20 + 9 * (n % 11)
            out.append(r)
    return summary, out


def test_the_long_named_run_has_every_chart() -> None:
    summary, records = long_names_run()
    got = by_id(charts(summary, records))
    assert list(got) == [*ALL, "submissions"]
    y = layers(got["latency"])[0]["encoding"]["y"]["scale"]["domain"]
    assert f"{LONG_AGENT} (n=8)" in y
    assert (
        "reading_comprehension" in layers(got["categories"])[0]["encoding"]["y"]["scale"]["domain"]
    )
