"""The Ray executor: the tests the scheduler starts run on long-lived async Ray actors.

The driver (this process) keeps everything that writes or decides: the plan, admission (the
scheduler's ``max_workers``, each agent's ``max_concurrency``, ``"auto"`` concurrency), the
journal, the manifest, scoring and reports. Each actor (a :class:`~llmbench.executors.worker.
Worker`) has its own event loop, HTTP client, callers and code sandbox; it is fed started tests
in batches (one ``start`` call on its way per actor at a time: the tests the scheduler starts
meanwhile go out together in the next, so batches grow with the load) and hands back each
outcome as soon as it ends (a long-poll per actor), so a test costs one round trip to Ray, not
one Ray task.

Limits across the cluster:

- ``max_workers`` and ``max_concurrency``: admission in the driver, before a test is sent.
- ``rpm``: a budget given to the actors, each holding ``rpm / actors`` of it for every request
  it sends (first turns and later ones alike), so that the cluster never exceeds ``rpm``.
- circuit breaker: each actor keeps one per endpoint, so an endpoint that goes down costs at
  most the breaker's threshold of failed attempts per actor before the rest fail at once.

Placement: agents with the same ``ray_resources`` share a pool of actors created with those
resources (so their work runs on the nodes that have them); each actor reserves no CPU and the
actors of a pool are spread over the nodes.

The embedded model: workers call the embedded server of the node they run on. On the driver's
node that is the server the run started for its preflight (and the judge); on every other node
that runs such work, the driver places an :class:`~llmbench.executors.worker.EmbeddedHost`
actor that starts one, the first time a worker lands there. The driver owns those actors: they
end with the run, or with the driver.

Faults: an actor that dies has the tests it was running sent to another actor of its pool (a
replacement is started once per actor lost, at most as many as the pool has), at most
:data:`MAX_TRIES` times, after which the test ends as an error result (``end_reason``
``worker_lost``) naming the failure. A test is answered by the driver exactly once: an outcome
from an actor no longer in charge of it is dropped.

Scoring: a test whose scoring has a blocking rule (``python``, ``submission``) is scored on the
actor that ran it, next to the answer and the files; the driver uses those verdicts and runs
the rest (the judge, the text rules) when the run ends.

Secrets: actors read API keys from the environment variables ``api_key_env`` names, on their
node; the plan sent to them holds the variables' names only (headers and URLs that carry a
secret are refused: :func:`check_plan`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import itertools
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from llmbench import redact
from llmbench.engine.test_run import CANCEL_GRACE_S, Outcome, TestRun
from llmbench.errors import ConfigError, EndpointError
from llmbench.executors.worker import (
    Done,
    EmbeddedHost,
    SavedFiles,
    Unit,
    Worker,
    WorkerInfo,
    WorkerPlan,
)
from llmbench.runs import lanes
from llmbench.runs.preflight import Use
from llmbench.runs.tools import RunTools
from llmbench.scoring.run_scoring import RuleScores
from llmbench.store.run_dir import EntryKey

if TYPE_CHECKING:
    from llmbench.engine.scheduler import Lane
    from llmbench.runs.plan import RunPlan

log = logging.getLogger("llmbench.run")

RAY_MISSING = """executor = "ray" needs Ray: pip install 'llmbench[ray]'"""
MAX_TRIES = 3
"""Times a test is sent to an actor before the death of its actors makes it an error."""
COLLECT_WAIT_S = 1.0
"""How long an actor holds a collect call open when nothing has ended."""
ACTOR_START_S = 120.0
"""How long the actors of a pool may take to start."""
HEAD_START_S = 60.0
"""How long a local Ray instance may take to start."""
CONNECT_S = 5.0
"""How long a cluster's address may take to accept a connection."""
CLOSE_WAIT_S = 5.0
"""How long an actor is given to close its sessions before it is killed."""
EMBEDDED_START_S = 240.0
"""How long a node's embedded model server may take to start (its own limit is 180 s)."""


