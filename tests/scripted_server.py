"""A scriptable fake OpenAI-compatible LLM server for tests.

``ScriptedServer`` runs a real ``aiohttp.web`` server on 127.0.0.1 (free port) in a
background daemon thread with its own event loop.  Endpoints: ``POST /v1/completions``,
``POST /v1/chat/completions`` and ``GET /v1/models``; any other path answers 404.
Every request is recorded in ``server.requests``.  Each completion request is answered
by the next *behaviour* of a FIFO script; when the script is empty, ``server.default``
(initially ``Answer()``) is used.

Behaviours (frozen dataclasses):

- ``Answer(text, chunks, prompt_tokens, completion_tokens, usage, ttft_s,
  token_interval_s, finish_reason, headers)``: a well-formed answer.  With
  ``"stream": true`` it is OpenAI SSE: headers at once, ``ttft_s`` before the first
  chunk, ``token_interval_s`` between chunks, then a finish_reason chunk, a usage chunk
  (only if the request asked ``stream_options.include_usage`` and ``usage=True``; every
  chunk then also carries ``"usage": null`` as OpenAI does) and ``data: [DONE]``.
  Otherwise one JSON body after ``ttft_s``.
  ``reasoning`` pieces come first, as a reasoning model's thinking: ``reasoning_form``
  ``reasoning_content`` or ``reasoning`` sends each in that delta (or message) field,
  ``inline`` sends ``<think>``, the pieces and ``</think>`` as content events
  (``reasoning_closed=False``: no ``</think>``, cut off while thinking). Every event, thinking
  or answer, is a token ``token_interval_s`` after the last; ``usage`` then has
  ``completion_tokens_details.reasoning_tokens`` (the thinking events) unless
  ``reasoning_usage=False``.
- ``Echo(prefix)``: like ``Answer`` whose text is prefix + the last user message
  (chat) or the prompt (completions).
- ``Status(code, message, headers, body)``: an HTTP error with an OpenAI error body.
- ``Drop()``: close the connection without sending any response.
- ``DropMidStream(after_chunks)``: 200 SSE, ``after_chunks`` chunks, then close the
  connection mid-body (the client sees a payload error).
- ``Malformed(body, content_type, status)``: exactly these bytes.
- ``Stall(after_chunks, stall_s, keepalive_s)``: 200 SSE, some chunks, silence (or only
  ``: ping`` comments every ``keepalive_s``) for ``stall_s``, then
  close the connection.
- ``NoDone(after_chunks)``: 200 SSE, some chunks, then a clean end of body without a
  finish_reason chunk and without ``data: [DONE]``.
- ``Hang(seconds)``: send nothing at all (not even headers) for ``seconds``, then close.
- ``NoChoices()``: a 200 answer (JSON, or SSE events and ``[DONE]``) without ``choices``.
- ``EmptyMessage(content)``: a well-formed answer whose message is ``""`` or ``null``.
- ``Huge(size_bytes, chunk_bytes)``: a well-formed answer of ``size_bytes`` characters,
  streamed in ``chunk_bytes`` pieces or as one JSON body.
- ``Reset(mid_body, pause_s)``: reset the connection (TCP RST) before any response byte, or
  after the headers and part of the body (SSE chunks, or half a JSON body).
- ``Warmup(seconds, during, after)``: a server that is slow to come up: ``during`` for every
  request until ``seconds`` after the first one it answered, then ``after``.

Tools (issue 16):

- ``ToolCalls(calls, text, form, arguments_chunk, interleave, indexed, finish_reason, ...)``:
  an assistant message calling tools, finish_reason ``tool_calls``, ids ``call_<n>`` (n counts
  the server's calls since ``reset()``). A call is a string (the code of a ``python`` call,
  arguments ``{"code": ...}`` as JSON), a pair ``(name, code)``, or a
  ``ToolCallSpec(code, name, arguments, id)`` (``arguments``: raw text, bad JSON say).
  Streamed as OpenAI does (``form="pieces"``: the first piece of a call with index, id, type
  ``function``, name and arguments ""; then the arguments ``arguments_chunk`` characters a
  delta; ``interleave=True`` alternates the calls' pieces), one delta per whole call
  (``"whole"``) or every call in one delta (``"together"``); ``indexed=False`` leaves out
  ``index``. ``text`` comes first as content; with none, content is null. Not streamed: one
  body with ``message.tool_calls``. On ``/v1/completions`` it answers ``text``.
- ``Code(code, text_before, text_after)``: a text-protocol answer, a fenced ```` ```python ````
  block (the same as ``Answer("```python\\n...\\n```")``: an Answer's text is sent as given).
- ``CallInContent(code, name, fenced)``: the call written as JSON in the content
  (``{"name": "python", "arguments": {"code": ...}}``), no ``tool_calls``: a small model on a
  server that does not parse tool calls.
- ``RefuseTools(status, message, after)``: a server without function calling: a request that
  offers ``tools`` gets HTTP ``status`` (400 by default, llama.cpp's message without
  ``--jinja``), any other one ``after`` (default ``Answer()``).

``RecordedRequest`` reads a request's ``messages``, ``tools``, ``tool_names``,
``tool_messages`` (the ``role: "tool"`` ones) and ``tool_calls_sent`` (the ``tool_calls`` of its
assistant messages).

``Answer(headers={"Content-Type": ...})`` mislabels an answer. DropMidStream, Stall and
NoDone always answer SSE, whatever the request's ``stream``.
Every wait ends early when ``stop()`` is called, so a server never blocks shutdown.

Scripting (thread-safe, callable from the test thread while the server runs)::

    with ScriptedServer() as server:
        server.script(Status(503, headers={"Retry-After": "1"}), Answer("ok"))
        server.script(Drop(), marker="case-17")  # only prompts containing "case-17"
        server.set_default(Echo())
        ...  # point the client at server.chat_url / server.completions_url
        assert server.request_count() == 2

Marker queues are tried first (the first registered marker that occurs in the prompt text
and still has behaviours wins), then the global queue, then the default.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

_COMPLETION_PATHS = ("/v1/completions", "/v1/chat/completions")


@dataclass(frozen=True)
class Answer:
    """A well-formed answer, streamed or not depending on the request."""

    text: str = "Hello world"
    chunks: Sequence[str] | None = None  # default: word pieces of text, spaces kept
    prompt_tokens: int = 5
    completion_tokens: int | None = None  # default: len(chunks)
    usage: bool = True
    ttft_s: float = 0.0
    token_interval_s: float = 0.0
    finish_reason: str = "stop"
    headers: Mapping[str, str] | None = None
    reasoning: Sequence[str] = ()
    reasoning_form: str = "reasoning_content"  # or "reasoning", or "inline"
    reasoning_closed: bool = True
    reasoning_usage: bool = True

    def thinking_events(self) -> list[tuple[str | None, str]]:
        """The thinking as (delta field, text) events; field None: inline content."""
        if not self.reasoning:
            return []
        if self.reasoning_form != "inline":
            return [(self.reasoning_form, piece) for piece in self.reasoning]
        closing = ["</think>"] if self.reasoning_closed else []
        return [(None, piece) for piece in ["<think>", *self.reasoning, *closing]]

    def pieces(self) -> list[str]:
        """The content chunks, e.g. "Hello world" -> ["Hello", " world"]."""
        if self.chunks is not None:
            return list(self.chunks)
        return re.findall(r"\s*\S+(?:\s+$)?|\s+$", self.text)


@dataclass(frozen=True)
class Echo:
    """Answer with prefix + the last user message (chat) or the prompt (completions)."""

    prefix: str = ""


@dataclass(frozen=True)
class Status:
    """An HTTP error; ``body`` (bytes or str) replaces the OpenAI error JSON."""

    code: int
    message: str = "scripted error"
    headers: Mapping[str, str] | None = None
    body: bytes | str | None = None


@dataclass(frozen=True)
class Drop:
    """Close the TCP connection without sending anything."""


@dataclass(frozen=True)
class DropMidStream:
    """Start a 200 SSE stream, send ``after_chunks`` chunks, then close the connection."""

    after_chunks: int = 2


@dataclass(frozen=True)
class Malformed:
    """Send exactly ``body`` with this content type and status."""

    body: bytes = b"{not json"
    content_type: str = "application/json"
    status: int = 200


@dataclass(frozen=True)
class Stall:
    """Stream ``after_chunks`` chunks, go silent for ``stall_s``, then close."""

    after_chunks: int = 1
    stall_s: float = 30.0
    keepalive_s: float | None = None
    """Send an SSE comment (``: ping``) this often while stalled: the read timeout never
    fires, only a bound on the whole request ends it."""


@dataclass(frozen=True)
class NoDone:
    """Stream ``after_chunks`` chunks, then end cleanly without finish chunk or [DONE]."""

    after_chunks: int = 2


@dataclass(frozen=True)
class Hang:
    """Send nothing (no headers) for ``seconds``, then close the connection."""

    seconds: float = 30.0


@dataclass(frozen=True)
class NoChoices:
    """A 200 answer without ``choices``: a JSON body, or SSE events and ``[DONE]``."""


@dataclass(frozen=True)
class EmptyMessage:
    """A well-formed answer whose message (chat) or text (completions) is ``content``."""

    content: str | None = ""


@dataclass(frozen=True)
class Huge:
    """A well-formed answer of ``size_bytes`` characters ("x"), streamed ``chunk_bytes`` a chunk."""

    size_bytes: int
    chunk_bytes: int = 16384


@dataclass(frozen=True)
class Reset:
    """Reset the connection (RST, not a clean close) before any response byte, or mid-body.

    ``mid_body``: headers first, then part of the body (two SSE chunks when the request
    streams, else half of a JSON body whose Content-Length promises all of it), then
    ``pause_s`` so the client reads them (a reset discards what it has not read), then RST.
    """

    mid_body: bool = False
    pause_s: float = 0.05


@dataclass(frozen=True)
class ToolCallSpec:
    """One tool call of a :class:`ToolCalls` answer."""

    code: str = ""
    """The code of a ``python`` call: the arguments are ``{"code": code}`` as JSON."""
    name: str = "python"
    arguments: str | None = None
    """The arguments exactly as sent (bad JSON, say), instead of ``code``'s."""
    id: str | None = None
    """Default: ``call_<n>``, n counting the server's calls since the last ``reset()``."""

    def argument_text(self) -> str:
        if self.arguments is not None:
            return self.arguments
        return json.dumps({"code": self.code})


