"""analyse: a hand-built run of three agents, two tests, three repeats, checked figure by figure.

The run (P = passed, F = failed; scores in brackets):

    agent a  t1 (math):  r0 P [1]    r1 P [1]            r2 F [0]
             t2 (text):  r0 F [0.5]  r1 request timeout  r2 P [1], cached
                         (t2 r0 also has a reasoning score of 0.8)
    agent b  t1 (math):  r0 F [0]    r1 P [1]            r2 F [0]
             t2 (text):  r0 P [1]    r1 P [1]            r2 P [1]
    agent c  t1 (math):  r0 P [1]    r1 scorer error     r2 cancelled
             t2 (text):  not run
    agent a also has t3 (math) r0, whose test has nothing to score ("scoring": null).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest

from llmbench.scoring.analysis import analyse, k_values
from llmbench.scoring.scored import ScoredResult
from llmbench.scoring.statistics import bootstrap_mean_interval, paired_bootstrap_diff
from llmbench.store.results import summarize

Z_SUM = 1.959963984540054 + 0.8416212335729143  # z_0.975 + z_0.8
CATEGORY = {"t1": "math", "t2": "text", "t3": "math"}


def rec(
    agent_id: str,
    test_id: str,
    repeat: int,
    score: float | None,
    *,
    status: str = "ok",
    execution_time: float = 1.0,
    **fields: Any,
) -> ScoredResult:
    """A scored record as docs/summary-format.md describes it, made compact."""
    scoring: dict[str, Any] | None = {
        "score": score,
        "passed": None if score is None else score == 1.0,
        "reasoning": fields.pop("reasoning", None),
        "error": fields.pop("scoring_error", None if score is not None else "not scored"),
        "scores": [],
    }
    if fields.pop("no_scorers", False):
        scoring = None
    base: dict[str, Any] = {
        "agent_id": agent_id,
        "test_id": test_id,
        "repeat": repeat,
        "category": CATEGORY[test_id],
        "test_name": test_id,
        "status": status,
        "error_kind": None if status == "ok" else fields.pop("error_kind", status),
        "execution_time": execution_time,
        "time_to_first_token": None,
        "tokens_per_second": None,
        "prompt_tokens": None,
        "completion_tokens": None,
        "cached": False,
        "scoring": scoring,
    }
    base.update(fields)
    return ScoredResult.from_record(base)


def timed(
    agent_id: str,
    test_id: str,
    repeat: int,
    score: float | None,
    latency: float,
    ttft: float,
    tps: float,
    **fields: Any,
) -> ScoredResult:
    """An ok record with timings and 10 prompt + 5 completion tokens."""
    timings = {
        "time_to_first_token": ttft,
        "tokens_per_second": tps,
        "prompt_tokens": 10,
        "completion_tokens": 5,
    }
    return rec(agent_id, test_id, repeat, score, execution_time=latency, **(timings | fields))


RECORDS = [
    timed("a", "t1", 0, 1.0, 1.0, 0.1, 50),
    timed("a", "t1", 1, 1.0, 2.0, 0.2, 60),
    timed("a", "t1", 2, 0.0, 3.0, 0.3, 70),
    timed("a", "t2", 0, 0.5, 4.0, 0.4, 80, reasoning=0.8),
    rec("a", "t2", 1, None, status="error", error_kind="timeout", execution_time=10.0),
    timed("a", "t2", 2, 1.0, 0.01, 0.001, 9999, cached=True, prompt_tokens=99),
    timed("a", "t3", 0, None, 5.0, 0.5, 90, no_scorers=True),
    rec("b", "t1", 0, 0.0),
    rec("b", "t1", 1, 1.0),
    rec("b", "t1", 2, 0.0),
    rec("b", "t2", 0, 1.0),
    rec("b", "t2", 1, 1.0),
    rec("b", "t2", 2, 1.0),
    rec("c", "t1", 0, 1.0),
    rec("c", "t1", 1, None, scoring_error="judge: unparsable reply twice"),
    rec("c", "t1", 2, None, status="cancelled"),
    rec("ghost", "t1", 0, 1.0),  # an agent not in the run: ignored
]

AGENTS = [
    {"agent_id": a, "model": f"model-{a}", "endpoint": f"http://{a}/v1", "planned": 6, "not_run": n}
    for a, n in (("a", 0), ("b", 0), ("c", 3))
]

WHEN = datetime(2026, 11, 21, 10, 40, tzinfo=UTC)


@pytest.fixture(scope="module")
def summary() -> dict[str, Any]:
    return analyse(
        RECORDS,
        AGENTS,
        run_id="run-1",
        status="completed",
        repeats=3,
        generated_at=WHEN,
    )


def counts(quality: dict[str, Any]) -> tuple[int, int, int, int]:
    return quality["n"], quality["scored"], quality["errors"], quality["scorer_errors"]


def agent(summary: dict[str, Any], agent_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(a for a in summary["agents"] if a["agent_id"] == agent_id)
    return found


def test_run_fields(summary: dict[str, Any]) -> None:
    assert summary["run_id"] == "run-1" and summary["status"] == "completed"
    assert summary["repeats"] == 3
    assert summary["generated_at"] == "2026-11-21T10:40:00.000+00:00"


def test_agents_in_the_order_given_with_their_details(summary: dict[str, Any]) -> None:
    assert [a["agent_id"] for a in summary["agents"]] == ["a", "b", "c"]
    c = agent(summary, "c")
    assert (c["model"], c["endpoint"], c["planned"], c["not_run"]) == (
        "model-c",
        "http://c/v1",
        6,
        3,
    )


def test_summary_field_is_summarize_of_the_agents_results(summary: dict[str, Any]) -> None:
    assert agent(summary, "a")["summary"] == summarize([r for r in RECORDS if r.agent_id == "a"])
    counts = agent(summary, "a")["summary"]
    # 7 results of a (t3 too), one of them the timeout; 1 + 2 + 3 + 4 + 10 + 0.01 + 5 seconds
    assert (counts["total_tests"], counts["successful_tests"], counts["failed_tests"]) == (7, 6, 1)
    assert counts["total_execution_time"] == pytest.approx(25.01)
    assert counts["categories"] == {
        "math": {"total": 4, "ok": 4, "error": 0, "cancelled": 0},
        "text": {"total": 3, "ok": 2, "error": 1, "cancelled": 0},
    }


def test_quality_counts_an_error_apart_and_leaves_unscorable_tests_out(
    summary: dict[str, Any],
) -> None:
    quality = agent(summary, "a")["quality"]
    # 6 records with a scoring block (t3 has none); t2 r1 failed: 5 scored, 1 error
    assert counts(quality) == (6, 5, 1, 0)
    # scores 1, 1, 0, 0.5, 1: mean 3.5 / 5 = 0.7; deviations .3 .3 -.7 -.2 .3, squares sum 0.8,
    # variance 0.8 / 4 = 0.2, se = sqrt(0.2 / 5) = 0.2
    assert quality["mean_score"] == pytest.approx(0.7)
    assert quality["score_se"] == pytest.approx(0.2)
    assert quality["score_ci"] == list(bootstrap_mean_interval([1.0, 1.0, 0.0, 0.5, 1.0]) or [])
    # 3 passes of 5: Wilson with z² = 3.8414588: centre (0.6 + 0.3841459) / 1.7682918 = 0.5565518,
    # half 1.959964 * sqrt(0.048 + 0.0384146) / 1.7682918 = 1.959964 * 0.2939636 / 1.7682918
    #      = 0.3258275
    assert quality["pass_rate"] == pytest.approx(0.6)
    assert quality["pass_ci"] == [
        pytest.approx(0.5565518 - 0.3258275, abs=1e-6),
        pytest.approx(0.5565518 + 0.3258275, abs=1e-6),
    ]
    assert quality["reasoning_mean"] == pytest.approx(0.8)


def test_quality_counts_a_scorer_error_and_a_cancelled_request_as_errors(
    summary: dict[str, Any],
) -> None:
    quality = agent(summary, "c")["quality"]
    assert counts(quality) == (3, 1, 2, 1)
    # one score: a mean, but no spread to give an se or a bootstrap interval
    assert quality["mean_score"] == 1.0
    assert quality["score_se"] is None and quality["score_ci"] is None
    # Wilson 1 of 1: high = 1, low = 1 / (1 + z²) = 1 / 4.841459
    assert quality["pass_ci"] == [pytest.approx(1 / (1 + 1.959963984540054**2)), 1.0]
    assert quality["reasoning_mean"] is None


def test_categories_sorted_by_name(summary: dict[str, Any]) -> None:
    categories = agent(summary, "a")["categories"]
    assert list(categories) == ["math", "text"]
    math_q, text_q = categories["math"], categories["text"]
    # math: 1, 1, 0 (t3 has nothing to score); text: 0.5, error, 1
    assert (math_q["n"], math_q["scored"], math_q["errors"]) == (3, 3, 0)
    assert math_q["mean_score"] == pytest.approx(2 / 3) and math_q["pass_rate"] == pytest.approx(
        2 / 3
    )
    assert (text_q["n"], text_q["scored"], text_q["errors"]) == (3, 2, 1)
    assert text_q["mean_score"] == pytest.approx(0.75) and text_q["pass_rate"] == pytest.approx(0.5)
    assert text_q["reasoning_mean"] == pytest.approx(0.8) and math_q["reasoning_mean"] is None


def test_repeats_use_only_tests_with_every_repeat_scored(summary: dict[str, Any]) -> None:
    block = agent(summary, "a")["repeats"]
    # t1: 2 of 3 passed; t2 has an error, so it is left out
    assert (block["k"], block["tests"], block["excluded_tests"]) == (3, 1, 1)
    # pass@1 = 2/3; pass@2 = pass@3 = 1 (n - c = 1 < k); pass^1 = 2/3;
    # pass^2 = C(2,2)/C(3,2) = 1/3; pass^3 = 0 (c = 2 < 3)
    assert block["pass_at_k"] == {"1": pytest.approx(2 / 3), "2": 1.0, "3": 1.0}
    assert block["pass_hat_k"] == {"1": pytest.approx(2 / 3), "2": pytest.approx(1 / 3), "3": 0.0}
    assert block["agreement"] == pytest.approx(2 / 3)


def test_repeats_average_over_tests(summary: dict[str, Any]) -> None:
    block = agent(summary, "b")["repeats"]
    # t1: 1 of 3 -> pass@1 1/3, pass@2 1 - C(2,2)/C(3,2) = 2/3, pass@3 1 (n - c = 2 < 3),
    #     pass^1 1/3, pass^2 = pass^3 = 0 (c = 1 < k), agreement 2/3
    # t2: 3 of 3 -> every figure 1
    assert (block["tests"], block["excluded_tests"]) == (2, 0)
    assert block["pass_at_k"] == {
        "1": pytest.approx(2 / 3),
        "2": pytest.approx(5 / 6),
        "3": 1.0,
    }
    assert block["pass_hat_k"] == {
        "1": pytest.approx(2 / 3),
        "2": pytest.approx(0.5),
        "3": pytest.approx(0.5),
    }
    assert block["agreement"] == pytest.approx(5 / 6)


def test_repeats_with_no_complete_test_are_null(summary: dict[str, Any]) -> None:
    block = agent(summary, "c")["repeats"]
    assert (block["tests"], block["excluded_tests"]) == (0, 1)
    assert block["pass_at_k"] == {"1": None, "2": None, "3": None}
    assert block["pass_hat_k"] == {"1": None, "2": None, "3": None}
    assert block["agreement"] is None


@pytest.mark.parametrize(
    ("repeats", "ks"),
    [
        (1, [1]),
        (2, [1, 2]),
        (3, [1, 2, 3]),
        (4, [1, 2, 4]),
        (10, [1, 2, 4, 8, 10]),
        (16, [1, 2, 4, 8, 16]),
        (100, [1, 2, 4, 8, 16, 32, 64, 100]),
    ],
)
def test_pass_at_k_is_reported_for_1_the_powers_of_2_and_the_repeats(
    repeats: int, ks: list[int]
) -> None:
    assert k_values(repeats) == ks


def test_speed_over_ok_uncached_requests(summary: dict[str, Any]) -> None:
    speed = agent(summary, "a")["speed"]
    # ok and not cached: t1 r0-r2, t2 r0, t3 r0 -> latencies 1, 2, 3, 4, 5
    assert (speed["n"], speed["cached"]) == (5, 1)
    # p50: h = 4 * 0.5 = 2 -> 3; p95: h = 3.8 -> 4 + 0.8 = 4.8; p99: h = 3.96 -> 4.96
    assert speed["latency_s"] == {"p50": 3.0, "p95": pytest.approx(4.8), "p99": pytest.approx(4.96)}
    # ttft 0.1 ... 0.5: p50 0.3, p95 0.48; tokens/s 50 ... 90: p50 70
    assert speed["time_to_first_token_s"] == {"p50": pytest.approx(0.3), "p95": pytest.approx(0.48)}
    assert speed["tokens_per_second"] == {"p50": 70.0}
    assert (speed["prompt_tokens"], speed["completion_tokens"]) == (50, 25)
    assert speed["errors_by_kind"] == {"timeout": 1}


def test_speed_without_timings_is_null(summary: dict[str, Any]) -> None:
    speed = agent(summary, "c")["speed"]
    assert speed["time_to_first_token_s"] == {"p50": None, "p95": None}
    assert speed["errors_by_kind"] == {"cancelled": 1}


def test_every_pair_is_compared_in_agent_order(summary: dict[str, Any]) -> None:
    assert [(c["a"], c["b"]) for c in summary["comparisons"]] == [
        ("a", "b"),
        ("a", "c"),
        ("b", "c"),
    ]


def test_comparison_on_the_pairs_both_scored(summary: dict[str, Any]) -> None:
    ab = summary["comparisons"][0]
    # both scored: t1 r0-r2, t2 r0, t2 r2 (a's t2 r1 failed)
    # a: 1, 1, 0, 0.5, 1 (mean 0.7); b: 0, 1, 0, 1, 1 (mean 0.6); differences 1, 0, 0, -0.5, 0
    assert ab["n_pairs"] == 5
    assert (ab["mean_a"], ab["mean_b"], ab["mean_diff"]) == pytest.approx((0.7, 0.6, 0.1))
    _, interval = paired_bootstrap_diff([1.0, 1.0, 0.0, 0.5, 1.0], [0.0, 1.0, 0.0, 1.0, 1.0])
    assert ab["diff_ci"] == list(interval or [])
    assert ab["diff_ci"][0] < 0 < ab["diff_ci"][1] and ab["significant"] is False
    # a alone passed t1 r0, b alone passed t2 r0: m = 2, p = 2 * P(X <= 1) = 2 * 3/4, capped at 1
    assert ab["mcnemar"] == {"a_only": 1, "b_only": 1, "p_value": 1.0}
    # sd of the differences: mean 0.1, squares .81 .01 .01 .36 .01 = 1.2, / 4 = 0.3
    assert ab["min_detectable_diff"] == pytest.approx(Z_SUM * math.sqrt(0.3) / math.sqrt(5))


def test_comparison_of_one_pair_has_no_interval(summary: dict[str, Any]) -> None:
    bc = summary["comparisons"][2]
    # only t1 r0 is scored by both: b failed (0), c passed (1)
    assert (bc["n_pairs"], bc["mean_a"], bc["mean_b"], bc["mean_diff"]) == (1, 0.0, 1.0, -1.0)
    assert bc["diff_ci"] is None and bc["significant"] is False
    assert bc["mcnemar"] == {"a_only": 0, "b_only": 1, "p_value": 1.0}
    # fewer than two pairs: the fallback sd 0.5, over sqrt(1)
    assert bc["min_detectable_diff"] == pytest.approx(Z_SUM * 0.5)


@pytest.mark.parametrize(("n", "p_value", "significant"), [(5, 0.0625, False), (6, 0.03125, True)])
def test_a_clear_difference_is_significant_once_mcnemar_agrees(
    n: int, p_value: float, significant: bool
) -> None:
    records = [rec("a", "t1", r, 1.0) for r in range(n)] + [
        rec("b", "t1", r, 0.0) for r in range(n)
    ]
    result = analyse(records, AGENTS[:2], run_id="r", status="completed", repeats=n)
    (ab,) = result["comparisons"]
    # every difference is 1: the bootstrap interval is [1, 1]; McNemar n to 0: p = 2 / 2**n,
    # so 5 pairs (p = 0.0625) are not enough for 0/1 scores and 6 (p = 0.03125) are
    assert ab["diff_ci"] == [1.0, 1.0] and ab["significant"] is significant
    assert ab["mcnemar"] == {"a_only": n, "b_only": 0, "p_value": p_value}


def test_agents_without_common_pairs_are_compared_as_empty() -> None:
    records = [rec("a", "t1", 0, 1.0), rec("b", "t1", 0, None, status="error")]
    result = analyse(records, AGENTS[:2], run_id="r", status="completed", repeats=1)
    assert result["agents"][0]["repeats"] is None
    assert result["comparisons"] == [
        {
            "a": "a",
            "b": "b",
            "n_pairs": 0,
            "mean_a": None,
            "mean_b": None,
            "mean_diff": None,
            "diff_ci": None,
            "mcnemar": {"a_only": 0, "b_only": 0, "p_value": 1.0},
            "significant": False,
            "min_detectable_diff": None,
            "submissions": None,
        }
    ]


def test_the_summary_is_plain_json(summary: dict[str, Any]) -> None:
    text = json.dumps(summary, allow_nan=False)
    assert json.loads(text) == summary


def test_generated_at_defaults_to_now_in_utc() -> None:
    result = analyse([], [], run_id="r", status="completed", repeats=1)
    stamp = datetime.fromisoformat(result["generated_at"])
    assert stamp.utcoffset() is not None and stamp.utcoffset() == UTC.utcoffset(None)
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 60


def test_an_agent_listed_twice_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^analyse: agent_id listed more than once: a$"):
        analyse([], [AGENTS[0], AGENTS[0]], run_id="r", status="x", repeats=1)
