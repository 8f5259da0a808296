"""The jail an agent's code runs in: persistent Python sessions and their limits.

Not imported by ``import llmbench``; import it where code is run.
"""

from llmbench.errors import SandboxError, SandboxUnavailable
from llmbench.sandbox.preflight import check_isolation
from llmbench.sandbox.session import CallLimiter, CellResult, PythonSession
from llmbench.sandbox.settings import SandboxSettings

__all__ = [
    "CallLimiter",
    "CellResult",
    "PythonSession",
    "SandboxError",
    "SandboxSettings",
    "SandboxUnavailable",
    "check_isolation",
]
