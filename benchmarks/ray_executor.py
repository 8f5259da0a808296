"""The Ray executor against the local one, in one run on one machine: CPU per test,
throughput and start-up against the mock server, then tests that burn CPU in the sandbox on
one Ray actor and on two; two tables.

    python benchmarks/ray_executor.py            # about 4 minutes on 2 cores
    python benchmarks/ray_executor.py --quick    # under 2 minutes: fewer tests

Every run is ``runner.py --base_config X --agent_config Y`` as a subprocess, as users run it,
against ``server.py`` (its own process); the base config says ``executor = "local"`` or
``executor = "ray"`` (a local Ray instance the run starts and stops) with ``ray_actors = N``.

CPU is that of every process of the run: ``runner.py`` (the driver) and all its descendants,
Ray's (the keeper, ``ray start``, the GCS, the raylet, its agents, the actors) and the
sandbox's. It is read from ``/proc`` every 50 ms: each process's own user + system time, kept
as last seen once it is gone, summed by role: the driver, the actors (Ray's workers,
``ray::Worker``), Ray's own processes, the sandbox (bwrap and the session's interpreter). A
parent's ``cutime`` cannot stand for the children that ended: Ray's raylet ignores SIGCHLD, so
the kernel drops its workers' CPU, and a sandbox's inner bwrap outlives the process that
collects it; ``wait4()`` on ``runner.py`` is printed too and misses the actors' CPU. What the
readings miss: a process that lived less than 50 ms, and what a process spent after its last
reading. The phases of a run:

- start-up: from the spawn of ``runner.py`` to the start of the first test (a test with tools
  starts its sandbox session before its first request) or the first completion request the
  server sees, whichever comes first: for Ray, the preflight, then the start of Ray's local
  instance and of the actors;
- the request phase: from there to the last completion in the journal (``timestamp`` +
  ``execution_time``); CPU per test is the CPU of this phase over the tests;
- the finish: from the last completion to the exit (scoring, summary, reports, stopping Ray).

1. At 64 and 256 tests in flight (``max_workers`` and the agent's ``max_concurrency``), the
   mock server at 200 ms, 8 tokens, streaming: throughput as in ``measurements.py``
   (completions per second over the steady part, against the ideal ``in flight / 0.2 s``) and
   CPU per test. As in ``run.py`` the server is pinned to the second CPU and the run (all its
   processes, Ray's included) to the first, so that both executors have one core; the Ray run
   is repeated unpinned (both cores, shared with the server). Also: the seconds with no test
   running at all, and the steady throughput of the tests started after the longest such gap.
2. CPU-bound tests: each test has the python tool; the mock server (``--code``) answers with a
   fenced python block (text protocol) that burns about 0.5 s of CPU in the sandbox (a loop,
   calibrated here), then, once it sees the code's output, with the answer. ``[sandbox]
   max_parallel`` is the number in flight (16), so that it is not the bound. Nothing is
   pinned. The wall time of the request phase with ``ray_actors = 1`` against
   ``ray_actors = 2``, and the local executor for reference.

Everything is written under one temporary directory (the runs' ``TMPDIR`` points there, so
that Ray's session folder and the actors' scratch folders are made there too), removed at the
end; every process started (the servers, the runs and so Ray) is stopped. Exit 1 when a run
failed (non-zero exit, a test not ok, or a CPU-bound test whose code did not run).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import (
    CLIENT_CPU,
    RUNNER,
    SERVER_CPU,
    Record,
    Server,
    median,
    steady_rate,
    write_llmbench_run,
)

LATENCY_S = 0.2
"""The mock server's latency in the throughput runs (time to first token; 8 tokens at once)."""
CODE_LATENCY_S = 0.05
"""The mock server's latency in the CPU-bound runs."""
CODE_CPU_S = 0.5
"""CPU seconds the code of a CPU-bound test burns."""
CODE_IN_FLIGHT = 16
"""Tests in flight in the CPU-bound runs (and ``[sandbox] max_parallel``)."""
SAMPLE_S = 0.05
ROLES = ("driver", "actors", "ray", "sandbox")
_TICK = 1 / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Plan:
    levels: tuple[tuple[int, int], ...]
    """(in flight, tests) of the throughput runs."""
    code_tests: int
    ray_actors: int
    """``ray_actors`` of the throughput runs."""


