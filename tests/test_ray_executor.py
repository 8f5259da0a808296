"""The Ray executor against the scripted servers, on a local Ray instance (``num_cpus=2``,
started once for this module): the same results, scores and journal keys as the local executor,
the same limits at the server, tests of a killed actor run elsewhere exactly once, config
mistakes found before anything is written, and no actor left behind."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import ray

import llmbench
from llmbench import ConfigError
from llmbench.scoring.base import Score
from llmbench.scoring.python_exec import PythonScorer
from tests.conftest import Run, make_test
from tests.scripted_server import Answer, Drop, ScriptedServer
from tests.test_run_api import _comparable, _keys, _setup, _summary
from tests.test_runner_e2e import _agent, _base_config, _journal, _start, _suite, _wait_for_lines

SECRET = "sk-ray-secret-5c1e9a7b3d"
KEY_ENV = "LLMBENCH_RAY_TEST_KEY"


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """One local Ray instance for the module (its start-up takes seconds)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ[KEY_ENV] = SECRET  # before Ray starts: its workers inherit it, as a node's would
    ray.init(
        num_cpus=2,
        resources={"server_a": 1},  # as `ray start --resources '{"server_a": 1}'` gives a node
        include_dashboard=False,
        log_to_driver=False,
        logging_level="WARNING",
    )
    yield
    ray.shutdown()
    del os.environ[KEY_ENV]


@pytest.fixture(autouse=True)
def _no_keeper_left() -> Iterator[None]:
    """No local Ray head a run started outlives it."""
    yield
    deadline = time.monotonic() + 20
    while _keepers() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _keepers() == []


