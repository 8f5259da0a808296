"""``llmbench run`` and ``python3 runner.py``: one suite against several agents at once.

The command parses its options, shows progress, handles Ctrl-C and prints the report; the run
itself is :mod:`llmbench.runs` (what ``llmbench.run()`` calls). A mistake in the input exits 2
before anything is written.

Exit codes: 0 every test ran (answers may still be wrong), 1 some tests could not run (errors,
an unreachable endpoint, results that could not be saved), 2 bad input, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console

from llmbench import redact
from llmbench.cli.command_line import (
    Parser,
    add_version,
    llmbench_command,
    script_command,
    shown_path,
)
from llmbench.cli.exits import EXIT_ERRORS, EXIT_INTERRUPTED, EXIT_OK, run_reporting_errors
from llmbench.cli.live import LiveProgress
from llmbench.engine import loop as event_loop
from llmbench.runs import manifest as manifest_mod
from llmbench.runs.api import run_prepared
from llmbench.runs.execute import Hooks
from llmbench.runs.logs import LEVELS
from llmbench.runs.outcome import Run
from llmbench.runs.prepare import EXECUTORS, Prepared, RunOptions, pending, prepare
from llmbench.runs.progress import RunProgress
from llmbench.store.run_dir import EntryKey, RunDirectory


def _id_list(value: str) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list such as a,b")
    return items


def whole_number(minimum: int) -> Callable[[str], int]:
    """An argparse ``type``: a whole number of at least ``minimum``."""

    def parse(value: str) -> int:
        try:
            n = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
        if n < minimum:
            raise argparse.ArgumentTypeError(f"expected a number >= {minimum}, got {n}")
        return n

    return parse


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``runner.py`` and ``llmbench run``."""
    parser.add_argument(
        "--base_config", help="base config TOML (default: base_config.toml, or the resumed run's)"
    )
    parser.add_argument(
        "--agent_config",
        help="an agent TOML file or a directory of them "
        "(default: agent_configs/, or the resumed run's)",
    )
    parser.add_argument(
        "-l",
        "--log_level",
        default="INFO",
        type=str.upper,
        choices=LEVELS,
        help="console log level (default: %(default)s)",
    )
    parser.add_argument(
        "--resume", metavar="RUN_DIR", help="continue a run: run only what has no result yet"
    )
    parser.add_argument(
        "--retry-errors",
        action="store_true",
        help="with --resume, also run again the tests that ended in error",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="show what would run, how many requests and against which endpoints; send nothing",
    )
    parser.add_argument("--agents", type=_id_list, metavar="ID,...", help="only these agents")
    parser.add_argument("--tests", type=_id_list, metavar="ID,...", help="only these tests")
    parser.add_argument(
        "--categories", type=_id_list, metavar="NAME,...", help="only these categories"
    )
    parser.add_argument(
        "--repeats", type=whole_number(1), metavar="N", help="run each test N times per agent"
    )
    parser.add_argument(
        "--executor",
        choices=EXECUTORS,
        help='what runs the tests: "local" (this process) or "ray" (Ray actors); default '
        "[benchmark] executor (with --resume: the one the run last ran on)",
    )
    parser.add_argument(
        "--no-stream",
        action="store_true",
        help="ask every agent for whole answers instead of streams (as stream = false): time "
        "to first token and tokens/s are not measured",
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="send every request, even with [benchmark] cache = true; do not use or fill the "
        "response and judge caches",
    )


def build_runner_parser(prog: str = "runner.py") -> argparse.ArgumentParser:
    """The parser of ``python3 runner.py``."""
    parser = Parser(
        prog=prog,
        description="Run one test suite against several agents (models) at once.",
        epilog="exit codes: 0 all tests ran, 1 some could not run, 2 bad input, 130 interrupted",
    )
    add_version(parser)
    add_run_arguments(parser)
    return parser


# -- dry run --------------------------------------------------------------------------------


def _dry_run(prep: Prepared, pending: list[EntryKey]) -> int:
    plan = prep.plan
    b = plan.base
    per_agent: dict[str, int] = {}
    for agent_id, _, _ in pending:
        per_agent[agent_id] = per_agent.get(agent_id, 0) + 1
    turns = b.instructor.max_turns
    n_inter = sum(1 for _, t, _ in pending if plan.tests.is_interactive(t))
    most = len(pending) - n_inter + n_inter * turns
    print("dry run: nothing is sent and nothing is written")
    print(
        f"{len(plan.tests)} tests x {len(plan.agents)} agents x {plan.repeats} repeats = "
        f"{plan.request_count} tests; {len(pending)} to run"
        + (f" ({plan.request_count - len(pending)} already have results)" if prep.run_dir else "")
    )
    print(
        f"agent requests: {most if n_inter else len(pending)}"
        + (f" at most ({n_inter} interactive tests, up to {turns} turns each)" if n_inter else "")
        + ", not counting retries"
    )
    for a in plan.agents:
        limits = f"max_concurrency {a.max_concurrency}" + (f", rpm {a.rpm:g}" if a.rpm else "")
        endpoint = redact.strip_url(a.endpoint)
        print(
            f"  {a.id}: {endpoint} model {a.model or '(server default)'}; {limits}; "
            f"{per_agent.get(a.id, 0)} tests to run"
        )
    if n_inter:
        i, s = b.instructor, b.supervisor
        if i.mode == "scripted":
            print("  instructor: scripted (the steps are sent verbatim); no supervisor")
        else:
            print(f"  instructor: {redact.strip_url(i.endpoint)} model {i.model or '-'}")
            print(f"  supervisor: {redact.strip_url(s.endpoint)} model {s.model or '-'}")
    where = prep.run_dir.path if prep.run_dir else Path(b.benchmark.results_dir) / "<new run id>"
    print(f"max_workers {b.benchmark.max_workers}; results in {where}")
    return EXIT_OK


