"""``max_concurrency = "auto"`` against a model of a server with S slots: a closed-loop client
keeps ``limit`` requests in flight, the server serves S at a time in arrival order and queues
the others, and a request's time to first token is its wait in the queue plus its service
time. The real thing is measured in ``benchmarks/``."""

from __future__ import annotations

import heapq
import json
import random
from collections import deque
from collections.abc import Callable
from pathlib import Path

import pytest

from llmbench.engine.concurrency import AutoConcurrency
from llmbench.result import TestResult
from tests.conftest import Run, make_test
from tests.scripted_server import Answer, ScriptedServer
from tests.test_runner_e2e import _agent, _base_config, _suite

SERVICE_S = 0.2


def _result(
    ttft: float | None,
    status: str = "ok",
    http_status: int | None = 200,
    error_kind: str | None = None,
) -> TestResult:
    return TestResult(
        test_id="t",
        test_name="t",
        success=status == "ok",
        response_text="",
        execution_time=(ttft or 0.5) + 0.5,
        time_to_first_token=ttft,
        status=status,  # type: ignore[arg-type]
        http_status=http_status,
        error_kind=None if status == "ok" else error_kind or "http",
    )


def _simulate(
    auto: AutoConcurrency,
    slots: Callable[[int], int],
    requests: int,
    seed: int,
    service_s: Callable[[int], float] = lambda done: SERVICE_S,
) -> list[tuple[float, int]]:
    """Send ``requests`` requests through ``auto`` to the model server: ``slots(done)`` slots
    and ``service_s(done)`` seconds (+-5%) per request, ``done`` being the requests finished
    so far. Returns ``(time, limit)`` after each completion."""
    rng = random.Random(seed)
    now, sent, in_flight, busy = 0.0, 0, 0, 0
    queue: deque[tuple[float, int]] = deque()  # (arrival, ticket)
    serving: list[tuple[float, int, float, int]] = []  # (end, order, arrival, ticket)
    seen: list[tuple[float, int]] = []
    while True:
        while in_flight < auto.limit and sent < requests:
            queue.append((now, auto.sent()))
            sent += 1
            in_flight += 1
        while queue and busy < slots(len(seen)):
            arrival, ticket = queue.popleft()
            busy += 1
            end = now + service_s(len(seen)) * rng.uniform(0.95, 1.05)
            heapq.heappush(serving, (end, sent + len(seen), arrival, ticket))
        if not serving:
            return seen
        now, _, arrival, ticket = heapq.heappop(serving)
        busy -= 1
        in_flight -= 1
        auto.observe(_result(now - arrival), ticket)
        seen.append((now, auto.limit))


def _rate(seen: list[tuple[float, int]], first: int, last: int) -> float:
    """Completions per second from completion ``first`` to completion ``last``."""
    return (last - first) / (seen[last][0] - seen[first][0])


def _settled(
    seen: list[tuple[float, int]], slots: int, first: int, last: int, service_s: float = SERVICE_S
) -> None:
    """From completion ``first`` to ``last``: never more than 25% above the slots, below them
    only in the probes for the floor (at most 10% of the completions), and at least 95% of the
    server's throughput."""
    limits = [limit for _, limit in seen[first:last]]
    assert max(limits) <= 1.25 * slots + 1, limits
    assert sum(limit < slots for limit in limits) <= 0.1 * len(limits), limits
    assert _rate(seen, first, last) >= 0.95 * slots / service_s


