"""Saving results off the event loop: a writer thread with group commit.

One fsync per result caps a run at a few hundred results a second on an ordinary disk and, done
in the event loop's thread, stalls every request in flight while it waits (which would show up
as client-side latency in the speed figures). :class:`JournalWriter` takes finished results
without blocking and saves them from a background thread in batches: every result that arrived
while the previous batch was being written goes into the next one, with one journal ``write()``
and one fsync for the whole batch (:meth:`RunDirectory.append_many`). Under light load a batch
is one result, so nothing waits; under heavy load the fsyncs amortise. The per-test files are
not written here but once, with their scoring, at the end of the run
(:meth:`RunDirectory.write_scores`): every file write is a few system calls, each of which
hands the GIL back and waits for the busy event loop to give it up again.

A result counts as saved once its batch's fsync returned. A crash can lose the results still
queued (milliseconds' worth); those tests have no journal line, so ``--resume`` runs them again.
When a write fails, the writer keeps the :class:`ResultsError`, drops the rest, and
:meth:`submit`, :meth:`flush` and :meth:`close` raise it, so the run stops at the next result.
"""

from __future__ import annotations

import logging
import queue
import threading

from llmbench.errors import ResultsError
from llmbench.store.run_dir import JournalEntry, RunDirectory

log = logging.getLogger(__name__)

MAX_BATCH = 512
"""Most results in one group commit."""

_STOP = object()


class JournalWriter:
    """Appends :class:`JournalEntry` objects to a run directory from a background thread."""

    def __init__(self, run_dir: RunDirectory) -> None:
        self.run_dir = run_dir
        self.error: ResultsError | None = None
        self.saved = 0
        self.batches = 0
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._pending = 0
        self._idle = threading.Condition()
        self._thread = threading.Thread(target=self._work, name="llmbench-writer", daemon=True)
        self._thread.start()

    def submit(self, entry: JournalEntry) -> None:
        """Queue ``entry`` to be saved; raises the writer's :class:`ResultsError` once a write
        has failed (the entry is then not saved)."""
        if self.error is not None:
            raise self.error
        with self._idle:
            self._pending += 1
        self._queue.put(entry)

    def flush(self) -> None:
        """Wait until everything submitted so far is saved (or the writer failed)."""
        with self._idle:
            self._idle.wait_for(lambda: self._pending == 0)
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        """Save what is queued, stop the thread, and raise a write error if there was one."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()
        if self.error is not None:
            raise self.error

    def _work(self) -> None:
        stopping = False
        while not stopping:
            batch: list[JournalEntry] = []
            item = self._queue.get()
            while True:
                if item is _STOP:
                    stopping = True
                else:
                    assert isinstance(item, JournalEntry)
                    batch.append(item)
                if stopping or len(batch) >= MAX_BATCH:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            self._write(batch)

    def _write(self, batch: list[JournalEntry]) -> None:
        if batch and self.error is None:
            try:
                self.run_dir.append_many(batch, result_files=False)
                self.saved += len(batch)
                self.batches += 1
            except ResultsError as exc:
                self.error = exc
                log.error("cannot save results, stopping the run: %s", exc)
            except Exception as exc:  # a bug must not leave flush() waiting forever
                self.error = ResultsError(f"{self.run_dir.path}: cannot save results: {exc!r}")
                log.exception("unexpected error while saving results")
        with self._idle:
            self._pending -= len(batch)
            self._idle.notify_all()