# -- running --------------------------------------------------------------------------------


class _Interrupts:
    """Ctrl-C (or SIGTERM) once: stop new work and cancel what is in flight. Twice: exit now."""

    def __init__(self) -> None:
        self.cancel = threading.Event()
        self.directory: Path | None = None
        """The run directory, once the run has made it (its first progress report)."""

    def __call__(self) -> None:
        if not self.cancel.is_set():
            print(
                "\ninterrupted: finishing the tests in flight as cancelled "
                "(press Ctrl-C again to exit at once)",
                file=sys.stderr,
                flush=True,
            )
            self.cancel.set()
            return
        if self.directory is not None:
            try:
                RunDirectory.open(self.directory).set_status(
                    "interrupted", ended_at=manifest_mod.now()
                )
            except (OSError, ValueError):
                pass
        print("interrupted again: exiting now", file=sys.stderr, flush=True)
        os._exit(EXIT_INTERRUPTED)


def _console_handler(level: str, console: Console) -> logging.Handler:
    if console.is_terminal:
        from rich.logging import RichHandler

        handler: logging.Handler = RichHandler(console=console, show_path=False)
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.setLevel(level)
    return handler


async def _run_live(prep: Prepared, todo: list[EntryKey], level: str) -> Run:
    """The run with live progress and Ctrl-C handling (signal handlers in this loop only)."""
    loop = asyncio.get_running_loop()
    console = Console(stderr=True)
    interrupts = _Interrupts()
    live = LiveProgress(console)

    def on_progress(progress: RunProgress) -> None:
        interrupts.directory = progress.directory
        live.show(progress)

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, interrupts)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            pass
    hooks = Hooks(
        console=_console_handler(level, console),
        on_progress=on_progress,
        progress_interval_s=live.interval_s,
        cancel=interrupts.cancel,
    )
    try:
        return await run_prepared(prep, todo, hooks)
    finally:
        live.stop()
        for sig in installed:
            loop.remove_signal_handler(sig)


def _report(run: Run, again: str) -> int:
    from llmbench.report.terminal import print_report, stdout_console

    print_report(run.summary, stdout_console())
    print(f"results: {run.directory}")
    for error in run.errors:
        print(f"error: {error}", file=sys.stderr)
    if run.status == "interrupted":
        resume = f"{again} --resume {shown_path(run.directory)}"
        print(f"interrupted; resume with: {resume}", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK if run.all_ran else EXIT_ERRORS


# -- entry point ----------------------------------------------------------------------------


def options_from(args: argparse.Namespace) -> RunOptions:
    """The run ``args`` (from :func:`add_run_arguments`) ask for."""
    return RunOptions(
        args.base_config,
        args.agent_config,
        agents=args.agents,
        tests=args.tests,
        categories=args.categories,
        repeats=args.repeats,
        resume=args.resume,
        retry_errors=args.retry_errors,
        no_stream=args.no_stream,
        no_cache=args.no_cache,
        log_level=args.log_level,
        executor=args.executor,
    )


def run_command(args: argparse.Namespace, again: str | None = None) -> int:
    """Run ``args`` (from :func:`add_run_arguments`); returns the exit code. ``again`` is the
    command that runs this one again, for the resume hint (default: ``llmbench run``, as it was
    invoked)."""
    again = again or f"{llmbench_command()} run"
    return run_reporting_errors(lambda: _run_command(args, again))


def _run_command(args: argparse.Namespace, again: str) -> int:
    prep = prepare(options_from(args))
    loop = event_loop.loop_name()  # a bad LLMBENCH_LOOP is bad input, found before any write
    todo = pending(prep)
    if args.dry_run:
        return _dry_run(prep, todo)
    if prep.run_dir is not None:
        # a kill mid-write leaves a torn last line: drop it even when nothing is left to run
        prep.run_dir.repair_journal()
    if not todo and (prep.run_dir is None or (prep.manifest or {}).get("status") == "completed"):
        where = prep.run_dir.path if prep.run_dir else "the run"
        print(f"nothing to run: every test of {where} has a result")
        return EXIT_OK
    if not todo:  # every result is saved but the run stopped before its end
        print(
            f"every test of {prep.run_dir.path if prep.run_dir else 'the run'} has a result; "
            "finishing the run",
            file=sys.stderr,
        )
    run = event_loop.run(_run_live(prep, todo, args.log_level), loop)
    return _report(run, again)


def main(argv: Sequence[str] | None = None) -> int:
    """``python3 runner.py``."""
    args = build_runner_parser().parse_args(argv)
    script = sys.argv[0] if sys.argv else ""
    # the interpreter running runner.py is one that has llmbench's dependencies
    return run_command(args, script_command(script) if script.endswith(".py") else None)
