"""The measurements of issue 6, each run with llmbench and with the reference client in the
same run, each giving rows of the table (see ``run.py``)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    REPO,
    ClientRun,
    Record,
    RunFailed,
    Server,
    median,
    run_llmbench,
    run_reference,
    steady_rate,
)

LATENCY_S = 0.2
"""The server latency of the throughput measurements."""
TARGET_CPU_RATIO = 1.3
"""llmbench's CPU per test over the minimal streaming client's, at most (issue 14; issue 6
asked for 2x)."""
HEAVY_MODULES = ("pandas", "numpy", "scipy", "matplotlib", "plotly", "jinja2", "llama_cpp")
"""Modules ``import llmbench`` must not load (reports, notebooks, the embedded model)."""

# The quick run's gates: far enough from today's figures that timing noise on two busy cores
# never trips them, so that only a gross regression does (the full run checks the targets
# themselves). Each is relative to the reference client measured in the same run (so that a
# machine that is slow for both clients trips nothing), except the accuracy errors, which are
# shares of the quantity measured, and RSS growth, which is a count of bytes. A gate that could
# not measure fails. Set 2026-12-03 from two quick runs that day (and 2026-11-21's, CPU up to 4x
# while other jobs loaded both cores): CPU 1.5x the reference, throughput 96-99% of ideal and
# 0.99-1.01x the reference (streaming and not), RSS growth 2.05-2.35 KB per test (the 200 ->
# 1,000 difference is a few MB, the allocator's granularity), start-up 0.36-0.40 s (2.1x the
# reference), TTFT and tokens/s within 1%, "auto" 1.00-1.01 of fixed 16. Each gate leaves room
# for about twice today's noise, and trips on a regression of 2x or more.
GATE_CPU_RATIO = 5.0
GATE_THROUGHPUT_RATIO = 0.85
"""llmbench's share of the ideal throughput over the reference's, at least."""
GATE_RSS_KB_PER_TEST = 8.0
GATE_STARTUP_RATIO = 5.0
"""llmbench's start-up (best of STARTUP_TRIES) over the reference's, at most."""
STARTUP_TRIES = 3
GATE_ACCURACY_PCT = 10.0
GATE_AUTO_SHARE = 0.85


@dataclass(frozen=True)
class Plan:
    """How big each measurement is: the full run, or the quick one CI runs."""

    quick: bool
    sweep: tuple[int, ...]
    """Test counts of the zero-latency runs: CPU from the first two, RSS growth from the last
    two."""
    sweep_in_flight: int
    reference_repeats: int
    """Reference runs per sweep size (the one with the least CPU is kept)."""
    levels: tuple[int, ...]
    throughput_tests: Callable[[int], int]
    accuracy_in_flight: int
    accuracy_tests: int
    auto_slots: int
    auto_fixed: tuple[int, ...]
    auto_tests: int


FULL = Plan(
    quick=False,
    sweep=(1000, 10_000, 100_000),
    sweep_in_flight=64,
    reference_repeats=2,
    levels=(8, 64, 256, 1024),
    throughput_tests=lambda k: max(1000, 10 * k),
    accuracy_in_flight=256,
    accuracy_tests=1024,
    auto_slots=16,
    auto_fixed=(8, 16, 32, 64),
    auto_tests=640,
)
QUICK = Plan(
    quick=True,
    sweep=(200, 1000),
    sweep_in_flight=64,
    reference_repeats=3,
    levels=(8, 64),
    throughput_tests=lambda k: max(64, 6 * k),
    accuracy_in_flight=64,
    accuracy_tests=128,
    auto_slots=16,
    auto_fixed=(16,),
    auto_tests=240,
)


@dataclass
class Row:
    """One line of the table."""

    figure: str
    llmbench: str
    reference: str = "-"
    ratio: str = "-"
    target: str = "-"
    passed: bool | None = None
    """Against the issue's target; None when there is no target or no figure yet."""
    gate: str = "-"
    """The quick run's regression threshold (loose: catches gross regressions, not noise)."""
    gate_passed: bool | None = None
    notes: list[str] = field(default_factory=list)


