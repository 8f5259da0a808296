"""The end of a run, and ``llmbench score`` / ``llmbench report``: score, analyse, report.

:func:`finish` scores every final result of a run directory (the judge's replies come from its
cache when nothing changed), appends the scores to ``scores.jsonl`` and the per-test files,
writes ``summary.json``, ``report.md`` and ``report.html``, and returns the summary for the
terminal.

Nothing here holds every result: a :class:`~llmbench.store.journal_index.JournalIndex` says
where each final journal line is, the results are read one at a time in run order (a window of
:data:`SCORING_WINDOW` of them being scored at once), their scores are written in batches, and
only a :class:`~llmbench.scoring.scored.ScoredResult` of each is kept for the summary. The
reports read back the few full records they show (:class:`RunResults.record`).
"""

from __future__ import annotations

import asyncio
import inspect
from array import array
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, MutableMapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from llmbench.config.api import APIConfiguration
from llmbench.config.base_config import HelperSection
from llmbench.providers.http1 import HttpClient
from llmbench.report.write import write_summary_and_reports
from llmbench.scoring.analysis import analyse
from llmbench.scoring.judge import Judge
from llmbench.scoring.run_scoring import RuleScores, RunScorer, Scoring, record
from llmbench.scoring.scored import ScoredResult
from llmbench.store.cache import CACHE_FILE, ReplyCache
from llmbench.store.journal_index import JournalIndex
from llmbench.store.run_dir import EntryKey, JournalEntry, RunDirectory, run_keys
from llmbench.suite.models import TestCase
from llmbench.suite.tests import TestLookup, Tests, as_tests

SCORING_WINDOW = 32
"""Results read ahead and scored at once: at most this many judge requests are in flight."""
YIELD_EVERY = 256
"""Results read and scored between two turns given to the rest of the event loop."""
SCORES_BATCH = 256
"""Scores written to ``scores.jsonl`` and the per-test files per write."""


@dataclass(frozen=True)
class AgentInfo:
    """What the summary says about an agent besides its results."""

    agent_id: str
    model: str | None
    endpoint: str
    concurrency: dict[str, Any] | None = None
    """How many tests were in flight for this agent: ``{"mode": "fixed", "limit": n}`` or
    :meth:`AutoConcurrency.report <llmbench.engine.concurrency.AutoConcurrency.report>`."""
    tool_protocol: str | None = None
    """How the agent ran code in tests with tools, as preflight chose: ``function`` or
    ``text``; None when it had no tests with tools (or it is unknown)."""
    tool_protocol_reason: str | None = None
    """Why preflight chose ``tool_protocol`` (for ``"auto"``: what the endpoint did)."""


@dataclass(frozen=True)
class _Source:
    """One run's index and what its records need besides it."""

    index: JournalIndex
    tests: TestLookup
    rename: Mapping[str, str]
    run_id: str | None


