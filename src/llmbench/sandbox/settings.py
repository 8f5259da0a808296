"""What the sandbox may use: the ``[sandbox]`` section of a run, as a frozen value."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Literal

Isolation = Literal["bwrap", "process"]


@dataclass(frozen=True)
class SandboxSettings:
    """How code from a model is run: the jail, its limits and how many calls run at once."""

    isolation: Isolation = "bwrap"
    """``bwrap``: a bubblewrap jail (namespaces: no network, nothing of the host but the system
    and the Python installation, read-only). ``process``: a child process with resource limits
    only (see :mod:`llmbench.sandbox.session` for what that does not protect)."""
    call_timeout_s: float = 60.0
    """Wall clock per code call; past it the interpreter is interrupted (KeyboardInterrupt)."""
    interrupt_grace_s: float = 2.0
    """After the interrupt, how long before the session is killed and started again."""
    max_output_chars: int = 10_000
    """Output shown per call; the rest is replaced by a marker saying how much was cut."""
    max_parallel: int | None = None
    """Code calls running at once over the whole run; None: ``os.cpu_count()``."""
    python: str | None = None
    """The interpreter of the sessions (its site-packages included); None: ``sys.executable``."""
    memory_mb: int = 4096
    """Address space of each process of a session (RLIMIT_AS), in MiB."""
    cpu_time_s: int = 3600
    """CPU seconds of each process of a session (RLIMIT_CPU)."""
    file_size_mb: int = 256
    """Largest file a session may write (RLIMIT_FSIZE), in MiB."""
    open_files: int = 256
    """File descriptors per process (RLIMIT_NOFILE)."""
    processes: int = 64
    """Processes and threads a session may have at once (see :mod:`llmbench.sandbox.pids`)."""
    home_size_mb: int = 512
    """Cap on the size of ``/home/agent`` (and of the session's ``/tmp``), in MiB (bwrap)."""
    save_files_mb: int = 64
    """Of the files a session leaves in ``/home/agent``, MiB saved with its result."""

    @property
    def parallel_calls(self) -> int:
        """``max_parallel``, or the number of cores when it is not set."""
        return self.max_parallel or os.cpu_count() or 1

    @property
    def interpreter(self) -> str:
        """``python``, or the interpreter running llmbench when it is not set."""
        return self.python or sys.executable
