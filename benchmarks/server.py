"""A lean OpenAI-compatible mock server for the benchmarks: known timing, little CPU.

Run as a script (``python benchmarks/server.py --ttft 0.2``); it binds 127.0.0.1 on a free
port, pins itself to ``--cpu`` when given, and prints ``port <n>`` on stdout once it listens.

Every completion request (``POST /v1/chat/completions`` or ``/v1/completions``) is answered
the same way: ``--ttft`` seconds after its slot is free, the first of ``--tokens`` content
events, then one event every ``--token-interval`` seconds (scheduled against absolute
deadlines, so the delays do not drift), then a ``finish_reason`` event, a usage event (when
``stream_options.include_usage`` was asked) and ``data: [DONE]``. A request without
``"stream": true`` gets one JSON body at the time the last token would have been sent.

``--slots S`` serves at most S requests at once; the others wait in arrival order (FIFO), as
a local inference server queues. ``POST /control`` with ``{"slots": n}`` changes S at run time
(0: no limit) and ``{"reset": true}`` clears the statistics. ``GET /stats`` returns them:
requests, completions, first request times (``time.time()``), peak in flight, the server's own
CPU seconds, and the medians of the TTFT and generation time it actually produced.
``GET /v1/models`` lists the one model.

``--code CODE`` (off by default) plays an agent that runs code once, in the text tool protocol
(:mod:`llmbench.tools.protocol`): a chat completion whose last message is not the output of
its code (``Output of ...``) is answered with one content event, a fenced ``python`` block of
CODE; the one after the output gets the usual answer. Without ``--code`` nothing changes.

The server must never be the bottleneck (1,024 requests in flight at 200 ms is 5,000
requests a second on one core), so it is HTTP/1.1 keep-alive written on ``asyncio.Protocol``
with nothing but the standard library: the bytes of every answer are built once at start-up,
each body has a ``Content-Length`` (no chunked encoding), and a request in flight is a chain
of timer callbacks, not a task. An aiohttp.web version of this server spent about three times
the CPU per request (0.24 ms against 0.085 ms at 1,024 in flight).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import statistics
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MODEL = "bench-model"
PROMPT_TOKENS = 12
MAX_HEAD_BYTES = 64 * 1024


@dataclass
class Stats:
    """What the server saw since the last reset."""

    requests: int = 0
    """Requests of any path."""
    completions_started: int = 0
    completions_done: int = 0
    first_request_at: float | None = None
    """``time.time()`` when the first request of any path arrived."""
    first_completion_at: float | None = None
    """``time.time()`` when the first completion request arrived."""
    last_done_at: float | None = None
    in_flight: int = 0
    peak_in_flight: int = 0
    ttft_s: list[float] = field(default_factory=list)
    """Per streamed completion: seconds from arrival to the write of the first content event."""
    generation_s: list[float] = field(default_factory=list)
    """Per streamed completion: seconds from the first to the last content event."""
    cpu_at_reset: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "completions_started": self.completions_started,
            "completions_done": self.completions_done,
            "first_request_at": self.first_request_at,
            "first_completion_at": self.first_completion_at,
            "last_done_at": self.last_done_at,
            "in_flight": self.in_flight,
            "peak_in_flight": self.peak_in_flight,
            "cpu_s": _cpu_s() - self.cpu_at_reset,
            "ttft_p50_s": statistics.median(self.ttft_s) if self.ttft_s else None,
            "generation_p50_s": (
                statistics.median(self.generation_s) if self.generation_s else None
            ),
        }


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Gate:
    """At most ``slots`` requests served at once (0: no limit); the others wait, FIFO."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self.busy = 0
        self._waiting: deque[Callable[[], None]] = deque()

    def enter(self, start: Callable[[], None]) -> None:
        """Call ``start`` now if a slot is free, else when one is."""
        self._waiting.append(start)
        self._wake()

    def leave(self) -> None:
        self.busy -= 1
        self._wake()

    def resize(self, slots: int) -> None:
        self.slots = slots
        self._wake()

    @property
    def queued(self) -> int:
        return len(self._waiting)

    def _wake(self) -> None:
        while self._waiting and (self.slots == 0 or self.busy < self.slots):
            self.busy += 1
            self._waiting.popleft()()


