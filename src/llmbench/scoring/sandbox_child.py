"""The child side of the ``python`` scorer's sandbox: run untrusted code, then its assertions.

Started by :mod:`llmbench.scoring.sandbox` as ``python -I -B -X utf8 sandbox_child.py JOB``
in a new session, with a scratch directory as cwd and HOME and an almost empty environment.
Standard library only (``-I`` leaves llmbench off ``sys.path``).

Before the untrusted code runs, this script:

- reads and deletes the job file, opens the result file;
- sets resource limits: address space (``memory_mb``), CPU seconds, file size, open files, no
  core dumps, and a process count a little above the user's current one;
- replaces the functions that make sockets or processes with ones that raise;
- installs an audit hook (which cannot be removed) that refuses network access, process
  creation, signals to other processes, ctypes, raising resource limits, and file access
  outside the scratch directory except reading the Python installation.

All of that is in-process and best-effort; the kernel is not asked to enforce it (no seccomp,
namespaces or chroot). Code that works at it can get out; code that merely misbehaves cannot.

Results are JSON lines on the result file, each carrying the job's nonce:
``{"event": "started"}``, ``{"event": "code", "ok": ..., "kind": ..., "error": ...}``,
``{"event": "assertion", "index": i, "ok": ..., "kind": ..., "error": ...}``,
``{"event": "violation", "what": ...}``, ``{"event": "done"}``.
"""

from __future__ import annotations

import builtins
import errno
import json
import math
import os
import resource
import signal
import socket
import sys
import sysconfig
from collections.abc import Callable
from typing import Any, NoReturn

PROCESS_MARGIN = 32
"""Processes (threads included) the code may add to the user's count before RLIMIT_NPROC bites."""
MAX_VIOLATIONS = 5
_PROCESS_EVENTS = frozenset(
    (
        "os.fork",
        "os.forkpty",
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.startfile",
        "subprocess.Popen",
        "pty.spawn",
    )
)
_NETWORK_EVENTS = frozenset(
    (
        "urllib.Request",
        "http.client.connect",
        "ftplib.connect",
        "smtplib.connect",
        "poplib.connect",
        "imaplib.open",
        "nntplib.connect",
        "telnetlib.Telnet.open",
        "webbrowser.open",
    )
)
_WRITE_EVENTS: dict[str, tuple[int, ...]] = {
    # event -> positions of (path, dir_fd) pairs in its arguments
    "os.remove": (0, 1),
    "os.rmdir": (0, 1),
    "os.mkdir": (0, 2),
    "os.chmod": (0, 2),
    "os.chown": (0, 3),
    "os.utime": (0, 3),
    "os.rename": (0, 2, 1, 3),
    "os.link": (0, 2, 1, 3),
    "os.symlink": (1, 2),
    "os.truncate": (0, -1),
    "os.setxattr": (0, -1),
    "os.removexattr": (0, -1),
    "shutil.rmtree": (0, 1),
}
_LIST_EVENTS = frozenset(("os.listdir", "os.scandir"))
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
_AF_UNIX = getattr(socket, "AF_UNIX", -1)


class SandboxViolation(PermissionError):
    """Raised in the untrusted code when it does something the sandbox refuses."""


