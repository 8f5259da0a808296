"""``TestRunner.score``: results of ``execute_*`` scored and summarised as a run does."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from llmbench import APIConfiguration, ConfigError, ScoredResults, SuiteError, TestRunner
from tests.conftest import make_test
from tests.scripted_server import Answer, Echo, ScriptedServer, Stall, Status

JUDGE = "You grade one answer"  # opens the judge's system prompt


def _runner(server: ScriptedServer, suite: Path) -> TestRunner:
    runner = TestRunner()
    runner.load_test_suite(suite)
    runner.configure_api(server.url + "/v1", "scripted-model", retry_attempts=0, timeout=5.0)
    return runner


@pytest.fixture
def scored_suite(write_suite: Callable[..., Path]) -> Path:
    return write_suite(
        make_test("q1", category="words", expected="question q1", scoring=[{"type": "contains"}]),
        make_test("q2", category="math", expected=42, prompt="what is 6 times 7? say 41"),
        make_test("q3", category="words"),  # nothing to score
        make_test("q4", category="math", expected=4, prompt="what is 2 + 2? say 4"),
    )


def test_score_uses_each_tests_scorers_and_summarises_as_a_run(
    server: ScriptedServer, scored_suite: Path
) -> None:
    server.set_default(Echo())
    server.script(Status(400, "bad request"), marker="2 + 2")
    with _runner(server, scored_suite) as runner:
        results = runner.execute_concurrent(workers=2)
        scored = runner.score(results)
    assert isinstance(scored, ScoredResults)
    # q1: contains -> 1.0; q2: numeric 41 vs 42 -> 0.0; q3: nothing to score; q4: the request
    # failed -> not scored (an error, never a zero)
    assert [(s.test_id, s.score, s.passed) for s in scored.results] == [
        ("q1", 1.0, True),
        ("q2", 0.0, False),
        ("q3", None, None),
        ("q4", None, None),
    ]
    assert scored.records[1]["scoring"]["scores"][0]["scorer"] == "numeric"
    assert "expected 42" in scored.records[1]["scoring"]["scores"][0]["reason"]
    assert scored.records[2]["scoring"] is None
    assert scored.records[3]["scoring"]["error"] == "not scored: the request failed"
    assert scored.records[0]["prompt"] == "question q1"
    assert scored.records[0]["agent_id"] == "scripted-model"

    summary = scored.summary
    assert (summary["status"], summary["repeats"]) == ("completed", 1)
    agent = scored.agent
    assert agent is summary["agents"][0]
    assert (agent["agent_id"], agent["model"]) == ("scripted-model", "scripted-model")
    assert agent["endpoint"] == server.url + "/v1/chat/completions"
    assert (agent["planned"], agent["not_run"]) == (4, 0)
    quality = agent["quality"]
    # q1, q2 and q4 have scorers: two scored (mean 0.5, one pass of two), one error
    assert (quality["n"], quality["scored"], quality["errors"]) == (3, 2, 1)
    assert quality["mean_score"] == 0.5 and quality["pass_rate"] == 0.5
    # Wilson 95% for 1 of 2: centre 0.5, half-width 1.96 * sqrt(0.125 + 0.2401) / 2.9208
    assert quality["pass_ci"] == pytest.approx([0.0945, 0.9055], abs=1e-3)
    low, high = quality["score_ci"]
    assert low <= 0.5 <= high
    assert agent["categories"]["words"]["n"] == 1
    assert agent["categories"]["words"]["mean_score"] == 1.0
    assert (agent["categories"]["math"]["scored"], agent["categories"]["math"]["errors"]) == (1, 1)
    assert agent["speed"]["n"] == 3  # the three answered requests
    assert agent["speed"]["errors_by_kind"] == {"http": 1}
    assert agent["repeats"] is None
    assert summary["comparisons"] == []


def test_a_tests_later_results_are_its_repeats_and_reports_are_written(
    server: ScriptedServer, scored_suite: Path, tmp_path: Path
) -> None:
    server.set_default(Echo())
    server.script(Answer("the answer is 41"), Answer("42"), marker="6 times 7")
    with _runner(server, scored_suite) as runner:
        first = runner.execute_single_test("q2")
        second = runner.execute_single_test("q2")
        scored = runner.score([first, second], report_dir=tmp_path / "out", agent_id="mine")
    assert [(s.repeat, s.passed) for s in scored.results] == [(0, False), (1, True)]
    repeats = scored.agent["repeats"]
    # one test, 1 pass of 2 samples: pass@1 = 1/2, pass@2 = 1, pass^2 = 0
    assert repeats["k"] == 2 and repeats["tests"] == 1
    assert repeats["pass_at_k"] == {"1": 0.5, "2": 1.0}
    assert repeats["pass_hat_k"] == {"1": 0.5, "2": 0.0}
    out = tmp_path / "out"
    assert scored.reports == {
        "summary": out / "summary.json",
        "markdown": out / "report.md",
        "html": out / "report.html",
    }
    assert json.loads((out / "summary.json").read_text()) == scored.summary
    assert "| mine |" in (out / "report.md").read_text()
    assert "mine" in (out / "report.html").read_text()


def test_a_single_result_can_be_scored(server: ScriptedServer, scored_suite: Path) -> None:
    server.set_default(Echo())
    with _runner(server, scored_suite) as runner:
        scored = runner.score(runner.execute_single_test("q1"))
    assert [(s.test_id, s.passed) for s in scored.results] == [("q1", True)]
    assert scored.reports == {}


def test_the_judge_grades_when_given(
    server: ScriptedServer, server2: ScriptedServer, write_suite: Callable[..., Path]
) -> None:
    suite = write_suite(
        make_test("j1", expected="Paris", scoring=[{"type": "judge", "rubric": "names Paris"}])
    )
    server.set_default(Answer("Paris, of course"))
    server2.script(Answer(json.dumps({"score": 8, "reason": "names Paris"})), marker=JUDGE)
    with _runner(server, suite) as runner:
        results = runner.execute_sequential()
        scored = runner.score(results, judge=APIConfiguration(server2.url + "/v1", "judge-model"))
    assert server2.request_count(JUDGE) == 1
    judged = server2.requests[-1].body or {}
    assert judged["model"] == "judge-model"
    assert "Answer to grade:\nParis, of course" in judged["messages"][1]["content"]
    assert scored.records[0]["scoring"]["scores"][0]["reason"] == "judge 8/10: names Paris"
    assert (scored.results[0].score, scored.results[0].passed) == (0.8, True)
    assert scored.agent["quality"]["mean_score"] == 0.8


def test_without_a_judge_judged_tests_are_errors_and_a_warning_says_how(
    server: ScriptedServer, write_suite: Callable[..., Path], caplog: pytest.LogCaptureFixture
) -> None:
    suite = write_suite(
        make_test("j1", expected="Paris", scoring=[{"type": "judge"}]),
        make_test("e1", expected="question e1"),
    )
    server.set_default(Echo())
    with _runner(server, suite) as runner, caplog.at_level(logging.WARNING, logger="llmbench"):
        scored = runner.score(runner.execute_sequential())
    assert scored.records[0]["scoring"]["error"] == "judge: no judge configured"
    assert scored.results[1].passed is True
    quality = scored.agent["quality"]
    assert (quality["scored"], quality["errors"], quality["scorer_errors"]) == (1, 1, 1)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("pass judge=APIConfiguration(endpoint, model)" in w for w in warnings)


def test_an_interactive_tests_judge_reads_the_conversation(
    server: ScriptedServer, server2: ScriptedServer, write_suite: Callable[..., Path]
) -> None:
    suite = write_suite(
        {
            "id": "chat_01",
            "name": "budget",
            "category": "dialogue",
            "type": "interactive",
            "instructions": ["Say you have 90 euros for 3 days.", "Ask how much per day."],
            "expected": "thirty",
            "scoring": [{"type": "judge"}],
        }
    )
    server.set_default(Answer("thirty euros a day"))
    server2.script(Answer(json.dumps({"score": 10, "reason": "right"})), marker=JUDGE)
    with _runner(server, suite) as runner:
        results = runner.execute_sequential()
        scored = runner.score(results, judge=APIConfiguration(server2.url + "/v1", "judge-model"))
    question = (server2.requests[-1].body or {})["messages"][1]["content"]
    assert "A conversation" in question
    assert "Say you have 90 euros for 3 days." in question
    assert "Ask how much per day." in question
    assert scored.results[0].passed is True
    assert scored.records[0]["transcript"] is not None


def test_cancelled_results_make_the_summary_interrupted(
    server: ScriptedServer, scored_suite: Path
) -> None:
    server.set_default(Stall(after_chunks=1, stall_s=30))
    with _runner(server, scored_suite) as runner:

        def cancel_once_sent() -> None:
            deadline = time.monotonic() + 10
            while server.request_count() < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            runner.cancel_execution()

        canceller = threading.Thread(target=cancel_once_sent)
        canceller.start()
        results = runner.execute_concurrent(["q1"])
        canceller.join()
        scored = runner.score(results)
    assert [r.status for r in results] == ["cancelled"]
    assert scored.summary["status"] == "interrupted"
    assert scored.records[0]["scoring"]["error"] == "not scored: the request failed"


def test_a_bad_scoring_spec_names_the_file_and_the_test(
    server: ScriptedServer, write_suite: Callable[..., Path]
) -> None:
    suite = write_suite(make_test("b1", expected="x", scoring=[{"type": "exact", "bogus": 1}]))
    with _runner(server, suite) as runner, pytest.raises(SuiteError) as caught:
        runner.score([])
    message = str(caught.value)
    assert message.startswith(f"{suite}: ") and "test 'b1'" in message and "bogus" in message


def test_a_judge_without_a_model_is_a_config_error(
    server: ScriptedServer, scored_suite: Path
) -> None:
    with (
        _runner(server, scored_suite) as runner,
        pytest.raises(ConfigError, match="score: judge: no model configured"),
    ):
        runner.score([], judge=APIConfiguration(server.url + "/v1", ""))
