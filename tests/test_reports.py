"""llmbench.report: the terminal leaderboard, report.md, report.html and write_reports.

The fixtures follow docs/summary-format.md: three agents, three categories, an interactive test
with a transcript, a request error, a scorer error, two repeats. Every summary number is chosen
by hand (not computed) so that each expected cell can be read off the fixture.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from llmbench import redact
from llmbench.report.charts import chart_specs, vendor_scripts
from llmbench.report.figures import latency_boxes
from llmbench.report.html import asset, data_block, render_html, select_records
from llmbench.report.markdown import cell, render_markdown
from llmbench.report.terminal import (
    leaderboard,
    p_value,
    print_report,
    significant_differences,
)
from llmbench.report.write import in_memory, write_reports
from llmbench.scoring.scored import ScoredResult

INJECTION = '</script><script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'

# test id -> (category, name, prompt, expected, right answer)
TESTS: dict[str, tuple[str, str, str, Any, str]] = {
    "arith_01": ("arithmetic", "Add two small numbers", "What is 2 + 3?", 5, "5"),
    "arith_02": ("arithmetic", "Multiply", "What is 6 × 7?", 42, "42"),
    "logic_01": ("reasoning", "<b>Syllogism</b>", "All A are B; x is A. Is x B?", "yes", "yes"),
    "chat_01": ("dialogue", "Book a table", "Book a table for two at 7pm.", None, "Booked."),
}
# agent -> test -> one letter per repeat: P pass, F fail, E request error, S scorer error
OUTCOMES = {
    "qwen-7b": {"arith_01": "PP", "arith_02": "PF", "logic_01": "PP", "chat_01": "PP"},
    "llama-8b": {"arith_01": "PP", "arith_02": "FF", "logic_01": "PE", "chat_01": "PS"},
    "phi-3": {"arith_01": "PF", "arith_02": "FF", "logic_01": "FF", "chat_01": "FP"},
}
TRANSCRIPT = [
    {"role": "user", "content": "Book a table for two at 7pm.", "source": "scripted", "turn": 1},
    {"role": "assistant", "content": "Which day?", "source": "agent", "turn": 1},
    {
        "role": "user",
        "content": "Tonight, please.",
        "source": "supervisor",
        "turn": 2,
        "proposed": "Tomorrow.",
        "reason": "the instructor changed the day",
    },
    {"role": "assistant", "content": "Booked for 19:00.\nSee you!", "source": "agent", "turn": 2},
]
NOT_SCORED = {
    "score": None,
    "passed": None,
    "reasoning": None,
    "error": "not scored: the request failed",
    "scores": [],
}


def _score(scorer: str, value: float, passed: bool, reason: str, **extra: Any) -> dict[str, Any]:
    return {
        "scorer": scorer,
        "value": value,
        "passed": passed,
        "reason": reason,
        "secondary": False,
        "error": None,
        **extra,
    }


def _scoring(agent: str, test_id: str, repeat: int, outcome: str, answer: str) -> dict[str, Any]:
    if outcome == "E":
        return dict(NOT_SCORED)
    if outcome == "S":
        judge = _score("judge", 0.0, False, "", error="unparsable reply twice")
        return {**NOT_SCORED, "error": "judge: unparsable reply twice", "scores": [judge]}
    scorer = "judge" if test_id == "chat_01" else "numeric"
    if outcome == "P":
        first = _score(scorer, 1.0, True, f"expected {TESTS[test_id][3]}, found {answer}")
    elif (agent, test_id, repeat) == ("phi-3", "chat_01", 0):
        first = _score(scorer, 0.5, False, "booked, but for the wrong day")
    elif (agent, test_id, repeat) == ("qwen-7b", "arith_02", 1):
        first = _score(scorer, 0.0, False, "expected 42 | found 41")
    else:
        first = _score(scorer, 0.0, False, f"no number in the answer: {answer}")
    scores = [first]
    reasoning = None
    if test_id == "chat_01":
        reasoning = 0.75
        scores.append(_score("reasoning", 0.75, True, "explains the booking", secondary=True))
    return {
        "score": first["value"],
        "passed": first["passed"],
        "reasoning": reasoning,
        "error": None,
        "scores": scores,
    }


def _answer(agent: str, test_id: str, repeat: int, outcome: str) -> str | None:
    if outcome == "E":
        return None
    if (agent, test_id, repeat) == ("phi-3", "arith_02", 0):
        return INJECTION
    if (agent, test_id, repeat) == ("qwen-7b", "arith_02", 1):
        return "41"
    if test_id == "chat_01":
        return "Booked for 19:00.\nSee you!"
    return TESTS[test_id][4] if outcome in "PS" else "I am not sure."


def make_record(agent: str, test_id: str, repeat: int, outcome: str) -> dict[str, Any]:
    """One scored record of docs/summary-format.md."""
    category, name, prompt, expected, _ = TESTS[test_id]
    answer = _answer(agent, test_id, repeat, outcome)
    error = outcome == "E"
    return {
        "agent_id": agent,
        "test_id": test_id,
        "repeat": repeat,
        "category": category,
        "test_name": name,
        "prompt": prompt,
        "expected": expected,
        "status": "error" if error else "ok",
        "error_kind": "timeout" if error else None,
        "error_message": "no reply within 30 s\nafter 2 attempts" if error else None,
        "response_text": answer,
        "transcript": copy.deepcopy(TRANSCRIPT) if test_id == "chat_01" else None,
        "execution_time": 30.0 if error else 0.2 + 0.1 * len(test_id) * (repeat + 1),
        "time_to_first_token": None if error else 0.1,
        "tokens_per_second": None if error else 50.0,
        "prompt_tokens": None if error else 31,
        "completion_tokens": None if error else 4,
        "cached": False,
        "scoring": _scoring(agent, test_id, repeat, outcome, answer or ""),
    }


def make_records() -> list[dict[str, Any]]:
    """24 records: 3 agents x 4 tests x 2 repeats; 11 of them failed, errored or not scored."""
    return [
        make_record(agent, test_id, repeat, letter)
        for agent, tests in OUTCOMES.items()
        for test_id, letters in tests.items()
        for repeat, letter in enumerate(letters)
    ]


def quality(
    mean: float | None,
    ci: list[float],
    pass_rate: float,
    pass_ci: list[float],
    n: int = 8,
    errors: int = 0,
) -> dict[str, Any]:
    return {
        "n": n,
        "scored": n - errors,
        "errors": errors,
        "mean_score": mean,
        "score_se": 0.1,
        "score_ci": ci,
        "pass_rate": pass_rate,
        "pass_ci": pass_ci,
        "reasoning_mean": None,
    }


def speed(p50: float, p95: float, tps: float, errors: dict[str, int]) -> dict[str, Any]:
    return {
        "latency_s": {"p50": p50, "p95": p95, "p99": p95 + 0.02},
        "time_to_first_token_s": {"p50": 0.1, "p95": 0.2},
        "tokens_per_second": {"p50": tps},
        "prompt_tokens": 248,
        "completion_tokens": 32,
        "errors_by_kind": errors,
    }


def agent(agent_id: str, model: str, **parts: Any) -> dict[str, Any]:
    return {
        "agent_id": agent_id,
        "model": model,
        "endpoint": "http://127.0.0.1:8000/v1",
        "planned": 8,
        "not_run": 0,
        "summary": {"total_tests": 8},
        **parts,
    }


def comparison(
    a: str, b: str, n: int, means: tuple[float, float], ci: list[float], p: float, mdd: float
) -> dict[str, Any]:
    return {
        "a": a,
        "b": b,
        "n_pairs": n,
        "mean_a": means[0],
        "mean_b": means[1],
        "mean_diff": round(means[0] - means[1], 2),
        "diff_ci": ci,
        "mcnemar": {"a_only": 0, "b_only": 2, "p_value": p},
        "significant": ci[0] > 0 or ci[1] < 0,
        "min_detectable_diff": mdd,
    }


def make_summary() -> dict[str, Any]:
    """The summary.json of the records above; agents deliberately not in score order."""
    llama = agent(
        "llama-8b",
        "llama-3.1-8b-instruct",
        quality=quality(0.67, [0.33, 1.0], 0.67, [0.30, 0.90], errors=2),
        categories={
            "arithmetic": quality(0.5, [0.0, 1.0], 0.5, [0.15, 0.85], n=4),
            "reasoning": quality(1.0, [1.0, 1.0], 1.0, [0.21, 1.0], n=2, errors=1),
            "dialogue": quality(1.0, [1.0, 1.0], 1.0, [0.21, 1.0], n=2, errors=1),
        },
        repeats={
            "k": 2,
            "pass_at_k": {"1": 0.5, "2": 0.5},
            "pass_hat_k": {"1": 0.5, "2": 0.5},
            "agreement": 1.0,
        },
        speed=speed(0.9, 1.4, 41.5, {"timeout": 1}),
    )
    phi = agent(
        "phi-3",
        "phi-3-mini",
        quality=quality(0.38, [0.12, 0.75], 0.38, [0.14, 0.69]),
        categories={
            "arithmetic": quality(0.25, [0.0, 0.75], 0.25, [0.05, 0.7], n=4),
            "reasoning": quality(0.0, [0.0, 0.0], 0.0, [0.0, 0.66], n=2),
            "dialogue": quality(0.75, [0.5, 1.0], 0.5, [0.09, 0.91], n=2),
        },
        repeats={
            "k": 2,
            "pass_at_k": {"1": 0.38, "2": 0.5},
            "pass_hat_k": {"1": 0.38, "2": 0.25},
            "agreement": 0.75,
        },
        speed=speed(0.3, 0.5, 131.0, {}),
    )
    qwen = agent(
        "qwen-7b",
        "qwen2.5-7b-instruct",
        quality={**quality(0.88, [0.62, 1.0], 0.88, [0.53, 0.98]), "reasoning_mean": 0.75},
        categories={
            "arithmetic": quality(0.75, [0.25, 1.0], 0.75, [0.3, 0.95], n=4),
            "reasoning": quality(1.0, [1.0, 1.0], 1.0, [0.34, 1.0], n=2),
            "dialogue": quality(1.0, [1.0, 1.0], 1.0, [0.34, 1.0], n=2),
        },
        repeats={
            "k": 2,
            "pass_at_k": {"1": 0.88, "2": 1.0},
            "pass_hat_k": {"1": 0.88, "2": 0.75},
            "agreement": 0.88,
        },
        speed=speed(0.45, 0.62, 88.0, {}),
    )
    return {
        "run_id": "20261121T103000Z-a1b2c3",
        "status": "completed",
        "repeats": 2,
        "generated_at": "2026-11-21T10:40:00.000+00:00",
        "agents": [llama, phi, qwen],
        "comparisons": [
            comparison("qwen-7b", "llama-8b", 6, (0.83, 0.67), [-0.17, 0.5], 1.0, 0.55),
            comparison("qwen-7b", "phi-3", 8, (0.88, 0.38), [0.13, 0.88], 0.07, 0.45),
            comparison("phi-3", "llama-8b", 6, (0.38, 0.71), [-0.67, -0.02], 0.25, 0.6),
        ],
    }


def not_significant(summary: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(summary)
    for c in out["comparisons"]:
        c["significant"] = False
    return out


# ---- terminal ----


def test_fixture_records_match_the_outcome_table() -> None:
    records = make_records()
    failed = [r for r in records if r["scoring"]["passed"] is not True]
    assert (len(records), len(failed)) == (24, 11)


def test_leaderboard_rows_are_best_mean_score_first() -> None:
    table = leaderboard(make_summary())
    assert [str(c) for c in table.columns[0].cells] == ["1", "2", "3"]
    assert [str(c) for c in table.columns[1].cells] == ["qwen-7b", "llama-8b", "phi-3"]


def test_leaderboard_row_cells() -> None:
    table = leaderboard(make_summary())
    first = [str(next(iter(column.cells))) for column in table.columns]
    assert first == [
        "1",
        "qwen-7b",
        "qwen2.5-7b-instruct",
        "0.88 [0.62, 1.00]",
        "0.88 [0.53, 0.98]",
        "8 / 0",
        "0.45 / 0.62",
        "88.0",
    ]


def test_leaderboard_shows_missing_values_as_na_and_markup_as_text() -> None:
    summary = make_summary()
    summary["agents"] = [summary["agents"][0]]
    summary["agents"][0].update(agent_id="[bold]x[/bold]", speed=None)
    summary["agents"][0]["quality"].update(mean_score=None, score_ci=None)
    console = Console(record=True, width=200)
    console.print(leaderboard(summary))
    text = console.export_text()
    assert "[bold]x[/bold]" in text
    assert "n/a / n/a" in text


def test_significant_differences_name_the_better_agent_first() -> None:
    assert significant_differences(make_summary()) == [
        "qwen-7b > phi-3 by 0.50 [0.13, 0.88], McNemar p = 0.07, n = 8",
        "llama-8b > phi-3 by 0.33 [0.02, 0.67], McNemar p = 0.25, n = 6",
    ]


def test_no_significant_difference_gives_the_detectable_range() -> None:
    assert significant_differences(not_significant(make_summary())) == [
        "no significant difference; this suite can detect about 0.45–0.60"
    ]


def test_no_significant_difference_with_one_comparison_gives_one_value() -> None:
    summary = not_significant(make_summary())
    summary["comparisons"] = summary["comparisons"][:1]
    assert significant_differences(summary) == [
        "no significant difference; this suite can detect about 0.55"
    ]


def test_one_agent_has_no_difference_lines() -> None:
    summary = make_summary()
    summary["agents"], summary["comparisons"] = summary["agents"][:1], []
    assert significant_differences(summary) == []


@pytest.mark.parametrize(
    ("p", "text"),
    [(0.03, "= 0.03"), (0.004, "= 0.004"), (0.0004, "< 0.001"), (None, "= n/a")],
)
def test_p_value_format(p: float | None, text: str) -> None:
    assert p_value(p) == text


def test_print_report_prints_the_table_and_the_differences() -> None:
    console = Console(record=True, width=200)
    print_report(make_summary(), console)
    text = console.export_text()
    assert "Run 20261121T103000Z-a1b2c3 (completed)" in text
    assert text.index("qwen-7b ") < text.index("llama-8b ") < text.index("phi-3 ")
    assert "llama-8b > phi-3 by 0.33 [0.02, 0.67], McNemar p = 0.25, n = 6" in text


# ---- markdown ----


def markdown() -> str:
    return render_markdown(make_summary(), *in_memory(make_records()))


def test_markdown_title_has_run_id_and_status() -> None:
    lines = markdown().splitlines()
    assert lines[0] == "# llmbench report: 20261121T103000Z-a1b2c3"
    assert lines[2].startswith("Status: **completed** · repeats: 2")


def test_markdown_leaderboard_row() -> None:
    assert (
        "| 1 | qwen-7b | qwen2.5-7b-instruct | 0.88 [0.62, 1.00] | 0.88 [0.53, 0.98] | 8 / 0 | 0.45 / 0.62 | 88.0 |"
        in markdown()
    )


def test_markdown_category_row_has_one_interval_per_agent_in_rank_order() -> None:
    text = markdown()
    assert "| Category | qwen-7b | llama-8b | phi-3 |" in text
    assert "| arithmetic | 0.75 [0.25, 1.00] | 0.50 [0.00, 1.00] | 0.25 [0.00, 0.75] |" in text


def test_markdown_speed_row() -> None:
    assert "| phi-3 | 0.30 | 0.50 | 0.52 | 0.10 | 0.20 | 131.0 | 248 | 32 |" in markdown()


def test_markdown_comparison_row_has_verdict_and_min_detectable() -> None:
    text = markdown()
    assert (
        "| phi-3 | llama-8b | 6 | 0.38 | 0.71 | -0.33 [-0.67, -0.02] | 0 / 2 | 0.25 | significant: llama-8b better | 0.60 |"
        in text
    )
    assert (
        "| qwen-7b | llama-8b | 6 | 0.83 | 0.67 | 0.16 [-0.17, 0.50] | 0 / 2 | 1.00 | not significant | 0.55 |"
        in text
    )


def test_markdown_repeats_block() -> None:
    text = markdown()
    assert "| Agent | pass@1 | pass@2 | pass^1 | pass^2 | Agreement |" in text
    assert "| qwen-7b | 0.88 | 1.00 | 0.88 | 0.75 | 0.88 |" in text


def test_markdown_has_no_repeats_block_without_repeats() -> None:
    summary = make_summary()
    for a in summary["agents"]:
        a["repeats"] = None
    assert "## Repeats" not in render_markdown(summary, *in_memory(make_records()))


def test_markdown_errors_by_kind_include_scoring_errors() -> None:
    text = markdown()
    assert "| llama-8b | scoring | 1 |\n| llama-8b | timeout | 1 |" in text


def test_markdown_failed_tests_give_the_first_failing_scorer_with_pipe_escaped() -> None:
    text = markdown()
    qwen = text[text.index("### qwen-7b") : text.index("### llama-8b")]
    assert qwen.count("\n| arith") == 1
    assert "| arith_02 | 1 | arithmetic | numeric: expected 42 \\| found 41 |" in qwen


def test_markdown_failed_tests_list_request_and_scoring_errors() -> None:
    text = markdown()
    assert (
        "| logic_01 | 1 | reasoning | timeout: no reply within 30 s<br>after 2 attempts |" in text
    )
    assert "| chat_01 | 1 | dialogue | scoring error: judge: unparsable reply twice |" in text


def test_markdown_does_not_list_a_record_with_nothing_to_score_as_failed() -> None:
    records = make_records()
    unscored = [dict(r, scoring=None) for r in records if r["agent_id"] == "qwen-7b"]
    text = render_markdown(make_summary(), *in_memory(unscored))
    assert text[text.index("### qwen-7b") :].split("\n")[2] == "None."


def test_markdown_lists_the_first_failures_and_counts_the_rest() -> None:
    records = make_records()
    loaded: list[int] = []

    def load(j: int) -> dict[str, Any]:
        loaded.append(j)
        return records[j]

    results = [ScoredResult.from_record(r) for r in records]
    text = render_markdown(make_summary(), results, load, max_failures=2)
    phi = text[text.index("### phi-3") :]
    # phi-3 failed arith_01 r1, arith_02 r0 and r1, logic_01 r0 and r1, chat_01 r0: two listed
    assert phi.count("\n| arith") == 2 and "| logic_01 |" not in phi
    assert "... and 4 more, see results.jsonl" in phi
    qwen = text[text.index("### qwen-7b") : text.index("### llama-8b")]
    assert "more, see results.jsonl" not in qwen  # one failure: all listed
    # only the failures listed were read back: qwen 1, llama 2 of 4, phi 2 of 6
    assert len(loaded) == 5 and all(results[j].failed for j in loaded)


def test_markdown_escapes_html_from_answers() -> None:
    text = markdown()
    assert "<script>" not in text and "</script>" not in text
    assert "&lt;/script&gt;&lt;script&gt;window.__pwned = 1" in text


def test_cell_escapes_pipe_newline_and_html() -> None:
    assert cell("a|b\r\nc<d>&") == "a\\|b<br>c&lt;d&gt;&amp;"


# ---- html ----


def page() -> str:
    return render_html(make_summary(), *in_memory(make_records()))


DATA_BLOCK = re.compile(r'<script type="application/json" id="data">(.*?)</script>', re.S)


INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)
"""The page's inline scripts (the data block has a type attribute)."""


