"""The ``python`` scorer runs untrusted code in a child process: right code passes, wrong code
fails with its assertion, and every way out (files, network, processes, memory, output, time,
the parent's secrets) is contained, quickly and without leaving a process or a file behind."""

from __future__ import annotations

import glob
import os
import resource
import signal
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmbench.scoring import sandbox
from llmbench.scoring.base import Score, ScoreInput
from llmbench.scoring.python_exec import NAME, PythonScorer, extract_code, outcome_score
from llmbench.scoring.sandbox import SandboxLimits, SandboxOutcome, run_python
from llmbench.scoring.specs import scorers_for
from llmbench.suite.models import TestCase

LIMITS = SandboxLimits(timeout_s=2, memory_mb=256)
ADD = "def add(a, b):\n    return a + b\n"


def group_members(pgid: int) -> list[int]:
    """Live processes whose process group is ``pgid`` (from /proc; zombies count as gone)."""
    out = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            text = Path(stat).read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            out.append(int(stat.split("/")[2]))
    return out


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its new parent to reap it does not)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return text[text.rindex(")") + 2] != "Z"


def gone(pid: int) -> bool:
    """True once ``pid`` is dead; SIGKILL takes effect when the process is next scheduled."""
    deadline = time.monotonic() + 1
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    return not alive(pid)


def run(code: str, assertions: list[str] | None = None) -> tuple[SandboxOutcome, Score]:
    """Run ``code`` and check the run left no process and took a few seconds at most."""
    start = time.monotonic()
    out = run_python(code, assertions or [], LIMITS)
    assert time.monotonic() - start < 5
    with pytest.raises(ProcessLookupError):
        os.kill(out.pid, 0)
    assert group_members(out.pid) == []
    return out, outcome_score(NAME, out, len(assertions or []), LIMITS)


@pytest.fixture(autouse=True)
def _no_leftover_directories() -> Iterator[None]:
    pattern = os.path.join(tempfile.gettempdir(), "llmbench-python-*")
    before = set(glob.glob(pattern))
    yield
    assert set(glob.glob(pattern)) - before == set()


def test_correct_code_passes() -> None:
    _, score = run(ADD, ["add(2, 3) == 5", "assert add(-1, 1) == 0"])
    assert score == Score("python", 1.0, True, "2/2 assertions passed")


def test_wrong_code_fails_with_the_assertion() -> None:
    _, score = run("def add(a, b):\n    return a - b\n", ["add(2, 3) == 5", "add(0, 0) == 0"])
    # 2 - 3 = -1 fails, 0 - 0 = 0 passes
    assert score == Score(
        "python", 0.5, False, "AssertionError: add(2, 3) == 5 (1/2 assertions passed)"
    )


def test_an_assert_statement_with_a_message() -> None:
    _, score = run(ADD, ["assert add(2, 2) == 5, 'two and two'"])
    assert score.reason == "AssertionError: two and two (0/1 assertions passed)"


def test_an_assertion_that_raises() -> None:
    _, score = run(ADD, ["sub(2, 3) == -1", "add(2, 3) == 5"])
    assert score == Score(
        "python", 0.5, False, "NameError: name 'sub' is not defined (1/2 assertions passed)"
    )


def test_code_that_raises_runs_no_assertion() -> None:
    _, score = run("x = 1 / 0", ["True"])
    assert score == Score(
        "python",
        0.0,
        False,
        "the code raised ZeroDivisionError: division by zero (0/1 assertions passed)",
    )


def test_a_syntax_error() -> None:
    _, score = run("def add(a, b)\n    return a + b", ["add(2, 3) == 5"])
    assert score == Score(
        "python", 0.0, False, "SyntaxError: expected ':' (line 1) (0/1 assertions passed)"
    )


def test_without_assertions_the_code_must_run() -> None:
    assert run("print('hi')")[1] == Score(
        "python", 1.0, True, "the code ran without error (no assertions)"
    )


def test_reading_etc_passwd_is_blocked() -> None:
    out, score = run("print(open('/etc/passwd').read())")
    assert score == Score(
        "python", 0.0, False, "blocked: reading outside the scratch directory (/etc/passwd)"
    )
    assert "root:" not in out.stdout


