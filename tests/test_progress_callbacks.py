"""Progress callbacks: called as each test ends, off the event loop, never stopping the run."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable

import pytest

from llmbench import ExecutionProgress, TestResult, TestRunner
from tests.scripted_server import Answer, Echo, ScriptedServer, Stall

Heard = list[tuple[ExecutionProgress, TestResult]]
LONG_S = 10.0
"""How long a callback waits for something that only a loop it does not hold can do."""

MODES: dict[str, Callable[[TestRunner], list[TestResult]]] = {
    "single": lambda r: [r.execute_single_test("t1")],
    "sequential": lambda r: r.execute_sequential(["t1", "t2", "t3"], delay=0),
    "concurrent": lambda r: r.execute_concurrent(["t1", "t2", "t3", "t4"], workers=4),
    "category": lambda r: r.execute_category("general", workers=2),
}


def _listen(runner: TestRunner) -> Heard:
    heard: Heard = []
    runner.add_progress_callback(lambda progress, result: heard.append((progress, result)))
    return heard


@pytest.mark.parametrize("mode", MODES)
def test_each_test_that_ends_is_heard_before_execute_returns(
    server: ScriptedServer, runner: TestRunner, mode: str
) -> None:
    server.set_default(Echo())
    heard = _listen(runner)
    results = MODES[mode](runner)
    assert len(heard) == len(results) >= 1
    # the progress is the one just after that test ended: counts go 1, 2, 3...
    assert [p.completed_tests for p, _ in heard] == list(range(1, len(results) + 1))
    assert all(p.total_tests == len(results) and p.is_running for p, _ in heard)
    # every returned result, each once (in the order they ended)
    assert sorted(id(r) for _, r in heard) == sorted(id(r) for r in results)


@pytest.mark.parametrize("mode", ["sequential", "concurrent", "category"])
def test_a_slow_callback_does_not_hold_the_run(
    server: ScriptedServer, runner: TestRunner, mode: str
) -> None:
    """The first call waits until every test has ended: it can only see that if the tests go
    on while it runs. On the event loop it would wait the whole LONG_S in vain."""
    server.set_default(Answer(text="x", ttft_s=0.1))
    total = {"sequential": 3, "concurrent": 4, "category": 6}[mode]
    saw_all_end: list[bool] = []

    def slow(progress: ExecutionProgress, result: TestResult) -> None:
        if not saw_all_end:
            deadline = time.monotonic() + LONG_S
            while runner.get_progress().completed_tests < total and time.monotonic() < deadline:
                time.sleep(0.01)
            saw_all_end.append(runner.get_progress().completed_tests == total)
        time.sleep(0.2)

    runner.add_progress_callback(slow)
    heard = _listen(runner)
    results = MODES[mode](runner)
    assert len(results) == total
    assert saw_all_end == [True]
    assert len(heard) == total  # the queue was drained before execute returned


def test_slow_callbacks_overlap_neither_the_requests_nor_each_others_queue(
    server: ScriptedServer, runner: TestRunner
) -> None:
    """4 tests at 4 workers and a callback that sleeps 0.5 s a call: the requests are all in
    flight together and all sent before the first call ends; the call returns only once the
    four calls (2 s) are made."""
    server.set_default(Answer(text="x", ttft_s=0.3))
    sent_when_first_ended: list[int] = []
    ended: list[str] = []

    def slow(progress: ExecutionProgress, result: TestResult) -> None:
        time.sleep(0.5)
        if not sent_when_first_ended:
            sent_when_first_ended.append(server.request_count())
        ended.append(result.test_id)

    runner.add_progress_callback(slow)
    started = time.monotonic()
    results = runner.execute_concurrent(["t1", "t2", "t3", "t4"], workers=4)
    elapsed = time.monotonic() - started
    assert [r.status for r in results] == ["ok"] * 4
    assert server.peak_in_flight() == 4
    assert sent_when_first_ended == [4]
    assert sorted(ended) == ["t1", "t2", "t3", "t4"]  # every call made before the return
    # bounded by the callback queue (4 x 0.5 s, one at a time), not by the tests
    assert 2.0 <= elapsed < 2.0 + LONG_S


def test_a_raising_callback_is_logged_once_and_stops_nothing(
    server: ScriptedServer, runner: TestRunner, caplog: pytest.LogCaptureFixture
) -> None:
    server.set_default(Echo())
    calls: list[str] = []

    def broken(progress: ExecutionProgress, result: TestResult) -> None:
        calls.append(result.test_id)
        raise RuntimeError("callback bug")

    runner.add_progress_callback(broken)
    heard = _listen(runner)
    with caplog.at_level(logging.ERROR, logger="llmbench"):
        results = runner.execute_concurrent(workers=3)
    assert [r.status for r in results] == ["ok"] * 6
    assert len(calls) == 6  # still called for every test
    assert len(heard) == 6  # and the callbacks after it too
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "progress callback" in errors[0].getMessage()
    assert errors[0].exc_info is not None and "callback bug" in str(errors[0].exc_info[1])


def test_cancelled_tests_are_heard(server: ScriptedServer, runner: TestRunner) -> None:
    server.set_default(Stall(after_chunks=1, stall_s=30))
    heard = _listen(runner)

    def cancel_once_sent() -> None:
        deadline = time.monotonic() + LONG_S
        while server.request_count() < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        runner.cancel_execution()

    canceller = threading.Thread(target=cancel_once_sent)
    canceller.start()
    results = runner.execute_concurrent(workers=2)
    canceller.join()
    assert [r.status for r in results] == ["cancelled", "cancelled"]
    assert sorted(r.test_id for _, r in heard) == ["t1", "t2"]
    assert heard[-1][0].cancelled_tests == 2


def test_a_removed_callback_is_not_called(server: ScriptedServer, runner: TestRunner) -> None:
    heard: Heard = []

    def listen(progress: ExecutionProgress, result: TestResult) -> None:
        heard.append((progress, result))

    runner.add_progress_callback(listen)
    runner.execute_single_test("t1")
    runner.remove_progress_callback(listen)
    runner.execute_single_test("t2")
    assert [r.test_id for _, r in heard] == ["t1"]
    with pytest.raises(ValueError, match="is not a progress callback of this runner"):
        runner.remove_progress_callback(listen)


def test_a_callback_must_be_callable(runner: TestRunner) -> None:
    with pytest.raises(TypeError, match="add_progress_callback: expected a callable, got 3"):
        runner.add_progress_callback(3)  # type: ignore[arg-type]


def test_ctrl_c_does_not_wait_for_the_callbacks(server: ScriptedServer, runner: TestRunner) -> None:
    server.script(Answer(text="done"), marker="question t1")
    server.set_default(Stall(after_chunks=1, stall_s=30))
    release = threading.Event()
    runner.add_progress_callback(lambda progress, result: release.wait(LONG_S))
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            runner.execute_concurrent(workers=2)
        # t1's callback is still waiting: the interrupted run did not wait for it
        assert time.monotonic() - started < LONG_S / 2
    finally:
        timer.cancel()
        release.set()
    assert [r.status for r in runner.last_results] == ["ok", "cancelled", "cancelled"]
