"""SIGKILL at random points of a three-agent run, then ``--resume`` until done: every (agent,
test, repeat) ends with exactly one final result and the scores and summary equal those of a run
that was never interrupted.

The kill points come from a seeded generator (``LLMBENCH_CRASH_SEED`` picks another seed; a
failure message names the seed and the points): one at a random moment that may fall in
start-up, three while tests are running, each a random number of results past where its run
started (so a kill never fires at once on results an earlier run saved), and one right after the
last result was saved (while the run scores and writes its reports). The test proves each kill
landed where it says: the runner was still running, and a mid-run kill left results to run.
A torn line is appended to the journal after a mid-run kill and after the last one, as a kill in
the middle of a write would leave it: the final resume drops both.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_test
from tests.scripted_server import Answer, ScriptedServer
from tests.test_runner_e2e import _agent, _base_config, _journal, _start, _suite

N_TESTS = 100
AGENTS = ("alpha", "beta", "gamma")
TOTAL = N_TESTS * len(AGENTS)
SEED = int(os.environ.get("LLMBENCH_CRASH_SEED", "20261121"))


def _setup(directory: Path, server: ScriptedServer, server2: ScriptedServer) -> Path:
    directory.mkdir()
    # "42" is right for even tests and wrong for odd ones; beta's server answers "41"
    tests = [
        make_test(f"t{i:03d}", expected=42 if i % 2 == 0 else 41, category=f"c{i % 3}")
        for i in range(N_TESTS)
    ]
    _suite(directory, tests)
    _base_config(directory, server.url + "/v1", server.url + "/v1", max_workers=12)
    _agent(directory, "alpha", server.url + "/v1", "max_concurrency = 4")
    _agent(directory, "beta", server2.url + "/v1", "max_concurrency = 4")
    _agent(directory, "gamma", server.url + "/v1", "max_concurrency = 4")
    return directory


def _lines(results: Path) -> int:
    journals = list(results.glob("*/results.jsonl")) if results.exists() else []
    return len(journals[0].read_bytes().splitlines()) if journals else 0


def _run_dir(results: Path) -> Path | None:
    dirs = (
        [p for p in results.glob("*") if (p / "manifest.json").exists()] if results.exists() else []
    )
    assert len(dirs) <= 1, dirs
    return dirs[0] if dirs else None


@dataclass(frozen=True)
class Kill:
    """Where a kill landed: journal lines when the runner started and at the kill, and whether
    the runner was still running (False: it ended on its own before the kill)."""

    started_at: int
    seen: int
    landed: bool

    def __str__(self) -> str:
        where = "killed" if self.landed else "ENDED BEFORE THE KILL"
        return f"{self.started_at} -> {self.seen} lines, {where}"


def _kill_when(
    proc: subprocess.Popen[str], results: Path, started_at: int, *, lines: int = 0, after_s=0.0
) -> Kill:
    """SIGKILL ``proc`` once the journal has ``lines`` lines and ``after_s`` have passed (or
    leave it be if it ended first)."""
    started = time.monotonic()
    deadline = started + 60
    while proc.poll() is None:
        if _lines(results) >= lines and time.monotonic() - started >= after_s:
            break
        if time.monotonic() > deadline:
            proc.send_signal(signal.SIGKILL)
            _, err = proc.communicate(timeout=30)
            raise AssertionError(f"no result {lines} within 60 s; the runner said:\n{err}")
        time.sleep(0.005)
    landed = proc.poll() is None
    if landed:
        proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    return Kill(started_at, _lines(results), landed)


def _tear(run_dir: Path | None) -> None:
    """Append what a kill in the middle of a journal write leaves: part of a line."""
    assert run_dir is not None
    with (run_dir / "results.jsonl").open("ab") as f:
        f.write(b'{"agent_id": "alpha", "test_id": "t0')


def _quality(run_dir: Path) -> dict[str, Any]:
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    agents = {
        a["agent_id"]: {"quality": a["quality"], "categories": a["categories"]}
        for a in summary["agents"]
    }
    return {"agents": agents, "comparisons": summary["comparisons"], "status": summary["status"]}


def _final(run_dir: Path) -> dict[tuple[str, str, int], tuple[str, str]]:
    final = {}
    for e in _journal(run_dir):
        final[(e["agent_id"], e["test_id"], e["repeat"])] = (e["status"], e["response_text"])
    return final


@pytest.mark.timeout(600)
def test_sigkill_at_random_points_then_resume_matches_an_uninterrupted_run(
    tmp_path: Path, server: ScriptedServer, server2: ScriptedServer
) -> None:
    # 12 tests in flight, 0.1 s each: the run takes about 2.5 s, time for every kill to land
    server.set_default(Answer("42", ttft_s=0.1))
    server2.set_default(Answer("41", ttft_s=0.1))
    rng = random.Random(SEED)
    context = f"seed {SEED}"

    reference = _setup(tmp_path / "reference", server, server2)
    ref = _start(reference)
    out, err = ref.communicate(timeout=120)
    assert ref.returncode == 0, err
    ref_dir = _run_dir(reference / "results")
    assert ref_dir is not None

    crashed = _setup(tmp_path / "crashed", server, server2)
    results = crashed / "results"
    kills: list[Kill] = []

    def start() -> subprocess.Popen[str]:
        run_dir = _run_dir(results)
        return _start(crashed, "--resume", str(run_dir)) if run_dir else _start(crashed)

    # a random moment, possibly before the run directory exists
    kills.append(_kill_when(start(), results, 0, after_s=rng.uniform(0.05, 1.5)))
    for number in range(3):  # while tests are running
        before = _lines(results)
        # a quarter of what is left at most: each kill leaves work for the next ones
        n = before + rng.randint(1, max(1, (TOTAL - before) // 4))
        kills.append(_kill_when(start(), results, before, lines=n))
        if number == 1:
            _tear(_run_dir(results))
    # after the last result, while the run scores and writes its reports
    kills.append(_kill_when(start(), results, _lines(results), lines=TOTAL))
    _tear(_run_dir(results))
    context += f"; kills: {'; '.join(map(str, kills))}"
    assert all(k.landed for k in kills), context
    mid_run = kills[1:4]
    assert all(k.started_at < k.seen < TOTAL for k in mid_run), context
    assert kills[-1].seen >= TOTAL, context

    resumed = start()
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, f"{context}\n{err}"
    run_dir = _run_dir(results)
    assert run_dir is not None

    journal = (run_dir / "results.jsonl").read_bytes()
    assert journal.endswith(b"\n"), f"{context}: the journal ends in a torn line"
    entries = [json.loads(line) for line in journal.splitlines()]  # every line parses
    final = _final(run_dir)
    expected = {(a, f"t{i:03d}", 0) for a in AGENTS for i in range(N_TESTS)}
    assert set(final) == expected, context
    ok = [(e["agent_id"], e["test_id"], e["repeat"]) for e in entries if e["status"] == "ok"]
    assert len(ok) == len(set(ok)) == TOTAL, context  # no finished test ran twice
    assert final == _final(ref_dir), context
    assert _quality(run_dir) == _quality(ref_dir), context
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "completed", context
    assert (run_dir / "report.html").stat().st_size > 0 and (run_dir / "report.md").exists()
    for agent in AGENTS:  # one result file per test, each the final result
        assert len(list((run_dir / agent).glob("*.json"))) == N_TESTS, context

    again = _start(crashed, "--resume", str(run_dir))
    out, err = again.communicate(timeout=60)
    assert again.returncode == 0 and "nothing to run" in out, context


def test_a_completed_run_with_a_torn_last_line_is_repaired_by_resume(
    tmp_path: Path, server: ScriptedServer, server2: ScriptedServer
) -> None:
    """The bug of seed 4: every result in, then a torn line; a resume with nothing left to run
    still drops it."""
    server.set_default(Answer("42"))
    server2.set_default(Answer("41"))
    directory = _setup(tmp_path / "run", server, server2)
    out, err = _start(directory).communicate(timeout=120)
    run_dir = _run_dir(directory / "results")
    journal = run_dir / "results.jsonl" if run_dir else None
    assert journal is not None, err
    whole = journal.read_bytes()
    _tear(run_dir)

    again = _start(directory, "--resume", str(run_dir))
    out, err = again.communicate(timeout=60)
    assert again.returncode == 0 and out.startswith("nothing to run"), err
    assert journal.read_bytes() == whole
    assert "torn (a crash while writing); dropping it" in err
