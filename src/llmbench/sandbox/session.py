"""A persistent Python session (like a notebook) for an agent's code, in a jail.

:meth:`PythonSession.start` starts :mod:`llmbench.sandbox.repl` under ``settings.python -I -B
-X utf8`` and :meth:`PythonSession.run` sends it cells: variables, imports and files survive
from one call to the next. Each call gets what it printed (file-descriptor level, so the output
of ``os.system`` and subprocesses is there too), capped at ``max_output_chars`` with a marker,
then its traceback; see :class:`CellResult`.

Time: each call has ``min(call_timeout_s, timeout_s)`` of wall clock from the moment it gets a
:class:`CallLimiter` slot. Past it the interpreter gets SIGINT (KeyboardInterrupt: the session
and its variables survive). If the call does not end within ``interrupt_grace_s`` (code that
catches KeyboardInterrupt, or is stuck in C), the session is killed and started again: state
is lost, the result says so (``restarted``), and so does its output. A session that dies during
a call (``os._exit``, a crash, a kill) is started again the same way. Only a session that
cannot be started (three attempts) raises :class:`~llmbench.errors.SandboxError`.

Processes the code starts are killed when its call ends (every process of the session but the
interpreter), and with the session at the latest; :meth:`PythonSession.close` leaves none.

Isolation ``"bwrap"`` (see :mod:`llmbench.sandbox.jail`): no network, an empty environment, the
system and the Python installation read-only, ``/data`` read-only, ``/home/agent`` (the working
directory) and ``/tmp`` writable memory file systems capped at ``home_size_mb`` each (filling
one fails with ENOSPC inside), nothing else of the host. Its own pid namespace: code cannot see
or signal any host process, and the jail dies with the process that started it, even on
SIGKILL (``--die-with-parent``). The bwrap processes are started with an environment of a few
variables only, so nothing secret is in the jail's ``/proc/1/environ`` either.

Isolation ``"process"`` (for machines without user namespaces): the session is a child process
(under a ``/bin/sh`` keeper, so that "kill my parent" ends the session, not the runner) in a
session and process group of its own, with the same resource limits and the same few variables
(HOME and TMPDIR are real per-session folders, ``/data`` a read-only copy of the files). It
dies with the runner where ``setpriv --pdeathsig`` exists, and is a subreaper, so processes
that leave its session are still found and killed after each call. It does NOT protect:
the network (the code can connect anywhere, 127.0.0.1 included), the host's files (it reads and
writes whatever the runner's user may, including the suite, the results and the configs; the
copy in ``/data`` keeps the originals safe from writes, and only that), other processes of the
same user (it can signal or ptrace them, the runner included), and the disk (``home_size_mb``
is not enforced; only RLIMIT_FSIZE caps each file). Processes a call left running while the
runner was killed may survive it.

Resource limits, in both: RLIMIT_AS (``memory_mb``), RLIMIT_CPU (``cpu_time_s``), RLIMIT_FSIZE,
RLIMIT_NOFILE, no core dumps, and ``processes`` (see :mod:`llmbench.sandbox.pids`: a cgroup
``pids.max`` where a pids controller is writable, as for root here, else RLIMIT_NPROC, which
the kernel does not enforce for root).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, cast

from llmbench.errors import SandboxError
from llmbench.sandbox import jail, pids
from llmbench.sandbox.output import Capture, compose
from llmbench.sandbox.settings import SandboxSettings

REPL = Path(__file__).resolve().with_name("repl.py")
JAIL_REPL = "/llmbench/repl.py"
JAIL_HOME = "/home/agent"
JAIL_DATA = "/data"
START_TIMEOUT_S = 20.0
START_ATTEMPTS = 3
END_WAIT_S = 2.0
"""How long the output may lag behind the end-of-call reply."""
NOISE_BYTES = 4096


@dataclass(frozen=True)
class CellResult:
    """What one code call gave."""

    output: str
    """What the model is shown: stdout and stderr as printed, then the traceback when it raised,
    capped at ``max_output_chars`` with a marker saying how much was cut; a last line says when
    the call was interrupted or the session restarted."""
    raised: bool
    """The code raised (a SyntaxError included; an interrupt for time is not counted)."""
    error: str | None
    """One line, ``ZeroDivisionError: division by zero``; None when it did not raise."""
    timed_out: bool
    restarted: bool
    """The session was killed and started again during or after this call: state is lost."""
    duration_s: float
    """Wall clock of the call, not counting the wait for a :class:`CallLimiter` slot."""
    cut_chars: int
    """Characters of output cut."""


class CallLimiter:
    """Bounds the code calls running at once over a whole run; share one among its sessions."""

    def __init__(self, max_parallel: int) -> None:
        if max_parallel < 1:
            raise ValueError(f"max_parallel must be at least 1, got {max_parallel}")
        self.max_parallel = max_parallel
        self.running = 0
        """Calls holding a slot now."""
        self.peak = 0
        """The most calls that have held a slot at once."""
        self._slots = asyncio.Semaphore(max_parallel)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot for the duration of the block."""
        async with self._slots:
            self.running += 1
            self.peak = max(self.peak, self.running)
            try:
                yield
            finally:
                self.running -= 1


