"""Faults survived: every way a server misbehaves, through the multi-agent scheduler.

Each :class:`Fault` is one test of the suite, routed to its behaviours by a marker in its
prompt; once they are used up the server gives a good answer, so one attempt too many shows:
a transient fault is scripted as often as the attempts allowed (and ends in an error naming
the cause), a fault that must not be retried once (a retry would succeed). Every case checks
the result's status, error kind and message, the attempts the result counts and the server
saw, the time taken (each run is cut off by ``asyncio.timeout``: a hang fails), and that the
run directory's journal holds exactly one entry for it. ``test_engine_http.py`` checks many
of the same failures one layer down, on ``TestRunner``.

An empty message is a success with empty text (an answer, scored as wrong later, not an error
to run again), and a missing ``usage`` a success with estimated token counts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any, Literal

import pytest

from llmbench.config.api import APIConfiguration
from llmbench.engine.calls import Caller
from llmbench.engine.scheduler import Item, Lane, Scheduler
from llmbench.engine.test_run import Helpers, Outcome, Target
from llmbench.executors.local import LocalExecutor
from llmbench.providers.embedded import free_port
from llmbench.providers.http1 import HttpClient
from llmbench.result import TestResult
from llmbench.store.run_dir import EntryKey, JournalEntry, RunDirectory
from llmbench.suite.models import TestCase
from tests.conftest import make_test
from tests.scripted_server import (
    Answer,
    Behaviour,
    DropMidStream,
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

KEY_ENV = "LLMBENCH_FAULTS_API_KEY"
KEY = "sk-faults-7f3a9c0d2e5b8a1f4c6d9e0b3a5c7d1e"
RETRIES = 2
FAST: Mapping[str, Any] = {
    "retry_attempts": RETRIES,
    "retry_delay": 0.01,
    "retry_backoff": 1.0,
    "retry_budget_s": 5.0,
    "timeout": 0.3,
    "connect_timeout": 1.0,
}
"""Every agent's settings unless a case says otherwise: two retries, 10 ms apart."""
SMALL_CAP = 4096
ALL_TRIES = RETRIES + 1


def _each_try(behaviour: Behaviour) -> tuple[Behaviour, ...]:
    """As many times as a test is tried: a further try would get the default good answer."""
    return (behaviour,) * ALL_TRIES


def _no_secret(result: TestResult) -> None:
    text = result.error_message or ""
    pieces = {KEY[i : i + 6] for i in range(len(KEY) - 5)}
    assert not [p for p in pieces if p in text], text


def _estimated(completion_tokens: int) -> Callable[[TestResult], None]:
    def check(result: TestResult) -> None:
        assert result.tokens_estimated and result.completion_tokens == completion_tokens

    return check


def _text(expected: str) -> Callable[[TestResult], None]:
    def check(result: TestResult) -> None:
        assert result.response_text == expected and not result.tokens_estimated

    return check


def _streamed(result: TestResult) -> None:
    assert result.response_text == "Hello world" and result.time_to_first_token is not None


def _retry_after_date() -> tuple[Behaviour, ...]:
    # whole seconds: 1 to 2 s ahead when scripted
    return (Status(429, headers={"Retry-After": formatdate(time.time() + 2, usegmt=True)}),)


@dataclass(frozen=True)
class Fault:
    """One fault, its script and the result it must end in."""

    name: str
    script: Sequence[Behaviour] | Callable[[], Sequence[Behaviour]]
    status: Literal["ok", "error"]
    attempts: int
    kind: str | None = None
    message: str = ""
    """Part of the error message that names the cause."""
    stream: bool = True
    api: Mapping[str, Any] = field(default_factory=dict)
    """Settings over :data:`FAST`."""
    refused: bool = False
    """Send to a port where nothing listens instead of the scripted server."""
    waited_s: float = 0.0
    """The least time between the first two attempts (a ``Retry-After``)."""
    within_s: float = 2.0
    """The most time the test may take."""
    check: Callable[[TestResult], None] | None = None

    @property
    def marker(self) -> str:
        return f"<{self.name}>"

    def behaviours(self) -> Sequence[Behaviour]:
        return self.script() if callable(self.script) else self.script

    def test_case(self) -> TestCase:
        return TestCase.model_validate(make_test(self.name, prompt=f"question {self.marker}"))

    def settings(self) -> dict[str, Any]:
        return {**FAST, "stream": self.stream, **self.api}