def check_plan(plan: RunPlan, *, no_cache: bool) -> None:
    """Raise ConfigError (before anything is written) when ``plan`` cannot run on Ray."""
    where = plan.base_path
    if importlib.util.find_spec("ray") is None:  # found, not imported: that takes a second
        raise ConfigError(RAY_MISSING, path=where)
    b = plan.base.benchmark
    if b.cache and not no_cache:
        raise ConfigError(
            "[benchmark] cache: the reply cache is not shared with Ray workers; set cache = "
            'false, run with --no-cache, or use executor = "local"',
            path=where,
        )
    helpers = [("[instructor]", plan.base.instructor), ("[supervisor]", plan.base.supervisor)]
    configs: list[tuple[str, Any]] = [(f"agent {a.id}", a) for a in plan.agents] + helpers
    for who, config in configs:
        if redact.secrets_in(config.headers, config.endpoint):
            raise ConfigError(
                f"{who}: under the Ray executor a secret must not be in headers or the "
                "endpoint URL (Ray would carry it to its workers); put the key in an "
                "environment variable and name it with api_key_env",
                path=where,
            )


def _start_ray(address: str | None) -> subprocess.Popen[str] | bool:
    """Connect to Ray: join the cluster at ``address``, or start a local instance for the run
    (the keeper process of :mod:`llmbench.executors.ray_head`, returned: stop it with
    :func:`_stop_head`). True when the run joined a cluster, False when Ray was already
    initialised in this process (used as it is, left running)."""
    import ray

    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no call home: this machine is offline
    kwargs: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}
    head: subprocess.Popen[str] | None = None
    if address is None:
        _token_auth()
        head, address = _start_head()
    elif address != "auto":
        _check_reachable(address)
    try:
        ray.init(address=address, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        if head is not None:
            _stop_head(head)
        raise EndpointError(
            f"the Ray cluster at {address} cannot be reached: {redact.scrub(str(exc))}"
        ) from None
    return head if head is not None else True


def _token_auth() -> None:
    """Ray's token authentication on, for a head started here and this process (its GCS
    listens on every interface: without a token anyone who reaches it runs code here). The
    token is Ray's own (``~/.ray/auth_token``), never llmbench's to hold."""
    os.environ["RAY_AUTH_MODE"] = "token"
    try:  # Ray reads the mode when it is imported: have this process read it again
        from ray._raylet import Config  # type: ignore[attr-defined]

        Config.initialize("")
    except (ImportError, AttributeError):  # another Ray version: it reads it at ray.init
        pass


def _start_head() -> tuple[subprocess.Popen[str], str]:
    """Start a local Ray head that ends with this process; its keeper and address."""
    from llmbench.providers.embedded import free_port

    port = free_port()
    keeper = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llmbench.executors.ray_head",
            str(os.getpid()),
            str(port),
            str(os.cpu_count() or 1),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert keeper.stdout is not None
    ready = threading.Timer(HEAD_START_S, keeper.terminate)  # a head that never answers
    ready.start()
    try:
        line = keeper.stdout.readline().strip()
    finally:
        ready.cancel()
    if line != "ready":
        _stop_head(keeper)
        why = (keeper.stderr.read() if keeper.stderr else "").strip().splitlines()
        raise EndpointError(
            "a local Ray instance could not start: "
            + (why[-1] if why else f"no answer within {HEAD_START_S:g}s")
        )
    return keeper, f"127.0.0.1:{port}"


def _stop_head(keeper: subprocess.Popen[str]) -> None:
    """Stop a local Ray head (its keeper stops Ray and kills what is left)."""
    if keeper.poll() is None:
        keeper.terminate()
    try:
        keeper.wait(timeout=30)
    except subprocess.TimeoutExpired:
        keeper.kill()
        keeper.wait()
    for stream in (keeper.stdout, keeper.stderr):
        if stream is not None:
            stream.close()


def _check_reachable(address: str) -> None:
    """EndpointError at once when nothing listens at ``address`` (``host:port`` or
    ``ray://host:port``): Ray itself retries for minutes."""
    hostport = address.removeprefix("ray://")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(
            f'[benchmark] ray_address: expected "auto", "host:port" or "ray://host:port", '
            f"got {address!r}"
        )
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_S).close()
    except OSError as exc:
        raise EndpointError(
            f"the Ray cluster at {address} cannot be reached: {exc.strerror or exc}"
        ) from None