def _fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _at_most(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


def _at_least(value: float | None, limit: float) -> bool | None:
    return None if value is None else value >= limit


def _server_busy(server: Server) -> float | None:
    """The share of its core the server used since its last reset, from its first request
    to its last completion."""
    stats = server.stats()
    first, last = stats["first_request_at"], stats["last_done_at"]
    return float(stats["cpu_s"]) / (last - first) if first and last and last > first else None


# -- 1. CPU and 3. memory -------------------------------------------------------------------


def cpu_and_memory(plan: Plan, tmp: Path) -> list[Row]:
    """Against a zero-latency streaming server, ``in_flight`` 64, at each size of the sweep:
    the marginal client CPU per test between the two smallest sizes, split at the last
    completion into the request phase and the finish (scoring, summary, reports), and the
    peak RSS at every size with its growth per test between the two largest."""
    runs: dict[tuple[str, int], ClientRun] = {}
    with Server(ttft_s=0.0, tokens=8) as server:
        for n in plan.sweep:
            # the reference's marginal CPU is small beside the noise of its start-up on a busy
            # machine: its least CPU-hungry of a few runs stands for it
            ref = min(
                (
                    run_reference(server, tmp, tests=n, in_flight=plan.sweep_in_flight)
                    for _ in range(plan.reference_repeats)
                ),
                key=lambda run: run.child.cpu_s,
            )
            lb = run_llmbench(server, tmp / f"sweep-{n}", tests=n, in_flight=plan.sweep_in_flight)
            runs["reference", n], runs["llmbench", n] = ref, lb
    return _cpu_rows(plan, runs) + _memory_rows(plan, runs)


def _cpu_rows(plan: Plan, runs: dict[tuple[str, int], ClientRun]) -> list[Row]:
    n1, n2 = plan.sweep[0], plan.sweep[1]
    clients = ("llmbench", "reference")
    per_test = {c: (runs[c, n2].child.cpu_s - runs[c, n1].child.cpu_s) / (n2 - n1) for c in clients}
    fixed = {c: runs[c, n1].child.cpu_s - per_test[c] * n1 for c in clients}
    phase = {
        c: _slope(_request_cpu(runs[c, n1]), _request_cpu(runs[c, n2]), n1, n2) for c in clients
    }
    ratio = _ratio(per_test["llmbench"], per_test["reference"])
    finish = {c: None if (p := phase[c]) is None else per_test[c] - p for c in clients}
    k = plan.sweep_in_flight
    return [
        Row(
            f"client CPU per test, ms (marginal {n1}->{n2} tests, {k} in flight, 0 ms server)",
            _fmt(per_test["llmbench"] * 1000, 3),
            _fmt(per_test["reference"] * 1000, 3),
            _fmt(ratio, 2) + "x",
            f"<= {TARGET_CPU_RATIO:g}x",
            _at_most(ratio, TARGET_CPU_RATIO),
            f"< {GATE_CPU_RATIO:g}x",
            None if ratio is None else ratio < GATE_CPU_RATIO,
        ),
        Row(
            "  of which in the request phase (to the last completion), ms",
            _fmt(None if phase["llmbench"] is None else phase["llmbench"] * 1000, 3),
            _fmt(None if phase["reference"] is None else phase["reference"] * 1000, 3),
            _fmt(_ratio(phase["llmbench"], phase["reference"]), 1) + "x",
        ),
        Row(
            "  of which after it (scoring, summary, reports), ms",
            _fmt(None if finish["llmbench"] is None else finish["llmbench"] * 1000, 3),
            _fmt(None if finish["reference"] is None else finish["reference"] * 1000, 3),
        ),
        Row(
            "client CPU intercept of the two runs (start-up, fixed costs), s",
            _fmt(fixed["llmbench"]),
            _fmt(fixed["reference"]),
            _fmt(_ratio(fixed["llmbench"], fixed["reference"]), 1) + "x",
        ),
    ]


def _slope(a: float | None, b: float | None, n1: int, n2: int) -> float | None:
    return None if a is None or b is None else (b - a) / (n2 - n1)


def _busy_text(runs: dict[str, ClientRun], server: dict[str, float | None]) -> str:
    """How busy each client's core and the server's core were during each client's run."""
    parts = []
    for name, run in runs.items():
        client = _client_busy(run)
        parts.append(
            f"{name} run: client core {_fmt(client and client * 100, 0)}%, "
            f"server core {_fmt((b := server.get(name)) and b * 100, 0)}%"
        )
    return "; ".join(parts)


def _client_busy(run: ClientRun) -> float | None:
    """The share of its core the client used from its first request to its last completion."""
    if not run.records:
        return None
    first, last = min(r.start for r in run.records), max(r.end for r in run.records)
    a, b = run.child.cpu_at(first), run.child.cpu_at(last)
    return None if a is None or b is None or last - first < 0.5 else (b - a) / (last - first)


def _request_cpu(run: ClientRun) -> float | None:
    """CPU seconds the client had used when its last request completed."""
    if not run.records:
        return None
    return run.child.cpu_at(max(r.end for r in run.records))


# -- 2. throughput --------------------------------------------------------------------------


def throughput(plan: Plan, tmp: Path) -> list[Row]:
    """Steady completions/s against a 200 ms server, as a share of in_flight / latency; and
    how busy the server's own core was, to show whether the server is the limit."""
    rows = []
    busy: dict[str, float | None] = {}
    for k in plan.levels:
        n = plan.throughput_tests(k)
        runs: dict[str, ClientRun] = {}
        with Server(ttft_s=LATENCY_S, tokens=8) as server:
            names = ["reference", "llmbench", "llmbench-asyncio"]
            if not plan.quick:
                names.append("reference-uvloop")
            for name in names:
                server.control(reset=True)
                if name.startswith("reference"):
                    uvloop = name.endswith("uvloop")
                    runs[name] = run_reference(server, tmp, tests=n, in_flight=k, uvloop=uvloop)
                else:
                    # llmbench on uvloop (its default where installed), then on asyncio's loop
                    env = {"LLMBENCH_LOOP": "asyncio" if name.endswith("asyncio") else "uvloop"}
                    where = tmp / f"throughput-{k}-{name}"
                    runs[name] = run_llmbench(server, where, tests=n, in_flight=k, env=env)
                busy[name] = _server_busy(server)
        asyncio_loop = runs.pop("llmbench-asyncio")
        busy.pop("llmbench-asyncio")
        reference_uvloop = runs.pop("reference-uvloop", None)
        busy.pop("reference-uvloop", None)
        rows.append(_throughput_row(k, n, runs, busy))
        rows.append(
            _side_row(
                "  the same on asyncio's loop (LLMBENCH_LOOP=asyncio), % of ideal; ratio to uvloop",
                k,
                asyncio_loop,
                runs["llmbench"],
                f"client CPU: asyncio {asyncio_loop.child.cpu_s:.2f} s, "
                f"uvloop {runs['llmbench'].child.cpu_s:.2f} s",
            )
        )
        if reference_uvloop is not None:
            rows.append(
                _side_row(
                    "  the reference on uvloop, % of ideal; llmbench (uvloop) against it",
                    k,
                    runs["llmbench"],
                    reference_uvloop,
                    f"client CPU: reference on uvloop {reference_uvloop.child.cpu_s:.2f} s",
                )
            )
    top = plan.levels[-1]
    rows.append(
        Row(
            f"mock server core busy at {top} in flight, % (100: the server is the limit)",
            _fmt(None if busy["llmbench"] is None else busy["llmbench"] * 100, 0),
            _fmt(None if busy["reference"] is None else busy["reference"] * 100, 0),
            target="< 80",
            passed=_at_most(busy["llmbench"], 0.8),
        )
    )
    return rows


def _throughput_row(
    k: int, n: int, runs: dict[str, ClientRun], busy: dict[str, float | None]
) -> Row:
    ideal = k / LATENCY_S
    share = {name: _share(run, k) for name, run in runs.items()}
    latency = {name: median([r.end - r.start for r in run.records]) for name, run in runs.items()}
    notes = [
        f"median latency: llmbench {_fmt(latency['llmbench'], 3)} s, "
        f"reference {_fmt(latency['reference'], 3)} s; " + _busy_text(runs, busy)
    ]
    target = _target_share(k)
    return Row(
        f"throughput at {k} in flight, % of ideal ({ideal:.0f}/s; {n} tests, 200 ms)",
        _fmt(share["llmbench"], 1),
        _fmt(share["reference"], 1),
        _fmt(_ratio(share["llmbench"], share["reference"])),
        f">= {target:g}%",
        _at_least(share["llmbench"], target),
        f">= {GATE_THROUGHPUT_RATIO:g}x",
        _at_least(_ratio(share["llmbench"], share["reference"]), GATE_THROUGHPUT_RATIO),
        notes,
    )


def _target_share(k: int) -> float:
    """The share of the ideal throughput to reach at ``k`` in flight, streaming: 95% up to 256
    (issue 6), 85% at 1,024 (issue 14: one core cannot do 95% of 5,120 requests a second)."""
    return 85.0 if k >= 1024 else 95.0


def _share(run: ClientRun, k: int) -> float | None:
    """``run``'s steady throughput at ``k`` in flight, as a % of the ideal ``k / LATENCY_S``."""
    rate = steady_rate(run.records, k)
    return None if rate is None else rate / (k / LATENCY_S) * 100


def _side_row(figure: str, k: int, shown: ClientRun, against: ClientRun, note: str) -> Row:
    """A row under a level's throughput row: ``shown``'s share of the ideal, ``against``'s,
    and their ratio."""
    a, b = _share(shown, k), _share(against, k)
    return Row(figure, _fmt(a, 1), _fmt(b, 1), _fmt(_ratio(a, b)), notes=[note])


def whole_answers(plan: Plan, tmp: Path) -> list[Row]:
    """Streaming against not, at each level: llmbench streaming (it measures time to first
    token) and llmbench with ``stream = false``, each against the reference asking for whole
    answers (what lm-evaluation-harness does), on the same 200 ms server in the same run."""
    rows = []
    for k in plan.levels:
        n = plan.throughput_tests(k)
        runs: dict[str, ClientRun] = {}
        with Server(ttft_s=LATENCY_S, tokens=8) as server:
            for name in ("reference", "streaming", "whole"):
                server.control(reset=True)
                if name == "reference":
                    runs[name] = run_reference(server, tmp, tests=n, in_flight=k, stream=False)
                else:
                    where = tmp / f"whole-{k}-{name}"
                    stream = name == "streaming"
                    runs[name] = run_llmbench(server, where, tests=n, in_flight=k, stream=stream)
        rate = {name: steady_rate(run.records, k) for name, run in runs.items()}
        cpu = {name: run.child.cpu_s for name, run in runs.items()}
        notes = [
            "requests/s: " + ", ".join(f"{name} {_fmt(r, 1)}" for name, r in rate.items()),
            "client CPU, s: " + ", ".join(f"{name} {c:.2f}" for name, c in cpu.items()),
        ]
        streaming = _ratio(rate["streaming"], rate["reference"])
        whole = _ratio(rate["whole"], rate["reference"])
        rows += [
            Row(
                f"at {k} in flight: llmbench streaming / reference not streaming, requests/s",
                _fmt(rate["streaming"], 1),
                _fmt(rate["reference"], 1),
                _fmt(streaming),
                ">= 0.97",
                _at_least(streaming, 0.97),
                f">= {GATE_THROUGHPUT_RATIO:g}",
                _at_least(streaming, GATE_THROUGHPUT_RATIO),
                notes,
            ),
            Row(
                f"at {k} in flight: llmbench stream = false / reference not streaming",
                _fmt(rate["whole"], 1),
                _fmt(rate["reference"], 1),
                _fmt(whole),
                ">= 0.95",
                _at_least(whole, 0.95),
                f">= {GATE_THROUGHPUT_RATIO:g}",
                _at_least(whole, GATE_THROUGHPUT_RATIO),
            ),
        ]
    return rows


def _memory_rows(plan: Plan, runs: dict[tuple[str, int], ClientRun]) -> list[Row]:
    rss = {key: run.child.peak_rss_kb for key, run in runs.items()}
    rows = [
        Row(
            f"peak RSS at {n} tests, MB",
            _fmt(rss["llmbench", n] / 1024, 1),
            _fmt(rss["reference", n] / 1024, 1),
        )
        for n in plan.sweep
    ]
    a, b = plan.sweep[-2], plan.sweep[-1]
    slope = {c: (rss[c, b] - rss[c, a]) / (b - a) for c in ("llmbench", "reference")}
    rows.append(
        Row(
            f"peak RSS growth, KB per test ({a}->{b} tests)",
            _fmt(slope["llmbench"]),
            _fmt(slope["reference"]),
            target="<= 2",
            passed=_at_most(slope["llmbench"], 2.0),
            gate=f"<= {GATE_RSS_KB_PER_TEST:g}",
            gate_passed=_at_most(slope["llmbench"], GATE_RSS_KB_PER_TEST),
        )
    )
    if b >= 100_000:
        rows[-2].target = "< 300 MB"
        rows[-2].passed = rss["llmbench", b] / 1024 < 300
    return rows


# -- 4. start-up ----------------------------------------------------------------------------


def startup(plan: Plan, tmp: Path) -> list[Row]:
    """From process start to the first completion request at the server, best of
    :data:`STARTUP_TRIES` for each client, alternating (a burst of load on the machine then
    slows one try, not one client); import laziness."""
    best: dict[str, float | None] = {"reference": None, "llmbench": None}
    first_any: float | None = None
    with Server(ttft_s=0.0, tokens=8) as server:
        for attempt in range(STARTUP_TRIES):
            for name in ("reference", "llmbench"):
                server.control(reset=True)
                if name == "reference":
                    run = run_reference(server, tmp, tests=8, in_flight=8)
                else:
                    run = run_llmbench(server, tmp / f"startup-{attempt}", tests=8, in_flight=8)
                stats = server.stats()
                first = _since(stats["first_completion_at"], run.child.spawned_at)
                if first is not None and (best[name] is None or first < (best[name] or 0)):
                    best[name] = first
                    if name == "llmbench":
                        first_any = _since(stats["first_request_at"], run.child.spawned_at)
    notes = [
        f"best of {STARTUP_TRIES} each; llmbench's first request (GET /v1/models) came "
        f"{_fmt(first_any)} s after start"
    ]
    heavy, import_ms = _import_check("llmbench")
    heavy_cli, import_cli_ms = _import_check("llmbench.cli.run")
    ratio = _ratio(best["llmbench"], best["reference"])
    return [
        Row(
            "start-up: process start to first completion request, s",
            _fmt(best["llmbench"]),
            _fmt(best["reference"]),
            _fmt(ratio, 1) + "x",
            "< 1 s",
            _at_most(best["llmbench"], 1.0),
            f"< {GATE_STARTUP_RATIO:g}x",
            None if ratio is None else ratio < GATE_STARTUP_RATIO,
            notes,
        ),
        Row(
            "`import llmbench`: heavy modules loaded (import time)",
            (", ".join(heavy) or "none") + f" ({import_ms:.0f} ms)",
            target="none",
            passed=not heavy,
            gate="none",
            gate_passed=not heavy,
        ),
        Row(
            "`import llmbench.cli.run` (runner.py): heavy modules (import time)",
            (", ".join(heavy_cli) or "none") + f" ({import_cli_ms:.0f} ms)",
            target="none",
            passed=not heavy_cli,
            gate="none",
            gate_passed=not heavy_cli,
        ),
    ]


def _since(at: float | None, spawned_at: float) -> float | None:
    return None if at is None else at - spawned_at


def _import_check(module: str) -> tuple[list[str], float]:
    """The heavy modules ``import module`` loads, and its import time in ms (-X importtime,
    best of two)."""
    probe = (
        f"import sys, {module}; print(','.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
    )
    best = float("inf")
    heavy: list[str] = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", probe],
            capture_output=True,
            text=True,
            cwd=REPO,
            check=True,
        )
        heavy = [m for m in done.stdout.strip().split(",") if m]
        pattern = rf"^import time:\s+\d+ \|\s+(\d+) \| {re.escape(module)}$"
        cumulative = [int(m) for m in re.findall(pattern, done.stderr, re.MULTILINE)]
        best = min(best, cumulative[-1] / 1000 if cumulative else float("nan"))
    return heavy, best


