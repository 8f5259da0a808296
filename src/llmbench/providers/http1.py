"""HTTP/1.1 for completion requests: a keep-alive connection pool on asyncio protocols, with
responses parsed by httptools (llhttp, the parser of Node.js, in C).

Why not aiohttp's ``ClientSession``, which llmbench used before: a request through it wakes its
task for the response's head and for every piece of the body, and runs a few hundred lines of
Python around each. At 1,024 requests in flight on one core that was most of the client's CPU:
a minimal streaming client on ``ClientSession`` reached 0.66 of the ideal rate against a 200 ms
mock server, and the same client on asyncio protocols and httptools 0.99, with a third of the
CPU (benchmarks/README.md). It also keeps aiohttp's import (0.1-0.2 s) out of a run's start-up.

An exchange is driven by callbacks, in the protocol's ``data_received``, with no task switch per
piece of the body. :meth:`HttpClient.send` writes the request, calls ``exchange.sent()`` when the
bytes are handed to the socket, ``exchange.head(status, headers)`` once the response's head has
been read, which returns the body's sink, then the sink with each piece of the body (chunked
transfer coding removed, ``gzip`` and ``deflate`` decoded). ``send`` returns when the body has
ended, or as soon as the sink returns True ("that is all I need": the rest of the body is read
and dropped in the background, up to :data:`DRAIN_BYTES` and the read timeout, so that the
connection can be used again; past either it is closed).

Failures, all subclasses of :class:`TransportError` (an exception the head or the sink raises
propagates unchanged, and the connection is closed)::

    TransportError
    ├── ConnectFailed     no connection: refused, name not resolved, TLS handshake failed
    ├── ConnectTimeout    no connection within the connect timeout
    ├── ReadTimeout       nothing read for the read timeout (``got_head``: after the head)
    ├── ConnectionLost    the server closed or reset the connection before the response ended
    ├── BadResponse       bytes that are not an HTTP/1.x response
    └── DeadlineExceeded  the caller's ``deadline`` passed first (also a TimeoutError)

One timer per exchange keeps both the read timeout and the deadline: a deadline costs no timer
of its own (``asyncio.timeout`` around each request was a second timer, about 5 us a request).

Nothing is retried here, not even a request whose kept-alive connection the server closed as
it was sent (from here that looks like a server that reset the connection after reading the
request): retries belong to :mod:`llmbench.engine.calls`, bounded and counted. An idle
connection whose close has arrived is never used, and one idle for :data:`KEEPALIVE_S` neither.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol, cast
from urllib.parse import urlsplit

import httptools

KEEPALIVE_S = 15.0
"""An idle connection older than this is closed rather than used (aiohttp's default too)."""
DRAIN_BYTES = 64 * 1024
"""How much of a body the sink no longer wants is read to keep its connection."""
_DECODE_PIECE = 256 * 1024
"""Decoded bytes handed to the sink at a time: a small compressed body cannot become a large
allocation before the sink's size cap sees it."""

Sink = Callable[[bytes], bool | None]
"""Takes a piece of the body; True when it needs no more."""


class Exchange(Protocol):
    """One request's view of its response (see the module docstring)."""

    def sent(self) -> None:
        """The request's bytes were handed to the connection."""

    def head(self, status: int, headers: Mapping[str, str]) -> Sink:
        """The response's status and headers (names in lower case); returns the body's sink."""
        ...


class TransportError(Exception):
    """A request that got no complete HTTP response."""


class ConnectFailed(TransportError):
    def __init__(self, error: OSError) -> None:
        super().__init__(str(error) or type(error).__name__)
        self.error = error


class ConnectTimeout(TransportError):
    pass


class ReadTimeout(TransportError):
    def __init__(self, got_head: bool) -> None:
        super().__init__("read timed out")
        self.got_head = got_head


class ConnectionLost(TransportError):
    pass


class BadResponse(TransportError):
    pass


class DeadlineExceeded(TransportError, TimeoutError):
    def __init__(self) -> None:
        super().__init__("deadline passed")


@dataclass(frozen=True, slots=True)
class _Target:
    """Where a URL's requests go: its origin (the pool's key) and the request line's path."""

    origin: tuple[str, str, int]
    host: str
    port: int
    tls: bool
    host_header: str
    path: str


@functools.lru_cache(maxsize=1024)
def _target(url: str) -> _Target:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {parts.scheme}://{parts.hostname or ''}")
    tls = scheme == "https"
    port = parts.port or (443 if tls else 80)
    host = parts.hostname
    shown = f"[{host}]" if ":" in host else host
    default = (tls and port == 443) or (not tls and port == 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return _Target(
        (scheme, host, port), host, port, tls, shown if default else f"{shown}:{port}", path
    )


_DEFAULT_HEADERS = {"accept": "*/*", "accept-encoding": "gzip, deflate", "user-agent": "llmbench"}


def request_bytes(
    target: _Target, headers: Mapping[str, str], body: bytes, method: str = "POST"
) -> bytes:
    """A request's bytes. ValueError (naming the header, never its value, which may be a
    secret) for a header that would break the request's framing."""
    given = {name.lower() for name in headers}
    lines = [f"{method} {target.path} HTTP/1.1", f"Host: {target.host_header}"]
    for name, value in headers.items():
        low = name.lower()
        if low in ("host", "content-length", "transfer-encoding", "connection"):
            continue
        if not name or any(c in name for c in "\r\n:") or "\r" in value or "\n" in value:
            raise ValueError(f"header {name!r} has a line break or a colon in its name")
        lines.append(f"{name}: {value}")
    lines += [f"{k}: {v}" for k, v in _DEFAULT_HEADERS.items() if k not in given]
    if body or method != "GET":
        lines.append(f"Content-Length: {len(body)}")
    try:
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    except UnicodeEncodeError:
        bad = next(n for n, v in headers.items() if not (n + v).isascii())
        raise ValueError(f"header {bad!r} is not plain ASCII") from None
    return head + body


class _Connection(asyncio.Protocol):
    """One keep-alive connection: at most one exchange at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.lost: asyncio.Future[None] = loop.create_future()
        self.idle_since = 0.0
        self.on_reusable: Callable[[_Connection], None] | None = None
        """Called when a drained response ends cleanly after its caller let go of it: the pool
        takes the connection back."""
        self.on_closed: Callable[[_Connection], None] | None = None
        self._reset(None)

    def _reset(self, exchange: Exchange | None) -> None:
        self.exchange = exchange
        self.done: asyncio.Future[None] | None = None
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.sink: Sink | None = None
        self.decoder: zlib._Decompress | None = None
        self.complete = False
        self.keep_alive = False
        self.draining = 0  # > 0: the sink wants no more; bytes still allowed before closing
        self.error: BaseException | None = None
        self.released = False
        """The caller is done with the exchange (the connection may still be draining)."""
        self.timer: asyncio.TimerHandle | None = None
        self.read_timeout = 0.0
        self.last_read = 0.0
        self.deadline: float | None = None
        """The loop time by which the caller needs the response (None: no deadline)."""

    # -- the exchange ------------------------------------------------------------------------

    async def exchange_with(
        self, data: bytes, exchange: Exchange, read_timeout_s: float, deadline: float | None
    ) -> None:
        assert self.transport is not None
        self._reset(exchange)
        self.done = self.loop.create_future()
        self.read_timeout = read_timeout_s
        self.deadline = deadline
        self.last_read = self.loop.time()
        self.timer = self.loop.call_at(self._due(), self._check_timeout)
        self.transport.write(data)
        exchange.sent()
        try:
            await self.done
        except BaseException:
            self.abort()  # failed or cancelled mid-response: never used again
            raise

    def _finish(self, error: BaseException | None = None) -> None:
        """End the exchange for its caller (the connection may still drain)."""
        if self.done is not None and not self.done.done():
            if error is None:
                self.done.set_result(None)
            else:
                self.done.set_exception(error)

    def _due(self) -> float:
        """When the exchange times out if nothing more is read (the caller's deadline counts
        only until it lets go of the exchange)."""
        due = self.last_read + self.read_timeout
        if self.deadline is not None and not self.released:
            return min(due, self.deadline)
        return due

    def _check_timeout(self) -> None:
        self.timer = None
        if self.complete or self.closed:
            return
        now = self.loop.time()
        if self.deadline is not None and not self.released and now >= self.deadline - 0.001:
            self._fail(DeadlineExceeded())
            return
        due = self._due()
        if now < due - 0.001:
            self.timer = self.loop.call_at(due, self._check_timeout)
            return
        self._fail(ReadTimeout(self.status is not None))

    def _fail(self, error: BaseException) -> None:
        self.error = self.error or error
        self.abort()
        self._finish(self.error)

    def abort(self) -> None:
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.transport is not None:
            self.transport.abort()

    @property
    def reusable(self) -> bool:
        return self.complete and self.keep_alive and not self.closed

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        if self.exchange is None or self.complete:
            self.abort()  # bytes nobody asked for: the connection is not in a known state
            return
        self.last_read = self.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError:
            self._fail(self.error or BadResponse("the response could not be read"))
        except httptools.HttpParserError as exc:
            self._fail(BadResponse(_first_line(exc) or "not an HTTP/1.x response"))

    def eof_received(self) -> bool | None:
        return None  # close the transport: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.lost.done():
            self.lost.set_result(None)
        if self.on_closed is not None:
            self.on_closed(self)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.exchange is None or self.complete or self.error is not None:
            return
        if self.status is not None and self._ends_at_close():
            self.complete = True  # a body without a length ends where the connection does
            self._finish()
            return
        reason = _first_line(exc) if exc else "closed by the server"
        self._fail(ConnectionLost(reason))

    def _ends_at_close(self) -> bool:
        framed = "content-length" in self.headers or "chunked" in self.headers.get(
            "transfer-encoding", ""
        )
        return not framed

    # -- httptools callbacks -----------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        assert self.exchange is not None
        self.status = self.parser.get_status_code()
        try:
            coding = self.headers.get("content-encoding", "identity").strip().lower()
            if coding in ("gzip", "x-gzip", "deflate"):
                self.decoder = zlib.decompressobj(wbits=47)  # zlib or gzip framing
            elif coding not in ("identity", ""):
                raise BadResponse(f"unsupported Content-Encoding {coding[:40]!r}")
            self.sink = self.exchange.head(self.status, self.headers)
        except BaseException as exc:
            self.error = exc
            raise

    def on_body(self, body: bytes) -> None:
        if self.draining:
            self.draining -= min(len(body), self.draining)
            if not self.draining:
                self.abort()  # too much left to drain: cheaper to open a new connection
            return
        try:
            if self.decoder is None:
                self._give(body)
                return
            piece = self.decoder.decompress(body, _DECODE_PIECE)
            while piece and not self.draining:
                self._give(piece)
                tail = self.decoder.unconsumed_tail
                piece = self.decoder.decompress(tail, _DECODE_PIECE) if tail else b""
        except BaseException as exc:
            self.error = exc
            raise

    def _give(self, piece: bytes) -> None:
        assert self.sink is not None
        if self.sink(piece):
            self.draining = DRAIN_BYTES
            self._finish()

    def on_message_complete(self) -> None:
        self.complete = True
        self.keep_alive = self.parser.should_keep_alive()  # only known here: reset after
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self._finish()
        if self.released and self.on_reusable is not None and self.reusable:
            self.on_reusable(self)  # drained after its caller let go


class HttpClient:
    """A run's connections, pooled per origin. Use as ``async with HttpClient() as client``.

    ``limit``: at most this many requests at once over all origins (the rest wait for a turn);
    None for no limit. The run's scheduler bounds its requests itself; this is a backstop.
    """

    def __init__(self, limit: int | None = None) -> None:
        self._slots = asyncio.Semaphore(limit) if limit else None
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._all: set[_Connection] = set()
        self._tls: ssl.SSLContext | None = None
        self._closed = False

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def send(
        self,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        exchange: Exchange,
        *,
        connect_timeout_s: float,
        read_timeout_s: float,
        method: str = "POST",
        deadline: float | None = None,
    ) -> None:
        """Send ``body`` to ``url`` (a POST, or ``method``) and feed the response to
        ``exchange`` (module docstring). ``deadline``: the event loop's time
        (``loop.time()``) by which the response must have ended, waits for a turn and the
        connection included; past it, :class:`DeadlineExceeded`.

        ValueError for a URL or header that cannot be sent; a :class:`TransportError` for a
        response that did not come; whatever ``exchange`` raises.
        """
        if self._closed:
            raise RuntimeError("HttpClient is closed")
        target = _target(url)
        data = request_bytes(target, headers, body, method)
        if self._slots is not None:
            await self._turn(deadline)
        try:
            connect_s = connect_timeout_s
            if deadline is not None:
                connect_s = min(connect_s, deadline - asyncio.get_running_loop().time())
                if connect_s <= 0:
                    raise DeadlineExceeded()
            try:
                conn = await self._connection(target, connect_s)
            except ConnectTimeout:
                if connect_s < connect_timeout_s:  # the deadline came first
                    raise DeadlineExceeded() from None
                raise
            try:
                await conn.exchange_with(data, exchange, read_timeout_s, deadline)
            finally:
                self._release(target, conn)
        finally:
            if self._slots is not None:
                self._slots.release()

    async def _turn(self, deadline: float | None) -> None:
        """Wait for one of the ``limit`` slots, until ``deadline`` at most."""
        assert self._slots is not None
        if deadline is None or not self._slots.locked():
            await self._slots.acquire()  # no wait (the usual case): no timer
            return
        try:
            async with asyncio.timeout_at(deadline):
                await self._slots.acquire()
        except TimeoutError:
            raise DeadlineExceeded() from None

    async def get(
        self,
        url: str,
        headers: Mapping[str, str],
        *,
        max_bytes: int,
        connect_timeout_s: float,
        read_timeout_s: float,
    ) -> tuple[int, bytes]:
        """GET ``url``: its status and up to ``max_bytes`` of its body (the rest is dropped).
        Raises as :meth:`send` does."""
        whole = _Whole(max_bytes)
        await self.send(
            url,
            headers,
            b"",
            whole,
            connect_timeout_s=connect_timeout_s,
            read_timeout_s=read_timeout_s,
            method="GET",
        )
        return whole.status, bytes(whole.body)

    async def _connection(self, target: _Target, connect_timeout_s: float) -> _Connection:
        idle = self._idle.get(target.origin)
        now = asyncio.get_running_loop().time()
        while idle:
            conn = idle.pop()
            if not conn.closed and now - conn.idle_since < KEEPALIVE_S:
                return conn
            self._forget(conn)
        return await self._connect(target, connect_timeout_s)

    async def _connect(self, target: _Target, connect_timeout_s: float) -> _Connection:
        loop = asyncio.get_running_loop()
        tls = None
        if target.tls:
            if self._tls is None:
                self._tls = ssl.create_default_context()
            tls = self._tls
        try:
            async with asyncio.timeout(connect_timeout_s):
                _, conn = await loop.create_connection(
                    lambda: _Connection(loop),
                    target.host,
                    target.port,
                    ssl=tls,
                    server_hostname=target.host if tls else None,
                )
        except TimeoutError:
            raise ConnectTimeout(f"no connection within {connect_timeout_s:g}s") from None
        except OSError as exc:
            raise ConnectFailed(exc) from None
        conn.on_reusable = functools.partial(self._idle_again, target)
        conn.on_closed = self._all.discard
        self._all.add(conn)
        return conn

    def _release(self, target: _Target, conn: _Connection) -> None:
        conn.released = True
        if conn.reusable and not self._closed:
            self._idle_again(target, conn)
        elif conn.complete or conn.closed or not conn.draining:
            self._forget(conn)
        # else: still draining: on_message_complete hands it back, or it is closed

    def _idle_again(self, target: _Target, conn: _Connection) -> None:
        if self._closed:
            self._forget(conn)
            return
        conn.exchange = None
        conn.idle_since = asyncio.get_running_loop().time()
        self._idle.setdefault(target.origin, []).append(conn)

    def _forget(self, conn: _Connection) -> None:
        conn.abort()
        self._all.discard(conn)

    async def close(self) -> None:
        """Close every connection and wait (briefly) until their sockets are closed."""
        self._closed = True
        conns = list(self._all)
        self._all.clear()
        self._idle.clear()
        for conn in conns:
            conn.abort()
        waits = [conn.lost for conn in conns if not conn.lost.done()]
        if waits:
            await asyncio.wait(waits, timeout=1.0)


class _Whole:
    """An Exchange that keeps a whole body, up to ``max_bytes``."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.status = 0
        self.body = bytearray()

    def sent(self) -> None:
        pass

    def head(self, status: int, headers: Mapping[str, str]) -> Sink:
        self.status = status
        return self.take

    def take(self, piece: bytes) -> bool:
        self.body += piece[: self.max_bytes - len(self.body)]
        return len(self.body) >= self.max_bytes


def _first_line(error: BaseException | None) -> str:
    return str(error or "").strip().split("\n", 1)[0][:200]
