"""``max_concurrency = "auto"`` against a model of a server with S slots: a request's time to
first token is the floor while at most S are in flight, and grows as ``floor * L / S`` beyond
(the others queue). The real thing is measured in ``benchmarks/``."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from llmbench.engine.concurrency import AutoConcurrency
from llmbench.result import TestResult
from tests.conftest import Run, make_test
from tests.scripted_server import Answer, ScriptedServer
from tests.test_runner_e2e import _agent, _base_config, _suite


def _result(ttft: float | None, status: str = "ok", http_status: int | None = 200) -> TestResult:
    return TestResult(
        test_id="t",
        test_name="t",
        success=status == "ok",
        response_text="",
        execution_time=(ttft or 0.5) + 0.5,
        time_to_first_token=ttft,
        status=status,  # type: ignore[arg-type]
        http_status=http_status,
        error_kind=None if status == "ok" else "http",
    )


def _serve(auto: AutoConcurrency, slots: int, rounds: int, rng: random.Random) -> list[int]:
    """``rounds`` rounds of ``limit`` requests each; the limit after every round."""
    seen = []
    for _ in range(rounds):
        limit = auto.limit
        for _ in range(limit):
            ttft = 0.2 * max(1.0, limit / slots) * rng.uniform(0.95, 1.05)
            auto.observe(_result(ttft))
        seen.append(auto.limit)
    return seen


def _settled(seen: list[int], slots: int) -> None:
    """Over the last rounds: never past 25% above the slots, and below them only in the short
    probes for the floor (at most 15% of the rounds)."""
    last = seen[-40:]
    assert max(last) <= 1.25 * slots + 1, seen
    assert sum(limit < slots for limit in last) <= 0.15 * len(last), seen


@pytest.mark.parametrize("slots", [4, 16, 48])
def test_it_settles_near_the_slot_count(slots: int) -> None:
    auto = AutoConcurrency(ceiling=512)
    seen = _serve(auto, slots, 100, random.Random(slots))
    _settled(seen, slots)
    assert auto.report()["final"] == seen[-1]


def test_it_follows_a_slot_count_that_changes() -> None:
    auto = AutoConcurrency(ceiling=512)
    rng = random.Random(7)
    _serve(auto, 16, 60, rng)
    _settled(_serve(auto, 32, 80, rng), 32)
    _settled(_serve(auto, 8, 80, rng), 8)


def test_it_never_passes_the_ceiling_and_starts_low() -> None:
    auto = AutoConcurrency(ceiling=6)
    assert auto.limit == 2
    assert max(_serve(auto, 100, 30, random.Random(1))) == 6


def test_429_and_503_halve_it_once_per_burst() -> None:
    auto = AutoConcurrency(ceiling=512, limit=32)
    for _ in range(5):  # one burst of refusals
        auto.observe(_result(None, "error", 429))
    assert auto.limit == 16
    auto.observe(_result(None, "error", 503))
    assert auto.limit == 16  # same window
    for _ in range(16):
        auto.observe(_result(None, "error", 400))  # not a sign of load
    auto.observe(_result(None, "error", 503))
    assert auto.limit == 8
    auto.observe(_result(0.2, "cancelled"))
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
