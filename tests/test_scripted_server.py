"""Quick checks of the ScriptedServer test double, using a bare aiohttp client."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from tests.scripted_server import (
    Answer,
    Drop,
    DropMidStream,
    Echo,
    EmptyMessage,
    Hang,
    Huge,
    Malformed,
    NoChoices,
    NoDone,
    Reset,
    ScriptedServer,
    Stall,
    Status,
    Warmup,
)

TIMEOUT = aiohttp.ClientTimeout(total=10)


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as s:
        yield s


async def _post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    async with (
        aiohttp.ClientSession(timeout=TIMEOUT) as session,
        session.post(url, json=body) as resp,
    ):
        return resp.status, dict(resp.headers), await resp.read()


def _events(raw: bytes) -> list[str]:
    """The ``data:`` payloads of an SSE body."""
    return [e.removeprefix("data: ") for e in raw.decode().split("\n\n") if e]


def _chat(content: str, **extra: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": content}], **extra}


def test_streaming_chat_shape_with_usage(server: ScriptedServer) -> None:
    server.script(Answer("Hello big world", prompt_tokens=7))
    body = _chat("hi", stream=True, stream_options={"include_usage": True})
    status, headers, raw = asyncio.run(_post(server.chat_url, body))
    assert status == 200
    assert headers["Content-Type"].startswith("text/event-stream")
    events = _events(raw)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "m" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "Hello"}
    assert [c["choices"][0]["delta"]["content"] for c in chunks[1:3]] == [" big", " world"]
    assert chunks[3]["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "stop",
    }
    assert chunks[4]["choices"] == []
    assert chunks[4]["usage"] == {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
    assert len(chunks) == 5


def test_streaming_completions_without_usage_request(server: ScriptedServer) -> None:
    server.script(Answer(chunks=["a", "b"], ttft_s=0.2))
    start = time.monotonic()
    body = {"model": "m", "prompt": "p", "stream": True}
    _, _, raw = asyncio.run(_post(server.completions_url, body))
    assert time.monotonic() - start >= 0.2
    events = _events(raw)
    chunks = [json.loads(e) for e in events[:-1]]
    assert [c["choices"][0]["text"] for c in chunks] == ["a", "b", ""]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all(c["object"] == "text_completion" and "usage" not in c for c in chunks)
    assert events[-1] == "[DONE]"


def test_non_streaming_shapes(server: ScriptedServer) -> None:
    server.script(Answer("Hi there"), Answer("done", usage=False, finish_reason="length"))
    status, _, raw = asyncio.run(_post(server.chat_url, _chat("q")))
    chat = json.loads(raw)
    assert status == 200 and chat["object"] == "chat.completion"
    assert chat["choices"][0]["message"] == {"role": "assistant", "content": "Hi there"}
    assert chat["usage"] == {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    _, _, raw = asyncio.run(_post(server.completions_url, {"prompt": "x"}))
    completion = json.loads(raw)
    assert completion["object"] == "text_completion" and completion["model"] == "scripted-model"
    assert completion["choices"][0]["text"] == "done"
    assert completion["choices"][0]["finish_reason"] == "length"
    assert "usage" not in completion


def test_status_with_retry_after(server: ScriptedServer) -> None:
    server.script(Status(429, "slow down", headers={"Retry-After": "1"}))
    status, headers, raw = asyncio.run(_post(server.chat_url, _chat("q")))
    assert status == 429 and headers["Retry-After"] == "1"
    error = json.loads(raw)["error"]
    assert error["message"] == "slow down" and error["code"] == 429
    # The script is used up: the default Answer follows.
    status, _, _ = asyncio.run(_post(server.chat_url, _chat("q")))
    assert status == 200 and server.request_count() == 2


def test_marker_routing_and_echo(server: ScriptedServer) -> None:
    server.script(Status(500), marker="case-A")
    server.script(Status(503), marker="case-B")
    server.script(Answer("global"))
    server.set_default(Echo(prefix="echo:"))

    async def run_all() -> list[tuple[int, dict[str, str], bytes]]:
        return [
            await _post(server.chat_url, _chat("this is case-A")),
            await _post(server.completions_url, {"prompt": ["about case-B"]}),
            await _post(server.chat_url, _chat("case-A again")),  # its queue is empty
            await _post(server.chat_url, _chat("no marker")),
        ]

    results = asyncio.run(run_all())
    assert [r[0] for r in results] == [500, 503, 200, 200]
    assert json.loads(results[2][2])["choices"][0]["message"]["content"] == "global"
    assert json.loads(results[3][2])["choices"][0]["message"]["content"] == "echo:no marker"
    assert server.request_count("case-A") == 2 and server.request_count() == 4
    assert server.pending() == 0 and server.pending("case-B") == 0


def test_requests_are_recorded(server: ScriptedServer) -> None:
    asyncio.run(_post(server.chat_url, _chat("look", stream=False)))
    (req,) = server.requests
    assert req.path == "/v1/chat/completions" and req.method == "POST"
    assert req.body is not None and req.body["messages"][0]["content"] == "look"
    assert req.headers["Content-Type"] == "application/json"
    assert req.prompt_text == "look" and req.received_at <= time.monotonic()
    server.reset()
    assert server.requests == [] and server.default == Answer()


def test_drop_and_drop_mid_stream_raise_client_errors(server: ScriptedServer) -> None:
    server.script(Drop(), DropMidStream(after_chunks=2))
    with pytest.raises(aiohttp.ClientError):
        asyncio.run(_post(server.chat_url, _chat("q")))
    seen: list[bytes] = []

    async def read_lines() -> None:
        async with (
            aiohttp.ClientSession(timeout=TIMEOUT) as session,
            session.post(server.chat_url, json=_chat("q", stream=True)) as resp,
        ):
            assert resp.status == 200
            async for line in resp.content:
                seen.append(line)

    with pytest.raises(aiohttp.ClientPayloadError):
        asyncio.run(read_lines())
    assert len([line for line in seen if line.startswith(b"data: {")]) == 2


def test_malformed_bytes_are_exact(server: ScriptedServer) -> None:
    server.script(Malformed(b"data: {oops\n\n", content_type="text/event-stream", status=200))
    status, headers, raw = asyncio.run(_post(server.chat_url, _chat("q", stream=True)))
    assert status == 200 and raw == b"data: {oops\n\n"
    assert headers["Content-Type"] == "text/event-stream"


def test_no_done_ends_without_finish_or_done(server: ScriptedServer) -> None:
    server.script(NoDone(after_chunks=3))
    status, _, raw = asyncio.run(_post(server.chat_url, _chat("q", stream=True)))
    events = _events(raw)
    assert status == 200 and len(events) == 3 and "[DONE]" not in events
    assert all(json.loads(e)["choices"][0]["finish_reason"] is None for e in events)


def test_models_endpoint() -> None:
    async def get(url: str) -> Any:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session, session.get(url) as resp:
            return await resp.json()

    with ScriptedServer(model="my-model") as server:
        models = asyncio.run(get(server.url + "/v1/models"))
        assert models == {"object": "list", "data": [{"id": "my-model", "object": "model"}]}
        assert server.request_count() == 0 and len(server.requests) == 1


def test_stall_and_hang_hit_client_timeouts_and_do_not_block_stop() -> None:
    server = ScriptedServer().start()
    server.script(Stall(after_chunks=1, stall_s=30), Hang(30))

    async def stream(timeout: aiohttp.ClientTimeout) -> list[bytes]:
        lines: list[bytes] = []
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(server.chat_url, json=_chat("q", stream=True)) as resp,
        ):
            async for line in resp.content:
                lines.append(line)
        return lines

    with pytest.raises(asyncio.TimeoutError):
        asyncio.run(stream(aiohttp.ClientTimeout(sock_read=0.3)))
    with pytest.raises(asyncio.TimeoutError):
        asyncio.run(stream(aiohttp.ClientTimeout(total=0.3)))
    # A third request hangs server-side while stop() is called.
    server.script(Hang(30))

    async def hang_then_stop() -> None:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            task = asyncio.ensure_future(session.post(server.chat_url, json=_chat("q")))
            await asyncio.sleep(0.2)
            start = time.monotonic()
            await asyncio.to_thread(server.stop)
            assert time.monotonic() - start < 3
            with pytest.raises(aiohttp.ClientError):
                await task

    asyncio.run(hang_then_stop())


def test_many_servers_start_and_stop() -> None:
    for _ in range(20):
        with ScriptedServer() as server:
            status, _, _ = asyncio.run(_post(server.chat_url, _chat("q", stream=True)))
            assert status == 200


def test_answers_without_choices_or_with_an_empty_message(server: ScriptedServer) -> None:
    server.script(NoChoices(), NoChoices(), EmptyMessage(None), EmptyMessage(""))
    _, _, raw = asyncio.run(_post(server.chat_url, _chat("q")))
    assert "choices" not in json.loads(raw) and json.loads(raw)["usage"]["completion_tokens"] == 0
    _, _, raw = asyncio.run(_post(server.chat_url, _chat("q", stream=True)))
    events = _events(raw)
    assert events[-1] == "[DONE]" and "choices" not in json.loads(events[0]) and len(events) == 2
    _, _, raw = asyncio.run(_post(server.chat_url, _chat("q")))
    assert json.loads(raw)["choices"][0]["message"] == {"role": "assistant", "content": None}
    _, _, raw = asyncio.run(_post(server.completions_url, {"prompt": "p", "stream": True}))
    chunks = [json.loads(e) for e in _events(raw)[:-1]]
    assert [c["choices"][0]["text"] for c in chunks] == ["", ""]  # the text, then the finish


def test_huge_answers_have_the_asked_size(server: ScriptedServer) -> None:
    server.script(Huge(2500, chunk_bytes=1000), Huge(2500))
    _, _, raw = asyncio.run(_post(server.chat_url, _chat("q", stream=True)))
    pieces = [json.loads(e)["choices"][0]["delta"].get("content") for e in _events(raw)[:-1]]
    assert pieces == ["x" * 1000, "x" * 1000, "x" * 500, None]
    _, _, raw = asyncio.run(_post(server.chat_url, _chat("q")))
    assert json.loads(raw)["choices"][0]["message"]["content"] == "x" * 2500


def test_reset_before_and_in_the_middle_of_a_response(server: ScriptedServer) -> None:
    server.script(Reset(), Reset(mid_body=True))
    with pytest.raises(aiohttp.ClientOSError, match="Connection reset by peer"):
        asyncio.run(_post(server.chat_url, _chat("q")))
    statuses: list[int] = []

    async def read_json() -> None:
        async with (
            aiohttp.ClientSession(timeout=TIMEOUT) as session,
            session.post(server.chat_url, json=_chat("q")) as resp,
        ):
            statuses.append(resp.status)
            await resp.read()

    with pytest.raises(aiohttp.ClientPayloadError, match="Connection reset by peer"):
        asyncio.run(read_json())
    assert statuses == [200]


def test_warmup_answers_during_then_after(server: ScriptedServer) -> None:
    server.set_default(Warmup(0.3, during=Status(503), after=Answer("up")))
    assert asyncio.run(_post(server.chat_url, _chat("q")))[0] == 503
    assert asyncio.run(_post(server.chat_url, _chat("q")))[0] == 503
    time.sleep(0.3)
    status, _, raw = asyncio.run(_post(server.chat_url, _chat("q")))
    assert status == 200 and json.loads(raw)["choices"][0]["message"]["content"] == "up"


def test_an_answer_can_carry_a_wrong_content_type(server: ScriptedServer) -> None:
    server.script(Answer("hi", headers={"Content-Type": "text/html"}))
    status, headers, raw = asyncio.run(_post(server.chat_url, _chat("q")))
    assert status == 200 and headers["Content-Type"] == "text/html"
    assert json.loads(raw)["choices"][0]["message"]["content"] == "hi"