def _transient_status(code: int) -> Fault:
    return Fault(
        f"http-{code}", _each_try(Status(code, f"upstream {code}")), "error", ALL_TRIES, "http",
        f"HTTP {code} from server: upstream {code} (gave up after {ALL_TRIES} attempts)",
    )  # fmt: skip


FAULTS = [
    # 429 and Retry-After: waited for, then the answer
    Fault("429-seconds", (Status(429, headers={"Retry-After": "1"}),), "ok", 2,
          waited_s=1.0, within_s=2.5),
    Fault("429-http-date", _retry_after_date, "ok", 2, waited_s=0.9, within_s=3.0),
    # 5xx, refused, reset, cut, stalled, hung: retried, then given up with the cause
    *[_transient_status(code) for code in (500, 502, 503, 504)],
    Fault("refused", (), "error", ALL_TRIES, "connection", "cannot connect to", refused=True),
    Fault("reset-before-response", _each_try(Reset()), "error", ALL_TRIES, "connection",
          "connection lost before any response"),
    Fault("reset-mid-stream", _each_try(Reset(mid_body=True)), "error", ALL_TRIES,
          "connection", "connection lost after"),
    Fault("reset-mid-json", _each_try(Reset(mid_body=True)), "error", ALL_TRIES,
          "connection", "bytes; first bytes: '{\"id\": ", stream=False),
    Fault("closed-mid-stream", _each_try(DropMidStream()), "error", ALL_TRIES, "connection",
          "connection lost after"),
    Fault("stall-mid-stream", _each_try(Stall(stall_s=5)), "error", ALL_TRIES, "timeout",
          "stream stalled for 0.3s"),
    Fault("hang-before-headers", _each_try(Hang(5)), "error", ALL_TRIES, "timeout",
          "no response within 0.3s"),
    Fault("no-done", _each_try(NoDone()), "error", ALL_TRIES, "connection",
          "stream ended before [DONE]"),
    # 200s that are not answers: not retried
    Fault("not-json", (Malformed(b"{not json"),), "error", 1, "protocol",
          "response is not valid JSON: '{not json'", stream=False),
    Fault("not-json-event", (Malformed(b"data: {broken\n\n", "text/event-stream"),), "error",
          1, "protocol", "malformed JSON in a stream event"),
    Fault("no-choices", (NoChoices(),), "error", 1, "protocol", "response has no 'choices'",
          stream=False),
    Fault("no-choices-stream", (NoChoices(),), "error", 1, "protocol",
          "stream has no 'choices' in any event"),
    Fault("choices-not-a-list",
          (Malformed(b'data: {"choices": {"0": "x"}}\n\ndata: [DONE]\n\n', "text/event-stream"),),
          "error", 1, "protocol", "stream has no 'choices' in any event"),
    Fault("too-large-stream", (Huge(20_000, chunk_bytes=1000),), "error", 1, "protocol",
          f"response larger than {SMALL_CAP} bytes (max_response_bytes); stopped reading",
          api={"max_response_bytes": SMALL_CAP}),
    Fault("too-large-json", (Huge(20_000),), "error", 1, "protocol",
          f"response larger than {SMALL_CAP} bytes (max_response_bytes)", stream=False,
          api={"max_response_bytes": SMALL_CAP}),
    Fault("html-page", (Malformed(b"<html><body>Sign in</body></html>", "text/html"),),
          "error", 1, "protocol",
          "response is not valid JSON (Content-Type 'text/html'): '<html><body>Sign in",
          stream=False),
    Fault("http-400", (Status(400, "max_tokens is too large"),), "error", 1, "http",
          "HTTP 400 from server: max_tokens is too large"),
    Fault("reflected-key", (Status(400, body="x" * 168 + f"Authorization: Bearer {KEY}"),),
          "error", 1, "http", "HTTP 400 from server: 'xxx", check=_no_secret),
    # an error body over max_response_bytes (and over its own 1 MiB) still reports its status
    Fault("big-error-body", _each_try(Status(502, body="y" * (2 << 20))), "error", ALL_TRIES,
          "http", "HTTP 502 from server: 'yyy", api={"max_response_bytes": SMALL_CAP}),
    # answers, odd but answers
    Fault("empty-message", (EmptyMessage(""),), "ok", 1, stream=False, check=_text("")),
    Fault("null-message", (EmptyMessage(None),), "ok", 1, stream=False, check=_text("")),
    Fault("empty-message-stream", (EmptyMessage(""),), "ok", 1, check=_text("")),
    Fault("null-message-stream", (EmptyMessage(None),), "ok", 1, check=_text("")),
    Fault("no-usage", (Answer("Hello world", usage=False),), "ok", 1, stream=False,
          check=_estimated(3)),  # 11 characters, four a token
    Fault("no-usage-stream", (Answer("Hello world", usage=False),), "ok", 1,
          check=_estimated(2)),  # one token per content event
    Fault("one-huge-event", (Huge(1_000_000, chunk_bytes=1_000_000),), "ok", 1,
          check=_text("x" * 1_000_000)),
    Fault("sse-as-text-plain", (Answer(headers={"Content-Type": "text/plain"}),), "ok", 1,
          check=_streamed),
    Fault("json-as-text-html", (Answer(headers={"Content-Type": "text/html"}),), "ok", 1,
          stream=False, check=_text("Hello world")),
    # the retry bounds: attempts, then time
    Fault("500-every-time", (Status(500, "model crashed"),) * 10, "error", ALL_TRIES, "http",
          f"model crashed (gave up after {ALL_TRIES} attempts)"),
    Fault("500-past-the-budget", (Status(500),) * 10, "error", 3, "http",
          "would pass the retry budget of 0.6s", within_s=0.6 + 0.2,
          api={"retry_attempts": 10, "retry_delay": 0.03, "retry_backoff": 5.0,
               "retry_budget_s": 0.6}),
    Fault("hang-past-the-budget", (Hang(5),) * 10, "error", 2, "timeout",
          "time budget of 0.5s (retry_budget_s) used up during attempt 2", within_s=0.5 + 0.2,
          api={"retry_attempts": 10, "retry_budget_s": 0.5}),
    Fault("keep-alive-for-ever", (Stall(stall_s=30, keepalive_s=0.05),) * 10, "error", 1,
          "timeout", "time budget of 0.5s (retry_budget_s) used up during attempt 1",
          within_s=0.5 + 0.2, api={"retry_attempts": 10, "retry_budget_s": 0.5}),
]  # fmt: skip
# 500-past-the-budget: waits of 0.03 and 0.15 s (+-20%) leave the third attempt 0.38 s at
# least; a third wait of 0.75 s (+-20%) would pass the budget.
# hang-past-the-budget: a 0.3 s read timeout, then the second attempt is cut at 0.5 s.


