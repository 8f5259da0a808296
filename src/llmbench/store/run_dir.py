"""The durable run directory of a multi-agent run: ``results/<run_id>/``.

A run directory holds::

    manifest.json                   what the run is (config, agents, suite) and its status:
                                    running, completed, interrupted or failed
    results.jsonl                   the journal: one JSON line per finished test, appended and
                                    fsynced as each test ends; the source of truth on resume
    <agent>/<test>-r<repeat>.json   the latest result of one test for one agent and repeat
    <agent>/<test>-r<repeat>/files/ the files an agent left in its home (data-analysis tasks)
    scores.jsonl                    the scoring journal: one line per scored result (agent_id,
                                    test_id, repeat, scoring); a later line supersedes
    summary.json                    the run's summary (written by the reporting code)
    run.log                         the run's log (written by the logging set-up)

A crash loses at most the tests that were in flight: every journal line is written with one
``write()`` call and fsynced, so only the last line can be torn, and :meth:`RunDirectory.
read_journal` ignores a torn last line. A later line for the same agent, test and repeat
supersedes an earlier one (an error re-run with ``--retry-errors``); the journal keeps both.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, get_args

from llmbench import jsonio
from llmbench.errors import ResultsError
from llmbench.result import TestResult
from llmbench.store.files import (
    FILE_MODE,
    TEMPORARY_PREFIX,
    contained_path,
    dumps,
    dumps_bytes,
    ensure_directory,
    safe_component,
    write_all,
    write_atomic,
    write_copy,
)

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
JOURNAL = "results.jsonl"
SUMMARY = "summary.json"
RUN_LOG = "run.log"
SCORES = "scores.jsonl"
_RESERVED = frozenset({MANIFEST, JOURNAL, SUMMARY, RUN_LOG, SCORES, "report.md", "report.html"})

RunStatus = Literal["running", "completed", "interrupted", "failed"]
EntryKey = tuple[str, str, int]
"""``(agent_id, test_id, repeat)``: what one journal entry is the result of."""

_NOT_DONE = frozenset({"cancelled"})
"""Result statuses that always run again on resume."""


FILES_LEFT_OUT = ".llmbench-cut.json"
"""In a result's saved files folder: ``{"cap_bytes": n, "left_out": [{"file": name, "bytes":
size}, ...]}``, the files not saved because the total passed ``[sandbox] save_files_mb``."""


def run_keys(agent_ids: Iterable[str], test_ids: Iterable[str], repeats: int) -> list[EntryKey]:
    """Every key of a run, agent by agent, then repeat by repeat, in test order."""
    tests = list(test_ids)
    return [(a, t, r) for a in agent_ids for r in range(repeats) for t in tests]


def new_run_id(now: datetime | None = None) -> str:
    """A run id that sorts by start time (to the second), e.g. ``20261121T103000Z-a1b2c3``.

    ``now`` defaults to the current time; it is converted to UTC (a naive ``now`` is taken as
    UTC). The random suffix keeps two runs started in the same second apart.
    """
    moment = datetime.now(UTC) if now is None else now
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return f"{moment.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class JournalEntry:
    """One finished test of one agent: a line of ``results.jsonl``."""

    agent_id: str
    """The agent that ran the test."""
    test_id: str
    """The test's ``id`` in the suite; always equal to ``result.test_id``."""
    repeat: int
    """Which repetition of the test this is, from 0."""
    result: TestResult
    """What happened."""
    transcript: list[dict[str, Any]] | None = None
    """The conversation (messages) for interactive tests; None when there was none."""

    def __post_init__(self) -> None:
        if self.test_id != self.result.test_id:
            raise ValueError(
                f"journal entry for test {self.test_id!r} holds the result of test "
                f"{self.result.test_id!r}"
            )

    @property
    def key(self) -> EntryKey:
        """``(agent_id, test_id, repeat)``."""
        return (self.agent_id, self.test_id, self.repeat)

    def to_dict(self) -> dict[str, Any]:
        """``agent_id``, ``test_id``, ``repeat``, ``transcript``, then every other
        :class:`TestResult` field at the top level."""
        data: dict[str, Any] = {
            "agent_id": self.agent_id,
            "test_id": self.test_id,
            "repeat": self.repeat,
            "transcript": self.transcript,
        }
        data.update((k, v) for k, v in self.result.to_dict().items() if k != "test_id")
        return data

    def to_json_line(self) -> str:
        """:meth:`to_dict` as one line of JSON (no trailing newline), secrets scrubbed."""
        return dumps(self.to_dict(), pretty=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> JournalEntry:
        """Rebuild an entry from :meth:`to_dict` output.

        Raises ``ValueError`` when a key is missing or has the wrong type.
        """
        agent_id, test_id, repeat = entry_key(d)
        transcript = d.get("transcript")
        if transcript is not None and not isinstance(transcript, list):
            raise ValueError("expected 'transcript' to be a list or null")
        try:
            result = TestResult.from_dict(d)
        except TypeError as exc:
            raise ValueError(f"not a test result: {exc}") from None
        return cls(agent_id, test_id, repeat, result, transcript)


def entry_key(d: dict[str, Any]) -> EntryKey:
    """The key of a journal line's object; ``ValueError`` when a part is missing or mistyped."""
    agent_id, test_id, repeat = d.get("agent_id"), d.get("test_id"), d.get("repeat")
    if not isinstance(agent_id, str) or not isinstance(test_id, str):
        raise ValueError("expected string 'agent_id' and 'test_id'")
    if not isinstance(repeat, int) or isinstance(repeat, bool):
        raise ValueError(f"expected an integer 'repeat', got {repeat!r}")
    return agent_id, test_id, repeat


def _parse_line(raw: bytes) -> JournalEntry:
    data = jsonio.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    return JournalEntry.from_dict(data)


def _lines(data: bytes) -> list[tuple[int, int, bytes]]:
    """The non-blank lines of ``data`` as ``(line number from 1, byte offset, bytes)``."""
    found = []
    offset = 0
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if raw.strip():
            found.append((number, offset, raw))
        offset += len(raw) + 1
    return found


class RunDirectory:
    """A run directory: its manifest, its journal and the per-test result files.

    Make one with :meth:`create` (a new run) or :meth:`open` (resuming a run). :meth:`append`
    and the manifest methods may be called from several threads. Call :meth:`close` (or use
    the object as a context manager) to close the journal.
    """

    def __init__(self, path: Path) -> None:
        """Wrap an existing directory; use :meth:`create` or :meth:`open` instead."""
        self._path = path
        self._lock = threading.RLock()
        self._journal: int | None = None
        """The journal's file descriptor (unbuffered: a failed write leaves nothing behind
        to be flushed later)."""
        self._made: set[Path] = set()
        self._agent_dirs: dict[str, Path] = {}
        """Agent directories known to exist."""

    @classmethod
    def create(cls, results_dir: str | Path, run_id: str | None = None) -> RunDirectory:
        """Make ``results_dir/run_id/`` (``run_id`` defaults to :func:`new_run_id`).

        Raises :class:`ResultsError` when the directory already exists or ``run_id`` is not a
        safe file name. The caller writes the manifest next (:meth:`write_manifest`); until
        then :meth:`open` does not accept the directory.
        """
        run_id = new_run_id() if run_id is None else run_id
        parent = ensure_directory(results_dir)
        if safe_component(run_id) != run_id:
            raise ResultsError(f"{parent}: unsafe run id {run_id!r}")
        path = contained_path(parent, run_id)
        try:
            path.mkdir()
        except FileExistsError:
            raise ResultsError(f"{path}: the run directory already exists") from None
        except OSError as exc:
            raise ResultsError(f"{path}: cannot create the run directory: {exc.strerror}") from None
        return cls(path)

    @classmethod
    def open(cls, path: str | Path) -> RunDirectory:
        """An existing run directory, to resume it.

        Raises :class:`ResultsError` naming ``path`` when it has no ``manifest.json``.
        """
        directory = Path(path)
        if not (directory / MANIFEST).is_file():
            raise ResultsError(f"{directory}: not a run directory (no {MANIFEST})")
        return cls(directory.resolve())

    def remove_stale_temporaries(self) -> int:
        """Delete the temporary files a killed run left half-written (call when resuming, never
        while another process may be writing the run). Returns how many were removed."""
        removed = 0
        for directory in (self._path, *(p for p in self._path.iterdir() if p.is_dir())):
            for tmp in directory.glob(f"{TEMPORARY_PREFIX}*.json"):
                try:
                    tmp.unlink()
                    removed += 1
                except OSError as exc:
                    log.warning("%s: cannot remove a stale temporary file: %s", tmp, exc.strerror)
        return removed

    @property
    def path(self) -> Path:
        """The run directory."""
        return self._path

    @property
    def run_id(self) -> str:
        """The run's id: the directory's name."""
        return self._path.name

    @property
    def manifest_path(self) -> Path:
        """``manifest.json``."""
        return self._path / MANIFEST

    @property
    def journal_path(self) -> Path:
        """``results.jsonl``."""
        return self._path / JOURNAL

    # manifest

    def write_manifest(self, data: dict[str, Any]) -> None:
        """Replace ``manifest.json`` with ``data`` atomically, registered secrets scrubbed."""
        with self._lock:
            write_atomic(self.manifest_path, dumps_bytes(data, pretty=True) + b"\n")

    def read_manifest(self) -> dict[str, Any]:
        """The contents of ``manifest.json``."""
        path = self.manifest_path
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ResultsError(f"{path}: cannot read: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise ResultsError(f"{path}: not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ResultsError(f"{path}: expected a JSON object")
        return data

    def set_status(self, status: RunStatus, **extra: Any) -> None:
        """Set the manifest's ``status`` and any ``extra`` keys (``ended_at=...``) atomically."""
        if status not in get_args(RunStatus):
            raise ValueError(f"unknown run status {status!r}")
        with self._lock:
            data = self.read_manifest()
            data["status"] = status
            data.update(extra)
            self.write_manifest(data)

    # journal

    def append(self, entry: JournalEntry) -> None:
        """Record a finished test: write its per-test file, then append its journal line.

        The journal line is flushed and fsynced before this returns. An existing per-test file
        for the same key (an error retried on resume) is replaced; the journal keeps both.
        """
        self.append_many([entry])

    def append_many(self, entries: Sequence[JournalEntry], *, result_files: bool = True) -> None:
        """:meth:`append` for several entries with one journal write and one fsync (a group
        commit; see :class:`llmbench.store.writer.JournalWriter`).

        The per-test files are written first (atomically, not fsynced: the journal is the
        record, they are its readable copy), then every line in one ``write()``, so that a
        crash can only tear the last line. ``result_files=False`` leaves the per-test files to
        :meth:`write_scores` at the end of the run.
        """
        if not entries:
            return
        lines = []
        with self._lock:
            for entry in entries:
                as_dict = entry.to_dict()
                if result_files:
                    self._write_result_file(entry.key, as_dict)
                lines.append(dumps_bytes(as_dict, pretty=False) + b"\n")
            data = b"".join(lines)
            journal = self._open_journal()
            try:
                write_all(journal, data)
                os.fsync(journal)
            except OSError as exc:
                raise ResultsError(
                    f"{self.journal_path}: cannot append: {exc.strerror or exc}"
                ) from None

    def result_file(self, agent_id: str, test_id: str, repeat: int) -> Path:
        """Where the per-test file of ``(agent_id, test_id, repeat)`` goes."""
        agent_dir = self._agent_dirs.get(agent_id)
        if agent_dir is None:  # resolved (symlinks and all) once per agent
            agent_dir = contained_path(self._path, self._agent_dir_name(agent_id))
            self._agent_dirs[agent_id] = agent_dir
        # safe_component leaves only letters, digits, "._-" and no leading dot: one plain name
        return agent_dir / f"{safe_component(test_id)}-r{int(repeat)}.json"

    def files_dir(self, agent_id: str, test_id: str, repeat: int) -> Path:
        """Where the files the agent left in its home for ``(agent_id, test_id, repeat)`` are
        saved: ``<agent>/<test>-r<repeat>/files/`` beside the per-test file
        (:meth:`result_file`, its ``.json`` left off); not created."""
        agent_dir = self.result_file(agent_id, test_id, repeat).parent
        return agent_dir / f"{safe_component(test_id)}-r{int(repeat)}" / "files"

    def _write_result_file(self, key: EntryKey, as_dict: dict[str, Any]) -> None:
        target = self.result_file(*key)
        self._make_parent(target)
        write_copy(target, dumps_bytes(as_dict, pretty=True) + b"\n")

    def _make_parent(self, target: Path) -> None:
        if target.parent not in self._made:
            try:
                target.parent.mkdir(exist_ok=True)
            except OSError as exc:
                raise ResultsError(f"{target.parent}: cannot create: {exc.strerror}") from None
            self._made.add(target.parent)

    @staticmethod
    def _agent_dir_name(agent_id: str) -> str:
        name = safe_component(agent_id)
        if name in _RESERVED:
            # an agent called "manifest.json" must not take the manifest's place
            digest = hashlib.sha256(agent_id.encode("utf-8", "surrogatepass")).hexdigest()[:10]
            name = f"{name}-{digest}"
        return name

    def _open_journal(self) -> int:
        if self._journal is None:
            path = self.journal_path
            existed = path.exists()
            try:
                if existed:
                    self._repair_journal()
                self._journal = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
                if not existed:
                    _fsync_directory(self._path)
            except OSError as exc:
                raise ResultsError(f"{path}: cannot open: {exc.strerror or exc}") from None
        return self._journal

    def repair_journal(self) -> None:
        """Make the journal a crash left whole again: drop a torn last line, or end a complete
        last line that lost its newline. A resumed run calls this first, even when it has
        nothing left to run, so no run ends with a torn journal. Raises :class:`ResultsError`
        when the journal cannot be read or repaired."""
        with self._lock:
            try:
                self._repair_journal()
            except FileNotFoundError:
                return
            except OSError as exc:
                raise ResultsError(
                    f"{self.journal_path}: cannot repair: {exc.strerror or exc}"
                ) from None

    def _repair_journal(self) -> None:
        path = self.journal_path
        data = path.read_bytes()
        lines = _lines(data)
        if not lines:
            return
        number, offset, raw = lines[-1]
        try:
            _parse_line(raw)
        except ValueError:
            log.warning("%s: line %d is torn (a crash while writing); dropping it", path, number)
            os.truncate(path, offset)
            return
        if not data.endswith(b"\n"):
            with open(path, "ab") as fh:
                fh.write(b"\n")
                fh.flush()
                os.fsync(fh.fileno())

    def read_journal(self) -> list[JournalEntry]:
        """Every entry of ``results.jsonl`` in the order written; [] when there is none yet.

        A torn (unparsable) last line is ignored with a warning; any other unparsable line
        raises :class:`ResultsError` naming the file and the line number.
        """
        path = self.journal_path
        with self._lock:
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                return []
            except OSError as exc:
                raise ResultsError(f"{path}: cannot read: {exc.strerror or exc}") from None
        lines = _lines(data)
        entries = []
        for index, (number, _offset, raw) in enumerate(lines):
            try:
                entries.append(_parse_line(raw))
            except ValueError as exc:
                if index == len(lines) - 1:
                    log.warning("%s: ignoring torn last line %d", path, number)
                    break
                raise ResultsError(f"{path}: line {number}: not a journal entry: {exc}") from None
        return entries

    def final_entries(self) -> dict[EntryKey, JournalEntry]:
        """The last entry for each key: a later entry supersedes an earlier one."""
        return {entry.key: entry for entry in self.read_journal()}

    def pending(self, keys: Iterable[EntryKey], retry_errors: bool) -> list[EntryKey]:
        """The ``keys`` (in the given order, each once) that still have to run.

        A key is pending when it has no final entry or its final result was cancelled, and,
        with ``retry_errors``, also when its final result is an error.
        """
        final = self.final_entries()
        to_run: list[EntryKey] = []
        seen: set[EntryKey] = set()
        for key in keys:
            if key in seen:
                continue
            seen.add(key)
            entry = final.get(key)
            if (
                entry is None
                or entry.result.status in _NOT_DONE
                or (retry_errors and entry.result.status == "error")
            ):
                to_run.append(key)
        return to_run

    # scores

    def write_scores(
        self,
        scored: Iterable[tuple[EntryKey, dict[str, Any] | None, JournalEntry | None]],
        *,
        result_files: bool = True,
    ) -> None:
        """Append one ``scores.jsonl`` line per key and, with ``result_files``, write its
        per-test file: the entry with its ``scoring`` (given the entry; else ``scoring`` is
        added to the existing file)."""
        lines = []
        with self._lock:
            for key, scoring, entry in scored:
                agent_id, test_id, repeat = key
                line = {"agent_id": agent_id, "test_id": test_id, "repeat": repeat}
                line["scoring"] = scoring
                lines.append(dumps_bytes(line, pretty=False) + b"\n")
                if not result_files:
                    continue
                target = self.result_file(*key)
                if entry is not None:
                    data = entry.to_dict()
                    self._make_parent(target)
                else:
                    try:
                        data = jsonio.loads(target.read_bytes())
                    except (OSError, ValueError):
                        continue  # the result file is gone or damaged; the journal has it
                data["scoring"] = scoring
                # a readable copy: scores.jsonl (fsynced below) is the record
                write_copy(target, dumps_bytes(data, pretty=True) + b"\n")
            path = self._path / SCORES
            try:
                with open(path, "ab") as fh:
                    fh.write(b"".join(lines))
                    fh.flush()
                    os.fsync(fh.fileno())
            except OSError as exc:
                raise ResultsError(f"{path}: cannot append: {exc.strerror or exc}") from None

    def close(self) -> None:
        """Close the journal; a later :meth:`append` opens it again."""
        with self._lock:
            if self._journal is not None:
                journal, self._journal = self._journal, None
                os.close(journal)

    def __enter__(self) -> RunDirectory:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RunDirectory({str(self._path)!r})"


def files_dir(run_path: Path, agent_id: str, test_id: str, repeat: int) -> Path:
    """:meth:`RunDirectory.files_dir` of the run directory at ``run_path``, for a reader that
    has only its path (a report); the names are those of the per-test files."""
    agent_dir = Path(run_path) / RunDirectory._agent_dir_name(agent_id)
    return agent_dir / f"{safe_component(test_id)}-r{int(repeat)}" / "files"


def _fsync_directory(directory: Path) -> None:
    """Make a newly created file's directory entry durable (a no-op where unsupported)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
