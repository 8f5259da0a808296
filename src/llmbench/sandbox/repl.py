"""The session's side of a persistent Python session: run cells in one namespace, report each.

Run by :mod:`llmbench.sandbox.session` as ``python -I -B -X utf8 repl.py`` inside the jail.
Standard library only: ``-I`` keeps llmbench (and the parent's environment) out.

Protocol (the parent writes to fd 0, reads fds 1 and 2):

- fd 0, parent to session: a line holding the session's nonce, then frames, each a line
  ``<nonce> <length>`` and ``length`` bytes of JSON: first the configuration (limits, home),
  then ``{"op": "run", "seq": n, "code": ...}`` per cell.
- fd 2, session to parent: JSON lines carrying the nonce: ``{"event": "ready", "pid": ...}``
  once the limits are set, then ``{"event": "done", "seq": n, "raised": ..., "error": ...,
  "traceback": ...}`` per cell. Anything else on fd 2 (bubblewrap's or Python's own errors
  before the session is up) is not JSON with the nonce and is kept by the parent as the reason
  when the session fails to start.
- fd 1, session to parent: what the cell printed. Before the first cell, fds 1 and 2 are both
  pointed at it (so child processes' output is caught too), fd 0 becomes ``/dev/null``, and
  the protocol moves to private descriptors that child processes do not inherit. After each
  cell the session kills every other process of the jail, then writes an end-of-cell token
  (NUL, ESC, nonce, sequence number, NUL) to fd 1 so the parent knows the output is complete.

The nonce keeps a protocol frame from being mistaken for output; code running in this process
can read it (nothing here is secret from the code, which can only confuse its own session).
"""

from __future__ import annotations

import _ast
import json
import os
import resource
import signal
import sys
import time
from typing import Any

TRACEBACK_CHARS = 20_000
_MAIN_PID = os.getpid()
_SOURCES: dict[str, str] = {}
"""The text of every cell, for tracebacks (linecache is imported only when one is needed)."""


class Channel:
    """Frames read from a file descriptor, without Python's read-ahead buffering."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = b""

    def _fill(self) -> None:
        chunk = os.read(self.fd, 1 << 16)
        if not chunk:
            raise EOFError
        self.buffer += chunk

    def line(self) -> bytes:
        while b"\n" not in self.buffer:
            self._fill()
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line

    def exactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self._fill()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def frame(self, nonce: bytes) -> Any:
        header = self.line().split()
        if len(header) != 2 or header[0] != nonce:
            raise EOFError  # not our parent talking: stop
        return json.loads(self.exactly(int(header[1])))


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _limit(which: int, soft: int, hard: int | None = None) -> None:
    _, current = resource.getrlimit(which)
    high = soft if hard is None else hard
    if current != resource.RLIM_INFINITY:
        soft, high = min(soft, current), min(high, current)
    resource.setrlimit(which, (soft, high))


def set_limits(limits: dict[str, int]) -> None:
    """Resource limits of this process and everything it starts."""
    _limit(resource.RLIMIT_AS, limits["as"])
    _limit(resource.RLIMIT_CPU, limits["cpu"], limits["cpu"] + 5)  # SIGXCPU, later SIGKILL
    _limit(resource.RLIMIT_FSIZE, limits["fsize"])
    _limit(resource.RLIMIT_NOFILE, limits["nofile"])
    _limit(resource.RLIMIT_CORE, 0)
    if limits.get("nproc"):
        _limit(resource.RLIMIT_NPROC, limits["nproc"])
    # a file over the size limit fails with EFBIG instead of killing the writer
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def die_with_parent() -> None:
    """``process`` isolation: die when the parent dies, and adopt orphaned descendants."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getppid()
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: setsid'd grandchildren stay ours
    if os.getppid() != parent:
        os._exit(1)


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                out += [int(p) for p in f.read().split()]
        except OSError:
            pass
    return out