FULL = Plan(levels=((64, 2000), (256, 5120)), code_tests=48, ray_actors=2)
QUICK = Plan(levels=((64, 640), (256, 1280)), code_tests=16, ray_actors=2)


# -- CPU of a process tree, from /proc ------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    at: float
    """``time.time()``."""
    cpu: dict[str, float]
    """CPU seconds by role so far: the user + system time of every process of the tree seen
    up to now, as last seen (a process that ended counts with its last reading)."""

    @property
    def total(self) -> float:
        return sum(self.cpu.values())


def _role(cmdline: str) -> str | None:
    """A process's role from its command line (None: its parent's)."""
    if "bwrap" in cmdline or "repl.py" in cmdline or "llmbench/sandbox" in cmdline:
        return "sandbox"
    if cmdline.startswith("ray::IDLE"):
        return "ray"
    if cmdline.startswith("ray::Worker") or "default_worker.py" in cmdline:
        return "actors"
    return None


def _read_procs() -> dict[int, tuple[int, int, float, str]]:
    """Every process: pid -> (ppid, start time in ticks, own CPU s, command line)."""
    procs: dict[int, tuple[int, int, float, str]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="ascii", errors="replace") as fh:
                # after the command (which may hold spaces): state, ppid, ... utime (11),
                # stime (12), ... starttime (19)
                fields = fh.read().rpartition(")")[2].split()
            with open(f"/proc/{name}/cmdline", "rb") as fb:
                cmd = fb.read(300).replace(b"\0", b" ").decode("utf-8", "replace")
            entry = (int(fields[1]), int(fields[19]), (int(fields[11]) + int(fields[12])) * _TICK)
        except (OSError, IndexError, ValueError):
            continue
        procs[int(name)] = (*entry, cmd)
    return procs


class Sampler(threading.Thread):
    """Reads the CPU of ``root`` and of its descendants every :data:`SAMPLE_S` until
    :meth:`stop`.

    Each process's own user + system time is kept as last seen, so that one that ended still
    counts (its parent's ``cutime`` cannot stand for it: Ray's raylet does not collect its
    workers, a sandbox's inner bwrap outlives its parent). What this misses: a process that
    lived less than one interval, and what a process spent after its last reading.
    """

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.samples: list[Sample] = []
        self._seen: dict[tuple[int, int], tuple[str, float]] = {}
        """(pid, start time) -> (role, CPU s as last seen)."""
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self._sample()
            self._halt.wait(SAMPLE_S)
        self._sample()

    def _sample(self) -> None:
        procs = _read_procs()
        children: dict[int, list[int]] = {}
        for pid, (ppid, *_rest) in procs.items():
            children.setdefault(ppid, []).append(pid)
        stack = [(self.root, "driver")] if self.root in procs else []
        while stack:
            pid, inherited = stack.pop()
            _ppid, started, cpu, cmd = procs[pid]
            role = "driver" if pid == self.root else (_role(cmd) or inherited)
            self._seen[pid, started] = (role, cpu)
            below = "ray" if role == "driver" else role
            stack += [(child, below) for child in children.get(pid, [])]
        by_role = dict.fromkeys(ROLES, 0.0)
        for role, cpu in self._seen.values():
            by_role[role] += cpu
        self.samples.append(Sample(time.time(), by_role))

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def at(self, when: float) -> Sample | None:
        """The last sample taken at or before ``when``."""
        before = [s for s in self.samples if s.at <= when]
        return before[-1] if before else None


# -- one run --------------------------------------------------------------------------------


class RunFailed(Exception):
    """A run exited non-zero or not every test ended ok: its figures mean nothing."""