# -- 5. accuracy ----------------------------------------------------------------------------


def accuracy(plan: Plan, tmp: Path) -> list[Row]:
    """TTFT and tokens/s the clients report against what the server injected."""
    ttft_s, tokens, interval_s = 0.3, 50, 0.01
    rate = 1 / interval_s  # (tokens - 1) / ((tokens - 1) * interval)
    k, n = plan.accuracy_in_flight, plan.accuracy_tests
    errors: dict[tuple[str, str], float | None] = {}
    notes: list[str] = []
    runs: dict[str, ClientRun] = {}
    busy: dict[str, float | None] = {}
    with Server(ttft_s=ttft_s, tokens=tokens, token_interval_s=interval_s) as server:
        for name in ("reference", "llmbench"):
            server.control(reset=True)
            if name == "reference":
                run = run_reference(server, tmp, tests=n, in_flight=k)
            else:
                run = run_llmbench(server, tmp / "accuracy", tests=n, in_flight=k)
            runs[name], busy[name] = run, _server_busy(server)
            stats = server.stats()
            errors[name, "ttft"] = _error(median([r.ttft_s for r in run.records]), ttft_s)
            errors[name, "rate"] = _error(median([r.tokens_per_s for r in run.records]), rate)
            gen = stats["generation_p50_s"]
            notes.append(
                f"server during {name}: TTFT p50 {stats['ttft_p50_s']:.3f} s, "
                f"generation p50 {gen:.3f} s (injected {ttft_s} s, {(tokens - 1) * interval_s} s)"
            )
    notes.append(_busy_text(runs, busy))
    return [
        Row(
            f"{label}: median error vs injected, % ({k} in flight, {n} tests)",
            _fmt(errors["llmbench", key], 1),
            _fmt(errors["reference", key], 1),
            target="<= 5%",
            passed=_at_most(errors["llmbench", key], 5.0),
            gate=f"<= {GATE_ACCURACY_PCT:g}%",
            gate_passed=_at_most(errors["llmbench", key], GATE_ACCURACY_PCT),
            notes=notes if key == "rate" else [],
        )
        for label, key in (
            (f"time to first token (injected {ttft_s} s)", "ttft"),
            (f"generation tokens/s (injected {rate:.0f})", "rate"),
        )
    ]


def _error(measured: float | None, injected: float) -> float | None:
    return None if measured is None else abs(measured - injected) / injected * 100


# -- auto concurrency -----------------------------------------------------------------------

AUTO_PENDING = 'not yet available: max_concurrency = "auto" / its summary field'


def auto_concurrency(plan: Plan, tmp: Path) -> list[Row]:
    """``max_concurrency = "auto"`` against a server with a fixed number of slots (the
    requests beyond them queue), then with the slot count doubled mid-run.

    The chosen concurrency is read from summary.json (see :func:`chosen_concurrency`); the
    rows say "not yet available" while runner.py refuses "auto" (exit 2) or the summary does
    not report it.
    """
    s = plan.auto_slots
    ideal = s / LATENCY_S
    fixed: dict[int, float | None] = {}
    with Server(ttft_s=LATENCY_S, tokens=8, slots=s) as server:
        try:
            auto = run_llmbench(
                server, tmp / "auto", tests=plan.auto_tests, in_flight=256, max_concurrency="auto"
            )
        except RunFailed as exc:
            if exc.exit_code != 2:  # exit 2: "auto" is not a valid setting yet
                raise
            return [
                Row(
                    f'"auto" vs {s} slots: chosen concurrency, throughput vs best fixed',
                    "n/a",
                    notes=[AUTO_PENDING, str(exc)],
                )
            ]
        fixed_whole: dict[int, float | None] = {}
        for c in plan.auto_fixed:
            server.control(reset=True)
            run = run_llmbench(server, tmp / f"fixed-{c}", tests=s * 15, in_flight=c)
            fixed[c] = steady_rate(run.records, min(c, s))
            fixed_whole[c] = _whole_rate(run.records)
    best_c = max(fixed, key=lambda c: fixed[c] or 0.0)
    best = fixed[best_c]
    fixed_text = ", ".join(f"{c}: {_fmt(r, 0)}/s" for c, r in fixed.items())
    chosen = chosen_concurrency(auto.summary)
    # the same figure as for the fixed settings: the steady part, after the first 10% of the
    # completions (for "auto", most of its ramp from 2); the whole run is in the notes
    rate = steady_rate(auto.records, s)
    whole, best_whole = _whole_rate(auto.records), fixed_whole[best_c]
    rows = [
        Row(
            f'"auto" vs {s} slots: chosen concurrency',
            _fmt(chosen, 0),
            str(s),
            _fmt(_ratio(chosen, s)),
            f"{0.75 * s:g}-{1.25 * s:g}",
            None if chosen is None else abs(chosen - s) <= 0.25 * s,
            notes=[] if chosen is not None else [AUTO_PENDING],
        ),
        Row(
            f'"auto" vs {s} slots: throughput, /s (reference: best fixed, {best_c})',
            _fmt(rate, 1),
            _fmt(best, 1),
            _fmt(_ratio(rate, best)),
            ">= 0.90",
            _at_least(_ratio(rate, best), 0.9),
            f">= {GATE_AUTO_SHARE:.2f}",
            _at_least(_ratio(rate, best), GATE_AUTO_SHARE),
            [
                f"ideal {ideal:.0f}/s; fixed settings: {fixed_text}",
                f"whole run, ramp included: auto {_fmt(whole, 1)}/s over {plan.auto_tests} tests, "
                f"fixed {best_c} {_fmt(best_whole, 1)}/s over {s * 15} "
                f"(ratio {_fmt(_ratio(whole, best_whole))})",
                f"auto's limit over time: {_limit_over_time(auto)}",
            ],
        ),
    ]
    return rows if plan.quick else rows + _auto_mid_run_change(plan, tmp)


def _whole_rate(records: Sequence[Record]) -> float | None:
    """Completions per second from the first send to the last completion."""
    if not records:
        return None
    span = max(r.end for r in records) - min(r.start for r in records)
    return len(records) / span if span > 0 else None


def _limit_over_time(run: ClientRun) -> str:
    """The changes of "auto"'s limit (summary.json), each at the time of the completion it
    followed, in seconds since the first send: ``2 @0.0s, 4 @0.8s, ...``."""
    agents = (run.summary or {}).get("agents") or [{}]
    changes = (agents[0].get("concurrency") or {}).get("changes") or []
    if not changes or not run.records:
        return "n/a"
    start = min(r.start for r in run.records)
    ends = sorted(r.end for r in run.records)
    return ", ".join(
        f"{c['limit']} @{(ends[c['after'] - 1] if c['after'] else start) - start:.1f}s"
        for c in changes
    )


def _auto_mid_run_change(plan: Plan, tmp: Path) -> list[Row]:
    s1 = plan.auto_slots
    s2 = 2 * s1
    n = plan.auto_tests * 2
    switched: list[float] = []

    def switch_halfway(proc: subprocess.Popen[bytes]) -> None:
        while proc.poll() is None:
            if server.stats()["completions_done"] >= n // 3:
                server.control(slots=s2)
                switched.append(time.time())
                return
            time.sleep(0.05)

    with Server(ttft_s=LATENCY_S, tokens=8, slots=s1) as server:
        run = run_llmbench(
            server,
            tmp / "auto-change",
            tests=n,
            in_flight=256,
            max_concurrency="auto",
            while_running=switch_halfway,
        )
    chosen = chosen_concurrency(run.summary)
    after: Sequence[Record] = [r for r in run.records if switched and r.start > switched[0] + 1.0]
    rate = steady_rate(after, s2) if after else None
    share = None if rate is None else rate / (s2 / LATENCY_S)
    return [
        Row(
            f'"auto", slots {s1}->{s2} mid-run: chosen concurrency at the end',
            _fmt(chosen, 0),
            str(s2),
            _fmt(_ratio(chosen, s2)),
            f"{0.75 * s2:g}-{1.25 * s2:g}",
            None if chosen is None else abs(chosen - s2) <= 0.25 * s2,
            notes=[] if chosen is not None else [AUTO_PENDING],
        ),
        Row(
            f'"auto", slots {s1}->{s2} mid-run: throughput after the change, % of ideal',
            _fmt(None if share is None else share * 100, 1),
            target=">= 90%",
            passed=_at_least(share, 0.9),
        ),
    ]


