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
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

from llmbench import jsonio, redact
from llmbench.config.api import DEFAULT_MAX_RESPONSE_BYTES
from llmbench.errors import RequestFailure
from llmbench.providers import http1
from llmbench.providers.thinking import (
    DEFAULT_REASONING_TAGS,
    InlineThinking,
    ReasoningTags,
    reasoning_field,
    split_leading,
    split_unopened,
    usage_reasoning_tokens,
)
from llmbench.providers.tool_calls import StreamedToolCalls, ToolCall, message_tool_calls
from llmbench.suite.models import ApiType, TestCase

QUOTE_BYTES = 200
"""How much of a bad response an error message quotes."""
_SCRUB_WINDOW = QUOTE_BYTES + 1024
"""How much of a response is scrubbed of secrets before it is cut to ``QUOTE_BYTES``, so that a
secret across the cut is masked whole rather than shown in part."""
MAX_RESPONSE_BYTES = DEFAULT_MAX_RESPONSE_BYTES
"""The default ``max_response_bytes``: a larger answer is cut off and reported as an error."""
ERROR_BODY_BYTES = 1024 * 1024
"""How much of an HTTP error's body is read (the rest is ignored, the status still counts)."""
_SSE_STARTS = (b"data:", b":", b"event:", b"id:", b"retry:")
_OWNED_PARAMETERS = ("stream", "stream_options", "model", "messages", "prompt")


@dataclass(frozen=True)
class Completion:
    """A successful answer and how it arrived."""

    text: str
    """The answer, without the thinking."""
    prompt_tokens: int | None
    completion_tokens: int | None
    """Every generated token, thinking included."""
    tokens_estimated: bool
    """Some token count (prompt, completion or reasoning) was estimated, not the server's."""
    time_to_first_token: float | None
    """Seconds from sending the request to the first token of any kind, thinking or answer
    (streaming only): from the moment its bytes were written to the connection, so that waiting
    for a connection, setting one up and a busy event loop before the send do not count."""
    generation_time: float | None
    """Seconds from the first to the last token of any kind (streaming only)."""
    total_time: float
    """Seconds from the call to the end of the answer: connection set-up and waiting for a
    free connection included."""
    finish_reason: str | None
    http_status: int
    response: dict[str, Any] = field(default_factory=dict)
    """The response in non-streaming shape."""
    cached: bool = False
    """Taken from the response cache, not from the server (no timings)."""
    reasoning_text: str = ""
    """The thinking before the answer (see :mod:`llmbench.providers.thinking`); "" for none."""
    reasoning_tokens: int | None = None
    """Thinking tokens: the server's ``completion_tokens_details.reasoning_tokens``, else
    counted (and ``tokens_estimated``); None when there was no thinking and no such count."""
    time_to_first_answer_token: float | None = None
    """Seconds from sending the request to the first token of the answer (streaming only)."""
    reasoning_truncated: bool = False
    """The answer is empty because generation stopped while the model was still thinking."""
    tool_calls: tuple[ToolCall, ...] = ()
    """The tools the model called, in order (chat only). An answer may have tool calls and
    text, or tool calls and ``text`` "" (the server's content null): that is an answer, not an
    empty one."""

    @property
    def tokens_per_second(self) -> float | None:
        """Generation speed; see ``TestResult.tokens_per_second``. None when not streamed:
        a whole answer has no first token to time from, and tokens over the whole request
        (prompt processing and the network included) is a different figure."""
        n = self.completion_tokens
        if not n or self.generation_time is None:
            return None
        return (n - 1) / self.generation_time if n > 1 and self.generation_time > 0 else None


