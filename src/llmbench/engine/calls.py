"""Requests to one endpoint, retried by the policy and spaced by an optional rpm bound.

A :class:`Caller` owns what every request to one endpoint shares: headers (with the API key read
from the environment), the :class:`RetryPolicy`, and a :class:`RateLimiter`. One call of
:meth:`Caller.send` is one logical request: it makes attempts until one succeeds, the failure is
not transient, or the retry bound (attempts or seconds since the call began) is reached, and then
raises the last :class:`RequestFailure` with the reason it stopped.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from llmbench.config.api import APIConfiguration
from llmbench.engine.breaker import CircuitBreaker, endpoint_key
from llmbench.engine.retry import RetryPolicy
from llmbench.errors import ConfigError, RequestFailure
from llmbench.providers.http1 import HttpClient
from llmbench.providers.openai_compatible import Completion, request_completion
from llmbench.providers.tool_calls import ToolCall
from llmbench.store.cache import ReplyCache, cache_key
from llmbench.suite.models import ApiType

log = logging.getLogger(__name__)

ChatFn = Callable[[list[dict[str, Any]], dict[str, Any]], Awaitable[Completion]]
"""``chat(messages, parameters)``: one chat request with retries, bound to a session, a caller
and the test it is for. Raises :class:`RequestFailure` when it gives up."""


class RateLimiter:
    """Spaces request starts ``60 / rpm`` seconds apart (no bursts), shared by all of an
    endpoint's requests, retries and conversation turns included."""

    def __init__(self, rpm: float) -> None:
        self.interval_s = 60.0 / rpm
        self._next_at = 0.0

    def wait_s(self) -> float:
        """Seconds until a request may start (0 when it may start now)."""
        return max(0.0, self._next_at - time.monotonic())

    def hold_off(self, seconds: float) -> None:
        """No turn before ``seconds`` from now (the actors sharing an agent's ``rpm`` start
        one after another, so that together they stay spaced)."""
        self._next_at = max(self._next_at, time.monotonic() + seconds)

    def take(self) -> None:
        """Take the current turn without waiting (the caller checked :meth:`wait_s` first)."""
        self._next_at = time.monotonic() + self.interval_s

    async def acquire(self) -> None:
        """Wait for this request's turn and take it."""
        while True:
            now = time.monotonic()
            if now >= self._next_at:
                self._next_at = now + self.interval_s
                return
            await asyncio.sleep(self._next_at - now)


@dataclass
class CallLog:
    """What the requests made for one test have in common: attempts and the last status."""

    attempts: int = 0
    status: int | None = None
    prepaid: bool = False
    """The scheduler already took the rate limiter's turn for the first request."""
    cache_salt: str = ""
    """Added to the response cache key: the repeat, so that repeats are separate samples."""


_CACHED_FIELDS = ("text", "prompt_tokens", "completion_tokens", "tokens_estimated", "finish_reason")
_CACHED_REASONING: dict[str, Any] = {
    "reasoning_text": "",
    "reasoning_tokens": None,
    "reasoning_truncated": False,
}
"""Cached too, with these values for an entry written before they were."""


def _to_cache(completion: Completion) -> dict[str, Any]:
    entry = {name: getattr(completion, name) for name in (*_CACHED_FIELDS, *_CACHED_REASONING)}
    if completion.tool_calls:
        entry["tool_calls"] = [dataclasses.asdict(call) for call in completion.tool_calls]
    return entry


def _cached_tool_calls(entries: Any) -> tuple[ToolCall, ...]:
    """The ``tool_calls`` of a cache entry (none in an entry written before there were any)."""
    if not isinstance(entries, list):
        raise TypeError("tool_calls")
    calls = []
    for entry in entries:
        call = ToolCall(**entry)  # TypeError on a missing or unknown key
        texts = (call.name, call.arguments)
        if not isinstance(call.id, str | None) or not all(isinstance(t, str) for t in texts):
            raise TypeError("tool_calls")
        calls.append(call)
    return tuple(calls)


def _from_cache(entry: dict[str, Any]) -> Completion:
    """A cached answer: no timings (it was not sent), marked ``cached``."""
    if not isinstance(entry["text"], str):
        raise TypeError("text")
    return Completion(
        **{name: entry[name] for name in _CACHED_FIELDS},
        **{name: entry.get(name, default) for name, default in _CACHED_REASONING.items()},
        tool_calls=_cached_tool_calls(entry.get("tool_calls", [])),
        time_to_first_token=None,
        generation_time=None,
        total_time=0.0,
        http_status=200,
        cached=True,
    )


