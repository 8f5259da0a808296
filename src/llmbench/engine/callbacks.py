"""Progress callbacks: what a ``TestRunner`` caller hears as each test ends, off the event loop.

The engine hands each ended test's ``(ExecutionProgress, TestResult)`` to :meth:`CallbackQueue.put`,
which only queues it, so a slow callback never holds the event loop (and so never slows the
requests in flight). One worker thread calls the callbacks in the order the tests ended;
:meth:`CallbackQueue.close` waits until every queued call was made, so a caller of
``execute_*`` has heard of every result before the call returns. A callback that raises is
logged once per run (its first error, with the traceback) and keeps being called; it never
stops the run or the other callbacks.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence

from llmbench.result import ExecutionProgress, TestResult

log = logging.getLogger(__name__)

ProgressCallback = Callable[[ExecutionProgress, TestResult], object]
"""Called with the progress just after a test ended, and that test's result."""

_Event = tuple[ExecutionProgress, TestResult] | None
"""A call to make, or None: no more calls."""


class CallbackQueue:
    """Delivers ended tests to the callbacks ``callbacks()`` returns, on one worker thread.

    ``callbacks`` is asked at each delivery, so a callback added or removed during a run takes
    effect from the next test that ends. Nothing is queued and no thread started while it
    returns none.
    """

    def __init__(self, callbacks: Callable[[], Sequence[ProgressCallback]]) -> None:
        self._callbacks = callbacks
        self._queue: queue.SimpleQueue[_Event] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        """Set when the remaining calls are to be dropped (the run was interrupted)."""
        self._logged: set[int] = set()
        """``id()`` of the callbacks whose error was logged in this run."""

    def put(self, progress: ExecutionProgress, result: TestResult) -> None:
        """Queue one ended test; returns at once. Safe from any thread."""
        if not self._callbacks():
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._deliver, name="llmbench-progress-callbacks", daemon=True
                )
                self._thread.start()
        self._queue.put((progress, result))

    def close(self, *, wait: bool = True) -> None:
        """No more tests: with ``wait``, return once every queued call was made; otherwise
        drop the calls not made yet and return at once (the run was interrupted)."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is None:
            return
        if not wait:
            self._stop.set()
        self._queue.put(None)
        if wait:
            thread.join()

    def _deliver(self) -> None:
        while (event := self._queue.get()) is not None:
            if self._stop.is_set():
                continue
            for callback in tuple(self._callbacks()):
                self._call(callback, *event)

    def _call(
        self, callback: ProgressCallback, progress: ExecutionProgress, result: TestResult
    ) -> None:
        try:
            callback(progress, result)
        # the thread must outlive anything a callback does, or close() would wait forever
        except BaseException:
            if id(callback) not in self._logged:
                self._logged.add(id(callback))
                log.exception(
                    "progress callback %r raised (at test %s); the run goes on and its "
                    "further errors in this run are not logged",
                    callback,
                    result.test_id,
                )