def resolve_api_type(test: TestCase, default: ApiType) -> ApiType:
    """The test's own ``api_type``, else ``chat`` for a test that has only messages, else
    ``default`` (a test with both a prompt and messages suits either API)."""
    if test.api_type:
        return test.api_type
    if test.messages is not None and test.prompt is None:
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
    """The first bytes of a response, printable, for an error message, secrets masked."""
    if isinstance(data, bytes | bytearray):
        more = len(data) > _SCRUB_WINDOW * 4
        window = bytes(data[: _SCRUB_WINDOW * 4]).decode("utf-8", "replace")
    else:
        more, window = False, data
    more = more or len(window) > _SCRUB_WINDOW
    # scrub before cutting: a secret across the cut would otherwise show in part
    text = redact.scrub(window[:_SCRUB_WINDOW])
    shown = text[:QUOTE_BYTES]
    suffix = "..." if more or len(text) > QUOTE_BYTES else ""
    return redact.scrub(repr(shown + suffix)) if shown else "nothing"


def too_large(max_bytes: int) -> RequestFailure:
    """The failure of a response that passed ``max_response_bytes`` (not worth retrying)."""
    return RequestFailure(
        "protocol", f"response larger than {max_bytes} bytes (max_response_bytes); stopped reading"
    )


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
    return " ".join(str(m.get("content") or "") for m in body.get("messages", []))


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


_META_KEYS = ("id", "model", "created", "system_fingerprint")
"""What a completion keeps of its response's own fields (from the first event that has each)."""


