"""One attempt at a completion from an OpenAI-compatible server, streamed or not.

:func:`build_request` turns a test into a request body; :func:`request_completion` sends it once
and returns a :class:`Completion` or raises :class:`~llmbench.errors.RequestFailure` whose
``kind`` (``connection``, ``timeout``, ``http``, ``protocol``) lets the retry policy decide.
Retrying is not this module's business.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp

from llmbench import redact
from llmbench.errors import RequestFailure
from llmbench.suite.models import ApiType, TestCase

QUOTE_BYTES = 200
"""How much of a bad response an error message quotes."""
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
"""A response larger than this is cut off and reported as an error."""
_OWNED_PARAMETERS = ("stream", "stream_options", "model", "messages", "prompt")


@dataclass(frozen=True)
class Completion:
    """A successful answer and how it arrived."""

    text: str
    prompt_tokens: int | None
    completion_tokens: int | None
    tokens_estimated: bool
    time_to_first_token: float | None
    """Seconds from sending the request to the first content token (streaming only)."""
    generation_time: float | None
    """Seconds from the first to the last content token (streaming only)."""
    total_time: float
    finish_reason: str | None
    http_status: int
    response: dict[str, Any] = field(default_factory=dict)
    """The response in non-streaming shape."""

    @property
    def tokens_per_second(self) -> float | None:
        """Generation speed; see ``TestResult.tokens_per_second``."""
        n = self.completion_tokens
        if not n:
            return None
        if self.generation_time is not None:
            if n > 1 and self.generation_time > 0:
                return (n - 1) / self.generation_time
            return None
        return n / self.total_time if self.total_time > 0 else None


def resolve_api_type(test: TestCase, default: ApiType) -> ApiType:
    """The test's own ``api_type``, else ``chat`` for messages, else ``default``."""
    if test.api_type:
        return test.api_type
    if test.messages is not None:
        return "chat"
    return default


def test_parameters(test: TestCase) -> dict[str, Any]:
    """The test's ``parameters`` that are sent as they are (not those llmbench sets itself)."""
    return {
        k: v
        for k, v in test.parameters.model_dump(exclude_none=True).items()
        if k not in _OWNED_PARAMETERS
    }


def build_request(
    test: TestCase,
    *,
    model: str,
    api_type: ApiType,
    stream: bool,
    overrides: dict[str, Any] | None = None,
    system_prompt: str | None = None,
) -> dict[str, Any]:
    """The JSON body for ``test``: its parameters, then ``overrides``, then what llmbench owns.

    ``system_prompt`` (an agent's) goes first as a system message of a chat request whose
    messages have no system or developer message of their own; a completions request has no
    place for it and goes without.
    """
    body = test_parameters(test)
    body.update(overrides or {})
    body["model"] = model
    if api_type == "chat":
        if test.messages is not None:
            messages = [m.model_dump(exclude_none=True) for m in test.messages]
        else:
            messages = [{"role": "user", "content": test.prompt}]
        if system_prompt and not any(m["role"] in ("system", "developer") for m in messages):
            messages.insert(0, {"role": "system", "content": system_prompt})
        body["messages"] = messages
    else:
        body["prompt"] = test.prompt
    body["stream"] = stream
    if stream:
        body["stream_options"] = {"include_usage": True}
    return body


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds, from a number of seconds or an HTTP date; None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - time.time()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def quote(data: bytes | str) -> str:
    """The first bytes of a response, printable, for an error message."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    shown = text[:QUOTE_BYTES]
    suffix = "..." if len(text) > QUOTE_BYTES else ""
    return redact.scrub(repr(shown + suffix)) if shown else "nothing"


def server_error_message(body: bytes) -> str:
    """The server's own error message from an error body, else its first bytes."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return quote(body)
    if isinstance(data, dict):
        err = data.get("error", data.get("detail", data.get("message")))
        if isinstance(err, dict):
            err = err.get("message", err)
        if isinstance(err, str | int | float):
            return redact.scrub(str(err))[:500]
        if err is not None:
            return redact.scrub(json.dumps(err))[:500]
    return quote(body)


def _estimate_tokens(text: str) -> int:
    # about four characters per token for English text; marked as estimated wherever used
    return max(1, math.ceil(len(text) / 4)) if text else 0


def _prompt_text(body: dict[str, Any]) -> str:
    if "prompt" in body:
        return str(body["prompt"])
    return " ".join(str(m.get("content", "")) for m in body.get("messages", []))


