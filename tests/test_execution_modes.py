"""Sequential, concurrent and category execution; progress; cancellation."""

from __future__ import annotations

import itertools
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from llmbench import SuiteError, TestRunner
from llmbench.engine import executor as executor_module
from llmbench.engine.test_run import TestRun
from tests.conftest import ignores_first_cancellation, make_test
from tests.scripted_server import Answer, Echo, ScriptedServer, Stall


def test_concurrent_results_come_back_in_input_order(
    server: ScriptedServer, runner: TestRunner
) -> None:
    # the first test is the slowest, so completion order differs from input order
    server.script(Answer(text="slow", ttft_s=0.4), marker="question t1")
    server.set_default(Echo())
    results = runner.execute_concurrent(["t1", "t2", "t3", "t4"], workers=4)
    assert [r.test_id for r in results] == ["t1", "t2", "t3", "t4"]
    assert results[0].response_text == "slow"
    assert results[1].response_text == "question t2"


def test_concurrent_keeps_at_most_workers_in_flight(
    server: ScriptedServer, runner: TestRunner
) -> None:
    server.set_default(Answer(text="x", ttft_s=0.3))
    peak = 0
    stop = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, len(runner.get_progress().in_flight))
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    started = time.monotonic()
    results = runner.execute_concurrent(workers=2)
    elapsed = time.monotonic() - started
    stop.set()
    watcher.join()
    assert len(results) == 6 and all(r.status == "ok" for r in results)
    assert peak == 2
    # six tests of 0.3 s with two in flight need three rounds
    received = sorted(r.received_at for r in server.requests)
    assert received[2] - received[0] >= 0.25 and received[4] - received[2] >= 0.25
    assert elapsed >= 0.85


def test_sequential_waits_delay_between_tests(server: ScriptedServer, runner: TestRunner) -> None:
    results = runner.execute_sequential(["t1", "t2", "t3"], delay=0.3)
    assert [r.test_id for r in results] == ["t1", "t2", "t3"]
    times = [r.received_at for r in server.requests]
    assert times[1] - times[0] >= 0.28 and times[2] - times[1] >= 0.28


def test_sequential_delay_defaults_to_metadata(
    server: ScriptedServer, runner: TestRunner, write_json
) -> None:
    runner.load_test_metadata(
        write_json(
            "meta.json",
            {
                "api_config": {"endpoint": server.chat_url, "model": "m"},
                "global_settings": {"delay_between_tests": 0.3},
            },
        )
    )
    runner.execute_sequential(["t1", "t2"])
    times = [r.received_at for r in server.requests]
    assert times[1] - times[0] >= 0.28


def test_metadata_caps_workers(server: ScriptedServer, runner: TestRunner, write_json) -> None:
    runner.load_test_metadata(
        write_json("meta.json", {"execution_modes": {"concurrent": {"max_workers": 1}}})
    )
    server.set_default(Answer(text="x", ttft_s=0.1))
    runner.execute_concurrent(workers=5)
    received = sorted(r.received_at for r in server.requests)
    assert all(b - a >= 0.09 for a, b in itertools.pairwise(received))


def test_execute_category_uses_categories_file(
    server: ScriptedServer, runner: TestRunner, write_json
) -> None:
    runner.load_categories(
        write_json(
            "cats.json", {"categories": {"pair": {"description": "", "test_ids": ["t5", "t2"]}}}
        )
    )
    results = runner.execute_category("pair")
    assert [r.test_id for r in results] == ["t5", "t2"]


def test_execute_category_falls_back_to_test_field(
    server: ScriptedServer, write_suite, tmp_path: Path
) -> None:
    runner = TestRunner()
    runner.load_test_suite(
        write_suite(
            make_test("a", category="math"),
            make_test("b", category="logic"),
            make_test("c", category="math"),
        )
    )
    runner.configure_api(server.chat_url, "m")
    assert [r.test_id for r in runner.execute_category("math", workers=2)] == ["a", "c"]
    with pytest.raises(SuiteError, match="unknown category 'maht'; did you mean math"):
        runner.execute_category("maht")


def test_unknown_test_id_suggests_the_closest(runner: TestRunner) -> None:
    with pytest.raises(SuiteError, match=r"t10 is not in the suite; did you mean t1\?"):
        runner.execute_sequential(["t1", "t10"])


