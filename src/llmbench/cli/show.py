"""``llmbench show RUN_DIR [TEST_ID ...] [--agent AGENT] [--repeat N] [--jsonl]``.

Prints the full scored record of results of a run, read from its journal (``results.jsonl``)
and its latest scorings (``scores.jsonl``): the journal entry's fields (``api_response``
included), then ``prompt``, ``expected`` and ``scoring``. That is what a per-test file holds,
plus the test's question and reference answer, so the per-test files are not needed to look at
one result.

One selected result is printed as one pretty JSON object, several as a JSON array (or one
compact object a line with ``--jsonl``), in the run's order: agent by agent, repeat by repeat,
in suite order. A selected result that the run has not produced (an interrupted run) is named on
stderr and the exit code is 1; an unknown test or agent id is one line and exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from llmbench.cli.exits import EXIT_ERRORS, EXIT_OK
from llmbench.cli.run import whole_number
from llmbench.config.validation import did_you_mean
from llmbench.errors import ConfigError, InputError, SuiteError
from llmbench.runs.stored import StoredRun, open_run
from llmbench.scoring.run_scoring import prompt_text
from llmbench.store.files import dumps
from llmbench.store.journal_index import JournalIndex
from llmbench.suite.models import TestCase

KNOWN_SHOWN = 10
"""How many known ids an unknown-id message lists."""
NOT_RUN_SHOWN = 20
"""How many results that were not run are named one by one on stderr."""


def add_show_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``show``.

    argparse fills RUN_DIR and TEST_ID ... in one go, so test ids after an option
    (``show RUN --agent a q1``) are left over; :func:`llmbench.cli.main.main` adds them to
    ``test_ids``.
    """
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory (results/<run_id>)")
    parser.add_argument(
        "test_ids",
        nargs="*",
        default=[],  # without one, argparse calls the list "required" when RUN_DIR is missing
        metavar="TEST_ID",
        help="the tests to show (or a comma list); default: every test of the run",
    )
    parser.add_argument(
        "--agent",
        action="append",
        dest="agents",
        metavar="AGENT",
        help="only this agent (repeatable, or a comma list); default: every agent",
    )
    parser.add_argument(
        "--repeat",
        type=whole_number(0),
        metavar="N",
        help="only repetition N, counted from 0 as in the file names (-r0); default: every one",
    )
    parser.add_argument(
        "--jsonl", action="store_true", help="print one compact JSON object a line (JSON Lines)"
    )
    parser.add_argument(
        "--base_config", help="read the suite from this config instead of the run's"
    )


def _ids(values: Iterable[str], known: Collection[str]) -> list[str]:
    """The ids given, each once: a value that is not an id itself is read as a comma list
    (ids may hold commas, so ``a,b`` is one id when the run has one of that name)."""
    ids: list[str] = []
    for value in values:
        if value in known:
            ids.append(value)
        else:
            ids.extend(v.strip() for v in value.split(",") if v.strip())
    return list(dict.fromkeys(ids))


def _unknown(kind: str, name: str, known: Sequence[str]) -> str:
    listed = ", ".join(known[:KNOWN_SHOWN])
    if len(known) > KNOWN_SHOWN:
        listed += f", ... ({len(known)} in all)"
    return f"unknown {kind} {name!r}{did_you_mean(name, known)}; the {kind}s of the run: {listed}"


def _chosen(
    values: Sequence[str] | None,
    known: Sequence[str],
    kind: str,
    error: type[InputError],
    where: Path,
) -> set[str] | None:
    """The ids given (None when none were: all of them), each one of ``known``."""
    if not values:
        return None
    chosen = set(_ids(values, set(known)))
    for name in chosen:
        if name not in known:
            raise error(_unknown(kind, name, known), path=where)
    return chosen


def _select(
    stored: StoredRun, args: argparse.Namespace
) -> tuple[set[str] | None, set[str] | None, int | None]:
    """The agent ids, test ids and repeat chosen (None: all), checked against the run."""
    where = stored.run_dir.path
    agents = _chosen(args.agents, [a.agent_id for a in stored.agents], "agent", ConfigError, where)
    tests = _chosen(args.test_ids, list(stored.tests.ids), "test", SuiteError, where)
    repeat: int | None = args.repeat
    if repeat is not None and repeat >= stored.repeats:
        raise InputError(
            f"--repeat {repeat}: the run has {stored.repeats} repeat(s), "
            f"numbered 0 to {stored.repeats - 1}",
            path=where,
        )
    return agents, tests, repeat


def _record(index: JournalIndex, i: int, test: TestCase) -> dict[str, Any]:
    """Key ``i``'s scored record: its journal entry's fields, prompt, expected and scoring."""
    data = index.entry(i).to_dict()
    data["prompt"] = prompt_text(test)
    data["expected"] = test.expected
    data["scoring"] = index.scoring(i)
    return data


def _test(stored: StoredRun, test_id: str) -> TestCase:
    test = stored.tests.get(test_id)
    assert test is not None  # the index's keys come from these tests' ids
    return test


def _text(records: Iterator[dict[str, Any]], count: int, jsonl: bool) -> Iterator[str]:
    """The output, a piece at a time (a whole run is never held in memory)."""
    if jsonl:
        for data in records:
            yield dumps(data, pretty=False) + "\n"
    elif count == 1:
        yield dumps(next(records), pretty=True) + "\n"
    elif count > 1:
        yield "["
        for n, data in enumerate(records):
            # indented one level inside the array: JSON strings hold no raw line breaks
            yield ("," if n else "") + "\n  " + dumps(data, pretty=True).replace("\n", "\n  ")
        yield "\n]\n"


def show_command(args: argparse.Namespace) -> int:
    """``llmbench show``: 0 when every selected result was printed, 1 when some were not run."""
    stored = open_run(args.run_dir, args.base_config)
    try:
        agents, tests, repeat = _select(stored, args)
        with JournalIndex.build(stored.run_dir, stored.keys) as index:
            chosen = [
                i
                for i, (agent_id, test_id, r) in enumerate(index.keys)
                if (agents is None or agent_id in agents)
                and (tests is None or test_id in tests)
                and (repeat is None or r == repeat)
            ]
            found = [i for i in chosen if index.has_entry(i)]
            records = (_record(index, i, _test(stored, index.keys[i][1])) for i in found)
            try:
                for piece in _text(records, len(found), args.jsonl):
                    sys.stdout.write(piece)
                sys.stdout.flush()
            except BrokenPipeError:  # `llmbench show ... | head`: the reader has had enough
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())  # so the exit's flush does not fail too
                os.close(devnull)
                return EXIT_OK
            missing = [index.keys[i] for i in chosen if not index.has_entry(i)]
    finally:
        stored.run_dir.close()
    for agent_id, test_id, r in missing[:NOT_RUN_SHOWN]:
        print(f"not run: {agent_id} / {test_id} (repeat {r})", file=sys.stderr)
    if len(missing) > NOT_RUN_SHOWN:
        print(
            f"not run: {len(missing) - NOT_RUN_SHOWN} more, {len(missing)} in all", file=sys.stderr
        )
    return EXIT_ERRORS if missing else EXIT_OK
