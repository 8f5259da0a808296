"""Measure llmbench against a minimal asyncio + aiohttp client: ``python benchmarks/run.py``.

Starts the mock server (``server.py``) in its own process on its own core, runs every
measurement of issue 6 with llmbench (``runner.py`` as a subprocess, as users run it) and with
the reference client (``reference_client.py``) in the same run, and prints one table: figure,
llmbench, reference, ratio, target, result.

``--quick`` is the small version CI runs (tests/test_benchmarks_ci.py): fewer tests, fewer
concurrency levels, and loose regression gates instead of the targets; it exits 1 when a gate
fails. The full run exits 1 when a target is missed. Both print the table either way.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import CLIENT_CPU, SERVER_CPU
from benchmarks.measurements import FULL, MEASUREMENTS, QUICK, Row, json_rows


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("pass" if ok else "FAIL")


def table(rows: Sequence[Row], quick: bool, markdown: bool) -> str:
    """The rows as aligned text (or a markdown table), notes below."""
    head = ["figure", "llmbench", "reference", "ratio", "target", "result"]
    if quick:
        head += ["CI gate", "gate"]
    lines = []
    for r in rows:
        cells = [r.figure, r.llmbench, r.reference, r.ratio, r.target, _verdict(r.passed)]
        if quick:
            cells += [r.gate, _verdict(r.gate_passed)]
        lines.append(cells)
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |" for cells in lines]
    else:
        widths = [max(len(row[i]) for row in [head, *lines]) for i in range(len(head))]
        out = [
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
            for row in [head, *lines]
        ]
        out.insert(1, "  ".join("-" * w for w in widths))
    notes = [f"- {r.figure}: {note}" for r in rows for note in r.notes]
    if notes:
        out += ["", "notes:", *notes]
    return "\n".join(out)


def machine() -> str:
    """nproc, CPU model, Python version, and how the processes were pinned."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    pinning = (
        f"client on CPU {CLIENT_CPU}, server on CPU {SERVER_CPU}"
        if CLIENT_CPU is not None
        else "not pinned (fewer than 2 CPUs)"
    )
    return (
        f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; {pinning}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure llmbench against a minimal client.")
    parser.add_argument("--quick", action="store_true", help="the small CI version")
    parser.add_argument(
        "--only",
        help=f"comma-separated measurements to run (default: all of {', '.join(MEASUREMENTS)})",
    )
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    parser.add_argument("--json", metavar="FILE", help="also write the rows to FILE as JSON")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    names = args.only.split(",") if args.only else list(MEASUREMENTS)
    unknown = [n for n in names if n not in MEASUREMENTS]
    if unknown:
        parser.error(
            f"--only: unknown measurement {unknown[0]!r}; known: {', '.join(MEASUREMENTS)}"
        )
    print(f"{'quick' if args.quick else 'full'} run on {machine()}", flush=True)
    rows: list[Row] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="llmbench-bench-") as tmp:
        for name in names:
            t0 = time.perf_counter()
            workdir = Path(tmp) / name
            workdir.mkdir()
            try:
                found = MEASUREMENTS[name](plan, workdir)
            except Exception as exc:  # one broken measurement must not hide the others
                found = [Row(name, "error", passed=False, gate_passed=False, notes=[repr(exc)])]
            rows += found
            print(f"  {name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    print(table(rows, args.quick, args.markdown))
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    if args.json:
        Path(args.json).write_text(json_rows(rows), encoding="utf-8")
    return 0 if all(_verdict_ok(r, args.quick) for r in rows) else 1


def _verdict_ok(row: Row, quick: bool) -> bool:
    """A row passes when it has no gate (quick) or target (full), or meets it; a gate or target
    that could not be measured (None) fails."""
    bound, verdict = (row.gate, row.gate_passed) if quick else (row.target, row.passed)
    return verdict is True or (bound == "-" and verdict is None)


if __name__ == "__main__":
    sys.exit(main())
