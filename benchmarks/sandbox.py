"""The code sandbox's costs: start-up, a trivial call's round trip, memory per idle session,
and 32 sessions at once, under both isolations; one small table.

    python benchmarks/sandbox.py            # about 20 s on 2 cores
    python benchmarks/sandbox.py --sessions 8 --calls 200

Targets (issue 16): start-up under 100 ms, the round trip of ``1+1`` under 5 ms. Memory is the
resident set (RSS) of every process of one idle session (bwrap's two and the interpreter, or
the keeper shell and the interpreter), read from /proc; shared pages count once per process,
so the figure is an upper bound.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from llmbench.sandbox import PythonSession, SandboxSettings, check_isolation
from llmbench.sandbox.session import _tree


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


async def measure(isolation: str, starts: int, calls: int, many: int) -> dict[str, float]:
    settings = SandboxSettings(isolation=isolation)  # type: ignore[arg-type]
    check_isolation(settings)
    await (await PythonSession.start(settings)).close()  # warm: the interpreter probe, caches
    start_ms = []
    for _ in range(starts):
        t = time.perf_counter()
        session = await PythonSession.start(settings)
        start_ms.append((time.perf_counter() - t) * 1000)
        await session.close()
    async with await PythonSession.start(settings) as session:
        await session.run("1+1")
        round_ms = []
        for _ in range(calls):
            t = time.perf_counter()
            await session.run("1+1")
            round_ms.append((time.perf_counter() - t) * 1000)
        proc = session._proc
        assert proc is not None
        memory = sum(rss_kib(p) for p in _tree(proc.transport.get_pid())) / 1024
    t = time.perf_counter()
    sessions = await asyncio.gather(*(PythonSession.start(settings) for _ in range(many)))
    up = time.perf_counter() - t
    t = time.perf_counter()
    await asyncio.gather(*(s.run("sum(range(1000))") for s in sessions))
    call_all = time.perf_counter() - t
    await asyncio.gather(*(s.close() for s in sessions))
    return {
        "start_ms": statistics.median(start_ms),
        "round_ms": statistics.median(round_ms),
        "round_p95_ms": sorted(round_ms)[int(len(round_ms) * 0.95) - 1],
        "rss_mb": memory,
        "many_up_s": up,
        "many_call_s": call_all,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=20)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--sessions", type=int, default=32)
    parser.add_argument("--only", choices=["bwrap", "process"])
    args = parser.parse_args()
    isolations = [args.only] if args.only else ["bwrap", "process"]
    rows = {
        iso: asyncio.run(measure(iso, args.starts, args.calls, args.sessions)) for iso in isolations
    }
    print(f"| figure | {' | '.join(isolations)} | target |")
    print(f"|---|{'---|' * len(isolations)}---|")
    lines = [
        ("session start-up, median", "start_ms", "{:.1f} ms", "< 100 ms"),
        ("round trip of `1+1`, median", "round_ms", "{:.2f} ms", "< 5 ms"),
        ("round trip of `1+1`, p95", "round_p95_ms", "{:.2f} ms", ""),
        ("RSS of one idle session", "rss_mb", "{:.1f} MB", ""),
        (f"{args.sessions} sessions started at once", "many_up_s", "{:.2f} s", ""),
        (f"one call in each of the {args.sessions}, at once", "many_call_s", "{:.2f} s", ""),
    ]
    for label, key, fmt, target in lines:
        cells = " | ".join(fmt.format(rows[iso][key]) for iso in isolations)
        print(f"| {label} | {cells} | {target} |")
    missed = any(r["start_ms"] >= 100 or r["round_ms"] >= 5 for r in rows.values())
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