def _markup(text: str) -> str:
    """The page without the text of its inline scripts (the shipped libraries and report.js)."""
    return INLINE_SCRIPT.sub("<script></script>", text)


def test_html_is_self_contained() -> None:
    text = page()
    markup = _markup(text)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", markup, re.I)
    assert "<link" not in markup.lower()
    assert not re.search(r"<script[^>]*\ssrc\s*=", markup, re.I)
    assert "@import" not in markup and "url(" not in markup
    # the scripts are the package's own files, inlined as they are
    scripts = INLINE_SCRIPT.findall(text)
    assert scripts == [*vendor_scripts(), asset("records.js") + "\n" + asset("report.js")]


def test_html_data_block_round_trips() -> None:
    match = DATA_BLOCK.search(page())
    assert match is not None
    data = json.loads(match.group(1))
    assert data["summary"] == make_summary()
    assert data["records"] == make_records() and data["total"] == 24
    assert data["charts"] == chart_specs(make_summary(), in_memory(make_records())[0])


def test_html_answer_with_script_tags_appears_only_escaped() -> None:
    text = page()
    # the data block, Vega, Vega-Lite, vega-embed, charts.js and report.js
    assert text.count("<script") == 6
    assert text.count("</script>") == 6
    assert "<img" not in _markup(text)
    assert "\\u003c/script\\u003e\\u003cscript\\u003ewindow.__pwned = 1" in text