class _StreamState:
    """Accumulates an SSE stream into a Completion."""

    def __init__(
        self,
        api_type: ApiType,
        started_at: float,
        max_bytes: int,
        reasoning_tags: ReasoningTags | None = DEFAULT_REASONING_TAGS,
    ) -> None:
        self.api_type = api_type
        self.started_at = started_at
        """When the request was made (the clock of ``total_time``)."""
        self.sent_at = started_at
        """When its bytes were written to the connection (the clock of the time to first
        token); set by :meth:`_Answer.sent`, else the same as ``started_at``."""
        self.max_bytes = max_bytes
        self.reasoning_tags = reasoning_tags
        self.pieces: list[str] = []
        """The answer's pieces."""
        self.thoughts: list[str] = []
        """The pieces of thinking sent in a reasoning field."""
        self.inline = InlineThinking(reasoning_tags) if reasoning_tags else None
        """Splits thinking inline in the content until the answer begins; then None."""
        self.inline_done: InlineThinking | None = None
        self.content_events = 0
        self.reasoning_events = 0
        self.tool_events = 0
        """Deltas with a piece of a tool call: tokens, like content events."""
        self.tools: StreamedToolCalls | None = None
        """The tool calls being put together; None until the first piece."""
        self.choice_events = 0
        self.first_at: float | None = None
        """When the first token of any kind (thinking or answer) arrived."""
        self.first_answer_at: float | None = None
        self.last_at: float | None = None
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None
        self.done = False
        self.is_stream = False
        """True once the body is known to be an event stream."""
        self.meta: dict[str, Any] = {}
        self.head = bytearray()
        self.received = 0
        self._partial = bytearray()

    def count(self, chunk: bytes) -> None:
        """Count raw bytes against ``max_bytes`` and keep the first ones for error messages."""
        self.received += len(chunk)
        if len(self.head) < _SCRUB_WINDOW:
            self.head += chunk[: _SCRUB_WINDOW - len(self.head)]
        if self.received > self.max_bytes:
            raise too_large(self.max_bytes)

    def feed(self, chunk: bytes) -> None:
        """Take raw bytes of the stream, in pieces of any size: count them, then parse."""
        self.count(chunk)
        self.split(chunk)

    def split(self, chunk: bytes) -> None:
        """Parse each line that ``chunk`` completes (bytes already counted).

        Lines are split here, in pieces of any length (an answer may come as one large event);
        ``max_bytes`` bounds the total.
        """
        self.is_stream = True
        if self.done:
            return
        if b"\n" not in chunk:  # a line still coming: nothing to parse yet
            self._partial += chunk
            return
        if self._partial:
            self._partial += chunk
            data = bytes(self._partial)
            self._partial.clear()
        else:
            data = chunk  # the usual case: the chunk ends where a line does
        *lines, tail = data.split(b"\n")
        if tail:
            self._partial += tail
        for line in lines:
            if line and line != b"\r":  # not one of the blank lines between events
                self.feed_line(line)
                if self.done:
                    return

    def end_of_body(self) -> None:
        """The body ended: parse a last line that had no newline."""
        if self._partial and not self.done:
            line, self._partial = bytes(self._partial), bytearray()
            self.feed_line(line)

    def feed_line(self, line: bytes) -> None:
        text = line.strip()
        if not text.startswith(b"data:"):
            return  # comments, event names, ids, blank separators
        payload = text[5:].strip()
        if payload == b"[DONE]":
            self.done = True
            return
        try:
            event = jsonio.loads(payload)
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
        if len(self.meta) < len(_META_KEYS):
            for key in _META_KEYS:
                if key in event and key not in self.meta:
                    self.meta[key] = event[key]
        if isinstance(event.get("usage"), dict):
            self.usage = event["usage"]
        choices = event.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return
        self.choice_events += 1
        choice = choices[0]
        if self.api_type == "chat":
            delta = choice.get("delta")
            if isinstance(delta, dict):
                piece = delta.get("content")
                thought = delta.get("reasoning_content") or delta.get("reasoning")
                if thought and isinstance(thought, str):
                    self._thought(thought)
                calls = delta.get("tool_calls")
                if calls:
                    self._tool_call(calls)
            else:
                piece = None
        else:
            piece = choice.get("text")
        if isinstance(piece, str) and piece:
            now = time.perf_counter()
            if self.first_at is None:
                self.first_at = now
            self.last_at = now
            self.content_events += 1
            if self.inline is not None:
                piece = self._inline(piece)
            if piece:
                self.pieces.append(piece)
                if self.first_answer_at is None:
                    self.first_answer_at = now
        reason = choice.get("finish_reason")
        if isinstance(reason, str) and reason:
            self.finish_reason = reason

    def _thought(self, thought: str) -> None:
        now = time.perf_counter()
        if self.first_at is None:
            self.first_at = now
        self.last_at = now
        self.thoughts.append(thought)
        self.reasoning_events += 1

    def _tool_call(self, pieces: object) -> None:
        if self.tools is None:
            self.tools = StreamedToolCalls()
        if self.tools.add(pieces):
            now = time.perf_counter()
            if self.first_at is None:
                self.first_at = now
            if self.first_answer_at is None:  # a call is the model's answer, not its thinking
                self.first_answer_at = now
            self.last_at = now
            self.tool_events += 1

    def _inline(self, piece: str) -> str:
        """The answer part of a content piece while the content may still open with thinking."""
        assert self.inline is not None
        answer = self.inline.feed(piece)
        if self.inline.answering:
            self.inline_done, self.inline = self.inline, None  # the rest is answer: no more looks
        return answer

    def check_complete(self, status: int) -> None:
        """Raise RequestFailure when the stream ended without an answer."""
        if not self.done and self.finish_reason is None:
            raise RequestFailure(
                "connection",
                f"stream ended before [DONE] after {self.received} bytes; "
                f"first bytes: {quote(bytes(self.head))}",
                status=status,
            )
        if not self.choice_events:
            raise RequestFailure(
                "protocol",
                f"stream has no 'choices' in any event: {quote(bytes(self.head))}",
                status=status,
            )

    def result(self, status: int, body: dict[str, Any], ended_at: float) -> Completion:
        splitter = self.inline or self.inline_done
        if self.inline is not None:
            self.pieces.append(self.inline.leftover())
        text = "".join(self.pieces)
        reasoning = "".join(self.thoughts)
        thinking_events = self.reasoning_events
        truncated = False
        unopened = False
        if splitter is not None and splitter.events:  # the content opened with thinking
            text = text.lstrip()
            reasoning = _joined(reasoning, splitter.text())
            thinking_events += splitter.events
            truncated = splitter.thinking
        elif not reasoning and self.reasoning_tags is not None:
            reasoning, text = split_unopened(text, self.reasoning_tags)
            if reasoning:  # thinking opened by the chat template (DeepSeek-R1)
                unopened = True
                share = len(reasoning) / (len(reasoning) + len(text))
                thinking_events = round(self.content_events * share)
        # llama.cpp, vLLM and most servers send one token per content event
        prompt_tokens, completion_tokens, estimated = token_counts(
            self.usage, body, self.content_events + self.reasoning_events + self.tool_events
        )
        reasoning_tokens = usage_reasoning_tokens(self.usage)
        if reasoning_tokens is None and reasoning:
            reasoning_tokens, estimated = thinking_events, True
        tool_calls = self.tools.calls() if self.tools is not None else ()
        if tool_calls:
            truncated = False  # the model acted: its answer is not empty
        else:
            truncated = truncated or _cut_while_thinking(reasoning, text, self.finish_reason)
        ttft = self.first_at - self.sent_at if self.first_at is not None else None
        ttfat = self.first_answer_at - self.sent_at if self.first_answer_at is not None else None
        if unopened:
            ttfat = None  # the answer's start was found only at the end: not timed
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
            total_time=ended_at - self.started_at,
            finish_reason=self.finish_reason,
            http_status=status,
            response=_assembled(self, text, reasoning, tool_calls),
            reasoning_text=reasoning,
            reasoning_tokens=reasoning_tokens,
            time_to_first_answer_token=ttfat,
            reasoning_truncated=truncated,
            tool_calls=tool_calls,
        )