@pytest.fixture(autouse=True)
def _api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)


@pytest.fixture
def run_dir(tmp_path: Path) -> Iterator[RunDirectory]:
    directory = RunDirectory.create(tmp_path / "results", "faults")
    yield directory
    directory.close()


def _lane(agent_id: str, endpoint: str, settings: Mapping[str, Any], items: list[Item]) -> Lane:
    api = APIConfiguration(endpoint=endpoint, model=agent_id, api_key_env=KEY_ENV, **settings)
    return Lane(agent_id, Target(Caller(api)), max_concurrency=8, items=items)


def _fault_lanes(faults: Sequence[Fault], server: ScriptedServer) -> dict[str, Lane]:
    """One lane per distinct endpoint and settings, named ``faulty-<n>``, by fault name."""
    lanes: dict[str, Lane] = {}
    by_settings: dict[tuple[Any, ...], Lane] = {}
    refused_url = f"http://127.0.0.1:{free_port()}/v1"
    for fault in faults:
        server.script(*fault.behaviours(), marker=fault.marker)
        endpoint = refused_url if fault.refused else server.url
        key = (endpoint, *sorted(fault.settings().items()))
        if key not in by_settings:
            agent_id = f"faulty-{len(by_settings)}"
            by_settings[key] = _lane(agent_id, endpoint, fault.settings(), [])
        lanes[fault.name] = by_settings[key]
        lanes[fault.name].items.append((fault.test_case(), 0))
    return lanes


