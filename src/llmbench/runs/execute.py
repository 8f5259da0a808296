"""Running a prepared plan: start the embedded model if anyone uses it, check every endpoint,
create (or reopen) the run directory, run agents x tests x repeats in one scheduler while each
finished test is journaled, then score, write ``summary.json`` and the reports, and mark the
manifest. Everything here runs in the caller's event loop.

Cancellation: ``cancel`` (anything with ``is_set()``: a :class:`threading.Event` another thread
sets, an :class:`asyncio.Event`) or cancelling the task stops new tests, ends those in flight
as ``cancelled`` results and finishes the run as ``interrupted`` (scores, summary, reports), so
``resume=`` continues it. Cancelled before the run directory exists, nothing is written and
:class:`~llmbench.errors.Interrupted` is raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Protocol, TypeVar

from llmbench import redact
from llmbench.engine import loop as event_loop
from llmbench.engine.breaker import Breakers
from llmbench.engine.scheduler import Executor, Scheduler
from llmbench.engine.test_run import Helpers, Outcome
from llmbench.errors import Interrupted, ResultsError
from llmbench.executors.local import LocalExecutor
from llmbench.providers.embedded import EmbeddedServer
from llmbench.providers.http1 import HttpClient
from llmbench.runs import lanes as lanes_mod
from llmbench.runs import manifest as manifest_mod
from llmbench.runs.logs import start_logging, stop_logging
from llmbench.runs.outcome import Run, RunStatus
from llmbench.runs.preflight import Use, check_endpoints, resolve_embedded
from llmbench.runs.prepare import Prepared
from llmbench.runs.progress import ProgressListener, ProgressReporter
from llmbench.runs.tools import RunTools, check_sandbox, sandbox_summary, tool_protocols, with_tools
from llmbench.store.cache import CACHE_FILE, ReplyCache
from llmbench.store.run_dir import EntryKey, JournalEntry, RunDirectory
from llmbench.store.writer import JournalWriter

if TYPE_CHECKING:
    from llmbench.executors.ray import RayExecutor

log = logging.getLogger("llmbench.run")

T = TypeVar("T")

CANCEL_POLL_S = 0.05
"""How often a cancel flag is looked at."""


class CancelFlag(Protocol):
    """What ``cancel=`` takes: :class:`threading.Event`, :class:`asyncio.Event` or alike."""

    def is_set(self) -> bool: ...


class Hooks:
    """What the caller watches and controls a run with."""

    def __init__(
        self,
        *,
        console: logging.Handler | None = None,
        on_progress: ProgressListener | None = None,
        progress_interval_s: float = 1.0,
        cancel: CancelFlag | None = None,
    ) -> None:
        self.console = console
        self.on_progress = on_progress
        self.progress_interval_s = progress_interval_s
        self.cancel = cancel

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()


async def _unless_cancelled(work: Awaitable[T], hooks: Hooks) -> T:
    """``await work``, given up (Interrupted, nothing written) once ``hooks.cancel`` is set."""
    task = asyncio.ensure_future(work)
    while not task.done():
        if hooks.cancelled:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            raise Interrupted("the run was cancelled before it started; nothing was written")
        await asyncio.wait({task}, timeout=CANCEL_POLL_S)
    return task.result()


async def _start_embedded(found: list[Use]) -> tuple[list[Use], EmbeddedServer | None]:
    """:func:`resolve_embedded` off the loop; a server started while this was cancelled is
    stopped, never left behind."""
    job = asyncio.ensure_future(asyncio.to_thread(resolve_embedded, found))
    try:
        return await asyncio.shield(job)
    except asyncio.CancelledError:
        _, server = await job
        if server is not None:
            server.stop()
        raise


async def execute(prep: Prepared, pending: list[EntryKey], hooks: Hooks) -> Run:
    """Run ``pending`` of ``prep``'s plan; see the module docstring."""
    plan = prep.plan
    server: EmbeddedServer | None = None
    run_dir = prep.run_dir
    sandbox = check_sandbox(plan)
    remote: RayExecutor | None = None
    try:
        resolved_list, server = await _start_embedded(lanes_mod.uses(plan))
        await _unless_cancelled(check_endpoints(resolved_list), hooks)
        resolved = {u.who: u for u in resolved_list}
        tools = RunTools(await _unless_cancelled(tool_protocols(plan, resolved), hooks), sandbox)
        if hooks.cancelled:
            raise Interrupted("the run was cancelled before it started; nothing was written")
        if plan.base.benchmark.executor == "ray":
            from llmbench.executors.ray import RayExecutor

            remote = RayExecutor(plan, resolved, tools)
            await _unless_cancelled(remote.start(), hooks)
        if run_dir is None:
            run_dir = RunDirectory.create(plan.base.benchmark.results_dir)
            manifest = manifest_mod.build(
                plan,
                run_dir,
                base_config=prep.base_config,
                agent_config=prep.agent_config,
                executor=remote.describe() if remote is not None else None,
            )
            run_dir.write_manifest(with_tools(manifest, plan, tools))
        else:
            run_dir.remove_stale_temporaries()
            manifest_mod.mark_resumed(
                run_dir,
                retry_errors=prep.options.retry_errors,
                executor=remote.describe() if remote is not None else None,
            )
        handlers = start_logging(prep.options.log_level, run_dir, plan, hooks.console)
        try:
            return await _run(prep, run_dir, resolved, pending, tools, hooks, remote)
        finally:
            stop_logging(handlers)
    finally:
        if remote is not None:
            await remote.close()
        if run_dir is not None:
            run_dir.close()
        if server is not None:
            server.stop()