def _joined(first: str, second: str) -> str:
    return f"{first}\n\n{second}" if first and second else first or second


def _cut_while_thinking(reasoning: str, answer: str, finish_reason: str | None) -> bool:
    """Thinking sent in a reasoning field, no answer, and generation stopped by the token
    limit: the model ran out of tokens while thinking."""
    return bool(reasoning) and finish_reason == "length" and not answer.strip()


def _assembled(
    state: _StreamState, text: str, reasoning: str, tool_calls: tuple[ToolCall, ...]
) -> dict[str, Any]:
    """A streamed answer in the shape of a non-streaming response."""
    choice: dict[str, Any] = {"index": 0, "finish_reason": state.finish_reason}
    if state.api_type == "chat":
        choice["message"] = {"role": "assistant", "content": text}
        if reasoning:
            choice["message"]["reasoning_content"] = reasoning
        if tool_calls:
            choice["message"]["tool_calls"] = [call.to_openai() for call in tool_calls]
    else:
        choice["text"] = text
    kind = "chat.completion" if state.api_type == "chat" else "text_completion"
    out = {**state.meta, "object": kind, "choices": [choice]}
    if state.usage is not None:
        out["usage"] = state.usage
    out["streamed"] = True
    return out


def parse_json_response(
    raw: bytes,
    api_type: ApiType,
    body: dict[str, Any],
    status: int,
    sent_at: float,
    ended_at: float,
    content_type: str = "",
    reasoning_tags: ReasoningTags | None = DEFAULT_REASONING_TAGS,
) -> Completion:
    """A non-streaming response body as a Completion; RequestFailure when it is not one.

    The body is parsed whatever its ``content_type`` says; the type is named in the error when
    the body is not JSON and the type did not claim it was.
    """
    try:
        data = jsonio.loads(raw)
    except (ValueError, UnicodeDecodeError):
        if not content_type:
            labelled = " (no Content-Type)"
        elif "json" not in content_type.lower():
            labelled = f" (Content-Type {redact.scrub(content_type)!r})"
        else:
            labelled = ""
        what = "response body is empty" if not raw.strip() else "response is not valid JSON"
        raise RequestFailure("protocol", f"{what}{labelled}: {quote(raw)}") from None
    if not isinstance(data, dict):
        raise RequestFailure("protocol", f"response is not a JSON object: {quote(raw)}")
    if "error" in data and not data.get("choices"):
        raise RequestFailure("http", f"server reported an error: {server_error_message(raw)}")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise RequestFailure("protocol", f"response has no 'choices': {quote(raw)}")
    choice = choices[0]
    field_reasoning = None
    tool_calls: tuple[ToolCall, ...] = ()
    if api_type == "chat":
        message = choice.get("message") or {}
        if isinstance(message, dict):
            text = message.get("content")
            field_reasoning = reasoning_field(message)
            tool_calls = message_tool_calls(message)
        else:
            text = None
    else:
        text = choice.get("text")
    text = text if isinstance(text, str) else ""
    inline, text, truncated = split_leading(text, reasoning_tags)
    reasoning = _joined(field_reasoning or "", inline)
    finish_reason = choice.get("finish_reason")
    raw_usage = data.get("usage")
    usage = raw_usage if isinstance(raw_usage, dict) else None
    calls = "".join(call.name + call.arguments for call in tool_calls)
    generated = _estimate_tokens(text) + _estimate_tokens(reasoning) + _estimate_tokens(calls)
    prompt_tokens, completion_tokens, estimated = token_counts(usage, body, generated)
    reasoning_tokens = usage_reasoning_tokens(usage)
    if reasoning_tokens is None and reasoning:
        reasoning_tokens, estimated = _estimate_tokens(reasoning), True
    if tool_calls:
        truncated = False  # the model acted: its answer is not empty
    else:
        truncated = truncated or _cut_while_thinking(reasoning, text, finish_reason)
    return Completion(
        text=text,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        tokens_estimated=estimated,
        time_to_first_token=None,
        generation_time=None,
        total_time=ended_at - sent_at,
        finish_reason=finish_reason,
        http_status=status,
        response=data,
        reasoning_text=reasoning,
        reasoning_tokens=reasoning_tokens,
        reasoning_truncated=truncated,
        tool_calls=tool_calls,
    )


