"""``runner.py`` end to end, as a subprocess against two scripted servers: the whole run
directory, interruption and resume. Bad configs are in ``tests/test_bad_input_corpus.py``."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RUNNER, Run, make_test
from tests.scripted_server import Answer, Echo, ScriptedServer, Status

INSTRUCTOR = "You play the user"  # opens the instructor's system prompt
SUPERVISOR = "You check the messages"  # opens the supervisor's system prompt
SECRET = "sk-e2e-secret-value-1234"


def _base_config(
    tmp: Path,
    instructor_url: str,
    supervisor_url: str,
    *,
    max_workers: int = 4,
    extra: str = "",
    result_files: bool = True,
) -> Path:
    path = tmp / "base_config.toml"
    path.write_text(
        f"""
[benchmark]
test_suite = "suite.json"
results_dir = "results"
max_workers = {max_workers}
result_files = {str(result_files).lower()}
{extra}

[instructor]
endpoint = "{instructor_url}"
model = "scripted-model"
mode = "llm"
max_turns = 2
retry_attempts = 0

[supervisor]
endpoint = "{supervisor_url}"
model = "scripted-model"
retry_attempts = 0
""",
        encoding="utf-8",
    )
    return path


def _agent(tmp: Path, agent_id: str, url: str, extra: str = "") -> Path:
    directory = tmp / "agents"
    directory.mkdir(exist_ok=True)
    path = directory / f"{agent_id}.toml"
    path.write_text(
        f'id = "{agent_id}"\nendpoint = "{url}"\nmodel = "scripted-model"\n'
        f"retry_attempts = 1\ntimeout = 10\n{extra}\n",
        encoding="utf-8",
    )
    return path


def _suite(tmp: Path, tests: list[dict[str, Any]]) -> Path:
    path = tmp / "suite.json"
    path.write_text(json.dumps({"suite_info": {"name": "e2e"}, "tests": tests}), encoding="utf-8")
    return path


INTERACTIVE = make_test(
    "chat_01",
    type="interactive",
    instructions=["Ask for a 90 euro budget over 3 days.", "Ask how much per day."],
    context="30 euros a day.",
    expected=30,
    prompt=None,
)
del INTERACTIVE["prompt"]


def _run_dir(tmp: Path) -> Path:
    dirs = [p for p in (tmp / "results").iterdir() if (p / "manifest.json").exists()]
    assert len(dirs) == 1, dirs
    return dirs[0]


def _journal(run_dir: Path) -> list[dict[str, Any]]:
    lines = (run_dir / "results.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_two_agents_with_instructor_and_supervisor_write_a_complete_run_directory(
    tmp_path: Path, server: ScriptedServer, server2: ScriptedServer, run: Run, executor: str
) -> None:
    """The whole run, with this process's event loop or on Ray actors (a local Ray instance
    the run starts and stops)."""
    started = time.time()
    _suite(tmp_path, [make_test("q1"), make_test("q2"), INTERACTIVE])
    _base_config(tmp_path, server.url + "/v1", server2.url + "/v1")
    _agent(tmp_path, "alpha", server.url + "/v1", 'system_prompt = "Be brief."')
    _agent(
        tmp_path,
        "beta",
        server2.url + "/v1",
        'api_key_env = "E2E_KEY"\n[parameters]\ntemperature = 0.5',
    )
    server.set_default(Echo(prefix="alpha says: "))
    server2.set_default(Echo(prefix="beta says: "))
    server.script(
        *[Answer(json.dumps({"message": "How much per day?", "done": False}))] * 4,
        marker=INSTRUCTOR,
    )
    verdict = {"ok": False, "corrected_message": "What is my daily budget?", "reason": "leaks"}
    server2.script(*[Answer(json.dumps(verdict))] * 4, marker=SUPERVISOR)

    done = run(
        "--base_config",
        "base_config.toml",
        "--agent_config",
        "agents",
        "-l",
        "INFO",
        "--executor",
        executor,
        env={"E2E_KEY": SECRET},
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    run_dir = _run_dir(tmp_path)
    assert f"results: {run_dir}" in done.stdout
    assert {p.name for p in run_dir.iterdir()} == {
        "manifest.json",
        "results.jsonl",
        "summary.json",
        "run.log",
        "scores.jsonl",
        "report.md",
        "report.html",
        "alpha",
        "beta",
    }

    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "completed" and manifest["ended_at"]
    assert manifest["run_id"] == run_dir.name
    assert manifest["selection"] == {
        "agents": ["alpha", "beta"],
        "tests": ["q1", "q2", "chat_01"],
        "repeats": 1,
    }
    assert [a["id"] for a in manifest["agents"]] == ["alpha", "beta"]
    assert manifest["agents"][1]["api_key_env"] == "E2E_KEY"

    entries = _journal(run_dir)
    keys = sorted((e["agent_id"], e["test_id"], e["repeat"]) for e in entries)
    assert keys == sorted((a, t, 0) for a in ("alpha", "beta") for t in ("q1", "q2", "chat_01"))
    assert all(e["status"] == "ok" for e in entries)
    by_key = {(e["agent_id"], e["test_id"]): e for e in entries}
    assert by_key[("alpha", "q1")]["response_text"] == "alpha says: question q1"
    assert by_key[("beta", "q2")]["response_text"] == "beta says: question q2"

    chat = json.loads((run_dir / "beta" / "chat_01-r0.json").read_text())
    assert {k: v for k, v in chat.items() if k != "scoring"} == by_key[("beta", "chat_01")]
    assert chat["scoring"]["scores"][0]["scorer"] == "numeric"  # expected 30
    users = [t for t in chat["transcript"] if t["role"] == "user"]
    assert len(users) == 2  # max_turns
    assert all(
        t["source"] == "supervisor" and t["content"] == "What is my daily budget?" for t in users
    )
    assert all(t["proposed"] == "How much per day?" and t["reason"] == "leaks" for t in users)
    assert chat["response_text"] == "beta says: What is my daily budget?"

    # what each server was sent
    alpha_bodies = [r.body for r in server.requests if r.body and INSTRUCTOR not in r.prompt_text]
    assert all(b["messages"][0] == {"role": "system", "content": "Be brief."} for b in alpha_bodies)
    beta = [r for r in server2.requests if r.body and SUPERVISOR not in r.prompt_text]
    assert all(r.headers.get("Authorization") == f"Bearer {SECRET}" for r in beta)
    assert all(r.body["temperature"] == 0.5 for r in beta if r.body)
    assert server.request_count(INSTRUCTOR) == 4 and server2.request_count(SUPERVISOR) == 4

    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert [
        (a["agent_id"], a["planned"], a["not_run"], a["summary"]["successful_tests"])
        for a in summary["agents"]
    ] == [("alpha", 3, 0, 3), ("beta", 3, 0, 3)]
    log = (run_dir / "run.log").read_text()
    assert f"run {run_dir.name}: 6 tests to run over 2 agents" in log

    for path in [
        *run_dir.rglob("*"),
    ]:
        if path.is_file():
            assert SECRET not in path.read_text(encoding="utf-8"), path
    assert SECRET not in done.stdout + done.stderr
    if executor == "ray":  # Ray's folder (sessions, logs) went with the run's Ray instance
        left = [d for d in Path(tempfile.gettempdir()).glob("llmbench-ray-*")]
        assert not [d for d in left if d.stat().st_mtime > started]


def test_errors_exit_1_and_are_saved_with_their_message(
    tmp_path: Path, server: ScriptedServer, run: Run
) -> None:
    _suite(tmp_path, [make_test("good"), make_test("bad")])
    _base_config(tmp_path, server.url + "/v1", server.url + "/v1", extra='log_dir = "logs"')
    _agent(tmp_path, "alpha", server.url + "/v1")
    server.script(Status(400, "context length exceeded"), marker="question bad")
    done = run("--base_config", "base_config.toml", "--agent_config", "agents")
    assert done.returncode == 1, done.stderr
    entries = {e["test_id"]: e for e in _journal(_run_dir(tmp_path))}
    assert entries["good"]["status"] == "ok"
    assert entries["bad"]["status"] == "error"
    assert "HTTP 400" in entries["bad"]["error_message"]
    assert "context length exceeded" in entries["bad"]["error_message"]
    assert "alpha / bad (repeat 0): HTTP 400" in done.stderr
    run_dir = _run_dir(tmp_path)
    copy = (tmp_path / "logs" / f"{run_dir.name}.log").read_text()
    assert "alpha / bad (repeat 0): HTTP 400" in copy
    assert copy == (run_dir / "run.log").read_text()


def _wait_for_lines(run_dir_parent: Path, n: int, proc: subprocess.Popen[str]) -> Path:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        dirs = list(run_dir_parent.glob("*/results.jsonl")) if run_dir_parent.exists() else []
        if dirs and len(dirs[0].read_text().splitlines()) >= n:
            return dirs[0].parent
        time.sleep(0.02)
    raise AssertionError(f"fewer than {n} results after 30 s")


def _start(tmp: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            str(RUNNER),
            "--base_config",
            "base_config.toml",
            "--agent_config",
            "agents",
            *args,
        ],
        cwd=tmp,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("how", ["SIGKILL", "SIGINT"])
def test_an_interrupted_run_resumes_to_exactly_one_result_per_test(
    tmp_path: Path, server: ScriptedServer, server2: ScriptedServer, run: Run, how: str
) -> None:
    ids = [f"t{i:02d}" for i in range(24)]
    _suite(tmp_path, [make_test(i) for i in ids])
    _base_config(tmp_path, server.url + "/v1", server.url + "/v1", extra="repeats = 2")
    _agent(tmp_path, "alpha", server.url + "/v1", "max_concurrency = 2")
    _agent(tmp_path, "beta", server2.url + "/v1", "max_concurrency = 2")
    server.set_default(Answer(ttft_s=0.05))
    server2.set_default(Answer(ttft_s=0.05))

    proc = _start(tmp_path)
    run_dir = _wait_for_lines(tmp_path / "results", 10, proc)
    proc.send_signal(getattr(signal, how))
    _out, err = proc.communicate(timeout=30)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    before = _journal(run_dir)
    if how == "SIGKILL":
        assert proc.returncode == -signal.SIGKILL
        assert manifest["status"] == "running"
    else:
        assert proc.returncode == 130, err
        assert manifest["status"] == "interrupted"
        assert "Traceback" not in err
        assert any(e["status"] == "cancelled" for e in before)  # the ones in flight
    assert len(before) < 2 * 24 * 2

    if how == "SIGKILL":
        done = run("--resume", str(run_dir))
    else:  # the command the run printed works as it is, pasted where the run was started
        (hint,) = [line for line in err.splitlines() if line.startswith("interrupted; resume")]
        command = hint.removeprefix("interrupted; resume with: ")
        assert command.endswith(f" --resume results/{run_dir.name}"), hint
        done = subprocess.run(
            command, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
    assert done.returncode == 0, done.stderr
    entries = _journal(run_dir)
    final: dict[tuple[str, str, int], dict[str, Any]] = {}
    for e in entries:
        final[(e["agent_id"], e["test_id"], e["repeat"])] = e
    expected = {(a, t, r) for a in ("alpha", "beta") for t in ids for r in (0, 1)}
    assert set(final) == expected
    assert all(e["status"] == "ok" for e in final.values())
    ok_lines = [(e["agent_id"], e["test_id"], e["repeat"]) for e in entries if e["status"] == "ok"]
    assert len(ok_lines) == len(set(ok_lines))  # nothing that had a result ran again
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "completed" and len(manifest["sessions"]) == 2

    again = run("--resume", str(run_dir))
    assert again.returncode == 0 and "nothing to run" in again.stdout


def test_retry_errors_runs_only_the_errors_again(
    tmp_path: Path, server: ScriptedServer, run: Run
) -> None:
    _suite(tmp_path, [make_test("a"), make_test("b")])
    _base_config(tmp_path, server.url + "/v1", server.url + "/v1")
    _agent(tmp_path, "alpha", server.url + "/v1")
    server.script(Status(400, "nope"), marker="question b")
    assert run("--base_config", "base_config.toml", "--agent_config", "agents").returncode == 1
    run_dir = _run_dir(tmp_path)
    assert run("--resume", str(run_dir)).stdout.startswith("nothing to run")
    done = run("--resume", str(run_dir), "--retry-errors")
    assert done.returncode == 0, done.stderr
    entries = _journal(run_dir)
    seen = [(e["test_id"], e["status"]) for e in entries]
    assert sorted(seen[:2]) == [("a", "ok"), ("b", "error")] and seen[2:] == [("b", "ok")]
    assert json.loads((run_dir / "alpha" / "b-r0.json").read_text())["status"] == "ok"


def test_without_result_files_the_run_directory_holds_no_per_test_files(
    tmp_path: Path, server: ScriptedServer, run: Run
) -> None:
    _suite(tmp_path, [make_test("a"), make_test("b")])
    _base_config(tmp_path, server.url + "/v1", server.url + "/v1", result_files=False)
    _agent(tmp_path, "alpha", server.url + "/v1")
    done = run("--base_config", "base_config.toml", "--agent_config", "agents")
    assert done.returncode == 0, done.stderr
    run_dir = _run_dir(tmp_path)
    assert not [p for p in run_dir.iterdir() if p.is_dir()]  # no agent folder
    assert sorted(e["test_id"] for e in _journal(run_dir)) == ["a", "b"]
    scores = (run_dir / "scores.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["test_id"] for line in scores) == ["a", "b"]


def test_dry_run_counts_and_writes_nothing(
    tmp_path: Path, server: ScriptedServer, run: Run
) -> None:
    _suite(tmp_path, [make_test("a"), make_test("b"), INTERACTIVE])
    _base_config(tmp_path, server.url + "/v1", server.url + "/v1", extra="repeats = 3")
    _agent(tmp_path, "alpha", server.url + "/v1", "rpm = 30")
    _agent(tmp_path, "beta", server.url + "/v1")
    done = run(
        "--agent_config", "agents", "--dry-run", "--agents", "beta", "--categories", "general"
    )
    assert done.returncode == 0, done.stderr
    assert "3 tests x 1 agents x 3 repeats = 9 tests; 9 to run" in done.stdout
    assert "agent requests: 12 at most (3 interactive tests, up to 2 turns each)" in done.stdout
    assert "beta:" in done.stdout and "alpha" not in done.stdout
    assert not (tmp_path / "results").exists()
    assert server.requests == []


def test_an_unreachable_endpoint_is_reported_by_agent_at_once(
    tmp_path: Path, server: ScriptedServer, run: Run
) -> None:
    from llmbench.providers.embedded import free_port

    _suite(tmp_path, [make_test(f"t{i}") for i in range(50)])
    _base_config(tmp_path, server.url + "/v1", server.url + "/v1")
    _agent(tmp_path, "alive", server.url + "/v1")
    _agent(tmp_path, "gone", f"http://127.0.0.1:{free_port()}/v1")
    started = time.monotonic()
    done = run("--base_config", "base_config.toml", "--agent_config", "agents")
    assert time.monotonic() - started < 15
    assert done.returncode == 1
    assert done.stderr.startswith("error: gone: cannot reach http://127.0.0.1:")
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "results").exists()


def test_a_model_the_server_does_not_list_is_bad_input(
    tmp_path: Path, server: ScriptedServer, run: Run
) -> None:
    _suite(tmp_path, [make_test("a")])
    _base_config(tmp_path, server.url + "/v1", server.url + "/v1")
    (_agent(tmp_path, "alpha", server.url + "/v1")).write_text(
        f'id = "alpha"\nendpoint = "{server.url}/v1"\nmodel = "scripted-modle"\n'
    )
    done = run("--base_config", "base_config.toml", "--agent_config", "agents")
    assert done.returncode == 2
    assert "alpha: model 'scripted-modle' is not served by" in done.stderr
    assert "did you mean 'scripted-model'?" in done.stderr


# Bad configs (one line, exit 2, nothing written) are tests/test_bad_input_corpus.py's.


def test_llmbench_run_is_the_same_command(tmp_path: Path, server: ScriptedServer) -> None:
    _suite(tmp_path, [make_test("a")])
    _base_config(tmp_path, server.url + "/v1", server.url + "/v1")
    _agent(tmp_path, "alpha", server.url + "/v1")
    done = subprocess.run(
        [sys.executable, "-m", "llmbench.cli.main", "run", "--agent_config", "agents", "--dry-run"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "1 tests x 1 agents x 1 repeats = 1 tests; 1 to run" in done.stdout


JUDGE = "You grade one answer"  # opens the judge's system prompt


def test_a_run_is_scored_and_rescoring_uses_the_judge_cache(
    tmp_path: Path, server: ScriptedServer, server2: ScriptedServer, run: Run
) -> None:
    tests = [
        make_test("q1", expected="question q1", scoring=[{"type": "contains"}]),
        make_test("q2", expected=42, prompt="what is 6 times 7? say 41"),
        make_test("q3", expected="anything", scoring=[{"type": "judge", "rubric": "be kind"}]),
        make_test("q4"),  # nothing to score
    ]
    _suite(tmp_path, tests)
    _base_config(tmp_path, server.url + "/v1", server2.url + "/v1")
    _agent(tmp_path, "alpha", server.url + "/v1")
    _agent(tmp_path, "beta", server2.url + "/v1")
    server.set_default(Echo())
    server2.set_default(Echo(prefix="beta: "))
    server2.script(
        *[Answer(json.dumps({"score": 8, "reason": "matches the rubric"}))] * 2, marker=JUDGE
    )
    done = run("--base_config", "base_config.toml", "--agent_config", "agents")
    assert done.returncode == 0, done.stderr
    run_dir = _run_dir(tmp_path)
    assert server2.request_count(JUDGE) == 2

    q = {
        (r["agent_id"], r["test_id"]): r["scoring"]
        for r in map(json.loads, (run_dir / "scores.jsonl").read_text().splitlines())
    }
    assert q[("alpha", "q1")]["score"] == 1.0 and q[("alpha", "q1")]["passed"] is True
    assert q[("alpha", "q2")]["passed"] is False
    assert "expected 42" in q[("alpha", "q2")]["scores"][0]["reason"]
    assert q[("beta", "q3")]["score"] == 0.8
    assert q[("beta", "q3")]["scores"][0]["reason"] == "judge 8/10: matches the rubric"
    assert q[("alpha", "q4")] is None
    per_test = json.loads((run_dir / "alpha" / "q3-r0.json").read_text())
    assert per_test["scoring"] == q[("alpha", "q3")]

    summary = json.loads((run_dir / "summary.json").read_text())
    alpha = summary["agents"][0]
    # q1 1.0, q2 0.0, q3 0.8: mean 0.6, two of three pass; q4 is not scored
    assert alpha["quality"]["n"] == 3 and alpha["quality"]["errors"] == 0
    assert abs(alpha["quality"]["mean_score"] - 0.6) < 1e-9
    assert abs(alpha["quality"]["pass_rate"] - 2 / 3) < 1e-9
    assert summary["comparisons"][0]["n_pairs"] == 3
    html = (run_dir / "report.html").read_text()
    assert "alpha" in html and "http://" not in html.split("<body", 1)[0].replace(server.url, "")
    assert "| alpha |" in (run_dir / "report.md").read_text()

    # the scoring spec changes: score again without calling any agent; the judge is cached
    agent_requests = server.request_count() + server2.request_count()
    tests[1]["expected"] = 41
    _suite(tmp_path, tests)
    again = subprocess.run(
        [sys.executable, "-m", "llmbench.cli.main", "score", str(run_dir)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 0, again.stderr
    assert server.request_count() + server2.request_count() == agent_requests
    rescored = json.loads((run_dir / "alpha" / "q2-r0.json").read_text())["scoring"]
    assert rescored["passed"] is True
    assert (
        "(cached)"
        in json.loads((run_dir / "alpha" / "q3-r0.json").read_text())["scoring"]["scores"][0][
            "reason"
        ]
    )

    second = run(
        "--base_config", "base_config.toml", "--agent_config", "agents", "--tests", "q1,q3"
    )
    assert second.returncode == 0, second.stderr
    (other,) = {p for p in (tmp_path / "results").glob("2*") if p != run_dir}
    rebuilt = subprocess.run(
        [
            sys.executable,
            "-m",
            "llmbench.cli.main",
            "report",
            str(run_dir),
            str(other),
            str(run_dir),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    (compare,) = (tmp_path / "results").glob("compare-*")
    agents = json.loads((compare / "summary.json").read_text())["agents"]
    assert [a["agent_id"] for a in agents] == [
        f"alpha@{run_dir.name}",
        f"beta@{run_dir.name}",
        f"alpha@{other.name}",
        f"beta@{other.name}",
    ]
    assert [a["planned"] for a in agents] == [4, 4, 2, 2]
    assert [a["run_id"] for a in agents] == [run_dir.name, run_dir.name, other.name, other.name]
    # the terminal tells the two runs' alphas apart by short labels, named in a legend
    assert "| alpha@r1 " in rebuilt.stdout and "| alpha@r2 " in rebuilt.stdout
    assert f"  r1  {run_dir.name}  started " in rebuilt.stdout
    assert f"  r2  {other.name}  started " in rebuilt.stdout


def test_load_results_gives_a_dataframe(tmp_path: Path, server: ScriptedServer, run: Run) -> None:
    import llmbench

    _suite(tmp_path, [make_test("q1", expected="question q1", scoring=[{"type": "contains"}])])
    _base_config(tmp_path, server.url + "/v1", server.url + "/v1", extra="repeats = 2")
    _agent(tmp_path, "alpha", server.url + "/v1")
    server.set_default(Echo())
    assert run("--base_config", "base_config.toml", "--agent_config", "agents").returncode == 0
    frame = llmbench.load_results(_run_dir(tmp_path))
    assert list(frame["repeat"]) == [0, 1]
    assert list(frame["score"]) == [1.0, 1.0] and list(frame["passed"]) == [True, True]
    assert set(frame["agent_id"]) == {"alpha"} and frame["response_text"][0] == "question q1"