@dataclass(frozen=True)
class Run:
    """What one ``runner.py`` run did, and its phases."""

    label: str
    tests: int
    in_flight: int
    spawned_at: float
    """``time.time()`` just before the spawn."""
    exited_at: float
    cpu_wait4_s: float
    """User + system CPU of ``runner.py`` and of the descendants it (and they) collected."""
    first_completion_at: float
    """The server's first completion request (its ``time.time()``)."""
    records: list[Record]
    sampler: Sampler

    @property
    def first_start(self) -> float:
        """The start of the request phase: the first test's start or the first completion
        request, whichever came first (a test with tools starts its sandbox session before
        its first request)."""
        return min(self.first_completion_at, min(r.start for r in self.records))

    def cpu(self, when: float) -> Sample:
        found = self.sampler.at(when)
        if found is None:
            raise RunFailed(f"{self.label}: no CPU reading before {when}")
        return found

    @property
    def last_end(self) -> float:
        return max(r.end for r in self.records)

    @property
    def startup_s(self) -> float:
        return self.first_start - self.spawned_at

    @property
    def startup_cpu_s(self) -> float:
        return self.cpu(self.first_start).total

    @property
    def request_s(self) -> float:
        return self.last_end - self.first_start

    def request_cpu(self) -> dict[str, float]:
        """CPU seconds of the request phase by role, and ``"all"``."""
        a, b = self.cpu(self.first_start), self.cpu(self.last_end)
        spent = {role: b.cpu[role] - a.cpu[role] for role in ROLES}
        return {**spent, "all": b.total - a.total}

    @property
    def finish_s(self) -> float:
        return self.exited_at - self.last_end

    @property
    def whole_cpu_s(self) -> float:
        return self.sampler.samples[-1].total

    @property
    def finish_cpu_s(self) -> float:
        return self.whole_cpu_s - self.cpu(self.last_end).total

    @property
    def tests_per_s(self) -> float:
        """Tests over the request phase."""
        return self.tests / self.request_s

    @property
    def mean_in_flight(self) -> float:
        """Tests running on average over the request phase (their latencies over its span)."""
        return sum(r.end - r.start for r in self.records) / self.request_s

    def idle(self) -> tuple[float, float, float]:
        """Seconds of the request phase with no test running; the longest such gap and when
        it ended."""
        spans = sorted((r.start, r.end) for r in self.records)
        idle, longest, ended = 0.0, 0.0, spans[0][0]
        reach = spans[0][1]
        for start, end in spans[1:]:
            if start > reach:
                idle += start - reach
                if start - reach > longest:
                    longest, ended = start - reach, start
            reach = max(reach, end)
        return idle, longest, ended

    def steady_share(self, after_gap: bool = False) -> float | None:
        """Completions per second over the steady part (``measurements.py``'s figure), as a
        share of in flight / latency; ``after_gap``: of the tests started after the longest
        gap with no test running."""
        _, longest, ended = self.idle()
        after = after_gap and longest > 0.1  # a gap that long is no wave's jitter
        records = [r for r in self.records if r.start >= ended] if after else self.records
        rate = steady_rate(records, self.in_flight)
        return None if rate is None else rate / (self.in_flight / LATENCY_S)


def _pin_to_client_cpu() -> None:
    if CLIENT_CPU is not None:
        os.sched_setaffinity(0, {CLIENT_CPU})


def run_llmbench(
    label: str,
    workdir: Path,
    server: Server,
    configs: tuple[Path, Path],
    *,
    tests: int,
    in_flight: int,
    tmpdir: Path,
    pin: bool,
) -> tuple[Run, list[dict[str, Any]]]:
    """``runner.py`` on ``configs`` (base, agent): the run and its journal's entries. Raises
    RunFailed unless it exited 0 with every test ok."""
    print(f"  {label}, {tests} tests ...", file=sys.stderr, flush=True)
    server.control(reset=True)
    base, agent = configs
    with open(workdir / "runner.stderr", "w+", encoding="utf-8") as err:
        spawned_at = time.time()
        proc = subprocess.Popen(
            [sys.executable, str(RUNNER), f"--base_config={base}", f"--agent_config={agent}"],
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env={**os.environ, "TMPDIR": str(tmpdir)},
            preexec_fn=_pin_to_client_cpu if pin else None,
        )
        sampler = Sampler(proc.pid)
        sampler.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.terminate()  # Ctrl-C: the driver stops its Ray instance on SIGTERM
            proc.wait(60)
            raise
        finally:
            sampler.stop()
        exited_at = time.time()
        proc.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait again
        err.seek(0)
        tail = err.read().strip().splitlines()[-3:]
    first = server.stats()["first_completion_at"]
    journal = sorted((workdir / "results").glob("*/results.jsonl"))
    entries: list[dict[str, Any]] = []
    if journal:
        with open(journal[-1], encoding="utf-8") as fh:
            entries = [json.loads(line) for line in fh if line.strip()]
    ok = [e for e in entries if e["status"] == "ok"]
    if proc.returncode != 0 or len(ok) != tests or first is None:
        raise RunFailed(
            f"{label}: exit {proc.returncode}, {len(ok)} of {tests} tests ok; "
            + (" | ".join(tail) or "nothing on stderr")
        )
    records = []
    for e in entries:
        start = datetime.fromisoformat(e["timestamp"]).timestamp()
        records.append(Record(start, start + e["execution_time"], True, None, None))
    cpu = usage.ru_utime + usage.ru_stime
    return Run(
        label, tests, in_flight, spawned_at, exited_at, cpu, first, records, sampler
    ), entries


