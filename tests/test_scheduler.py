"""The multi-agent scheduler against the scripted server: bounds, fairness, rpm, cancellation."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from typing import Any

import pytest

from llmbench.config.api import APIConfiguration
from llmbench.engine import scheduler as scheduler_module
from llmbench.engine.calls import Caller
from llmbench.engine.concurrency import AutoConcurrency
from llmbench.engine.scheduler import Lane, Scheduler
from llmbench.engine.test_run import Helpers, Outcome, Target, TestRun
from llmbench.errors import ResultsError
from llmbench.executors.local import LocalExecutor
from llmbench.providers.http1 import HttpClient
from llmbench.suite.models import TestCase
from tests.conftest import ignores_first_cancellation, make_test
from tests.scripted_server import Answer, Hang, ScriptedServer

Recorded = list[tuple[str, int, Outcome]]


def _tests(*ids: str, **fields: Any) -> list[TestCase]:
    return [TestCase.model_validate(make_test(i, **fields)) for i in ids]


def _lane(
    server: ScriptedServer,
    agent_id: str,
    tests: list[TestCase],
    *,
    max_concurrency: int = 4,
    rpm: float | None = None,
    repeats: int = 1,
    seed: int | None = None,
    overrides: dict[str, Any] | None = None,
    system_prompt: str | None = None,
) -> Lane:
    api = APIConfiguration(endpoint=server.url, model=agent_id, retry_attempts=0, timeout=10.0)
    target = Target(Caller(api, rpm=rpm), overrides=overrides or {}, system_prompt=system_prompt)
    items = [(t, r) for r in range(repeats) for t in tests]
    return Lane(agent_id, target, max_concurrency, items, seed)


def _run(
    lanes: list[Lane], max_workers: int, scheduler_out: list[Scheduler] | None = None
) -> Recorded:
    recorded: Recorded = []

    def sink(agent_id: str, repeat: int, outcome: Outcome) -> None:
        recorded.append((agent_id, repeat, outcome))

    scheduler = Scheduler(lanes, max_workers=max_workers, on_result=sink)
    if scheduler_out is not None:
        scheduler_out.append(scheduler)

    async def main() -> None:
        async with HttpClient() as session:
            await scheduler.run(LocalExecutor(session, Helpers()))

    asyncio.run(main())
    return recorded


def test_every_item_ends_once_within_the_global_and_agent_bounds(server: ScriptedServer) -> None:
    server.set_default(Answer(ttft_s=0.05))
    tests = _tests(*(f"t{i}" for i in range(6)))
    lanes = [_lane(server, f"agent{i}", tests, max_concurrency=3, repeats=2) for i in range(3)]
    recorded = _run(lanes, max_workers=4)
    keys = [(a, o.result.test_id, r) for a, r, o in recorded]
    assert len(keys) == len(set(keys)) == 3 * 6 * 2
    assert all(o.result.status == "ok" for _, _, o in recorded)
    assert server.peak_in_flight() == 4  # the global bound, reached
    assert all(server.peak_in_flight(f"agent{i}") <= 3 for i in range(3))


def test_an_agent_never_exceeds_its_own_max_concurrency(server: ScriptedServer) -> None:
    server.set_default(Answer(ttft_s=0.05))
    tests = _tests(*(f"t{i}" for i in range(8)))
    recorded = _run([_lane(server, "narrow", tests, max_concurrency=2)], max_workers=16)
    assert len(recorded) == 8
    assert server.peak_in_flight("narrow") == 2


def test_an_auto_agent_sends_up_to_its_limit_and_reports_every_test(
    server: ScriptedServer,
) -> None:
    server.set_default(Answer(ttft_s=0.02))
    lane = _lane(server, "auto", _tests(*(f"t{i}" for i in range(40))))
    auto = lane.auto = AutoConcurrency(ceiling=16)
    recorded = _run([lane], max_workers=16)
    assert len(recorded) == 40
    assert auto.sent() == 40  # one ticket per test; this is the 41st
    limits = [limit for _, limit in auto.history]
    assert limits[:2] == [2, 4]  # the first window of 8 results doubles it
    assert 2 < server.peak_in_flight("auto") <= max(limits)


def test_a_slow_agent_does_not_hold_back_a_fast_one(server: ScriptedServer) -> None:
    # Both agents may take both slots; the slow one's answers take 0.4 s each. A fair
    # dispatcher gives each one slot, so the fast agent finishes its ten tests while the slow
    # one is on its first or second; a first-come dispatcher would let the slow agent keep both.
    server.script(*[Answer(ttft_s=0.4)] * 4, marker="slow_")
    slow = _lane(server, "slow", _tests(*(f"slow_{i}" for i in range(4))), max_concurrency=2)
    fast = _lane(server, "fast", _tests(*(f"fast_{i}" for i in range(10))), max_concurrency=2)
    recorded = _run([slow, fast], max_workers=2)
    order = [agent for agent, _, _ in recorded]
    last_fast = max(i for i, a in enumerate(order) if a == "fast")
    slow_done_before = order[:last_fast].count("slow")
    assert slow_done_before <= 1, order


def test_rpm_spaces_request_starts(server: ScriptedServer) -> None:
    # the turns the limiter gives out are what rpm bounds; arrival times at the server would
    # add the machine's jitter (a busy machine delays one request and not the next)
    tests = _tests("a", "b", "c", "d")
    lane = _lane(server, "limited", tests, rpm=600)  # 0.1 s apart
    limiter = lane.target.caller.limiter
    assert limiter is not None
    turns: list[float] = []
    take, acquire = limiter.take, limiter.acquire

    def taken() -> None:
        take()
        turns.append(limiter._next_at - limiter.interval_s)  # the moment the turn was given

    async def acquired() -> None:
        await acquire()
        turns.append(limiter._next_at - limiter.interval_s)

    limiter.take = taken  # type: ignore[method-assign]
    limiter.acquire = acquired  # type: ignore[method-assign]
    recorded = _run([lane], max_workers=8)
    assert len(recorded) == 4 and all(o.result.status == "ok" for _, _, o in recorded)
    assert server.request_count() == 4
    gaps = [b - a for a, b in itertools.pairwise(turns)]
    assert len(gaps) == 3 and min(gaps) >= 0.1 - 1e-6, gaps


def test_cancel_ends_in_flight_tests_as_cancelled_and_starts_no_more(
    server: ScriptedServer,
) -> None:
    server.set_default(Hang(seconds=30))
    tests = _tests(*(f"t{i}" for i in range(10)))
    holder: list[Scheduler] = []
    lanes = [
        _lane(server, "a", tests, max_concurrency=3),
        _lane(server, "b", tests, max_concurrency=3),
    ]

    def cancel_soon() -> None:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and server.request_count() < 4:
            time.sleep(0.01)
        holder[0].request_cancel()

    thread = threading.Thread(target=cancel_soon)
    started = time.monotonic()
    thread.start()
    recorded = _run(lanes, max_workers=4, scheduler_out=holder)
    thread.join()
    assert time.monotonic() - started < 5
    assert len(recorded) == 4  # exactly the tests that were in flight
    assert all(o.result.status == "cancelled" for _, _, o in recorded)
    assert {a for a, _, _ in recorded} == {"a", "b"}


def test_a_failed_save_stops_the_run(server: ScriptedServer) -> None:
    server.set_default(Answer(ttft_s=0.02))
    tests = _tests(*(f"t{i}" for i in range(20)))
    calls: list[str] = []

    def sink(agent_id: str, repeat: int, outcome: Outcome) -> None:
        calls.append(outcome.result.test_id)
        raise ResultsError("results/x/results.jsonl: cannot append: No space left on device")

    scheduler = Scheduler(
        [_lane(server, "a", tests, max_concurrency=2)],
        max_workers=2,
        on_result=sink,
    )

    async def main() -> None:
        async with HttpClient() as session:
            await scheduler.run(LocalExecutor(session, Helpers()))

    asyncio.run(main())
    assert scheduler.fatal is not None and "No space left" in str(scheduler.fatal)
    assert len(calls) == 1  # the first failure stops the run; nothing more is attempted
    assert server.request_count() <= 3


@pytest.mark.parametrize(
    ("test_seed", "agent_seed", "repeat", "sent"),
    [(None, None, 0, 100), (None, None, 2, 102), (7, None, 1, 7), (None, 9, 1, 9)],
)
def test_the_run_seed_fills_in_per_repeat(
    server: ScriptedServer, test_seed: int | None, agent_seed: int | None, repeat: int, sent: int
) -> None:
    params: dict[str, Any] = {"max_tokens": 8}
    if test_seed is not None:
        params["seed"] = test_seed
    test = TestCase.model_validate(make_test("s", parameters=params))
    overrides = {"seed": agent_seed} if agent_seed is not None else {}
    lane = _lane(server, "a", [test], seed=100, overrides=overrides)
    lane.items = [(test, repeat)]
    _run([lane], max_workers=1)
    body = server.requests[-1].body
    assert body is not None and body["seed"] == sent


def test_agent_parameters_win_and_the_system_prompt_goes_first(server: ScriptedServer) -> None:
    test = TestCase.model_validate(make_test("p", parameters={"temperature": 0.0, "max_tokens": 8}))
    lane = _lane(
        server, "a", [test], overrides={"temperature": 0.7, "top_p": 0.9}, system_prompt="Be brief."
    )
    _run([lane], max_workers=1)
    body = server.requests[-1].body
    assert body is not None
    assert body["temperature"] == 0.7 and body["top_p"] == 0.9 and body["max_tokens"] == 8
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "question p"},
    ]


def test_a_timeout_around_the_run_cancels_the_tests_in_flight_at_once(
    server: ScriptedServer,
) -> None:
    """asyncio.timeout (or any cancellation of the task running the scheduler) ends the run
    within the grace period, not when the tests in flight would have ended (30 s here, with
    a retry budget of 600 s)."""
    server.set_default(Hang(seconds=30))
    recorded: Recorded = []
    lane = _lane(server, "a", _tests("t0", "t1", "t2"), max_concurrency=3)
    scheduler = Scheduler([lane], max_workers=3, on_result=lambda *r: recorded.append(r))

    async def main() -> None:
        async with asyncio.timeout(0.5), HttpClient() as session:
            await scheduler.run(LocalExecutor(session, Helpers()))

    started = time.monotonic()
    with pytest.raises(TimeoutError):
        asyncio.run(main())
    assert time.monotonic() - started < 0.5 + scheduler_module.CANCEL_GRACE_S
    assert sorted(o.result.test_id for _, _, o in recorded) == ["t0", "t1", "t2"]
    assert {o.result.status for _, _, o in recorded} == {"cancelled"}
    assert scheduler.cancelled


def test_a_test_that_ignores_cancellation_is_recorded_after_the_grace_period(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TestRun, "execute", ignores_first_cancellation)
    monkeypatch.setattr(scheduler_module, "CANCEL_GRACE_S", 0.2)
    holder: list[Scheduler] = []
    lane = _lane(server, "a", _tests("t0", "t1"), max_concurrency=2)
    threading.Timer(0.2, lambda: holder[0].request_cancel()).start()
    started = time.monotonic()
    recorded = _run([lane], max_workers=2, scheduler_out=holder)
    assert time.monotonic() - started < 5
    assert sorted(o.result.test_id for _, _, o in recorded) == ["t0", "t1"]  # each once
    assert {o.result.status for _, _, o in recorded} == {"cancelled"}
    assert lane.in_flight == 0