def test_reading_a_file_outside_the_scratch_directory_is_blocked(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret")
    out, score = run(f"print(open({str(secret)!r}).read())")
    assert score.reason == f"blocked: reading outside the scratch directory ({secret.resolve()})"
    assert "s3cret" not in out.stdout


def test_a_caught_escape_attempt_still_fails() -> None:
    code = ADD + "try:\n    open('/etc/passwd')\nexcept OSError:\n    pass\n"
    _, score = run(code, ["add(2, 3) == 5"])
    assert score == Score(
        "python", 0.0, False, "blocked: reading outside the scratch directory (/etc/passwd)"
    )


def test_writing_outside_the_scratch_directory_is_blocked(tmp_path: Path) -> None:
    target = tmp_path / "written.txt"
    _, score = run(f"open({str(target)!r}, 'w').write('x')")
    assert score.reason == f"blocked: writing outside the scratch directory ({target.resolve()})"
    assert not target.exists()


def test_a_symlink_out_of_the_scratch_directory_is_blocked() -> None:
    _, score = run("import os\nos.symlink('/etc/passwd', 'p')\nopen('p').read()")
    assert score.reason == "blocked: reading outside the scratch directory (/etc/passwd)"


def test_files_inside_the_scratch_directory_work() -> None:
    code = "import os\nos.makedirs('d')\nopen('d/f.txt', 'w').write('hi')\nprint(open('d/f.txt').read())"
    out, score = run(code)
    assert score.passed
    assert out.stdout == "hi\n"


def test_a_socket_to_localhost_is_blocked() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        code = f"import socket\ns = socket.socket()\ns.connect(('127.0.0.1', {port}))"
        _, score = run(code)
    assert score == Score("python", 0.0, False, "blocked: network access (socket.__new__)")


def test_create_connection_is_blocked() -> None:
    _, score = run("import socket\nsocket.create_connection(('127.0.0.1', 9))")
    assert score.reason == "blocked: network access (socket.create_connection)"


def test_asyncio_still_works() -> None:
    # its event loop makes a local socket pair, which is allowed
    _, score = run("import asyncio\nasyncio.run(asyncio.sleep(0))")
    assert score.passed


def test_a_fork_bomb_is_contained() -> None:
    _, score = run("import os\nwhile True:\n    os.fork()")
    assert score == Score("python", 0.0, False, "blocked: process creation (os.fork)")


def test_subprocess_is_blocked() -> None:
    _, score = run("import subprocess\nsubprocess.run(['true'])")
    assert score.reason == "blocked: process creation (subprocess.Popen)"


def test_signalling_the_parent_is_blocked() -> None:
    _, score = run("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)")
    assert score.reason == "blocked: sending a signal to another process (os.kill)"


def test_raising_the_memory_limit_is_blocked() -> None:
    _, score = run("import resource\nresource.setrlimit(resource.RLIMIT_AS, (-1, -1))")
    assert score.reason == "blocked: changing resource limits"


def test_allocating_10_gb_fails_on_memory() -> None:
    _, score = run("x = bytearray(10 * 1024**3)", ["True"])
    assert score == Score(
        "python", 0.0, False, "memory limit 256 MB exceeded (0/1 assertions passed)"
    )


def test_printing_1_gb_is_capped_and_the_parent_does_not_balloon() -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    code = "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(1024):\n    sys.stdout.write(chunk)"
    out, score = run(code)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert score == Score(
        "python",
        0.0,
        False,
        f"file size limit exceeded (output or a file over {LIMITS.file_size_bytes} bytes)",
    )
    assert len(out.stdout) == LIMITS.output_bytes + len("\n[... output truncated]")
    assert after - before < 50 * 1024


def test_sleeping_forever_times_out() -> None:
    out, score = run(ADD + "import time\ntime.sleep(1e9)", ["add(2, 3) == 5"])
    assert score == Score("python", 0.0, False, "timed out after 2s (0/1 assertions passed)")
    assert out.timed_out and out.returncode == -signal.SIGKILL


def test_a_busy_loop_times_out() -> None:
    _, score = run("while True:\n    pass")
    assert score.reason == "timed out after 2s"


def test_a_hang_in_an_assertion_keeps_the_passed_ones() -> None:
    _, score = run(ADD + "import time\n", ["add(2, 3) == 5", "time.sleep(1e9)"])
    assert score == Score("python", 0.5, False, "timed out after 2s (1/2 assertions passed)")


def test_exiting_early_fails() -> None:
    _, score = run("import os\nos._exit(3)", ["True"])
    assert score.reason == "exited with status 3 before the code finished (0/1 assertions passed)"


def test_a_leftover_thread_does_not_hold_the_run() -> None:
    code = ADD + "import threading, time\nthreading.Thread(target=time.sleep, args=(1e9,)).start()"
    out, score = run(code, ["add(2, 3) == 5"])
    assert score.passed and out.elapsed_s < 1.5


def test_the_parents_api_key_is_not_visible(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-do-not-leak")
    out, score = run(
        "import os\nprint(dict(os.environ))", ["os.environ.get('OPENAI_API_KEY') is None"]
    )
    assert score.passed
    assert "sk-test-do-not-leak" not in out.stdout


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        ("def f():\n    return 1", "def f():\n    return 1"),
        ("Here you go:\n```python\nx = 1\n```\nand a test:\n```python\nx = 2\n```", "x = 1\n"),
        ("```bash\nls\n```\n```\ny = 2\n```", "y = 2\n"),
        ("```py\n    z = 3\n```", "z = 3\n"),
        ("```python\nw = 4\n", "w = 4\n"),
    ],
)
def test_extract_code(answer: str, code: str) -> None:
    assert extract_code(answer) == code


