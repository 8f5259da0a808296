"""llmbench.providers.http1: the connection pool and response parsing the completion requests go
through, against raw asyncio servers that write exactly the bytes each test scripts (framing,
keep-alive, codings, failures). The OpenAI-level behaviour over it (streams, errors, retries)
is in test_faults.py and test_engine_http.py."""

from __future__ import annotations

import asyncio
import gzip
import socket
import zlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import pytest

from llmbench.providers import http1
from llmbench.providers.http1 import HttpClient

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


@dataclass
class RawServer:
    """A 127.0.0.1 server whose ``handler`` answers each request on each connection.
    ``handler(reader, writer, n)``: n counts requests over all connections from 0."""

    handler: Handler
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    server: asyncio.Server | None = None
    serving: set[asyncio.Task[None]] = field(default_factory=set)
    writers: list[asyncio.StreamWriter] = field(default_factory=list)

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1/chat/completions"

    async def __aenter__(self) -> RawServer:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()
        await asyncio.gather(*self.serving, return_exceptions=True)
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self.serving.add(task)
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                self.requests.append(head + await reader.readexactly(length))
                await self.handler(reader, writer, len(self.requests) - 1)
                if writer.is_closing():
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


class Collect:
    """An Exchange that keeps everything it is given; ``enough`` ends the body early."""

    def __init__(self, enough: bytes | None = None) -> None:
        self.enough = enough
        self.sent_calls = 0
        self.status: int | None = None
        self.headers: Mapping[str, str] = {}
        self.body = b""

    def sent(self) -> None:
        self.sent_calls += 1

    def head(self, status: int, headers: Mapping[str, str]) -> http1.Sink:
        self.status, self.headers = status, headers
        return self.take

    def take(self, piece: bytes) -> bool:
        self.body += piece
        return self.enough is not None and self.enough in self.body