async def _schedule(
    scheduler: Scheduler,
    helpers: Helpers,
    remote: RayExecutor | None,
    reporter: ProgressReporter,
    hooks: Hooks,
) -> bool:
    """Run the scheduler; True when the run was cancelled (``hooks.cancel`` or this task)."""
    cancelled = False

    async def watch(flag: CancelFlag) -> None:
        nonlocal cancelled
        while not flag.is_set():
            await asyncio.sleep(CANCEL_POLL_S)
        cancelled = True
        scheduler.request_cancel()

    watcher = asyncio.create_task(watch(hooks.cancel)) if hooks.cancel is not None else None
    try:
        async with contextlib.AsyncExitStack() as stack:
            executor: Executor
            if remote is not None:
                executor = remote
            else:
                session = await stack.enter_async_context(
                    HttpClient(limit=scheduler.max_workers + 4)
                )
                executor = LocalExecutor(session, helpers)
            job = asyncio.create_task(scheduler.run(executor))
            await asyncio.sleep(0)  # the scheduler counts its tests before the first report
            reporter.start()
            try:
                await asyncio.shield(job)
            except asyncio.CancelledError:
                if job.done():
                    raise
                cancelled = True
                scheduler.request_cancel()
                await job  # within CANCEL_GRACE_S: every test that started gets its result
                raise
    finally:
        if watcher is not None:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
        await reporter.stop()
    return cancelled


async def _run(
    prep: Prepared,
    run_dir: RunDirectory,
    resolved: dict[str, Use],
    pending: list[EntryKey],
    tools: RunTools,
    hooks: Hooks,
    remote: RayExecutor | None,
) -> Run:
    # scoring, analysis and reports load when the run ends, not before its first request
    from llmbench.runs.finish import AgentInfo, finish_async

    plan = prep.plan
    no_cache = prep.options.no_cache
    breakers = Breakers()
    lanes = lanes_mod.lanes(plan, resolved, pending, breakers, tools, run_dir, remote=bool(remote))
    if remote is not None:
        remote.files_dir = run_dir.files_dir
    helpers = lanes_mod.helpers(plan.base, resolved, breakers)
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
        elif log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s / %s (repeat %d): %s in %.2fs",
                agent_id,
                r.test_id,
                repeat,
                r.status,
                r.execution_time,
            )

    scheduler = Scheduler(lanes, max_workers=plan.base.benchmark.max_workers, on_result=on_result)
    reporter = ProgressReporter(
        hooks.on_progress,
        run_dir.run_id,
        run_dir.path,
        {lane.agent_id: lane.progress for lane in lanes},
        hooks.progress_interval_s,
    )
    log.info(
        "run %s: %d tests to run over %d agents, results in %s (event loop: %s)",
        run_dir.run_id,
        len(pending),
        len(lanes),
        run_dir.path,
        event_loop.running_loop_name(),
    )
    if remote is not None:
        log.info("executor ray: %s", remote.summary_line())
    status: RunStatus = "failed"
    aborted: BaseException | None = None
    try:
        try:
            # the plan lives as long as the run: keep the collector's full passes off it
            gc.freeze()
            interrupted = await _schedule(scheduler, helpers, remote, reporter, hooks)
        except asyncio.CancelledError as exc:  # the caller cancelled this task
            interrupted, aborted = True, exc
        finally:
            if remote is not None:
                await remote.close()  # every outcome is in; the actors' breakers are known
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
    finally:
        concurrency = lanes_mod.concurrency(lanes)
        try:
            gc.freeze()  # what the run left lives on: the collector need not walk it again
            summary = await finish_async(
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
                sandbox=sandbox_summary(tools.sandbox) if tools.protocols else None,
                code_sandbox=tools.sandbox,
                repeats=plan.repeats,
                status=status,
                judge_api=resolved["supervisor"].api if "supervisor" in resolved else None,
                supervisor=plan.base.supervisor,
                cache_dir=None if no_cache else plan.base.benchmark.cache_directory(),
                result_files=plan.base.benchmark.result_files,
                rule_scores=remote.rule_scores if remote is not None else None,
            )
        finally:
            run_dir.set_status(status, ended_at=manifest_mod.now(), concurrency=concurrency)
    if aborted is not None:
        raise aborted
    errors = [b.reason() for b in breakers.tripped() if b.state != "closed"]
    if remote is not None:
        errors += remote.tripped
    if scheduler.fatal is not None:
        errors.append(f"results could not be saved: {scheduler.fatal}")
    return Run(run_dir.run_id, run_dir.path, status, summary, len(pending), tuple(errors))
