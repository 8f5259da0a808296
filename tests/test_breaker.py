"""The per-endpoint circuit breaker: its states, and a dead endpoint in a multi-agent run."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import web

from llmbench.config.api import APIConfiguration
from llmbench.engine import breaker as breaker_module
from llmbench.engine.breaker import Breakers, CircuitBreaker
from llmbench.engine.calls import Caller, CallLog
from llmbench.engine.scheduler import Lane, Scheduler
from llmbench.engine.test_run import Helpers, Outcome, Target
from llmbench.errors import RequestFailure
from llmbench.executors.local import LocalExecutor
from llmbench.providers.embedded import free_port
from llmbench.providers.http1 import HttpClient
from llmbench.suite.models import TestCase
from tests.conftest import make_test
from tests.scripted_server import ScriptedServer

REFUSED = RequestFailure("connection", "cannot connect to http://127.0.0.1:1: refused")


def _open(breaker: CircuitBreaker) -> None:
    for _ in range(breaker.threshold):
        assert breaker.before_attempt() is False
        breaker.record(REFUSED)


def test_it_opens_after_the_threshold_of_consecutive_connection_failures() -> None:
    breaker = CircuitBreaker("http://127.0.0.1:1", threshold=3, cooldown_s=60)
    for _ in range(2):
        breaker.record(REFUSED)
    assert breaker.state == "closed"
    breaker.record(REFUSED)
    assert breaker.state == "open" and breaker.is_open
    with pytest.raises(RequestFailure) as info:
        breaker.before_attempt()
    assert info.value.kind == "circuit_open"
    assert "http://127.0.0.1:1 is unreachable" in info.value.message
    assert "3 consecutive connection failures" in info.value.message
    assert "refused" in info.value.message and "--retry-errors" in info.value.message


@pytest.mark.parametrize(
    "proof_of_life",
    [
        None,  # a success
        RequestFailure("http", "HTTP 500 from server", status=500),
        RequestFailure("timeout", "stream stalled", status=200),
        RequestFailure("connection", "connection lost after 10 bytes", status=200),
        RequestFailure("protocol", "response is not valid JSON"),
    ],
)
def test_any_answer_from_the_server_resets_the_count(proof_of_life: RequestFailure | None) -> None:
    breaker = CircuitBreaker("http://x:1", threshold=3)
    breaker.record(REFUSED)
    breaker.record(REFUSED)
    breaker.record(proof_of_life)
    breaker.record(REFUSED)
    breaker.record(REFUSED)
    assert breaker.state == "closed"


def test_the_readme_s_defaults_five_failures_then_ten_seconds_doubling(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    monkeypatch.setattr(breaker_module, "time", SimpleNamespace(monotonic=lambda: now[0]))
    breaker = Breakers().for_api(APIConfiguration(endpoint="http://127.0.0.1:1/v1", model="m"))
    for _ in range(4):
        breaker.record(REFUSED)
    assert breaker.state == "closed"
    breaker.record(REFUSED)  # the fifth consecutive failure
    assert breaker.state == "open"
    for cooldown_s in (10.0, 20.0, 40.0):
        now[0] += cooldown_s - 0.01
        with pytest.raises(RequestFailure):  # still cooling down
            breaker.before_attempt()
        now[0] += 0.01
        assert breaker.before_attempt() is True  # the probe, exactly at the cool-down
        breaker.record(REFUSED, probe=True)
    assert "probes it again every 80s" in breaker.reason()


def test_after_the_cool_down_exactly_one_probe_goes_out() -> None:
    breaker = CircuitBreaker("http://x:1", threshold=2, cooldown_s=0.05)
    _open(breaker)
    time.sleep(0.06)
    assert breaker.before_attempt() is True  # the probe
    with pytest.raises(RequestFailure):  # others still fail while the probe is out
        breaker.before_attempt()
    breaker.record(REFUSED, probe=True)  # probe failed: open again, for twice as long
    assert breaker.state == "open"
    time.sleep(0.06)
    with pytest.raises(RequestFailure):
        breaker.before_attempt()
    time.sleep(0.06)
    assert breaker.before_attempt() is True
    breaker.record(None, probe=True)
    assert breaker.state == "closed" and breaker.before_attempt() is False


def test_a_cancelled_probe_lets_the_next_attempt_probe() -> None:
    breaker = CircuitBreaker("http://x:1", threshold=1, cooldown_s=0.0)
    _open(breaker)
    assert breaker.before_attempt() is True
    breaker.release_probe()
    assert breaker.before_attempt() is True


def test_callers_of_one_server_share_a_breaker() -> None:
    breakers = Breakers()
    a = APIConfiguration(endpoint="http://127.0.0.1:8000/v1", model="a")
    b = APIConfiguration(endpoint="http://127.0.0.1:8000/v1/chat/completions", model="b")
    c = APIConfiguration(endpoint="http://127.0.0.1:8001", model="a")
    assert breakers.for_api(a) is breakers.for_api(b)
    assert breakers.for_api(a) is not breakers.for_api(c)


def _api(port: int, **fields: Any) -> APIConfiguration:
    defaults: dict[str, Any] = {"retry_attempts": 3, "retry_delay": 0.2, "timeout": 5.0}
    return APIConfiguration(
        endpoint=f"http://127.0.0.1:{port}/v1", model="m", **{**defaults, **fields}
    )


async def _up_on(port: int) -> web.AppRunner:
    """A server that answers every chat request with "back", on a given port."""

    async def chat(request: web.Request) -> web.Response:
        return web.json_response(
            {"choices": [{"message": {"role": "assistant", "content": "back"}}]}
        )

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


def test_a_caller_fails_fast_while_open_and_recovers_through_the_probe() -> None:
    port = free_port()
    breaker = CircuitBreaker(f"http://127.0.0.1:{port}", threshold=2, cooldown_s=0.3)
    caller = Caller(_api(port, retry_attempts=0, stream=False), breaker=breaker)

    async def main() -> None:
        async with HttpClient() as session:
            chat = caller.chat_fn(session, calls=CallLog(), label="t")
            kinds = []
            for _ in range(4):
                with pytest.raises(RequestFailure) as info:
                    await chat([{"role": "user", "content": "hi"}], {})
                kinds.append(info.value.kind)
            assert kinds == ["connection", "connection", "circuit_open", "circuit_open"]
            server = await _up_on(port)
            try:
                with pytest.raises(RequestFailure):  # still cooling down: not sent
                    await chat([{"role": "user", "content": "hi"}], {})
                await asyncio.sleep(0.35)
                answer = await chat([{"role": "user", "content": "hi"}], {})  # the probe
                assert answer.text == "back" and breaker.state == "closed"
                assert (await chat([{"role": "user", "content": "again"}], {})).text == "back"
            finally:
                await server.cleanup()

    asyncio.run(main())


def test_a_dead_endpoint_ends_its_agents_tests_in_seconds_and_others_keep_running(
    server: ScriptedServer,
) -> None:
    """1,000 tests against a port nobody listens on, retried 3 times with backoff: without the
    breaker that is 1,000 x (0.2 + 0.4 + 0.8) s of waits at 8 in flight, about three minutes."""
    dead = free_port()
    breakers = Breakers()
    dead_api, live_api = _api(dead), APIConfiguration(endpoint=server.url, model="live")
    tests = [TestCase.model_validate(make_test(f"t{i:04d}")) for i in range(1000)]
    lanes = [
        Lane(
            "down",
            Target(Caller(dead_api, breaker=breakers.for_api(dead_api))),
            8,
            [(t, 0) for t in tests],
        ),
        Lane(
            "up",
            Target(Caller(live_api, breaker=breakers.for_api(live_api))),
            8,
            [(t, 0) for t in tests[:50]],
        ),
    ]
    recorded: list[tuple[str, Outcome]] = []
    scheduler = Scheduler(
        lanes,
        max_workers=16,
        on_result=lambda agent, repeat, outcome: recorded.append((agent, outcome)),
    )

    async def main() -> None:
        async with HttpClient() as session:
            async with asyncio.timeout(30):
                await scheduler.run(LocalExecutor(session, Helpers()))

    started = time.monotonic()
    asyncio.run(main())
    elapsed = time.monotonic() - started

    assert elapsed < 15, f"a dead endpoint took {elapsed:.1f}s"
    per_key = Counter((agent, o.result.test_id) for agent, o in recorded)
    assert len(per_key) == 1050 and set(per_key.values()) == {1}  # none lost, none twice
    down = [o.result for agent, o in recorded if agent == "down"]
    up = [o.result for agent, o in recorded if agent == "up"]
    assert all(r.status == "error" for r in down)
    kinds = Counter(r.error_kind for r in down)
    assert kinds["circuit_open"] >= 990, kinds  # only the first few tests reached the network
    reasons = {r.error_message for r in down if r.error_kind == "circuit_open"}
    assert all(f"127.0.0.1:{dead} is unreachable" in m for m in reasons)
    assert all(r.status == "ok" for r in up) and len(up) == 50