class RunResults:
    """The compact results of one run (or several, for a comparison) in run order, and the full
    scored record of any of them on demand, read back from its journal."""

    def __init__(self) -> None:
        self.results: list[ScoredResult] = []
        self._sources: list[_Source] = []
        self._source = array("l")
        self._position = array("l")
        self._share: dict[str, str] = {}

    async def read(
        self,
        index: JournalIndex,
        tests: TestLookup,
        *,
        score: Callable[[JournalEntry], Scoring | Awaitable[Scoring]] | None = None,
        rescore: bool = False,
        save: Callable[[list[tuple[EntryKey, Scoring, JournalEntry]]], None] | None = None,
        rename: Mapping[str, str] | None = None,
        run_id: str | None = None,
    ) -> None:
        """Add every final result of ``index`` in run order. A result is scored with ``score``
        (which returns its scoring, or an awaitable of it) when ``rescore`` is set or it has no
        stored scoring, and its new scoring is passed to ``save`` in batches; other results
        keep their stored scoring. ``rename`` maps agent ids to the ids the summary uses;
        ``run_id`` goes into each full record (a comparison of runs)."""
        source = len(self._sources)
        self._sources.append(_Source(index, tests, rename or {}, run_id))
        batch: list[tuple[EntryKey, Scoring, JournalEntry]] = []
        async with aclosing(_scored(index, score, rescore)) as scored:
            async for i, entry, scoring, fresh in scored:
                agent_id, test_id, repeat = index.keys[i]
                key = ((rename or {}).get(agent_id, agent_id), test_id, repeat)
                self.results.append(
                    ScoredResult.of(
                        key, entry.result, scoring, share=self._share, transcript=entry.transcript
                    )
                )
                self._source.append(source)
                self._position.append(i)
                if fresh:
                    index.keep_scoring(i, scoring)
                    batch.append((index.keys[i], scoring, entry))
                    if len(batch) >= SCORES_BATCH and save is not None:
                        await asyncio.to_thread(save, batch)
                        batch = []
        if batch and save is not None:
            await asyncio.to_thread(save, batch)

    def record(self, j: int) -> dict[str, Any]:
        """The full scored record (docs/summary-format.md) of ``results[j]``."""
        source = self._sources[self._source[j]]
        i = self._position[j]
        agent_id, test_id, _ = source.index.keys[i]
        data = record(source.index.entry(i), source.tests.get(test_id), source.index.scoring(i))
        data["agent_id"] = source.rename.get(agent_id, agent_id)
        if source.run_id is not None:
            data["run_id"] = source.run_id
        return data


def agent_info(
    index: JournalIndex, agent: AgentInfo, agent_id: str, run_id: str | None = None
) -> dict[str, Any]:
    """The summary's details of ``agent`` of the run of ``index``, under the id ``agent_id``;
    ``run_id``: the run it comes from, in a comparison of runs."""
    mine = [i for i, key in enumerate(index.keys) if key[0] == agent.agent_id]
    return {
        "agent_id": agent_id,
        "run_id": run_id,
        "model": agent.model,
        "endpoint": agent.endpoint,
        "concurrency": agent.concurrency,
        "planned": len(mine),
        "not_run": sum(not index.has_entry(i) for i in mine),
        "tool_protocol": agent.tool_protocol,
        "tool_protocol_reason": agent.tool_protocol_reason,
    }


async def _scored(
    index: JournalIndex,
    score: Callable[[JournalEntry], Scoring | Awaitable[Scoring]] | None,
    rescore: bool,
) -> AsyncGenerator[tuple[int, JournalEntry, Scoring, bool], None]:
    """``(key index, entry, scoring, newly scored)`` of each final result, in run order, with
    up to :data:`SCORING_WINDOW` of them being scored at once (those ``score`` must wait for
    run as tasks; the others are scored at once)."""
    window: deque[tuple[int, JournalEntry, Scoring | asyncio.Future[Scoring], bool]] = deque()

    async def take() -> tuple[int, JournalEntry, Scoring, bool]:
        i, entry, scoring, fresh = window.popleft()
        if not fresh:
            return i, entry, index.scoring(i), False
        if isinstance(scoring, asyncio.Future):
            return i, entry, await scoring, True
        return i, entry, scoring, True

    try:
        for i in range(len(index)):
            if not index.has_entry(i):
                continue
            if i % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # scoring without a wait must not hold the loop for long
            entry = index.entry(i)
            scoring: Scoring | asyncio.Future[Scoring] = None
            fresh = False
            if score is not None and (rescore or not index.has_stored_scoring(i)):
                fresh = True
                now = score(entry)
                scoring = asyncio.ensure_future(now) if inspect.isawaitable(now) else now
            window.append((i, entry, scoring, fresh))
            if len(window) >= SCORING_WINDOW:
                yield await take()
        while window:
            yield await take()
    finally:
        for _, _, left, _ in window:
            if isinstance(left, asyncio.Future):
                left.cancel()


def _needs_scoring(index: JournalIndex, rescore: bool) -> bool:
    return any(
        index.has_entry(i) and (rescore or not index.has_stored_scoring(i))
        for i in range(len(index))
    )