def executor_settings(executor: str, actors: int) -> str:
    """The ``[benchmark]`` lines that choose the executor."""
    return f'executor = "{executor}"\n' + (f"ray_actors = {actors}\n" if executor == "ray" else "")


# -- 1. throughput and CPU per test ---------------------------------------------------------

THROUGHPUT_RUNS = (
    ("local", "local", True),
    ("ray", "ray", True),
    ("ray, unpinned", "ray", False),
)
"""(column, executor, pinned to one core)."""


def throughput_runs(plan: Plan, tmp: Path) -> dict[tuple[int, str], Run]:
    runs: dict[tuple[int, str], Run] = {}
    for k, n in plan.levels:
        with Server(ttft_s=LATENCY_S, tokens=8) as server:
            for column, executor, pin in THROUGHPUT_RUNS:
                workdir = tmp / f"throughput-{k}-{column.replace(', ', '-')}"
                configs = write_llmbench_run(
                    workdir, server, tests=n, in_flight=k, max_concurrency=k
                )
                with open(configs[0], "a", encoding="utf-8") as fh:
                    fh.write(executor_settings(executor, plan.ray_actors))
                runs[k, column] = run_llmbench(
                    f"{column} at {k} in flight",
                    workdir,
                    server,
                    configs,
                    tests=n,
                    in_flight=k,
                    tmpdir=tmp,
                    pin=pin,
                )[0]
    return runs


# -- 2. CPU-bound tests ---------------------------------------------------------------------


def _quiet(*_args: object) -> None:
    """``print`` while the loop is timed."""


def burn_code(cpu_s: float) -> str:
    """Python code that burns about ``cpu_s`` CPU seconds (a loop at the top level, calibrated
    here on this interpreter, which the sandbox runs too) and prints a line."""

    def code(loops: int) -> str:
        return f"n = 0\nfor i in range({loops}):\n    n += i\nprint('burned', n)"

    def timed(loops: int) -> float:
        compiled = compile(code(loops), "<burn>", "exec")
        start = time.process_time()
        exec(compiled, {"print": _quiet})  # our loop, at the top level as the sandbox runs it
        return time.process_time() - start

    loops = 100_000
    while timed(loops) < 0.1:
        loops *= 2
    spent = min(timed(loops) for _ in range(3))  # the least disturbed of three
    return code(int(loops * cpu_s / spent))


def write_code_run(
    workdir: Path, server: Server, *, tests: int, executor: str, actors: int
) -> tuple[Path, Path]:
    """A suite of ``tests`` tests with the python tool, a base config (``[sandbox]
    max_parallel`` = :data:`CODE_IN_FLIGHT`) and a text-protocol agent on ``server``."""
    workdir.mkdir(parents=True)
    suite = [
        {
            "id": f"c{i:04d}",
            "name": f"cpu {i}",
            "category": "cpu",
            "prompt": "Compute it with the python tool.",
            "expected": "tok",
            "tools": ["python"],
        }
        for i in range(tests)
    ]
    (workdir / "suite.json").write_text(
        json.dumps({"suite_info": {"name": "cpu"}, "tests": suite}), encoding="utf-8"
    )
    base = workdir / "base_config.toml"
    base.write_text(
        "[benchmark]\n"
        'test_suite = "suite.json"\n'
        'results_dir = "results"\n'
        f"max_workers = {CODE_IN_FLIGHT}\n"
        + executor_settings(executor, actors)
        + f"\n[sandbox]\nmax_parallel = {CODE_IN_FLIGHT}\n",
        encoding="utf-8",
    )
    agent = workdir / "coder.toml"
    agent.write_text(
        'id = "coder"\n'
        f'endpoint = "{server.url}/v1"\n'
        'model = "bench-model"\n'
        "retry_attempts = 0\n"
        f"max_concurrency = {CODE_IN_FLIGHT}\n"
        'tool_protocol = "text"\n',
        encoding="utf-8",
    )
    return base, agent