class Sandbox:
    """The rules of one run: where the code may read and write, and what it already tried."""

    def __init__(self, scratch: str, result_fd: int, nonce: str) -> None:
        self.scratch = os.path.realpath(scratch)
        self.result_fd = result_fd
        self.nonce = nonce
        self.violations = 0
        roots = {sysconfig.get_path(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
        roots.update(p for p in sys.path if p)
        try:
            import zoneinfo

            roots.update(zoneinfo.TZPATH)
        except ImportError:
            pass
        resolved = {os.path.realpath(r) for r in roots if r}
        self.read_roots = tuple(sorted(resolved - {"/"}))
        self.read_files = frozenset(("/dev/null", "/dev/urandom", "/dev/zero"))

    def emit(self, event: str, **fields: Any) -> None:
        """Append one result line (never raises: a full disk must not hide the verdict)."""
        line = json.dumps({"nonce": self.nonce, "event": event, **fields}) + "\n"
        try:
            os.write(self.result_fd, line.encode("utf-8", "replace"))
        except OSError:
            pass

    def refuse(self, what: str) -> NoReturn:
        if self.violations < MAX_VIOLATIONS:
            self.emit("violation", what=what)
        self.violations += 1
        raise SandboxViolation(errno.EACCES, f"blocked by the llmbench sandbox: {what}")

    def _resolve(self, path: Any, dir_fd: Any = None) -> str | None:
        if path is None or isinstance(path, int):
            return None  # an already open descriptor
        text = os.fsdecode(os.fspath(path))
        if not os.path.isabs(text) and isinstance(dir_fd, int) and dir_fd >= 0:
            try:
                text = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), text)
            except OSError:
                pass  # best effort: judged relative to the working directory
        return os.path.realpath(text)

    def _inside(self, path: str, roots: tuple[str, ...]) -> bool:
        return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)

    def check_write(self, path: Any, dir_fd: Any = None) -> None:
        resolved = self._resolve(path, dir_fd)
        if resolved is None or resolved == "/dev/null":
            return
        if not self._inside(resolved, (self.scratch,)):
            self.refuse(f"writing outside the scratch directory ({resolved})")

    def check_read(self, path: Any, dir_fd: Any = None) -> None:
        resolved = self._resolve(path, dir_fd)
        if resolved is None or resolved in self.read_files:
            return
        if not self._inside(resolved, (self.scratch, *self.read_roots)):
            self.refuse(f"reading outside the scratch directory ({resolved})")

    def check_database(self, target: Any) -> None:
        """SQLite opens files itself: its path (or ``file:`` URI) must be in the scratch dir."""
        if isinstance(target, str | bytes):
            target = os.fsdecode(target)
            if target.startswith("file:"):
                target = target[len("file:") :].split("?")[0] or ":memory:"
            if target in (":memory:", ""):
                return
        self.check_write(target)

    def hook(self, event: str, args: tuple[Any, ...]) -> None:
        """The audit hook (see the module docstring)."""
        if event == "open":
            path, mode, flags = args
            writing = any(c in (mode or "") for c in "wax+") or bool((flags or 0) & _WRITE_FLAGS)
            (self.check_write if writing else self.check_read)(path)
        elif event in _LIST_EVENTS:
            self.check_read("." if args[0] is None else args[0])
        elif event in _WRITE_EVENTS:
            spots = _WRITE_EVENTS[event]
            for i in range(0, len(spots), 2):
                dir_fd = args[spots[i + 1]] if spots[i + 1] >= 0 else None
                self.check_write(args[spots[i]], dir_fd)
        elif event.startswith("socket."):
            if event == "socket.__new__" and args[1] == _AF_UNIX:
                return  # local socket pairs (asyncio's self-pipe); connect/bind stay refused
            if event != "socket.gethostname":
                self.refuse(f"network access ({event})")
        elif event in _NETWORK_EVENTS:
            self.refuse(f"network access ({event})")
        elif event in _PROCESS_EVENTS:
            self.refuse(f"process creation ({event})")
        elif event in ("os.kill", "os.killpg") and args[0] != os.getpid():
            self.refuse(f"sending a signal to another process ({event})")
        elif event.startswith("ctypes.") and not (event == "ctypes.dlopen" and args[0] is None):
            self.refuse(f"ctypes ({event})")
        elif event in ("resource.setrlimit", "resource.prlimit"):
            self.refuse("changing resource limits")
        elif event == "sqlite3.connect":
            self.check_database(args[0])
        elif event == "sqlite3.enable_load_extension" and args[1]:
            self.refuse("loading an SQLite extension")


def _user_tasks(uid: int) -> int:
    """Threads of all processes of ``uid`` (what RLIMIT_NPROC counts), from /proc."""
    count = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", encoding="ascii", errors="replace") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        if int(fields.get("Uid", "-1 ").split()[0]) == uid:
            count += int(fields.get("Threads", "1").strip() or 1)
    return count


def _limit(which: int, soft: int, hard: int | None = None) -> None:
    """Lower ``which`` to ``soft`` (and the hard limit to ``hard``, default ``soft``)."""
    _, current = resource.getrlimit(which)
    wanted = soft if hard is None else hard
    if current != resource.RLIM_INFINITY:
        soft, wanted = min(soft, current), min(wanted, current)
    resource.setrlimit(which, (soft, wanted))


def set_limits(job: dict[str, Any]) -> None:
    """Resource limits of the child (see the module docstring)."""
    timeout = math.ceil(float(job["timeout_s"]))
    _limit(resource.RLIMIT_AS, int(job["memory_mb"]) * 1024 * 1024)
    _limit(resource.RLIMIT_CPU, timeout + 1, timeout + 2)  # SIGXCPU first, SIGKILL later
    _limit(resource.RLIMIT_FSIZE, int(job["file_size_bytes"]))
    _limit(resource.RLIMIT_NOFILE, int(job["open_files"]))
    _limit(resource.RLIMIT_CORE, 0)
    if sys.platform == "linux":
        _limit(resource.RLIMIT_NPROC, _user_tasks(os.getuid()) + PROCESS_MARGIN)
    # a full file or output makes write() fail with EFBIG instead of killing the process
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    # ends the child even if the parent died and cannot kill it
    signal.alarm(timeout + 5)


