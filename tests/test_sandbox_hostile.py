"""Hostile code in a session: every escape attempt is contained, recorded as the call's error or
output, and the session goes on (or is restarted); no process of a sandbox is left afterwards.

Where ``process`` isolation cannot hold (it has only resource limits), the test says what does
hold there, so the difference between the isolations stays visible."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmbench.sandbox import CellResult, PythonSession
from tests.sandbox_support import ISOLATIONS, leftovers, processes_with, run_cells, with_session

SECRET = "sk-test-do-not-leak-1234567890"


@pytest.fixture(autouse=True)
def _nothing_left_behind() -> Iterator[None]:
    yield
    assert leftovers() == []


@pytest.fixture(params=ISOLATIONS)
def isolation(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_the_parents_environment_never_reaches_the_session(
    isolation: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    code = (
        "import os\nseen = [repr(dict(os.environ))]\n"
        "for pid in os.listdir('/proc'):\n"
        "    try:\n"
        "        seen.append(open(f'/proc/{pid}/environ', 'rb').read().decode('latin-1'))\n"
        "        seen.append(open(f'/proc/{pid}/cmdline', 'rb').read().decode('latin-1'))\n"
        "    except OSError:\n"
        "        pass\n"
        "print(sorted(os.environ), 'sk-test-do-not-leak' in ''.join(seen))"
    )
    (result,) = run_cells(isolation, code)
    names, leaked = result.output.rsplit(" ", 1)
    # PWD: set by bwrap's --chdir or by the keeper shell
    assert set(eval(names)) <= {
        "HOME",
        "LANG",
        "LC_ALL",
        "MALLOC_ARENA_MAX",
        "PATH",
        "PWD",
        "TMPDIR",
    }
    assert leaked == "False\n"


@pytest.fixture
def host_files(tmp_path: Path) -> tuple[Path, Path]:
    suite = tmp_path / "suite.json"
    suite.write_text('{"tests": [{"expected": "the answer"}]}')
    results = tmp_path / "results"
    results.mkdir()
    (results / "summary.json").write_text("{}")
    return suite, results


def test_the_suite_and_the_results_do_not_exist_in_the_jail(host_files: tuple[Path, Path]) -> None:
    suite, results = host_files
    code = f"import os\nprint(os.path.exists({str(suite)!r}), os.path.exists({str(results)!r}))\nopen({str(suite)!r})"
    (result,) = run_cells("bwrap", code)
    assert result.output.startswith("False False\n")
    assert result.error == f"FileNotFoundError: [Errno 2] No such file or directory: '{suite}'"


def test_the_jail_shows_of_the_python_installation_only_its_own_folders() -> None:
    import sys

    venv, base = Path(sys.prefix), Path(sys.base_prefix)
    code = (
        "import os\n"
        f"print(os.listdir({str(venv.parent)!r}), os.listdir({str(base.parent)!r}))\n"
        "print(os.path.exists('/root/.bashrc'), os.listdir('/home'))"
    )
    (result,) = run_cells("bwrap", code)
    # the folder around a venv (here a repository) shows the venv alone, nothing beside it
    assert result.output == f"[{venv.name!r}] [{base.name!r}]\nFalse ['agent']\n"


def test_process_isolation_reads_what_the_runners_user_may(host_files: tuple[Path, Path]) -> None:
    # what holds under "process": nothing stops reading by absolute path (documented)
    suite, _ = host_files
    (result,) = run_cells("process", f"print(open({str(suite)!r}).read())")
    assert "the answer" in result.output


def test_writing_outside_home_fails_in_the_jail(tmp_path: Path) -> None:
    target = tmp_path / "written.txt"
    code = (
        "import errno\nout = []\n"
        f"for path in ({str(target)!r}, '/usr/evil', '/evil', '/etc/evil', '/dev/evil', '/proc/evil'):\n"
        "    try:\n"
        "        open(path, 'w').write('x')\n"
        "        out.append('wrote ' + path)\n"
        "    except OSError as exc:\n"
        "        out.append(errno.errorcode[exc.errno])\n"
        "print(out)"
    )
    (result,) = run_cells("bwrap", code)
    assert "wrote" not in result.output
    assert not target.exists()


def test_process_isolation_writes_where_the_runners_user_may(tmp_path: Path) -> None:
    # what holds under "process": nothing stops writing by absolute path (documented)
    target = tmp_path / "written.txt"
    run_cells("process", f"open({str(target)!r}, 'w').write('x')")
    assert target.read_text() == "x"


def test_the_jail_has_no_capabilities_and_cannot_remount_the_system() -> None:
    code = (
        "import os\n"
        "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('CapEff')])\n"
        "print(os.system('mount -o remount,rw,bind /usr 2>/dev/null') != 0)\n"
        "open('/usr/llmbench-escape', 'w')"
    )
    (result,) = run_cells("bwrap", code)
    assert result.output.startswith("['0000000000000000']\nTrue\n")
    assert result.error == "OSError: [Errno 30] Read-only file system: '/usr/llmbench-escape'"
    assert not Path("/usr/llmbench-escape").exists()


@pytest.fixture
def listener() -> Iterator[tuple[int, list[object]]]:
    """A TCP server on 127.0.0.1 that records every connection it accepts."""
    accepted: list[object] = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            accepted.append(conn)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    stop.set()
    thread.join()
    server.close()


def test_the_jail_has_no_network(listener: tuple[int, list[object]]) -> None:
    port, accepted = listener
    code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)"
    (result,) = run_cells("bwrap", code)
    assert result.error == "ConnectionRefusedError: [Errno 111] Connection refused"
    assert accepted == []


def test_process_isolation_reaches_the_hosts_loopback(listener: tuple[int, list[object]]) -> None:
    # what holds under "process": the network is open (documented)
    port, accepted = listener
    (result,) = run_cells(
        "process",
        f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2).close()",
    )
    assert not result.raised
    deadline = time.monotonic() + 2
    while not accepted and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(accepted) == 1


def test_a_fork_bomb_is_contained(isolation: str) -> None:
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"

    async def body(session: PythonSession) -> tuple[CellResult, CellResult, int | None]:
        bombed = await session.run(bomb)
        peak = None
        proc = session._proc
        if proc is not None and proc.cgroup is not None:
            text = (proc.cgroup.path / "pids.peak").read_text()
            peak = int(text) if text.strip().isdigit() else None
        return bombed, await session.run("print('still here')"), peak

    bombed, after, peak = with_session(isolation, body, processes=16, call_timeout_s=1.5)
    assert bombed.timed_out
    assert after.output == "still here\n"
    if peak is not None:
        assert peak <= 16 + 2


def test_allocating_10_gb_is_a_memory_error(isolation: str) -> None:
    results = run_cells(isolation, "x = bytearray(10 * 1024**3)", "print('ok')", memory_mb=1024)
    assert results[0].error == "MemoryError"
    assert results[1].output == "ok\n"


def test_printing_1_gb_is_capped(isolation: str) -> None:
    code = "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(1024):\n    sys.stdout.write(chunk)"
    (result,) = run_cells(isolation, code, call_timeout_s=60, max_output_chars=1000)
    assert not result.timed_out
    assert result.cut_chars == (1 << 30) - 1000
    assert result.output == "x" * 1000 + f"\n... [{(1 << 30) - 1000} characters cut]\n"
    assert result.duration_s < 30


def test_filling_home_fails_with_enospc_inside() -> None:
    code = (
        "import errno\nblock = b'0' * (1 << 20)\n"
        "try:\n"
        "    for i in range(100):\n"
        "        with open(f'f{i}', 'wb') as f:\n"
        "            f.write(block * 4)\n"
        "except OSError as exc:\n"
        "    print(errno.errorcode[exc.errno])"
    )
    results = run_cells("bwrap", code, "print('ok')", home_size_mb=16)
    assert results[0].output == "ENOSPC\n"
    assert results[1].output == "ok\n"


def test_a_file_over_the_size_limit_fails_with_efbig(isolation: str) -> None:
    code = "open('big', 'wb').write(b'0' * (3 << 20))"
    (result,) = run_cells(isolation, code, file_size_mb=2)
    assert result.error == "OSError: [Errno 27] File too large"


def test_sleeping_forever_times_out(isolation: str) -> None:
    results = run_cells(
        isolation, "import time\ntime.sleep(1e9)", "print('next')", call_timeout_s=1
    )
    assert results[0].timed_out and not results[0].restarted
    assert results[1].output == "next\n"


@pytest.mark.parametrize("detach", ["plain", "new_session", "double_fork"])
def test_a_background_process_dies_with_its_call(isolation: str, detach: str) -> None:
    marker = f"llmbench-bg-{uuid.uuid4().hex}"
    sleeper = f"import time; time.sleep(1000)  # {marker}"
    start = {
        "plain": f"subprocess.Popen([sys.executable, '-c', {sleeper!r}])",
        "new_session": f"subprocess.Popen([sys.executable, '-c', {sleeper!r}], start_new_session=True)",
        "double_fork": f"subprocess.Popen(['sh', '-c', 'setsid ' + sys.executable + ' -c \"{sleeper}\" &'])",
    }[detach]
    code = f"import subprocess, sys, time\n{start}\ntime.sleep(0.3)"

    async def body(session: PythonSession) -> list[int]:
        await session.run(code)
        return processes_with(marker)

    assert with_session(isolation, body) == []


def test_killing_its_parent_leaves_the_runner_and_a_working_session(isolation: str) -> None:
    results = run_cells(
        isolation,
        "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
        "x = 1",
        "print('fine')",
    )
    # bwrap: the parent is the jail's init, which signals from inside cannot kill; process: the
    # parent is a keeper shell, whose death ends the session (at once or just after the call),
    # which is restarted
    assert any(r.restarted for r in results[:2]) is (isolation == "process")
    assert results[2].output == "fine\n"


def test_killing_the_interpreter_restarts_the_session(isolation: str) -> None:
    results = run_cells(
        isolation, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", "print('fine')"
    )
    assert results[0].restarted
    assert "(killed by SIGKILL)" in results[0].output
    assert results[1].output == "fine\n"


def test_closing_the_protocols_descriptors_only_hurts_its_own_session(isolation: str) -> None:
    code = "import os\nfor fd in range(0, 64):\n    try:\n        os.close(fd)\n    except OSError:\n        pass"
    results = run_cells(isolation, code, "print('fine')", call_timeout_s=2)
    assert results[0].restarted or results[0].timed_out or not results[0].raised
    assert results[1].output == "fine\n"
