"""The opt-in response cache: a second run of the same suite sends nothing, its answers are
marked cached and carry no timings; repeats stay separate samples; ``--no-cache`` sends again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import Run, make_test
from tests.scripted_server import Echo, ScriptedServer
from tests.test_runner_e2e import _agent, _base_config, _suite

ARGS = ("--base_config", "base_config.toml", "--agent_config", "agents")


def _runs(results: Path) -> set[Path]:
    return {p for p in results.iterdir() if (p / "manifest.json").exists()}


def _run_once(run: Run, results: Path, *extra: str) -> list[dict[str, Any]]:
    """Run the suite once more; the new run's journal entries."""
    before = _runs(results) if results.exists() else set()
    done = run(*ARGS, *extra)
    assert done.returncode == 0, done.stderr
    [run_dir] = _runs(results) - before
    lines = (run_dir / "results.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_a_second_run_is_answered_from_the_cache(
    tmp_path: Path, server: ScriptedServer, run: Run
) -> None:
    _suite(tmp_path, [make_test("q1"), make_test("q2")])
    extra = 'cache = true\ncache_dir = "cache"\nrepeats = 2'
    _base_config(tmp_path, server.url + "/v1", server.url + "/v1", extra=extra)
    _agent(tmp_path, "alpha", server.url + "/v1")
    server.set_default(Echo(prefix="said: "))

    results = tmp_path / "results"
    first = _run_once(run, results)
    sent = server.request_count()
    assert sent == 4  # 2 tests x 2 repeats: the repeats are not answered from each other
    assert (tmp_path / "cache" / "llmbench-cache.sqlite").exists()
    assert not any(e["cached"] for e in first)

    entries = _run_once(run, results)
    assert server.request_count() == sent  # nothing sent
    assert len(entries) == 4 and all(e["cached"] and e["status"] == "ok" for e in entries)
    assert {e["response_text"] for e in entries} == {"said: question q1", "said: question q2"}
    assert all(e["time_to_first_token"] is None and e["tokens_per_second"] is None for e in entries)

    third = _run_once(run, results, "--no-cache")
    assert server.request_count() == sent + 4
    assert not any(e["cached"] for e in third)


def test_the_cache_is_off_unless_asked_for(
    tmp_path: Path, server: ScriptedServer, run: Run
) -> None:
    _suite(tmp_path, [make_test("q1")])
    _base_config(tmp_path, server.url + "/v1", server.url + "/v1")
    _agent(tmp_path, "alpha", server.url + "/v1")
    for _ in range(2):
        assert run(*ARGS).returncode == 0
    assert server.request_count() == 2
    assert not (tmp_path / "results" / ".cache" / "llmbench-cache.sqlite").exists()
