"""``llmbench.run()`` and ``llmbench.run_async()``: the command line's run as a library call,
against the scripted server: the same files and summary, errors raised (never an exit), config
objects, progress, cancellation, resume, and calls from inside a running event loop."""

from __future__ import annotations

import asyncio
import json
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

import llmbench
from llmbench import AgentConfig, BaseConfig, ConfigError, EndpointError, Interrupted, RunProgress
from llmbench.cli.run import main as runner_main
from tests.conftest import make_test
from tests.scripted_server import Answer, ScriptedServer
from tests.test_runner_e2e import _agent, _base_config, _journal, _suite

EXPECTED = 42


def _setup(tmp_path: Path, server: ScriptedServer, tests: int = 3, **answer: Any) -> None:
    server.set_default(Answer(chunks=["4", "2"], **answer))
    _suite(tmp_path, [make_test(f"q{i}", expected=EXPECTED) for i in range(1, tests + 1)])
    _base_config(tmp_path, server.url + "/v1", server.url + "/v1")
    _agent(tmp_path, "alpha", server.url + "/v1")
    _agent(tmp_path, "beta", server.url + "/v1")


def _summary(directory: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((directory / "summary.json").read_text(encoding="utf-8"))
    return data


def _comparable(summary: dict[str, Any]) -> list[tuple[Any, ...]]:
    """What two runs of the same answers agree on: per agent, counts and scores."""
    return [
        (
            a["agent_id"],
            a["summary"]["total_tests"],
            a["summary"]["successful_tests"],
            a["summary"]["failed_tests"],
            a["quality"]["mean_score"],
        )
        for a in summary["agents"]
    ]


def _keys(directory: Path) -> list[tuple[str, str, int, str]]:
    return sorted(
        (e["agent_id"], e["test_id"], e["repeat"], e["status"]) for e in _journal(directory)
    )


def test_run_from_python_writes_what_the_command_line_writes(
    tmp_path: Path, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _setup(tmp_path, server)
    monkeypatch.chdir(tmp_path)
    before = signal.getsignal(signal.SIGINT)
    run = llmbench.run("base_config.toml", "agents", repeats=2)
    assert signal.getsignal(signal.SIGINT) is before  # the library installs no handlers
    assert run.status == "completed" and run.all_ran and run.executed == 12 and not run.errors
    assert run.directory == tmp_path / "results" / run.run_id
    assert run.summary == _summary(run.directory)
    assert [a["agent_id"] for a in run.summary["agents"]] == ["alpha", "beta"]
    assert all(a["quality"]["mean_score"] == 1.0 for a in run.summary["agents"])

    assert (
        runner_main(
            ["--base_config", "base_config.toml", "--agent_config", "agents", "--repeats", "2"]
        )
        == 0
    )
    (cli_dir,) = [p for p in (tmp_path / "results").iterdir() if p != run.directory]
    assert _keys(cli_dir) == _keys(run.directory)
    assert len(_keys(run.directory)) == 12
    assert _comparable(_summary(cli_dir)) == _comparable(run.summary)
    assert sorted(p.name for p in cli_dir.iterdir()) == sorted(
        p.name for p in run.directory.iterdir()
    )
    manifest = json.loads((run.directory / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "completed"
    assert manifest["inputs"]["base_config"] == str(tmp_path / "base_config.toml")
    assert manifest["inputs"]["agent_config"] == str(tmp_path / "agents")


def test_narrowing_the_run_by_agents_and_tests(
    tmp_path: Path, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _setup(tmp_path, server)
    monkeypatch.chdir(tmp_path)
    run = llmbench.run(agent_config="agents", agents="beta", tests=["q2", "q3"])
    assert _keys(run.directory) == [("beta", "q2", 0, "ok"), ("beta", "q3", 0, "ok")]
    assert [a["agent_id"] for a in run.summary["agents"]] == ["beta"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (dict(base_config="missing.toml"), "missing.toml"),
        (dict(tests=["q9"]), "q9"),
        (dict(agents=["gamma"]), "unknown agent 'gamma'"),
        (dict(repeats=0), "repeats: expected a whole number >= 1"),
        (dict(log_level="LOUD"), "log_level"),
        (dict(retry_errors=True), "--retry-errors: only with --resume"),
        (dict(resume="results/nope"), "not a run directory"),
        (dict(agent_config=[]), "no agents given"),
    ],
)
def test_a_mistake_raises_input_error_and_writes_nothing(
    tmp_path: Path,
    server: ScriptedServer,
    monkeypatch: pytest.MonkeyPatch,
    call: dict[str, Any],
    message: str,
) -> None:
    _setup(tmp_path, server)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(llmbench.InputError) as caught:
        llmbench.run(**{"base_config": "base_config.toml", "agent_config": "agents", **call})
    assert message in str(caught.value)
    assert not (tmp_path / "results").exists()
    assert server.requests == []


def test_an_unreachable_endpoint_raises_endpoint_error(
    tmp_path: Path, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _setup(tmp_path, server)
    _agent(tmp_path, "beta", "http://127.0.0.1:9/v1")  # the discard port: nothing listens
    monkeypatch.chdir(tmp_path)
    with pytest.raises(EndpointError, match=r"beta: cannot reach http://127\.0\.0\.1:9/v1/models"):
        llmbench.run(agent_config="agents")
    assert not (tmp_path / "results").exists()


def test_configs_given_as_objects_and_resumed_with_them(
    tmp_path: Path, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _setup(tmp_path, server)
    monkeypatch.chdir(tmp_path)
    base = BaseConfig.model_validate(
        {"benchmark": {"test_suite": "suite.json", "results_dir": "out", "max_workers": 2}}
    )
    agents = [
        AgentConfig(id="one", endpoint=server.url + "/v1", model="scripted-model"),
        AgentConfig(id="two", endpoint=server.url + "/v1", model="scripted-model"),
    ]
    run = llmbench.run(base, agents, tests=["q1"])
    assert run.directory.parent == tmp_path / "out"  # relative to the working directory
    assert _keys(run.directory) == [("one", "q1", 0, "ok"), ("two", "q1", 0, "ok")]
    manifest = json.loads((run.directory / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["inputs"]["base_config"] is None
    assert manifest["inputs"]["agent_config"] is None

    with pytest.raises(ConfigError, match="given as an object, not a file; give it again"):
        llmbench.run(resume=run.directory)
    again = llmbench.run(base, agents, resume=run.directory)
    assert again.executed == 0 and again.summary == run.summary


def test_one_agent_object_and_a_wrong_type(
    tmp_path: Path, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _setup(tmp_path, server)
    monkeypatch.chdir(tmp_path)
    solo = AgentConfig(id="solo", endpoint=server.url + "/v1", model="scripted-model")
    run = llmbench.run("base_config.toml", solo, tests=["q1"])
    assert _keys(run.directory) == [("solo", "q1", 0, "ok")]
    with pytest.raises(ConfigError, match=r"agent_config\[1\]: expected an AgentConfig, got dict"):
        llmbench.run("base_config.toml", [solo, {"id": "x"}])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="base_config: expected a path or a BaseConfig"):
        llmbench.run(42)  # type: ignore[arg-type]


def test_run_async_runs_in_the_callers_event_loop(
    tmp_path: Path, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _setup(tmp_path, server)
    monkeypatch.chdir(tmp_path)

    async def main() -> tuple[llmbench.Run, bool]:
        ticks = 0

        async def beat() -> None:  # the caller's own task keeps running beside the run
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(beat())
        run = await llmbench.run_async(agent_config="agents", tests=["q1", "q2"])
        task.cancel()
        return run, ticks > 0

    run, beat_ran = asyncio.run(main())
    assert beat_ran
    assert run.status == "completed" and len(_keys(run.directory)) == 4


def test_run_called_where_a_loop_is_running_gets_a_loop_of_its_own(
    tmp_path: Path, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _setup(tmp_path, server)
    monkeypatch.chdir(tmp_path)

    async def notebook_cell() -> llmbench.Run:
        return llmbench.run(
            agent_config="agents", tests=["q1"]
        )  # as in Jupyter, whose loop is running

    run = asyncio.run(notebook_cell())
    assert run.status == "completed" and len(_keys(run.directory)) == 2


def test_progress_is_reported_at_the_start_while_running_and_at_the_end(
    tmp_path: Path, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _setup(tmp_path, server, tests=4, ttft_s=0.1)
    monkeypatch.chdir(tmp_path)
    seen: list[RunProgress] = []
    run = llmbench.run(agent_config="agents", on_progress=seen.append, progress_interval_s=0.05)
    assert len(seen) >= 3
    first, last = seen[0], seen[-1]
    assert first.directory == run.directory and first.run_id == run.run_id
    assert list(first.agents) == ["alpha", "beta"] and first.total.total_tests == 8
    assert not first.finished and last.finished
    assert last.total.completed_tests == 8 and last.total.successful_tests == 8
    assert any(0 < p.total.completed_tests < 8 for p in seen)  # seen while it ran


def test_a_faulty_progress_listener_does_not_stop_the_run(
    tmp_path: Path, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _setup(tmp_path, server)
    monkeypatch.chdir(tmp_path)

    def broken(progress: RunProgress) -> None:
        raise RuntimeError("listener bug")

    run = llmbench.run(agent_config="agents", on_progress=broken)
    assert run.status == "completed" and len(_keys(run.directory)) == 6


def test_cancel_ends_the_run_interrupted_with_every_started_test_saved_then_resume(
    tmp_path: Path, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _setup(tmp_path, server, tests=8, ttft_s=0.4)
    monkeypatch.chdir(tmp_path)
    cancel = threading.Event()

    def on_progress(progress: RunProgress) -> None:
        if progress.total.completed_tests >= 2:
            cancel.set()

    run = llmbench.run(
        agent_config="agents", on_progress=on_progress, progress_interval_s=0.05, cancel=cancel
    )
    assert run.status == "interrupted" and not run.all_ran
    statuses = [k[3] for k in _keys(run.directory)]
    assert statuses.count("ok") >= 2 and "cancelled" in statuses
    assert len(statuses) < 16  # the tests never started have no result, to run on resume
    manifest = json.loads((run.directory / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "interrupted"
    assert run.summary["status"] == "interrupted"

    resumed = llmbench.run(resume=run.directory)
    assert resumed.status == "completed" and resumed.all_ran
    assert resumed.summary["agents"][0]["summary"]["successful_tests"] == 8
    assert resumed.executed == 16 - statuses.count("ok")


def test_cancelling_the_task_saves_every_started_test_and_raises(
    tmp_path: Path, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _setup(tmp_path, server, tests=6, ttft_s=0.5)
    monkeypatch.chdir(tmp_path)
    directory: list[Path] = []

    async def main() -> None:
        task = asyncio.create_task(
            llmbench.run_async(
                agent_config="agents", on_progress=lambda p: directory.append(p.directory)
            )
        )
        while not directory:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)  # tests in flight, none ended
        task.cancel()
        await task

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(main())
    run_dir = directory[0]
    statuses = [k[3] for k in _keys(run_dir)]
    assert statuses and set(statuses) == {"cancelled"}  # every started test has its result
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "interrupted"
    assert (run_dir / "summary.json").exists()


def test_cancelled_before_it_starts_nothing_is_written(
    tmp_path: Path, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _setup(tmp_path, server)
    monkeypatch.chdir(tmp_path)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Interrupted, match="nothing was written"):
        llmbench.run(agent_config="agents", cancel=cancel)
    assert not (tmp_path / "results").exists()


def test_resuming_a_completed_run_returns_its_summary(
    tmp_path: Path, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _setup(tmp_path, server)
    monkeypatch.chdir(tmp_path)
    run = llmbench.run(agent_config="agents")
    sent = len(server.requests)
    again = llmbench.run(resume=str(run.directory))
    assert again.executed == 0 and again.status == "completed"
    assert again.summary == run.summary and again.directory == run.directory
    assert len(server.requests) == sent  # nothing sent, not even the endpoint check
