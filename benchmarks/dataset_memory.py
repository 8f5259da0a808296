"""Peak memory of loading a data set, stage by stage: ``python benchmarks/dataset_memory.py``.

Writes a JSONL data set of ``--rows`` GSM8K-sized rows (a question of about 300 characters
and an answer of about 350, as in GSM8K's test split), plain and gzipped, then measures each
stage in a fresh process (peak RSS above the process's RSS once llmbench is imported):

- ``rows``: every row read and let go (:func:`llmbench.suite.rows.read_rows`);
- ``tests, not kept``: every row made into a test and let go, as ``llmbench convert`` does;
- ``tests, kept``: :func:`llmbench.suite.dataset.load_dataset`, as a run loads it;
- ``plan``: :func:`llmbench.cli.plan.load_plan`, everything a run holds before its first
  request;
- ``suite file``: the same tests written as a suite file and loaded with ``load_suite``.
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
from pathlib import Path

STAGES = ("rows", "tests, not kept", "tests, kept", "plan", "suite file")
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
import llmbench.cli.plan as plan
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


def write_dataset(directory: Path, rows: int) -> Path:
    """``data.jsonl`` of ``rows`` rows in ``directory``; returns its path."""
    rng = random.Random(1)
    path = directory / "data.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for i in range(rows):
            question = " ".join(rng.choice(WORDS) for _ in range(60)) + f" {i}?"
            answer = " ".join(rng.choice(WORDS) for _ in range(70)) + f"\n#### {i}"
            fh.write(json.dumps({"question": question, "answer": answer, "n": i}) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    """Print one line per stage and file: rows, peak RSS above the start, ratio to the file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        data = write_dataset(directory, args.rows)
        with data.open("rb") as plain, gzip.open(directory / "data.jsonl.gz", "wb") as packed:
            shutil.copyfileobj(plain, packed)
        (directory / "agents").mkdir()
        (directory / "agents" / "a.toml").write_text(
            'id = "a"\nendpoint = "http://127.0.0.1:9/v1"\nmodel = "m"\n', encoding="utf-8"
        )
        mapping = 'id = "q_{row}"\nprompt = "Question: {question}\\nAnswer:"\nexpected = "{n}"\n'
        suite = directory / "suite.json"
        for name in ("data.jsonl", "data.jsonl.gz"):
            base = directory / f"{name}.toml"
            base.write_text(
                f'[benchmark]\n[benchmark.dataset]\npath = "{name}"\n{mapping}', encoding="utf-8"
            )
            size = (directory / name).stat().st_size
            if not suite.exists():
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "llmbench.cli.main",
                        "convert",
                        "--base_config",
                        str(base),
                        "-o",
                        str(suite),
                    ],
                    check=True,
                    capture_output=True,
                )
            for stage in STAGES:
                if stage == "suite file" and name.endswith(".gz"):
                    continue
                done = subprocess.run(
                    [
                        sys.executable,
                        "-c",
                        _MEASURE,
                        stage,
                        str(base),
                        str(directory / "agents"),
                        str(suite),
                    ],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                count, peak = (int(v) for v in done.stdout.split())
                of = suite.stat().st_size if stage == "suite file" else size
                print(
                    f"{name:14} {of / 1e6:7.1f} MB  {stage:16} {count:>8} rows  "
                    f"peak +{peak / 1e6:6.1f} MB  ({peak / of:.2f} x the file)"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
