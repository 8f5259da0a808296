"""Reasoning models: the thinking is read from every form a server sends it in, kept apart from
the answer (scorers see only the answer), and timed: time to first token counts the first token
of any kind, time to first answer token the first of the answer, tokens/s every token."""

from __future__ import annotations

import asyncio
import json
import statistics
from pathlib import Path
from typing import Any

import pytest

from llmbench import TestRunner
from llmbench.cli.main import main
from llmbench.cli.run import main as runner_main
from llmbench.providers.http1 import HttpClient
from llmbench.providers.openai_compatible import (
    Completion,
    build_request,
    request_completion,
)
from llmbench.providers.thinking import InlineThinking, split_leading
from llmbench.result import TestResult
from llmbench.suite.models import TestCase
from tests.conftest import make_test
from tests.scripted_server import Answer, ScriptedServer
from tests.test_runner_e2e import _agent, _base_config, _run_dir, _suite

FORMS = ("reasoning_content", "reasoning", "inline")
THOUGHTS = ["Let", " me", " add", " 2", " and", " 3", "."]
ANSWER = ["The", " answer", " is", " 5"]


def _thinking(form: str, **kwargs: Any) -> Answer:
    return Answer(chunks=ANSWER, reasoning=THOUGHTS, reasoning_form=form, **kwargs)


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "not-streamed"])
@pytest.mark.parametrize("form", FORMS)
def test_thinking_is_kept_apart_from_the_answer(
    server: ScriptedServer, runner: TestRunner, form: str, stream: bool
) -> None:
    runner.configure_api(server.url + "/v1", "scripted-model", stream=stream)
    server.script(_thinking(form))
    result = runner.execute_single_test("t1")
    assert result.status == "ok"
    assert result.response_text == "The answer is 5"
    assert result.reasoning_text == "Let me add 2 and 3."
    thinking_events = len(THOUGHTS) + (2 if form == "inline" else 0)  # <think> and </think>
    assert result.reasoning_tokens == thinking_events  # the server's count
    assert result.completion_tokens == thinking_events + len(ANSWER)
    assert not result.tokens_estimated and not result.reasoning_truncated


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "not-streamed"])
@pytest.mark.parametrize("form", FORMS)
def test_reasoning_tokens_are_counted_when_usage_lacks_them(
    server: ScriptedServer, runner: TestRunner, form: str, stream: bool
) -> None:
    runner.configure_api(server.url + "/v1", "scripted-model", stream=stream)
    server.script(_thinking(form, reasoning_usage=False))
    result = runner.execute_single_test("t1")
    assert result.reasoning_text == "Let me add 2 and 3."
    assert result.tokens_estimated
    if stream:  # one token an event: the thinking events (the tag events of inline thinking)
        assert result.reasoning_tokens == len(THOUGHTS) + (2 if form == "inline" else 0)
    else:  # four characters a token: "Let me add 2 and 3." is 19
        assert result.reasoning_tokens == 5


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "not-streamed"])
@pytest.mark.parametrize("form", FORMS)
def test_thinking_cut_off_by_max_tokens_is_marked_truncated(
    server: ScriptedServer, runner: TestRunner, form: str, stream: bool
) -> None:
    runner.configure_api(server.url + "/v1", "scripted-model", stream=stream)
    server.script(
        Answer(
            chunks=[],
            text="",
            reasoning=THOUGHTS,
            reasoning_form=form,
            reasoning_closed=False,
            finish_reason="length",
        )
    )
    result = runner.execute_single_test("t1")
    assert result.status == "ok"
    assert result.response_text == ""
    assert result.reasoning_text == "Let me add 2 and 3."
    assert result.reasoning_truncated and result.finish_reason == "length"


def test_a_closed_answer_cut_by_max_tokens_is_not_truncated_thinking(
    server: ScriptedServer, runner: TestRunner
) -> None:
    server.script(_thinking("reasoning_content", finish_reason="length"))
    result = runner.execute_single_test("t1")
    assert result.response_text == "The answer is 5" and not result.reasoning_truncated


def test_reasoning_tags_off_keeps_the_content_whole(
    server: ScriptedServer, runner: TestRunner
) -> None:
    runner.configure_api(server.url + "/v1", "scripted-model", reasoning_tags=None)
    server.script(_thinking("inline"))
    result = runner.execute_single_test("t1")
    assert result.response_text == "<think>Let me add 2 and 3.</think>The answer is 5"
    assert result.reasoning_text == "" and result.reasoning_tokens == 9  # the server's count