CODE_RUNS = (("local", "local", 0), ("ray, 1 actor", "ray", 1), ("ray, 2 actors", "ray", 2))
"""(column, executor, ray_actors)."""


def code_runs(plan: Plan, tmp: Path, code: str) -> dict[str, Run]:
    server = Server(ttft_s=CODE_LATENCY_S, tokens=8)
    server.args = [a for a in server.args if not a.startswith("--cpu")] + [f"--code={code}"]
    runs: dict[str, Run] = {}
    with server:
        for column, executor, actors in CODE_RUNS:
            workdir = tmp / f"code-{executor}-{actors}"
            configs = write_code_run(
                workdir, server, tests=plan.code_tests, executor=executor, actors=actors
            )
            run, entries = run_llmbench(
                f"CPU-bound, {column}",
                workdir,
                server,
                configs,
                tests=plan.code_tests,
                in_flight=CODE_IN_FLIGHT,
                tmpdir=tmp,
                pin=False,
            )
            ran = [e for e in entries if e.get("tool_calls") == 1 and "burned" in str(e)]
            if len(ran) != plan.code_tests:
                raise RunFailed(f"{column}: the code ran in {len(ran)} of {plan.code_tests} tests")
            runs[column] = run
    return runs


# -- the tables -----------------------------------------------------------------------------