def test_html_escapes_model_names_in_the_leaderboard() -> None:
    summary = make_summary()
    summary["agents"][0]["model"] = "<b>llama</b>"
    text = render_html(summary, *in_memory(make_records()))
    assert "<td>&lt;b&gt;llama&lt;/b&gt;</td>" in text
    assert "<b>llama</b>" not in text.split('id="data"')[0]


def test_html_lists_the_significant_differences() -> None:
    assert "<li>qwen-7b &gt; phi-3 by 0.50 [0.13, 0.88], McNemar p = 0.07, n = 8</li>" in page()


def test_html_repeats_table_gives_pass_at_k_per_agent_best_first() -> None:
    text = page()
    assert "<h2>Repeats</h2><p>2 repeats per test. pass@k: the chance" in text
    header = "<th>Agent</th><th>pass@1</th><th>pass@2</th><th>pass^1</th><th>pass^2</th><th>Agreement</th>"
    assert header in text
    body = text[
        text.index('<table id="repeats">') : text.index("</table>", text.index('id="repeats"'))
    ]
    assert re.findall(r"<tr><td>([^<]+)</td>", body) == ["qwen-7b", "llama-8b", "phi-3"]
    assert (
        "<tr><td>phi-3</td><td>0.38</td><td>0.50</td><td>0.38</td><td>0.25</td><td>0.75</td></tr>"
        in body
    )


