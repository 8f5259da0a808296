"""Tests where the agent runs code, end to end: ``runner.py``'s ``main()`` against the scripted
server, the real sandbox (bubblewrap), the journal, the summary and the manifest.

The scripted server plays the agent: it answers with fenced code (text protocol) or
``tool_calls`` (function protocol) per request, and records what each request carried, so the
outputs the sandbox gave back are checked where the model would see them. ``scripted`` mode
sends an interactive test's steps as they are (no instructor requests to script).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from llmbench.cli.run import main
from tests.conftest import RUNNER, make_test
from tests.scripted_server import (
    Answer,
    CallInContent,
    Code,
    RefuseTools,
    ScriptedServer,
    ToolCalls,
)
from tests.test_runner_e2e import _journal, _run_dir

SECRET = "sk-tools-secret-3b9d7e1f5a2c4e6b8d0f"
KEY_ENV = "LLMBENCH_TOOLS_TEST_KEY"


def _tool_test(test_id: str = "t1", **fields: Any) -> dict[str, Any]:
    test = make_test(test_id, tools=["python"], expected="42")
    test.update(fields)
    return test


def _write_run(
    tmp: Path,
    server: ScriptedServer,
    tests: list[dict[str, Any]],
    *,
    protocol: str = "text",
    agent: str = "",
    sandbox: str = "",
    call_timeout_s: float = 5,
) -> list[str]:
    (tmp / "suite.json").write_text(
        json.dumps({"suite_info": {"name": "tools"}, "tests": tests}), encoding="utf-8"
    )
    (tmp / "base_config.toml").write_text(
        f"""
[benchmark]
test_suite = "suite.json"
results_dir = "results"
max_workers = 2

[instructor]
endpoint = "{server.url}/v1"
model = "scripted-model"
mode = "scripted"
max_turns = 4

[supervisor]
endpoint = "{server.url}/v1"
model = "scripted-model"

[sandbox]
call_timeout_s = {call_timeout_s}
interrupt_grace_s = 0.5
{sandbox}
""",
        encoding="utf-8",
    )
    agents = tmp / "agents"
    agents.mkdir(exist_ok=True)
    (agents / "coder.toml").write_text(
        f'id = "coder"\nendpoint = "{server.url}/v1"\nmodel = "scripted-model"\n'
        f'retry_attempts = 0\ntimeout = 20\ntool_protocol = "{protocol}"\n{agent}\n',
        encoding="utf-8",
    )
    return [
        "--base_config",
        str(tmp / "base_config.toml"),
        "--agent_config",
        str(agents),
        "-l",
        "WARNING",
    ]


def _run(tmp: Path, args: list[str], code: int = 0) -> tuple[dict[str, Any], Path]:
    assert main(args) == code
    run_dir = _run_dir(tmp)
    entries = _journal(run_dir)
    assert len(entries) == 1, entries
    return entries[0], run_dir


def _agent_requests(server: ScriptedServer) -> list[Any]:
    return [r for r in server.requests if r.path.endswith("/chat/completions")]


def _tools(entry: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in entry["transcript"] if e["role"] == "tool"]


def _sandbox_processes() -> list[str]:
    """Command lines of every process of a sandbox still alive (bwrap or the session REPL)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        cmd = raw.replace(b"\0", b" ").decode(errors="replace")
        if "bwrap" in cmd or "llmbench/sandbox" in cmd or "repl.py" in cmd:
            found.append(f"{pid}: {cmd}")
    return found


@pytest.fixture(autouse=True)
def _no_sandbox_left() -> Any:
    yield
    deadline = time.monotonic() + 5
    while _sandbox_processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _sandbox_processes() == []


# -- the two protocols ---------------------------------------------------------------------


def test_text_protocol_runs_the_block_and_answers_with_its_output(
    tmp_path: Path, server: ScriptedServer
) -> None:
    args = _write_run(tmp_path, server, [_tool_test()])
    server.script(Code("x = 6 * 7\nprint(x)", text_before="Let me compute."), Answer("42"))
    entry, run_dir = _run(tmp_path, args)
    assert entry["status"] == "ok" and entry["response_text"] == "42"
    assert entry["end_reason"] == "answered" and entry["tool_protocol"] == "text"
    assert (entry["tool_calls"], entry["code_errors"], entry["session_restarts"]) == (1, 0, 0)
    (cell,) = _tools(entry)
    assert cell["content"] == "42\n" and cell["raised"] is False and cell["duration_s"] > 0
    second = _agent_requests(server)[1].body["messages"]
    assert second[0]["role"] == "system" and "/home/agent" in second[0]["content"]
    assert second[-1] == {
        "role": "user",
        "content": "Output of your code:\n```output\n42\n```",
    }
    summary = json.loads((run_dir / "summary.json").read_text())
    agent = summary["agents"][0]
    assert agent["tools"]["tool_calls"] == 1 and agent["tools"]["protocol"] == "text"
    assert summary["sandbox"]["isolation"] == "bwrap"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["tool_protocols"]["coder"]["protocol"] == "text"
    assert manifest["sandbox"]["isolation"] == "bwrap"


