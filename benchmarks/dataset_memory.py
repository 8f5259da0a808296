"""Peak memory of loading a data set, stage by stage: ``python benchmarks/dataset_memory.py``.

Writes a JSONL data set of ``--rows`` GSM8K-sized rows (a question of about 300 characters
and an answer of about 350, as in GSM8K's test split), plain and gzipped, and the same rows
``--long`` times longer, then measures each stage in a fresh process (peak RSS above the
process's RSS once llmbench is imported):

- ``rows``: every row read and let go (:func:`llmbench.suite.rows.read_rows`);
- ``tests, not kept``: every row made into a test and let go, as ``llmbench convert`` does;
- ``tests, kept``: :func:`llmbench.suite.dataset.load_dataset`, every test as a list;
- ``plan``: :func:`llmbench.runs.plan.load_plan`, everything a run plans with;
- ``runner.py``: a real ``python runner.py`` run against ``benchmarks/server.py`` (answers
  held back, so nothing finishes), measured when the server sees its first completion request
  (``VmHWM`` of the process above its peak once llmbench's run, scoring and report modules are
  imported), then killed;
- ``suite file``: the same tests written as a suite file and loaded with ``load_suite``.

Each line gives the peak, its ratio to the file and its bytes per test. Measure another
llmbench (the one before a change) with ``PYTHONPATH=that/src``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
STAGES = ("rows", "tests, not kept", "tests, kept", "plan", "runner.py", "suite file")
LONG_STAGES = ("plan", "runner.py")
"""What is measured on the long rows (the others take the time of a file 10 times larger)."""
FIRST_REQUEST_TIMEOUT_S = 900
CONVERT = (sys.executable, "-m", "llmbench.cli.main", "convert")
WORDS = [
    "the",
    "a",
    "of",
    "to",
    "and",
    "in",
    "is",
    "it",
    "you",
    "that",
    "he",
    "was",
    "for",
    "on",
    "are",
    "with",
    "as",
    "his",
    "they",
    "be",
    "at",
    "one",
]

_MEASURE = """
import resource, sys
def peak(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
import llmbench.runs.plan as plan
from llmbench.config.base_config import load_base_config
from llmbench.suite.dataset import iter_tests, load_dataset, locate
from llmbench.suite.loader import load_suite
from llmbench.suite.rows import read_rows
stage, base = sys.argv[1], sys.argv[2]
before = peak()
dataset = load_base_config(base).benchmark.dataset
source = locate(dataset, base)
if stage == "rows":
    n = sum(1 for _ in read_rows(source.path, source.format))
elif stage == "tests, not kept":
    n = sum(1 for _ in iter_tests(dataset, source, share=False))
elif stage == "tests, kept":
    n = len(load_dataset(dataset, base).tests)
elif stage == "plan":
    n = len(plan.load_plan(base, sys.argv[3]).tests)
else:
    n = len(load_suite(sys.argv[4]).tests)
print(n, peak() - before)
"""

_RUNNER = """
import resource, runpy, sys
def peak(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
# what a run imports before its first request: its start is measured without the code
import aiohttp, rich.console, llmbench.cli.run, llmbench.runs.finish, llmbench.report.terminal
start_file, runner = sys.argv[1], sys.argv[2]
with open(start_file, "w") as fh:
    fh.write(str(peak()))
sys.argv = [runner, *sys.argv[3:]]
runpy.run_path(runner, run_name="__main__")
"""


def write_dataset(directory: Path, rows: int, scale: int = 1, name: str = "data.jsonl") -> Path:
    """``name`` of ``rows`` rows in ``directory``, each ``scale`` times as long as a GSM8K
    row; returns its path."""
    rng = random.Random(1)
    path = directory / name
    with path.open("w", encoding="utf-8") as fh:
        for i in range(rows):
            question = " ".join(rng.choice(WORDS) for _ in range(60 * scale)) + f" {i}?"
            answer = " ".join(rng.choice(WORDS) for _ in range(70 * scale)) + f"\n#### {i}"
            fh.write(json.dumps({"question": question, "answer": answer, "n": i}) + "\n")
    return path


class Server:
    """``benchmarks/server.py`` in a process of its own, answering nothing for a long time."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "server.py"), "--ttft", "3600"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline().split()[1])

    def _call(self, path: str, body: dict[str, object] | None = None) -> dict[str, object]:
        data = json.dumps(body).encode() if body is not None else None
        url = f"http://127.0.0.1:{self.port}{path}"
        with urllib.request.urlopen(url, data=data, timeout=10) as response:
            result: dict[str, object] = json.loads(response.read())
            return result

    def reset(self) -> None:
        self._call("/control", {"reset": True})

    def asked(self) -> bool:
        """True once a completion request arrived (since the last reset)."""
        return self._call("/stats").get("first_completion_at") is not None

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


def _high_water_mark(pid: int) -> int:
    """The peak RSS of process ``pid`` so far, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc: this measurement needs Linux")


def runner_peak(base: Path, agents: Path, server: Server, directory: Path) -> int:
    """Peak RSS above its start of ``runner.py`` on ``base`` until its first request."""
    server.reset()
    start = directory / "runner-start"
    start.unlink(missing_ok=True)
    command = [sys.executable, "-c", _RUNNER, str(start), str(HERE.parent / "runner.py")]
    process = subprocess.Popen(
        [*command, "--base_config", str(base), "--agent_config", str(agents)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=directory,
    )
    try:
        deadline = time.monotonic() + FIRST_REQUEST_TIMEOUT_S
        while not server.asked():
            if process.poll() is not None:
                assert process.stderr is not None
                raise RuntimeError(f"runner.py ended first: {process.stderr.read().decode()}")
            if time.monotonic() > deadline:
                raise RuntimeError("runner.py sent no request in time")
            time.sleep(0.01)
        peak = _high_water_mark(process.pid)
    finally:
        process.kill()
        process.wait()
    return peak - int(start.read_text())


def measure(stage: str, base: Path, directory: Path, server: Server, rows: int) -> tuple[int, int]:
    """Tests loaded and peak RSS above the start of ``stage`` on the data set of ``base``
    (``rows`` rows)."""
    suite = directory / "suite.json"
    if stage == "runner.py":
        return rows, runner_peak(base, directory / "served", server, directory)
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, stage, str(base), str(directory / "agents"), str(suite)],
        check=True,
        capture_output=True,
        text=True,
    )
    count, peak = (int(v) for v in done.stdout.split())
    return count, peak


def main(argv: list[str] | None = None) -> int:
    """Print one line per stage and file: rows, peak RSS above the start, ratio to the file,
    bytes per test."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--long", type=int, default=10, help="how much longer the long rows are")
    args = parser.parse_args(argv)
    server = Server()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            _measure_all(Path(tmp), args.rows, args.long, server)
    finally:
        server.stop()
    return 0


def _measure_all(directory: Path, rows: int, long: int, server: Server) -> None:
    data = write_dataset(directory, rows)
    with data.open("rb") as plain, gzip.open(directory / "data.jsonl.gz", "wb") as packed:
        shutil.copyfileobj(plain, packed)
    files = ["data.jsonl", "data.jsonl.gz"]
    if long > 1:
        files.append(write_dataset(directory, rows, long, f"long-{long}x.jsonl").name)
    for kind, endpoint in (("agents", "http://127.0.0.1:9/v1"), ("served", None)):
        (directory / kind).mkdir()
        endpoint = endpoint or f"http://127.0.0.1:{server.port}/v1"
        (directory / kind / "a.toml").write_text(
            f'id = "a"\nendpoint = "{endpoint}"\nmodel = "bench-model"\n', encoding="utf-8"
        )
    mapping = 'id = "q_{row}"\nprompt = "Question: {question}\\nAnswer:"\nexpected = "{n}"\n'
    suite = directory / "suite.json"
    for name in files:
        base = directory / f"{name}.toml"
        base.write_text(
            f'[benchmark]\nresults_dir = "{directory / "results"}"\n'
            f'[benchmark.dataset]\npath = "{name}"\n{mapping}',
            encoding="utf-8",
        )
        size = (directory / name).stat().st_size
        if not suite.exists():
            subprocess.run(
                [*CONVERT, "--base_config", str(base), "-o", str(suite)],
                check=True,
                capture_output=True,
            )
        for stage in LONG_STAGES if name.startswith("long") else STAGES:
            if stage == "suite file" and name.endswith(".gz"):
                continue
            count, peak = measure(stage, base, directory, server, rows)
            of = suite.stat().st_size if stage == "suite file" else size
            print(
                f"{name:16} {of / 1e6:7.1f} MB  {stage:16} {count:>8} rows  "
                f"peak +{peak / 1e6:6.1f} MB  ({peak / of:.2f} x the file, "
                f"{peak / count:,.0f} B/test)",
                flush=True,
            )


if __name__ == "__main__":
    sys.exit(main())
