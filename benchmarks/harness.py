"""The pieces every measurement uses: the mock server process, the two clients run as child
processes (their CPU time and peak RSS from ``wait4``), llmbench run configs, and the records
each client leaves behind.

Processes are pinned when the machine has two CPUs or more: the server on the second, the
client under test on the first, so neither steals the other's core.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RUNNER = REPO / "runner.py"
PROMPT = "What is 2 + 3?"


def _cpus() -> tuple[int | None, int | None]:
    """(client CPU, server CPU), or Nones when there are not two CPUs to give them."""
    if not hasattr(os, "sched_getaffinity"):
        return None, None
    allowed = sorted(os.sched_getaffinity(0))
    return (allowed[0], allowed[1]) if len(allowed) >= 2 else (None, None)


CLIENT_CPU, SERVER_CPU = _cpus()


# -- the mock server ------------------------------------------------------------------------


class Server:
    """``benchmarks/server.py`` in its own process; use as a context manager."""

    def __init__(
        self, *, ttft_s: float = 0.0, tokens: int = 8, token_interval_s: float = 0.0, slots: int = 0
    ) -> None:
        self.args = [
            f"--ttft={ttft_s}",
            f"--tokens={tokens}",
            f"--token-interval={token_interval_s}",
            f"--slots={slots}",
        ]
        if SERVER_CPU is not None:
            self.args.append(f"--cpu={SERVER_CPU}")
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0

    def __enter__(self) -> Server:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "server.py"), *self.args],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("port "):
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"the mock server did not start (said {line!r})")
        self.port = int(line.split()[1])
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            if self.proc.stdout is not None:
                self.proc.stdout.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stats(self) -> dict[str, Any]:
        """``GET /stats``."""
        with urllib.request.urlopen(self.url + "/stats", timeout=10) as resp:
            data: dict[str, Any] = json.load(resp)
        return data

    def control(self, **settings: Any) -> None:
        """``POST /control``: ``slots=n``, ``reset=True``."""
        request = urllib.request.Request(
            self.url + "/control",
            data=json.dumps(settings).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            resp.read()


# -- child processes ------------------------------------------------------------------------


@dataclass(frozen=True)
class ChildRun:
    """How a client process ran."""

    exit_code: int
    cpu_s: float
    """User + system CPU seconds of the process (and of any children it waited for)."""
    peak_rss_kb: int
    wall_s: float
    spawned_at: float
    """``time.time()`` just before the process was started."""
    stderr_tail: str
    cpu_samples: tuple[tuple[float, float], ...] = ()
    """``(time.time(), CPU seconds so far)`` every few tens of milliseconds while it ran."""

    def cpu_at(self, when: float) -> float | None:
        """CPU seconds the process had used at ``when`` (the last sample before it)."""
        before = [cpu for at, cpu in self.cpu_samples if at <= when]
        return before[-1] if before else None


def _pin_to_client_cpu() -> None:
    if CLIENT_CPU is not None:
        os.sched_setaffinity(0, {CLIENT_CPU})


def run_child(
    cmd: Sequence[str],
    cwd: Path,
    *,
    while_running: Callable[[subprocess.Popen[bytes]], None] | None = None,
    timeout_s: float = 1800,
    env: Mapping[str, str] | None = None,
) -> ChildRun:
    """Run ``cmd`` pinned to the client CPU; its resource use comes from ``wait4``.

    ``while_running(proc)``, when given, is called once after the start (it may poll and
    return); the process is then waited for.
    """
    stderr_path = cwd / f".stderr-{time.monotonic_ns()}"
    with open(stderr_path, "w+", encoding="utf-8") as err:
        spawned_at = time.time()
        started = time.perf_counter()
        proc = subprocess.Popen(
            list(cmd),
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=err,
            preexec_fn=_pin_to_client_cpu,
            env=None if env is None else {**os.environ, **env},
        )
        if while_running is not None:
            while_running(proc)
        status, usage, samples = _wait4(proc, timeout_s)
        wall_s = time.perf_counter() - started
        tail = _tail(err)
    stderr_path.unlink()
    return ChildRun(
        exit_code=os.waitstatus_to_exitcode(status),
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_kb=usage.ru_maxrss,
        wall_s=wall_s,
        spawned_at=spawned_at,
        stderr_tail=tail,
        cpu_samples=tuple(samples),
    )


_TICK_S = 1 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0.01


def _wait4(
    proc: subprocess.Popen[bytes], timeout_s: float
) -> tuple[int, Any, list[tuple[float, float]]]:
    """Wait for ``proc``; its status and rusage, and CPU samples from /proc on the way."""
    deadline = time.monotonic() + timeout_s
    samples: list[tuple[float, float]] = []
    stat = f"/proc/{proc.pid}/stat"
    while True:
        try:
            with open(stat, encoding="ascii") as fh:
                # utime and stime are fields 14 and 15; the command name may hold spaces
                fields = fh.read().rpartition(")")[2].split()
            samples.append((time.time(), (int(fields[11]) + int(fields[12])) * _TICK_S))
        except (OSError, IndexError, ValueError):
            pass
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait again
            return status, usage, samples
        if time.monotonic() > deadline:
            proc.kill()
        time.sleep(0.05)


def _tail(fh: IO[str], lines: int = 5) -> str:
    fh.seek(0)
    return "\n".join(fh.read().splitlines()[-lines:])


# -- the two clients ------------------------------------------------------------------------


class RunFailed(Exception):
    """A client exited non-zero or some of its requests failed: its figures mean nothing."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _checked(name: str, run: ClientRun, tests: int) -> ClientRun:
    if run.child.exit_code != 0 or run.errors or len(run.records) != tests:
        last = run.child.stderr_tail.splitlines()[-1:] or ["no output on stderr"]
        raise RunFailed(
            f"{name}: exit {run.child.exit_code}, {len(run.records)} of {tests} results, "
            f"{run.errors} failed; {last[0]}",
            run.child.exit_code,
        )
    return run