async def _read_and_score(
    results: RunResults,
    index: JournalIndex,
    tests: TestLookup,
    judge_api: APIConfiguration | None,
    supervisor: HelperSection,
    rescore: bool,
    cache_dir: Path | None,
    result_files: bool,
    code_sandbox: Any = None,
    rule_scores: MutableMapping[EntryKey, RuleScores] | None = None,
) -> None:
    run_dir = index.run_dir
    if not _needs_scoring(index, rescore):
        await results.read(index, tests)
        return
    cache = ReplyCache(cache_dir / CACHE_FILE) if cache_dir is not None else None
    try:
        judge = None if judge_api is None else Judge.for_supervisor(judge_api, supervisor, cache)
        scorer = RunScorer(
            judge,
            sandbox=code_sandbox,
            files_for=lambda e: run_dir.files_dir(e.agent_id, e.test_id, e.repeat),
            scored=rule_scores,
        )
        async with HttpClient() as session:
            await results.read(
                index,
                tests,
                score=lambda entry: scorer.score(session, entry, tests),
                rescore=rescore,
                save=partial(run_dir.write_scores, result_files=result_files),
            )
    finally:
        if cache is not None:
            cache.close()


async def finish_async(
    run_dir: RunDirectory,
    *,
    tests: Tests | Sequence[TestCase],
    agents: Sequence[AgentInfo],
    repeats: int,
    status: str,
    judge_api: APIConfiguration | None,
    supervisor: HelperSection,
    cache_dir: Path | None,
    rescore: bool = True,
    served_models: bool = False,
    result_files: bool = True,
    sandbox: Mapping[str, Any] | None = None,
    code_sandbox: Any = None,
    rule_scores: MutableMapping[EntryKey, RuleScores] | None = None,
) -> dict[str, Any]:
    """Score (all, or only what has no score yet), analyse, write the reports.

    ``rule_scores``: verdicts of the blocking rules (``python``, ``submission``) already
    worked out on the Ray actors that ran the tests; the rest is scored here.

    ``code_sandbox``: the :class:`~llmbench.sandbox.SandboxSettings` the ``python`` scorer
    runs answers with (``[sandbox]``; None: the defaults).

    ``cache_dir`` holds the judge's reply cache (None: judge without a cache).

    ``sandbox``: the code sandbox the run's tests with tools ran in (``isolation``,
    ``call_timeout_s``, ``max_parallel``, ``python``, ...), the summary's ``sandbox`` block;
    None for a run without one.

    ``result_files``: also write each newly scored result to its per-test file
    (``[benchmark] result_files``).

    ``served_models``: name each agent's model as its results do (the embedded server's alias)
    rather than as ``agents`` does.
    """
    tests = as_tests(tests)
    keys = run_keys((a.agent_id for a in agents), tests.ids, repeats)
    with JournalIndex.build(run_dir, keys) as index:
        results = RunResults()
        await _read_and_score(
            results,
            index,
            tests,
            judge_api,
            supervisor,
            rescore,
            cache_dir,
            result_files,
            code_sandbox,
            rule_scores,
        )
        if served_models:
            agents = [replace(a, model=index.models.get(a.agent_id) or a.model) for a in agents]
        infos = [agent_info(index, a, a.agent_id) for a in agents]

        def analyse_and_report() -> dict[str, Any]:
            summary = analyse(
                results.results,
                infos,
                run_id=run_dir.run_id,
                status=status,
                repeats=repeats,
                sandbox=sandbox,
            )
            write_summary_and_reports(run_dir.path, summary, results.results, results.record)
            return summary

        # in a thread: the statistics and the reports take seconds on a big run, and the event
        # loop may be the caller's (llmbench.run_async); cancelled, the reports are still
        # finished (the thread reads the index this block closes)
        job = asyncio.ensure_future(asyncio.to_thread(analyse_and_report))
        try:
            return await asyncio.shield(job)
        except asyncio.CancelledError:
            await asyncio.wait([job])
            raise


def finish(run_dir: RunDirectory, **settings: Any) -> dict[str, Any]:
    """:func:`finish_async` in an event loop of its own (``llmbench score``, ``report``)."""
    return asyncio.run(finish_async(run_dir, **settings))
