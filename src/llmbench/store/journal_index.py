"""Reading a run's final results one at a time: :class:`JournalIndex`.

The end of a run, ``llmbench score`` and ``llmbench report`` read every final result of a run
once, and a report reads a few of them again. Instead of loading ``results.jsonl`` whole, one
pass over it notes where the final line of each key of the run starts (a byte offset, 8 bytes a
key) and one pass over ``scores.jsonl`` does the same for the latest scoring; a result is then
read back by seeking to its line. Scorings made during this pass are kept in a temporary file
beside, for the reports to read back the same way.

The journal is read as :meth:`RunDirectory.read_journal` reads it: a later line for a key
supersedes an earlier one, a torn (unparsable) last line is ignored with a warning, and any
other unparsable line is a :class:`ResultsError` naming the file and the line. In
``scores.jsonl``, which is derived from the journal, an unparsable line is skipped with a
warning wherever it is (a kill while scores were appended can leave one mid-file).
"""

from __future__ import annotations

import logging
import os
import tempfile
from array import array
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from llmbench import jsonio
from llmbench.errors import ResultsError
from llmbench.store.run_dir import SCORES, EntryKey, JournalEntry, RunDirectory, entry_key

log = logging.getLogger(__name__)

_NOWHERE = -1


def _parse_entry(raw: bytes) -> JournalEntry:
    data = jsonio.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    return JournalEntry.from_dict(data)


def _parse_key(raw: bytes) -> tuple[EntryKey, str]:
    """The key and the model of a journal line, checked as :meth:`JournalEntry.from_dict`
    checks them; the rest of the entry is checked when :meth:`JournalIndex.entry` reads it."""
    data = jsonio.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    model = data.get("model")
    return entry_key(data), model if isinstance(model, str) else ""


def _parse_scoring(raw: bytes) -> tuple[EntryKey, dict[str, Any] | None]:
    try:
        line = jsonio.loads(raw)
        key = (str(line["agent_id"]), str(line["test_id"]), int(line["repeat"]))
        scoring = line["scoring"]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a scoring line: {exc}") from None
    return key, scoring if isinstance(scoring, dict) else None


def _lines(fh: IO[bytes], path: Path) -> Iterator[tuple[int, int, bytes]]:
    """``(line number from 1, byte offset, bytes)`` of each non-blank line of ``fh``, up to the
    size the file had when this started (a line appended meanwhile is not half read)."""
    try:
        end = os.fstat(fh.fileno()).st_size
        fh.seek(0)
        offset = 0
        number = 0
        while offset < end:
            raw = fh.readline(end - offset)
            if not raw:
                break
            number += 1
            if raw.strip():
                yield number, offset, raw
            offset += len(raw)
    except OSError as exc:
        raise ResultsError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _open(path: Path) -> IO[bytes] | None:
    try:
        return open(path, "rb")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ResultsError(f"{path}: cannot read: {exc.strerror or exc}") from None