def _looks_like_sse(head: bytes) -> bool | None:
    """Whether a body that begins with ``head`` is an event stream; None until it is known."""
    text = head.lstrip()[:8]
    if not text:
        return None
    if any(text.startswith(p) for p in _SSE_STARTS):
        return True
    if any(p.startswith(text) for p in _SSE_STARTS):
        return None  # "da" could still become "data:"
    return False


class _Answer:
    """One request's response, as :class:`~llmbench.providers.http1.HttpClient` delivers it
    (an :class:`~llmbench.providers.http1.Exchange`): its head, then its body piece by piece,
    parsed as it arrives.

    ``text/event-stream`` is read as a stream and a JSON type as one body; any other (or no)
    Content-Type is read as what its first bytes show, since some servers and proxies label
    either wrongly. Every body counts against ``max_response_bytes``; an error response's body
    is kept up to ``ERROR_BODY_BYTES``.
    """

    def __init__(self, state: _StreamState) -> None:
        self.state = state
        self.status: int | None = None
        self.headers: Mapping[str, str] = {}
        self.sse: bool | None = None
        self.data = bytearray()
        """The body (JSON, an error, or the first bytes of one whose kind is not known yet)."""

    def sent(self) -> None:
        self.state.sent_at = time.perf_counter()

    def head(self, status: int, headers: Mapping[str, str]) -> http1.Sink:
        self.status, self.headers = status, headers
        if status != 200:
            return self._error_body
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.state.max_bytes:
            raise too_large(self.state.max_bytes)
        ctype = headers.get("content-type", "").lower()
        if "text/event-stream" in ctype:
            self.sse = True
            return self._stream
        if "json" in ctype:
            self.sse = False
            return self._whole
        return self._sniff

    def _error_body(self, chunk: bytes) -> bool:
        self.data += chunk[: ERROR_BODY_BYTES - len(self.data)]
        return len(self.data) >= ERROR_BODY_BYTES

    def _stream(self, chunk: bytes) -> bool:
        self.state.feed(chunk)
        return self.state.done

    def _whole(self, chunk: bytes) -> None:
        self.state.count(chunk)
        self.data += chunk

    def _sniff(self, chunk: bytes) -> bool:
        if self.sse is not None:
            if self.sse:
                return self._stream(chunk)
            self._whole(chunk)
            return False
        self.state.count(chunk)
        self.data += chunk
        self.sse = _looks_like_sse(bytes(self.data))
        if self.sse:
            head, self.data = bytes(self.data), bytearray()
            self.state.split(head)
            return self.state.done
        return False

    def completion(self, api_type: ApiType, body: dict[str, Any]) -> Completion:
        """The answer, once the response has ended (or the stream said ``[DONE]``)."""
        status = self.status or 0
        if status != 200:
            raise RequestFailure(
                "http",
                f"HTTP {status} from server: {server_error_message(bytes(self.data))}",
                status=status,
                retry_after_s=parse_retry_after(self.headers.get("retry-after")),
            )
        state = self.state
        if self.sse:
            state.end_of_body()
            state.check_complete(status)
            return state.result(status, body, time.perf_counter())
        return parse_json_response(
            bytes(self.data),
            api_type,
            body,
            status,
            state.started_at,
            time.perf_counter(),
            self.headers.get("content-type", ""),
            state.reasoning_tags,
        )


