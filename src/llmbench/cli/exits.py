"""Exit codes, and how every command turns an error into one line and one of them.

0 every test ran (answers may still be wrong), 1 some tests could not run (errors, an
unreachable endpoint, results that could not be saved), 2 bad input, 130 interrupted. A
mistake in the user's input is one line on stderr, never a traceback; output cut short by its
reader (a pipe into ``head``) ends quietly with 1, as Python's documentation advises.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from llmbench.errors import (
    EmbeddedModelError,
    EndpointError,
    InputError,
    Interrupted,
    ResultsError,
    SandboxError,
)

EXIT_OK, EXIT_ERRORS, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


def run_reporting_errors(command: Callable[[], int]) -> int:
    """``command()``'s exit code, or the exit code of the user-facing error it raised."""
    try:
        return command()
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (EndpointError, EmbeddedModelError, ResultsError, SandboxError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERRORS
    except (KeyboardInterrupt, Interrupted):
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader went away (``llmbench list tests | head``): nothing is wrong with the run,
        # and the interpreter's last flush of stdout must not fail again with a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERRORS
