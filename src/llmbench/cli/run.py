"""``llmbench run`` and ``python3 runner.py``: one suite against several agents at once.

The run goes: load and cross-check every file (a mistake exits 2 before anything is written),
start the embedded model if anyone uses it, check every endpoint, create (or reopen, with
``--resume``) the run directory, run agents x tests x repeats in one scheduler while each
finished test is journaled, then write ``summary.json``, mark the manifest and print a table.

Exit codes: 0 every test ran (answers may still be wrong), 1 some tests could not run (errors,
an unreachable endpoint, results that could not be saved), 2 bad input, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import sys
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from llmbench import redact
from llmbench.cli import manifest as manifest_mod
from llmbench.cli.command_line import (
    Parser,
    add_version,
    llmbench_command,
    script_command,
    shown_path,
)
from llmbench.cli.exits import (
    EXIT_ERRORS,
    EXIT_INTERRUPTED,
    EXIT_OK,
    run_reporting_errors,
)
from llmbench.cli.live import LiveProgress
from llmbench.cli.plan import RunPlan, load_plan, narrow
from llmbench.cli.preflight import Use, check_endpoints, choose_tool_protocols, resolve_embedded
from llmbench.engine import loop as event_loop
from llmbench.engine.agent_loop import AgentTools, RunSandbox, ToolLimits
from llmbench.engine.breaker import Breakers
from llmbench.engine.calls import Caller
from llmbench.engine.concurrency import AutoConcurrency
from llmbench.engine.scheduler import Item, Lane, Scheduler
from llmbench.engine.test_run import Helpers, Outcome, Target
from llmbench.errors import ConfigError, ResultsError
from llmbench.providers.embedded import EmbeddedServer
from llmbench.providers.http1 import HttpClient
from llmbench.store.cache import CACHE_FILE, ReplyCache
from llmbench.store.run_dir import RUN_LOG, EntryKey, JournalEntry, RunDirectory, run_keys
from llmbench.store.writer import JournalWriter
from llmbench.suite.tests import Tests

if TYPE_CHECKING:
    from llmbench.sandbox import SandboxSettings

log = logging.getLogger("llmbench.run")

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


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


# -- loading --------------------------------------------------------------------------------


@dataclass
class Prepared:
    """A loaded plan and, when resuming, the run directory it continues."""

    plan: RunPlan
    run_dir: RunDirectory | None
    manifest: dict[str, Any] | None


def _prepare(args: argparse.Namespace) -> Prepared:
    if args.retry_errors and not args.resume:
        raise ConfigError("--retry-errors: only with --resume RUN_DIR")
    if not args.resume:
        plan = load_plan(
            args.base_config or "base_config.toml", args.agent_config or "agent_configs/"
        )
        if args.agents or args.tests or args.categories or args.repeats:
            plan = narrow(
                plan,
                agents=args.agents,
                tests=args.tests,
                categories=args.categories,
                repeats=args.repeats,
            )
        return Prepared(_streaming(plan, args), None, None)
    if args.agents or args.tests or args.categories or args.repeats:
        raise ConfigError(
            "--resume: a resumed run keeps its own selection; "
            "drop --agents / --tests / --categories / --repeats"
        )
    try:
        run_dir = RunDirectory.open(args.resume)
        manifest = run_dir.read_manifest()
    except ResultsError as exc:
        raise ConfigError(f"--resume: {exc}") from None
    inputs = manifest_mod.recorded_inputs(manifest, run_dir.manifest_path)
    plan = load_plan(
        args.base_config or inputs.base_config, args.agent_config or inputs.agent_config
    )
    plan = narrow(
        plan,
        agents=inputs.agents,
        tests=inputs.tests,
        repeats=inputs.repeats,
        source=f"{run_dir.manifest_path}",
    )
    manifest_mod.warn_on_drift(plan, manifest)
    return Prepared(_streaming(plan, args), run_dir, manifest)


def _streaming(plan: RunPlan, args: argparse.Namespace) -> RunPlan:
    """``plan`` with every agent asked for whole answers under ``--no-stream``."""
    if not args.no_stream:
        return plan
    agents = tuple(a.model_copy(update={"stream": False}) for a in plan.agents)
    return replace(plan, agents=agents)


def _pending(prep: Prepared, retry_errors: bool) -> list[EntryKey]:
    plan = prep.plan
    keys = run_keys((a.id for a in plan.agents), plan.tests.ids, plan.repeats)
    return prep.run_dir.pending(keys, retry_errors) if prep.run_dir is not None else keys


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


def _uses_helpers(plan: RunPlan) -> bool:
    return plan.interactive_count > 0 and plan.base.instructor.mode == "llm"


def _uses(plan: RunPlan) -> list[Use]:
    uses = [Use(a.id, a.api_configuration()) for a in plan.agents]
    if _uses_helpers(plan):
        uses.append(Use("instructor", plan.base.instructor.api_configuration()))
    if _uses_helpers(plan) or plan.tests.needs_judge:
        uses.append(Use("supervisor", plan.base.supervisor.api_configuration()))
    return uses


def _helpers(plan: RunPlan, resolved: dict[str, Use], breakers: Breakers) -> Helpers:
    i, s = plan.base.instructor, plan.base.supervisor
    if "instructor" not in resolved or "supervisor" not in resolved:
        return Helpers(max_turns=i.max_turns)
    instructor, supervisor = resolved["instructor"].api, resolved["supervisor"].api
    return Helpers(
        instructor=Caller(instructor, breaker=breakers.for_api(instructor)),
        supervisor=Caller(supervisor, breaker=breakers.for_api(supervisor)),
        max_turns=i.max_turns,
        instructor_parameters={"temperature": i.temperature, "max_tokens": i.max_tokens},
        instructor_format=i.structured_output,
        supervisor_parameters={"temperature": s.temperature, "max_tokens": s.max_tokens},
        supervisor_format=s.structured_output,
    )


def _lanes(
    plan: RunPlan,
    resolved: dict[str, Use],
    pending: list[EntryKey],
    breakers: Breakers,
    tools: RunTools,
    run_dir: RunDirectory | None = None,
) -> list[Lane]:
    work = {a.id: AgentWork(plan.tests, pending) for a in plan.agents}
    for position, (agent_id, _, _) in enumerate(pending):
        work[agent_id].positions.append(position)
    sandbox = RunSandbox.create(tools.sandbox) if tools.protocols else None
    lanes = []
    for a in plan.agents:
        api = resolved[a.id].api
        agent_tools = None
        if sandbox is not None:
            limits = ToolLimits(
                max_tool_calls=a.max_tool_calls,
                max_tool_calls_total=a.max_tool_calls_total,
                time_limit_s=a.time_limit_s,
                token_limit=a.token_limit,
            )
            protocol = tools.protocols[a.id][0]
            agent_tools = AgentTools(
                protocol,  # type: ignore[arg-type]
                limits,
                sandbox,
                files_dir=None if run_dir is None else partial(run_dir.files_dir, a.id),
            )
        target = Target(
            Caller(api, rpm=a.rpm, breaker=breakers.for_api(api)),
            overrides=dict(a.parameters),
            system_prompt=a.system_prompt,
            tools=agent_tools,
            max_turns=a.max_turns,
        )
        workers = plan.base.benchmark.max_workers
        auto = AutoConcurrency(ceiling=workers) if a.max_concurrency == "auto" else None
        bound = workers if a.max_concurrency == "auto" else a.max_concurrency
        lanes.append(Lane(a.id, target, bound, work[a.id], plan.base.benchmark.seed, auto=auto))
    return lanes


@dataclass
class AgentWork:
    """One agent's pending tests: positions in the run's pending keys, each test made when the
    scheduler reaches it (so a lane holds 8 bytes a test, not the test)."""

    tests: Tests
    pending: list[EntryKey]
    positions: array[int] = field(default_factory=lambda: array("l"))

    def __len__(self) -> int:
        return len(self.positions)

    def __iter__(self) -> Iterator[Item]:
        for position in self.positions:
            _, test_id, repeat = self.pending[position]
            test = self.tests.get(test_id)
            assert test is not None  # the pending keys come from these tests' ids
            yield test, repeat


def _concurrency(lanes: list[Lane]) -> dict[str, dict[str, Any]]:
    """Each agent's bound on tests in flight, as chosen (for the summary and the manifest)."""
    return {
        lane.agent_id: lane.auto.report()
        if lane.auto is not None
        else {"mode": "fixed", "limit": lane.max_concurrency}
        for lane in lanes
    }


class _Interrupts:
    """Ctrl-C (or SIGTERM) once: stop new work and cancel what is in flight. Twice: exit now."""

    def __init__(self, scheduler: Scheduler, run_dir: RunDirectory) -> None:
        self.scheduler = scheduler
        self.run_dir = run_dir
        self.count = 0

    def __call__(self) -> None:
        self.count += 1
        if self.count == 1:
            print(
                "\ninterrupted: finishing the tests in flight as cancelled "
                "(press Ctrl-C again to exit at once)",
                file=sys.stderr,
                flush=True,
            )
            self.scheduler.request_cancel()
            return
        try:
            self.run_dir.set_status("interrupted", ended_at=manifest_mod.now())
        except (OSError, ValueError):
            pass
        print("interrupted again: exiting now", file=sys.stderr, flush=True)
        os._exit(EXIT_INTERRUPTED)


async def _run_scheduler(
    scheduler: Scheduler, lanes: list[Lane], run_dir: RunDirectory, console: Console
) -> bool:
    """Run the scheduler with live progress; True when it was interrupted by a signal."""
    loop = asyncio.get_running_loop()
    interrupts = _Interrupts(scheduler, run_dir)
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, interrupts)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            pass
    live = LiveProgress({lane.agent_id: lane.progress for lane in lanes}, console)
    workers = scheduler.max_workers
    try:
        live.start()
        async with HttpClient(limit=workers + 4) as session:
            await scheduler.run(session)
    finally:
        await live.stop()
        for sig in installed:
            loop.remove_signal_handler(sig)
    return interrupts.count > 0