def _processes(matches: Callable[[bytes], bool]) -> list[int]:
    """The processes whose command line (or, once Ray retitled them, title) ``matches``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if matches((entry / "cmdline").read_bytes()):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _keepers() -> list[int]:
    return _processes(lambda cmd: b"llmbench.executors.ray_head" in cmd)


def _worker_pids() -> list[int]:
    """The processes of live llmbench actors (Ray titles them ``ray::Worker...``)."""
    return _processes(lambda title: title.startswith(b"ray::Worker"))


def _actors_alive(wait_s: float = 10.0) -> int:
    """How many llmbench actors are left, once those being killed had ``wait_s`` to exit."""
    deadline = time.monotonic() + wait_s
    while _worker_pids() and time.monotonic() < deadline:
        time.sleep(0.1)
    return len(_worker_pids())


def test_ray_gives_the_results_and_scores_of_local(
    tmp_path: Path, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch, local_ray: None
) -> None:
    _setup(tmp_path, server, tests=6)
    monkeypatch.chdir(tmp_path)
    local = llmbench.run("base_config.toml", "agents", repeats=2)
    remote = llmbench.run("base_config.toml", "agents", repeats=2, executor="ray")
    assert remote.status == "completed" and remote.all_ran and not remote.errors
    assert _keys(remote.directory) == _keys(local.directory)
    assert len(_keys(remote.directory)) == 24
    assert _comparable(remote.summary) == _comparable(local.summary)
    assert remote.summary == _summary(remote.directory)
    entries = _journal(remote.directory)
    assert len({(e["agent_id"], e["test_id"], e["repeat"]) for e in entries}) == len(entries)
    assert all(e["response_text"] == "42" for e in entries)
    sessions = json.loads((remote.directory / "manifest.json").read_text())["sessions"]
    assert sessions[-1]["executor"] == {
        "name": "ray",
        "address": None,
        "actors": 2,
        "nodes": [os.uname().nodename],
        "embedded_servers": 0,
    }
    local_sessions = json.loads((local.directory / "manifest.json").read_text())["sessions"]
    assert local_sessions[-1]["executor"] == {"name": "local"}
    assert _actors_alive() == 0  # the run's actors ended with it


def test_limits_hold_at_the_server(
    tmp_path: Path,
    server: ScriptedServer,
    server2: ScriptedServer,
    monkeypatch: pytest.MonkeyPatch,
    local_ray: None,
) -> None:
    _setup(tmp_path, server, tests=16, ttft_s=0.1)
    server2.set_default(Answer(chunks=["4", "2"], ttft_s=0.1))
    _base_config(tmp_path, server.url + "/v1", server.url + "/v1", max_workers=5)
    _agent(tmp_path, "alpha", server.url + "/v1", "max_concurrency = 2")
    _agent(tmp_path, "beta", server2.url + "/v1", "max_concurrency = 4")
    monkeypatch.chdir(tmp_path)
    run = llmbench.run("base_config.toml", "agents", executor="ray")
    assert run.status == "completed" and run.all_ran
    assert server.peak_in_flight() == 2  # alpha's own bound, reached and never passed
    assert 2 < server2.peak_in_flight() <= 4  # beta's, within max_workers = 5 over both


def test_rpm_holds_over_the_actors(
    tmp_path: Path, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch, local_ray: None
) -> None:
    _setup(tmp_path, server, tests=4)
    _agent(tmp_path, "alpha", server.url + "/v1", "rpm = 120")  # 2 a second
    (tmp_path / "agents" / "beta.toml").unlink()
    monkeypatch.chdir(tmp_path)
    run = llmbench.run("base_config.toml", "agents", executor="ray")
    assert run.status == "completed" and run.all_ran
    chats = [r for r in server.requests if r.path.endswith("/chat/completions")]
    assert len(chats) == 4
    times = sorted(r.received_at for r in chats)
    # two actors each hold 60 rpm: four requests need at least 1 s between first and last
    assert times[-1] - times[0] >= 0.9


def test_auto_concurrency_and_the_breaker_work_over_the_actors(
    tmp_path: Path,
    server: ScriptedServer,
    server2: ScriptedServer,
    monkeypatch: pytest.MonkeyPatch,
    local_ray: None,
) -> None:
    _setup(tmp_path, server, tests=100)
    _agent(tmp_path, "alpha", server.url + "/v1", 'max_concurrency = "auto"')
    _agent(tmp_path, "beta", server2.url + "/v1")
    server2.set_default(Drop())  # beta's server accepts connections and closes them at once
    monkeypatch.chdir(tmp_path)
    run = llmbench.run("base_config.toml", "agents", executor="ray")
    assert run.status == "completed"
    alpha, _ = run.summary["agents"]
    assert alpha["concurrency"]["mode"] == "auto" and alpha["summary"]["successful_tests"] == 100
    entries = [e for e in _journal(run.directory) if e["agent_id"] == "beta"]
    assert len(entries) == 100 and all(e["status"] == "error" for e in entries)
    # each of the two actors opened its breaker after a few tests: the rest sent nothing
    assert sum(e["error_kind"] == "circuit_open" for e in entries) >= 80
    assert server2.request_count() < 40
    assert any(f"{server2.url.removeprefix('http://')} is unreachable" in e for e in run.errors)


def test_an_agent_with_ray_resources_gets_a_pool_of_its_own(
    tmp_path: Path, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch, local_ray: None
) -> None:
    _setup(tmp_path, server, tests=4)
    _agent(tmp_path, "beta", server.url + "/v1", 'ray_resources = {"server_a" = 0.001}')
    monkeypatch.chdir(tmp_path)
    run = llmbench.run("base_config.toml", "agents", executor="ray")
    assert run.status == "completed" and run.all_ran
    log = (run.directory / "run.log").read_text()
    assert "executor ray: 4 actors in 2 pool(s)" in log  # alpha's two, beta's two on server_a


def test_the_python_scorer_runs_on_the_actors(
    tmp_path: Path, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch, local_ray: None
) -> None:
    """The driver's own python scorer is broken here: the verdicts can only come from the
    actors (separate processes that import llmbench afresh)."""
    _setup(tmp_path, server)
    tests = [
        make_test(
            f"code{i}",
            assertions=["assert add(2, 3) == 5"],
            scoring=[{"type": "python", "timeout_s": 5, "memory_mb": 256}],
        )
        for i in range(4)
    ]
    _suite(tmp_path, tests)
    server.set_default(Answer("```python\ndef add(a, b):\n    return a + b\n```"))
    monkeypatch.chdir(tmp_path)

    def broken(self: Any, item: Any) -> Score:
        return Score("python", 0.0, False, "scored in the driver")

    monkeypatch.setattr(PythonScorer, "__call__", broken)
    run = llmbench.run("base_config.toml", "agents", executor="ray")
    assert run.status == "completed"
    for agent in run.summary["agents"]:
        assert agent["quality"]["mean_score"] == 1.0
    records = [
        json.loads(line) for line in (run.directory / "scores.jsonl").read_text().splitlines()
    ]
    assert len(records) == 8
    assert all(r["scoring"]["scores"][0]["reason"] != "scored in the driver" for r in records)

    local = llmbench.run("base_config.toml", "agents")  # locally, the driver scores
    assert all(a["quality"]["mean_score"] == 0.0 for a in local.summary["agents"])


def test_a_killed_actor_s_tests_run_elsewhere_exactly_once(
    tmp_path: Path, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch, local_ray: None
) -> None:
    _setup(tmp_path, server, tests=30, ttft_s=0.2)
    monkeypatch.chdir(tmp_path)
    killed: list[int] = []

    def kill_one(progress: llmbench.RunProgress) -> None:
        if killed or progress.total.completed_tests < 4:
            return
        pids = _worker_pids()
        if pids:
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    run = llmbench.run(
        "base_config.toml", "agents", executor="ray", on_progress=kill_one, progress_interval_s=0.1
    )
    assert killed
    assert run.status == "completed"
    keys = _keys(run.directory)
    assert len(keys) == 60 and len(set(keys)) == 60
    assert all(status == "ok" for *_, status in keys)
    entries = _journal(run.directory)
    assert len(entries) == 60  # journaled once each
    assert _actors_alive() == 0


def test_ray_mistakes_are_input_errors_and_write_nothing(
    tmp_path: Path, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch, local_ray: None
) -> None:
    _setup(tmp_path, server)
    monkeypatch.chdir(tmp_path)
    _agent(tmp_path, "beta", server.url + "/v1", 'headers = {Authorization = "Bearer sk-x"}')
    with pytest.raises(ConfigError, match="api_key_env") as caught:
        llmbench.run("base_config.toml", "agents", executor="ray")
    assert "sk-x" not in str(caught.value)
    _agent(tmp_path, "beta", server.url + "/v1", 'ray_resources = {"gpu_node" = 1}')
    with pytest.raises(ConfigError, match="ray_resources: no node of the Ray cluster has"):
        llmbench.run("base_config.toml", "agents", executor="ray")
    with pytest.raises(ConfigError, match="executor: expected one of local, ray"):
        llmbench.run("base_config.toml", "agents", executor="spark")
    assert not (tmp_path / "results").exists()
    assert _actors_alive() == 0


def test_ray_missing_is_one_line_saying_how_to_install_it(
    tmp_path: Path, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _setup(tmp_path, server)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray: ImportError
    with pytest.raises(ConfigError) as caught:
        llmbench.run("base_config.toml", "agents", executor="ray")
    assert str(caught.value).endswith("""executor = "ray" needs Ray: pip install 'llmbench[ray]'""")
    assert not (tmp_path / "results").exists()


def test_the_key_reaches_the_server_from_the_workers_env_and_nothing_of_ray_holds_it(
    tmp_path: Path, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch, local_ray: None
) -> None:
    _setup(tmp_path, server)
    _agent(tmp_path, "beta", server.url + "/v1", f'api_key_env = "{KEY_ENV}"')
    monkeypatch.chdir(tmp_path)
    run = llmbench.run("base_config.toml", "agents", executor="ray")
    assert run.status == "completed" and run.all_ran
    chats = [r for r in server.requests if r.path.endswith("/chat/completions")]
    keyed = [r for r in chats if r.headers.get("Authorization") == f"Bearer {SECRET}"]
    assert len(keyed) == 3  # beta's three tests, sent by the actors with the node's key
    session = Path(ray._private.worker._global_node.get_session_dir_path())
    for path in [*session.rglob("*"), *run.directory.rglob("*")]:
        if path.is_file() and not path.is_socket():
            assert SECRET.encode() not in path.read_bytes(), path  # logs, spilled task args


def test_a_key_missing_on_the_workers_node_is_one_line_and_writes_nothing(
    tmp_path: Path, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch, local_ray: None
) -> None:
    """Set after Ray started: the driver has the variable, the workers' node does not."""
    _setup(tmp_path, server)
    _agent(tmp_path, "beta", server.url + "/v1", 'api_key_env = "LLMBENCH_LATE_KEY"')
    monkeypatch.setenv("LLMBENCH_LATE_KEY", "sk-late-0123456789")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="LLMBENCH_LATE_KEY is not set") as caught:
        llmbench.run("base_config.toml", "agents", executor="ray")
    assert "the Ray worker on" in str(caught.value) and "sk-late" not in str(caught.value)
    assert not (tmp_path / "results").exists()
    assert _actors_alive() == 0


