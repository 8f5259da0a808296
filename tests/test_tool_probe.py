"""The ``tool_protocol = "auto"`` probe against the scripted server: each outcome, and the
failures that decide nothing."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from llmbench.config.api import APIConfiguration
from llmbench.engine.calls import Caller
from llmbench.errors import RequestFailure
from llmbench.providers.http1 import HttpClient
from llmbench.tools.probe import (
    PROBE_PROMPT,
    PYTHON_TOOL,
    ProbeResult,
    call_in_content,
    probe_tool_protocol,
)
from tests.scripted_server import (
    Answer,
    CallInContent,
    Code,
    Drop,
    RefuseTools,
    ScriptedServer,
    Status,
    ToolCalls,
)


def probe(
    server: ScriptedServer, *, stream: bool = True, parameters: dict[str, Any] | None = None
) -> ProbeResult:
    api = APIConfiguration(
        endpoint=server.url, model="scripted-model", retry_attempts=0, timeout=5.0, stream=stream
    )

    async def go() -> ProbeResult:
        async with HttpClient() as session:
            return await probe_tool_protocol(session, Caller(api), parameters=parameters)

    return asyncio.run(go())


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole-body"])
def test_a_tool_call_chooses_function(server: ScriptedServer, stream: bool) -> None:
    server.script(ToolCalls(["print(12345 * 6789)"]))
    assert probe(server, stream=stream) == ProbeResult(
        "function", "the server answered with a tool call"
    )
    (request,) = server.requests
    assert request.tools == [PYTHON_TOOL]
    assert request.messages == [{"role": "user", "content": PROBE_PROMPT}]
    assert request.body is not None
    assert (request.body["max_tokens"], request.body["temperature"]) == (128, 0)
    assert request.body["stream"] is stream


def test_a_call_beside_text_chooses_function(server: ScriptedServer) -> None:
    server.script(ToolCalls(["print(1)"], text="Sure."))
    assert probe(server).protocol == "function"


@pytest.mark.parametrize("status", [400, 422, 500, 501])
def test_a_refusal_of_tools_chooses_text(server: ScriptedServer, status: int) -> None:
    server.set_default(RefuseTools(status))
    result = probe(server)
    assert result == ProbeResult(
        "text",
        f"the server refused 'tools' (HTTP {status} from server: "
        "tools param requires --jinja flag)",
    )
    refused, confirmed = server.requests
    assert refused.tools == [PYTHON_TOOL] and confirmed.tools == []
    assert confirmed.messages == refused.messages


def test_a_refusal_of_every_request_is_the_endpoints_error(server: ScriptedServer) -> None:
    """A 400 that the request without ``tools`` gets too is not about tools (a wrong model
    name, a bad parameter): raised for preflight to report."""
    server.set_default(Status(400, "unknown parameter 'foo'"))
    with pytest.raises(RequestFailure) as caught:
        probe(server, parameters={"foo": 1})
    assert caught.value.status == 400
    assert caught.value.message == "HTTP 400 from server: unknown parameter 'foo'"
    assert server.request_count() == 2


@pytest.mark.parametrize("fenced", [False, True], ids=["bare", "fenced"])
def test_a_call_written_as_json_in_the_content_chooses_text(
    server: ScriptedServer, fenced: bool
) -> None:
    server.script(CallInContent("print(12345 * 6789)", fenced=fenced))
    assert probe(server) == ProbeResult("text", "the model put the call as JSON in its content")


def test_fenced_code_in_the_content_chooses_text(server: ScriptedServer) -> None:
    server.script(Code("print(12345 * 6789)", text_before="Here is the code:"))
    assert probe(server) == ProbeResult(
        "text", "the model wrote the code in its content, not as a tool call"
    )


def test_a_plain_answer_chooses_text(server: ScriptedServer) -> None:
    """The server accepted ``tools`` but the model did not call: "text" (module docstring)."""
    server.script(Answer("12345 * 6789 = 83810205"))
    assert probe(server) == ProbeResult("text", "the model answered without calling the tool")


def test_an_answer_cut_off_before_a_call_is_asked_again_with_more_tokens(
    server: ScriptedServer,
) -> None:
    server.script(
        Answer(reasoning=["Let", " me", " think"], text="", finish_reason="length"),
        ToolCalls(["print(12345 * 6789)"]),
    )
    assert probe(server).protocol == "function"
    first, second = server.requests
    assert first.body is not None and second.body is not None
    assert (first.body["max_tokens"], second.body["max_tokens"]) == (128, 1024)
    assert second.tools == [PYTHON_TOOL]


def test_an_answer_cut_off_twice_chooses_text(server: ScriptedServer) -> None:
    server.set_default(Answer("I will", finish_reason="length"))
    assert probe(server) == ProbeResult(
        "text", "the model's answer was cut off by max_tokens before it called the tool"
    )
    assert server.request_count() == 2


def test_the_agents_parameters_are_sent_and_its_max_tokens_kept(server: ScriptedServer) -> None:
    server.set_default(Answer("I will", finish_reason="length"))
    probe(server, parameters={"temperature": 0.7, "max_tokens": 64, "tools": []})
    (request,) = server.requests  # the agent chose max_tokens: not asked again
    assert request.body is not None
    assert (request.body["temperature"], request.body["max_tokens"]) == (0.7, 64)
    assert request.tools == [PYTHON_TOOL]  # the probe's tools, whatever the parameters say


@pytest.mark.parametrize(
    ("behaviour", "kind", "status"),
    [(Drop(), "connection", None), (Status(503, "loading"), "http", 503)],
    ids=["dropped", "503"],
)
def test_no_answer_decides_nothing(
    server: ScriptedServer, behaviour: Any, kind: str, status: int | None
) -> None:
    server.set_default(behaviour)
    with pytest.raises(RequestFailure) as caught:
        probe(server)
    assert (caught.value.kind, caught.value.status) == (kind, status)
    assert server.request_count() == 1  # no request without tools to confirm anything


def test_a_server_that_is_not_there_decides_nothing() -> None:
    with socket.socket() as sock:  # a port that nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    api = APIConfiguration(endpoint=f"http://127.0.0.1:{port}", model="m", retry_attempts=0)

    async def go() -> ProbeResult:
        async with HttpClient() as session:
            return await probe_tool_protocol(session, Caller(api))

    with pytest.raises(RequestFailure) as caught:
        asyncio.run(go())
    assert caught.value.kind == "connection"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"name": "python", "arguments": {"code": "1"}}', True),
        ('Sure: {"code": "print(1)"}', True),
        ('<tool_call>\n{"name": "python", "arguments": "{}"}\n</tool_call>', True),
        ('```json\n{"function": {"name": "python"}}\n```', True),
        ('[{"tool_calls": [{"name": "python"}]}]', True),
        ('{"tool": "python", "input": "1"}', True),
        ("The answer is 83810205.", False),
        ('{"answer": 83810205}', False),
        ("a set {1, 2} then {broken", False),
        ("", False),
    ],
)
def test_call_in_content(text: str, expected: bool) -> None:
    assert call_in_content(text) is expected
