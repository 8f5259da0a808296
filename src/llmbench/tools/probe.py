"""Which tool protocol an agent gets under ``tool_protocol = "auto"``: one probe at preflight.

The probe is one small chat request through the agent's :class:`~llmbench.engine.calls.Caller`
(its retries, rate limit and circuit breaker) that offers :data:`PYTHON_TOOL` and asks the
model to use it. The rule:

- the server answers with a tool call (any name, text beside it or not): ``"function"``;
- everything else that is an answer gives ``"text"``: the server refuses ``tools`` (HTTP 400,
  422, 500 or 501, and the same request without ``tools`` succeeds), the model puts the call as
  JSON in its content, writes a fenced code block instead, or answers without calling the tool.

A plain answer gets ``"text"`` too, although the issue names only refusals and calls written as
JSON: the two mistakes do not cost the same. An agent given ``"function"`` whose server ignores
``tools`` (older llama.cpp servers drop the field silently) or whose model does not call them
(small local models) never runs a line of code in the whole run; an agent given ``"text"``
is told in its system prompt how to run code in a fenced block, which works on every server.
So only a tool call proves ``"function"``. A model that can call tools but chose not to when
told to do so here is not likely to call them in the run either. The probe's answer is cut at
``max_tokens`` 128; when that cut it off before any call (a reasoning model still thinking), it
is asked once more with 1,024.

A probe that gets no answer (connection refused, a timeout, 429 or 503 after the retries, a
breaker that is open, a malformed response) decides nothing: :func:`probe_tool_protocol` raises
the :class:`~llmbench.errors.RequestFailure`, and preflight reports the endpoint's error. So
does a refusal that the request without ``tools`` gets too (a wrong model name, a bad
parameter): it is the endpoint's, not the protocol's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from llmbench.engine.calls import Caller, CallLog
from llmbench.errors import RequestFailure, one_line
from llmbench.providers.http1 import HttpClient
from llmbench.providers.openai_compatible import Completion
from llmbench.tools.protocol import PYTHON_TOOL, TOOL_NAME

PROBE_PROMPT = "Use the python tool to compute 12345 * 6789. Call the tool; do not answer in text."
PROBE_MAX_TOKENS = 128
PROBE_RETRY_MAX_TOKENS = 1024
"""``max_tokens`` of the second probe, when the first one was cut off before any call."""
REFUSAL_STATUS = frozenset({400, 422, 500, 501})
"""HTTP statuses that a server without function calling answers a request with ``tools``."""
_JSON_STARTS = 50
"""At most this many ``{`` of an answer are tried as the start of a JSON object."""
_FENCED_CODE = re.compile(r"```[ \t]*(?:python|py)\b", re.IGNORECASE)

Protocol = Literal["function", "text"]


@dataclass(frozen=True)
class ProbeResult:
    """The protocol chosen for an agent, and why."""

    protocol: Protocol
    reason: str
    """One line for the log and the manifest, e.g. "the server answered with a tool call"."""


async def probe_tool_protocol(
    session: HttpClient,
    caller: Caller,
    *,
    parameters: dict[str, Any] | None = None,
) -> ProbeResult:
    """Probe ``caller``'s endpoint and model: see the module docstring for the rule.

    ``parameters`` (the agent's request parameters) are sent too; they may change
    ``max_tokens`` and ``temperature`` (128 and 0 by default), never ``tools``. Raises
    :class:`~llmbench.errors.RequestFailure` when the endpoint gives no answer to decide on.
    """
    chat = caller.chat_fn(session, calls=CallLog(), label="tool protocol probe")
    messages = [{"role": "user", "content": PROBE_PROMPT}]
    sent = {"max_tokens": PROBE_MAX_TOKENS, "temperature": 0, **(parameters or {})}
    try:
        completion = await chat(messages, {**sent, "tools": [PYTHON_TOOL]})
        if _cut_before_a_call(completion) and "max_tokens" not in (parameters or {}):
            sent["max_tokens"] = PROBE_RETRY_MAX_TOKENS
            completion = await chat(messages, {**sent, "tools": [PYTHON_TOOL]})
    except RequestFailure as failure:
        if failure.kind != "http" or failure.status not in REFUSAL_STATUS:
            raise
        await chat(messages, sent)  # the same without tools: raises if the endpoint fails
        return ProbeResult("text", f"the server refused 'tools' ({_shortened(failure.message)})")
    return decide(completion)


def decide(completion: Completion) -> ProbeResult:
    """The protocol that the probe's answer shows (see the module docstring)."""
    if completion.tool_calls:
        return ProbeResult("function", "the server answered with a tool call")
    if call_in_content(completion.text):
        return ProbeResult("text", "the model put the call as JSON in its content")
    if _FENCED_CODE.search(completion.text):
        return ProbeResult("text", "the model wrote the code in its content, not as a tool call")
    if _cut_before_a_call(completion):
        return ProbeResult(
            "text", "the model's answer was cut off by max_tokens before it called the tool"
        )
    return ProbeResult("text", "the model answered without calling the tool")


def call_in_content(text: str) -> bool:
    """True when ``text`` holds a JSON object that looks like a call of the tool: naming it,
    or with a ``code`` or ``arguments`` key (the first object found; code fences allowed)."""
    found = first_json_object(text)
    return found is not None and _looks_like_call(found)


def first_json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in ``text`` (in a code fence, after words, or bare), if any."""
    decoder = json.JSONDecoder()
    start = text.find("{")
    tries = 0
    while start >= 0 and tries < _JSON_STARTS:
        tries += 1
        try:
            value, _ = decoder.raw_decode(text, start)
        except ValueError:
            start = text.find("{", start + 1)
            continue
        if isinstance(value, dict):
            return value
        start = text.find("{", start + 1)
    return None


def _looks_like_call(value: dict[str, Any], depth: int = 0) -> bool:
    if value.get("name") == TOOL_NAME or value.get("tool") == TOOL_NAME:
        return True
    if "code" in value or "arguments" in value:
        return True
    if depth >= 2:
        return False
    # {"function": {...}}, {"tool_call": {...}}, {"tool_calls": [{...}]}
    for key in ("function", "tool_call", "tool_calls"):
        inner = value.get(key)
        inner = inner[0] if isinstance(inner, list) and inner else inner
        if isinstance(inner, dict) and _looks_like_call(inner, depth + 1):
            return True
    return False


def _cut_before_a_call(completion: Completion) -> bool:
    return not completion.tool_calls and (
        completion.finish_reason == "length" or completion.reasoning_truncated
    )


def _shortened(message: str, limit: int = 200) -> str:
    line = one_line(message)
    return line if len(line) <= limit else line[: limit - 3] + "..."