def _run(lanes: Sequence[Lane], run_dir: RunDirectory, limit_s: float) -> list[JournalEntry]:
    """Run the lanes as ``llmbench run`` does, each result journaled; fail after ``limit_s``."""

    def journal(agent_id: str, repeat: int, outcome: Outcome) -> None:
        r = outcome.result
        run_dir.append(JournalEntry(agent_id, r.test_id, repeat, r, outcome.transcript))

    scheduler = Scheduler(list(lanes), max_workers=16, on_result=journal)

    async def main() -> None:
        async with asyncio.timeout(limit_s), HttpClient() as session:
            await scheduler.run(LocalExecutor(session, Helpers()))

    asyncio.run(main())
    return run_dir.read_journal()


def _one_each(entries: list[JournalEntry], expected: set[EntryKey]) -> dict[EntryKey, TestResult]:
    """The journal's results by key, after checking it has exactly one entry per key."""
    keys = [e.key for e in entries]
    assert len(keys) == len(set(keys)), "a result was journaled twice"
    assert set(keys) == expected, "a result was lost (or is unexpected)"
    return {e.key: e.result for e in entries}


def _check(fault: Fault, result: TestResult, server: ScriptedServer, slack: float = 1.0) -> None:
    """``result`` is what ``fault`` must end in; ``slack`` scales the time bound."""
    assert (result.status, result.attempts) == (fault.status, fault.attempts), result.error_message
    if fault.status == "ok":
        assert result.error_message is None and result.error_kind is None
    else:
        assert result.error_kind == fault.kind
        assert result.error_message is not None and fault.message in result.error_message
    assert result.execution_time <= fault.within_s * slack
    arrivals = [r.received_at for r in server.requests if fault.marker in r.prompt_text]
    assert len(arrivals) == (0 if fault.refused else fault.attempts)
    if fault.waited_s:
        assert fault.waited_s - 0.01 <= arrivals[1] - arrivals[0] <= fault.within_s
    if fault.check is not None:
        fault.check(result)


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
def test_fault_ends_in_one_result_in_the_right_state(
    fault: Fault, server: ScriptedServer, run_dir: RunDirectory
) -> None:
    lanes = _fault_lanes([fault], server)
    entries = _run(list(lanes.values()), run_dir, limit_s=fault.within_s + 2)
    results = _one_each(entries, {("faulty-0", fault.name, 0)})
    _check(fault, results["faulty-0", fault.name, 0], server)


def test_all_faults_at_once_leave_the_healthy_agent_alone(
    server: ScriptedServer, server2: ScriptedServer, run_dir: RunDirectory
) -> None:
    lanes = _fault_lanes(FAULTS, server)
    tests = [f.test_case() for f in FAULTS]
    healthy = _lane("healthy", server2.url, FAST, [(t, r) for r in range(2) for t in tests])
    started = time.monotonic()
    entries = _run([*{id(lane): lane for lane in lanes.values()}.values(), healthy], run_dir, 15)
    expected = {(lanes[f.name].agent_id, f.name, 0) for f in FAULTS}
    expected |= {("healthy", f.name, r) for f in FAULTS for r in range(2)}
    results = _one_each(entries, expected)
    for fault in FAULTS:
        _check(fault, results[lanes[fault.name].agent_id, fault.name, 0], server, slack=2.0)
    assert all(
        (r.status, r.attempts, r.response_text) == ("ok", 1, "Hello world")
        for (agent, _, _), r in results.items()
        if agent == "healthy"
    )
    assert time.monotonic() - started < 8  # the slowest case (about 2 s), not their sum


@pytest.mark.parametrize(
    "during", [Hang(5), Status(503, "model is loading")], ids=["slower-than-timeout", "503"]
)
def test_a_server_slow_to_come_up_recovers_and_the_run_completes(
    during: Behaviour, server: ScriptedServer, run_dir: RunDirectory
) -> None:
    server.set_default(Warmup(0.5, during=during))
    settings = {**FAST, "timeout": 0.25, "retry_attempts": 10, "retry_delay": 0.05,
                "retry_backoff": 1.5}  # fmt: skip
    tests = [TestCase.model_validate(make_test(f"w{i}")) for i in range(4)]
    lane = _lane("late", server.url, settings, [(t, 0) for t in tests])
    entries = _run([lane], run_dir, limit_s=5)
    results = _one_each(entries, {("late", t.id, 0) for t in tests})
    assert all(r.status == "ok" and r.response_text == "Hello world" for r in results.values())
    assert all(r.attempts >= 2 for r in results.values())  # each met the warm-up first
    assert server.request_count() == sum(r.attempts for r in results.values())
