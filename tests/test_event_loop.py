"""The event loop of a run: uvloop where installed, ``LLMBENCH_LOOP`` to choose; a bad value is
bad input found before anything is written."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from llmbench.engine import loop as event_loop
from llmbench.errors import ConfigError
from tests.conftest import Run, make_test
from tests.scripted_server import Answer, ScriptedServer
from tests.test_runner_e2e import _agent, _base_config, _journal, _run_dir, _suite


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_uvloop_is_used_where_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("uvloop")  # a dependency on Linux: installed wherever the tests run
    monkeypatch.delenv(event_loop.ENV, raising=False)
    assert event_loop.loop_name() == "uvloop"
    assert event_loop.run(_loop_module()).startswith("uvloop")


@pytest.mark.parametrize("value", ["asyncio", " AsyncIO "])
def test_the_standard_loop_can_be_forced(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(event_loop.ENV, value)
    assert event_loop.loop_name() == "asyncio"
    assert event_loop.run(_loop_module()) == "asyncio.unix_events"


def test_an_unknown_loop_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(event_loop.ENV, "tokio")
    with pytest.raises(
        ConfigError, match=r"LLMBENCH_LOOP='tokio': expected one of uvloop, asyncio"
    ):
        event_loop.run(_loop_module())  # the coroutine is closed: no "never awaited" warning


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_run_gives_the_same_results_on_either_loop(
    tmp_path: Path, server: ScriptedServer, run: Run, loop: str
) -> None:
    server.set_default(Answer(chunks=["4", "2"], ttft_s=0.01))
    _suite(tmp_path, [make_test(f"t{i}", expected=42) for i in range(6)])
    _base_config(tmp_path, server.url + "/v1", server.url + "/v1")
    _agent(tmp_path, "alpha", server.url + "/v1")
    done = run("--base_config", "base_config.toml", "--agent_config", "agents", "-l", "DEBUG",
               env={event_loop.ENV: loop})  # fmt: skip
    assert done.returncode == 0, done.stderr
    entries = _journal(_run_dir(tmp_path))
    assert sorted(e["test_id"] for e in entries) == [f"t{i}" for i in range(6)]
    assert all(e["response_text"] == "42" and e["time_to_first_token"] for e in entries)
    log = next(_run_dir(tmp_path).glob("run.log")).read_text(encoding="utf-8")
    assert f"(event loop: {loop})" in log


def test_a_bad_loop_on_the_command_line_is_one_line_and_writes_nothing(
    tmp_path: Path, server: ScriptedServer, run: Run
) -> None:
    _suite(tmp_path, [make_test("a")])
    _base_config(tmp_path, server.url + "/v1", server.url + "/v1")
    _agent(tmp_path, "alpha", server.url + "/v1")
    done = run("--base_config", "base_config.toml", "--agent_config", "agents",
               env={event_loop.ENV: "tokio"})  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == "error: LLMBENCH_LOOP='tokio': expected one of uvloop, asyncio\n"
    assert not (tmp_path / "results").exists()