ToolCallForm = Literal["pieces", "whole", "together"]


@dataclass(frozen=True)
class ToolCalls:
    """An assistant message that calls tools: ``text`` (may be "": content null), then the calls,
    ``finish_reason`` ``tool_calls``.

    ``calls``: a string is the code of a ``python`` call, a pair ``(name, code)`` a call of
    another function, a :class:`ToolCallSpec` anything else. Streamed in ``form``:
    ``pieces`` as OpenAI does (the first piece of a call has its index, id, type and name and
    arguments ""; then the arguments ``arguments_chunk`` characters a piece, ``interleave``:
    the calls' pieces taken in turn), ``whole`` (one delta per call, everything in it), or
    ``together`` (every call whole in one delta). ``indexed=False`` leaves ``index`` out of
    every piece. Not streamed: one JSON body with ``message.tool_calls``.
    """

    calls: Sequence[str | tuple[str, str] | ToolCallSpec] = ("print(1)",)
    text: str = ""
    form: ToolCallForm = "pieces"
    arguments_chunk: int = 4
    interleave: bool = False
    indexed: bool = True
    finish_reason: str = "tool_calls"
    prompt_tokens: int = 5
    usage: bool = True
    ttft_s: float = 0.0
    token_interval_s: float = 0.0

    def __post_init__(self) -> None:
        if self.interleave and not self.indexed:
            raise ValueError("interleaved pieces without an index cannot be told apart")

    def specs(self) -> list[ToolCallSpec]:
        out = []
        for call in self.calls:
            if isinstance(call, str):
                out.append(ToolCallSpec(code=call))
            elif isinstance(call, tuple):
                out.append(ToolCallSpec(name=call[0], code=call[1]))
            else:
                out.append(call)
        return out


