"""What one Ray actor does (:mod:`llmbench.executors.ray`), as a plain class: it holds its own
HTTP client, callers, circuit breakers and code sandbox, starts the tests it is given as tasks
of its event loop, and hands back each one's outcome once it ends.

Nothing here imports Ray, so the worker runs (and is tested) without it too.

Where a test has a blocking scoring rule (the ``python`` scorer runs the answer in a jail, the
``submission`` scorer reads the files), the worker scores the answer too, so that this CPU is
spent on the worker's node; the driver uses those verdicts and scores everything else.

The worker never writes into the run directory: the files an agent leaves in its home are
saved under the worker's own temporary folder, read back into the :class:`Done` that carries
the outcome, and written into the run directory by the driver.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

from llmbench.config.agent_config import AgentConfig
from llmbench.config.base_config import BaseConfig
from llmbench.engine import loop as event_loop
from llmbench.engine.breaker import Breakers
from llmbench.engine.test_run import Outcome, Target, TestRun
from llmbench.errors import ConfigError
from llmbench.providers.http1 import HttpClient
from llmbench.runs import lanes
from llmbench.runs.preflight import Use
from llmbench.runs.tools import RunTools
from llmbench.scoring.base import Score, ScoreInput, Scorer
from llmbench.scoring.run_scoring import SCORERS_KEPT, blocking_rules
from llmbench.suite.models import TestCase

log = logging.getLogger("llmbench.worker")

COLLECT_LINGER_S = 0.005
"""How long a collect call that found an ended unit waits for more (a result is late by at
most this; a round trip through Ray costs the driver and the worker about a millisecond)."""
SCORING_SLOTS = 2
"""Answers a worker scores at once (as many as the driver's own scorer)."""
SavedFiles = tuple[tuple[str, bytes], ...]
"""The files a test left in the agent's home: (name relative to the home, content)."""


@dataclass(frozen=True)
class WorkerPlan:
    """What a worker needs to run its agents' tests. It carries no secret: API keys are read
    from the environment variables ``api_key_env`` names, on the worker's node (headers and
    URLs with secrets are refused under Ray: :func:`llmbench.executors.ray.check_plan`)."""

    base: BaseConfig
    agents: tuple[AgentConfig, ...]
    resolved: dict[str, Use]
    """Each agent's API (and the instructor's and supervisor's) as the preflight resolved it."""
    tools: RunTools
    rpm: dict[str, float | None] = field(default_factory=dict)
    """Each agent's share of its ``rpm`` on this worker (None: no bound)."""
    actors: int = 1
    """How many workers share the ``rpm`` budgets."""
    keep_files: bool = False
    """Save what tests with tools leave in ``/home/agent``, for the driver to write."""
    embedded: tuple[str, ...] = ()
    """Who (agent ids, ``instructor``, ``supervisor``) calls the embedded model: the worker
    calls its own node's embedded server, given by :meth:`Worker.serve_embedded`, and runs
    nothing before it has it."""


@dataclass(frozen=True)
class Unit:
    """One test of one agent to run: the driver's key for it, and what ``TestRun`` needs."""

    key: int
    agent_id: str
    test: TestCase
    repeat: int
    seed: int | None


@dataclass(frozen=True)
class WorkerInfo:
    """What a started worker says of itself."""

    pid: int
    node: str
    """Its host name."""
    node_id: str
    """Its Ray node's id ("" outside Ray)."""
    loop: str
    """The event loop it runs in (``uvloop`` or ``asyncio``)."""
    problem: str | None
    """Why it cannot run its agents' tests (an ``api_key_env`` not set on its node); None:
    it can."""


@dataclass(frozen=True)
class Done:
    """A unit that ended: its outcome, and the files it left when the run keeps them."""

    key: int
    outcome: Outcome
    files: SavedFiles | None = None
    scores: tuple[Score, ...] | None = None
    """The rule scorers' verdicts, for a test with a blocking rule (else the driver scores)."""


class Worker:
    """Runs units in its event loop; see the module docstring. Its methods are called from
    that loop only (a Ray async actor's)."""

    def __init__(self, plan: WorkerPlan, index: int = 0) -> None:
        """``index``: this worker's place among the ``plan.actors`` that share its plan."""
        self.plan = plan
        self.breakers = Breakers()
        self._root = Path(tempfile.mkdtemp(prefix="llmbench-worker-"))
        self.targets: dict[str, Target] = {}
        self.helpers = lanes.helpers(plan.base, {}, self.breakers)
        self._index = index
        self._problem: str | None = None
        if not plan.embedded:
            self._build(plan.resolved)
        self._session: HttpClient | None = None
        self._tasks: dict[int, asyncio.Task[Done]] = {}
        self._scoring = asyncio.Semaphore(SCORING_SLOTS)
        self._runs: dict[int, tuple[Unit, TestRun]] = {}
        self._folders: dict[tuple[str, str, int], Path] = {}
        self._done: list[Done] = []
        self._rules: dict[str, list[Scorer]] = {}
        """Each test's rules when one blocks (scored here, in a thread), else none."""
        self._ready: asyncio.Event | None = None

    def _build(self, resolved: dict[str, Use]) -> None:
        """The callers of the agents, the instructor and the supervisor, on ``resolved``."""
        plan = self.plan
        try:
            sandbox = lanes.run_sandbox(plan.tools)
            if sandbox is not None:  # max_parallel is the run's: each worker has its share
                from llmbench.sandbox import CallLimiter

                share = max(1, sandbox.settings.parallel_calls // max(1, plan.actors))
                sandbox = replace(sandbox, limiter=CallLimiter(share))
            for a in plan.agents:
                self.targets[a.id] = lanes.target(
                    a,
                    resolved[a.id].api,
                    self.breakers,
                    plan.tools,
                    sandbox,
                    rpm=plan.rpm.get(a.id),
                    files_dir=partial(self._files_dir, a.id) if plan.keep_files else None,
                )
            self.helpers = lanes.helpers(plan.base, resolved, self.breakers)
        except ConfigError as exc:  # an api_key_env not set on this node
            self._problem = str(exc)
            self.targets = {}
            return
        for t in self.targets.values():
            limiter = t.caller.limiter
            if limiter is not None:  # worker i's first turn: i / actors of the way to its next
                limiter.hold_off(limiter.interval_s * (self._index % plan.actors) / plan.actors)

    async def serve_embedded(self, base_url: str) -> str | None:
        """Call the embedded model at ``base_url`` (this node's server) for those of
        ``plan.embedded``; then the worker can run tests. Returns why it cannot, or None."""
        resolved = {
            who: Use(who, replace(use.api, endpoint=base_url)) if who in self.plan.embedded else use
            for who, use in self.plan.resolved.items()
        }
        self._build(resolved)
        return self._problem

    def _files_dir(self, agent_id: str, test_id: str, repeat: int) -> Path:
        # a fresh folder per unit (one at a time per key): test ids never reach the path
        folder = Path(tempfile.mkdtemp(dir=self._root))
        self._folders[(agent_id, test_id, repeat)] = folder
        return folder / "files"

    async def about(self) -> WorkerInfo:
        """Who this worker is, and why it cannot run its agents' tests if it cannot."""
        return WorkerInfo(
            os.getpid(),
            os.uname().nodename,
            _node_id(),
            event_loop.running_loop_name(),
            self._problem,
        )

    async def start(self, units: list[Unit]) -> int:
        """Start every unit; returns how many this worker now runs."""
        if self._session is None:
            self._session = HttpClient(limit=self.plan.base.benchmark.max_workers + 4)
        if self._ready is None:
            self._ready = asyncio.Event()
        for unit in units:
            if unit.key in self._tasks:
                continue  # sent twice: it runs once
            run = TestRun(unit.test, self.targets[unit.agent_id])
            task = asyncio.create_task(self._unit(unit, run, self._session))
            self._tasks[unit.key] = task
            self._runs[unit.key] = (unit, run)
            task.add_done_callback(partial(self._ended, unit.key))
        return len(self._tasks)

    async def _unit(self, unit: Unit, run: TestRun, session: HttpClient) -> Done:
        """Run one unit; then read back the files it left and, where its test has a blocking
        rule (``python``, ``submission``), score its answer here, next to them."""
        outcome = await run.execute(session, self.helpers, unit.seed, unit.repeat)
        folder = self._folders.pop((unit.agent_id, unit.test.id, unit.repeat), None)
        try:
            files_dir = folder / "files" if folder is not None else None
            if files_dir is not None and not files_dir.is_dir():
                files_dir = None
            files = _read_back(files_dir) if files_dir is not None else None
            scores = None
            rules = self._rules_of(unit.test)
            if rules and outcome.result.status == "ok":
                item = ScoreInput(
                    unit.test, outcome.result.response_text, outcome.transcript, files_dir=files_dir
                )
                try:
                    async with self._scoring:
                        scores = await asyncio.to_thread(_verdicts, rules, item)
                except asyncio.CancelledError:  # the outcome is in: keep it, unscored
                    scores = None
                except Exception:  # the driver scores it instead
                    log.exception("scoring test %s here failed", unit.test.id)
                    scores = None
            return Done(unit.key, outcome, files, scores)
        finally:
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)

    def _rules_of(self, test: TestCase) -> list[Scorer]:
        """:func:`blocking_rules` of ``test``, worked out once per test (most have none)."""
        rules = self._rules.get(test.id)
        if rules is None:
            try:
                rules = blocking_rules(test, self.plan.tools.sandbox)
            except Exception:  # the driver scores it, and says what is wrong
                log.exception("the scorers of test %s could not be built here", test.id)
                rules = []
            if len(self._rules) >= SCORERS_KEPT:  # bounded, as the driver's
                self._rules.clear()
            self._rules[test.id] = rules
        return rules

    def _ended(self, key: int, task: asyncio.Task[Done]) -> None:
        unit, run = self._runs.pop(key)
        del self._tasks[key]
        if task.cancelled():
            done = Done(key, run.cancelled())
        elif (exc := task.exception()) is not None:  # a bug must not lose the test
            log.error("internal error while running test %s", run.test.id, exc_info=exc)
            done = Done(key, run.internal_error(exc))
        else:
            done = task.result()
        folder = self._folders.pop((unit.agent_id, unit.test.id, unit.repeat), None)
        if folder is not None:  # the unit ended before its files were read
            shutil.rmtree(folder, ignore_errors=True)
        self._done.append(done)
        assert self._ready is not None
        self._ready.set()

    async def collect(self, wait_s: float) -> list[Done]:
        """The units that ended since the last call; waits up to ``wait_s`` for one, then
        :data:`COLLECT_LINGER_S` for those ending with it (one round trip for many)."""
        if self._ready is None:
            self._ready = asyncio.Event()
        if not self._done:
            self._ready.clear()
            try:
                async with asyncio.timeout(wait_s):
                    await self._ready.wait()
            except TimeoutError:
                pass
            else:
                await asyncio.sleep(COLLECT_LINGER_S)
        done, self._done = self._done, []
        return done

    async def cancel(self, keys: list[int]) -> None:
        """Cancel these units (each then ends as a cancelled outcome)."""
        for key in keys:
            task = self._tasks.get(key)
            if task is not None:
                task.cancel()

    def tripped(self) -> list[tuple[str, str, str]]:
        """The circuit breakers that opened here: (endpoint, state, reason)."""
        return [(b.endpoint, b.state, b.reason()) for b in self.breakers.tripped()]

    async def close(self) -> None:
        """Cancel what still runs, close the HTTP client, remove the temporary folder."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None
        await asyncio.to_thread(shutil.rmtree, self._root, True)


def _verdicts(rules: list[Scorer], item: ScoreInput) -> tuple[Score, ...]:
    return tuple(rule(item) for rule in rules)


def _read_back(files: Path) -> SavedFiles:
    """The regular files under ``files``, read into memory (the sandbox saved at most
    ``[sandbox] save_files_mb`` of them)."""
    out: list[tuple[str, bytes]] = []
    for path in sorted(files.rglob("*")):
        if path.is_file() and not path.is_symlink():
            out.append((path.relative_to(files).as_posix(), path.read_bytes()))
    return tuple(out)


def _node_id() -> str:
    """The Ray node this runs on ("" outside a Ray worker; Ray is not imported for it)."""
    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return ""
    return str(ray.get_runtime_context().get_node_id())


class EmbeddedHost:
    """One node's embedded model server, for the workers on that node (a Ray actor placed on
    the node by the driver, which owns it: it ends with the run, or with the driver)."""

    def __init__(self) -> None:
        from llmbench.providers.embedded import EmbeddedServer

        self.server = EmbeddedServer()

    def start(self) -> str:
        """Start the server (EmbeddedModelError when it cannot); its base URL on this node."""
        return self.server.start().base_url

    def stop(self) -> None:
        self.server.stop()
