"""Tool calls over HTTP: streamed in pieces or whole, not streamed, cached, and sent back.

Every answer comes from the scripted server; the expected calls are worked out from what it
was told to send (ids ``call_1``, ``call_2``... since the server's reset).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from llmbench.config.api import APIConfiguration
from llmbench.engine.calls import Caller, CallLog, _from_cache, _to_cache
from llmbench.providers.http1 import HttpClient
from llmbench.providers.openai_compatible import Completion, _StreamState, request_completion
from llmbench.providers.tool_calls import StreamedToolCalls, ToolCall
from llmbench.store.cache import ReplyCache
from llmbench.tools.probe import PYTHON_TOOL
from tests.scripted_server import (
    Answer,
    Behaviour,
    EmptyMessage,
    ScriptedServer,
    ToolCalls,
    ToolCallSpec,
)

BODY: dict[str, Any] = {
    "model": "scripted-model",
    "messages": [{"role": "user", "content": "compute"}],
    "tools": [PYTHON_TOOL],
}


def code_args(code: str) -> str:
    return json.dumps({"code": code})


def complete(server: ScriptedServer, behaviour: Behaviour, *, stream: bool = True) -> Completion:
    """One request answered by ``behaviour``."""
    server.script(behaviour)
    body = {**BODY, "stream": stream}
    if stream:
        body["stream_options"] = {"include_usage": True}

    async def go() -> Completion:
        async with HttpClient() as session:
            return await request_completion(
                session,
                server.chat_url,
                {},
                body,
                api_type="chat",
                read_timeout_s=10,
                connect_timeout_s=10,
            )

    return asyncio.run(go())


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole-body"])
def test_one_call(server: ScriptedServer, stream: bool) -> None:
    got = complete(server, ToolCalls(["print(12345 * 6789)"]), stream=stream)
    assert got.tool_calls == (ToolCall("call_1", "python", code_args("print(12345 * 6789)")),)
    assert got.text == ""
    assert got.finish_reason == "tool_calls"


@pytest.mark.parametrize("interleave", [False, True], ids=["in-turn", "interleaved"])
def test_several_calls_in_one_message_keep_their_order(
    server: ScriptedServer, interleave: bool
) -> None:
    calls = ["x = 40", "print(x + 2)", "import math"]
    got = complete(server, ToolCalls(calls, arguments_chunk=3, interleave=interleave))
    assert got.tool_calls == tuple(
        ToolCall(f"call_{n}", "python", code_args(code)) for n, code in enumerate(calls, 1)
    )


def test_arguments_in_one_character_pieces_are_joined_exactly(server: ScriptedServer) -> None:
    code = 'print("héllo, \\"wörld\\"")\nfor i in range(3):\n    print(i)'
    got = complete(server, ToolCalls([code], arguments_chunk=1))
    assert got.tool_calls[0].arguments == code_args(code)
    assert json.loads(got.tool_calls[0].arguments) == {"code": code}


@pytest.mark.parametrize("form", ["whole", "together"])
def test_whole_calls_in_one_delta(server: ScriptedServer, form: str) -> None:
    got = complete(server, ToolCalls(["a = 1", ("other", "b")], form=form))  # type: ignore[arg-type]
    assert got.tool_calls == (
        ToolCall("call_1", "python", code_args("a = 1")),
        ToolCall("call_2", "other", code_args("b")),
    )


@pytest.mark.parametrize("form", ["pieces", "whole", "together"])
def test_pieces_without_an_index(server: ScriptedServer, form: str) -> None:
    """A piece without ``index`` continues the last call unless its id starts another one."""
    got = complete(server, ToolCalls(["a = 1", "print(a)"], form=form, indexed=False))  # type: ignore[arg-type]
    assert got.tool_calls == (
        ToolCall("call_1", "python", code_args("a = 1")),
        ToolCall("call_2", "python", code_args("print(a)")),
    )


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole-body"])
def test_text_and_tool_calls(server: ScriptedServer, stream: bool) -> None:
    got = complete(server, ToolCalls(["print(1)"], text="Let me compute that."), stream=stream)
    assert got.text == "Let me compute that."
    assert got.tool_calls == (ToolCall("call_1", "python", code_args("print(1)")),)


def test_bad_json_arguments_are_kept_as_sent(server: ScriptedServer) -> None:
    raw = '{"code": "print(1)"'  # the closing brace is missing
    got = complete(server, ToolCalls([ToolCallSpec(arguments=raw, id="abc")]))
    assert got.tool_calls == (ToolCall("abc", "python", raw),)


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole-body"])
def test_content_null_with_tool_calls_is_an_answer(server: ScriptedServer, stream: bool) -> None:
    got = complete(server, ToolCalls(["print(1)"], finish_reason="length"), stream=stream)
    assert got.text == "" and len(got.tool_calls) == 1
    assert not got.reasoning_truncated  # the model acted: not an empty answer


@pytest.mark.parametrize("content", ["", None])
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole-body"])
def test_an_empty_message_is_still_an_answer_without_calls(
    server: ScriptedServer, stream: bool, content: str | None
) -> None:
    got = complete(server, EmptyMessage(content), stream=stream)
    assert (got.text, got.tool_calls) == ("", ())


def test_plain_answers_have_no_tool_calls(server: ScriptedServer) -> None:
    got = complete(server, Answer("42"))
    assert (got.text, got.tool_calls) == ("42", ())
    assert "tool_calls" not in got.response["choices"][0]["message"]


def test_tool_call_deltas_are_timed_and_counted_as_tokens(server: ScriptedServer) -> None:
    """No content at all: the clock starts at the first tool-call delta, and every delta is a
    token when the server sends no usage."""
    behaviour = ToolCalls(
        ["print(1)"], arguments_chunk=5, ttft_s=0.2, token_interval_s=0.02, usage=False
    )
    got = complete(server, behaviour)
    # a head piece, then '{"code": "print(1)"}' (20 characters) in 4 pieces of 5
    assert got.completion_tokens == 5 and got.tokens_estimated
    assert got.time_to_first_token is not None and got.time_to_first_token >= 0.2
    assert got.time_to_first_answer_token == got.time_to_first_token
    assert got.generation_time is not None and got.generation_time >= 0.06
    assert got.tokens_per_second is not None


def test_the_usage_count_is_the_servers_when_sent(server: ScriptedServer) -> None:
    got = complete(server, ToolCalls(["print(1)"], arguments_chunk=5))
    assert got.completion_tokens == 5 and not got.tokens_estimated


def test_the_reassembled_response_has_the_tool_calls(server: ScriptedServer) -> None:
    got = complete(server, ToolCalls(["print(1)", "print(2)"], text="Two."))
    message = got.response["choices"][0]["message"]
    assert message["content"] == "Two."
    assert message["tool_calls"] == [
        {"id": "call_1", "type": "function",
         "function": {"name": "python", "arguments": code_args("print(1)")}},
        {"id": "call_2", "type": "function",
         "function": {"name": "python", "arguments": code_args("print(2)")}},
    ]  # fmt: skip
    assert got.response["choices"][0]["finish_reason"] == "tool_calls"


def test_a_whole_body_response_is_kept_as_the_server_sent_it(server: ScriptedServer) -> None:
    got = complete(server, ToolCalls(["print(1)"]), stream=False)
    message = got.response["choices"][0]["message"]
    assert message["content"] is None
    assert message["tool_calls"][0]["function"]["arguments"] == code_args("print(1)")


# -- pieces the scripted server does not send ------------------------------------------------


def test_arguments_sent_as_an_object_become_json_text() -> None:
    calls = StreamedToolCalls()
    calls.add([{"index": 0, "id": "c", "function": {"name": "python", "arguments": {"code": "1"}}}])
    assert calls.calls() == (ToolCall("c", "python", '{"code": "1"}'),)


def test_a_name_repeated_in_every_piece_is_kept_once() -> None:
    calls = StreamedToolCalls()
    for part in ('{"code": ', '"1"}'):
        calls.add([{"index": 0, "function": {"name": "python", "arguments": part}}])
    assert calls.calls() == (ToolCall(None, "python", '{"code": "1"}'),)


def test_a_single_call_not_in_a_list_is_taken() -> None:
    calls = StreamedToolCalls()
    assert calls.add({"id": "c", "function": {"name": "python", "arguments": "{}"}})
    assert not calls.add("nonsense") and not calls.add([1, None])
    assert calls.calls() == (ToolCall("c", "python", "{}"),)


def test_an_unindexed_piece_without_an_id_continues_the_last_call() -> None:
    calls = StreamedToolCalls()
    calls.add([{"index": 3, "id": "c", "function": {"name": "python", "arguments": "{"}}])
    calls.add([{"function": {"arguments": "}"}}])
    assert calls.calls() == (ToolCall("c", "python", "{}"),)


# -- the cache and the round trip through a Caller -------------------------------------------


def test_the_cache_entry_round_trips_tool_calls() -> None:
    calls = (ToolCall("call_1", "python", code_args("x")), ToolCall(None, "other", "{bad"))
    completion = Completion("hi", 5, 7, False, None, None, 0.1, "tool_calls", 200, tool_calls=calls)
    entry = json.loads(json.dumps(_to_cache(completion)))
    back = _from_cache(entry)
    assert back.tool_calls == calls and back.text == "hi" and back.cached


def test_a_cache_entry_from_before_tool_calls_has_none() -> None:
    entry = _to_cache(Completion("hi", 5, 7, False, None, None, 0.1, "stop", 200))
    assert "tool_calls" not in entry
    assert _from_cache(entry).tool_calls == ()


@pytest.mark.parametrize(
    "bad",
    [
        [{"id": 1, "name": "python", "arguments": ""}],
        [{"id": None, "name": "python", "arguments": 2}],
        [{"name": "python"}],
        [{"id": None, "name": "python", "arguments": "", "index": 0}],
        ["python"],
        "x",
    ],
)
def test_a_bad_cached_tool_call_is_an_unreadable_entry(bad: Any) -> None:
    entry = {**_to_cache(Completion("", 5, 7, False, None, None, 0.1, "stop", 200))}
    entry["tool_calls"] = bad
    with pytest.raises(TypeError):
        _from_cache(entry)


def _api(server: ScriptedServer, stream: bool = True) -> APIConfiguration:
    return APIConfiguration(
        endpoint=server.url, model="scripted-model", retry_attempts=0, timeout=5.0, stream=stream
    )


def test_a_cached_reply_keeps_its_tool_calls(server: ScriptedServer, tmp_path: Path) -> None:
    server.script(ToolCalls(["print(1)"]))
    caller = Caller(_api(server))
    caller.cache = ReplyCache(tmp_path / "cache.sqlite")

    async def go() -> list[Completion]:
        async with HttpClient() as session:
            chat = caller.chat_fn(session, calls=CallLog(), label="t")
            messages = [{"role": "user", "content": "compute"}]
            return [await chat(messages, {"tools": [PYTHON_TOOL]}) for _ in range(2)]

    first, second = asyncio.run(go())
    assert server.request_count() == 1
    assert second.cached and second.tool_calls == first.tool_calls
    assert first.tool_calls == (ToolCall("call_1", "python", code_args("print(1)")),)


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole-body"])
def test_tool_results_go_back_as_sent(server: ScriptedServer, stream: bool) -> None:
    """A call, then its result: the second request carries the assistant message with its
    ``tool_calls`` (content null) and the ``role: "tool"`` message, and ``tools`` and
    ``tool_choice`` in both, exactly as given."""
    server.script(ToolCalls(["print(12345 * 6789)"], text=""), Answer("It is 83810205."))
    parameters = {"tools": [PYTHON_TOOL], "tool_choice": "auto", "max_tokens": 64}

    async def go() -> tuple[list[dict[str, Any]], Completion]:
        async with HttpClient() as session:
            chat = caller.chat_fn(session, calls=CallLog(), label="t")
            messages: list[dict[str, Any]] = [{"role": "user", "content": "compute"}]
            first = await chat(list(messages), parameters)
            messages.append(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [call.to_openai() for call in first.tool_calls],
                }
            )
            for call in first.tool_calls:
                messages.append({"role": "tool", "tool_call_id": call.id, "content": "83810205"})
            return messages, await chat(messages, parameters)

    caller = Caller(_api(server, stream))
    sent, answer = asyncio.run(go())
    assert answer.text == "It is 83810205." and answer.tool_calls == ()
    first, second = server.requests
    assert first.tools == second.tools == [PYTHON_TOOL] and first.tool_names == ["python"]
    assert second.body is not None and second.body["tool_choice"] == "auto"
    assert second.messages == sent
    assert second.tool_calls_sent == [
        {"id": "call_1", "type": "function",
         "function": {"name": "python", "arguments": code_args("print(12345 * 6789)")}}
    ]  # fmt: skip
    assert second.tool_messages == [
        {"role": "tool", "tool_call_id": "call_1", "content": "83810205"}
    ]
    assert second.messages[1]["content"] is None


def _streamed(*deltas: dict[str, Any], finish: str = "tool_calls") -> Completion:
    """A stream of these deltas (then ``finish`` and [DONE]) read by the stream parser."""
    state = _StreamState("chat", 0.0, 1 << 20)
    events = [{"choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas]
    events.append({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    for event in events:
        state.feed(b"data: " + json.dumps(event).encode() + b"\n\n")
    state.feed(b"data: [DONE]\n\n")
    state.check_complete(200)
    return state.result(200, BODY, 1.0)


def test_thinking_then_a_call() -> None:
    """llama.cpp and vLLM with a reasoning parser: thinking in its field, then the call."""
    call = {"index": 0, "id": "c", "type": "function",
            "function": {"name": "python", "arguments": "{}"}}  # fmt: skip
    got = _streamed({"reasoning_content": "I should"}, {"tool_calls": [call]}, finish="length")
    assert got.reasoning_text == "I should" and got.text == ""
    assert got.tool_calls == (ToolCall("c", "python", "{}"),)
    assert not got.reasoning_truncated  # it ran out of tokens after it acted
    assert got.time_to_first_answer_token is not None
    assert got.completion_tokens == 2 and got.reasoning_tokens == 1


def test_a_call_with_empty_content_and_the_finish_in_one_event() -> None:
    """Ollama: the whole message in one delta, content ""."""
    state = _StreamState("chat", 0.0, 1 << 20)
    call = {"id": "call_x", "function": {"name": "python", "arguments": '{"code": "1"}'}}
    event = {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "",
             "tool_calls": [call]}, "finish_reason": "tool_calls"}]}  # fmt: skip
    state.feed(b"data: " + json.dumps(event).encode() + b"\n\ndata: [DONE]\n\n")
    state.check_complete(200)
    got = state.result(200, BODY, 1.0)
    assert got.tool_calls == (ToolCall("call_x", "python", '{"code": "1"}'),)
    assert (got.text, got.finish_reason) == ("", "tool_calls")
    assert got.time_to_first_token is not None