def test_an_unreachable_cluster_is_one_line_and_writes_nothing(
    tmp_path: Path, server: ScriptedServer, run: Run
) -> None:
    _setup(tmp_path, server)
    _base_config(
        tmp_path,
        server.url + "/v1",
        server.url + "/v1",
        extra='executor = "ray"\nray_address = "127.0.0.1:9"',
    )
    started = time.monotonic()
    done = run("--base_config", "base_config.toml", "--agent_config", "agents")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: the Ray cluster at 127.0.0.1:9 cannot be reached: Connection refused"
    ], done.stderr
    assert time.monotonic() - started < 30
    assert not (tmp_path / "results").exists()


def _pids() -> set[int]:
    return {int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()}


def _alive(pids: set[int]) -> set[int]:
    """Those of ``pids`` still running (an exited process its parent has not reaped yet, a
    zombie, holds nothing)."""
    running = set()
    for pid in pids & _pids():
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if stat[stat.rfind(")") + 2 :].split()[0] != "Z":
            running.add(pid)
    return running


def test_sigkill_of_the_driver_leaves_no_ray_process_and_resume_completes(
    tmp_path: Path, server: ScriptedServer, run: Run
) -> None:
    ids = [f"t{i:02d}" for i in range(30)]
    _suite(tmp_path, [make_test(i, expected=42) for i in ids])
    _base_config(tmp_path, server.url + "/v1", server.url + "/v1")
    _agent(tmp_path, "alpha", server.url + "/v1", "max_concurrency = 2")
    server.set_default(Answer(chunks=["4", "2"], ttft_s=0.1))
    before = _pids()
    proc = _start(tmp_path, "--executor", "ray")
    run_dir = _wait_for_lines(tmp_path / "results", 5, proc)
    started = _pids() - before - {proc.pid}  # the keeper, Ray's head, its agents, the actors
    assert len(started) >= 4
    proc.kill()
    proc.communicate(timeout=30)
    deadline = time.monotonic() + 20
    while _alive(started) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = {p: Path(f"/proc/{p}/cmdline").read_bytes()[:80] for p in _alive(started)}
    assert not left  # every process the run started ended with it
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "running"
    assert len(_journal(run_dir)) < 30

    done = run("--resume", str(run_dir))  # on the executor it ran on, not the config's
    assert done.returncode == 0, done.stderr
    entries = _journal(run_dir)
    ok = [e["test_id"] for e in entries if e["status"] == "ok"]
    assert sorted(ok) == ids  # each test has exactly one result; none ran twice
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    assert [s["executor"]["name"] for s in manifest["sessions"]] == ["ray", "ray"]
