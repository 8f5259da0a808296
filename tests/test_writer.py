"""The background journal writer: group commit, flush, and a failed write stopping the run."""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmbench.errors import ResultsError
from llmbench.result import TestResult
from llmbench.store.run_dir import JournalEntry, RunDirectory
from llmbench.store.writer import JournalWriter


def _entry(i: int) -> JournalEntry:
    result = TestResult(
        test_id=f"t{i}", test_name=f"t{i}", success=True, response_text="x", execution_time=0.1
    )
    return JournalEntry("alpha", f"t{i}", 0, result)


@pytest.fixture
def run_dir(tmp_path: Path) -> Iterator[RunDirectory]:
    with RunDirectory.create(tmp_path) as run_dir:
        run_dir.write_manifest({"status": "running"})
        yield run_dir


def test_everything_submitted_is_saved_in_order_with_fewer_fsyncs(
    run_dir: RunDirectory, monkeypatch: pytest.MonkeyPatch
) -> None:
    fsyncs = []
    real_fsync = os.fsync
    gate = threading.Event()

    def slow_fsync(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").endswith("results.jsonl"):
            fsyncs.append(fd)
        gate.wait(5)  # the first batch waits here while the others pile up
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", slow_fsync)
    writer = JournalWriter(run_dir)
    for i in range(300):
        writer.submit(_entry(i))
    gate.set()
    writer.close()
    assert [e.test_id for e in run_dir.read_journal()] == [f"t{i}" for i in range(300)]
    assert writer.saved == 300 and writer.batches < 10 and len(fsyncs) == writer.batches
    assert not (run_dir.path / "alpha").exists()  # per-test files come with the scores


def test_flush_waits_until_saved(run_dir: RunDirectory) -> None:
    writer = JournalWriter(run_dir)
    writer.submit(_entry(1))
    writer.flush()
    assert [e.test_id for e in run_dir.read_journal()] == ["t1"]
    writer.close()


def test_a_failed_write_is_raised_by_the_next_submit_and_by_close(
    run_dir: RunDirectory, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = JournalWriter(run_dir)
    writer.submit(_entry(1))
    writer.flush()

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    writer.submit(_entry(2))
    with pytest.raises(ResultsError, match="No space left on device"):
        writer.flush()
    with pytest.raises(ResultsError):
        writer.submit(_entry(3))
    with pytest.raises(ResultsError):
        writer.close()
