"""The tests of a run as a compact, ordered collection: :class:`Tests`.

Planning a run needs far less than its tests: each test's id (the selection, the journal's
keys, ``--resume``), its category (``--categories``), whether it is interactive (the dry run,
the instructor) and whether the judge scores it (the preflight). :class:`Tests` holds only
those (under 200 bytes a test) and makes a :class:`TestCase` when one is needed (when the
scheduler starts it, when its result is scored or shown) from a store:

- :meth:`Tests.of`: tests already in memory (a suite file, which is parsed whole anyway);
- :meth:`Tests.spill`: tests written as they come, one JSON line each, to an anonymous
  temporary file (:func:`tempfile.TemporaryFile`, in the system's temporary directory,
  ``TMPDIR``), each let go at once; the file has no name, so nothing is left behind however the
  process ends. A data set takes this path: its memory does not grow with the length of its
  text.

Iterating a :class:`Tests` makes one test at a time; :meth:`Tests.get` makes the one asked for
(the last :data:`RECENT` made are kept: a test is asked for by each agent and repeat in turn).
:meth:`Tests.select` narrows to some ids in a given order and shares the store.
"""

from __future__ import annotations

import os
import tempfile
import threading
import weakref
from abc import ABC, abstractmethod
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, KeysView
from typing import Protocol

from llmbench import jsonio
from llmbench.errors import SuiteError
from llmbench.suite.models import TestCase

RECENT = 64
"""Tests read back from a spill file that are kept (the ones asked for last)."""
_INTERACTIVE = 1
_JUDGED = 2
_TOOLS = 4
_SANDBOXED = 8

Judged = Callable[[TestCase], bool]
"""Whether the judge scores a test (from :mod:`llmbench.scoring.specs`, a layer above)."""


class TestLookup(Protocol):
    """Where a test is found by its id: :class:`Tests`, or a dict of test cases."""

    def get(self, test_id: str, /) -> TestCase | None:
        """The test ``test_id``, or None."""
        ...


def _never(test: TestCase) -> bool:
    return False


class _Store(ABC):
    """Every test of a suite by slot (its place in the suite), and what a run plans with."""

    def __init__(self, slot_of: dict[str, int] | None = None) -> None:
        self.slot_of: dict[str, int] = {} if slot_of is None else slot_of
        """Each id's slot, in suite order."""
        self.names: list[str] = []
        """The categories, each once."""
        self._name_index: dict[str, int] = {}
        self._category = array("l")
        self._flags = bytearray()

    def add(self, test: TestCase, judged: bool, sandboxed: bool = False) -> None:
        """Index ``test`` as the next slot; SuiteError when its id was given before."""
        slot = len(self._flags)
        if self.slot_of.setdefault(test.id, slot) != slot:
            raise SuiteError(f"test id {test.id!r} is given twice; ids must be unique")
        name = self._name_index.setdefault(test.category, len(self.names))
        if name == len(self.names):
            self.names.append(test.category)
        self._category.append(name)
        self._flags.append(
            (_INTERACTIVE if test.is_interactive else 0)
            | (_JUDGED if judged else 0)
            | (_TOOLS if test.has_tools else 0)
            | (_SANDBOXED if sandboxed or test.has_tools else 0)
        )

    def category(self, slot: int) -> str:
        return self.names[self._category[slot]]

    def has(self, slot: int, flag: int) -> bool:
        return bool(self._flags[slot] & flag)

    @abstractmethod
    def load(self, slot: int) -> TestCase:
        """The test in ``slot``."""


class _Memory(_Store):
    """Tests held as they are."""

    def __init__(self) -> None:
        super().__init__()
        self.tests: list[TestCase] = []

    def load(self, slot: int) -> TestCase:
        return self.tests[slot]


class _Spilled(_Store):
    """Tests held as JSON lines in an anonymous temporary file, read back by offset (with
    :func:`os.pread`, so any thread may read)."""

    def __init__(self, slot_of: dict[str, int] | None) -> None:
        super().__init__(slot_of)
        self.offsets = array("q", [0])
        """Where each slot's line starts; the last entry is the file's end."""
        self.fd = -1
        self._recent: OrderedDict[int, TestCase] = OrderedDict()
        self._lock = threading.Lock()

    def load(self, slot: int) -> TestCase:
        with self._lock:
            test = self._recent.get(slot)
            if test is not None:
                self._recent.move_to_end(slot)
                return test
        start, end = self.offsets[slot], self.offsets[slot + 1]
        chunks, at = [], start
        while at < end:
            chunk = os.pread(self.fd, end - at, at)
            if not chunk:
                raise OSError(f"the spilled tests file ends at {at}, expected {end}")
            chunks.append(chunk)
            at += len(chunk)
        test = TestCase.model_validate(jsonio.loads(b"".join(chunks)))
        with self._lock:
            self._recent[slot] = test
            if len(self._recent) > RECENT:
                self._recent.popitem(last=False)
        return test


