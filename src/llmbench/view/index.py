"""A run's journal as the viewer reads it: :class:`RunIndex`, grown by byte offset.

:class:`llmbench.store.journal_index.JournalIndex` is built once over the keys a run was meant
to have; the viewer needs the same offsets for a journal that is still growing, whose keys it
may not know (a run whose manifest lost its selection), and the few figures that filter, sort
and count records. So :meth:`RunIndex.refresh` reads only what was appended to
``results.jsonl`` and ``scores.jsonl`` since the last call (whole lines only: a line being
written is read on the next call) and keeps, per final entry (one per agent, test and repeat,
in the order each first appeared):

- where its journal line and its latest scoring line are (offset and length), to read the
  record back with one ``pread`` when it is opened;
- its agent, test id, repeat, category, status, latency, end time, score and verdict, in
  typed arrays (about 100 bytes a result with the test id and the key), so that a page of
  100,000 results is filtered, sorted and cut without reading the journal.

No record text is kept: the text filter reads the lines of the candidates (one sequential pass,
never more than one line in memory). The journal is read as :meth:`RunDirectory.read_journal`
reads it (a later line for a key supersedes an earlier one); a line that does not parse is
counted in :attr:`RunIndex.bad_lines` and skipped, never fatal: a viewer shows what it can.
A journal shorter than what was read (repaired on resume) is read again from the start.
"""

from __future__ import annotations

import json
import math
import os
import threading
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from llmbench import jsonio
from llmbench.store.run_dir import JOURNAL, SCORES, entry_key

CHUNK = 4 * 1024 * 1024
"""Bytes read from a journal at a time."""

STATUSES = ("ok", "error", "cancelled")
"""Request statuses by their code; another status (a newer llmbench's) is code 3, "other"."""
_OTHER = len(STATUSES)

_NO_SCORING, _NULL_SCORING, _SCORED = 0, 1, 2
"""What a result's scoring is: no line in scores.jsonl yet, a null one (nothing to score), or
a block."""

SORT_KEYS = ("agent_id", "test_id", "category", "repeat", "status", "score", "passed", "latency")
STATUS_FILTERS = ("ok", "error", "cancelled", "failed", "passed")
"""``failed``: failed, errored or not scored, as the report's "only failed"; ``passed``:
scored and passed."""


@dataclass
class AgentFigures:
    """One agent's counts, for the live progress (:func:`llmbench.view.live.progress`)."""

    ok: int = 0
    errors: int = 0
    cancelled: int = 0
    since: int = 0
    """Results (not cancelled) that ended at or after the ``since`` given."""
    busy_s: float = 0.0
    """The latencies of the results (not cancelled) that ended at or after ``window_from``."""
    last_end: float | None = None


@dataclass(frozen=True)
class RecordFilter:
    """Which records a page shows, and in which order."""

    agents: frozenset[str] | None = None
    """Only these agents; None: every agent."""
    category: str | None = None
    status: str | None = None
    """One of :data:`STATUS_FILTERS`; None: any."""
    text: str = ""
    """Case-insensitive, in the agent, test id and name, category, status, answer or error."""
    test: str | None = None
    """Only this test id."""
    sort: str | None = None
    """One of :data:`SORT_KEYS`; None: the order results arrived in."""
    descending: bool = False


def _end_time(timestamp: Any, seconds: float) -> float:
    """When a result ended, in seconds since the epoch; NaN when its start is unknown."""
    if not isinstance(timestamp, str) or not timestamp:
        return math.nan
    try:
        return datetime.fromisoformat(timestamp).timestamp() + seconds
    except ValueError:
        return math.nan


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _text_fields(data: dict[str, Any]) -> Iterator[str]:
    for name in ("agent_id", "test_id", "test_name", "category", "status"):
        value = data.get(name)
        if isinstance(value, str):
            yield value
    for name in ("response_text", "error_message"):
        value = data.get(name)
        if isinstance(value, str):
            yield value


