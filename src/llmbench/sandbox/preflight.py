"""Can the sandbox work on this machine? One trivial jail, started once per process."""

from __future__ import annotations

import subprocess
import sys
import threading

from llmbench.errors import SandboxUnavailable, one_line
from llmbench.sandbox import jail
from llmbench.sandbox.settings import SandboxSettings

_FIX = 'or set `[sandbox] isolation = "process"` in base_config.toml (rlimits only)'
_checked: dict[tuple[str, str], str | None] = {}
_lock = threading.Lock()


def check_isolation(settings: SandboxSettings) -> None:
    """Raise :class:`~llmbench.errors.SandboxUnavailable` (one line: why, and how to fix it)
    when ``settings.isolation`` cannot work here; the answer is cached per process.
    ``"process"`` works on every POSIX system."""
    python = settings.interpreter
    key = (settings.isolation, python)
    with _lock:
        if key not in _checked:
            _checked[key] = _problem(settings.isolation, python)
        problem = _checked[key]
    if problem is not None:
        raise SandboxUnavailable(one_line(problem))


def _problem(isolation: str, python: str) -> str | None:
    if sys.platform == "win32":
        return 'the code sandbox needs Linux (or another POSIX system for isolation = "process")'
    try:
        install = jail.python_install(python)
    except OSError as exc:
        return f"sandbox: {exc}; fix [sandbox] python in base_config.toml"
    if isolation == "process":
        return None
    if jail.bwrap_path() is None:
        return (
            "sandbox: bubblewrap (bwrap) is not installed: install it "
            f"(`apt-get install bubblewrap`) {_FIX}"
        )
    env = jail.base_env("/tmp", "/tmp")
    argv = jail.Jail(install, env, "/tmp", tmpfs=[("/tmp", 1)]).argv(
        [install.executable, "-I", "-S", "-c", "pass"]
    )
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=30, env=env, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"sandbox: bwrap does not run ({exc}) {_FIX}"
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return (
            f"sandbox: bwrap cannot start a jail here ({why}); user namespaces may be disabled "
            f"(sysctl kernel.unprivileged_userns_clone=1, or run in a VM that allows them) {_FIX}"
        )
    return None