@dataclass(frozen=True)
class Code:
    """A text-protocol answer: ``text_before``, a fenced ```` ```python ```` block of ``code``,
    ``text_after`` (an :class:`Answer`; ``Answer("```python\\n...\\n```")`` is the same)."""

    code: str
    text_before: str = ""
    text_after: str = ""

    def text(self) -> str:
        code = self.code.rstrip("\n")
        block = f"```python\n{code}\n```"
        before = f"{self.text_before}\n\n" if self.text_before else ""
        after = f"\n\n{self.text_after}" if self.text_after else ""
        return before + block + after


@dataclass(frozen=True)
class CallInContent:
    """A model that writes its call as JSON in the content, without ``tool_calls`` (small
    models on servers that do not parse tool calls): ``{"name": "python", "arguments":
    {"code": ...}}`` as text, in a ```` ```json ```` fence when ``fenced``."""

    code: str = "print(12345 * 6789)"
    name: str = "python"
    fenced: bool = False

    def text(self) -> str:
        call = json.dumps({"name": self.name, "arguments": {"code": self.code}})
        return f"```json\n{call}\n```" if self.fenced else call


@dataclass(frozen=True)
class RefuseTools:
    """A server without function calling (llama.cpp without ``--jinja``): a request that
    offers ``tools`` gets HTTP ``status``, any other one ``after``."""

    status: int = 400
    message: str = "tools param requires --jinja flag"
    after: Behaviour = field(default_factory=Answer)


@dataclass(frozen=True)
class Warmup:
    """``during`` for every request until ``seconds`` after the first one this behaviour
    answered (a model still loading), then ``after``. Put it in the script once per request,
    or make it the default: its clock is per instance and restarts on ``reset()``."""

    seconds: float
    during: Behaviour = field(default_factory=lambda: Status(503, "model is loading"))
    after: Behaviour = field(default_factory=Answer)


