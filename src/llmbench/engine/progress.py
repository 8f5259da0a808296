"""Thread-safe progress of a run, read by ``TestRunner.get_progress`` from any thread."""

from __future__ import annotations

import threading
import time

from llmbench.result import ExecutionProgress, TestResult


class ProgressTracker:
    """Counts tests as they start and end; :meth:`snapshot` gives a consistent copy."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset(0)
        self._running = False

    def _reset(self, total: int) -> None:
        self._total = total
        self._ok = self._failed = self._cancelled = 0
        self._time_sum = 0.0
        # test id -> how many of its runs are in flight (repeats, agents); insertion order
        # is start order. A dict, not a list: at 1,024 in flight list.remove() cost more CPU
        # than the rest of a test's bookkeeping
        self._in_flight: dict[str, int] = {}
        self._started_at = time.monotonic()

    def start_run(self, total: int) -> None:
        """A new run of ``total`` tests begins."""
        with self._lock:
            self._reset(total)
            self._running = True

    def end_run(self) -> None:
        """The run is over; counts stay readable."""
        with self._lock:
            self._running = False
            self._in_flight.clear()

    def test_started(self, test_id: str) -> None:
        with self._lock:
            self._in_flight[test_id] = self._in_flight.pop(test_id, 0) + 1

    def test_finished(self, result: TestResult) -> None:
        with self._lock:
            left = self._in_flight.get(result.test_id, 0) - 1
            if left > 0:
                self._in_flight[result.test_id] = left
            else:
                self._in_flight.pop(result.test_id, None)
            self._time_sum += result.execution_time
            if result.status == "ok":
                self._ok += 1
            elif result.status == "cancelled":
                self._cancelled += 1
            else:
                self._failed += 1

    def snapshot(self) -> ExecutionProgress:
        """The state now."""
        with self._lock:
            done = self._ok + self._failed + self._cancelled
            elapsed = time.monotonic() - self._started_at if self._running or done else 0.0
            eta = None
            if done and self._running:
                eta = elapsed / done * max(0, self._total - done)
            elif done and not self._running:
                eta = 0.0
            return ExecutionProgress(
                total_tests=self._total,
                completed_tests=done,
                successful_tests=self._ok,
                failed_tests=self._failed,
                current_test=next(reversed(self._in_flight), None),
                estimated_remaining_time=eta,
                average_execution_time=self._time_sum / done if done else 0.0,
                cancelled_tests=self._cancelled,
                in_flight=tuple(t for t, n in self._in_flight.items() for _ in range(n)),
                elapsed_time=elapsed,
                is_running=self._running,
            )