def test_function_protocol_keeps_state_between_calls_and_answers_each_call(
    tmp_path: Path, server: ScriptedServer
) -> None:
    args = _write_run(tmp_path, server, [_tool_test(expected="20")], protocol="function")
    server.script(
        ToolCalls(["x = 2", "print(x + 1)"], interleave=True),
        ToolCalls(["print(x * 10)"]),
        Answer("20"),
    )
    entry, _ = _run(tmp_path, args)
    assert entry["response_text"] == "20" and entry["tool_calls"] == 3
    assert [c["content"] for c in _tools(entry)] == ["", "3\n", "20\n"]
    requests = _agent_requests(server)
    assert requests[0].body["tools"][0]["function"]["name"] == "python"
    tool_messages = requests[1].tool_messages
    assert [m["content"] for m in tool_messages] == ["", "3\n"]
    assert [m["tool_call_id"] for m in tool_messages] == ["call_1", "call_2"]


def test_auto_chooses_text_when_the_server_refuses_tools(
    tmp_path: Path, server: ScriptedServer
) -> None:
    args = _write_run(tmp_path, server, [_tool_test()], protocol="auto")
    server.set_default(RefuseTools(after=Answer("42")))
    entry, run_dir = _run(tmp_path, args)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["tool_protocols"]["coder"]["protocol"] == "text"
    assert "refused" in manifest["tool_protocols"]["coder"]["reason"]
    assert entry["tool_protocol"] == "text"


@pytest.mark.parametrize(
    ("probe_reply", "protocol"),
    [(ToolCalls(["print(1)"]), "function"), (CallInContent(), "text")],
)
def test_auto_chooses_from_what_the_model_did(
    tmp_path: Path, server: ScriptedServer, probe_reply: Any, protocol: str
) -> None:
    args = _write_run(tmp_path, server, [_tool_test()], protocol="auto")
    server.script(probe_reply, Answer("42"))
    entry, run_dir = _run(tmp_path, args)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["tool_protocols"]["coder"]["protocol"] == protocol
    assert entry["tool_protocol"] == protocol
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["agents"][0]["tools"]["protocol"] == protocol


# -- conversations, files, limits --------------------------------------------------------


def test_state_survives_from_one_turn_to_the_next_and_files_are_read_only_under_data(
    tmp_path: Path, server: ScriptedServer
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "numbers.csv").write_text("n\n5\n7\n", encoding="utf-8")
    test = _tool_test(
        type="interactive",
        instructions=["Load the numbers.", "Give their sum."],
        files="data",
        expected="12",
    )
    del test["prompt"]
    args = _write_run(tmp_path, server, [test])
    server.script(
        Code("rows = open('/data/numbers.csv').read().split()[1:]"),
        Answer("Loaded."),
        Code("open('/data/numbers.csv', 'a')"),
        Code("print(sum(int(r) for r in rows))"),
        Answer("12"),
    )
    entry, _ = _run(tmp_path, args)
    assert entry["status"] == "ok" and entry["response_text"] == "12"
    assert entry["end_reason"] == "instructor_done" and entry["turns"] == 2
    cells = _tools(entry)
    assert cells[1]["raised"] is True and "Read-only file system" in cells[1]["content"]
    assert cells[2]["content"] == "12\n"
    assert entry["code_errors"] == 1
    system = _agent_requests(server)[0].body["messages"][0]["content"]
    assert "/data (read-only): numbers.csv." in system


def test_max_tool_calls_ends_the_test_and_it_is_still_scored(
    tmp_path: Path, server: ScriptedServer
) -> None:
    args = _write_run(tmp_path, server, [_tool_test(max_tool_calls=2, expected="7")])
    server.set_default(Code("print(7)", text_before="7"))
    entry, run_dir = _run(tmp_path, args)
    assert entry["status"] == "ok" and entry["end_reason"] == "tool_limit"
    assert entry["tool_calls"] == 2
    assert entry["transcript"][-1]["content"] == "stopped: max_tool_calls=2 reached in turn 1"
    scores = (run_dir / "scores.jsonl").read_text()
    assert '"coder"' in scores  # scored, not skipped


def test_time_limit_cuts_the_code_short_and_ends_the_test(
    tmp_path: Path, server: ScriptedServer
) -> None:
    args = _write_run(tmp_path, server, [_tool_test(time_limit_s=1)])
    server.set_default(Code("import time\ntime.sleep(30)"))
    started = time.monotonic()
    entry, _ = _run(tmp_path, args)
    assert time.monotonic() - started < 15
    assert entry["end_reason"] == "time_limit" and entry["code_timeouts"] == 1
    assert _tools(entry)[0]["timed_out"] is True


