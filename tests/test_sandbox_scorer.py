"""The ``python`` scorer in the jail: what holds even for code that got past the child's audit
hook (stood in for by a child script without one), and the hook still there as a second line."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from llmbench.sandbox.settings import SandboxSettings
from llmbench.scoring import sandbox
from llmbench.scoring.python_exec import NAME, outcome_score
from llmbench.scoring.sandbox import SandboxLimits, run_python
from tests.sandbox_support import leftovers

LIMITS = SandboxLimits(timeout_s=2, memory_mb=256)
BWRAP = SandboxSettings(isolation="bwrap")


def unhooked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> str:
    """Run ``body`` as the scorer's child script (no audit hook) in the jail; its stdout."""
    script = tmp_path / "child.py"
    script.write_text(body)
    monkeypatch.setattr(sandbox, "CHILD", script)
    return run_python("", [], LIMITS, BWRAP).stdout


def test_the_answer_runs_in_a_pid_namespace_of_its_own() -> None:
    out = run_python("import os\nprint(os.getpid())", [], LIMITS, BWRAP)
    assert out.stdout == "2\n"  # 1 is bubblewrap's init


def test_host_files_do_not_exist_past_the_hook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "reference.json"
    secret.write_text("the reference answer")
    # the suite and the configs: the repository's files (its folder may exist, empty but for
    # the mount point of a venv inside it, which the jail binds alone)
    repo = Path(__file__).resolve().parents[1] / "README.md"
    body = f"import os\nprint(os.path.exists({str(secret)!r}), os.path.exists({str(repo)!r}))\n"
    assert unhooked(tmp_path, monkeypatch, body) == "False False\n"


def test_there_is_no_network_past_the_hook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    body = (
        "import socket\ntry:\n    socket.create_connection(('127.0.0.1', 9), timeout=1)\n"
        "except OSError as exc:\n    print(type(exc).__name__)\n"
    )
    assert unhooked(tmp_path, monkeypatch, body) == "ConnectionRefusedError\n"


def test_processes_started_past_the_hook_die_with_the_jail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = f"llmbench-scorer-{uuid.uuid4().hex}"
    body = (
        "import subprocess, sys\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(1000)  # {marker}'],"
        " start_new_session=True)\n"
    )
    unhooked(tmp_path, monkeypatch, body)
    # the kernel kills the jail's processes as its init exits, which bwrap does not wait for:
    # gone within milliseconds of the run's end, not necessarily at it
    assert leftovers(marker) == []


@pytest.mark.parametrize("isolation", ["bwrap", "process"])
def test_the_audit_hook_still_blocks_in_both_isolations(isolation: str) -> None:
    settings = SandboxSettings(isolation=isolation)  # type: ignore[arg-type]
    out = run_python("import subprocess\nsubprocess.run(['true'])", [], LIMITS, settings)
    score = outcome_score(NAME, out, 0, LIMITS)
    assert score.reason == "blocked: process creation (subprocess.Popen)"


def test_a_crash_in_the_jail_is_reported_as_its_signal() -> None:
    out = run_python(
        "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)", ["True"], LIMITS, BWRAP
    )
    score = outcome_score(NAME, out, 1, LIMITS)
    assert score.reason == "crashed (SIGSEGV) (0/1 assertions passed)"