def test_html_has_no_repeats_section_with_one_repeat() -> None:
    summary = make_summary()
    for a in summary["agents"]:
        a["repeats"] = None
    assert 'id="repeats"' not in render_html(summary, *in_memory(make_records()))


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_html_policy_allows_exactly_the_inline_scripts_and_style() -> None:
    text = page()
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', text)
    assert policy is not None
    directives = dict(d.strip().split(" ", 1) for d in policy.group(1).split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == " ".join(map(_sha256, INLINE_SCRIPT.findall(text)))
    style = re.search(r"<style>(.*?)</style>", text, re.S)
    assert style is not None and directives["style-src"] == _sha256(style.group(1))
    assert "unsafe" not in policy.group(1)  # no 'unsafe-eval', no 'unsafe-inline'


def test_html_embeds_every_record_up_to_the_cap_without_a_note() -> None:
    assert 'id="records-note"' not in page()


def test_html_over_the_cap_embeds_the_failures_first_and_says_so() -> None:
    records = make_records()
    text = render_html(make_summary(), *in_memory(records), max_records=12)
    match = DATA_BLOCK.search(text)
    assert match is not None
    data = json.loads(match.group(1))
    failed = [r for r in records if r["scoring"]["passed"] is not True]
    # 11 failures, then the first passing record (qwen-7b arith_01 r0), in run order
    assert data["records"] == [records[0], *failed] and data["total"] == 24
    assert (
        '<p class="note" id="records-note">Showing 12 of 24 results (failed, errored and '
        "unscored ones first, then passing ones spread over the run); all results are in "
        "results.jsonl.</p>"
    ) in text


def test_select_records_spreads_failures_then_passes_evenly() -> None:
    def result(n: int, failed: bool) -> ScoredResult:
        return ScoredResult.from_record(
            {
                "agent_id": "a",
                "test_id": f"t{n}",
                "scoring": {"score": 0.0 if failed else 1.0, "passed": not failed},
            }
        )

    results = [result(n, n in (1, 4, 7)) for n in range(10)]
    # all 3 failures; 2 of the 7 passes 0 2 3 5 6 8 9: the first and the last
    assert select_records(results, 5) == [0, 1, 4, 7, 9]
    # 2 of the 3 failures: the first and the last
    assert select_records(results, 2) == [1, 7]
    assert select_records(results, 10) == list(range(10))


def test_latency_boxes_over_every_successful_request() -> None:
    boxes = latency_boxes(make_summary(), in_memory(make_records())[0])
    # qwen-7b: repeat 0 takes 0.2 + 0.1 * len(test id): 1.0 x 3 and 0.9 (chat_01); repeat 1
    # twice that above 0.2: 1.8 x 3 and 1.6. Sorted 0.9 1.0 1.0 1.0 1.6 1.8 1.8 1.8: q1 at
    # h = 1.75 -> 1.0, median at 3.5 -> 1.3, q3 at 5.25 -> 1.8; the fences hold every value
    assert boxes["qwen-7b"] == {
        "n": 8,
        "q1": pytest.approx(1.0),
        "median": pytest.approx(1.3),
        "q3": pytest.approx(1.8),
        "low": pytest.approx(0.9),
        "high": pytest.approx(1.8),
        "max": pytest.approx(1.8),
        "outliers": [],
        "outliers_n": 0,
    }
    assert boxes["llama-8b"]["n"] == 7  # its timeout is not a latency


def test_latency_box_outliers_lie_beyond_one_and_a_half_box_lengths() -> None:
    times = [1.0, 1.0, 1.0, 2.0, 9.0]
    records = [
        {"agent_id": "a", "test_id": f"t{n}", "execution_time": t, "scoring": None}
        for n, t in enumerate(times)
    ]
    # neither a failed request nor an answer from the response cache has a latency to show
    records.append({"agent_id": "a", "test_id": "e", "status": "error", "execution_time": 30.0})
    records.append({"agent_id": "a", "test_id": "c", "cached": True, "execution_time": 0.0})
    summary = {"agents": [{"agent_id": "a"}, {"agent_id": "b"}]}
    boxes = latency_boxes(summary, in_memory(records)[0])
    # q1 1.0, q3 2.0: the fences are -0.5 and 3.5, so 9 is an outlier and the whisker ends at 2
    assert boxes["a"] == {
        "n": 5,
        "q1": 1.0,
        "median": 1.0,
        "q3": 2.0,
        "low": 1.0,
        "high": 2.0,
        "max": 9.0,
        "outliers": [9.0],
        "outliers_n": 1,
    }
    assert boxes["b"] == {"n": 0}


def test_html_data_block_turns_nan_into_null() -> None:
    block = "".join(data_block({"x": float("nan")}, [{"y": float("inf")}], total=1))
    assert json.loads(block) == {
        "summary": {"x": None},
        "charts": [],
        "total": 1,
        "records": [{"y": None}],
    }


# ---- write_reports ----


def test_write_reports_writes_both_files(tmp_path: Path) -> None:
    paths = write_reports(tmp_path, make_summary(), *in_memory(make_records()))
    assert paths == {"markdown": tmp_path / "report.md", "html": tmp_path / "report.html"}
    assert paths["markdown"].read_text("utf-8") == markdown()
    assert paths["html"].read_text("utf-8") == page()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.md"]


def test_write_reports_scrubs_secrets_also_where_they_would_be_escaped(tmp_path: Path) -> None:
    secret = "sk-test-<&>-8c1f2e"
    redact.register([secret])
    records = make_records()
    records[0]["response_text"] = f"the key is {secret}"
    records[1]["scoring"]["scores"][0]["reason"] = f"found {secret}"
    paths = write_reports(tmp_path, make_summary(), *in_memory(records))
    for path in paths.values():
        text = path.read_text("utf-8")
        assert "8c1f2e" not in text
    assert "the key is ***" in paths["html"].read_text("utf-8")
