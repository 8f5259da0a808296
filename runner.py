#!/usr/bin/env python3
"""Run one test suite against several agents at once: ``.venv/bin/python runner.py --help``.

The same as ``llmbench run``. It needs a Python with llmbench's dependencies (``bash
scripts/install.sh`` makes ``.venv``); run by one without them, it says so in one line and
exits 1, as for any other problem with the machine rather than with the input.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXIT_ERRORS = 1  # llmbench.cli.exits.EXIT_ERRORS, which needs the dependencies to import


def shown(path):
    """``path`` relative to the current directory when inside it, else absolute."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def cannot_run(problem):
    """Say in one line why this Python cannot run llmbench and how to get one that can."""
    install = shown(HERE / "scripts" / "install.sh")
    again = f"{shown(HERE / '.venv' / 'bin' / 'python')} {shown(HERE / 'runner.py')}"
    print(
        f"error: {sys.executable}: {problem}; install llmbench with `bash {install}`, "
        f"then run `{again}`",
        file=sys.stderr,
    )
    return EXIT_ERRORS


def import_main():
    """``llmbench.cli.run.main``: installed, or from ``src/`` of a checkout never installed."""
    try:
        from llmbench.cli.run import main
    except ModuleNotFoundError as exc:
        if exc.name != "llmbench":
            raise
        sys.path.insert(0, str(HERE / "src"))
        from llmbench.cli.run import main
    return main


if __name__ == "__main__":
    if sys.version_info < (3, 11):  # noqa: UP036 (this file runs on any Python 3)
        sys.exit(cannot_run(f"Python {sys.version.split()[0]} is too old (3.11 or newer)"))
    try:
        main = import_main()
    except ModuleNotFoundError as exc:
        if (exc.name or "llmbench").partition(".")[0] == "llmbench":
            raise  # a part of llmbench itself is missing: a bug, so a traceback
        sys.exit(
            cannot_run(f"llmbench's dependencies are not installed (no module named {exc.name!r})")
        )
    sys.exit(main())