def test_a_call_that_ignores_the_interrupt_restarts_the_session_and_says_so(
    tmp_path: Path, server: ScriptedServer
) -> None:
    args = _write_run(tmp_path, server, [_tool_test()], call_timeout_s=0.5)
    stubborn = (
        "import time\nx = 1\nwhile True:\n    try:\n        time.sleep(10)\n"
        "    except KeyboardInterrupt:\n        pass"
    )
    server.script(Code(stubborn), Code("print('x' in globals())"), Answer("42"))
    entry, _ = _run(tmp_path, args)
    first, second = _tools(entry)
    assert first["timed_out"] is True and first["restarted"] is True
    assert "restart" in first["content"].lower()
    assert second["content"] == "False\n"  # the state was lost with the old session
    assert entry["session_restarts"] == 1


# -- hostile code --------------------------------------------------------------------------


HOSTILE = {
    "env": "import os\nprint(sorted(os.environ.items()))",
    "suite": "print(open({suite!r}).read())",
    "results": "import os\nprint(os.listdir({results!r}))",
    "write_outside": "open('/etc/owned', 'w').write('x')",
    "network": (
        "import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
        "print('connected')"
    ),
    "background": ("import subprocess\nsubprocess.Popen(['sleep', '300'])\nprint('started')"),
    "kill_parent": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
}


def test_hostile_code_is_contained_and_the_run_goes_on(
    tmp_path: Path, server: ScriptedServer
) -> None:
    suite = tmp_path / "suite.json"
    results = tmp_path / "results"
    tests = [_tool_test(name) for name in HOSTILE]
    args = _write_run(tmp_path, server, tests, agent=f'api_key_env = "{KEY_ENV}"')
    port = int(server.url.rsplit(":", 1)[1])
    for name, code in HOSTILE.items():
        text = code.format(suite=str(suite), results=str(results), port=port)
        server.script(Code(text), Answer("done"), marker=f"question {name}")
    os.environ[KEY_ENV] = SECRET
    try:
        assert main(args) == 0
    finally:
        del os.environ[KEY_ENV]
    run_dir = _run_dir(tmp_path)
    by_id = {e["test_id"]: e for e in _journal(run_dir)}
    assert set(by_id) == set(HOSTILE)
    assert all(e["status"] == "ok" for e in by_id.values()), by_id
    out = {name: _tools(e)[0] for name, e in by_id.items()}
    assert SECRET not in out["env"]["content"] and KEY_ENV not in out["env"]["content"]
    for name in ("suite", "results", "write_outside", "network"):
        assert out[name]["raised"] is True, (name, out[name])
    assert "connected" not in out["network"]["content"]
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(errors="replace"), path
    assert not Path("/etc/owned").exists()


# -- a runner killed during an episode ------------------------------------------------------


@pytest.mark.timeout(120)
def test_sigkill_during_an_episode_leaves_no_sandbox_and_resume_runs_it_again(
    tmp_path: Path, server: ScriptedServer
) -> None:
    args = _write_run(tmp_path, server, [_tool_test()])
    server.script(Code("import time\ntime.sleep(60)"))
    proc = subprocess.Popen(
        [sys.executable, str(RUNNER), *args],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not _sandbox_processes() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _sandbox_processes(), "the sandbox never started"
        time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 5
    while _sandbox_processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _sandbox_processes() == []
    run_dir = _run_dir(tmp_path)
    journal = run_dir / "results.jsonl"
    assert not journal.exists() or _journal(run_dir) == []  # the episode ended with the kill
    server.reset()
    server.script(Code("print(6 * 7)"), Answer("42"))
    assert main([*args, "--resume", str(run_dir)]) == 0
    (entry,) = _journal(run_dir)
    assert entry["response_text"] == "42" and _tools(entry)[0]["content"] == "42\n"


# -- the sandbox at preflight ----------------------------------------------------------------


def test_process_isolation_is_said_in_the_manifest_summary_and_report(
    tmp_path: Path, server: ScriptedServer
) -> None:
    args = _write_run(tmp_path, server, [_tool_test()], sandbox='isolation = "process"')
    server.script(Code("print(6 * 7)"), Answer("42"))
    entry, run_dir = _run(tmp_path, args)
    assert _tools(entry)[0]["content"] == "42\n"
    assert json.loads((run_dir / "manifest.json").read_text())["sandbox"]["isolation"] == (
        "process"
    )
    assert json.loads((run_dir / "summary.json").read_text())["sandbox"]["isolation"] == ("process")
    assert "isolation = process" in (run_dir / "report.md").read_text()


def test_a_sandbox_that_cannot_start_stops_the_run_before_anything_is_written(
    tmp_path: Path, server: ScriptedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _write_run(
        tmp_path, server, [_tool_test()], sandbox=f'python = "{tmp_path}/no-such-python"'
    )
    assert main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert "no-such-python" in err[0]
    assert not (tmp_path / "results").exists()
    assert server.request_count() == 0