def _event(obj: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


@dataclass(frozen=True)
class Answer:
    """The pre-encoded bytes of one answer in one API shape."""

    tokens: list[bytes]
    """One SSE event per content token."""
    tail: bytes
    """finish_reason event, usage event, [DONE]."""
    tail_no_usage: bytes
    whole: bytes
    """The non-streaming JSON body."""


def build_answer(chat: bool, tokens: int, pieces: list[str] | None = None) -> Answer:
    """The events of an answer of ``tokens`` tokens (``" tok"`` each), or of ``pieces``, one
    event each, when given."""
    pieces = [" tok"] * tokens if pieces is None else pieces
    head = {"id": "bench-1", "created": int(time.time()), "model": MODEL}
    kind = "chat.completion.chunk" if chat else "text_completion"

    def choice(text: str | None, finish: str | None, first: bool = False) -> dict[str, Any]:
        if not chat:
            return {"index": 0, "text": text or "", "finish_reason": finish}
        delta: dict[str, Any] = {} if text is None else {"content": text}
        if first:
            delta["role"] = "assistant"
        return {"index": 0, "delta": delta, "finish_reason": finish}

    events = [
        _event({**head, "object": kind, "choices": [choice(piece, None, i == 0)]})
        for i, piece in enumerate(pieces)
    ]
    usage = {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": len(pieces),
        "total_tokens": PROMPT_TOKENS + len(pieces),
    }
    finish = _event({**head, "object": kind, "choices": [choice(None, "stop")]})
    usage_event = _event({**head, "object": kind, "choices": [], "usage": usage})
    done = b"data: [DONE]\n\n"
    text = "".join(pieces)
    message: dict[str, Any] = (
        {"message": {"role": "assistant", "content": text}} if chat else {"text": text}
    )
    whole = {
        **head,
        "object": "chat.completion" if chat else "text_completion",
        "choices": [{"index": 0, **message, "finish_reason": "stop"}],
        "usage": usage,
    }
    return Answer(events, finish + usage_event + done, finish + done, json.dumps(whole).encode())


def response_head(status: str, content_type: str, length: int) -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\n"
        "Connection: keep-alive\r\n\r\n"
    ).encode("ascii")


def json_response(data: Any, status: str = "200 OK") -> bytes:
    body = json.dumps(data).encode()
    return response_head(status, "application/json", len(body)) + body


class MockServer:
    """The answers, the slots and the statistics shared by every connection."""

    def __init__(
        self,
        ttft_s: float,
        tokens: int,
        token_interval_s: float,
        slots: int,
        code: str | None = None,
    ) -> None:
        self.ttft_s = ttft_s
        self.token_interval_s = token_interval_s
        self.gate = Gate(slots)
        self.stats = Stats(cpu_at_reset=_cpu_s())
        self.answers = {True: build_answer(True, tokens), False: build_answer(False, tokens)}
        self.code_answer = (
            None if code is None else build_answer(True, 1, [f"```python\n{code}\n```"])
        )
        """``--code``: the chat answer that asks to run the code (None: the mode is off)."""

    def handle(self, conn: Connection, method: str, path: str, body: bytes) -> None:
        """Answer one request; ``conn.done()`` is called once the answer is sent."""
        stats = self.stats
        stats.requests += 1
        if stats.first_request_at is None:
            stats.first_request_at = time.time()
        if method == "POST" and path in ("/v1/chat/completions", "/v1/completions"):
            self._complete(conn, path == "/v1/chat/completions", body)
            return
        if method == "GET" and path == "/v1/models":
            conn.send(json_response({"object": "list", "data": [{"id": MODEL, "object": "model"}]}))
        elif method == "GET" and path == "/stats":
            conn.send(json_response({**stats.as_json(), "queued": self.gate.queued,
                                     "slots": self.gate.slots}))  # fmt: skip
        elif method == "POST" and path == "/control":
            self._control(conn, body)
        else:
            conn.send(json_response({"error": {"message": f"no {method} {path}"}}, "404 Not Found"))
        conn.done()

    def _control(self, conn: Connection, body: bytes) -> None:
        try:
            data = json.loads(body)
        except ValueError:
            conn.send(json_response({"error": {"message": "not JSON"}}, "400 Bad Request"))
            return
        if data.get("reset"):
            self.stats = Stats(cpu_at_reset=_cpu_s(), in_flight=self.stats.in_flight)
        if "slots" in data:
            self.gate.resize(int(data["slots"]))
        conn.send(json_response({"slots": self.gate.slots}))

    def _complete(self, conn: Connection, chat: bool, body: bytes) -> None:
        stats = self.stats
        if stats.first_completion_at is None:
            stats.first_completion_at = time.time()
        try:
            request = json.loads(body)
        except ValueError:
            conn.send(json_response({"error": {"message": "body is not JSON"}}, "400 Bad Request"))
            conn.done()
            return
        stats.completions_started += 1
        stats.in_flight += 1
        stats.peak_in_flight = max(stats.peak_in_flight, stats.in_flight)
        answer = self.answers[chat]
        if self.code_answer is not None and chat and not _after_code(request):
            answer = self.code_answer
        if request.get("stream"):
            usage = bool((request.get("stream_options") or {}).get("include_usage"))
            stream = Stream(self, conn, answer, usage)
            self.gate.enter(stream.start)
        else:
            self.gate.enter(lambda: self._start_whole(conn, answer))

    def _start_whole(self, conn: Connection, answer: Answer) -> None:
        loop = asyncio.get_running_loop()
        delay = self.ttft_s + self.token_interval_s * (len(answer.tokens) - 1)

        def send() -> None:
            conn.send(response_head("200 OK", "application/json", len(answer.whole)) + answer.whole)
            self.finished(conn)

        loop.call_later(delay, send)

    def finished(self, conn: Connection) -> None:
        """A completion ended (or its client went away): free its slot and its connection."""
        self.gate.leave()
        stats = self.stats
        stats.in_flight -= 1
        stats.completions_done += 1
        stats.last_done_at = time.time()
        conn.done()