async def request_completion(
    client: http1.HttpClient,
    url: str,
    headers: dict[str, str],
    body: dict[str, Any],
    *,
    api_type: ApiType,
    read_timeout_s: float,
    connect_timeout_s: float,
    max_response_bytes: int = MAX_RESPONSE_BYTES,
    reasoning_tags: ReasoningTags | None = DEFAULT_REASONING_TAGS,
    deadline: float | None = None,
) -> Completion:
    """Send ``body`` once and return the answer; raise RequestFailure on any failure, and
    TimeoutError (:class:`~llmbench.providers.http1.DeadlineExceeded`) when ``deadline``
    (the event loop's time) passes first.

    An answer (streamed or not) of more than ``max_response_bytes`` bytes fails without being
    read further; an error response's body is read up to ``ERROR_BODY_BYTES``. Thinking at the
    start of the content between ``reasoning_tags`` is split from the answer (None: never).
    The time to first token counts from when the request's bytes were written.
    """
    state = _StreamState(api_type, time.perf_counter(), max_response_bytes, reasoning_tags)
    answer = _Answer(state)
    try:
        # the body as bytes (orjson); ``headers`` has the Content-Type
        # (APIConfiguration.request_headers)
        await client.send(
            url,
            headers,
            jsonio.dumps_bytes(body),
            answer,
            connect_timeout_s=connect_timeout_s,
            read_timeout_s=read_timeout_s,
            deadline=deadline,
        )
        return answer.completion(api_type, body)
    except RequestFailure as failure:
        if failure.status is None:
            failure.status = answer.status  # a bad 200 still says what the server answered
        raise
    except http1.ReadTimeout:
        if answer.status is None:
            msg = f"timed out: no response within {read_timeout_s:g}s"
        else:
            what = "stream" if state.is_stream else "response"
            msg = (
                f"timed out: {what} stalled for {read_timeout_s:g}s after {state.received} bytes; "
                f"first bytes: {quote(bytes(state.head))}"
            )
        raise RequestFailure("timeout", msg, status=answer.status) from None
    except http1.ConnectTimeout:
        raise RequestFailure(
            "timeout", f"timed out: no connection within {connect_timeout_s:g}s"
        ) from None
    except http1.ConnectFailed as exc:
        raise RequestFailure(
            "connection", f"cannot connect to {redact.strip_url(url)}: {_first_line(str(exc))}"
        ) from None
    except http1.ConnectionLost as exc:
        where = (
            f"after {state.received} bytes; first bytes: {quote(bytes(state.head))}"
            if answer.status is not None
            else "before any response"
        )
        reason = _first_line(str(exc)) or "closed"
        raise RequestFailure(
            "connection", f"connection lost {where} ({reason})", status=answer.status
        ) from None
    except http1.BadResponse as exc:
        raise RequestFailure(
            "protocol", f"bad HTTP response: {_first_line(str(exc))}", status=answer.status
        ) from None
    except ValueError as exc:  # a URL or header that cannot be sent (named, never its value)
        raise RequestFailure("protocol", f"cannot send the request: {exc}") from None


def _first_line(text: str) -> str:
    """The first line of an exception's text, secrets masked (before it is cut, so that none
    shows in part), at most 500 characters."""
    return redact.scrub(text.strip()).split("\n", 1)[0][:500]