@dataclass(frozen=True)
class Record:
    """One request as a client recorded it."""

    start: float
    """``time.time()`` when it was sent."""
    end: float
    ok: bool
    ttft_s: float | None
    tokens_per_s: float | None


@dataclass(frozen=True)
class ClientRun:
    """A client's process figures and its records."""

    child: ChildRun
    records: list[Record]
    first_request_at: float | None = None
    summary: dict[str, Any] | None = None
    """llmbench's summary.json (None for the reference)."""

    @property
    def errors(self) -> int:
        return sum(not r.ok for r in self.records)


def run_reference(
    server: Server,
    workdir: Path,
    *,
    tests: int,
    in_flight: int,
    stream: bool = True,
    uvloop: bool = False,
) -> ClientRun:
    """``reference_client.py``: ``tests`` requests, ``in_flight`` at a time (whole answers
    without ``stream``; on uvloop with ``uvloop``)."""
    out = workdir / f"reference-{time.monotonic_ns()}.json"
    child = run_child(
        [
            sys.executable,
            str(HERE / "reference_client.py"),
            f"--url={server.url}/v1/chat/completions",
            f"--requests={tests}",
            f"--in-flight={in_flight}",
            f"--prompt={PROMPT}",
            f"--out={out}",
            *([] if stream else ["--no-stream"]),
            *(["--uvloop"] if uvloop else []),
        ],
        workdir,
    )
    data = json.loads(out.read_text(encoding="utf-8"))
    out.unlink()
    records = [Record(s, e, ok, t, r) for s, e, t, r, ok in data["records"]]
    return _checked("reference", ClientRun(child, records, data["first_request_at"]), tests)