def test_an_answer_without_thinking_is_untouched(
    server: ScriptedServer, runner: TestRunner
) -> None:
    server.script(Answer(chunks=["  <b>", "bold", "</b> <think>x</think>"]))
    result = runner.execute_single_test("t1")
    assert result.response_text == "  <b>bold</b> <think>x</think>"
    assert result.reasoning_text == "" and result.reasoning_tokens is None
    assert result.time_to_first_answer_token == result.time_to_first_token


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "not-streamed"])
def test_thinking_opened_by_the_chat_template_is_split_at_its_closing_tag(
    server: ScriptedServer, runner: TestRunner, stream: bool
) -> None:
    """DeepSeek-R1's template writes <think> into the prompt: the content is thinking, then
    </think>, then the answer."""
    runner.configure_api(server.url + "/v1", "scripted-model", stream=stream)
    server.script(Answer(chunks=["Let me", " add.\n", "</think>", "\n\nThe answer", " is 5"]))
    result = runner.execute_single_test("t1")
    assert (result.reasoning_text, result.response_text) == ("Let me add.", "The answer is 5")
    assert result.reasoning_tokens is not None and result.reasoning_tokens >= 1
    assert result.tokens_estimated and not result.reasoning_truncated
    assert result.time_to_first_answer_token is None  # the split is found only at the end
    if stream:
        assert result.time_to_first_token is not None


def test_without_tags_thinking_opened_by_the_template_stays_in_the_answer(
    server: ScriptedServer, runner: TestRunner
) -> None:
    runner.configure_api(server.url + "/v1", "scripted-model", reasoning_tags=None)
    server.script(Answer(chunks=["Let me add.", "</think>", "5"]))
    result = runner.execute_single_test("t1")
    assert (result.reasoning_text, result.response_text) == ("", "Let me add.</think>5")


@pytest.mark.parametrize(
    ("pieces", "thinking", "answer"),
    [
        (["<think>a</think>b"], "a", "b"),
        (["\n<th", "ink>", "a", "</th", "ink>", "\n\nb"], "a", "b"),
        (["<think>", "a<", "/", "think", ">b", "c"], "a", "bc"),
        (["<think>ab</think>"], "ab", ""),
        (["<", "b>"], "", "<b>"),
        (["<thi"], "", "<thi"),  # ended before it could be the tag: answer
        ([" ", "x", "<think>"], "", " x<think>"),
    ],
)
def test_inline_thinking_is_split_whatever_the_pieces(
    pieces: list[str], thinking: str, answer: str
) -> None:
    splitter = InlineThinking(("<think>", "</think>"))
    out = []
    for piece in pieces:
        out.append(piece if splitter.answering else splitter.feed(piece))
    out.append(splitter.leftover())
    got = "".join(out)
    assert (splitter.text(), got.lstrip() if splitter.events else got) == (thinking, answer)
    assert split_leading("".join(pieces), ("<think>", "</think>"))[:2] == (thinking, answer)


# timing: the server injects the time to the first event and the gap between events

TTFT_S = 0.2
GAP_S = 0.05
N_THOUGHTS = 10
REPEATS = 3


async def _timed(server: ScriptedServer, behaviour: Answer) -> list[Completion]:
    body = build_request(
        TestCase.model_validate(make_test("t")), model="m", api_type="chat", stream=True
    )
    out = []
    async with HttpClient() as session:
        for _ in range(REPEATS):
            server.script(behaviour)
            out.append(
                await request_completion(
                    session,
                    server.chat_url,
                    {},
                    body,
                    api_type="chat",
                    read_timeout_s=10,
                    connect_timeout_s=10,
                )
            )
    return out


def _median(values: list[float | None]) -> float:
    assert all(v is not None for v in values), values
    return statistics.median(v for v in values if v is not None)


