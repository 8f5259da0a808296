"""The parent side of the ``python`` scorer's sandbox: one child process per answer, bounded.

:func:`run_python` writes a job into a fresh temporary directory, starts
:mod:`llmbench.scoring.sandbox_child` as ``sys.executable -I -B -X utf8`` in a new session
(its own process group) with a ``scratch`` subdirectory as cwd, HOME and TMPDIR and an
environment holding nothing of the parent's (no API keys), and waits at most ``timeout_s``.
Then the whole process group is killed (on time-out, and also after a normal exit, so nothing
the code started survives), the child is reaped, and the temporary directory is removed.

The child's stdout and stderr go to files capped by RLIMIT_FSIZE (``file_size_bytes``); the
parent reads at most ``output_bytes`` of each, so a flood of output cannot fill its memory.
What the child reports comes from its result file (JSON lines carrying a per-run nonce).

Guarantees: the run ends within ``timeout_s`` plus a fraction of a second, leaves no process of
its group and no files, and a failure of the code (including MemoryError, a crash, a kill) is an
:class:`SandboxOutcome`, never an exception. POSIX only.

Isolation (``sandbox``, a :class:`~llmbench.sandbox.settings.SandboxSettings`; None: its
default, ``"bwrap"``):

- ``"bwrap"``: the child runs in the same bubblewrap jail as the agents' sessions
  (:mod:`llmbench.sandbox.jail`): no network, nothing of the host but the system and the Python
  installation read-only, the job folder at ``/job`` and the scratch directory a capped memory
  file system (:data:`SCRATCH_MB`) over ``/job/scratch``; its own pid namespace, so whatever the
  code starts dies with the jail (killed by the kernel as the jail's init exits, which bwrap
  does not wait for: within milliseconds of the run's end rather than at it). The child's
  audit hook still runs inside, as a second line.
- ``"process"``: the child as described above; the blocking of network and file access is then
  in-process and best-effort (:mod:`llmbench.scoring.sandbox_child`), not a kernel sandbox.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmbench.sandbox.settings import SandboxSettings

CHILD = Path(__file__).resolve().with_name("sandbox_child.py")
RESULT_BYTES = 1024 * 1024
SCRATCH_MB = 64
"""Size of the scratch directory in the jail (``"bwrap"``)."""
JAIL_JOB = "/job"
JAIL_CHILD = "/llmbench/sandbox_child.py"


@dataclass(frozen=True)
class SandboxLimits:
    """What one run may use."""

    timeout_s: float = 10.0
    """Wall-clock seconds; CPU seconds are capped at this rounded up, plus one."""
    memory_mb: int = 512
    """Address space of the child (RLIMIT_AS), in MiB."""
    file_size_bytes: int = 8 * 1024 * 1024
    """Largest file the child may write, its stdout and stderr included (RLIMIT_FSIZE)."""
    open_files: int = 64
    """File descriptors the child may hold (RLIMIT_NOFILE)."""
    output_bytes: int = 64 * 1024
    """How much of stdout and of stderr the parent reads back."""


@dataclass(frozen=True)
class Check:
    """What the child said about the code or one assertion."""

    ok: bool
    kind: str | None = None
    """``syntax``, ``exception``, ``assertion``, ``memory``, ``file_size``, ``exit``,
    ``blocked``; None when ok."""
    error: str | None = None


@dataclass(frozen=True)
class SandboxOutcome:
    """Everything the parent learnt from one run."""

    pid: int
    returncode: int
    """Exit status; negative: killed by that signal."""
    timed_out: bool
    started: bool
    """The child set up its limits and was about to run the code."""
    code: Check | None
    """How running the code went; None if it never finished."""
    assertions: tuple[Check | None, ...]
    """One per assertion, None for those that did not finish."""
    violations: tuple[str, ...]
    """What the code tried that the sandbox refused, in order."""
    finished: bool
    """The child ran everything and exited on its own."""
    stdout: str
    stderr: str
    elapsed_s: float


def _child_env(scratch: Path) -> dict[str, str]:
    home = str(scratch)
    return {
        "HOME": home,
        "TMPDIR": home,
        "PATH": os.defpath,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "MALLOC_ARENA_MAX": "2",  # keeps glibc's per-thread arenas inside RLIMIT_AS
    }


def _wait_exited(pid: int, timeout_s: float) -> bool:
    """True once ``pid`` has exited, False after ``timeout_s``; does not reap it.

    An unreaped child keeps its pid, so its process group cannot be reused before we kill it.
    """
    if sys.platform == "linux":
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            pass
        else:
            try:
                poller = select.poll()  # not select(): the parent may hold fds above 1024
                poller.register(fd, select.POLLIN)
                return bool(poller.poll(max(0, int(timeout_s * 1000))))
            finally:
                os.close(fd)
    deadline = time.monotonic() + timeout_s
    while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _read_head(path: Path, limit: int) -> str:
    try:
        with path.open("rb") as f:
            data = f.read(limit)
            more = f.read(1)
    except OSError:
        return ""
    text = data.decode("utf-8", "replace")
    return text + "\n[... output truncated]" if more else text


def _events(path: Path, nonce: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for line in _read_head(path, RESULT_BYTES).splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("nonce") == nonce:
            out.append(event)
    return out


def _check(event: dict[str, Any]) -> Check:
    return Check(bool(event.get("ok")), event.get("kind"), event.get("error"))


def _command(work: Path, jailed: bool) -> tuple[list[str], dict[str, str], Path]:
    """(argv, environment, working directory) of the child for the job in ``work``."""
    if not jailed:
        scratch = work / "scratch"
        argv = [sys.executable, "-I", "-B", "-X", "utf8", str(CHILD), str(work / "job.json")]
        return argv, _child_env(scratch), scratch
    from llmbench.sandbox import jail

    scratch_in = f"{JAIL_JOB}/scratch"
    env = {**_child_env(Path(scratch_in)), "PATH": "/usr/bin:/bin"}
    spec = jail.Jail(
        jail.python_install(sys.executable),
        env,
        scratch_in,
        ro_binds=[(str(CHILD), JAIL_CHILD)],
        rw_binds=[(str(work), JAIL_JOB)],
        tmpfs=[(scratch_in, SCRATCH_MB)],
    )
    python = jail.python_install(sys.executable).executable
    argv = spec.argv([python, "-I", "-B", "-X", "utf8", JAIL_CHILD, f"{JAIL_JOB}/job.json"])
    return argv, env, Path("/")


def run_python(
    code: str,
    assertions: list[str],
    limits: SandboxLimits,
    sandbox: SandboxSettings | None = None,
) -> SandboxOutcome:
    """Run ``code`` then each assertion in a sandboxed child; see the module docstring.

    Raises OSError only when the child cannot be started at all (bwrap missing included).
    """
    jailed = sandbox is None or sandbox.isolation == "bwrap"
    work = Path(tempfile.mkdtemp(prefix="llmbench-python-"))
    try:
        scratch = work / "scratch"
        scratch.mkdir()
        nonce = secrets.token_hex(16)
        result = work / "result.jsonl"
        result.touch()
        inside = Path(JAIL_JOB) if jailed else work
        job = {
            "nonce": nonce,
            "code": code,
            "assertions": assertions,
            "scratch": str(inside / "scratch"),
            "result_path": str(inside / "result.jsonl"),
            "timeout_s": limits.timeout_s,
            "memory_mb": limits.memory_mb,
            "file_size_bytes": limits.file_size_bytes,
            "open_files": limits.open_files,
        }
        job_path = work / "job.json"
        job_path.write_text(json.dumps(job), encoding="utf-8")
        argv, env, cwd = _command(work, jailed)
        start = time.monotonic()
        with (work / "stdout").open("wb") as out, (work / "stderr").open("wb") as err:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=cwd,
                env=env,
                start_new_session=True,
                close_fds=True,
            )
        try:
            exited = _wait_exited(proc.pid, limits.timeout_s)
        finally:
            _kill_group(proc.pid)  # bwrap: its jail dies with it (--die-with-parent)
            returncode = proc.wait()
        elapsed = time.monotonic() - start
        if jailed and returncode > 128:
            returncode = 128 - returncode  # bwrap reports a child killed by signal N as 128 + N
        return _outcome(
            proc.pid,
            returncode,
            not exited,
            _events(result, nonce),
            work,
            limits,
            elapsed,
            len(assertions),
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _outcome(
    pid: int,
    returncode: int,
    timed_out: bool,
    events: list[dict[str, Any]],
    work: Path,
    limits: SandboxLimits,
    elapsed_s: float,
    n_assertions: int,
) -> SandboxOutcome:
    code: Check | None = None
    checks: list[Check | None] = [None] * n_assertions
    violations: list[str] = []
    for event in events:
        kind = event.get("event")
        if kind == "code":
            code = _check(event)
        elif kind == "assertion" and 0 <= int(event.get("index", -1)) < n_assertions:
            checks[int(event["index"])] = _check(event)
        elif kind == "violation":
            violations.append(str(event.get("what")))
    names = {str(e.get("event")) for e in events}
    return SandboxOutcome(
        pid=pid,
        returncode=returncode,
        timed_out=timed_out,
        started="started" in names,
        code=code,
        assertions=tuple(checks),
        violations=tuple(violations),
        finished="done" in names and not timed_out,
        stdout=_read_head(work / "stdout", limits.output_bytes),
        stderr=_read_head(work / "stderr", limits.output_bytes),
        elapsed_s=elapsed_s,
    )