def _exit_code(summary: dict[str, Any], status: str) -> int:
    if status == "interrupted":
        return EXIT_INTERRUPTED
    if status == "failed":
        return EXIT_ERRORS
    for agent in summary["agents"]:
        s = agent["summary"]
        if agent["not_run"] or s["failed_tests"] or s["cancelled_tests"]:
            return EXIT_ERRORS
    return EXIT_OK


def _execute(prep: Prepared, pending: list[EntryKey], args: argparse.Namespace, again: str) -> int:
    plan = prep.plan
    console = Console(stderr=True)
    uses = _uses(plan)
    server: EmbeddedServer | None = None
    run_dir = prep.run_dir
    sandbox = _check_sandbox(plan)
    try:
        resolved_list, server = resolve_embedded(uses)
        asyncio.run(check_endpoints(resolved_list))
        resolved = {u.who: u for u in resolved_list}
        protocols = _tool_protocols(plan, resolved)
        if run_dir is None:
            run_dir = RunDirectory.create(plan.base.benchmark.results_dir)
            manifest = manifest_mod.build(plan, run_dir, args)
            run_dir.write_manifest(_with_tools(manifest, plan, protocols, sandbox))
        else:
            run_dir.remove_stale_temporaries()
            manifest_mod.mark_resumed(run_dir, args)
        handlers = _start_logging(args.log_level, run_dir, plan, console)
        try:
            return _run(
                plan,
                run_dir,
                resolved,
                pending,
                console,
                no_cache=args.no_cache,
                again=again,
                tools=RunTools(protocols, sandbox),
            )
        finally:
            _stop_logging(handlers)
    finally:
        if run_dir is not None:
            run_dir.close()
        if server is not None:
            server.stop()


@dataclass(frozen=True)
class RunTools:
    """What the run's code needs: each agent's tool protocol (and why), and the sandbox's
    settings (None when no test runs code)."""

    protocols: dict[str, tuple[str, str]] = field(default_factory=dict)
    sandbox: SandboxSettings | None = None


def _check_sandbox(plan: RunPlan) -> SandboxSettings | None:
    """The sandbox settings when some test runs code, checked to work on this machine (one
    line saying why not and how to fix it, before anything starts or is written)."""
    if not plan.tests.needs_sandbox:
        return None
    from llmbench.sandbox import check_isolation

    settings = plan.base.sandbox.settings()
    check_isolation(settings)
    if settings.isolation == "process":
        log.warning(
            '[sandbox] isolation = "process": code runs with resource limits only, without '
            "filesystem or network isolation"
        )
    return settings


