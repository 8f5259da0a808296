"""``llmbench.run()`` and ``llmbench.run_async()``: a whole multi-agent run as a library call,
the same run as ``runner.py`` / ``llmbench run`` (which call :func:`run_prepared` too).

The function never exits the process and never installs signal handlers: mistakes in the input
raise :class:`~llmbench.errors.InputError` before anything is written, an endpoint that cannot
be used raises :class:`~llmbench.errors.EndpointError`, and whatever happens to single tests is
in the results. Progress goes to ``on_progress``; ``cancel`` stops the run as Ctrl-C does.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from llmbench import jsonio
from llmbench.engine import loop as event_loop
from llmbench.runs.execute import CancelFlag, Hooks, execute
from llmbench.runs.outcome import Run
from llmbench.runs.plan import AgentConfigInput, BaseConfigInput
from llmbench.runs.prepare import Prepared, RunOptions, pending, prepare
from llmbench.runs.progress import ProgressListener
from llmbench.store.run_dir import SUMMARY, EntryKey

log = logging.getLogger("llmbench.run")
P = ParamSpec("P")
T = TypeVar("T")


async def run_prepared(prep: Prepared, todo: list[EntryKey], hooks: Hooks) -> Run:
    """Run what is left of a prepared plan (``todo``, from :func:`pending`)."""
    if prep.run_dir is not None:
        # a kill mid-write leaves a torn last line: drop it even when nothing is left to run
        prep.run_dir.repair_journal()
        if not todo and prep.manifest is not None and prep.manifest.get("status") == "completed":
            done = _finished(prep)
            if done is not None:
                return done
        if not todo:
            log.info("every test of %s has a result; finishing the run", prep.run_dir.path)
    return await execute(prep, todo, hooks)


def _finished(prep: Prepared) -> Run | None:
    """A completed run that has nothing left to run, as its summary says; None when its
    summary cannot be read (the run is finished again)."""
    assert prep.run_dir is not None
    try:
        summary = jsonio.loads((prep.run_dir.path / SUMMARY).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(summary, dict):
        return None
    return Run(prep.run_dir.run_id, prep.run_dir.path, "completed", summary, 0)


async def run_async(
    base_config: BaseConfigInput | None = None,
    agent_config: AgentConfigInput | None = None,
    *,
    agents: Sequence[str] | None = None,
    tests: Sequence[str] | None = None,
    categories: Sequence[str] | None = None,
    repeats: int | None = None,
    resume: str | os.PathLike[str] | None = None,
    retry_errors: bool = False,
    no_stream: bool = False,
    no_cache: bool = False,
    log_level: str = "INFO",
    executor: str | None = None,
    on_progress: ProgressListener | None = None,
    progress_interval_s: float = 1.0,
    cancel: CancelFlag | None = None,
) -> Run:
    """Run one suite against several agents, as ``llmbench run`` does, in the running event
    loop, and return the :class:`Run` (its ``summary`` is ``summary.json``'s data, its
    ``directory`` the results).

    ``base_config``: the base config's TOML file or a ``BaseConfig`` (default
    ``base_config.toml``); ``agent_config``: an agent TOML file, a directory of them, or
    ``AgentConfig`` objects (default ``agent_configs/``). ``agents``, ``tests``,
    ``categories`` and ``repeats`` narrow the run as ``--agents`` ... do; ``resume`` continues
    a run directory (its recorded configs and selection; ``retry_errors`` runs its errors
    again). ``executor``: ``local`` or ``ray``, over ``[benchmark] executor``.
    ``on_progress`` gets a :class:`~llmbench.runs.progress.RunProgress` at the start, every
    ``progress_interval_s`` and at the end. ``cancel``: a flag such as a
    :class:`threading.Event`; once set, the tests in flight end as cancelled and the run
    finishes as ``interrupted`` (resumable).

    :func:`run` is the same call from code that is not async.
    """
    options = RunOptions(
        base_config,
        agent_config,
        agents=agents,
        tests=tests,
        categories=categories,
        repeats=repeats,
        resume=resume,
        retry_errors=retry_errors,
        no_stream=no_stream,
        no_cache=no_cache,
        log_level=log_level,
        executor=executor,
    )
    hooks = Hooks(on_progress=on_progress, progress_interval_s=progress_interval_s, cancel=cancel)
    prep = prepare(options)
    return await run_prepared(prep, pending(prep), hooks)


def _blocking(fn: Callable[P, Coroutine[Any, Any, T]], name: str, doc: str) -> Callable[P, T]:
    """``fn`` for code that is not async: in an event loop of its own, or, where a loop is
    already running in this thread (a notebook), in a thread with a loop of its own."""

    @functools.wraps(fn)
    def call(*args: P.args, **kwargs: P.kwargs) -> T:
        coro = fn(*args, **kwargs)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return event_loop.run(coro)
        with ThreadPoolExecutor(1, thread_name_prefix="llmbench-run") as pool:
            return pool.submit(event_loop.run, coro).result()

    call.__name__ = call.__qualname__ = name
    call.__doc__ = doc
    return call


run = _blocking(
    run_async,
    "run",
    """Run one suite against several agents, as ``llmbench run`` does, and return the
    :class:`Run`; the arguments are :func:`run_async`'s.

    Runs on uvloop where installed (``LLMBENCH_LOOP`` chooses); called where an event loop is
    already running (a notebook), the run gets a thread and a loop of its own.
    """,
)