def disable_network_and_processes(sandbox: Sandbox) -> None:
    """Replace what opens connections or starts processes (the audit hook backs this up)."""
    import _posixsubprocess

    def refusing(what: str) -> Callable[..., NoReturn]:
        def refused(*args: Any, **kwargs: Any) -> NoReturn:
            sandbox.refuse(what)

        return refused

    for name in ("create_connection", "create_server", "getaddrinfo", "gethostbyname"):
        setattr(socket, name, refusing(f"network access (socket.{name})"))
    # fork_exec raises no audit event of its own: every subprocess would start through it
    refused = refusing("process creation (_posixsubprocess.fork_exec)")
    setattr(_posixsubprocess, "fork_exec", refused)  # noqa: B010 (typeshed types it)
    sys.addaudithook(sandbox.hook)


def describe(exc: BaseException, text: str = "") -> tuple[str, str]:
    """(kind, one-line message) of an exception raised by the code or an assertion."""
    if isinstance(exc, MemoryError):
        return "memory", "MemoryError"
    if isinstance(exc, SandboxViolation):
        return "blocked", str(exc.strerror)
    if isinstance(exc, OSError) and exc.errno == errno.EFBIG:
        return "file_size", "file size limit exceeded"
    if isinstance(exc, SystemExit):
        return "exit", f"SystemExit: {exc.code}"
    if isinstance(exc, AssertionError) and not str(exc) and text:
        line = failing_line(exc, text)
        return "assertion", f"AssertionError: {line.strip().removeprefix('assert ').strip()}"
    message = str(exc).splitlines()[0] if str(exc) else ""
    name = type(exc).__name__
    kind = "assertion" if isinstance(exc, AssertionError) else "exception"
    return kind, f"{name}: {message}" if message else name


def failing_line(exc: BaseException, text: str) -> str:
    """The line of the assertion ``text`` that raised ``exc`` (the whole text when unknown).

    A HumanEval check is one assertion of many lines (``def check(candidate): assert ...``,
    then ``check(f)``): the ``assert`` that failed says more than its first line.
    """
    lineno = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.startswith("<assertion "):
            lineno = tb.tb_lineno
        tb = tb.tb_next
    lines = text.splitlines()
    if lineno is None or not 0 < lineno <= len(lines) or len(lines) == 1:
        return text
    return lines[lineno - 1]


def run_assertion(text: str, index: int, namespace: dict[str, Any]) -> None:
    """Run one assertion: an expression must be truthy, a statement must not raise."""
    try:
        code = compile(text, f"<assertion {index + 1}>", "eval")
    except SyntaxError:
        exec(compile(text, f"<assertion {index + 1}>", "exec"), namespace)
        return
    if not eval(code, namespace):
        raise AssertionError()


def main(job_path: str) -> NoReturn:
    with open(job_path, encoding="utf-8") as f:
        job = json.load(f)
    os.unlink(job_path)
    result_fd = os.open(job["result_path"], os.O_WRONLY | os.O_APPEND)
    sandbox = Sandbox(job["scratch"], result_fd, job["nonce"])
    os.chdir(sandbox.scratch)
    set_limits(job)
    disable_network_and_processes(sandbox)
    sandbox.emit("started")
    namespace: dict[str, Any] = {"__name__": "solution", "__builtins__": builtins}
    try:
        exec(compile(job["code"], "<answer>", "exec"), namespace)
    except BaseException as exc:  # the code's own failure, reported, never re-raised
        kind, message = describe(exc)
        if isinstance(exc, SyntaxError):
            kind, message = "syntax", f"SyntaxError: {exc.msg} (line {exc.lineno})"
        sandbox.emit("code", ok=False, kind=kind, error=message)
        finish(sandbox)
    sandbox.emit("code", ok=True)
    for index, text in enumerate(job["assertions"]):
        try:
            run_assertion(text, index, namespace)
        except BaseException as exc:
            kind, message = describe(exc, text)
            sandbox.emit("assertion", index=index, ok=False, kind=kind, error=message)
        else:
            sandbox.emit("assertion", index=index, ok=True)
    finish(sandbox)


def finish(sandbox: Sandbox) -> NoReturn:
    """Flush what the code printed, say "done", and exit without waiting for its threads."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    sandbox.emit("done")
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1])