@dataclass(eq=False)
class _Slot:
    """One actor of a pool, as the driver knows it."""

    handle: Any
    pool: _Pool
    pid: int
    node: str
    loop: str
    index: int
    keys: set[int] = field(default_factory=set)
    """The units given to it (sent, or in its outbox) that have not come back."""
    outbox: list[_Sent] = field(default_factory=list)
    """Units given to it while its last ``start`` call was on its way: they go in the next
    one (one call at a time per actor, so that batches grow with the load)."""
    sending: bool = False
    alive: bool = True
    collector: asyncio.Task[None] | None = None


@dataclass(eq=False)
class _Pool:
    """The actors of the agents that share one set of ``ray_resources``."""

    resources: dict[str, float]
    plan: WorkerPlan
    size: int
    slots: list[_Slot] = field(default_factory=list)
    replacements: int = 0
    starting: int = 0

    def live(self) -> list[_Slot]:
        return [s for s in self.slots if s.alive]


@dataclass(eq=False)
class _Sent:
    """A unit the driver waits for."""

    unit: Unit
    run: TestRun
    pool: _Pool
    future: asyncio.Future[Done]
    slot: _Slot | None = None
    tries: int = 0
    last_failure: str = ""


class RayExecutor:
    """Runs tests on Ray actors; see the module docstring. :meth:`start` connects to Ray and
    starts the actors (EndpointError when the cluster cannot be reached, ConfigError when it
    lacks what the agents need); :meth:`close` stops them."""

    name = "ray"

    def __init__(
        self,
        plan: RunPlan,
        resolved: dict[str, Use],
        tools: RunTools,
        *,
        files_dir: Callable[[str, str, int], Path] | None = None,
    ) -> None:
        self.plan = plan
        self.resolved = resolved
        self.tools = tools
        self.files_dir = files_dir
        self._pools: list[_Pool] = []
        self._pool_of: dict[str, _Pool] = {}
        """Each agent's pool."""
        self._entries: dict[int, _Sent] = {}
        self._buffer: list[_Sent] = []
        self._flushing = False
        self._keys = itertools.count(1)
        self._joined: subprocess.Popen[str] | bool = False
        """What :func:`_start_ray` gave: a local head's keeper, True (joined), False."""
        self._remote: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self.rule_scores: dict[EntryKey, RuleScores] = {}
        """The verdicts of blocking scoring rules the actors worked out, for the run's
        scoring (:class:`~llmbench.scoring.run_scoring.RunScorer`), by result."""
        self.tripped: list[str] = []
        """Why endpoints' breakers opened on the actors (read when the executor closes)."""
        self._driver_node: str | None = None
        """The Ray node this process runs on (None: a Ray client, on no node)."""
        self._hosts: dict[str, asyncio.Future[str]] = {}
        """Each node's embedded server's URL, by node id, once asked for."""
        self._host_actors: list[Any] = []
        self._embedded_urls: set[str] = set()
        """The embedded servers the workers call."""

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        address = self.plan.base.benchmark.ray_address
        job = asyncio.ensure_future(asyncio.to_thread(_start_ray, address))
        try:
            self._joined = await asyncio.shield(job)
        except asyncio.CancelledError:
            self._joined = await job  # Ray started meanwhile is shut down by close()
            raise
        if not (address or "").startswith("ray://"):
            import ray

            self._driver_node = ray.get_runtime_context().get_node_id()
        await self._start_pools()

    async def close(self) -> None:
        """Stop every actor (and Ray itself, when the run started it). Safe to call twice."""
        await self._shutdown()

    # -- starting ---------------------------------------------------------------------------

    async def _start_pools(self) -> None:
        import ray

        from llmbench.executors.worker import Worker

        self._remote = ray.remote(Worker)
        cluster = await asyncio.to_thread(ray.cluster_resources)
        size = self.plan.base.benchmark.ray_actors or max(1, int(cluster.get("CPU", 1)))
        groups: dict[tuple[tuple[str, float], ...], list[Any]] = {}
        for a in self.plan.agents:
            groups.setdefault(tuple(sorted(a.ray_resources.items())), []).append(a)
        keep_files = bool(self.tools.protocols)
        embedded = {u.who for u in lanes.uses(self.plan) if u.api.is_embedded}
        for resources, agents in groups.items():
            for name, amount in resources:
                if cluster.get(name, 0) < amount:
                    raise ConfigError(
                        f"agent {agents[0].id}: ray_resources: no node of the Ray cluster has "
                        f"{amount:g} of {name!r} (the cluster has: {', '.join(sorted(cluster))})",
                        path=self.plan.base_path,
                    )
            helpers = {w: u for w, u in self.resolved.items() if w in ("instructor", "supervisor")}
            resolved = {**{a.id: self.resolved[a.id] for a in agents}, **helpers}
            worker_plan = WorkerPlan(
                base=self.plan.base,
                agents=tuple(agents),
                resolved=resolved,
                tools=self.tools,
                rpm={a.id: a.rpm / size if a.rpm else None for a in agents},
                actors=size,
                keep_files=keep_files,
                embedded=tuple(w for w in resolved if w in embedded),
            )
            pool = _Pool(dict(resources), worker_plan, size)
            self._pools.append(pool)
            for a in agents:
                self._pool_of[a.id] = pool
            made = await asyncio.gather(
                *(self._new_slot(pool, i) for i in range(size)), return_exceptions=True
            )
            pool.slots += [s for s in made if isinstance(s, _Slot)]  # stopped by close()
            failed = [s for s in made if isinstance(s, BaseException)]
            if failed:
                raise failed[0]

    async def _new_slot(self, pool: _Pool, index: int) -> _Slot:
        """Start actor ``index`` of ``pool`` and its collector."""
        import ray

        handle = self._remote.options(
            num_cpus=0,
            resources=pool.resources or None,
            scheduling_strategy="SPREAD",
            max_restarts=0,
        ).remote(pool.plan, index)
        try:
            async with asyncio.timeout(ACTOR_START_S):
                about: WorkerInfo = await handle.about.remote()
        except (TimeoutError, ray.exceptions.RayError) as exc:
            ray.kill(handle, no_restart=True)
            raise EndpointError(f"a Ray worker could not start: {_reason(exc)}") from None
        problem = about.problem
        if problem is None and pool.plan.embedded:
            try:
                url = await self._embedded_on(pool, about.node_id, about.node)
                problem = await handle.serve_embedded.remote(url)
            except EndpointError:
                ray.kill(handle, no_restart=True)
                raise
            except ray.exceptions.RayError as exc:
                ray.kill(handle, no_restart=True)
                raise EndpointError(f"a Ray worker could not start: {_reason(exc)}") from None
            self._embedded_urls.add(url)
        if problem is not None:
            ray.kill(handle, no_restart=True)
            raise ConfigError(
                f"the Ray worker on {about.node}: {problem}", path=self.plan.base_path
            )
        slot = _Slot(handle, pool, about.pid, about.node, about.loop, index)
        slot.collector = asyncio.create_task(self._collect(slot))
        return slot

    async def _embedded_on(self, pool: _Pool, node_id: str, node: str) -> str:
        """The URL of the embedded server ``pool``'s workers call on node ``node_id`` (host
        name ``node``): the run's own on the driver's node, else the one an
        :class:`EmbeddedHost` starts there (once)."""
        if node_id == self._driver_node:
            return str(self.resolved[pool.plan.embedded[0]].api.endpoint)
        found = self._hosts.get(node_id)
        if found is None:
            found = self._hosts[node_id] = asyncio.ensure_future(self._start_host(node_id, node))
        return await asyncio.shield(found)

    async def _start_host(self, node_id: str, node: str) -> str:
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        host: Any = (
            ray.remote(EmbeddedHost)
            .options(
                num_cpus=0,
                scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
                max_restarts=0,
            )
            .remote()
        )
        self._host_actors.append(host)
        log.info("starting the embedded model on %s", node)
        try:
            async with asyncio.timeout(EMBEDDED_START_S):
                url: str = await host.start.remote()
        except (TimeoutError, ray.exceptions.RayError) as exc:
            raise EndpointError(
                f"the embedded model on {node} could not start: {_reason(exc)}"
            ) from None
        log.info("embedded model ready on %s", node)
        return url

    # -- running ----------------------------------------------------------------------------

    def execute(
        self, lane: Lane, run: TestRun, seed: int | None, repeat: int
    ) -> Coroutine[Any, Any, Outcome]:
        return self._execute(lane.agent_id, run, seed, repeat)

    async def _execute(self, agent_id: str, run: TestRun, seed: int | None, repeat: int) -> Outcome:
        assert self._loop is not None
        key = next(self._keys)
        entry = _Sent(
            Unit(key, agent_id, run.test, repeat, seed),
            run,
            self._pool_of[agent_id],
            self._loop.create_future(),
        )
        self._entries[key] = entry
        self._queue(entry)
        try:
            done = await asyncio.shield(entry.future)
        except asyncio.CancelledError:
            if entry.slot is None or entry.future.cancelled() or entry in entry.slot.outbox:
                self._forget(entry)  # never sent: nothing runs it
                raise
            self._cancel_remote(entry)
            deadline = self._loop.time() + CANCEL_GRACE_S
            while not entry.future.done():  # its actor's own cancelled outcome is worth more
                left = deadline - self._loop.time()
                if left <= 0:
                    self._forget(entry)
                    raise
                try:
                    await asyncio.wait({entry.future}, timeout=left)
                except asyncio.CancelledError:
                    continue
            done = entry.future.result()
        return done.outcome

    def _queue(self, entry: _Sent) -> None:
        self._buffer.append(entry)
        if not self._flushing:
            assert self._loop is not None
            self._flushing = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        """Send what was queued in this turn of the loop: one call per actor."""
        self._flushing = False
        batches: dict[_Slot, list[_Sent]] = {}
        waiting: list[_Sent] = []
        load: dict[_Slot, int] = {}
        for entry in self._buffer:
            if entry.future.done():
                continue
            live = entry.pool.live()
            if not live:
                if entry.pool.starting:
                    waiting.append(entry)  # a replacement is on its way
                else:
                    self._fail(entry, "no Ray worker of its pool is left")
                continue
            for s in live:
                load.setdefault(s, len(s.keys))
            slot = min(live, key=lambda s: load[s])
            load[slot] += 1
            batches.setdefault(slot, []).append(entry)
        self._buffer = waiting
        for slot, entries in batches.items():
            for entry in entries:
                entry.slot = slot
                slot.keys.add(entry.unit.key)
            slot.outbox += entries
            self._send(slot)

    def _send(self, slot: _Slot) -> None:
        """Send ``slot``'s outbox in one ``start`` call, unless one is on its way."""
        if slot.sending or not slot.outbox or not slot.alive:
            return
        entries, slot.outbox = slot.outbox, []
        for entry in entries:
            entry.tries += 1
        slot.sending = True
        ref = slot.handle.start.remote([e.unit for e in entries])
        self._spawn(self._sent(slot, ref))

    async def _sent(self, slot: _Slot, ref: Any) -> None:
        """Wait for a start call (its failure is the collector's to handle), then send what
        came meanwhile."""
        import ray

        try:
            await ref
        except ray.exceptions.RayError:
            pass
        finally:
            slot.sending = False
        self._send(slot)

    def _cancel_remote(self, entry: _Sent) -> None:
        assert entry.slot is not None
        slot = entry.slot
        if slot.alive:
            self._spawn(self._sent(slot, slot.handle.cancel.remote([entry.unit.key])))

    def _forget(self, entry: _Sent) -> None:
        self._entries.pop(entry.unit.key, None)
        if entry.slot is not None:
            entry.slot.keys.discard(entry.unit.key)
            if entry in entry.slot.outbox:
                entry.slot.outbox.remove(entry)
        if entry in self._buffer:
            self._buffer.remove(entry)

    def _fail(self, entry: _Sent, why: str) -> None:
        """End ``entry`` as an error result: its work could not be run."""
        last = f" (last: {entry.last_failure})" if entry.last_failure else ""
        outcome = entry.run.failed("worker", f"worker lost: {why}{last}")
        self._resolve(entry, Done(entry.unit.key, outcome))

    def _resolve(self, entry: _Sent, done: Done) -> None:
        self._forget(entry)
        if not entry.future.done():
            entry.future.set_result(done)

    async def _collect(self, slot: _Slot) -> None:
        """Hand back ``slot``'s outcomes as they end, until it dies or the run closes."""
        import ray

        while slot.alive:
            try:
                batch: list[Done] = await slot.handle.collect.remote(COLLECT_WAIT_S)
            except ray.exceptions.RayError as exc:
                if slot.alive:
                    await self._lost(slot, _reason(exc))
                return
            for done in batch:
                entry = self._entries.get(done.key)
                if entry is None or entry.slot is not slot:
                    continue  # given up on, or sent again after this actor looked dead
                outcome, scores = done.outcome, done.scores
                if done.files is not None and self.files_dir is not None:
                    try:
                        await asyncio.to_thread(self._write_files, entry.unit, done.files)
                    except OSError as exc:  # the result matters more than its files
                        log.warning(
                            "test %s: the agent's files could not be saved: %s",
                            entry.unit.test.id,
                            exc,
                        )
                        result = dataclasses.replace(
                            outcome.result, files_saved=None, files_left_out=0
                        )
                        outcome = Outcome(result, outcome.transcript)
                        scores = None  # judged on files the run directory does not have
                if scores is not None:
                    u = entry.unit
                    self.rule_scores[(u.agent_id, u.test.id, u.repeat)] = RuleScores(
                        outcome.result.response_text, scores
                    )
                self._resolve(entry, Done(done.key, outcome))

    def _write_files(self, unit: Unit, files: SavedFiles) -> None:
        """Write what a test left in the agent's home into the run directory (the driver is
        its only writer)."""
        assert self.files_dir is not None
        dest = self.files_dir(unit.agent_id, unit.test.id, unit.repeat)
        if dest.exists():  # an earlier, interrupted try
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        for name, data in files:
            parts = PurePosixPath(name).parts
            if not parts or PurePosixPath(name).is_absolute() or ".." in parts:
                continue  # the worker writes relative names only; never follow another
            target = dest.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)

    async def _lost(self, slot: _Slot, why: str) -> None:
        """``slot``'s actor died: send its tests elsewhere, start a replacement."""
        import ray

        slot.alive = False
        ray.kill(slot.handle, no_restart=True)  # a half-dead actor must not answer later
        failure = f"Ray worker pid {slot.pid} on {slot.node} died: {why}"
        log.warning("%s; its %d tests in flight go to another worker", failure, len(slot.keys))
        pool = slot.pool
        replace = pool.replacements < pool.size
        if replace:
            pool.replacements += 1
            pool.starting += 1
        for key in sorted(slot.keys):
            entry = self._entries.get(key)
            if entry is None or entry.future.done():
                continue
            entry.slot = None
            entry.last_failure = failure
            if entry.tries >= MAX_TRIES:
                self._fail(entry, f"it was sent {entry.tries} times")
            else:
                self._queue(entry)
        slot.keys.clear()
        slot.outbox.clear()
        if replace:
            try:
                new = await self._new_slot(pool, slot.index)
            except (EndpointError, ConfigError) as exc:
                log.warning("no replacement for the lost Ray worker: %s", exc)
            else:
                pool.slots.append(new)
            finally:
                pool.starting -= 1
            if self._buffer and not self._flushing:
                self._flushing = True
                assert self._loop is not None
                self._loop.call_soon(self._flush)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _slots(self) -> list[_Slot]:
        """Every actor started, live or not, pool by pool."""
        return [s for p in self._pools for s in p.slots]

    def describe(self) -> dict[str, Any]:
        """What runs the tests, for the manifest."""
        live = [s for s in self._slots() if s.alive]
        return {
            "name": "ray",
            "address": self.plan.base.benchmark.ray_address,
            "actors": len(live),
            "nodes": sorted({s.node for s in live}),
            "embedded_servers": len(self._embedded_urls),
        }

    def summary_line(self) -> str:
        """One line for the run's log."""
        d = self.describe()
        loops = sorted({s.loop for s in self._slots() if s.alive})
        where = d["address"] or "a local Ray instance"
        return (
            f"{d['actors']} actors in {len(self._pools)} pool(s) on {', '.join(d['nodes'])} "
            f"({where}; event loop in the actors: {', '.join(loops)})"
        )

    # -- closing ----------------------------------------------------------------------------

    async def _shutdown(self) -> None:
        """Stop every actor (and Ray itself, when the run started it); collect the breakers
        that opened on the actors."""
        import ray

        slots = self._slots()
        for slot in slots:
            if slot.collector is not None:
                slot.collector.cancel()
        live = [s for s in slots if s.alive]
        for slot in live:
            slot.alive = False
        reasons = await asyncio.gather(*(self._close_slot(s) for s in live), return_exceptions=True)
        for found in reasons:
            if isinstance(found, list):
                self.tripped.extend(r for r in found if r not in self.tripped)
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(
            *[s.collector for s in slots if s.collector is not None],
            *self._background,
            return_exceptions=True,
        )
        for entry in list(self._entries.values()):  # none is left after a run; never hang
            self._fail(entry, "the run ended before it came back")
        for host in self._hosts.values():
            host.cancel()
        await asyncio.gather(*self._hosts.values(), return_exceptions=True)
        await asyncio.gather(*(self._stop_host(h) for h in self._host_actors))
        self._host_actors.clear()
        joined, self._joined = self._joined, False
        if joined is not False:
            await asyncio.to_thread(ray.shutdown)
        if isinstance(joined, subprocess.Popen):
            await asyncio.to_thread(_stop_head, joined)

    async def _stop_host(self, host: Any) -> None:
        """Stop a node's embedded server, then its actor (killed, the server dies with it)."""
        import ray

        try:
            async with asyncio.timeout(CLOSE_WAIT_S * 2):
                await host.stop.remote()
        except (TimeoutError, ray.exceptions.RayError):
            pass
        ray.kill(host, no_restart=True)

    async def _close_slot(self, slot: _Slot) -> list[str]:
        import ray

        tripped: list[str] = []
        try:
            async with asyncio.timeout(CLOSE_WAIT_S):
                tripped = [
                    r for _, state, r in await slot.handle.tripped.remote() if state != "closed"
                ]
                await slot.handle.close.remote()
        except (TimeoutError, ray.exceptions.RayError):
            pass
        ray.kill(slot.handle, no_restart=True)
        return tripped


def _reason(exc: BaseException) -> str:
    """One line for why a Ray call failed (for an exception raised in an actor: that one)."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, Exception):
        exc = cause
    text = str(exc).strip().splitlines()
    first = next((line for line in text if line.strip()), type(exc).__name__)
    return redact.scrub(f"{type(exc).__name__}: {first.strip()}"[:300])


__all__ = ["RAY_MISSING", "RayExecutor", "Worker", "check_plan"]
