"""What a run leaves behind, looked at as a user does: ``llmbench report`` and ``llmbench score``
rebuild ``summary.json`` without losing a field, an interrupted run says on screen and in its
reports how many tests never ran, and every file of a run has one mode.

Real runs: ``runner.py`` as a subprocess against the scripted server.
"""

from __future__ import annotations

import json
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from llmbench.cli.main import main
from llmbench.report.markdown import failure_reason
from tests.conftest import RUNNER, Run, make_test
from tests.scripted_server import Echo, Hang, ScriptedServer, Status
from tests.test_runner_e2e import _agent, _base_config, _journal, _run_dir, _suite, _wait_for_lines

LLMBENCH = [sys.executable, "-m", "llmbench.cli.main"]
CHANGES_ON_REBUILD = {"generated_at"}
"""The only field of ``summary.json`` a rebuild may change: when it was made."""


def _summary(run_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    return data


def _kept(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if k not in CHANGES_ON_REBUILD}


def _finished_run(tmp: Path, server: ScriptedServer, run: Run, extra: str = "") -> Path:
    """Two agents (one at a fixed concurrency, one "auto") x four tests, one of which fails
    with a 400 for both: scored answers, an error, a test with nothing to score."""
    _suite(
        tmp,
        [
            make_test("q1", expected="question q1"),
            make_test("q2", expected="question q2", scoring=[{"type": "contains"}]),
            make_test("q3", expected="something else"),
            make_test("q4"),
        ],
    )
    _base_config(tmp, server.url + "/v1", server.url + "/v1", extra=extra)
    _agent(tmp, "alpha", server.url + "/v1", "max_concurrency = 2")
    _agent(tmp, "beta", server.url + "/v1", 'max_concurrency = "auto"')
    server.set_default(Echo())
    server.script(*[Status(400, "context length exceeded")] * 2, marker="question q3")
    done = run("--base_config", "base_config.toml", "--agent_config", "agents")
    assert done.returncode == 1, done.stderr  # q3 failed
    return _run_dir(tmp)


def test_report_and_score_rebuild_the_summary_without_losing_a_field(
    tmp_path: Path, server: ScriptedServer, run: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = _finished_run(tmp_path, server, run)
    before = _summary(run_dir)
    concurrency = {a["agent_id"]: a["concurrency"] for a in before["agents"]}
    assert concurrency["alpha"] == {"mode": "fixed", "limit": 2}
    assert concurrency["beta"]["mode"] == "auto"

    assert main(["report", str(run_dir)]) == 0
    reported = _summary(run_dir)
    assert reported["generated_at"] != before["generated_at"]
    assert _kept(reported) == _kept(before)

    assert main(["score", str(run_dir)]) == 0
    assert _kept(_summary(run_dir)) == _kept(before)

    # a manifest the end of the run could not update: the summary being replaced has it
    manifest_path = run_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    del manifest["concurrency"]
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    assert main(["report", str(run_dir)]) == 0
    assert _kept(_summary(run_dir)) == _kept(before)
    capsys.readouterr()


def _cells(out: str, agent_id: str) -> dict[str, str]:
    """The cells of ``agent_id``'s row of the leaderboard printed in a pipe (plain text: ``|``
    between columns, ``-+-`` under the header, which may be wrapped over several lines), by
    column name."""
    lines = out.splitlines()
    title = next(n for n, line in enumerate(lines) if line.startswith("Run "))
    rule = next(n for n, line in enumerate(lines) if n > title and line.startswith("--+"))
    heads = [line.split("|") for line in lines[title + 1 : rule]]
    header = [" ".join(h[n].strip() for h in heads).strip() for n in range(len(heads[0]))]
    (row,) = [
        [c.strip() for c in line.split("|")]
        for line in lines[rule + 1 :]
        if line.count("|") == len(header) - 1 and line.split("|")[1].strip() == agent_id
    ]
    return dict(zip(header, row, strict=True))


def test_an_interrupted_run_shows_how_many_tests_never_ran(
    tmp_path: Path, server: ScriptedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # one test at a time per agent; both agents hang on q2, so q0 and q1 are answered, q2 is
    # in flight when Ctrl-C comes (cancelled) and q3..q9 never start: 7 not run each
    _suite(tmp_path, [make_test(f"q{i}", expected=f"question q{i}") for i in range(10)])
    _base_config(tmp_path, server.url + "/v1", server.url + "/v1")
    _agent(tmp_path, "alpha", server.url + "/v1", "max_concurrency = 1")
    _agent(tmp_path, "beta", server.url + "/v1", "max_concurrency = 1")
    server.set_default(Echo())
    server.script(Hang(60), Hang(60), marker="question q2")
    runner = [sys.executable, str(RUNNER), "--base_config", "base_config.toml"]
    proc = subprocess.Popen(
        [*runner, "--agent_config", "agents"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    run_dir = _wait_for_lines(tmp_path / "results", 4, proc)
    deadline = time.monotonic() + 30
    while server.request_count("question q2") < 2:  # both agents are hanging on q2
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err

    summary = _summary(run_dir)
    assert summary["status"] == "interrupted"
    assert [(a["agent_id"], a["planned"], a["not_run"]) for a in summary["agents"]] == [
        ("alpha", 10, 7),
        ("beta", 10, 7),
    ]
    for agent_id in ("alpha", "beta"):
        cells = _cells(out, agent_id)
        assert cells["Not run"] == "7", out
        assert cells["n / errors"] == "3 / 1", out  # q0, q1 and q2, which was cancelled

    markdown = (run_dir / "report.md").read_text(encoding="utf-8")
    assert "| # | Agent | Model | Score [95% CI] | Pass rate [95% CI] | n / errors | Not run |" in (
        markdown
    )
    assert "| q2 | 0 | general | cancelled: the run was cancelled |" in markdown
    assert "cancelled: cancelled" not in markdown
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "<th>n / errors</th><th>Not run</th>" in html
    cancelled = [e for e in _journal(run_dir) if e["status"] == "cancelled"]
    assert [e["error_message"] for e in cancelled] == ["the run was cancelled"] * 2

    # rebuilding the reports keeps the interrupted run as it was
    assert main(["report", str(run_dir)]) == 0
    assert _kept(_summary(run_dir)) == _kept(summary)
    assert "Not run" in capsys.readouterr().out


@pytest.mark.parametrize(
    "message",
    ["the run was cancelled", "cancelled: the run was cancelled"],  # the latter: older journals
)
def test_a_failure_reason_names_its_kind_once(message: str) -> None:
    record = {"status": "cancelled", "error_kind": "cancelled", "error_message": message}
    assert failure_reason(record) == "cancelled: the run was cancelled"


def test_a_finished_run_without_not_run_tests_has_no_not_run_column(
    tmp_path: Path, server: ScriptedServer, run: Run
) -> None:
    _suite(tmp_path, [make_test("q1")])
    _base_config(tmp_path, server.url + "/v1", server.url + "/v1")
    _agent(tmp_path, "alpha", server.url + "/v1")
    done = run("--base_config", "base_config.toml", "--agent_config", "agents")
    assert done.returncode == 0, done.stderr
    assert "Not run" not in done.stdout
    assert "Not run" not in (_run_dir(tmp_path) / "report.md").read_text(encoding="utf-8")


def _umasked(umask: int, command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``command`` run under ``umask`` (set by a shell: the test process keeps its own)."""
    return subprocess.run(
        ["sh", "-c", f'umask {umask:03o} && exec "$@"', "sh", *command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _modes(*directories: Path) -> dict[str, int]:
    return {
        str(path.relative_to(directories[0].parent)): stat.S_IMODE(path.stat().st_mode)
        for directory in directories
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_every_file_of_a_run_has_one_mode_the_umask_decides(
    tmp_path: Path, server: ScriptedServer, umask: int
) -> None:
    # every kind of file: journal, scores, manifest, summary, reports, per-test files, run log
    # and its copy under log_dir, the reply cache (SQLite, with its -wal and -shm files)
    _suite(
        tmp_path,
        [make_test("q1", expected="question q1"), make_test("q2", expected=2)],
    )
    _base_config(
        tmp_path,
        server.url + "/v1",
        server.url + "/v1",
        extra='cache = true\nlog_dir = "logs"',
        result_files=True,
    )
    _agent(tmp_path, "alpha", server.url + "/v1")
    server.set_default(Echo())
    runner = [sys.executable, str(RUNNER), "--base_config", "base_config.toml"]
    done = _umasked(umask, [*runner, "--agent_config", "agents"], tmp_path)
    assert done.returncode == 0, done.stderr
    run_dir = _run_dir(tmp_path)
    for command in (["report", str(run_dir)], ["score", str(run_dir)]):  # rewrite them
        again = _umasked(umask, [*LLMBENCH, *command], tmp_path)
        assert again.returncode == 0, again.stderr

    modes = _modes(tmp_path / "results", tmp_path / "logs")
    assert {
        "summary.json",
        "manifest.json",
        "results.jsonl",
        "scores.jsonl",
        "report.md",
        "report.html",
        "run.log",
        "q1-r0.json",
    } <= {Path(name).name for name in modes}
    assert any(name.endswith(".sqlite") for name in modes)
    assert any(name.startswith("logs/") for name in modes)
    expected = 0o666 & ~umask
    assert {name: mode for name, mode in modes.items() if mode != expected} == {}, oct(expected)