def _f(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _pct(value: float | None) -> float | None:
    return None if value is None else value * 100


def throughput_table(plan: Plan, runs: dict[tuple[int, str], Run]) -> list[str]:
    columns = [c for c, _, _ in THROUGHPUT_RUNS]
    lines = [
        f"| figure | in flight | {' | '.join(columns)} | ray / local |",
        "|---|---|" + "---|" * (len(columns) + 1),
    ]
    level = [0]

    def row(label: str, values: Sequence[float | None], digits: int) -> None:
        lo, ra = values[0], values[1]
        # a ratio to a figure that rounds to zero says nothing
        ratio = f"{ra / lo:.2f}x" if lo and round(lo, digits) and ra is not None else "-"
        cells = " | ".join(_f(v, digits) for v in values)
        lines.append(f"| {label} | {level[0]} | {cells} | {ratio} |")

    for k, n in plan.levels:
        level[0] = k
        at = [runs[k, c] for c in columns]
        cpu = [r.request_cpu() for r in at]
        row(f"request phase ({n} tests): tests/s", [r.tests_per_s for r in at], 1)
        ideal = k / LATENCY_S
        row(
            f"steady throughput, % of ideal ({ideal:,.0f}/s)",
            [_pct(r.steady_share()) for r in at],
            1,
        )
        row(
            "  the same, of the tests started after the longest idle gap",
            [_pct(r.steady_share(after_gap=True)) for r in at],
            1,
        )
        row("tests running, mean (latencies / request phase)", [r.mean_in_flight for r in at], 0)
        row("no test running (idle gaps), s", [r.idle()[0] for r in at], 2)
        row(
            "median latency of a test, ms",
            [(median([x.end - x.start for x in r.records]) or 0) * 1000 for r in at],
            0,
        )
        row("CPU per test in the request phase, ms", [c["all"] / n * 1000 for c in cpu], 3)
        for role, what in (
            ("driver", "the driver (runner.py)"),
            ("actors", "the actors"),
            ("ray", "Ray's own processes"),
        ):
            row(f"  of which {what}", [c[role] / n * 1000 for c in cpu], 3)
        row(
            "CPU busy in the request phase, % of a core",
            [c["all"] / r.request_s * 100 for r, c in zip(at, cpu, strict=True)],
            0,
        )
        row("start-up: spawn to first request of a test, s", [r.startup_s for r in at], 2)
        row("  CPU in it, s", [r.startup_cpu_s for r in at], 2)
        row("finish: last completion to exit, s", [r.finish_s for r in at], 2)
        row("  CPU in it, s", [r.finish_cpu_s for r in at], 2)
        row("whole run: wall, s", [r.exited_at - r.spawned_at for r in at], 2)
        row("  CPU, s", [r.whole_cpu_s for r in at], 2)
        row("  CPU, s, as wait4() on runner.py sees it", [r.cpu_wait4_s for r in at], 2)
    return lines


def code_table(runs: dict[str, Run]) -> list[str]:
    columns = list(runs)
    lines = [f"| figure | {' | '.join(columns)} |", "|---|" + "---|" * len(columns)]

    def row(label: str, values: Sequence[float | None], digits: int) -> None:
        lines.append(f"| {label} | {' | '.join(_f(v, digits) for v in values)} |")

    at = list(runs.values())
    n = at[0].tests
    cpu = [r.request_cpu() for r in at]
    row("request phase, wall s", [r.request_s for r in at], 2)
    row("tests/s", [r.tests_per_s for r in at], 2)
    row("CPU per test in the request phase, s", [c["all"] / n for c in cpu], 3)
    row("  of which the sandbox (sessions and code), s", [c["sandbox"] / n for c in cpu], 3)
    row("  of which the driver, ms", [c["driver"] / n * 1000 for c in cpu], 1)
    row("  of which the actors, ms", [c["actors"] / n * 1000 for c in cpu], 1)
    row("  of which Ray's own processes, ms", [c["ray"] / n * 1000 for c in cpu], 1)
    row(
        "cores busy in the request phase",
        [c["all"] / r.request_s for r, c in zip(at, cpu, strict=True)],
        2,
    )
    row("start-up, s", [r.startup_s for r in at], 2)
    row("finish, s", [r.finish_s for r in at], 2)
    row("whole run, wall s", [r.exited_at - r.spawned_at for r in at], 2)
    return lines


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer tests")
    parser.add_argument(
        "--only", choices=("throughput", "cpu-bound"), help="one of the two parts (default both)"
    )
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    started = time.perf_counter()
    code = burn_code(CODE_CPU_S)
    allowed = os.sched_getaffinity(0)
    # a short path: Ray's sockets live under TMPDIR and a socket's path has at most 107 bytes
    tmp = Path(tempfile.mkdtemp(prefix="rayb-"))
    try:
        print("1. throughput and CPU per test", file=sys.stderr, flush=True)
        if SERVER_CPU is not None:  # the sampler beside the server, off the run's core
            os.sched_setaffinity(0, {SERVER_CPU})
        tput = throughput_runs(plan, tmp) if args.only != "cpu-bound" else {}
        os.sched_setaffinity(0, allowed)
        print("2. CPU-bound tests", file=sys.stderr, flush=True)
        cpu_bound = code_runs(plan, tmp, code) if args.only != "throughput" else {}
    except RunFailed as exc:
        print(f"a run failed: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"{datetime.now().date()}, {len(allowed)} CPUs, Python {platform.python_version()}, "
        f"Ray {_version('ray')}, "
        f"{'quick' if args.quick else 'full'} run, {time.perf_counter() - started:.0f} s\n"
    )
    if tput:
        print(
            f"1. mock server at {LATENCY_S * 1000:.0f} ms, 8 tokens, streaming; in flight = "
            f"max_workers = max_concurrency; ray_actors = {plan.ray_actors}; the server pinned "
            f"to CPU {SERVER_CPU}, the run (every process of it) to CPU {CLIENT_CPU}, but for "
            '"ray, unpinned"\n'
        )
        print("\n".join(throughput_table(plan, tput)))
    if not cpu_bound:
        return 0
    loop = code.splitlines()[1].rstrip(":")
    print(
        f"\n2. CPU-bound: {plan.code_tests} tests, each one code call burning {CODE_CPU_S} s of "
        f"CPU in the sandbox ({loop}: n += i), {CODE_IN_FLIGHT} in flight, [sandbox] "
        f"max_parallel = {CODE_IN_FLIGHT}, mock server at {CODE_LATENCY_S * 1000:.0f} ms; "
        "nothing pinned\n"
    )
    print("\n".join(code_table(cpu_bound)))
    one, two, local = (cpu_bound[c].request_s for c in ("ray, 1 actor", "ray, 2 actors", "local"))
    print(
        f"\nrequest phase, speed-up from 1 actor to 2: {one / two:.2f}x; "
        f"local against ray with 2 actors: {local / two:.2f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