def test_progress_during_and_after_a_run(server: ScriptedServer, runner: TestRunner) -> None:
    server.set_default(Answer(text="x", ttft_s=0.2))
    seen = []
    thread = threading.Thread(target=lambda: seen.extend(runner.execute_sequential()))
    thread.start()
    time.sleep(0.5)
    mid = runner.get_progress()
    thread.join()
    end = runner.get_progress()
    assert mid.is_running and mid.total_tests == 6
    assert 1 <= mid.completed_tests < 6
    assert mid.current_test is not None
    assert mid.estimated_remaining_time is not None and mid.estimated_remaining_time > 0
    assert not end.is_running
    assert (end.completed_tests, end.successful_tests, end.failed_tests) == (6, 6, 0)
    assert end.current_test is None
    assert end.average_execution_time >= 0.2


def test_cancel_from_another_thread(server: ScriptedServer, runner: TestRunner) -> None:
    server.set_default(Stall(after_chunks=1, stall_s=30))
    out: list = []
    thread = threading.Thread(target=lambda: out.extend(runner.execute_concurrent(workers=2)))
    thread.start()
    deadline = time.monotonic() + 5
    while server.request_count() < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    asked = time.monotonic()
    assert runner.cancel_execution() is True
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert time.monotonic() - asked < 1.0
    # the two tests in flight come back cancelled; the other four never started
    assert [r.test_id for r in out] == ["t1", "t2"]
    assert all(r.status == "cancelled" and not r.success for r in out)
    assert all(r.error_kind == "cancelled" for r in out)
    assert server.request_count() == 2
    progress = runner.get_progress()
    assert progress.cancelled_tests == 2 and not progress.is_running
    # the runner is usable again afterwards
    server.set_default(Answer(text="again"))
    assert runner.execute_single_test("t3").response_text == "again"


def test_cancel_with_nothing_running(runner: TestRunner) -> None:
    assert runner.cancel_execution() is False


def test_cancel_during_the_delay_between_tests(server: ScriptedServer, runner: TestRunner) -> None:
    out: list = []
    thread = threading.Thread(target=lambda: out.extend(runner.execute_sequential(delay=10)))
    thread.start()
    while server.request_count() < 1:
        time.sleep(0.01)
    time.sleep(0.1)
    runner.cancel_execution()
    thread.join(timeout=2)
    assert not thread.is_alive()
    assert [(r.test_id, r.status) for r in out] == [("t1", "ok")]


def test_cancel_from_a_signal_handler(server: ScriptedServer, runner: TestRunner) -> None:
    server.set_default(Stall(after_chunks=1, stall_s=30))
    previous = signal.signal(signal.SIGALRM, lambda *_: runner.cancel_execution())
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        started = time.monotonic()
        results = runner.execute_concurrent(workers=3)  # in the main thread, where signals land
        elapsed = time.monotonic() - started
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert elapsed < 1.5
    assert [(r.test_id, r.status) for r in results] == [
        ("t1", "cancelled"),
        ("t2", "cancelled"),
        ("t3", "cancelled"),
    ]


def test_ctrl_c_keeps_the_results_of_started_tests(
    server: ScriptedServer, runner: TestRunner
) -> None:
    server.script(Answer(text="done"), marker="question t1")
    server.set_default(Stall(after_chunks=1, stall_s=30))
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            runner.execute_concurrent(workers=2)
    finally:
        timer.cancel()
    assert [(r.test_id, r.status) for r in runner.last_results] == [
        ("t1", "ok"),
        ("t2", "cancelled"),
        ("t3", "cancelled"),
    ]
    assert not runner.get_progress().is_running


def test_cancel_is_bounded_even_when_a_test_ignores_it(
    server: ScriptedServer, runner: TestRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A test that swallows the cancellation is recorded as cancelled after the grace period;
    the run returns then, with each started test once."""

    monkeypatch.setattr(TestRun, "execute", ignores_first_cancellation)
    monkeypatch.setattr(executor_module, "CANCEL_GRACE_S", 0.2)
    threading.Timer(0.3, runner.cancel_execution).start()
    started = time.monotonic()
    out = runner.execute_concurrent(["t1", "t2", "t3"], workers=2)
    assert time.monotonic() - started < 5
    assert [(r.test_id, r.status) for r in out] == [("t1", "cancelled"), ("t2", "cancelled")]
    progress = runner.get_progress()
    assert progress.cancelled_tests == 2 and not progress.is_running