class Caller:
    """Sends request bodies to one API with retries; see the module docstring."""

    def __init__(
        self,
        api: APIConfiguration,
        *,
        rpm: float | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.api = api
        if breaker is None:
            try:
                breaker = CircuitBreaker(endpoint_key(api))
            except ConfigError:  # the embedded endpoint before its server started
                breaker = CircuitBreaker("embedded")
        self.breaker = breaker
        """Shared with every caller of the same server (see :mod:`llmbench.engine.breaker`)."""
        self.policy = RetryPolicy(
            retries=api.retry_attempts,
            delay_s=api.retry_delay,
            backoff=api.retry_backoff,
            budget_s=api.retry_budget_s,
        )
        self.headers = api.request_headers()
        self.limiter = RateLimiter(rpm) if rpm else None
        self._urls: dict[ApiType, str] = {}
        self.cache: ReplyCache | None = None
        """The response cache, when the run uses one (see :meth:`send`)."""

    def url_for(self, api_type: ApiType) -> str:
        """The endpoint's URL for ``api_type`` (worked out once)."""
        url = self._urls.get(api_type)
        if url is None:
            url = self._urls[api_type] = self.api.url_for(api_type)
        return url

    async def send(
        self,
        session: HttpClient,
        body: dict[str, Any],
        *,
        api_type: ApiType,
        read_timeout_s: float | None,
        calls: CallLog,
        label: str,
    ) -> Completion:
        """Send ``body`` until it succeeds or the policy gives up (then raise RequestFailure).

        ``label`` names the request in log lines (a test id, ``instructor for <test>``).
        """
        url = self.url_for(api_type)
        key = None
        if self.cache is not None:
            key = cache_key("response " + calls.cache_salt, url, self.api.model, body)
            hit = self.cache.get(key)
            if isinstance(hit, dict):
                try:
                    return _from_cache(hit)
                except (KeyError, TypeError, ValueError):
                    log.warning("%s: unreadable response cache entry; sending", label)
        read_timeout = read_timeout_s or self.api.timeout
        started = time.perf_counter()
        attempts = 0
        while True:
            attempts += 1
            calls.attempts += 1
            try:
                completion = await self._attempt(
                    session, url, body, api_type, read_timeout, attempts, started, calls
                )
            except RequestFailure as failure:
                calls.status = failure.status
                delay, why = self.policy.next_delay(
                    failure, attempts, time.perf_counter() - started
                )
                if delay is None:
                    if failure.kind != "circuit_open" and (attempts > 1 or "budget" in why):
                        failure.message = f"{failure.message} ({why})"
                    raise
                log.warning(
                    "%s: attempt %d failed (%s); retrying in %.2fs",
                    label,
                    attempts,
                    failure.message,
                    delay,
                )
                await asyncio.sleep(delay)
            else:
                calls.status = completion.http_status
                if self.cache is not None and key is not None:
                    self.cache.put(key, _to_cache(completion))
                return completion

    async def _attempt(
        self,
        session: HttpClient,
        url: str,
        body: dict[str, Any],
        api_type: ApiType,
        read_timeout: float,
        attempt: int,
        started: float,
        calls: CallLog,
    ) -> Completion:
        """One request, within the rate limit, the test's time budget and the breaker."""
        probe = self.breaker.before_attempt()  # raises while the endpoint is known to be down
        try:
            if calls.prepaid:
                calls.prepaid = False
            elif self.limiter is not None:
                await self.limiter.acquire()
            # every attempt, the first too, ends within the test's budget: a server that keeps
            # a stream alive with comments but never finishes must not hold the test for ever
            # (a deadline the HTTP client keeps with its read timeout's timer: no second timer)
            remaining = self.policy.budget_s - (time.perf_counter() - started)
            try:
                completion = await request_completion(
                    session,
                    url,
                    self.headers,
                    body,
                    api_type=api_type,
                    read_timeout_s=read_timeout,
                    connect_timeout_s=min(self.api.connect_timeout, read_timeout),
                    max_response_bytes=self.api.max_response_bytes,
                    reasoning_tags=self.api.reasoning_tags,
                    deadline=asyncio.get_running_loop().time() + max(remaining, 0.001),
                )
            except TimeoutError:
                raise RequestFailure(
                    "timeout",
                    f"time budget of {self.policy.budget_s:g}s (retry_budget_s) used up "
                    f"during attempt {attempt}",
                ) from None
        except RequestFailure as failure:
            self.breaker.record(failure, probe=probe)
            raise
        except BaseException:
            if probe:  # cancelled mid-probe: let the next attempt probe instead
                self.breaker.release_probe()
            raise
        self.breaker.record(None, probe=probe)
        return completion

    def chat_fn(
        self,
        session: HttpClient,
        *,
        calls: CallLog,
        label: str,
        read_timeout_s: float | None = None,
    ) -> ChatFn:
        """A :data:`ChatFn` for this caller: ``{**parameters, model, messages, stream}``."""

        async def chat(messages: list[dict[str, Any]], parameters: dict[str, Any]) -> Completion:
            body: dict[str, Any] = {
                k: v for k, v in parameters.items() if k not in ("stream", "stream_options")
            }
            body["model"] = self.api.model
            body["messages"] = messages
            body["stream"] = self.api.stream
            if self.api.stream:
                body["stream_options"] = {"include_usage": True}
            return await self.send(
                session,
                body,
                api_type="chat",
                read_timeout_s=read_timeout_s,
                calls=calls,
                label=label,
            )

        return chat
