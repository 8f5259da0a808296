"""A bound on the processes of one sandbox, that holds for root too.

RLIMIT_NPROC counts the processes of a real user id, and the kernel does not enforce it for
root (uid 0, or CAP_SYS_RESOURCE / CAP_SYS_ADMIN), which is how llmbench often runs in
containers and on this project's machines; a user namespace does not change that, since
bubblewrap started by root maps the sandbox's uid to root. So:

- When a cgroup ``pids`` controller is writable (root, or a delegated cgroup v2 subtree),
  each session gets a cgroup of its own with ``pids.max`` = its limit: a fork bomb gets
  EAGAIN at the limit whoever runs it, and the cgroup's member list finds every process of
  the session (also those that left its process group and session) to kill them.
- Otherwise the session sets RLIMIT_NPROC itself. For a user other than root that holds:
  inside bubblewrap's own user namespace the kernel (5.14+) counts the session's processes
  apart from the user's others; under ``process`` isolation the count is the user's, so the
  limit is the user's current count plus the session's allowance. For root without a
  writable cgroup nothing bounds the processes of a session but its CPU time and wall clock;
  :func:`available` says so and the session's docstring repeats it.

Cgroups are created under the caller's own cgroup as ``llmbench-<pid>-<n>`` and removed when
the session closes; empty ones left by a runner that was killed are removed the next time.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import time
from functools import cache
from pathlib import Path

PREFIX = "llmbench-"
_counter = itertools.count()


def _mountinfo() -> list[tuple[str, str, str]]:
    """(mount point, file system type, super options) of each mount."""
    out = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) >= 5 and len(tail) >= 3:
            out.append((fields[4], tail[0], tail[2]))
    return out


@cache
def parent_dir() -> Path | None:
    """The writable cgroup directory with a pids controller that sessions go under, or None."""
    own: dict[str, str] = {}
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for name in controllers.split(",") if controllers else [""]:
                own[name] = path
    except (OSError, ValueError):
        return None
    for mount, fstype, options in _mountinfo():
        if fstype == "cgroup" and "pids" in options.split(",") and "pids" in own:
            candidate = Path(mount + own["pids"])
        elif fstype == "cgroup2" and "" in own:
            candidate = Path(mount + own[""])
            try:
                if "pids" not in (candidate / "cgroup.subtree_control").read_text().split():
                    continue
            except OSError:
                continue
        else:
            continue
        if os.access(candidate, os.W_OK) and (candidate / "cgroup.procs").exists():
            _sweep(candidate)
            return candidate
    return None


def available() -> bool:
    """True when sessions get a pids cgroup (see the module docstring)."""
    return parent_dir() is not None


def _sweep(parent: Path) -> None:
    """Remove empty cgroups of runners that are gone."""
    for entry in parent.glob(PREFIX + "*"):
        owner = entry.name[len(PREFIX) :].split("-")[0]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            with contextlib.suppress(OSError):
                entry.rmdir()


class PidsCgroup:
    """One session's cgroup: ``pids.max`` processes at once, and a way to kill them all."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, max_pids: int) -> PidsCgroup | None:
        """A new cgroup capped at ``max_pids``, or None when no pids controller is writable."""
        parent = parent_dir()
        if parent is None:
            return None
        path = parent / f"{PREFIX}{os.getpid()}-{next(_counter)}"
        try:
            path.mkdir()
            (path / "pids.max").write_text(str(max_pids))
        except OSError:
            with contextlib.suppress(OSError):
                path.rmdir()
            return None
        return cls(path)

    def add(self, pid: int) -> None:
        """Move ``pid`` (the whole process) into the cgroup; its later children follow."""
        (self.path / "cgroup.procs").write_text(str(pid))

    def members(self) -> list[int]:
        """Processes now in the cgroup."""
        try:
            text = (self.path / "cgroup.procs").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def kill(self, timeout_s: float = 2.0) -> bool:
        """SIGKILL every member until none is left (or ``timeout_s``); True when empty."""
        kill_file = self.path / "cgroup.kill"
        if kill_file.exists():  # cgroup v2: one atomic write
            with contextlib.suppress(OSError):
                kill_file.write_text("1")
        deadline = time.monotonic() + timeout_s
        while True:
            members = self.members()
            if not members:
                return True
            for pid in members:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            if time.monotonic() > deadline:
                return False
            time.sleep(0.002)

    def remove(self) -> None:
        """Kill what is left and remove the cgroup (retried while the last members exit)."""
        self.kill()
        for _ in range(200):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.005)