def token_counts(
    usage: dict[str, Any] | None, body: dict[str, Any], completion_fallback: int
) -> tuple[int, int, bool]:
    """Prompt and completion tokens from ``usage``; where it lacks one, an estimate (prompt:
    four characters a token; completion: ``completion_fallback``) and True as the third item."""
    usage = usage or {}
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    estimated = False
    if not isinstance(completion, int):
        completion, estimated = completion_fallback, True
    if not isinstance(prompt, int):
        prompt, estimated = _estimate_tokens(_prompt_text(body)), True
    return prompt, completion, estimated


class _StreamState:
    """Accumulates an SSE stream into a Completion."""

    def __init__(self, api_type: ApiType, sent_at: float) -> None:
        self.api_type = api_type
        self.sent_at = sent_at
        self.pieces: list[str] = []
        self.content_events = 0
        self.first_at: float | None = None
        self.last_at: float | None = None
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None
        self.done = False
        self.meta: dict[str, Any] = {}
        self.head = bytearray()
        self.received = 0

    def feed_line(self, line: bytes) -> None:
        self.received += len(line)
        if len(self.head) < QUOTE_BYTES:
            self.head += line[: QUOTE_BYTES - len(self.head)]
        if self.received > MAX_RESPONSE_BYTES:
            raise RequestFailure(
                "protocol", f"response larger than {MAX_RESPONSE_BYTES} bytes; stopped reading"
            )
        text = line.strip()
        if not text.startswith(b"data:"):
            return  # comments, event names, ids, blank separators
        payload = text[5:].strip()
        if payload == b"[DONE]":
            self.done = True
            return
        try:
            event = json.loads(payload)
        except ValueError:
            raise RequestFailure(
                "protocol", f"malformed JSON in a stream event: {quote(payload)}"
            ) from None
        if not isinstance(event, dict):
            raise RequestFailure("protocol", f"stream event is not an object: {quote(payload)}")
        if "error" in event:
            raise RequestFailure(
                "http", f"server reported an error mid-stream: {server_error_message(payload)}"
            )
        self._take(event)

    def _take(self, event: dict[str, Any]) -> None:
        for key in ("id", "model", "created", "system_fingerprint"):
            if key in event and key not in self.meta:
                self.meta[key] = event[key]
        if isinstance(event.get("usage"), dict):
            self.usage = event["usage"]
        choices = event.get("choices") or []
        if not choices or not isinstance(choices[0], dict):
            return
        choice = choices[0]
        if self.api_type == "chat":
            delta = choice.get("delta") or {}
            piece = delta.get("content") if isinstance(delta, dict) else None
        else:
            piece = choice.get("text")
        if isinstance(piece, str) and piece:
            now = time.perf_counter()
            if self.first_at is None:
                self.first_at = now
            self.last_at = now
            self.pieces.append(piece)
            self.content_events += 1
        if choice.get("finish_reason"):
            self.finish_reason = choice["finish_reason"]

    def result(self, status: int, body: dict[str, Any], ended_at: float) -> Completion:
        text = "".join(self.pieces)
        # llama.cpp, vLLM and most servers send one token per content event
        prompt_tokens, completion_tokens, estimated = token_counts(
            self.usage, body, self.content_events
        )
        ttft = self.first_at - self.sent_at if self.first_at is not None else None
        gen = (
            self.last_at - self.first_at
            if self.first_at is not None and self.last_at is not None
            else None
        )
        return Completion(
            text=text,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            tokens_estimated=estimated,
            time_to_first_token=ttft,
            generation_time=gen,
            total_time=ended_at - self.sent_at,
            finish_reason=self.finish_reason,
            http_status=status,
            response=_assembled(self.api_type, self.meta, text, self.finish_reason, self.usage),
        )


def _assembled(
    api_type: ApiType,
    meta: dict[str, Any],
    text: str,
    finish_reason: str | None,
    usage: dict[str, Any] | None,
) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "finish_reason": finish_reason}
    if api_type == "chat":
        choice["message"] = {"role": "assistant", "content": text}
    else:
        choice["text"] = text
    out = {**meta, "object": "chat.completion" if api_type == "chat" else "text_completion"}
    out["choices"] = [choice]
    if usage is not None:
        out["usage"] = usage
    out["streamed"] = True
    return out