class JournalIndex:
    """Where the final entry and the latest scoring of each key of a run are.

    Build one with :meth:`build`; key ``i`` is ``keys[i]``. Close it (or use it as a context
    manager) to close the files it reads.
    """

    def __init__(self, run_dir: RunDirectory, keys: Sequence[EntryKey]) -> None:
        """An empty index; :meth:`build` fills one."""
        self.run_dir = run_dir
        self.keys = keys
        self.models: dict[str, str] = {}
        """The first model name each agent's results name: the model that served them."""
        self._position = {key: i for i, key in enumerate(keys)}
        self._entry_at = array("q", [_NOWHERE]) * len(keys)
        self._stored_at = array("q", [_NOWHERE]) * len(keys)
        self._fresh_at = array("q", [_NOWHERE]) * len(keys)
        self._journal: IO[bytes] | None = None
        self._scores: IO[bytes] | None = None
        self._fresh: IO[bytes] | None = None

    @classmethod
    def build(cls, run_dir: RunDirectory, keys: Sequence[EntryKey]) -> JournalIndex:
        """Read ``results.jsonl`` and ``scores.jsonl`` of ``run_dir`` once each."""
        index = cls(run_dir, keys)
        try:
            index._index_journal()
            index._index_scores()
        except BaseException:
            index.close()
            raise
        return index

    def _index_journal(self) -> None:
        path = self.run_dir.journal_path
        self._journal = _open(path)
        if self._journal is None:
            return
        torn: tuple[int, str] | None = None
        for number, offset, raw in _lines(self._journal, path):
            if torn is not None:
                raise ResultsError(f"{path}: line {torn[0]}: not a journal entry: {torn[1]}")
            try:
                key, model = _parse_key(raw)
            except ValueError as exc:
                torn = (number, str(exc))
                continue
            if model:
                self.models.setdefault(key[0], model)
            i = self._position.get(key)
            if i is not None:
                self._entry_at[i] = offset
        if torn is not None:
            log.warning("%s: ignoring torn last line %d", path, torn[0])

    def _index_scores(self) -> None:
        path = self.run_dir.path / SCORES
        self._scores = _open(path)
        if self._scores is None:
            return
        for number, offset, raw in _lines(self._scores, path):
            try:
                key, _ = _parse_scoring(raw)
            except ValueError:
                log.warning("%s: line %d is not a scoring line; ignoring it", path, number)
                continue
            i = self._position.get(key)
            if i is not None:
                self._stored_at[i] = offset

    def __len__(self) -> int:
        return len(self.keys)

    def has_entry(self, i: int) -> bool:
        """True when key ``i`` has a result in the journal."""
        return self._entry_at[i] != _NOWHERE

    def entry(self, i: int) -> JournalEntry:
        """The final journal entry of key ``i`` (which must have one)."""
        assert self._journal is not None and self.has_entry(i)
        path, offset = self.run_dir.journal_path, self._entry_at[i]
        try:
            return _parse_entry(self._read(self._journal, offset, path))
        except ValueError as exc:  # its key was readable, the rest of it is not
            agent_id, test_id, repeat = self.keys[i]
            raise ResultsError(
                f"{path}: the entry of {agent_id} / {test_id} (repeat {repeat}) at byte "
                f"{offset}: not a journal entry: {exc}"
            ) from None

    def has_stored_scoring(self, i: int) -> bool:
        """True when ``scores.jsonl`` has a line for key ``i`` (its scoring may be null)."""
        return self._stored_at[i] != _NOWHERE

    def scoring(self, i: int) -> dict[str, Any] | None:
        """Key ``i``'s scoring block: the one given to :meth:`keep_scoring`, else the latest in
        ``scores.jsonl``; None when it has none or its test has nothing to score."""
        if self._fresh_at[i] != _NOWHERE:
            assert self._fresh is not None
            line = self._read(self._fresh, self._fresh_at[i], self.run_dir.path / "(new scores)")
            kept = jsonio.loads(line)
            return kept if isinstance(kept, dict) else None
        if self._stored_at[i] == _NOWHERE:
            return None
        assert self._scores is not None
        path = self.run_dir.path / SCORES
        return _parse_scoring(self._read(self._scores, self._stored_at[i], path))[1]

    def keep_scoring(self, i: int, scoring: dict[str, Any] | None) -> None:
        """Remember key ``i``'s new scoring (on disk, in a temporary file) for :meth:`scoring`."""
        if self._fresh is None:
            self._fresh = tempfile.TemporaryFile(prefix="llmbench-scores-")  # noqa: SIM115
        fh = self._fresh
        fh.seek(0, os.SEEK_END)
        self._fresh_at[i] = fh.tell()
        fh.write(jsonio.dumps_bytes(scoring) + b"\n")

    @staticmethod
    def _read(fh: IO[bytes], offset: int, path: Path) -> bytes:
        try:
            fh.seek(offset)
            return fh.readline()
        except OSError as exc:
            raise ResultsError(f"{path}: cannot read: {exc.strerror or exc}") from None

    def close(self) -> None:
        """Close the files read (the temporary one is deleted)."""
        for fh in (self._journal, self._scores, self._fresh):
            if fh is not None:
                fh.close()
        self._journal = self._scores = self._fresh = None

    def __enter__(self) -> JournalIndex:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