class _Protocol(asyncio.SubprocessProtocol):
    """The pipes of one session process: output (fd 1), replies and noise (fd 2)."""

    def __init__(self, nonce: str, loop: asyncio.AbstractEventLoop) -> None:
        self.nonce = nonce
        self.replies: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.noise = bytearray()
        self.capture: Capture | None = None
        self.exited: asyncio.Future[None] = loop.create_future()
        self.ended = False
        """The session closed its end of the reply pipe: it is gone."""
        self._partial = b""

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if fd == 1:
            if self.capture is not None:
                self.capture.feed(data)
            return
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()[-NOISE_BYTES:]
        for line in lines:
            try:
                message = json.loads(line)
            except ValueError:
                message = None
            if isinstance(message, dict) and message.get("nonce") == self.nonce:
                self.replies.put_nowait(message)
            else:
                self.noise += line[-NOISE_BYTES:] + b"\n"
                del self.noise[:-NOISE_BYTES]

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 2:
            self.ended = True
            self.noise += self._partial
            self.replies.put_nowait(None)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)


@dataclass
class _Process:
    """One running session process and what it takes to end it."""

    transport: asyncio.SubprocessTransport
    protocol: _Protocol
    repl_pid: int
    pidfd: int | None
    cgroup: pids.PidsCgroup | None
    root: Path | None
    """The host folder of a ``process`` session (home, tmp, data), removed with it."""


def _children(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                out += [
                    int(p) for p in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()
                ]
    return out


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants, parents first."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop(0)
        if current not in out:
            out.append(current)
            todo += _children(current)
    return out


def _why_ended(returncode: int | None) -> str:
    if returncode is None:
        return "it stopped answering"
    status = returncode - 128 if returncode > 128 else -returncode if returncode < 0 else 0
    if status > 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(status).name}"
        return f"killed by signal {status}"
    return f"its interpreter exited with status {returncode}"