def parse_json_response(
    raw: bytes,
    api_type: ApiType,
    body: dict[str, Any],
    status: int,
    sent_at: float,
    ended_at: float,
) -> Completion:
    """A non-streaming response body as a Completion; RequestFailure when it is not one."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise RequestFailure("protocol", f"response is not valid JSON: {quote(raw)}") from None
    if not isinstance(data, dict):
        raise RequestFailure("protocol", f"response is not a JSON object: {quote(raw)}")
    if "error" in data and not data.get("choices"):
        raise RequestFailure("http", f"server reported an error: {server_error_message(raw)}")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise RequestFailure("protocol", f"response has no 'choices': {quote(raw)}")
    choice = choices[0]
    if api_type == "chat":
        message = choice.get("message") or {}
        text = message.get("content") if isinstance(message, dict) else None
    else:
        text = choice.get("text")
    text = text if isinstance(text, str) else ""
    raw_usage = data.get("usage")
    prompt_tokens, completion_tokens, estimated = token_counts(
        raw_usage if isinstance(raw_usage, dict) else None, body, _estimate_tokens(text)
    )
    return Completion(
        text=text,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        tokens_estimated=estimated,
        time_to_first_token=None,
        generation_time=None,
        total_time=ended_at - sent_at,
        finish_reason=choice.get("finish_reason"),
        http_status=status,
        response=data,
    )


async def _read_capped(resp: aiohttp.ClientResponse, cap: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(65536):
        size += len(chunk)
        if size > cap:
            raise RequestFailure("protocol", f"response larger than {cap} bytes; stopped reading")
        chunks.append(chunk)
    return b"".join(chunks)


async def request_completion(
    session: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    body: dict[str, Any],
    *,
    api_type: ApiType,
    read_timeout_s: float,
    connect_timeout_s: float,
) -> Completion:
    """Send ``body`` once and return the answer; raise RequestFailure on any failure."""
    stream = bool(body.get("stream"))
    timeout = aiohttp.ClientTimeout(
        total=None,
        connect=connect_timeout_s,
        sock_connect=connect_timeout_s,
        sock_read=read_timeout_s,
    )
    state = _StreamState(api_type, time.perf_counter())
    got_headers = False
    try:
        async with session.post(url, json=body, headers=headers, timeout=timeout) as resp:
            got_headers = True
            if resp.status != 200:
                raw = await _read_capped(resp, 1024 * 1024)
                raise RequestFailure(
                    "http",
                    f"HTTP {resp.status} from server: {server_error_message(raw)}",
                    status=resp.status,
                    retry_after_s=parse_retry_after(resp.headers.get("Retry-After")),
                )
            ctype = resp.headers.get("Content-Type", "")
            if not (stream and ctype.startswith("text/event-stream")):
                raw = await _read_capped(resp, MAX_RESPONSE_BYTES)
                return parse_json_response(
                    raw, api_type, body, resp.status, state.sent_at, time.perf_counter()
                )
            async for line in resp.content:
                state.feed_line(line)
                if state.done:
                    break
            if not state.done and state.finish_reason is None:
                raise RequestFailure(
                    "connection",
                    f"stream ended before [DONE] after {state.received} bytes; "
                    f"first bytes: {quote(bytes(state.head))}",
                    status=resp.status,
                )
            return state.result(resp.status, body, time.perf_counter())
    except RequestFailure:
        raise
    except (TimeoutError, aiohttp.ServerTimeoutError):
        if not got_headers:
            msg = f"timed out: no response within {read_timeout_s:g}s"
        else:
            msg = (
                f"timed out: stream stalled for {read_timeout_s:g}s after {state.received} bytes; "
                f"first bytes: {quote(bytes(state.head))}"
            )
        raise RequestFailure("timeout", msg, status=200 if got_headers else None) from None
    except aiohttp.ClientConnectorError as exc:
        raise RequestFailure(
            "connection", f"cannot connect to {redact.strip_url(url)}: {exc.os_error}"
        ) from None
    except (
        aiohttp.ClientPayloadError,
        aiohttp.ServerDisconnectedError,
        aiohttp.ClientOSError,
    ) as exc:
        where = (
            f"after {state.received} bytes; first bytes: {quote(bytes(state.head))}"
            if got_headers
            else "before any response"
        )
        reason = redact.scrub(str(exc) or type(exc).__name__)
        raise RequestFailure(
            "connection", f"connection lost {where} ({reason})", status=200 if got_headers else None
        ) from None
    except aiohttp.ClientResponseError as exc:
        raise RequestFailure(
            "protocol", f"bad HTTP response: {redact.scrub(exc.message)}", status=exc.status or None
        ) from None
    except aiohttp.ClientError as exc:
        raise RequestFailure(
            "connection", f"request failed: {redact.scrub(str(exc) or type(exc).__name__)}"
        ) from None
