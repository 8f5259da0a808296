"""Every exception llmbench raises on purpose.

::

    LlmbenchError                    base of everything below
    ├── InputError (ValueError)      a mistake in the user's input: a file, a field, an argument
    │   ├── ConfigError              test_runner_config.json, test_suite_metadata.json, API settings
    │   └── SuiteError               a suite or categories file, or a test id / category asked for
    ├── EmbeddedModelError           the embedded llama.cpp model is missing or would not start
    ├── EndpointError                an endpoint cannot be used: unreachable, or it refuses
    ├── Interrupted                  a run cancelled before it started (nothing was written)
    ├── SandboxError                 the code sandbox could not start, or died again and again
    │   └── SandboxUnavailable       the isolation asked for cannot work on this machine
    └── ResultsError (OSError)       results could not be written

Errors raised while talking to a model server are never raised to the caller: they become a
:class:`~llmbench.result.TestResult` with ``status="error"`` and the reason in
``error_message``. The engine's internal :class:`RequestFailure` carries them there.

Messages say where (file, test id, field, line and column), what was found and what was
expected, so a user can fix the input without reading a traceback.
"""

from __future__ import annotations

from pathlib import Path


class LlmbenchError(Exception):
    """Base class of every error llmbench raises on purpose."""


def one_line(text: str) -> str:
    """``text`` with line breaks, other control characters and lone surrogates escaped
    (``\\n``, ``\\x00``, ``\\udcff``), so a message is one printable line whatever the input
    held."""
    if text.isprintable():
        return text
    return "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text
    )


class InputError(LlmbenchError, ValueError):
    """A mistake in the user's input; the message names the file, the field and the fix.

    The message is always one printable line: control characters and lone surrogates from the
    input (a test id, a file name) are escaped.
    """

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        self.path = one_line(str(path)) if path is not None else None
        self.detail = one_line(message)
        super().__init__(f"{self.path}: {self.detail}" if self.path else self.detail)


class ConfigError(InputError):
    """A bad runner configuration, suite metadata or API setting."""


class SuiteError(InputError):
    """A bad suite or categories file, or an unknown test id or category."""


class EndpointError(LlmbenchError):
    """An endpoint cannot be used: unreachable, or it refuses the request (checked before a
    run starts). Exit code 1."""


class Interrupted(LlmbenchError):
    """A run was cancelled before its run directory was made: nothing was written. Exit code
    130."""


class EmbeddedModelError(LlmbenchError, RuntimeError):
    """The embedded model is not installed, or its server did not come up."""


class SandboxError(LlmbenchError, RuntimeError):
    """The code sandbox (:mod:`llmbench.sandbox`) could not start, or kept dying when started
    again; the message says which, why, and what to do. A test that meets it is an error
    result (``end_reason = "sandbox_error"``), never a wrong answer."""


class SandboxUnavailable(SandboxError):
    """The isolation asked for cannot work here (bubblewrap missing, user namespaces off); the
    message is one line saying why and how to fix it."""


class ResultsError(LlmbenchError, OSError):
    """Results could not be written to the results directory."""


class RequestFailure(LlmbenchError):
    """One failed attempt to get a completion; becomes an error result, never reaches the user.

    ``kind`` is one of ``connection``, ``timeout``, ``http``, ``protocol`` and says, with
    ``status``, whether the failure is worth retrying (see :mod:`llmbench.engine.retry`).
    """

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after_s = retry_after_s
