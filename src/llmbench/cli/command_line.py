"""The command line itself: a parser that takes both spellings of every option, ``--version``,
and the command to show a user who is told to run llmbench again (the one that was run).

Every long option is accepted with ``_`` or ``-`` between its words, whichever it was declared
with: ``--base_config`` and ``--base-config``, ``--dry-run`` and ``--dry_run``. The help shows
the declared spelling only, and abbreviations of it keep working (registering both spellings
with argparse would make ``--base`` ambiguous between them).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar, overload

_N = TypeVar("_N")


def _either(option: str) -> str:
    """The spelling-free key of a long option: ``--base_config`` -> ``--base-config``."""
    return "--" + option[2:].replace("_", "-")


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose long options take ``_`` and ``-`` alike; the parsers of its
    subcommands are ``Parser`` too (argparse makes them of the parent's class)."""

    def as_declared(self, args: Iterable[str]) -> list[str]:
        """``args`` with each long option of this parser spelled as it was declared (an
        ``=value`` kept); everything after a bare ``--`` is left as it is."""
        declared = {
            _either(name): name
            for action in self._actions
            for name in action.option_strings
            if name.startswith("--")
        }
        spelled: list[str] = []
        rest = iter(args)
        for arg in rest:
            if arg == "--":
                return [*spelled, arg, *rest]
            name, equals, value = arg.partition("=")
            if name.startswith("--") and name not in declared.values():
                name = declared.get(_either(name), name)
            spelled.append(name + equals + value)
        return spelled

    @overload
    def parse_known_args(
        self, args: Iterable[str] | None = None, namespace: None = None
    ) -> tuple[argparse.Namespace, list[str]]: ...
    @overload
    def parse_known_args(
        self, args: Iterable[str] | None, namespace: _N
    ) -> tuple[_N, list[str]]: ...
    @overload
    def parse_known_args(self, *, namespace: _N) -> tuple[_N, list[str]]: ...

    def parse_known_args(
        self, args: Iterable[str] | None = None, namespace: Any = None
    ) -> tuple[Any, list[str]]:
        """``ArgumentParser.parse_known_args`` of :meth:`as_declared` ``args`` (argparse calls
        it on a subcommand's parser with that subcommand's arguments)."""
        spelled = self.as_declared(sys.argv[1:] if args is None else args)
        return super().parse_known_args(spelled, namespace)


def version() -> str:
    """llmbench's version: the installed package's, or the source's when run from a checkout
    that was never installed."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("llmbench")
    except PackageNotFoundError:
        from llmbench import __version__

        return __version__


class _Version(argparse.Action):
    """``--version``: print ``llmbench X.Y.Z`` and exit 0 (looked up only when asked)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS) -> None:
        super().__init__(
            option_strings, dest, nargs=0, default=argparse.SUPPRESS, help="print the version"
        )

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        print(f"llmbench {version()}")
        parser.exit()


def add_version(parser: argparse.ArgumentParser) -> None:
    """Give ``parser`` a ``--version`` option."""
    parser.add_argument("--version", action=_Version)


def shown_path(path: str | Path) -> str:
    """``path`` as a user can type it here: relative to the current directory when inside it,
    otherwise absolute; quoted for a shell when needed."""
    absolute = Path(os.path.abspath(path))
    try:
        shown = str(absolute.relative_to(Path.cwd()))
    except ValueError:
        shown = str(absolute)
    return shlex.quote(shown)


def shown_program(path: str | Path) -> str:
    """A program as a user can type it here: its bare name when that name on ``PATH`` is this
    very file, otherwise :func:`shown_path` (``.venv/bin/python`` when the venv is not
    activated)."""
    name = Path(path).name
    found = shutil.which(name)
    if found is not None and os.path.abspath(found) == os.path.abspath(path):
        return shlex.quote(name)
    shown = shown_path(path)
    # a program in the current directory needs ./ to be found
    return shown if os.sep in shown else f".{os.sep}{shown}"


def script_command(script: str | Path) -> str:
    """How to run the Python script ``script`` again with the interpreter running now (the one
    that has llmbench's dependencies): ``.venv/bin/python runner.py``."""
    return f"{shown_program(sys.executable)} {shown_path(script)}"


def llmbench_command() -> str:
    """How to run this ``llmbench`` again: the console script that is running
    (``llmbench``, ``.venv/bin/llmbench``), or ``python -m llmbench.cli.main``."""
    program = sys.argv[0] if sys.argv else ""
    if Path(program).name == "llmbench" and os.path.exists(program):
        return shown_program(program)
    return f"{shown_program(sys.executable)} -m llmbench.cli.main"
