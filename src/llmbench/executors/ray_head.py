"""A local Ray instance that ends with the run, however the run ends.

``ray.init()`` starts Ray's processes as children of the caller; when the caller is killed
(SIGKILL, the OOM killer), Ray's GCS and raylet die with it, but the dashboard and runtime-env
agents they started are left behind (Ray 2.60: they notice, then hang on the way out). So the
driver does not start Ray itself: it starts this keeper, which

- ends with the driver: it looks every 0.2 s whether its parent is still the driver (a process
  whose parent dies is given another one, however the parent died); SIGTERM ends it too,
- is a child subreaper (``PR_SET_CHILD_SUBREAPER``), so every process Ray starts, however deep,
  becomes its child when its own parent dies, instead of init's,
- runs ``ray start --head --block`` and prints ``ready`` once the head accepts connections,
- on SIGTERM (or when ``ray start`` ends) stops Ray, then kills whatever of its descendants is
  still there, puts back the ``ray_current_cluster`` note ``ray start`` overwrote, removes
  Ray's folder (its sessions and logs, in a temporary folder of the run's own), and exits.

Run as ``python -m llmbench.executors.ray_head DRIVER_PID PORT NUM_CPUS``.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
READY = "ready"
STOP_WAIT_S = 10.0
"""How long ``ray start`` is given to stop Ray's processes before they are killed."""


def _prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


def _children() -> list[int]:
    """This process's children (those of Ray's processes whose parents died included)."""
    me = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the fields after the command (which may hold spaces): state, ppid, ...
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == me:
            found.append(int(entry.name))
    return found


def _reap() -> None:
    """Collect the exit status of every child that ended (none is left a zombie)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _kill_the_rest(deadline: float) -> None:
    """SIGKILL every child until none is left (or ``deadline``)."""
    while time.monotonic() < deadline:
        _reap()
        left = _children()
        if not left:
            return
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)


def _current_cluster_file() -> Path:
    """Where ``ray start`` notes the address ``ray.init("auto")`` joins."""
    return Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"


def _restore_current_cluster(port: int, before: bytes | None) -> None:
    """Put back the note ``ray start`` overwrote, once the head it names is gone (a stale
    note makes a later ``ray.init()`` look for a cluster that is not there)."""
    note = _current_cluster_file()
    try:
        now = note.read_bytes()
    except OSError:
        return
    if not now.strip().endswith(f":{port}".encode()):
        return  # someone else's head since: theirs to keep
    try:
        if before is None:
            note.unlink()
        else:
            note.write_bytes(before)
    except OSError:
        pass


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def main(argv: list[str]) -> int:
    driver, port, cpus = (int(a) for a in argv)
    stop: list[int] = []  # a plain list: a handler that takes a lock can deadlock the loop

    def stopping(signum: int, _frame: object) -> None:
        stop.append(signum)

    signal.signal(signal.SIGTERM, stopping)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    _prctl(PR_SET_CHILD_SUBREAPER, 1)

    def driver_gone() -> bool:
        return os.getppid() != driver

    if driver_gone():
        return 1
    try:
        noted: bytes | None = _current_cluster_file().read_bytes()
    except OSError:
        noted = None
    # Ray's sessions, logs and sockets live in a folder of the run's own, removed at the end
    scratch = tempfile.mkdtemp(prefix="llmbench-ray-")
    output = tempfile.TemporaryFile()  # noqa: SIM115 - open while Ray runs
    head = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ray.scripts.scripts",
            "start",
            "--head",
            "--block",
            f"--port={port}",
            "--node-ip-address=127.0.0.1",
            f"--num-cpus={cpus}",
            "--include-dashboard=false",
            "--disable-usage-stats",
            f"--temp-dir={scratch}",
        ],
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    try:
        while not stop and not driver_gone() and head.poll() is None:
            if _accepts(port):
                print(READY, flush=True)
                break
            time.sleep(0.1)
        else:
            if head.poll() is not None:  # Ray did not start: say why, in its own words
                output.seek(0)
                lines = output.read().decode("utf-8", "replace").strip().splitlines()
                print(
                    "\n".join(lines[-5:]) or f"ray start ended with {head.returncode}",
                    file=sys.stderr,
                )
                return 1
        while not stop and not driver_gone() and head.poll() is None:
            time.sleep(0.2)
    finally:
        if head.poll() is None:
            head.send_signal(signal.SIGTERM)  # ray start --block stops Ray's processes
            try:
                head.wait(STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                head.kill()
        _kill_the_rest(time.monotonic() + STOP_WAIT_S)
        _restore_current_cluster(port, noted)
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