@pytest.mark.parametrize("slots", [1, 4, 16, 48])
def test_it_settles_near_the_slot_count(slots: int) -> None:
    auto = AutoConcurrency(ceiling=512)
    n = 60 * slots + 400
    seen = _simulate(auto, lambda done: slots, n, seed=slots)
    _settled(seen, slots, n // 2, n - 2 * slots)
    assert auto.report()["final"] == seen[-1][1]


def test_it_ramps_up_in_a_few_rounds() -> None:
    """Slow start from 2 reaches 16 slots after 2 + 8 + 8 + 16 + ... results, under 2 s."""
    seen = _simulate(AutoConcurrency(ceiling=512), lambda done: 16, 200, seed=1)
    reached = next(at for at, limit in seen if limit >= 16)
    assert reached < 10 * SERVICE_S


def test_a_cut_is_not_cut_again_by_the_requests_queued_before_it() -> None:
    """Slow start overshoots 16 slots (16 -> 32); the one cut that follows lands just above
    the knee, not below it, although the requests sent at 32 are still queued after it."""
    auto = AutoConcurrency(ceiling=512)
    _simulate(auto, lambda done: 16, 400, seed=3)
    limits = [limit for _, limit in auto.history]
    assert limits[:5] == [2, 4, 8, 16, 32], auto.history
    assert len(limits) > 5 and min(limits[5:]) >= 16, auto.history


def test_a_short_run_loses_only_its_ramp() -> None:
    """The benchmark's run (640 tests, 16 slots): from the tenth completion on, the
    throughput of the slots."""
    seen = _simulate(AutoConcurrency(ceiling=256), lambda done: 16, 640, seed=11)
    assert _rate(seen, 64, 624) >= 0.95 * 16 / SERVICE_S


def test_results_sent_before_a_change_are_ignored() -> None:
    auto = AutoConcurrency(ceiling=64, limit=16)
    for ticket in [auto.sent() for _ in range(16)]:
        auto.observe(_result(0.2), ticket)  # no queue: the floor is 0.2, slow start doubles
    assert auto.limit == 32
    at_32 = [auto.sent() for _ in range(64)]  # 32, and 32 more as those finish
    for ticket in at_32[:32]:
        auto.observe(_result(0.4), ticket)  # 16 slots: twice the floor
    assert auto.limit == 17  # 32 * 0.2 / 0.4 * 1.1 = 17.6
    for ticket in at_32[32:]:
        auto.observe(_result(0.4), ticket)  # still queued, but sent at 32: no second cut
    assert auto.limit == 17
    for ticket in [auto.sent() for _ in range(17)]:
        auto.observe(_result(0.2 * 17 / 16), ticket)  # 1.0625 x the floor: no queue
    assert auto.limit == 18


def test_it_follows_a_slot_count_that_changes() -> None:
    auto = AutoConcurrency(ceiling=512)
    seen = _simulate(auto, lambda done: 16 if done < 1000 else 32 if done < 3000 else 8, 4500, 7)
    _settled(seen, 16, 300, 1000)
    _settled(seen, 32, 1300, 3000)
    _settled(seen, 8, 3300, 4480)


def test_it_follows_a_server_that_gets_slower() -> None:
    """Twice the service time at the same 16 slots: the latency doubles without a queue. The
    limit is cut at first (it looks like queueing), then the floor is measured again."""
    auto = AutoConcurrency(ceiling=512)
    seen = _simulate(auto, lambda done: 16, 3000, 5, lambda done: 0.2 if done < 1000 else 0.4)
    assert min(limit for _, limit in seen[1000:1200]) < 16  # it was cut at first
    _settled(seen, 16, 1300, 2980, service_s=0.4)


def test_probes_get_rarer_while_the_floor_holds() -> None:
    """Rounds of ``limit`` requests at exactly ``0.2 * max(1, limit / 16)`` s: slow start
    2 ... 32, a cut to 17, a raise to 18, and then it holds. A probe runs one window at 9; the
    first comes 16 windows after the cut, the next ones 32, 64, 128 and 128 windows after each
    probe window."""
    auto = AutoConcurrency(ceiling=512)
    probes = []
    for round_ in range(400):
        limit = auto.limit
        for ticket in [auto.sent() for _ in range(limit)]:
            auto.observe(_result(SERVICE_S * max(1.0, limit / 16)), ticket)
        if limit == 9:
            probes.append(round_)
    # 9 rounds of slow start (4 at limit 2: windows hold at least 8 results), 16 more windows
    assert probes == [25, 25 + 33, 25 + 33 + 65, 25 + 33 + 65 + 129, 25 + 33 + 65 + 2 * 129]
    assert auto.limit == 18


def test_it_never_passes_the_ceiling_and_starts_low() -> None:
    auto = AutoConcurrency(ceiling=6)
    assert auto.limit == 2
    seen = _simulate(auto, lambda done: 100, 300, seed=1)
    assert max(limit for _, limit in seen) == 6


@pytest.mark.parametrize(
    ("http_status", "error_kind"), [(429, "http"), (503, "http"), (None, "timeout")]
)
def test_refusals_and_timeouts_halve_it_once_per_burst(
    http_status: int | None, error_kind: str
) -> None:
    auto = AutoConcurrency(ceiling=512, limit=32)
    burst = [auto.sent() for _ in range(32)]
    for ticket in burst[:5]:
        auto.observe(_result(None, "error", http_status, error_kind), ticket)
    assert auto.limit == 16  # the first halves it; the others were sent before the cut
    after = [auto.sent() for _ in range(17)]
    for ticket in after[:16]:
        auto.observe(_result(None, "error", 400), ticket)  # not a sign of load
    assert auto.limit == 16
    auto.observe(_result(None, "error", http_status, error_kind), after[16])
    assert auto.limit == 8
    auto.observe(_result(0.2, "cancelled"), auto.sent())
    assert auto.limit == 8


def test_the_summary_reports_each_agents_concurrency(
    tmp_path: Path, server: ScriptedServer, run: Run
) -> None:
    _suite(tmp_path, [make_test(f"q{i}") for i in range(40)])
    _base_config(tmp_path, server.url + "/v1", server.url + "/v1", max_workers=8)
    _agent(tmp_path, "auto", server.url + "/v1", 'max_concurrency = "auto"')
    _agent(tmp_path, "fixed", server.url + "/v1", "max_concurrency = 3")
    server.set_default(Answer(ttft_s=0.01))
    done = run("--base_config", "base_config.toml", "--agent_config", "agents")
    assert done.returncode == 0, done.stderr
    [run_dir] = [p for p in (tmp_path / "results").iterdir() if p.is_dir() and p.name[0] != "."]
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    by_agent = {a["agent_id"]: a["concurrency"] for a in summary["agents"]}
    assert by_agent["fixed"] == {"mode": "fixed", "limit": 3}
    auto = by_agent["auto"]
    assert auto["mode"] == "auto" and 1 <= auto["final"] <= 8
    assert auto["changes"][0] == {"after": 0, "limit": 2} and len(auto["changes"]) > 1
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["concurrency"] == by_agent