class Tests:
    """The tests of a run in order: ids, categories and kinds held, each test made when asked
    for (see the module docstring)."""

    __test__ = False

    def __init__(self, store: _Store, slot_of: dict[str, int] | None = None) -> None:
        self._store = store
        self._slot_of = store.slot_of if slot_of is None else slot_of

    @classmethod
    def of(
        cls, tests: Iterable[TestCase], *, judged: Judged = _never, sandboxed: Judged = _never
    ) -> Tests:
        """Tests held in memory as they are. SuiteError for an id given twice. ``judged``
        and ``sandboxed`` say whether a test's scoring needs the judge, or the code sandbox."""
        store = _Memory()
        for test in tests:
            store.add(test, judged(test), sandboxed(test))
            store.tests.append(test)
        return cls(store)

    @classmethod
    def spill(
        cls,
        tests: Iterable[TestCase],
        *,
        judged: Judged = _never,
        sandboxed: Judged = _never,
        slot_of: dict[str, int] | None = None,
    ) -> Tests:
        """Tests written to a temporary file as they come, each let go once written.

        ``slot_of`` may be the dict in which the producer of ``tests`` detects repeated ids
        (id -> index in ``tests``), so that the ids are held once. SuiteError for an id given
        twice."""
        store = _Spilled(slot_of)
        with tempfile.TemporaryFile(prefix="llmbench-tests-") as fh:
            end = 0
            for test in tests:
                store.add(test, judged(test), sandboxed(test))
                line = jsonio.dumps_bytes(test.model_dump(mode="json", exclude_unset=True))
                fh.write(line + b"\n")
                end += len(line) + 1
                store.offsets.append(end)
            fh.flush()
            store.fd = os.dup(fh.fileno())
        weakref.finalize(store, os.close, store.fd)
        return cls(store)

    # -- what planning needs ---------------------------------------------------------------

    @property
    def ids(self) -> KeysView[str]:
        """The ids, in order (a view: membership is quick, nothing is copied)."""
        return self._slot_of.keys()

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, test_id: object) -> bool:
        return test_id in self._slot_of

    def category_of(self, test_id: str) -> str:
        """The category of test ``test_id`` (KeyError when it is not here)."""
        return self._store.category(self._slot_of[test_id])

    def is_interactive(self, test_id: str) -> bool:
        """True when test ``test_id`` is interactive."""
        return self._store.has(self._slot_of[test_id], _INTERACTIVE)

    @property
    def categories(self) -> set[str]:
        """The categories of these tests."""
        if self._slot_of is self._store.slot_of:
            return set(self._store.names)
        return {self._store.category(slot) for slot in self._slot_of.values()}

    def ids_in(self, category: str) -> list[str]:
        """The ids of the tests of ``category``, in order."""
        store = self._store
        return [t for t, slot in self._slot_of.items() if store.category(slot) == category]

    @property
    def interactive_count(self) -> int:
        """How many of these tests are interactive."""
        return sum(self._store.has(slot, _INTERACTIVE) for slot in self._slot_of.values())

    @property
    def needs_judge(self) -> bool:
        """True when the judge scores some of these tests."""
        return any(self._store.has(slot, _JUDGED) for slot in self._slot_of.values())

    @property
    def tools_count(self) -> int:
        """How many of these tests give their agent a tool."""
        return sum(self._store.has(slot, _TOOLS) for slot in self._slot_of.values())

    @property
    def needs_sandbox(self) -> bool:
        """True when some of these tests run code: tests with tools, or scored by running
        code (the ``python`` scorer)."""
        return any(self._store.has(slot, _SANDBOXED) for slot in self._slot_of.values())

    def select(self, ids: Iterable[str]) -> Tests:
        """The tests ``ids`` names, in that order, each once (KeyError for an id not here)."""
        chosen = {test_id: self._slot_of[test_id] for test_id in ids}
        same = len(chosen) == len(self)
        if same and all(a == b for a, b in zip(chosen, self._slot_of, strict=True)):
            return self  # all of them, in the same order
        return Tests(self._store, chosen)

    # -- the tests themselves --------------------------------------------------------------

    def get(self, test_id: str) -> TestCase | None:
        """Test ``test_id``, made now; None when it is not one of these."""
        slot = self._slot_of.get(test_id)
        return None if slot is None else self._store.load(slot)

    def __iter__(self) -> Iterator[TestCase]:
        """The tests in order, each made as it is reached."""
        for slot in self._slot_of.values():
            yield self._store.load(slot)

    def __repr__(self) -> str:
        return f"<Tests: {len(self)}>"


def as_tests(tests: Tests | Iterable[TestCase]) -> Tests:
    """``tests`` as :class:`Tests` (a list of test cases is held as it is)."""
    return tests if isinstance(tests, Tests) else Tests.of(tests)