class PythonSession:
    """One agent's persistent Python session; see the module docstring."""

    home: str
    """The working directory as the code sees it: ``/home/agent`` under bwrap, a real folder
    under ``process``."""
    data: str | None
    """Where the test's files are (read-only): ``/data`` under bwrap, a real folder under
    ``process``; None when the test has no files."""
    restarts: int
    """How often the session was killed and started again."""

    def __init__(
        self,
        settings: SandboxSettings,
        files: Sequence[Path],
        limiter: CallLimiter,
    ) -> None:
        self.settings = settings
        self.files = tuple(Path(f) for f in files)
        self.limiter = limiter
        self.restarts = 0
        self.home = JAIL_HOME
        self.data = JAIL_DATA if self.files else None
        self._proc: _Process | None = None
        self._closed = False
        self._seq = 0
        self._lock = asyncio.Lock()
        for path in self.files:
            if not path.is_absolute() or not path.exists():
                raise SandboxError(f"sandbox: the test's file {path} does not exist")

    @classmethod
    async def start(
        cls,
        settings: SandboxSettings,
        *,
        files: Sequence[Path] = (),
        limiter: CallLimiter | None = None,
    ) -> PythonSession:
        """A started session; ``files`` (absolute host paths) appear read-only under
        :attr:`data` (a directory's contents, a file by its name). Without ``limiter`` the
        session has one of its own (``max_parallel`` slots). Raises SandboxError."""
        if limiter is None:
            limiter = CallLimiter(settings.parallel_calls)
        session = cls(settings, files, limiter)
        await session._start()
        return session

    async def __aenter__(self) -> PythonSession:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- starting and stopping ---------------------------------------------------------------

    async def _start(self) -> None:
        reasons: list[str] = []
        for _ in range(START_ATTEMPTS):
            try:
                self._proc = await self._spawn()
                return
            except (OSError, SandboxError) as exc:
                reasons.append(str(exc))
        raise SandboxError(
            f"sandbox: the Python session did not start ({START_ATTEMPTS} attempts): "
            f"{reasons[-1]}; check [sandbox] python and isolation in base_config.toml"
        )

    def _limits(self) -> dict[str, int]:
        s = self.settings
        nproc = 0
        if not pids.available() and os.getuid() != 0:
            # within bwrap's own user namespace the kernel counts the session's processes
            # apart; without it the count is the user's, so allow the session that many more
            nproc = s.processes + 1 if s.isolation == "bwrap" else _user_tasks() + s.processes
        return {
            "as": s.memory_mb << 20,
            "cpu": s.cpu_time_s,
            "fsize": s.file_size_mb << 20,
            "nofile": s.open_files,
            "nproc": nproc,
        }

    def _command(self, python: jail.PythonInstall) -> tuple[list[str], dict[str, str], Path | None]:
        """(argv, environment, host folder) of a new session process."""
        exe = [python.executable, "-I", "-B", "-X", "utf8"]
        if self.settings.isolation == "bwrap":
            env = jail.base_env(JAIL_HOME, "/tmp")
            size = self.settings.home_size_mb
            spec = jail.Jail(
                python,
                env,
                JAIL_HOME,
                ro_binds=[(str(REPL), JAIL_REPL), *self._data_binds()],
                tmpfs=[("/tmp", size), (JAIL_HOME, size)],
            )
            return spec.argv([*exe, JAIL_REPL]), env, None
        root = Path(tempfile.mkdtemp(prefix="llmbench-session-"))
        for name in ("home", "tmp"):
            (root / name).mkdir()
        self.home = str(root / "home")
        if self.files:
            self.data = str(root / "data")
            _copy_read_only(self.files, root / "data")
        env = jail.base_env(self.home, str(root / "tmp"))
        keeper = ["/bin/sh", "-c", '"$@"; exit $?', "sh"]
        setpriv = shutil.which("setpriv")
        if setpriv:
            keeper = [setpriv, "--pdeathsig", "KILL", *keeper]
        return [*keeper, *exe, str(REPL)], env, root

    def _data_binds(self) -> list[tuple[str, str]]:
        if len(self.files) == 1 and self.files[0].is_dir():
            return [(str(self.files[0]), JAIL_DATA)]
        binds = []
        for path in self.files:
            entries = sorted(path.iterdir()) if path.is_dir() else [path]
            binds += [(str(e), f"{JAIL_DATA}/{e.name}") for e in entries]
        return binds

    async def _spawn(self) -> _Process:
        loop = asyncio.get_running_loop()
        python = await asyncio.to_thread(jail.python_install, self.settings.interpreter)
        argv, env, root = self._command(python)
        nonce = secrets.token_hex(16)
        cgroup = pids.PidsCgroup.create(self.settings.processes + 2)
        try:
            transport, protocol = await loop.subprocess_exec(
                lambda: _Protocol(nonce, loop),
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                cwd=root / "home" if root else "/",
                start_new_session=True,
            )
        except BaseException:
            if cgroup is not None:
                cgroup.remove()
            _remove_tree(root)
            raise
        proc = _Process(transport, protocol, -1, None, cgroup, root)
        try:
            await self._handshake(proc, nonce)
        except BaseException:
            await self._kill(proc)
            raise
        return proc

    async def _handshake(self, proc: _Process, nonce: str) -> None:
        config = {"isolation": self.settings.isolation, "home": self.home, "limits": self._limits()}
        _send(proc, nonce.encode() + b"\n" + _frame(nonce, config))
        try:
            ready = await asyncio.wait_for(proc.protocol.replies.get(), START_TIMEOUT_S)
        except TimeoutError:
            raise SandboxError(f"not ready within {START_TIMEOUT_S:g} s") from None
        if ready is None or ready.get("event") != "ready":
            noise = proc.protocol.noise.decode("utf-8", "replace").strip().splitlines()
            raise SandboxError(noise[-1] if noise else "it exited before it was ready")
        outer = proc.transport.get_pid()
        chain = _tree(outer)
        proc.repl_pid = chain[-1]  # outer -> (bwrap's init ->) the interpreter
        if proc.cgroup is not None:
            for pid in chain[1:] if len(chain) > 1 else chain:
                proc.cgroup.add(pid)
        with contextlib.suppress(OSError):
            proc.pidfd = os.pidfd_open(proc.repl_pid)

    async def _kill(self, proc: _Process) -> None:
        """End every process of the session and remove what it left on the host."""
        outer = proc.transport.get_pid()
        victims = [] if proc.transport.get_returncode() is not None else _tree(outer)
        for pid in reversed(victims):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.killpg(outer, signal.SIGKILL)
        if proc.cgroup is not None:
            await asyncio.to_thread(proc.cgroup.remove)
        if proc.pidfd is not None:
            os.close(proc.pidfd)
            proc.pidfd = None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(proc.protocol.exited), 5)
        proc.transport.close()
        _remove_tree(proc.root)

    async def close(self) -> None:
        """End the session; afterwards no process of it exists. Idempotent."""
        self._closed = True
        proc, self._proc = self._proc, None
        if proc is not None:
            await self._kill(proc)

    async def _restart(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            await self._kill(proc)
        self.restarts += 1
        await self._start()

    # --- calls -------------------------------------------------------------------------------

    async def run(self, code: str, *, timeout_s: float | None = None) -> CellResult:
        """Run one cell; see the module docstring. ``timeout_s`` (the test's remaining time)
        shortens ``call_timeout_s``. Raises SandboxError only when the session cannot be
        (re)started."""
        async with self._lock, self.limiter.slot():
            if self._closed:
                raise SandboxError("sandbox: the Python session is closed")
            start = time.monotonic()
            ended = await self._ended_since_last_call()
            limit = self.settings.call_timeout_s
            if timeout_s is not None:
                limit = max(0.0, min(limit, timeout_s))
            result = await self._call(code, limit)
            if ended is not None:  # said first: what the model did before is gone
                result["output"] = ended + "\n" + result["output"]
                result["restarted"] = True
            return CellResult(duration_s=time.monotonic() - start, **result)

    async def _ended_since_last_call(self) -> str | None:
        """Start the session again if it died between calls; the note saying so, or None."""
        proc = self._proc
        if proc is not None and proc.transport.get_returncode() is None and not proc.protocol.ended:
            return None
        why = _why_ended(proc.transport.get_returncode()) if proc is not None else "it was stopped"
        lost = f"its variables, imports and files in {self.home} are lost"
        await self._restart()
        return f"[the session had ended since the last call ({why}) and was restarted: {lost}]"

    async def _call(self, code: str, limit: float) -> dict[str, Any]:
        proc = self._proc
        assert proc is not None
        loop = asyncio.get_running_loop()
        self._seq += 1
        seq = self._seq
        nonce = proc.protocol.nonce
        capture = Capture(b"\x00\x1b" + nonce.encode() + b":%d\x00" % seq, self._max_chars(), loop)
        proc.protocol.capture = capture
        _send(proc, _frame(nonce, {"op": "run", "seq": seq, "code": code}))
        timed_out = False
        reply = await _reply(proc, seq, limit)
        if reply is False:  # time is up: interrupt, then give it the grace period
            timed_out = True
            self._interrupt(proc)
            reply = await _reply(proc, seq, self.settings.interrupt_grace_s)
        notes: list[str] = []
        restarted = not isinstance(reply, dict)
        if isinstance(reply, dict):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(capture.ended), END_WAIT_S)
        capture.finish()
        proc.protocol.capture = None
        lost = f"its variables, imports and files in {self.home} are lost"
        if timed_out:
            if restarted:
                notes.append(
                    f"[interrupted after {limit:g} s; it did not stop within "
                    f"{self.settings.interrupt_grace_s:g} s, so the session was restarted: {lost}]"
                )
            else:
                notes.append(f"[interrupted after {limit:g} s: the call took too long]")
        elif restarted:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(proc.protocol.exited), 1)
            why = _why_ended(proc.transport.get_returncode())
            notes.append(f"[the session ended ({why}) and was restarted: {lost}]")
        if restarted:
            await self._restart()
        raised = isinstance(reply, dict) and bool(reply.get("raised")) and not timed_out
        traceback = str(reply.get("traceback") or "") if raised and isinstance(reply, dict) else ""
        printed, dropped = capture.text()
        output, cut = compose(printed, dropped, traceback, notes, self.settings.max_output_chars)
        error = str(reply.get("error")) if raised and isinstance(reply, dict) else None
        return {
            "output": output,
            "raised": raised,
            "error": error,
            "timed_out": timed_out,
            "restarted": restarted,
            "cut_chars": cut,
        }

    def _max_chars(self) -> int:
        return self.settings.max_output_chars

    def _interrupt(self, proc: _Process) -> None:
        with contextlib.suppress(OSError):
            if proc.pidfd is not None:
                signal.pidfd_send_signal(proc.pidfd, signal.SIGINT)

    # --- files -------------------------------------------------------------------------------

    def has_file(self, name: str) -> bool:
        """True when ``name`` (relative to :attr:`home`) is a regular file of the session (a
        symbolic link is not followed)."""
        proc = self._proc
        if proc is None or name.startswith("/") or ".." in Path(name).parts:
            return False
        if self.settings.isolation == "bwrap":
            path = f"/proc/{proc.repl_pid}/root{JAIL_HOME}/{name}"
        else:
            path = os.path.join(self.home, name)
        try:
            import stat

            return stat.S_ISREG(os.lstat(path).st_mode)
        except OSError:
            return False

    async def copy_out(
        self,
        dest: Path,
        *,
        max_bytes: int = 64 * 1024 * 1024,
        left_out: list[tuple[str, int]] | None = None,
    ) -> list[str]:
        """Copy the regular files of :attr:`home` into ``dest`` (created), at most ``max_bytes``
        in all; returns their names relative to home, sorted. Symbolic links, devices and pipes
        are skipped, never followed; files past the budget are left out (and, with
        ``left_out``, appended to it as (name, size))."""
        async with self._lock:
            proc = self._proc
            if proc is None:
                return []
            if self.settings.isolation == "bwrap":
                source = f"/proc/{proc.repl_pid}/root{JAIL_HOME}"
            else:
                source = self.home
            return await asyncio.to_thread(_copy_tree, source, dest, max_bytes, left_out)