def _sandbox_summary(settings: SandboxSettings | None) -> dict[str, Any] | None:
    """The summary's ``sandbox`` block: how the run's code was isolated and bounded."""
    if settings is None:
        return None
    return {
        "isolation": settings.isolation,
        "call_timeout_s": settings.call_timeout_s,
        "max_parallel": settings.parallel_calls,
        "python": settings.interpreter,
        "memory_mb": settings.memory_mb,
        "home_size_mb": settings.home_size_mb,
    }


def _tool_protocols(plan: RunPlan, resolved: dict[str, Use]) -> dict[str, tuple[str, str]]:
    if not plan.tests.tools_count:
        return {}
    agents = [(a.id, a.tool_protocol, resolved[a.id].api) for a in plan.agents]
    return asyncio.run(choose_tool_protocols(agents))


def _with_tools(
    manifest: dict[str, Any],
    plan: RunPlan,
    protocols: dict[str, tuple[str, str]],
    sandbox: SandboxSettings | None,
) -> dict[str, Any]:
    """The manifest with the protocol each agent uses and the sandbox's settings."""
    if protocols:
        manifest["tool_protocols"] = {
            agent_id: {"protocol": protocol, "reason": reason}
            for agent_id, (protocol, reason) in protocols.items()
        }
    if sandbox is not None:
        manifest["sandbox"] = plan.base.sandbox.model_dump(mode="json")
    return manifest


def _run(
    plan: RunPlan,
    run_dir: RunDirectory,
    resolved: dict[str, Use],
    pending: list[EntryKey],
    console: Console,
    *,
    no_cache: bool = False,
    again: str,
    tools: RunTools | None = None,
) -> int:
    # scoring, analysis and reports load when the run ends, not before its first request
    from llmbench.cli.finish import AgentInfo, finish
    from llmbench.report.terminal import print_report, stdout_console

    breakers = Breakers()
    tools = tools or RunTools()
    lanes = _lanes(plan, resolved, pending, breakers, tools, run_dir)
    helpers = _helpers(plan, resolved, breakers)
    cache = None
    if plan.base.benchmark.cache and not no_cache:
        cache = ReplyCache(plan.base.benchmark.cache_directory() / CACHE_FILE)
        for caller in [lane.target.caller for lane in lanes] + helpers.callers():
            caller.cache = cache
        log.info("response cache: %s", cache.path)
    writer = JournalWriter(run_dir)

    def on_result(agent_id: str, repeat: int, outcome: Outcome) -> None:
        r = outcome.result
        writer.submit(JournalEntry(agent_id, r.test_id, repeat, r, outcome.transcript))
        if r.status == "error" and r.error_kind != "circuit_open":  # the breaker logs once
            log.warning("%s / %s (repeat %d): %s", agent_id, r.test_id, repeat, r.error_message)
        else:
            log.debug(
                "%s / %s (repeat %d): %s in %.2fs",
                agent_id,
                r.test_id,
                repeat,
                r.status,
                r.execution_time,
            )

    scheduler = Scheduler(
        lanes,
        max_workers=plan.base.benchmark.max_workers,
        helpers=helpers,
        on_result=on_result,
    )
    loop = event_loop.loop_name()
    log.info(
        "run %s: %d tests to run over %d agents, results in %s (event loop: %s)",
        run_dir.run_id,
        len(pending),
        len(lanes),
        run_dir.path,
        loop,
    )
    status = "failed"
    try:
        try:
            # the plan lives as long as the run: keep the collector's full passes off it
            gc.freeze()
            interrupted = event_loop.run(_run_scheduler(scheduler, lanes, run_dir, console), loop)
        finally:
            if cache is not None:
                cache.close()
            try:
                writer.close()  # every result handed over is saved before the run ends
            except ResultsError as exc:
                scheduler.fatal = scheduler.fatal or exc
        if scheduler.fatal is not None:
            status = "failed"
        elif interrupted:
            status = "interrupted"
        else:
            status = "completed"
    except KeyboardInterrupt:  # Ctrl-C before the handlers were installed
        status = "interrupted"
    finally:
        concurrency = _concurrency(lanes)
        try:
            gc.freeze()  # what the run left lives on: the collector need not walk it again
            summary = finish(
                run_dir,
                tests=plan.tests,
                agents=[
                    AgentInfo(
                        a.id,
                        resolved[a.id].api.model or None,
                        redact.strip_url(a.endpoint),
                        concurrency.get(a.id),
                        *tools.protocols.get(a.id, (None, None)),
                    )
                    for a in plan.agents
                ],
                sandbox=_sandbox_summary(tools.sandbox) if tools.protocols else None,
                code_sandbox=tools.sandbox,
                repeats=plan.repeats,
                status=status,
                judge_api=resolved["supervisor"].api if "supervisor" in resolved else None,
                supervisor=plan.base.supervisor,
                cache_dir=None if no_cache else plan.base.benchmark.cache_directory(),
                result_files=plan.base.benchmark.result_files,
            )
        finally:
            run_dir.set_status(
                status,  # type: ignore[arg-type]
                ended_at=manifest_mod.now(),
                concurrency=concurrency,
            )
    print_report(summary, stdout_console())
    print(f"results: {run_dir.path}")
    for breaker in breakers.tripped():
        if breaker.state != "closed":
            print(f"error: {breaker.reason()}", file=sys.stderr)
    if scheduler.fatal is not None:
        print(f"error: results could not be saved: {scheduler.fatal}", file=sys.stderr)
    if status == "interrupted":
        resume = f"{again} --resume {shown_path(run_dir.path)}"
        print(f"interrupted; resume with: {resume}", file=sys.stderr)
    return _exit_code(summary, status)


