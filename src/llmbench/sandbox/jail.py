"""The bubblewrap command line of a jail, shared by the Python sessions and the ``python`` scorer.

A jail sees, read-only: the system (``/usr`` and the ``/bin``, ``/lib*`` links or directories,
a few files of ``/etc`` the dynamic loader and time zones need) and the Python installation of
its interpreter (the directories the interpreter reports as its prefixes, asked once per
interpreter: a venv's own directory and the installation it was made from, never the folder
around a venv). Then what the caller binds (a script, ``/data``), ``/proc``, a minimal ``/dev``,
and size-capped tmpfs mounts (``/tmp``, ``/home/agent``, ``/dev/shm``); the root and ``/dev``
are made read-only at the end. Nothing else of the host exists inside: not the host's home,
not the working directory, not the results directory, not the configs.

Namespaces: all of them (``--unshare-all``: user, pid, network, ipc, uts, cgroup), so there is
no network but a loopback of its own; ``--die-with-parent`` (the jail dies with the process that
started it, even on SIGKILL), ``--new-session`` (no terminal to push input into) and
``--clearenv`` followed by only the variables given. No capabilities (``--cap-drop ALL`` when
started by root, who would otherwise keep them all inside and could remount ``/usr`` writable).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/alternatives",
)
SHM_MB = 64
"""Size of the jail's ``/dev/shm`` (POSIX semaphores and shared memory of multiprocessing)."""


def bwrap_path() -> str | None:
    """The ``bwrap`` executable, or None when bubblewrap is not installed."""
    return shutil.which("bwrap")


@dataclass(frozen=True)
class PythonInstall:
    """Where an interpreter lives: what a jail must show for it to run."""

    executable: str
    """The interpreter as given (a venv's ``bin/python`` stays the venv's)."""
    roots: tuple[str, ...]
    """Directories to bind read-only: its prefixes, outside the system directories."""


@cache
def python_install(python: str) -> PythonInstall:
    """Ask ``python`` (once per process) for its prefixes; OSError when it does not run."""
    probe = (
        "import json, os, sys; print(json.dumps([sys.prefix, sys.base_prefix, sys.exec_prefix,"
        " sys.base_exec_prefix, os.path.realpath(sys.executable)]))"
    )
    try:
        done = subprocess.run(
            [python, "-I", "-c", probe],  # not -S: site.py sets a venv's sys.prefix
            capture_output=True,
            text=True,
            timeout=30,
            env={"PATH": os.defpath, "LANG": "C.UTF-8"},
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise OSError(f"the interpreter {python} does not run: {exc}") from None
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise OSError(f"the interpreter {python} does not run: {tail}")
    *prefixes, real = json.loads(done.stdout)
    paths = {os.path.realpath(p) for p in prefixes} | {os.path.abspath(p) for p in prefixes}
    paths.add(os.path.dirname(real))
    executable = os.path.abspath(python)
    if not any(_under(executable, p) for p in paths):
        paths.add(os.path.dirname(executable))
    return PythonInstall(executable, _outermost(p for p in paths if not _system(p)))


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _system(path: str) -> bool:
    return path == "/" or any(_under(path, d) for d in SYSTEM_DIRS)


def _outermost(paths: Iterable[str]) -> tuple[str, ...]:
    """The paths that are not inside another one of them, sorted."""
    chosen: list[str] = []
    for path in sorted(set(paths), key=len):
        if not any(_under(path, c) for c in chosen):
            chosen.append(path)
    return tuple(sorted(chosen))


@dataclass(frozen=True)
class Jail:
    """What one jail shows and allows; :meth:`argv` turns it into a bwrap command line."""

    python: PythonInstall
    env: Mapping[str, str]
    """The whole environment of the jail."""
    chdir: str
    ro_binds: Sequence[tuple[str, str]] = ()
    """(host path, jail path) pairs, read-only."""
    rw_binds: Sequence[tuple[str, str]] = ()
    """(host path, jail path) pairs, writable (the scorer's job folder)."""
    tmpfs: Sequence[tuple[str, int]] = field(default_factory=tuple)
    """(jail path, size in MiB) of writable, capped memory file systems."""

    def argv(self, command: Sequence[str]) -> list[str]:
        """``bwrap ... -- command``; raises OSError when bwrap is not installed."""
        bwrap = bwrap_path()
        if bwrap is None:
            raise OSError("bubblewrap (bwrap) is not installed")
        args = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--clearenv"]
        if os.getuid() == 0:
            # started by root, bwrap keeps every capability in the jail's user namespace (whose
            # root is the host's root): enough to remount the system writable. Others get none.
            args += ["--cap-drop", "ALL"]
        for name, value in self.env.items():
            args += ["--setenv", name, value]
        for path in SYSTEM_DIRS:
            if os.path.islink(path):
                args += ["--symlink", os.readlink(path), path]
            elif os.path.isdir(path):
                args += ["--ro-bind", path, path]
        for path in ETC_FILES:
            args += ["--ro-bind-try", path, path]
        args += ["--proc", "/proc", "--dev", "/dev"]
        args += ["--size", str(SHM_MB << 20), "--tmpfs", "/dev/shm"]
        for host, inside in self.rw_binds:
            args += ["--bind", host, inside]
        for path, size_mb in self.tmpfs:  # after the writable binds: one may hold a tmpfs
            args += ["--size", str(size_mb << 20), "--tmpfs", path]
        for root in self.python.roots:  # after the tmpfs: a venv may live under /tmp
            args += ["--ro-bind", root, root]
        for host, inside in self.ro_binds:
            args += ["--ro-bind", host, inside]
        args += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", self.chdir, "--"]
        return args + list(command)


def base_env(home: str, tmp: str) -> dict[str, str]:
    """The few variables a session or a scorer run gets (nothing of the parent's)."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": tmp,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "MALLOC_ARENA_MAX": "2",  # keeps glibc's per-thread arenas inside RLIMIT_AS
    }