async def _reply(proc: _Process, seq: int, wait_s: float) -> dict[str, Any] | bool | None:
    """The reply to call ``seq``; False when ``wait_s`` passed; None when the session ended."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            reply = await asyncio.wait_for(
                proc.protocol.replies.get(), max(0.0, deadline - time.monotonic())
            )
        except TimeoutError:
            return False
        if reply is None:
            proc.protocol.replies.put_nowait(None)  # stays ended for whoever asks next
            return None
        if reply.get("event") == "done" and reply.get("seq") == seq:
            return reply


def _send(proc: _Process, data: bytes) -> None:
    """Write to the session's fd 0 (uvloop's pipe transports are no asyncio.WriteTransport)."""
    pipe = proc.transport.get_pipe_transport(0)
    if pipe is None:
        raise SandboxError("sandbox: the session's input pipe is closed")
    cast(asyncio.WriteTransport, pipe).write(data)


def _frame(nonce: str, payload: dict[str, Any]) -> bytes:
    body = json.dumps(payload).encode()
    return f"{nonce} {len(body)}\n".encode() + body


def _user_tasks() -> int:
    """Threads of all processes of this user (what RLIMIT_NPROC counts), from /proc."""
    count, uid = 0, os.getuid()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, ValueError):
                status = Path(f"/proc/{entry}/status").read_text()
                fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
                if int(fields["Uid"].split()[0]) == uid:
                    count += int(fields["Threads"])
    return count


def _copy_read_only(files: Sequence[Path], dest: Path) -> None:
    dest.mkdir()
    for path in files:
        if path.is_dir():
            shutil.copytree(path, dest, symlinks=True, dirs_exist_ok=True)
        else:
            shutil.copy2(path, dest / path.name, follow_symlinks=False)
    for folder, _, names in os.walk(dest, topdown=False):
        for name in names:
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(folder, name), 0o444, follow_symlinks=False)
        os.chmod(folder, 0o555)


def _remove_tree(root: Path | None) -> None:
    if root is None:
        return
    for folder, _, _ in os.walk(root):
        with contextlib.suppress(OSError):
            os.chmod(folder, 0o700)
    shutil.rmtree(root, ignore_errors=True)


COPY_FILES_MAX = 10_000


def _copy_tree(
    source: str, dest: Path, max_bytes: int, left_out: list[tuple[str, int]] | None = None
) -> list[str]:
    """Copy regular files under ``source`` to ``dest`` without following any symbolic link."""
    import stat

    dest.mkdir(parents=True, exist_ok=True)
    copied: list[str] = []
    budget = max_bytes
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        top = os.open(source, flags | os.O_DIRECTORY)
    except OSError:
        return copied
    todo: list[tuple[int, str]] = [(top, "")]
    while todo:
        fd, rel = todo.pop()
        try:
            with os.scandir(fd) as entries:
                names = sorted(e.name for e in entries)
            for name in names:
                if len(copied) >= COPY_FILES_MAX:
                    break
                try:
                    info = os.stat(name, dir_fd=fd, follow_symlinks=False)
                except OSError:
                    continue
                path = f"{rel}{name}"
                if stat.S_ISDIR(info.st_mode):
                    with contextlib.suppress(OSError):
                        todo.append((os.open(name, flags | os.O_DIRECTORY, dir_fd=fd), path + "/"))
                elif stat.S_ISREG(info.st_mode) and info.st_size <= budget:
                    budget -= _copy_file(fd, name, dest / path, budget)
                    copied.append(path)
                elif stat.S_ISREG(info.st_mode) and left_out is not None:
                    left_out.append((path, info.st_size))
        finally:
            os.close(fd)
    return sorted(copied)


def _copy_file(dir_fd: int, name: str, target: Path, budget: int) -> int:
    """Copy one file (at most ``budget`` bytes of it); returns the bytes copied."""
    import stat

    copied = 0
    try:
        src = os.open(
            name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd
        )
    except OSError:
        return 0
    try:
        if not stat.S_ISREG(os.fstat(src).st_mode):
            return 0
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as out:
            while copied < budget:
                chunk = os.read(src, min(1 << 20, budget - copied))
                if not chunk:
                    break
                out.write(chunk)
                copied += len(chunk)
    finally:
        os.close(src)
    return copied