def _after_code(request: dict[str, Any]) -> bool:
    """Whether the last message of a chat request is the output of the agent's code."""
    messages = request.get("messages") or [{}]
    last = messages[-1] if isinstance(messages[-1], dict) else {}
    content = last.get("content")
    is_output = isinstance(content, str) and content.startswith("Output of")
    return last.get("role") == "user" and is_output


class Stream:
    """One streamed answer in flight: a chain of timer callbacks, one per due token."""

    def __init__(self, server: MockServer, conn: Connection, answer: Answer, usage: bool) -> None:
        self.server = server
        self.conn = conn
        self.tokens = answer.tokens
        self.tail = answer.tail if usage else answer.tail_no_usage
        self.arrived = asyncio.get_running_loop().time()
        self.sent = 0
        self.first_at = 0.0
        self.first_written = 0.0

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        length = sum(map(len, self.tokens)) + len(self.tail)
        self.conn.send(response_head("200 OK", "text/event-stream", length))
        self.first_at = loop.time() + self.server.ttft_s
        loop.call_at(self.first_at, self._write_due)

    def _write_due(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        interval = self.server.token_interval_s
        n = len(self.tokens)
        if interval > 0:  # every token already due goes in one write
            upto = min(n, max(self.sent + 1, int((now - self.first_at) / interval) + 1))
        else:
            upto = n
        chunk = b"".join(self.tokens[self.sent : upto])
        if self.sent == 0:
            self.first_written = now
        self.sent = upto
        if upto < n:
            self.conn.send(chunk)
            loop.call_at(self.first_at + upto * interval, self._write_due)
            return
        self.conn.send(chunk + self.tail)
        stats = self.server.stats
        stats.ttft_s.append(self.first_written - self.arrived)
        stats.generation_s.append(now - self.first_written)
        self.server.finished(self.conn)


class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: requests are read one at a time (a client waits
    for each answer before it sends the next request on the connection)."""

    def __init__(self, server: MockServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def send(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def done(self) -> None:
        """The answer to the current request is sent: read the next one."""
        self.busy = False
        if self.buffer:
            self._next_request()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self._next_request()

    def _next_request(self) -> None:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > MAX_HEAD_BYTES:
                self._refuse("431 Request Header Fields Too Large")
            return
        lines = self.buffer[:end].decode("latin-1").split("\r\n")
        try:
            method, target, _version = lines[0].split(" ", 2)
        except ValueError:
            self._refuse("400 Bad Request")
            return
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                try:
                    length = int(value)
                except ValueError:
                    self._refuse("400 Bad Request")
                    return
        if len(self.buffer) < end + 4 + length:
            return  # the body is still coming
        body = bytes(self.buffer[end + 4 : end + 4 + length])
        del self.buffer[: end + 4 + length]
        self.busy = True
        self.server.handle(self, method, target.split("?", 1)[0], body)

    def _refuse(self, status: str) -> None:
        self.send(json_response({"error": {"message": status}}, status))
        if self.transport is not None:
            self.transport.close()


async def serve(server: MockServer, host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    # a deep accept backlog: 1,024 clients connect at once
    listener = await loop.create_server(lambda: Connection(server), host, port, backlog=4096)
    print(f"port {listener.sockets[0].getsockname()[1]}", flush=True)
    async with listener:
        await listener.serve_forever()


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0: a free port (default)")
    parser.add_argument("--ttft", type=float, default=0.0, help="seconds to the first token")
    parser.add_argument("--tokens", type=int, default=8, help="content tokens per answer")
    parser.add_argument(
        "--token-interval", type=float, default=0.0, help="seconds between two tokens"
    )
    parser.add_argument("--slots", type=int, default=0, help="requests served at once (0: all)")
    parser.add_argument("--cpu", type=int, help="pin the server to this CPU")
    parser.add_argument(
        "--code", help="play an agent that runs this code once (text protocol), then answers"
    )
    args = parser.parse_args(argv)
    if args.tokens < 1:
        parser.error("--tokens: expected at least 1")
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    _raise_fd_limit()
    server = MockServer(args.ttft, args.tokens, args.token_interval, args.slots, args.code)
    try:
        asyncio.run(serve(server, "127.0.0.1", args.port))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
