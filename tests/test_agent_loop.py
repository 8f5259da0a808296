"""The agent loop of tests with tools (engine/agent_loop.py) and the two tool protocols
(tools/protocol.py), with a scripted model and a recording session: what is sent back, what is
recorded, where each limit stops the test. The real sandbox and server are in
tests/test_tool_runs.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from llmbench.engine.agent_loop import Episode, ToolLimits
from llmbench.errors import RequestFailure, SandboxError
from llmbench.providers.openai_compatible import Completion
from llmbench.providers.tool_calls import ToolCall
from llmbench.tools.protocol import (
    PYTHON_TOOL,
    fenced_code,
    output_text,
    system_message,
    with_system_message,
)


def reply(
    text: str = "",
    calls: Sequence[tuple[str, str]] = (),
    *,
    total_time: float = 0.01,
    tokens: tuple[int, int] = (10, 5),
) -> Completion:
    return Completion(
        text=text,
        prompt_tokens=tokens[0],
        completion_tokens=tokens[1],
        tokens_estimated=False,
        time_to_first_token=0.001,
        generation_time=0.001,
        total_time=total_time,
        finish_reason="tool_calls" if calls else "stop",
        http_status=200,
        tool_calls=tuple(ToolCall(call_id, "python", arguments) for call_id, arguments in calls),
    )


def call(call_id: str, code: str) -> tuple[str, str]:
    return call_id, json.dumps({"code": code})


@dataclass
class Cell:
    output: str
    raised: bool = False
    error: str | None = None
    timed_out: bool = False
    restarted: bool = False
    duration_s: float = 0.002
    cut_chars: int = 0


@dataclass
class RecordingSession:
    """Runs nothing: answers each code with ``outputs[code]`` (default: ``ran <code>``)."""

    outputs: dict[str, Cell] = field(default_factory=dict)
    ran: list[tuple[str, float | None]] = field(default_factory=list)
    restarts: int = 0
    home: str = "/home/agent"
    data: str | None = None
    fail_with: Exception | None = None

    async def run(self, code: str, *, timeout_s: float | None = None) -> Cell:
        if self.fail_with is not None:
            raise self.fail_with
        self.ran.append((code, timeout_s))
        return self.outputs.get(code, Cell(f"ran {code}"))

    async def close(self) -> None:
        pass


class ScriptedModel:
    """Answers each request with the next reply; records what each request carried."""

    def __init__(self, *replies: Completion | Exception) -> None:
        self.replies = list(replies)
        self.requests: list[tuple[list[dict[str, Any]], dict[str, Any]]] = []

    async def __call__(
        self, messages: list[dict[str, Any]], parameters: dict[str, Any]
    ) -> Completion:
        self.requests.append(([dict(m) for m in messages], parameters))
        item = self.replies.pop(0)
        if isinstance(item, Exception):
            raise item
        return item


def episode(
    model: ScriptedModel,
    session: RecordingSession,
    protocol: str = "text",
    limits: ToolLimits | None = None,
) -> Episode:
    return Episode(
        model,
        session,  # type: ignore[arg-type]
        protocol=protocol,  # type: ignore[arg-type]
        limits=limits or ToolLimits(),
        parameters={"temperature": 0.0},
        history=[{"role": "system", "content": "tools"}],
    )


def run_turn(ep: Episode, text: str = "go", number: int = 1) -> Any:
    return asyncio.run(ep.turn({"role": "user", "content": text}, number))


# -- the text protocol ---------------------------------------------------------------------


def test_text_protocol_runs_each_block_and_sends_the_outputs_back_in_one_user_message() -> None:
    model = ScriptedModel(
        reply("Let me compute.\n```python\nx = 6 * 7\n```\nand\n```python\nprint(x)\n```"),
        reply("The answer is 42."),
    )
    session = RecordingSession({"print(x)\n": Cell("42\n")})
    ep = episode(model, session)
    turn = run_turn(ep)
    assert turn.text == "The answer is 42." and turn.stop is None
    assert [code for code, _ in session.ran] == ["x = 6 * 7\n", "print(x)\n"]
    second = model.requests[1][0]
    assert second[-2]["role"] == "assistant" and "```python" in second[-2]["content"]
    assert second[-1] == {
        "role": "user",
        "content": "Output of block 1 of 2:\n```output\nran x = 6 * 7\n```\n\n"
        "Output of block 2 of 2:\n```output\n42\n```",
    }
    assert "tools" not in model.requests[0][1]  # nothing offered in the text protocol
    roles = [e["role"] for e in turn.entries]
    assert roles == ["assistant", "tool", "tool", "assistant"]
    assert turn.entries[0]["tool_calls"] == [
        {"id": None, "code": "x = 6 * 7\n"},
        {"id": None, "code": "print(x)\n"},
    ]
    assert ep.counters.tool_calls == 2 and ep.counters.code_errors == 0


def test_fenced_code_takes_python_blocks_only_and_an_unclosed_last_one() -> None:
    text = (
        "```\nnot python\n```\n```py\na = 1\n```\n```python3\nb = 2\n```\n"
        "```python\n   \n```\n```python\nc = 3\n"
    )
    assert fenced_code(text) == ["a = 1\n", "b = 2\n", "c = 3\n"]
    assert fenced_code("The answer is 4.") == []


def test_output_text_keeps_fences_in_the_output_from_closing_the_block() -> None:
    shown = output_text(["```\nhello"])
    assert shown == "Output of your code:\n```output\n`\u200b``\nhello\n```"
    assert output_text([""]) == "Output of your code:\n```output\n(no output)\n```"


# -- the function protocol -----------------------------------------------------------------


def test_function_protocol_offers_the_tool_and_answers_each_call_by_its_id() -> None:
    model = ScriptedModel(
        reply(calls=[call("call_a", "x = 2"), call("call_b", "print(x + 1)")]),
        reply("3"),
    )
    session = RecordingSession({"print(x + 1)": Cell("3\n")})
    ep = episode(model, session, "function")
    turn = run_turn(ep)
    assert turn.text == "3"
    assert model.requests[0][1]["tools"] == [PYTHON_TOOL]
    history = model.requests[1][0]
    assert history[-3]["role"] == "assistant" and history[-3]["content"] is None
    assert [c["id"] for c in history[-3]["tool_calls"]] == ["call_a", "call_b"]
    assert history[-2:] == [
        {"role": "tool", "tool_call_id": "call_a", "content": "ran x = 2"},
        {"role": "tool", "tool_call_id": "call_b", "content": "3\n"},
    ]


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ("{not json", "the arguments are not JSON"),
        ('{"source": "1"}', 'the arguments need "code"'),
    ],
)
def test_a_call_that_cannot_be_read_is_answered_with_the_problem_and_runs_nothing(
    arguments: str, problem: str
) -> None:
    model = ScriptedModel(reply(calls=[("c1", arguments)]), reply("done"))
    session = RecordingSession()
    ep = episode(model, session, "function")
    turn = run_turn(ep)
    assert session.ran == []
    sent = model.requests[1][0][-1]
    assert sent["role"] == "tool" and problem in sent["content"]
    tool = next(e for e in turn.entries if e["role"] == "tool")
    assert tool["raised"] is True and problem in tool["error"]
    assert ep.counters.code_errors == 1 and ep.counters.tool_calls == 1


def test_a_call_to_another_tool_is_refused_by_name() -> None:
    completion = reply()
    completion = Completion(
        **{**completion.__dict__, "tool_calls": (ToolCall("c1", "shell", '{"code": "ls"}'),)}
    )
    model = ScriptedModel(completion, reply("ok"))
    ep = episode(model, RecordingSession(), "function")
    run_turn(ep)
    assert "there is no tool named 'shell'" in model.requests[1][0][-1]["content"]


# -- limits --------------------------------------------------------------------------------


def test_max_tool_calls_stops_the_test_in_that_turn_and_runs_nothing_past_it() -> None:
    model = ScriptedModel(
        reply("```python\na = 1\n```\n```python\nb = 2\n```"),
        reply("```python\nc = 3\n```"),
    )
    session = RecordingSession()
    ep = episode(model, session, limits=ToolLimits(max_tool_calls=2))
    turn = run_turn(ep)
    assert [code for code, _ in session.ran] == ["a = 1\n", "b = 2\n"]
    assert turn.stop == "tool_limit"
    assert turn.entries[-1] == {
        "role": "note",
        "source": "runner",
        "turn": 1,
        "content": "stopped: max_tool_calls=2 reached in turn 1",
    }
    assert turn.text == "```python\nc = 3\n```"  # the last reply: scored as the answer


def test_max_tool_calls_total_counts_over_turns() -> None:
    model = ScriptedModel(
        reply("```python\na = 1\n```"),
        reply("first answer"),
        reply("```python\nb = 2\n```"),
    )
    ep = episode(model, RecordingSession(), limits=ToolLimits(max_tool_calls_total=1))
    assert run_turn(ep, number=1).stop is None
    second = run_turn(ep, "again", number=2)
    assert second.stop == "tool_limit"
    assert second.entries[-1]["content"] == "stopped: max_tool_calls_total=1 reached"


def test_time_limit_counts_model_and_code_time_and_gives_code_only_what_is_left() -> None:
    model = ScriptedModel(
        reply("```python\nslow()\n```", total_time=6.0),
        reply("```python\nmore()\n```", total_time=1.0),
        reply("final", total_time=0.01),
    )
    session = RecordingSession({"slow()\n": Cell("", duration_s=2.5)})
    ep = episode(model, session, limits=ToolLimits(time_limit_s=10.0))
    turn = run_turn(ep)
    assert session.ran[0] == ("slow()\n", 4.0)  # 10 s less the first model call's 6
    assert session.ran[1][1] == pytest.approx(0.5)  # less 2.5 s of code and 1 s of model
    assert turn.stop is None and turn.text == "final"
    assert ep.counters.work_s == pytest.approx(6.0 + 2.5 + 1.0 + 0.002 + 0.01)


def test_time_limit_reached_stops_before_the_next_model_call() -> None:
    model = ScriptedModel(reply("```python\nx = 1\n```", total_time=5.0), reply("unasked"))
    session = RecordingSession({"x = 1\n": Cell("", duration_s=5.0)})
    ep = episode(model, session, limits=ToolLimits(time_limit_s=10.0))
    turn = run_turn(ep)
    assert turn.stop == "time_limit" and len(model.requests) == 1
    assert turn.entries[-1]["content"] == "stopped: time_limit_s=10 reached"


def test_cached_replies_take_no_working_time() -> None:
    cached = Completion(
        **{**reply("```python\nx = 1\n```", total_time=50).__dict__, "cached": True}
    )
    model = ScriptedModel(cached, reply("done", total_time=0.5))
    ep = episode(model, RecordingSession(), limits=ToolLimits(time_limit_s=10.0))
    assert run_turn(ep).stop is None


def test_token_limit_counts_prompt_and_completion_tokens_of_every_request() -> None:
    model = ScriptedModel(
        reply("```python\nx = 1\n```", tokens=(60, 30)),
        reply("```python\ny = 2\n```", tokens=(100, 10)),
        reply("unasked"),
    )
    ep = episode(model, RecordingSession(), limits=ToolLimits(token_limit=150))
    turn = run_turn(ep)
    assert turn.stop == "token_limit" and len(model.requests) == 2
    assert turn.entries[-1]["content"] == "stopped: token_limit=150 reached (200 tokens used)"


def test_limits_of_the_test_win_over_the_agents() -> None:
    from llmbench.suite.models import TestCase

    test = TestCase.model_validate(
        {
            "id": "t",
            "name": "t",
            "category": "c",
            "prompt": "p",
            "tools": ["python"],
            "max_tool_calls": 2,
            "time_limit_s": 30,
        }
    )
    limits = ToolLimits(max_tool_calls=8, max_tool_calls_total=10, token_limit=99).for_test(test)
    assert limits == ToolLimits(
        max_tool_calls=2, max_tool_calls_total=10, time_limit_s=30.0, token_limit=99
    )


# -- failures ------------------------------------------------------------------------------


def test_timeouts_and_errors_are_counted_apart() -> None:
    model = ScriptedModel(
        reply("```python\n1/0\n```\n```python\nwhile True: pass\n```"), reply("gave up")
    )
    session = RecordingSession(
        {
            "1/0\n": Cell("ZeroDivisionError", raised=True, error="ZeroDivisionError: x"),
            "while True: pass\n": Cell("interrupted", raised=True, timed_out=True),
        }
    )
    ep = episode(model, session)
    run_turn(ep)
    assert (ep.counters.code_errors, ep.counters.code_timeouts) == (1, 1)


def test_a_sandbox_that_cannot_go_on_ends_the_test_with_sandbox_error() -> None:
    model = ScriptedModel(reply("```python\nx = 1\n```"))
    session = RecordingSession(fail_with=SandboxError("the session died 3 times in a row"))
    turn = run_turn(episode(model, session))
    assert turn.stop == "sandbox_error"
    assert turn.error == "the session died 3 times in a row"


def test_a_failed_model_request_propagates_with_the_entries_so_far_kept() -> None:
    model = ScriptedModel(reply("```python\nx = 1\n```"), RequestFailure("http", "HTTP 500"))
    entries: list[dict[str, Any]] = []
    ep = episode(model, RecordingSession())
    with pytest.raises(RequestFailure):
        asyncio.run(ep.turn({"role": "user", "content": "go"}, 1, entries))
    assert [e["role"] for e in entries] == ["assistant", "tool"]


# -- the system message --------------------------------------------------------------------


def test_the_tool_message_comes_first_and_keeps_the_agents_own_prompt_whole() -> None:
    merged = with_system_message([{"role": "system", "content": "Be terse."}], "TOOLS")
    assert merged == [{"role": "system", "content": "TOOLS\n\nBe terse."}]
    assert with_system_message([{"role": "user", "content": "hi"}], "TOOLS")[0] == {
        "role": "system",
        "content": "TOOLS",
    }


def test_the_system_message_names_the_paths_and_the_files() -> None:
    text = system_message("text", home="/home/agent", data="/data", files=["sales.csv"])
    assert "```python" in text and "/home/agent" in text
    assert "under /data (read-only): sales.csv." in text
    assert "no network" in text
    function = system_message("function", home="/tmp/x", data=None)
    assert "`python`" in function and "/data" not in function