def chosen_concurrency(summary: dict[str, Any] | None) -> float | None:
    """The concurrency "auto" settled on, from the first agent of summary.json: the ``final``
    of a ``concurrency`` object (``{"mode": "auto", "final": 16, "mean": ...}``), else the
    first number under any key containing ``concurrency`` (depth first); None when absent."""
    if not summary or not summary.get("agents"):
        return None

    def find(node: Any) -> float | None:
        if isinstance(node, dict):
            for key, value in node.items():
                if "concurrency" not in key:
                    continue
                if isinstance(value, int | float) and not isinstance(value, bool):
                    return float(value)
                if isinstance(value, dict) and isinstance(value.get("final"), int | float):
                    return float(value["final"])
            for value in node.values():
                if (found := find(value)) is not None:
                    return found
        return None

    return find(summary["agents"][0])


# -- 7. load (issue 5) ----------------------------------------------------------------------


def load(plan: Plan, tmp: Path) -> list[Row]:
    """Tests x 2 agents at ``max_workers = 512``: every result saved, and peak RSS."""
    tests = 1000 if plan.quick else 20_000
    with Server(ttft_s=0.05, tokens=8) as server:
        run = run_llmbench(server, tmp / "load", tests=tests, in_flight=512, agents=2)
    saved = sum(1 for r in run.records if r.ok)
    rss_mb = run.child.peak_rss_kb / 1024
    return [
        Row(
            f"load: {tests} tests x 2 agents at 512 in flight, results saved ok",
            f"{saved} / {2 * tests}",
            "-",
            target="all",
            passed=saved == 2 * tests,
            gate="all",
            gate_passed=saved == 2 * tests,
        ),
        Row(f"load: peak RSS of runner.py, MB ({2 * tests} results)", _fmt(rss_mb, 1), "-"),
    ]


MEASUREMENTS: dict[str, Callable[[Plan, Path], list[Row]]] = {
    "cpu-memory": cpu_and_memory,
    "throughput": throughput,
    "whole": whole_answers,
    "startup": startup,
    "accuracy": accuracy,
    "auto": auto_concurrency,
    "load": load,
}


def json_rows(rows: Sequence[Row]) -> str:
    """The rows as JSON (``--json``)."""
    return json.dumps([row.__dict__ for row in rows], indent=2)