# -- logging --------------------------------------------------------------------------------


def _start_logging(
    level: str, run_dir: RunDirectory, plan: RunPlan, console: Console
) -> list[logging.Handler]:
    root = logging.getLogger("llmbench")
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = []
    files = [run_dir.path / RUN_LOG]
    if plan.base.benchmark.log_dir is not None:
        log_dir = Path(plan.base.benchmark.log_dir)
        try:
            log_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ResultsError(
                f"{log_dir}: cannot create the log directory: {exc.strerror}"
            ) from None
        files.append(log_dir / f"{run_dir.run_id}.log")
    for path in files:
        fh = logging.FileHandler(path, encoding="utf-8")
        fh.setLevel(min(logging.INFO, logging.getLevelName(level)))
        fh.setFormatter(fmt)
        handlers.append(fh)
    if console.is_terminal:
        from rich.logging import RichHandler

        ch: logging.Handler = RichHandler(console=console, show_path=False)
    else:
        ch = logging.StreamHandler(sys.stderr)
        ch.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    ch.setLevel(level)
    handlers.append(ch)
    for h in handlers:
        h.addFilter(redact.RedactingFilter())
        root.addHandler(h)
    root.setLevel(min(h.level for h in handlers))
    return handlers


def _stop_logging(handlers: list[logging.Handler]) -> None:
    root = logging.getLogger("llmbench")
    for h in handlers:
        root.removeHandler(h)
        h.close()


# -- entry point ----------------------------------------------------------------------------


def run_command(args: argparse.Namespace, again: str | None = None) -> int:
    """Run ``args`` (from :func:`add_run_arguments`); returns the exit code. ``again`` is the
    command that runs this one again, for the resume hint (default: ``llmbench run``, as it was
    invoked)."""
    again = again or f"{llmbench_command()} run"
    return run_reporting_errors(lambda: _run_command(args, again))


def _run_command(args: argparse.Namespace, again: str) -> int:
    prep = _prepare(args)
    event_loop.loop_name()  # a bad LLMBENCH_LOOP is bad input, found before anything is written
    pending = _pending(prep, args.retry_errors)
    if args.dry_run:
        return _dry_run(prep, pending)
    if prep.run_dir is not None:
        # a kill mid-write leaves a torn last line: drop it even when nothing is left to run
        prep.run_dir.repair_journal()
    if not pending:
        where = prep.run_dir.path if prep.run_dir else "the run"
        if prep.run_dir is None or prep.run_dir.read_manifest().get("status") == "completed":
            print(f"nothing to run: every test of {where} has a result")
            return EXIT_OK
        # every result is saved but the run stopped before its end (scores, reports, status)
        print(f"every test of {where} has a result; finishing the run", file=sys.stderr)
    return _execute(prep, pending, args, again)


def main(argv: Sequence[str] | None = None) -> int:
    """``python3 runner.py``."""
    args = build_runner_parser().parse_args(argv)
    script = sys.argv[0] if sys.argv else ""
    # the interpreter running runner.py is one that has llmbench's dependencies
    return run_command(args, script_command(script) if script.endswith(".py") else None)
