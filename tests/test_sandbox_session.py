"""Persistent Python sessions (llmbench.sandbox): state, output, errors, time limits, restarts,
files and the limiter, in real jails and real processes, under both isolations."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmbench.errors import SandboxError, SandboxUnavailable
from llmbench.sandbox import CallLimiter, CellResult, PythonSession, check_isolation, preflight
from llmbench.sandbox.session import JAIL_DATA, JAIL_HOME
from tests.sandbox_support import ISOLATIONS, leftovers, run_cells, settings, with_session


@pytest.fixture(autouse=True)
def _nothing_left_behind() -> Iterator[None]:
    yield
    assert leftovers() == []


@pytest.fixture(params=ISOLATIONS)
def isolation(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_variables_and_imports_survive_between_calls(isolation: str) -> None:
    results = run_cells(isolation, "import math\nx = 40", "x += 2", "print(x, math.floor(2.5))")
    assert results[2].output == "42 2\n"


def test_a_last_bare_expression_is_shown_like_in_a_notebook(isolation: str) -> None:
    (result,) = run_cells(isolation, "6 * 7")
    assert (result.output, result.raised, result.error) == ("42\n", False, None)


def test_output_of_child_processes_is_captured_in_order(isolation: str) -> None:
    code = (
        "import os, subprocess, sys\n"
        "print('from python', flush=True)\n"
        "os.system('echo from the shell; echo to stderr >&2')\n"
        "_ = subprocess.run([sys.executable, '-c', 'print(\"from a subprocess\")'])\n"
    )
    (result,) = run_cells(isolation, code)
    assert result.output == "from python\nfrom the shell\nto stderr\nfrom a subprocess\n"


def test_a_call_that_raises_shows_its_traceback_and_a_one_line_error(isolation: str) -> None:
    (result,) = run_cells(isolation, "print('before')\ndef f():\n    return 1 / 0\nf()")
    assert result.raised and result.error == "ZeroDivisionError: division by zero"
    assert result.output.startswith("before\nTraceback (most recent call last):\n")
    assert 'File "<cell 1>", line 3, in f\n    return 1 / 0\n' in result.output
    assert "repl.py" not in result.output


def test_a_syntax_error_is_a_call_that_raised(isolation: str) -> None:
    (result,) = run_cells(isolation, "def f(:\n    pass")
    assert result.raised
    assert result.error is not None and result.error.startswith("SyntaxError: ")
    assert not result.timed_out and not result.restarted


def test_a_timeout_interrupts_the_call_and_keeps_the_session(isolation: str) -> None:
    results = run_cells(isolation, "x = 7", "import time\ntime.sleep(60)", "x", call_timeout_s=1)
    timed = results[1]
    assert (timed.timed_out, timed.restarted, timed.raised) == (True, False, False)
    assert timed.output == "[interrupted after 1 s: the call took too long]\n"
    assert 1 <= timed.duration_s < 10
    assert results[2].output == "7\n"


def test_a_shorter_remaining_time_shortens_the_limit(isolation: str) -> None:
    async def body(session: PythonSession) -> CellResult:
        return await session.run("import time\ntime.sleep(60)", timeout_s=0.5)

    result = with_session(isolation, body)
    assert result.timed_out and result.output.startswith("[interrupted after 0.5 s")


def test_code_that_ignores_the_interrupt_restarts_the_session(isolation: str) -> None:
    stubborn = "import time\nwhile True:\n    try:\n        time.sleep(60)\n    except KeyboardInterrupt:\n        pass"

    async def body(session: PythonSession) -> tuple[list[CellResult], int]:
        results = [await session.run(c) for c in ("x = 1", stubborn, "print('alive')", "x")]
        return results, session.restarts

    results, restarts = with_session(isolation, body, call_timeout_s=1, interrupt_grace_s=0.5)
    stuck = results[1]
    assert (stuck.timed_out, stuck.restarted, restarts) == (True, True, 1)
    assert "did not stop within 0.5 s, so the session was restarted" in stuck.output
    assert "are lost" in stuck.output
    assert results[2].output == "alive\n"
    assert results[3].error == "NameError: name 'x' is not defined"


def test_a_session_that_exits_is_restarted_and_says_why(isolation: str) -> None:
    results = run_cells(isolation, "import os\nos._exit(3)", "print('back')")
    assert results[0].restarted and not results[0].timed_out
    assert (
        "[the session ended (its interpreter exited with status 3) and was restarted"
        in results[0].output
    )
    assert results[1].output == "back\n"


def test_output_is_capped_with_a_marker(isolation: str) -> None:
    (result,) = run_cells(isolation, "print('x' * 25_000)", max_output_chars=1000)
    # 25,000 x and a newline printed: 1,000 kept, 24,001 cut
    assert result.output == "x" * 1000 + "\n... [24001 characters cut]\n"
    assert result.cut_chars == 24_001


def test_the_traceback_is_kept_when_the_output_is_cut(isolation: str) -> None:
    (result,) = run_cells(
        isolation, "print('y' * 5000)\nraise ValueError('bad')", max_output_chars=1000
    )
    assert result.output.endswith("ValueError: bad\n")
    assert "characters cut]" in result.output
    assert len(result.output) < 1100


def test_home_is_empty_writable_and_the_working_directory(isolation: str) -> None:
    async def body(session: PythonSession) -> tuple[str, str]:
        result = await session.run(
            "import os\nprint(os.listdir('.'), os.getcwd() == os.environ['HOME'])\n"
            "open('notes.txt', 'w').write('hi')\nprint(open('notes.txt').read())"
        )
        return result.output, session.home

    output, home = with_session(isolation, body)
    assert output == "[] True\nhi\n"
    if isolation == "bwrap":
        assert home == JAIL_HOME


def test_copy_out_copies_home_without_following_links(isolation: str, tmp_path: Path) -> None:
    async def body(session: PythonSession) -> list[str]:
        await session.run(
            "import os\nos.makedirs('out/deep')\nopen('out/deep/r.csv', 'w').write('a,b\\n')\n"
            "open('top.txt', 'w').write('t')\nos.symlink('/etc/hostname', 'link')\nos.mkfifo('fifo')"
        )
        return await session.copy_out(tmp_path / "copy")

    names = with_session(isolation, body)
    assert names == ["out/deep/r.csv", "top.txt"]
    assert (tmp_path / "copy/out/deep/r.csv").read_text() == "a,b\n"
    assert not (tmp_path / "copy/link").exists()


def test_copy_out_stops_at_its_byte_budget(isolation: str, tmp_path: Path) -> None:
    async def body(session: PythonSession) -> list[str]:
        await session.run("open('a', 'wb').write(b'1' * 600)\nopen('b', 'wb').write(b'2' * 600)")
        return await session.copy_out(tmp_path / "copy", max_bytes=1000)

    assert with_session(isolation, body) == ["a"]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "sales.csv").write_text("month,total\njan,10\n")
    return folder


def test_a_tests_folder_is_readable_under_data(isolation: str, data_dir: Path) -> None:
    async def body(session: PythonSession) -> tuple[str | None, str]:
        result = await session.run(
            "import os\nprint(open(os.path.join(DATA, 'sales.csv')).read())".replace(
                "DATA", repr(session.data)
            )
        )
        return session.data, result.output

    where, output = with_session(isolation, body, files=(data_dir,))
    assert output == "month,total\njan,10\n\n"
    if isolation == "bwrap":
        assert where == JAIL_DATA


def test_single_files_appear_under_data_by_name(isolation: str, data_dir: Path) -> None:
    async def body(session: PythonSession) -> str:
        return (await session.run(f"import os\nsorted(os.listdir({session.data!r}))")).output

    assert with_session(isolation, body, files=(data_dir / "sales.csv",)) == "['sales.csv']\n"


def test_writing_under_data_fails_in_the_jail(data_dir: Path) -> None:
    async def body(session: PythonSession) -> CellResult:
        return await session.run("open('/data/sales.csv', 'a').write('x')")

    result = with_session("bwrap", body, files=(data_dir,))
    assert result.error == "OSError: [Errno 30] Read-only file system: '/data/sales.csv'"


def test_writing_under_data_never_changes_the_original(isolation: str, data_dir: Path) -> None:
    # under "process" as root the copy's read-only permissions do not bind; the copy does
    async def body(session: PythonSession) -> None:
        await session.run(f"open({session.data!r} + '/sales.csv', 'a').write('x')")

    with_session(isolation, body, files=(data_dir,))
    assert (data_dir / "sales.csv").read_text() == "month,total\njan,10\n"


def test_a_missing_file_of_the_test_is_a_sandbox_error(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match=r"the test.s file .*nope\.csv does not exist"):
        with_session("bwrap", lambda s: asyncio.sleep(0), files=(tmp_path / "nope.csv",))


def test_the_limiter_bounds_calls_across_sessions(isolation: str) -> None:
    limiter = CallLimiter(2)

    async def go() -> int:
        sessions = [
            await PythonSession.start(settings(isolation), limiter=limiter) for _ in range(4)
        ]
        try:
            await asyncio.gather(*(s.run("import time\ntime.sleep(0.3)") for s in sessions))
        finally:
            await asyncio.gather(*(s.close() for s in sessions))
        return limiter.peak

    assert asyncio.run(go()) == 2


def test_a_calls_time_starts_when_it_gets_its_slot(isolation: str) -> None:
    limiter = CallLimiter(1)

    async def go() -> list[CellResult]:
        sessions = [
            await PythonSession.start(settings(isolation, call_timeout_s=1.5), limiter=limiter)
            for _ in range(2)
        ]
        try:
            # 2 x 0.8 s one after the other: 1.6 s in all, each within its 1.5 s
            return list(
                await asyncio.gather(*(s.run("import time\ntime.sleep(0.8)") for s in sessions))
            )
        finally:
            await asyncio.gather(*(s.close() for s in sessions))

    results = asyncio.run(go())
    assert [r.timed_out for r in results] == [False, False]
    assert all(r.duration_s < 1.5 for r in results)


def test_close_is_idempotent_and_leaves_no_process(isolation: str) -> None:
    async def go() -> None:
        session = await PythonSession.start(settings(isolation))
        await session.run("import subprocess\np = subprocess.Popen(['sleep', '100'])")
        await session.close()
        await session.close()
        with pytest.raises(SandboxError, match="closed"):
            await session.run("1")

    asyncio.run(go())
    assert leftovers() == []


def test_an_interpreter_that_does_not_run_is_a_sandbox_error(isolation: str) -> None:
    with pytest.raises(SandboxError) as caught:
        with_session(isolation, lambda s: asyncio.sleep(0), python="/nonexistent/python3")
    assert "did not start (3 attempts)" in str(caught.value)
    assert "/nonexistent/python3" in str(caught.value)
    assert str(caught.value).endswith("; check [sandbox] python and isolation in base_config.toml")


def test_check_isolation_passes_here(isolation: str) -> None:
    check_isolation(settings(isolation))


def test_without_bwrap_the_preflight_says_how_to_fix_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("llmbench.sandbox.jail.bwrap_path", lambda: None)
    monkeypatch.setattr(preflight, "_checked", {})
    with pytest.raises(SandboxUnavailable) as caught:
        check_isolation(settings("bwrap"))
    assert str(caught.value) == (
        "sandbox: bubblewrap (bwrap) is not installed: install it (`apt-get install bubblewrap`) "
        'or set `[sandbox] isolation = "process"` in base_config.toml (rlimits only)'
    )


def test_import_llmbench_does_not_import_the_sandbox() -> None:
    import subprocess
    import sys

    code = "import sys, llmbench\nprint(sorted(m for m in sys.modules if m.startswith('llmbench.sandbox')))"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout == "[]\n"


RUNNER = """
import asyncio, sys
from llmbench.sandbox import PythonSession, SandboxSettings