def kill_others(isolated: bool) -> None:
    """Kill every process of the session but this one, then reap what is ours."""
    if isolated:  # our own pid namespace: -1 is every process in it but init and us
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        _wait_for_others()  # a signal is delivered when its target next runs, not at once
    else:  # a subreaper: every descendant, also those that left the session, is below us
        for _ in range(1000):
            pending = _children(os.getpid())
            if not pending:
                break
            seen: set[int] = set()
            while pending:
                pid = pending.pop()
                if pid in seen:
                    continue
                seen.add(pid)
                try:
                    os.kill(pid, signal.SIGSTOP)  # a stopped process cannot fork any more
                except OSError:
                    continue
                pending += _children(pid)
            for pid in seen:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            reap()
    reap()


def _wait_for_others(limit_s: float = 2.0) -> None:
    """Wait (a bounded time) until every other process of our pid namespace but its init has
    exited: the call's end then means its processes are gone, however busy the machine."""
    me = os.getpid()
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        alive = False
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) in (1, me):
                continue
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    state = f.read().rsplit(b")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state not in (b"Z", b"X"):
                alive = True
                break
        if not alive:
            return
        reap()
        time.sleep(0.001)


def reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    name = type(exc).__name__
    return f"{name}: {text[0]}" if text else name


def _ignore_interrupt(signum: int, frame: Any) -> None:
    """A late interrupt (the cell had already finished) is dropped."""


def run_cell(code: str, seq: int, namespace: dict[str, Any]) -> dict[str, Any]:
    """Run one cell; the value of a last bare expression is printed, as in a notebook."""
    filename = f"<cell {seq}>"
    _SOURCES[filename] = code
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            tree: Any = compile(code, filename, "exec", _ast.PyCF_ONLY_AST)  # no import of ast
            last = None
            if tree.body and isinstance(tree.body[-1], _ast.Expr):
                last = _ast.Expression(tree.body.pop().value)
            exec(compile(tree, filename, "exec"), namespace)
            if last is not None:
                value = eval(compile(last, filename, "eval"), namespace)
                if value is not None:
                    namespace["_"] = value
                    print(repr(value))
        finally:
            signal.signal(signal.SIGINT, _ignore_interrupt)
    except BaseException as exc:  # the code's failure, reported; the session goes on
        if os.getpid() != _MAIN_PID:
            os._exit(0)  # a fork of the session that ran off the end of the cell
        text = format_exception(exc)
        if len(text) > TRACEBACK_CHARS:
            text = "...\n" + text[-TRACEBACK_CHARS:]
        return {"raised": True, "error": one_line(exc), "traceback": text}
    if os.getpid() != _MAIN_PID:
        os._exit(0)
    return {"raised": False, "error": None, "traceback": None}


def format_exception(exc: BaseException) -> str:
    """The traceback of the code's exception, without this script's frames."""
    import linecache
    import traceback

    for filename, code in _SOURCES.items():
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def flush() -> None:
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            pass


def main() -> None:
    control = Channel(0)
    nonce = control.line().strip()
    config = control.frame(nonce)
    set_limits(config["limits"])
    isolated = config["isolation"] == "bwrap"
    if not isolated:
        die_with_parent()
    reply_fd, out_fd, control.fd = os.dup(2), os.dup(1), os.dup(0)  # not inherited
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(out_fd, 2)
    os.close(null)
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    os.chdir(config["home"])

    def close_protocol() -> None:  # in children the code forks: they cannot talk for us
        for fd in (reply_fd, out_fd, control.fd):
            try:
                os.close(fd)
            except OSError:
                pass

    os.register_at_fork(after_in_child=close_protocol)

    def reply(**fields: Any) -> None:
        line = json.dumps({"nonce": nonce.decode(), **fields}, ensure_ascii=True) + "\n"
        write_all(reply_fd, line.encode())

    signal.signal(signal.SIGINT, _ignore_interrupt)
    reply(event="ready", pid=os.getpid())
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
    while True:
        try:
            request = control.frame(nonce)
        except (EOFError, OSError, ValueError):
            os._exit(0)
        seq = int(request.get("seq", 0))
        result = run_cell(str(request.get("code", "")), seq, namespace)
        flush()
        os.dup2(out_fd, 1)  # the code may have closed or moved them
        os.dup2(out_fd, 2)
        kill_others(isolated)
        write_all(out_fd, b"\x00\x1b" + nonce + b":%d\x00" % seq)
        reply(event="done", seq=seq, **result)


if __name__ == "__main__":
    main()