class RunIndex:
    """The final entries of one run directory's journal; see the module docstring.

    Thread-safe: the viewer refreshes and reads it from worker threads.
    """

    def __init__(self, run_path: Path) -> None:
        """An empty index of ``run_path``; :meth:`refresh` reads the files."""
        self.path = run_path
        self.lock = threading.RLock()
        """Held while the index grows; hold it to read several results consistently (a
        journal repaired under the viewer makes the index start again)."""
        self._clear()

    def _clear(self) -> None:
        self.agents: list[str] = []
        self.categories: list[str] = []
        self._agent_no: dict[str, int] = {}
        self._category_no: dict[str, int] = {}
        self.test_ids: list[str] = []
        self._agent = array("I")
        self._repeat = array("I")
        self._category = array("I")
        self._status = array("b")
        self._latency = array("d")
        self._ended = array("d")
        self._line_at = array("q")
        self._line_len = array("I")
        self._scoring = array("b")
        self._score = array("d")
        self._passed = array("b")
        """-1 unknown (not scored), 0 failed, 1 passed."""
        self._scoring_error = array("b")
        self._scoring_at = array("q")
        self._scoring_len = array("I")
        self._where: dict[tuple[int, str, int], int] = {}
        self._log_at = array("q")
        """The offset of every journal line read, in order (for :meth:`changed_since`)."""
        self._log_position = array("I")
        self._early: dict[tuple[str, str, int], tuple[int, int, Any]] = {}
        """Scoring lines read before their result's journal line."""
        self.journal_end = 0
        """Bytes of ``results.jsonl`` read (whole lines)."""
        self.scores_end = 0
        self.bad_lines = 0
        """Lines that did not parse (skipped)."""
        self.lines_read = 0
        """Lines read back after indexing (a record opened, a text search): what tests watch to
        see that a page of records is served from the index alone."""
        self.version = 0
        """Bumped whenever something new was read."""

    def __len__(self) -> int:
        return len(self.test_ids)

    # reading the files

    def refresh(self) -> bool:
        """Read what was appended since the last call; True when anything new was read."""
        with self.lock:
            journal = self.path / JOURNAL
            try:
                size = journal.stat().st_size
            except OSError:
                size = 0
            if size < self.journal_end:
                self._clear()  # repaired (a torn line dropped) while we read it: start again
            grown = self._read_lines(journal, self.journal_end, self._journal_line)
            self.journal_end += grown
            scored = self._read_lines(self.path / SCORES, self.scores_end, self._scores_line)
            self.scores_end += scored
            if grown or scored:
                self.version += 1
            return bool(grown or scored)

    def _read_lines(self, path: Path, start: int, take: Callable[[int, bytes], None]) -> int:
        """Hand every whole line of ``path`` from ``start`` to ``take(offset, line)``; the
        bytes consumed."""
        try:
            fh = open(path, "rb")  # noqa: SIM115 (closed below, after the loop)
        except OSError:
            return 0
        with fh:
            end = os.fstat(fh.fileno()).st_size
            if end < start:
                return 0
            fh.seek(start)
            offset, rest = start, b""
            while offset + len(rest) < end:
                chunk = fh.read(min(CHUNK, end - offset - len(rest)))
                if not chunk:
                    break
                data = rest + chunk
                cut = data.rfind(b"\n") + 1
                at = 0
                while at < cut:
                    nl = data.index(b"\n", at)
                    if nl > at:
                        take(offset + at, data[at : nl + 1])
                    at = nl + 1
                offset += cut
                rest = data[cut:]
            return offset - start

    def _journal_line(self, offset: int, raw: bytes) -> None:
        if not raw.strip():
            return
        try:
            data = jsonio.loads(raw)
            if not isinstance(data, dict):
                raise ValueError("not an object")
            agent_id, test_id, repeat = entry_key(data)
        except ValueError:
            self.bad_lines += 1
            return
        agent = self._number_of(agent_id, self.agents, self._agent_no)
        key = (agent, test_id, repeat)
        position = self._where.get(key)
        if position is None:
            position = len(self.test_ids)
            self._where[key] = position
            self.test_ids.append(test_id)
            self._agent.append(agent)
            self._repeat.append(max(repeat, 0))
            for column in (self._category, self._line_len, self._scoring_len):
                column.append(0)
            for column in (self._status, self._scoring, self._scoring_error):
                column.append(0)
            for floats in (self._latency, self._ended, self._score):
                floats.append(math.nan)
            self._passed.append(-1)
            self._line_at.append(0)
            self._scoring_at.append(-1)
        category = data.get("category")
        status = data.get("status")
        latency = _number(data.get("execution_time"))
        self._category[position] = self._number_of(
            category if isinstance(category, str) else "", self.categories, self._category_no
        )
        self._status[position] = STATUSES.index(status) if status in STATUSES else _OTHER
        self._latency[position] = latency
        self._ended[position] = _end_time(data.get("timestamp"), latency)
        self._line_at[position] = offset
        self._line_len[position] = len(raw)
        self._log_at.append(offset)
        self._log_position.append(position)
        early = self._early.pop((agent_id, test_id, repeat), None)
        if early is not None:
            self._set_scoring(position, *early)

    def _scores_line(self, offset: int, raw: bytes) -> None:
        if not raw.strip():
            return
        try:
            line = jsonio.loads(raw)
            key = (str(line["agent_id"]), str(line["test_id"]), int(line["repeat"]))
            scoring = line["scoring"]
        except (ValueError, KeyError, TypeError):
            self.bad_lines += 1
            return
        agent = self._agent_no.get(key[0])
        position = None if agent is None else self._where.get((agent, key[1], key[2]))
        if position is None:
            self._early[key] = (offset, len(raw), scoring)
        else:
            self._set_scoring(position, offset, len(raw), scoring)

    def _set_scoring(self, position: int, offset: int, length: int, scoring: Any) -> None:
        self._scoring_at[position] = offset
        self._scoring_len[position] = length
        if not isinstance(scoring, dict):
            self._scoring[position] = _NULL_SCORING
            self._score[position], self._passed[position] = math.nan, -1
            self._scoring_error[position] = 0
            return
        score, passed = scoring.get("score"), scoring.get("passed")
        self._scoring[position] = _SCORED
        self._score[position] = _number(score) if isinstance(score, int | float) else math.nan
        self._passed[position] = -1 if not isinstance(passed, bool) else int(passed)
        self._scoring_error[position] = int(bool(scoring.get("error")))

    @staticmethod
    def _number_of(name: str, names: list[str], numbers: dict[str, int]) -> int:
        number = numbers.get(name)
        if number is None:
            number = numbers[name] = len(names)
            names.append(name)
        return number

    # what a page shows

    def status_of(self, i: int) -> str:
        code = self._status[i]
        return STATUSES[code] if code < _OTHER else "other"

    def agent_of(self, i: int) -> str:
        return self.agents[self._agent[i]]

    def key_of(self, i: int) -> tuple[str, str, int]:
        """``(agent_id, test_id, repeat)`` of result ``i``."""
        return self.agents[self._agent[i]], self.test_ids[i], self._repeat[i]

    def position_of(self, agent_id: str, test_id: str, repeat: int) -> int | None:
        agent = self._agent_no.get(agent_id)
        return None if agent is None else self._where.get((agent, test_id, repeat))

    def score_of(self, i: int) -> float | None:
        value = self._score[i]
        return None if math.isnan(value) else value

    def passed_of(self, i: int) -> bool | None:
        value = self._passed[i]
        return None if value < 0 else bool(value)

    def failed(self, i: int) -> bool:
        """Failed, errored or not scored: the report's "only failed"."""
        return self._status[i] != 0 or bool(self._scoring_error[i]) or self._passed[i] == 0

    def ended_at(self, i: int) -> float | None:
        value = self._ended[i]
        return None if math.isnan(value) else value

    def latency_of(self, i: int) -> float:
        return self._latency[i]

    def row(self, i: int) -> dict[str, Any]:
        """Result ``i`` as a row of the records table: the shape of a scored record (the
        fields the table shows), so the report's scripts read it alike."""
        error = bool(self._scoring_error[i])
        scoring = None
        if self._scoring[i] == _SCORED:
            scoring = {
                "score": self.score_of(i),
                "passed": self.passed_of(i),
                "error": "(open the record)" if error else None,
            }
        return {
            "position": i,
            "agent_id": self.agent_of(i),
            "test_id": self.test_ids[i],
            "repeat": self._repeat[i],
            "category": self.categories[self._category[i]],
            "status": self.status_of(i),
            "execution_time": self._latency[i],
            "scoring": scoring,
            "scored": self._scoring[i] != _NO_SCORING,
        }

    def select(self, f: RecordFilter) -> Sequence[int]:
        """The positions of the results ``f`` lets through, in its order."""
        with self.lock:
            n = len(self)
            chosen: Sequence[int] = range(n)
            tests: Callable[[int], bool] | None = None
            checks: list[Callable[[int], bool]] = []
            if f.agents is not None:
                wanted = {self._agent_no[a] for a in f.agents if a in self._agent_no}
                agent = self._agent
                checks.append(lambda i: agent[i] in wanted)
            if f.category is not None:
                number = self._category_no.get(f.category, -1)
                category = self._category
                checks.append(lambda i: category[i] == number)
            if f.test is not None:
                test_ids, test = self.test_ids, f.test
                tests = lambda i: test_ids[i] == test  # noqa: E731
                checks.append(tests)
            if f.status is not None:
                checks.append(self._status_check(f.status))
            if checks:
                chosen = [i for i in chosen if all(check(i) for check in checks)]
            if f.text.strip():
                chosen = list(self._matching(chosen, f.text.strip()))
            if f.sort is not None:
                chosen = self._sorted(chosen, f.sort, f.descending)
            elif f.descending:
                chosen = list(reversed(chosen))
            return chosen

    def _status_check(self, status: str) -> Callable[[int], bool]:
        codes = self._status
        if status == "failed":
            return self.failed
        if status == "passed":
            passed, codes_ok = self._passed, self._status
            return lambda i: codes_ok[i] == 0 and passed[i] == 1
        code = STATUSES.index(status) if status in STATUSES else _OTHER
        return lambda i: codes[i] == code

    def _sorted(self, chosen: Sequence[int], key: str, descending: bool) -> list[int]:
        """``chosen`` by ``key``; missing values (no score, no verdict) last both ways."""
        by: dict[str, Callable[[int], Any]] = {
            "agent_id": self.agent_of,
            "test_id": self.test_ids.__getitem__,
            "category": lambda i: self.categories[self._category[i]],
            "repeat": self._repeat.__getitem__,
            "status": self.status_of,
            "score": self._score.__getitem__,
            "passed": self._passed.__getitem__,
            "latency": self._latency.__getitem__,
        }
        value = by[key]

        def missing(i: int) -> bool:
            v = value(i)
            return (isinstance(v, float) and math.isnan(v)) or (key == "passed" and v < 0)

        present = [i for i in chosen if not missing(i)]
        absent = [i for i in chosen if missing(i)]
        present.sort(key=value, reverse=descending)  # stable: ties keep their arrival order
        return present + absent

    def _matching(self, chosen: Sequence[int], text: str) -> Iterator[int]:
        """The results of ``chosen`` whose text fields hold ``text`` (case-insensitive)."""
        needle = text.lower()
        # as the text appears in a JSON line (quotes and backslashes escaped): a line without
        # it cannot match, so most lines are never parsed
        escaped = json.dumps(text, ensure_ascii=False)[1:-1].lower()
        try:
            fh = open(self.path / JOURNAL, "rb")  # noqa: SIM115 (closed below)
        except OSError:
            return
        with fh:
            fd = fh.fileno()
            for i in chosen:
                raw = os.pread(fd, self._line_len[i], self._line_at[i])
                self.lines_read += 1
                if escaped not in raw.decode("utf-8", "replace").lower():
                    continue
                try:
                    data = jsonio.loads(raw)
                except ValueError:
                    continue
                if any(needle in value.lower() for value in _text_fields(data)):
                    yield i

    # one record

    def entry(self, i: int) -> dict[str, Any] | None:
        """Result ``i``'s journal line as a dict; None when it cannot be read back."""
        return self._read(JOURNAL, self._line_at[i], self._line_len[i])

    def scoring(self, i: int) -> dict[str, Any] | None:
        """Result ``i``'s latest scoring block; None when it has none (yet)."""
        if self._scoring_at[i] < 0:
            return None
        line = self._read(SCORES, self._scoring_at[i], self._scoring_len[i])
        scoring = None if line is None else line.get("scoring")
        return scoring if isinstance(scoring, dict) else None

    def has_scoring(self, i: int) -> bool:
        return self._scoring[i] != _NO_SCORING

    def _read(self, name: str, offset: int, length: int) -> dict[str, Any] | None:
        try:
            with open(self.path / name, "rb") as fh:
                raw = os.pread(fh.fileno(), length, offset)
            self.lines_read += 1
            data = jsonio.loads(raw)
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def figures(self, since: float, window_from: float) -> dict[str, AgentFigures]:
        """Per agent: its counts by status, its results that ended at or after ``since`` and
        the latencies of those that ended at or after ``window_from`` (one pass over typed
        arrays: a few milliseconds for 100,000 results)."""
        with self.lock:
            per = [AgentFigures() for _ in self.agents]
            for agent, status, ended, latency in zip(
                self._agent, self._status, self._ended, self._latency, strict=True
            ):
                f = per[agent]
                if status == 0:
                    f.ok += 1
                elif status == 1:
                    f.errors += 1
                elif status == 2:
                    f.cancelled += 1
                    continue
                if ended >= since:  # False for NaN: an unknown end counts nowhere
                    f.since += 1
                    if ended >= window_from:
                        f.busy_s += latency
                    if f.last_end is None or ended > f.last_end:
                        f.last_end = ended
            return dict(zip(self.agents, per, strict=True))

    # what changed

    def changed_since(self, offset: int) -> list[int]:
        """The positions of the results whose journal line starts at or after byte ``offset``,
        each once, in the order they were written."""
        with self.lock:
            log = self._log_at
            low, high = 0, len(log)
            while low < high:  # the first line at or after offset (bisect on an array)
                mid = (low + high) // 2
                if log[mid] < offset:
                    low = mid + 1
                else:
                    high = mid
            return list(dict.fromkeys(self._log_position[low:]))