def response(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    lines = [f"HTTP/1.1 {status}", *headers]
    if not any(h.lower().startswith(("content-length", "transfer-encoding")) for h in headers):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def chunked(*pieces: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


def answer_with(data: bytes, close: bool = False) -> Handler:
    """A handler that writes ``data`` to every request (then closes the connection)."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        writer.write(data)
        await writer.drain()
        if close:
            writer.close()

    return handler


async def send(
    client: HttpClient, url: str, exchange: Collect | None = None, read_timeout_s: float = 5
) -> Collect:
    exchange = exchange or Collect()
    await client.send(
        url,
        {"Content-Type": "application/json", "Authorization": "Bearer sk-test"},
        b'{"q": 1}',
        exchange,
        connect_timeout_s=5,
        read_timeout_s=read_timeout_s,
    )
    return exchange


def run(coro: Awaitable[None]) -> None:
    asyncio.run(asyncio.wait_for(coro, 20))  # type: ignore[arg-type]


def test_keep_alive_reuses_one_connection_and_the_request_is_well_formed() -> None:
    async def main() -> None:
        async with RawServer(answer_with(response(b'{"ok": true}'))) as server:
            port = server.url.split(":")[2].split("/")[0]
            async with HttpClient() as client:
                for _ in range(3):
                    got = await send(client, server.url)
                    assert (got.status, got.body, got.sent_calls) == (200, b'{"ok": true}', 1)
        assert server.connections == 1
        first = server.requests[0].decode()
        assert first.startswith("POST /v1/chat/completions HTTP/1.1\r\n")
        assert f"Host: 127.0.0.1:{port}\r\n" in first
        assert "Content-Length: 8\r\n" in first and first.endswith('\r\n\r\n{"q": 1}')
        assert "Authorization: Bearer sk-test\r\n" in first

    run(main())


def test_chunked_bodies_and_headers_reach_the_exchange_in_lower_case() -> None:
    data = response(
        chunked(b"data: one\n\n", b"data: two\n\n"), "Transfer-Encoding: chunked", "X-Thing: A"
    )

    async def main() -> None:
        async with RawServer(answer_with(data)) as server, HttpClient() as client:
            got = await send(client, server.url)
            assert got.body == b"data: one\n\ndata: two\n\n"
            assert got.headers["x-thing"] == "A"
            await send(client, server.url)
        assert server.connections == 1

    run(main())


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_compressed_bodies_are_decoded(coding: str) -> None:
    text = b'{"text": "' + b"abc" * 200_000 + b'"}'  # 600 KB: decoded in several pieces
    packed = gzip.compress(text) if coding == "gzip" else zlib.compress(text)

    async def main() -> None:
        data = response(packed, f"Content-Encoding: {coding}")
        async with RawServer(answer_with(data)) as server, HttpClient() as client:
            got = await send(client, server.url)
            assert got.body == text

    run(main())


def test_an_unknown_coding_is_a_bad_response() -> None:
    async def main() -> None:
        data = response(b"xx", "Content-Encoding: br")
        async with RawServer(answer_with(data)) as server, HttpClient() as client:
            with pytest.raises(http1.BadResponse, match="Content-Encoding 'br'"):
                await send(client, server.url)

    run(main())


def test_a_body_without_a_length_ends_when_the_connection_closes() -> None:
    handler = answer_with(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it", close=True)

    async def main() -> None:
        async with RawServer(handler) as server, HttpClient() as client:
            assert (await send(client, server.url)).body == b"all of it"
            assert (await send(client, server.url)).body == b"all of it"
        assert server.connections == 2  # Connection: close is honoured

    run(main())


def test_a_body_cut_short_is_a_lost_connection() -> None:
    handler = answer_with(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this", close=True)

    async def main() -> None:
        async with RawServer(handler) as server, HttpClient() as client:
            exchange = Collect()
            with pytest.raises(http1.ConnectionLost):
                await send(client, server.url, exchange)
            assert exchange.status == 200 and exchange.body == b"only this"

    run(main())


def test_an_idle_connection_the_server_closed_is_not_used_again() -> None:
    handler = answer_with(response(b"ok"), close=True)  # keep-alive announced, then closed

    async def main() -> None:
        async with RawServer(handler) as server, HttpClient() as client:
            await send(client, server.url)
            await asyncio.sleep(0.05)  # the close arrives while the connection is idle
            assert (await send(client, server.url)).body == b"ok"
        assert server.connections == 2

    run(main())


def test_a_connection_lost_before_any_byte_is_not_retried() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        writer.close()

    async def main() -> None:
        async with RawServer(handler) as server, HttpClient() as client:
            exchange = Collect()
            with pytest.raises(http1.ConnectionLost):
                await send(client, server.url, exchange)
            assert exchange.status is None
        assert len(server.requests) == 1

    run(main())


def test_enough_returns_early_and_the_rest_is_drained_to_keep_the_connection() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        writer.write(b"c\r\ndata: [DONE]\r\n")
        await writer.drain()
        await asyncio.sleep(0.2)  # the end of the body comes later
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    async def main() -> None:
        async with RawServer(handler) as server, HttpClient() as client:
            loop = asyncio.get_running_loop()
            started = loop.time()
            got = await send(client, server.url, Collect(enough=b"[DONE]"))
            assert got.body == b"data: [DONE]" and loop.time() - started < 0.15
            await asyncio.sleep(0.4)
            await send(client, server.url, Collect(enough=b"[DONE]"))
        assert server.connections == 1  # drained, then used again

    run(main())


def test_too_much_left_to_drain_closes_the_connection() -> None:
    big = b"y" * (http1.DRAIN_BYTES * 3)

    async def main() -> None:
        async with RawServer(answer_with(response(b"x" + big))) as server, HttpClient() as c:
            got = await send(c, server.url, Collect(enough=b"x"))
            assert got.body.startswith(b"x")
            await send(c, server.url, Collect(enough=b"x"))
        assert server.connections == 2

    run(main())


def test_an_exception_in_the_exchange_propagates_and_closes_the_connection() -> None:
    class Refuses(Collect):
        def take(self, piece: bytes) -> bool:
            raise LookupError("too big")

    async def main() -> None:
        async with RawServer(answer_with(response(b"body"))) as server, HttpClient() as client:
            with pytest.raises(LookupError, match="too big"):
                await send(client, server.url, Refuses())
            await send(client, server.url)
        assert server.connections == 2

    run(main())


def test_silence_is_a_read_timeout_that_says_whether_the_head_came() -> None:
    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        if n == 1:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        await asyncio.sleep(1)

    async def main() -> None:
        async with RawServer(hang) as server, HttpClient() as client:
            with pytest.raises(http1.ReadTimeout) as before:
                await send(client, server.url, read_timeout_s=0.2)
            assert not before.value.got_head
            with pytest.raises(http1.ReadTimeout) as after:
                await send(client, server.url, read_timeout_s=0.2)
            assert after.value.got_head

    run(main())


def test_a_slow_trickle_is_not_a_timeout() -> None:
    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n")
        for piece in (b"ab", b"cd", b"ef"):
            await asyncio.sleep(0.15)
            writer.write(piece)
            await writer.drain()

    async def main() -> None:
        async with RawServer(trickle) as server, HttpClient() as client:
            got = await send(client, server.url, read_timeout_s=0.25)  # 0.45 s in all
            assert got.body == b"abcdef"

    run(main())


def test_not_http_is_a_bad_response() -> None:
    async def main() -> None:
        ssh = answer_with(b"SSH-2.0-OpenSSH_9.6\r\n")
        async with RawServer(ssh) as server, HttpClient() as client:
            with pytest.raises(http1.BadResponse):
                await send(client, server.url)

    run(main())


def test_refused_and_unresolvable_are_connect_failures() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once it is closed

    async def main() -> None:
        async with HttpClient() as client:
            with pytest.raises(http1.ConnectFailed):
                await send(client, f"http://127.0.0.1:{port}/v1/chat/completions")
            with pytest.raises(http1.ConnectFailed):
                await send(client, "http://name.invalid/v1/chat/completions")

    run(main())


def test_a_header_that_would_break_the_framing_is_refused_without_its_value() -> None:
    async def main() -> None:
        async with HttpClient() as client:
            with pytest.raises(ValueError, match="'X-Key'") as refused:
                await client.send(
                    "http://127.0.0.1:1/x",
                    {"X-Key": "sk-secret\r\nInjected: yes"},
                    b"",
                    Collect(),
                    connect_timeout_s=1,
                    read_timeout_s=1,
                )
            assert "sk-secret" not in str(refused.value)
            with pytest.raises(ValueError, match="not an http"):
                await send(client, "ftp://127.0.0.1/x")

    run(main())


def test_a_cancelled_request_closes_its_connection_and_close_leaves_no_socket() -> None:
    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await asyncio.sleep(1)

    async def main() -> None:
        async with RawServer(hang) as server:
            client = HttpClient(limit=2)
            task = asyncio.create_task(send(client, server.url))
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            idle = asyncio.create_task(send(client, server.url))
            await asyncio.sleep(0.1)
            idle.cancel()
            await client.close()
            assert not client._all and not client._idle
            with pytest.raises(RuntimeError, match="closed"):
                await send(client, server.url)

    run(main())


def test_the_limit_holds_requests_back_until_a_connection_is_free() -> None:
    in_flight = peak = 0

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.05)
        in_flight -= 1
        writer.write(response(b"ok"))
        await writer.drain()

    async def main() -> None:
        async with RawServer(slow) as server, HttpClient(limit=2) as client:
            await asyncio.gather(*(send(client, server.url) for _ in range(6)))
        assert peak == 2 and server.connections == 2

    run(main())


def test_a_trickle_past_the_deadline_is_deadline_exceeded_not_a_read_timeout() -> None:
    """The read timeout never fires on a body that keeps coming; the caller's deadline does,
    on the same timer, as a TimeoutError; the connection is not used again."""

    async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        for _ in range(40):
            await asyncio.sleep(0.05)
            writer.write(b"x")
            await writer.drain()

    async def main() -> None:
        async with RawServer(drip) as server, HttpClient() as client:
            loop = asyncio.get_running_loop()
            started = loop.time()
            with pytest.raises(http1.DeadlineExceeded) as raised:
                await client.send(
                    server.url,
                    {},
                    b"{}",
                    Collect(),
                    connect_timeout_s=5,
                    read_timeout_s=1.0,
                    deadline=started + 0.4,
                )
            assert isinstance(raised.value, TimeoutError)
            assert 0.35 < loop.time() - started < 1.0  # the deadline, not the read timeout
            assert not client._all  # the connection was closed, not pooled

    run(main())


def test_a_deadline_bounds_the_wait_for_a_turn_and_a_past_one_sends_nothing() -> None:
    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await asyncio.sleep(0.5)
        writer.write(response(b"ok"))
        await writer.drain()

    async def main() -> None:
        async with RawServer(slow) as server, HttpClient(limit=1) as client:
            loop = asyncio.get_running_loop()
            first = asyncio.ensure_future(send(client, server.url))
            await asyncio.sleep(0.05)  # the one slot is taken
            with pytest.raises(http1.DeadlineExceeded):
                await client.send(
                    server.url, {}, b"{}", Collect(), connect_timeout_s=5,
                    read_timeout_s=5, deadline=loop.time() + 0.1,
                )  # fmt: skip
            assert (await first).body == b"ok"
            with pytest.raises(http1.DeadlineExceeded):
                await client.send(
                    server.url, {}, b"{}", Collect(), connect_timeout_s=5,
                    read_timeout_s=5, deadline=loop.time() - 1,
                )  # fmt: skip
            assert len(server.requests) == 1

    run(main())