@pytest.mark.parametrize("form", FORMS)
def test_timings_are_those_the_server_injected(server: ScriptedServer, form: str) -> None:
    thoughts = [f" t{i}" for i in range(N_THOUGHTS)]
    behaviour = Answer(
        chunks=ANSWER,
        reasoning=thoughts,
        reasoning_form=form,
        ttft_s=TTFT_S,
        token_interval_s=GAP_S,
    )
    completions = asyncio.run(_timed(server, behaviour))
    before_answer = N_THOUGHTS + (2 if form == "inline" else 0)
    expected = {
        "time_to_first_token": TTFT_S,
        "time_to_first_answer_token": TTFT_S + before_answer * GAP_S,
        "tokens_per_second": 1 / GAP_S,
    }
    measured = {name: _median([getattr(c, name) for c in completions]) for name in expected}
    for name, value in expected.items():
        assert measured[name] == pytest.approx(value, rel=0.05), (name, measured)
    assert all(c.completion_tokens == before_answer + len(ANSWER) for c in completions)


# a whole run: the journal, show, scoring


def test_a_run_keeps_the_thinking_and_scores_only_the_answer(
    server: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    # the thinking mentions the expected answer's opposite: scored on it, the test would fail
    server.set_default(
        Answer(chunks=["4"], reasoning=["Not 5, ", "surely 4?"], reasoning_form="reasoning")
    )
    _suite(
        tmp_path,
        [make_test("q1", expected="4", scoring=[{"type": "exact"}]), make_test("q2", expected="5")],
    )
    _base_config(tmp_path, server.url + "/v1", server.url + "/v1")
    _agent(
        tmp_path,
        "thinker",
        server.url + "/v1",
        'reasoning_tags = false\n[parameters]\nreasoning_effort = "high"\n'
        "chat_template_kwargs = {enable_thinking = true, thinking_budget = 512}",
    )
    monkeypatch.chdir(tmp_path)
    assert runner_main(["--base_config", "base_config.toml", "--agent_config", "agents"]) == 0
    run_dir = _run_dir(tmp_path)
    journal = [
        json.loads(line)
        for line in (run_dir / "results.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert {e["reasoning_text"] for e in journal} == {"Not 5, surely 4?"}
    assert {e["response_text"] for e in journal} == {"4"}
    assert {e["reasoning_tokens"] for e in journal} == {2}
    scores = [
        json.loads(line)
        for line in (run_dir / "scores.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    passed = {s["test_id"]: s["scoring"]["passed"] for s in scores}
    assert passed == {"q1": True, "q2": False}
    body = server.requests[-1].body
    assert body is not None and body["reasoning_effort"] == "high"
    assert body["chat_template_kwargs"] == {"enable_thinking": True, "thinking_budget": 512}
    capsys.readouterr()
    assert main(["show", str(run_dir), "q1"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["reasoning_text"] == "Not 5, surely 4?" and shown["response_text"] == "4"
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    speed = summary["agents"][0]["speed"]
    assert speed["reasoning_tokens"] == {"p50": 2, "total": 4}
    assert speed["reasoning_truncated"] == 0.0
    assert speed["time_to_first_answer_token_s"]["p50"] is not None


def test_an_older_result_without_the_new_fields_loads() -> None:
    old = {
        "test_id": "q1",
        "test_name": "q1",
        "success": True,
        "response_text": "4",
        "execution_time": 0.5,
        "time_to_first_token": 0.1,
    }
    result = TestResult.from_dict(old)
    assert result.reasoning_text == "" and result.reasoning_tokens is None
    assert result.time_to_first_answer_token is None and not result.reasoning_truncated


def test_each_turn_keeps_its_thinking_in_the_transcript(server: ScriptedServer) -> None:
    from tests.test_interactive import STEP_1, STEP_2, converse_over_http, make_case, make_settings

    server.script(
        Answer(chunks=["A1"], reasoning=["first thought"]),
        Answer(chunks=["A2"], reasoning=["<think>second"], reasoning_form="reasoning"),
    )
    conversation = converse_over_http(server, make_case(), make_settings(mode="scripted"))
    replies = [e for e in conversation.transcript if e["role"] == "assistant"]
    assert [(e["content"], e["reasoning"]) for e in replies] == [
        ("A1", "first thought"),
        ("A2", "<think>second"),
    ]
    second_request = server.requests[-1].body
    assert second_request is not None  # the agent gets its answers back, not its thinking
    assert second_request["messages"] == [
        {"role": "user", "content": STEP_1},
        {"role": "assistant", "content": "A1"},
        {"role": "user", "content": STEP_2},
    ]


def test_the_judge_sees_the_thinking_only_when_asked() -> None:
    from llmbench.scoring.base import ScoreInput
    from llmbench.scoring.judge import judge_messages

    test = TestCase.model_validate(make_test("q1", expected="4"))
    plain = judge_messages(ScoreInput(test, "4"), None)[1]["content"]
    shown = judge_messages(ScoreInput(test, "4", reasoning="2 + 2 is 4"), None)[1]["content"]
    assert "2 + 2 is 4" not in plain
    assert "thinking before its answer" in shown and "2 + 2 is 4" in shown
    assert shown.index("2 + 2 is 4") < shown.index("Answer to grade:\n4")


def test_a_cached_answer_keeps_its_thinking_and_an_older_entry_loads() -> None:
    from llmbench.engine.calls import _from_cache, _to_cache

    completion = Completion(
        text="4",
        prompt_tokens=3,
        completion_tokens=9,
        tokens_estimated=False,
        time_to_first_token=0.1,
        generation_time=0.4,
        total_time=0.5,
        finish_reason="stop",
        http_status=200,
        reasoning_text="hmm",
        reasoning_tokens=8,
        reasoning_truncated=False,
    )
    back = _from_cache(_to_cache(completion))
    assert (back.text, back.reasoning_text, back.reasoning_tokens) == ("4", "hmm", 8)
    older = {k: v for k, v in _to_cache(completion).items() if not k.startswith("reasoning")}
    assert _from_cache(older).reasoning_text == ""


def test_an_answer_cut_off_while_thinking_says_so_in_the_report() -> None:
    from llmbench.report.markdown import failure_reason
    from llmbench.scoring.scored import ScoredResult

    record = {
        "agent_id": "a",
        "test_id": "q1",
        "status": "ok",
        "reasoning_truncated": True,
        "scoring": {"score": 0.0, "passed": False, "scores": []},
    }
    assert (
        failure_reason(record) == "ran out of tokens while thinking (no answer; raise max_tokens)"
    )
    older = ScoredResult.from_record({"agent_id": "a", "test_id": "q1"})
    assert older.reasoning_tokens is None and not older.reasoning_truncated
    assert older.time_to_first_answer_token is None


def test_reports_show_the_thinking_of_agents_that_thought() -> None:
    from llmbench.report.markdown import _reasoning

    def agent(agent_id: str, total: int, truncated: float) -> dict[str, Any]:
        speed = {
            "reasoning_tokens": {"p50": 120.0, "total": total},
            "reasoning_truncated": truncated,
            "time_to_first_answer_token_s": {"p50": 1.5, "p95": 3.25},
        }
        return {"agent_id": agent_id, "quality": {"mean_score": 0.5}, "speed": speed}

    summary = {"agents": [agent("thinker", 480, 0.25), agent("plain", 0, 0.0)]}
    lines = _reasoning(summary)
    assert lines[0] == "## Reasoning"
    assert "| thinker | 120 | 480 | 1.50 / 3.25 | 25% |" in lines
    assert not any("plain" in line for line in lines)
    assert _reasoning({"agents": [agent("plain", 0, 0.0)]}) == []


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ('["<think>"]', "['<think>']"),
        ('["<think>", ""]', "['<think>', '']"),
        ("true", "True"),
        ('"<think>"', "'<think>'"),
    ],
)
def test_bad_reasoning_tags_are_named(tmp_path: Path, value: str, shown: str) -> None:
    from llmbench.config.agent_config import load_agent
    from llmbench.errors import ConfigError

    path = tmp_path / "a.toml"
    path.write_text(f'id = "a"\nendpoint = "http://h/v1"\nreasoning_tags = {value}\n')
    with pytest.raises(ConfigError) as info:
        load_agent(path)
    assert str(info.value) == (
        f"{path}: field 'reasoning_tags': expected two tags such as "
        f'["<think>", "</think>"], or false, got {shown}'
    )


def test_custom_reasoning_tags_split_the_answer(tmp_path: Path) -> None:
    from llmbench.config.agent_config import load_agent

    path = tmp_path / "a.toml"
    path.write_text('id = "a"\nendpoint = "http://h/v1"\nreasoning_tags = ["<r>", "</r>"]\n')
    tags = load_agent(path).api_configuration().reasoning_tags
    assert tags == ("<r>", "</r>")
    assert split_leading("<r>hm</r> 4", tags) == ("hm", "4", False)
