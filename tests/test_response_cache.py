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


def _latest(results: Path) -> list[dict[str, Any]]:
    run_dir = sorted(p for p in results.iterdir() if (p / "manifest.json").exists())[-1]
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

    first = run(*ARGS)
    assert first.returncode == 0, first.stderr
    sent = server.request_count()
    assert sent == 4  # 2 tests x 2 repeats: the repeats are not answered from each other
    assert (tmp_path / "cache" / "llmbench-cache.sqlite").exists()
    assert not any(e["cached"] for e in _latest(tmp_path / "results"))

    second = run(*ARGS)
    assert second.returncode == 0, second.stderr
    assert server.request_count() == sent  # nothing sent
    entries = _latest(tmp_path / "results")
    assert len(entries) == 4 and all(e["cached"] and e["status"] == "ok" for e in entries)
    assert {e["response_text"] for e in entries} == {"said: question q1", "said: question q2"}
    assert all(e["time_to_first_token"] is None and e["tokens_per_second"] is None for e in entries)

    third = run(*ARGS, "--no-cache")
    assert third.returncode == 0, third.stderr
    assert server.request_count() == sent + 4
    assert not any(e["cached"] for e in _latest(tmp_path / "results"))


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