async def main():
    session = await PythonSession.start(SandboxSettings(isolation=sys.argv[1]))
    await session.run(sys.argv[2])

asyncio.run(main())
"""


def test_a_runner_killed_with_sigkill_takes_its_jail_with_it() -> None:
    import signal
    import subprocess
    import sys
    import time
    import uuid

    from tests.sandbox_support import processes_with

    marker = f"llmbench-orphan-{uuid.uuid4().hex}"
    code = (
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(1000)  # {marker}'])\n"
        "time.sleep(1000)"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    runner = subprocess.Popen([sys.executable, "-c", RUNNER, "bwrap", code], env=env)
    try:
        deadline = time.monotonic() + 20
        while not processes_with(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert processes_with(marker), "the session's background process never started"
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.wait()
    assert leftovers(marker) == []


def test_another_interpreter_can_run_the_sessions(isolation: str) -> None:
    # the system's Python (its prefix is /usr, already in the jail) instead of this venv's
    (result,) = run_cells(isolation, "import sys\nprint(sys.executable)", python="/usr/bin/python3")
    assert result.output == "/usr/bin/python3\n"


def test_sessions_work_on_uvloop(isolation: str) -> None:
    # runs use uvloop where it is installed (a dependency on Linux): its pipes differ
    import uvloop

    async def go() -> list[CellResult]:
        async with await PythonSession.start(settings(isolation, call_timeout_s=1)) as session:
            return [
                await session.run(c)
                for c in (
                    "x = 5\nimport os\n_ = os.system('echo hi')",
                    "import time\ntime.sleep(9)",
                    "x",
                )
            ]

    results = uvloop.run(go())
    assert [r.output for r in results[::2]] == ["hi\n", "5\n"]
    assert results[1].timed_out and not results[1].restarted


def test_a_venv_under_tmp_is_visible_in_the_jail(tmp_path: Path) -> None:
    """A venv in the host's /tmp (a fresh clone there) is bound after the jail's own /tmp."""
    import subprocess
    import sys

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    (result,) = run_cells("bwrap", "import sys\nprint(sys.prefix)", python=python)
    assert result.output == f"{venv}\n", result


def test_the_sessions_python_has_its_venvs_site_packages(tmp_path: Path) -> None:
    """``[sandbox] python`` gives agents an environment: its venv's packages are importable."""
    import subprocess
    import sys

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (site,) = venv.glob("lib/python*/site-packages")
    (site / "agent_only_pkg.py").write_text("VALUE = 42\n", encoding="utf-8")
    (result,) = run_cells(
        "bwrap",
        "import agent_only_pkg\nprint(agent_only_pkg.VALUE)",
        python=str(venv / "bin/python"),
    )
    assert result.output == "42\n", result