def write_llmbench_run(
    workdir: Path,
    server: Server,
    *,
    tests: int,
    in_flight: int,
    max_concurrency: int | str,
    agents: int = 1,
    stream: bool = True,
) -> tuple[Path, Path]:
    """A suite of ``tests`` one-prompt tests, a base config and ``agents`` agents on ``server``.

    Returns (base config, agent config: a file for one agent, else a directory).
    ``max_workers`` is ``in_flight``.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    suite = workdir / "suite.json"
    with open(suite, "w", encoding="utf-8") as fh:
        fh.write('{"suite_info": {"name": "bench"}, "tests": [\n')
        for i in range(tests):
            test = {
                "id": f"t{i:06d}",
                "name": f"test {i}",
                "category": "bench",
                "prompt": PROMPT,
                "expected": "5",
            }
            fh.write(("," if i else "") + json.dumps(test) + "\n")
        fh.write("]}\n")
    base = workdir / "base_config.toml"
    base.write_text(
        "[benchmark]\n"
        'test_suite = "suite.json"\n'
        'results_dir = "results"\n'
        f"max_workers = {in_flight}\n",
        encoding="utf-8",
    )
    concurrency = f'"{max_concurrency}"' if isinstance(max_concurrency, str) else max_concurrency
    directory = workdir / "agents"
    directory.mkdir(exist_ok=True)
    for n in range(agents):
        (directory / f"bench{n or ''}.toml").write_text(
            f'id = "bench{n or ""}"\n'
            f'endpoint = "{server.url}/v1"\n'
            'model = "bench-model"\n'
            "retry_attempts = 0\n"
            f"max_concurrency = {concurrency}\n"
            f"stream = {str(stream).lower()}\n",
            encoding="utf-8",
        )
    return base, (directory / "bench.toml" if agents == 1 else directory)


def run_llmbench(
    server: Server,
    workdir: Path,
    *,
    tests: int,
    in_flight: int,
    max_concurrency: int | str | None = None,
    while_running: Callable[[subprocess.Popen[bytes]], None] | None = None,
    agents: int = 1,
    env: Mapping[str, str] | None = None,
    stream: bool = True,
) -> ClientRun:
    """``runner.py --base_config X --agent_config Y`` as users run it, on a fresh suite.

    Raises :class:`RunFailed` unless it exited 0 with every test ``ok``.
    """
    base, agent = write_llmbench_run(
        workdir,
        server,
        tests=tests,
        in_flight=in_flight,
        max_concurrency=in_flight if max_concurrency is None else max_concurrency,
        agents=agents,
        stream=stream,
    )
    cmd = [sys.executable, str(RUNNER), f"--base_config={base}", f"--agent_config={agent}"]
    child = run_child(cmd, workdir, while_running=while_running, env=env)
    run_dirs = sorted((workdir / "results").glob("*/results.jsonl"))
    if not run_dirs:
        return _checked("llmbench", ClientRun(child, []), tests)
    run_dir = run_dirs[-1].parent
    records = list(read_journal(run_dir / "results.jsonl"))
    summary_path = run_dir / "summary.json"
    summary = json.loads(summary_path.read_text("utf-8")) if summary_path.exists() else None
    return _checked("llmbench", ClientRun(child, records, summary=summary), tests * agents)


def read_journal(path: Path) -> Iterator[Record]:
    """The records of an llmbench journal, one per line: start from ``timestamp`` (ISO, ms),
    end = start + ``execution_time``."""
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            entry = json.loads(line)
            start = datetime.fromisoformat(entry["timestamp"]).timestamp()
            yield Record(
                start,
                start + entry["execution_time"],
                entry["status"] == "ok",
                entry.get("time_to_first_token"),
                entry.get("tokens_per_second"),
            )


# -- figures --------------------------------------------------------------------------------


def steady_rate(records: Sequence[Record], in_flight: int) -> float | None:
    """Completions per second over the steady part of a run.

    The window starts at the completion of rank 10% and spans a whole number of
    ``in_flight`` completions (about 80% of them): in a closed loop the completions come in
    waves of ``in_flight``, and a window holding whole waves counts each wave once.
    """
    ends = sorted(r.end for r in records)
    n = len(ends)
    i = n // 10
    waves = (n - 1 - i) // in_flight
    if waves < 1:
        return None
    waves = max(1, min(waves, round(0.8 * n / in_flight)))
    j = i + waves * in_flight
    span = ends[j] - ends[i]
    return (j - i) / span if span > 0 else None


def median(values: Sequence[float | None]) -> float | None:
    known = sorted(v for v in values if v is not None)
    if not known:
        return None
    mid = len(known) // 2
    return known[mid] if len(known) % 2 else (known[mid - 1] + known[mid]) / 2