def test_the_scorer_takes_the_tests_assertions() -> None:
    test = TestCase.model_validate(
        {
            "id": "code_07",
            "name": "add",
            "category": "code",
            "prompt": "Write add(a, b).",
            "assertions": ["add(2, 3) == 5"],
            "scoring": [{"type": "python", "timeout_s": 2, "memory_mb": 256}],
        }
    )
    (scorer,) = scorers_for(test)
    assert isinstance(scorer, PythonScorer)
    assert scorer.limits == LIMITS
    answer = "Sure:\n```python\ndef add(a, b):\n    return a + b\n```"
    assert scorer(ScoreInput(test, answer)) == Score("python", 1.0, True, "1/1 assertions passed")


GRANDCHILD = """\
import subprocess, sys, time
sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1000)"])
print(sleeper.pid, flush=True)
time.sleep({sleep})
"""


@pytest.mark.parametrize("child_sleeps", [False, True])
def test_processes_that_escape_the_in_process_blocks_die_with_the_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, child_sleeps: bool
) -> None:
    # stands in for code that got past the audit hook and started a process: the parent still
    # kills the whole process group, after a normal exit as after a time-out
    script = tmp_path / "child.py"
    script.write_text(GRANDCHILD.format(sleep=1000 if child_sleeps else 0))
    monkeypatch.setattr(sandbox, "CHILD", script)
    out = run_python("", [], SandboxLimits(timeout_s=1))
    grandchild = int(out.stdout.split()[0])
    assert out.timed_out is child_sleeps
    assert gone(grandchild)
    assert group_members(out.pid) == []


def test_sys_exit_before_the_assertions_fails() -> None:
    _, score = run(ADD + "raise SystemExit(0)", ["add(2, 3) == 5"])
    assert score.reason == "the code exited early: SystemExit: 0 (0/1 assertions passed)"


def test_sqlite_outside_the_scratch_directory_is_blocked(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    _, score = run(f"import sqlite3\nsqlite3.connect('file:{db}?mode=ro', uri=True)")
    assert score.reason == f"blocked: writing outside the scratch directory ({db.resolve()})"
    _, score = run("import sqlite3\nsqlite3.connect('x.db').execute('create table t (x)')")
    assert score.passed


def test_a_sandbox_that_cannot_start_is_an_error_not_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "child.py"
    script.write_text("raise RuntimeError('no sandbox here')\n")
    monkeypatch.setattr(sandbox, "CHILD", script)
    _, score = run("print(1)")
    why = "the sandbox did not start: RuntimeError: no sandbox here"
    assert score == Score("python", 0.0, False, why, error=why)