Behaviour = (
    Answer
    | Echo
    | Status
    | Drop
    | DropMidStream
    | Malformed
    | Stall
    | NoDone
    | Hang
    | NoChoices
    | EmptyMessage
    | Huge
    | Reset
    | Warmup
    | ToolCalls
    | Code
    | CallInContent
    | RefuseTools
)


def _texts(value: Any) -> list[str]:
    """Text of a prompt / message content: a string or a list of strings / text parts."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        return []
    out: list[str] = []
    for item in value:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict) and isinstance(item.get("text"), str):
            out.append(item["text"])
    return out


def _prompt_text(body: Mapping[str, Any] | None) -> str:
    """All prompt text of a request: completions ``prompt`` and every message content."""
    if not body:
        return ""
    parts = _texts(body.get("prompt"))
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in messages:
            if isinstance(message, dict):
                parts.extend(_texts(message.get("content")))
    return "\n".join(parts)


def _echo_text(body: Mapping[str, Any]) -> str:
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "user":
                return "".join(_texts(message.get("content")))
        return ""
    return "\n".join(_texts(body.get("prompt")))


def _merge_headers(base: Mapping[str, str], extra: Mapping[str, str] | None) -> dict[str, str]:
    """``base`` updated by ``extra``, header names compared case-insensitively."""
    extra = extra or {}
    overridden = {name.lower() for name in extra}
    return {**{k: v for k, v in base.items() if k.lower() not in overridden}, **extra}


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it (``body`` is None unless a JSON object)."""

    path: str
    method: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    received_at: float  # time.monotonic()

    @property
    def prompt_text(self) -> str:
        """The completions prompt and all chat message contents, joined by newlines."""
        return _prompt_text(self.body)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The chat messages as sent ([] for none)."""
        messages = (self.body or {}).get("messages")
        return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []

    @property
    def tools(self) -> list[dict[str, Any]]:
        """The ``tools`` the request offered ([] for none)."""
        tools = (self.body or {}).get("tools")
        return tools if isinstance(tools, list) else []

    @property
    def tool_names(self) -> list[str]:
        """The names of the functions in ``tools``."""
        return [t.get("function", {}).get("name", "") for t in self.tools if isinstance(t, dict)]

    @property
    def tool_messages(self) -> list[dict[str, Any]]:
        """The ``role: "tool"`` messages (tool results), in order."""
        return [m for m in self.messages if m.get("role") == "tool"]

    @property
    def tool_calls_sent(self) -> list[dict[str, Any]]:
        """Every ``tool_calls`` entry of the assistant messages, in order."""
        return [
            call
            for m in self.messages
            if m.get("role") == "assistant" and isinstance(m.get("tool_calls"), list)
            for call in m["tool_calls"]
        ]


class _Shape:
    """Builds OpenAI-shaped bodies and SSE events for one request."""

    def __init__(self, chat: bool, model: str, ident: str, include_usage: bool) -> None:
        self.chat, self.model, self.ident = chat, model, ident
        self.include_usage = include_usage
        self.created = int(time.time())
        self._role_sent = False

    def _head(self, kind: str, choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {"id": self.ident, "object": kind, "created": self.created, "model": self.model,
                "choices": choices}  # fmt: skip

    def _event(self, choices: list[dict[str, Any]], **extra: Any) -> bytes:
        kind = "chat.completion.chunk" if self.chat else "text_completion"
        obj = {**self._head(kind, choices), **extra}
        if self.include_usage:
            obj.setdefault("usage", None)
        return b"data: " + json.dumps(obj).encode() + b"\n\n"

    def _choice(self, text: str | None, finish_reason: str | None) -> dict[str, Any]:
        content: dict[str, Any]
        if not self.chat:
            content = {"text": text or ""}
        elif text is None:
            content = {"delta": {}}
        elif not self._role_sent:
            self._role_sent = True
            content = {"delta": {"role": "assistant", "content": text}}
        else:
            content = {"delta": {"content": text}}
        return {"index": 0, **content, "logprobs": None, "finish_reason": finish_reason}

    def content(self, text: str) -> bytes:
        return self._event([self._choice(text, None)])

    def thought(self, field: str, text: str) -> bytes:
        """A delta with thinking in ``field`` (``reasoning_content`` or ``reasoning``)."""
        delta: dict[str, Any] = {field: text}
        if not self._role_sent:
            self._role_sent = True
            delta = {"role": "assistant", "content": None, **delta}
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}
        return self._event([choice])

    def tool_pieces(self, pieces: list[dict[str, Any]]) -> bytes:
        """A delta with ``tool_calls`` pieces (the first one also has the role, content null)."""
        delta: dict[str, Any] = {"tool_calls": pieces}
        if not self._role_sent:
            self._role_sent = True
            delta = {"role": "assistant", "content": None, **delta}
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}
        return self._event([choice])

    def finish(self, reason: str) -> bytes:
        return self._event([self._choice(None, reason)])

    def usage(self, usage: dict[str, int]) -> bytes:
        return self._event([], usage=usage)

    def no_choices(self, usage: dict[str, int], stream: bool) -> dict[str, Any]:
        kind = "chat.completion" if self.chat else "text_completion"
        obj = self._head(kind + (".chunk" if stream and self.chat else ""), [])
        del obj["choices"]
        obj["usage"] = usage
        return obj

    def empty(self, content: str | None) -> bytes:
        """The first (and only content) event of an empty answer."""
        if self.chat:
            choice: dict[str, Any] = {"delta": {"role": "assistant", "content": content}}
        else:
            choice = {"text": content}
        choice.update(index=0, logprobs=None, finish_reason=None)
        return self._event([choice])

    def full(
        self,
        text: str | None,
        reason: str,
        usage: dict[str, Any] | None,
        thinking: tuple[str, str] | None = None,
        tool_calls: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        if self.chat:
            choice: dict[str, Any] = {"message": {"role": "assistant", "content": text}}
            if thinking is not None:
                choice["message"][thinking[0]] = thinking[1]
            if tool_calls:
                choice["message"]["tool_calls"] = tool_calls
        else:
            choice = {"text": text}
        choice.update(index=0, logprobs=None, finish_reason=reason)
        obj = self._head("chat.completion" if self.chat else "text_completion", [choice])
        if usage is not None:
            obj["usage"] = usage
        return obj


class ScriptedServer:
    """A fake OpenAI-compatible server in a background thread; see the module docstring."""

    def __init__(self, model: str = "scripted-model") -> None:
        self.model = model
        self._lock = threading.Lock()
        self._queue: deque[Behaviour] = deque()
        self._marker_queues: dict[str, deque[Behaviour]] = {}
        self._requests: list[RecordedRequest] = []
        self._default: Behaviour = Answer()
        self._ids = itertools.count(1)
        self._call_ids = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._port: int | None = None
        self._in_flight: dict[tuple[int, str], int] = {}
        self._generation = 0
        self._peak: dict[str, int] = {}
        self._peak_total = 0
        self._warmups: dict[int, float] = {}  # id(Warmup) -> when it first answered

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> ScriptedServer:
        """Start serving; returns once the port is listening."""
        if self._thread is not None:
            raise RuntimeError("ScriptedServer already started")
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(target=self._run, name="ScriptedServer", daemon=True)
        self._thread.start()
        if not self._ready.wait(10.0) or self._error is not None:
            error = self._error
            with contextlib.suppress(RuntimeError):
                self.stop()
            raise RuntimeError("ScriptedServer failed to start") from error
        return self

    def stop(self) -> None:
        """Cut short every wait, close all connections and join the thread."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if loop is not None and stopping is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(stopping.set)
        thread.join(5.0)
        self._thread = self._loop = self._stopping = None
        self._port = None
        if thread.is_alive():
            raise RuntimeError("ScriptedServer thread did not stop within 5 s")
        if self._error is not None:
            raise RuntimeError("ScriptedServer failed while running") from self._error

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported by start()/stop(), not by the thread
            self._error = exc
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        app = web.Application()
        app.router.add_post("/v1/completions", self._complete)
        app.router.add_post("/v1/chat/completions", self._complete)
        app.router.add_get("/v1/models", self._models)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self._port = int(runner.addresses[0][1])
            self._ready.set()
            await self._stopping.wait()
        finally:
            await runner.cleanup()

    # -- addresses ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._port is None:
            raise RuntimeError("ScriptedServer is not running")
        return f"http://127.0.0.1:{self._port}"

    @property
    def completions_url(self) -> str:
        return self.url + "/v1/completions"

    @property
    def chat_url(self) -> str:
        return self.url + "/v1/chat/completions"

    # -- scripting ---------------------------------------------------------------------

    def script(self, *behaviours: Behaviour, marker: str | None = None) -> None:
        """Queue behaviours for the next requests (only those containing ``marker``)."""
        with self._lock:
            if marker is None:
                self._queue.extend(behaviours)
            else:
                self._marker_queues.setdefault(marker, deque()).extend(behaviours)

    @property
    def default(self) -> Behaviour:
        with self._lock:
            return self._default

    def set_default(self, behaviour: Behaviour) -> None:
        with self._lock:
            self._default = behaviour

    def pending(self, marker: str | None = None) -> int:
        """How many scripted behaviours are still queued (globally or for ``marker``)."""
        with self._lock:
            if marker is None:
                return len(self._queue)
            return len(self._marker_queues.get(marker, ()))

    def reset(self) -> None:
        """Forget all scripts and recorded requests; the default goes back to Answer()."""
        with self._lock:
            self._queue.clear()
            self._marker_queues.clear()
            self._requests.clear()
            self._default = Answer()
            self._peak.clear()
            self._peak_total = 0
            self._generation += 1
            self._warmups.clear()
            self._call_ids = itertools.count(1)

    def peak_in_flight(self, model: str | None = None) -> int:
        """The most completion requests in progress at once since the last reset (for the
        requests naming ``model`` only, when given)."""
        with self._lock:
            return self._peak_total if model is None else self._peak.get(model, 0)

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, all paths, in arrival order."""
        with self._lock:
            return list(self._requests)

    def request_count(self, marker: str | None = None) -> int:
        """Completion requests received (both endpoints), or those containing ``marker``."""
        with self._lock:
            return sum(
                1
                for r in self._requests
                if r.path in _COMPLETION_PATHS and (marker is None or marker in r.prompt_text)
            )

    def _next_behaviour(self, prompt_text: str) -> Behaviour:
        with self._lock:
            for marker, queue in self._marker_queues.items():
                if queue and marker in prompt_text:
                    return queue.popleft()
            return self._queue.popleft() if self._queue else self._default

    # -- handlers ----------------------------------------------------------------------

    async def _record(self, request: web.Request) -> RecordedRequest:
        received_at = time.monotonic()
        body: dict[str, Any] | None = None
        if request.can_read_body:
            with contextlib.suppress(ValueError):
                parsed = json.loads(await request.read())
                body = parsed if isinstance(parsed, dict) else None
        recorded = RecordedRequest(
            request.path, request.method, dict(request.headers), body, received_at
        )
        with self._lock:
            self._requests.append(recorded)
        return recorded

    async def _models(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        return web.json_response(
            {"object": "list", "data": [{"id": self.model, "object": "model"}]}
        )

    async def _not_found(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        body = {"error": {"message": f"no route {request.path}", "type": "not_found"}}
        return web.json_response(body, status=404)

    async def _pause(self, seconds: float) -> bool:
        """Wait ``seconds``; False if the server began stopping (before or meanwhile)."""
        assert self._stopping is not None
        if seconds > 0 and not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    await self._stopping.wait()
        return not self._stopping.is_set()

    @staticmethod
    def _close(request: web.Request, resp: web.StreamResponse | None = None) -> web.StreamResponse:
        """Close the connection; the returned response can no longer reach the client."""
        if request.transport is not None:
            request.transport.close()
        return resp if resp is not None else web.Response(status=499)

    @staticmethod
    async def _start_sse(
        request: web.Request, headers: Mapping[str, str] | None = None
    ) -> web.StreamResponse:
        base = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        resp = web.StreamResponse(status=200, headers=_merge_headers(base, headers))
        await resp.prepare(request)
        return resp

    async def _complete(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record(request)
        body = recorded.body or {}
        behaviour = self._next_behaviour(recorded.prompt_text)
        chat = request.path.endswith("/chat/completions")
        model = body.get("model") if isinstance(body.get("model"), str) else self.model
        stream_options = body.get("stream_options")
        include_usage = isinstance(stream_options, dict) and bool(
            stream_options.get("include_usage")
        )
        ident = f"{'chatcmpl' if chat else 'cmpl'}-scripted-{next(self._ids)}"
        shape = _Shape(chat, str(model), ident, include_usage)
        with self._lock:
            # requests still running from before the last reset() are not counted
            model_key = (self._generation, str(model))
            self._in_flight[model_key] = self._in_flight.get(model_key, 0) + 1
            total = sum(n for (g, _), n in self._in_flight.items() if g == self._generation)
            self._peak_total = max(self._peak_total, total)
            self._peak[model_key[1]] = max(
                self._peak.get(model_key[1], 0), self._in_flight[model_key]
            )
        try:
            return await self._perform(request, behaviour, body, shape)
        except ConnectionError:  # the client went away; nothing left to send
            return self._close(request)
        finally:
            with self._lock:
                self._in_flight[model_key] -= 1
                if not self._in_flight[model_key]:
                    del self._in_flight[model_key]

    def _warming(self, w: Warmup) -> bool:
        """True while ``w`` is within ``seconds`` of the first request it answered."""
        now = time.monotonic()
        with self._lock:
            first = self._warmups.setdefault(id(w), now)
        return now - first < w.seconds

    async def _perform(
        self, request: web.Request, b: Behaviour, body: dict[str, Any], shape: _Shape
    ) -> web.StreamResponse:
        stream = body.get("stream") is True
        if isinstance(b, Warmup):
            return await self._perform(
                request, b.during if self._warming(b) else b.after, body, shape
            )
        if isinstance(b, RefuseTools):
            if "tools" in body:
                b = Status(b.status, b.message)
            else:
                return await self._perform(request, b.after, body, shape)
        if isinstance(b, Echo):
            b = Answer(text=b.prefix + _echo_text(body))
        if isinstance(b, Code | CallInContent):
            b = Answer(text=b.text())
        if isinstance(b, ToolCalls):
            if shape.chat:
                return await self._tool_calls(request, b, shape, stream)
            b = Answer(text=b.text or "no tools here")
        if isinstance(b, Huge):
            whole, rest = divmod(b.size_bytes, b.chunk_bytes)
            pieces = ["x" * b.chunk_bytes] * whole + (["x" * rest] if rest else [])
            b = Answer(chunks=pieces, completion_tokens=len(pieces))
        if isinstance(b, Answer):
            return await self._answer(request, b, shape, stream)
        if isinstance(b, NoChoices | EmptyMessage):
            return await self._odd_answer(request, b, shape, stream)
        if isinstance(b, Reset):
            return await self._reset(request, b, shape, stream)
        if isinstance(b, Status):
            if b.body is None:
                error_type = {429: "rate_limit_error"}.get(b.code, "invalid_request_error")
                error_type = "server_error" if b.code >= 500 else error_type
                error = {"message": b.message, "type": error_type, "param": None, "code": b.code}
                return web.json_response({"error": error}, status=b.code, headers=b.headers)
            raw = b.body.encode() if isinstance(b.body, str) else b.body
            base = {"Content-Type": "text/plain; charset=utf-8"}
            return web.Response(body=raw, status=b.code, headers=_merge_headers(base, b.headers))
        if isinstance(b, Malformed):
            return web.Response(
                body=b.body, status=b.status, headers={"Content-Type": b.content_type}
            )
        if isinstance(b, Drop):
            return self._close(request)
        if isinstance(b, Hang):
            await self._pause(b.seconds)
            return self._close(request)
        # The partial streams: DropMidStream, Stall, NoDone.
        resp = await self._start_sse(request)
        for i in range(b.after_chunks):
            await resp.write(shape.content(f" tok{i}" if i else "tok0"))
        if isinstance(b, Stall):
            if b.keepalive_s is None:
                await self._pause(b.stall_s)
            else:
                until = time.monotonic() + b.stall_s
                while time.monotonic() < until and await self._pause(b.keepalive_s):
                    await resp.write(b": ping\n\n")
        if isinstance(b, NoDone):
            await resp.write_eof()
            return resp
        return self._close(request, resp)

    async def _odd_answer(
        self, request: web.Request, b: NoChoices | EmptyMessage, shape: _Shape, stream: bool
    ) -> web.StreamResponse:
        """A 200 without ``choices``, or with an empty message, streamed or not."""
        usage = {"prompt_tokens": 5, "completion_tokens": 0, "total_tokens": 5}
        if not stream:
            if isinstance(b, NoChoices):
                return web.json_response(shape.no_choices(usage, stream=False))
            return web.json_response(shape.full(b.content, "stop", usage))
        resp = await self._start_sse(request)
        if isinstance(b, NoChoices):
            event = shape.no_choices(usage, stream=True)
            await resp.write(b"data: " + json.dumps(event).encode() + b"\n\n")
        else:
            await resp.write(shape.empty(b.content))
            await resp.write(shape.finish("stop"))
            if shape.include_usage:
                await resp.write(shape.usage(usage))
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp

    async def _reset(
        self, request: web.Request, b: Reset, shape: _Shape, stream: bool
    ) -> web.StreamResponse:
        resp: web.StreamResponse | None = None
        if b.mid_body:
            if stream:
                resp = await self._start_sse(request)
                await resp.write(shape.content("tok0"))
                await resp.write(shape.content(" tok1"))
            else:
                data = json.dumps(shape.full("Hello world", "stop", None)).encode()
                resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
                resp.content_length = len(data)
                await resp.prepare(request)
                await resp.write(data[: len(data) // 2])
            if not await self._pause(b.pause_s):
                return self._close(request, resp)
        transport = request.transport
        if transport is not None:
            sock = transport.get_extra_info("socket")
            if sock is not None:  # linger 0: close() sends RST instead of FIN
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        return resp if resp is not None else web.Response(status=499)

    async def _tool_calls(
        self, request: web.Request, t: ToolCalls, shape: _Shape, stream: bool
    ) -> web.StreamResponse:
        """An assistant message with tool calls, streamed in ``t.form`` or as one body."""
        specs = t.specs()
        with self._lock:
            ids = [spec.id or f"call_{next(self._call_ids)}" for spec in specs]
        whole = [
            {"id": ident, "type": "function",
             "function": {"name": spec.name, "arguments": spec.argument_text()}}
            for ident, spec in zip(ids, specs, strict=True)
        ]  # fmt: skip
        text_pieces = Answer(text=t.text).pieces() if t.text else []
        events: list[bytes] = [shape.content(piece) for piece in text_pieces]
        for delta in _tool_deltas(t, whole):
            events.append(shape.tool_pieces(delta))
        n_completion = len(events)
        usage = {"prompt_tokens": t.prompt_tokens, "completion_tokens": n_completion,
                 "total_tokens": t.prompt_tokens + n_completion}  # fmt: skip
        if not stream:
            if not await self._pause(t.ttft_s):
                return self._close(request)
            data = shape.full(
                t.text or None, t.finish_reason, usage if t.usage else None, tool_calls=whole
            )
            return web.json_response(data)
        resp = await self._start_sse(request)
        if not await self._pause(t.ttft_s):
            return self._close(request, resp)
        start = time.monotonic()
        for i, event in enumerate(events):
            if i and not await self._pause(start + i * t.token_interval_s - time.monotonic()):
                return self._close(request, resp)
            await resp.write(event)
        await resp.write(shape.finish(t.finish_reason))
        if shape.include_usage and t.usage:
            await resp.write(shape.usage(usage))
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp

    async def _answer(
        self, request: web.Request, a: Answer, shape: _Shape, stream: bool
    ) -> web.StreamResponse:
        pieces = a.pieces()
        thinking = a.thinking_events()
        n_all = len(pieces) + len(thinking)
        n_completion = n_all if a.completion_tokens is None else a.completion_tokens
        usage: dict[str, Any] = {
            "prompt_tokens": a.prompt_tokens,
            "completion_tokens": n_completion,
            "total_tokens": a.prompt_tokens + n_completion,
        }
        if thinking and a.reasoning_usage:
            usage["completion_tokens_details"] = {"reasoning_tokens": len(thinking)}
        text = a.text if a.chunks is None else "".join(pieces)
        if not stream:
            if not await self._pause(a.ttft_s):
                return self._close(request)
            split = None
            if thinking and a.reasoning_form == "inline":
                text = "".join(t for _, t in thinking) + text
            elif thinking:
                split = (a.reasoning_form, "".join(a.reasoning))
            data = shape.full(text, a.finish_reason, usage if a.usage else None, split)
            # not json_response(): a Content-Type in a.headers would clash with its own
            base = {"Content-Type": "application/json; charset=utf-8"}
            return web.Response(
                body=json.dumps(data).encode(), headers=_merge_headers(base, a.headers)
            )
        resp = await self._start_sse(request, a.headers)
        if not await self._pause(a.ttft_s):
            return self._close(request, resp)
        if shape.chat and not pieces and not thinking:
            await resp.write(shape.content(""))  # the role still comes first
        events = [*thinking, *((None, piece) for piece in pieces)]
        start = time.monotonic()
        for i, (field_name, piece) in enumerate(events):
            # against deadlines from the first event, so that late wake-ups do not add up
            if i and not await self._pause(start + i * a.token_interval_s - time.monotonic()):
                return self._close(request, resp)
            if field_name is None:
                await resp.write(shape.content(piece))
            else:
                await resp.write(shape.thought(field_name, piece))
        await resp.write(shape.finish(a.finish_reason))
        if shape.include_usage and a.usage:
            await resp.write(shape.usage(usage))
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp


def _tool_deltas(t: ToolCalls, whole: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The ``delta.tool_calls`` lists of a streamed :class:`ToolCalls`, one per event."""
    if t.form == "together":
        per_call = [[{"index": i, **call}] for i, call in enumerate(whole)]
        deltas = [[piece for pieces in per_call for piece in pieces]]
    elif t.form == "whole":
        deltas = [[{"index": i, **call}] for i, call in enumerate(whole)]
    else:
        per_call = []
        for i, call in enumerate(whole):
            arguments = call["function"]["arguments"]
            head = {"index": i, "id": call["id"], "type": "function",
                    "function": {"name": call["function"]["name"], "arguments": ""}}  # fmt: skip
            step = max(1, t.arguments_chunk)
            rest = [
                {"index": i, "function": {"arguments": arguments[k : k + step]}}
                for k in range(0, len(arguments), step)
            ]
            per_call.append([head, *rest])
        if t.interleave:
            ordered = [p for group in itertools.zip_longest(*per_call) for p in group if p]
        else:
            ordered = [piece for pieces in per_call for piece in pieces]
        deltas = [[piece] for piece in ordered]
    if not t.indexed:
        deltas = [[{k: v for k, v in p.items() if k != "index"} for p in d] for d in deltas]
    return deltas
