"""Scoring results held in memory (what ``TestRunner.execute_*`` returned), as a run scores them.

:func:`score_results` scores each result with the scorers of its test (its ``scoring`` specs, or
the defaults from ``expected``; the judge where a test asks for it) through the same
:class:`~llmbench.scoring.run_scoring.RunScorer` as the end of a run, and analyses them with the
same :func:`~llmbench.scoring.analysis.analyse`, as one agent: :class:`ScoredResults` holds the
scored records of ``docs/summary-format.md`` and the ``summary.json`` dict a run would write.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmbench.providers.http1 import HttpClient
from llmbench.result import TestResult
from llmbench.scoring.analysis import analyse
from llmbench.scoring.judge import Judge
from llmbench.scoring.run_scoring import RunScorer, record
from llmbench.scoring.scored import ScoredResult
from llmbench.store.run_dir import JournalEntry
from llmbench.suite.models import TestCase

if TYPE_CHECKING:
    from llmbench.sandbox.settings import SandboxSettings

SCORED_AT_ONCE = 32
"""Results being scored at once: at most this many judge requests are in flight."""

Transcript = list[dict[str, Any]]


@dataclass(frozen=True)
class ScoredResults:
    """Results scored as a run scores them, and the summary a run would write for them."""

    results: list[ScoredResult]
    """One per result, in the order given: ``score``, ``passed``, ``scoring_error``, ..."""
    records: list[dict[str, Any]]
    """The scored record of each result (``docs/summary-format.md``): the result's fields,
    ``prompt``, ``expected`` and ``scoring`` with every scorer's verdict and reason."""
    summary: dict[str, Any]
    """The ``summary.json`` dict of a run of one agent: quality with intervals, categories,
    repeats, speed."""
    reports: dict[str, Path] = field(default_factory=dict)
    """The files written (``summary``, ``markdown``, ``html``), when reports were asked for."""

    @property
    def agent(self) -> dict[str, Any]:
        """The summary's one agent: ``quality``, ``categories``, ``repeats``, ``speed``..."""
        agent: dict[str, Any] = self.summary["agents"][0]
        return agent


def entries(
    results: Sequence[TestResult],
    agent_id: str,
    transcripts: Mapping[int, Transcript] | None = None,
) -> list[JournalEntry]:
    """``results`` as journal entries of ``agent_id``: a test's n-th result is its repeat n-1.
    ``transcripts`` maps ``id(result)`` to the conversation of an interactive test."""
    seen: dict[str, int] = {}
    out = []
    for result in results:
        repeat = seen.get(result.test_id, 0)
        seen[result.test_id] = repeat + 1
        transcript = (transcripts or {}).get(id(result))
        out.append(JournalEntry(agent_id, result.test_id, repeat, result, transcript))
    return out


async def score_results(
    results: Sequence[TestResult],
    tests: Mapping[str, TestCase],
    *,
    agent: Mapping[str, Any],
    judge: Judge | None = None,
    run_id: str,
    transcripts: Mapping[int, Transcript] | None = None,
    sandbox: SandboxSettings | None = None,
) -> ScoredResults:
    """Score ``results`` (of the tests in ``tests``, by id) and analyse them as one agent.

    ``agent`` gives the summary's ``agent_id``, ``model`` and ``endpoint``. Without a
    ``judge``, a test scored by the judge gets the error ``judge: no judge configured`` (an
    error in the statistics, never a zero), as in a run. The run's ``status`` is ``interrupted``
    when a result was cancelled, else ``completed``. ``sandbox`` is the ``[sandbox]`` the
    ``python`` scorer runs answers in (None: the default, a bubblewrap jail).
    """
    agent_id = str(agent["agent_id"])
    journal = entries(results, agent_id, transcripts)
    scorer = RunScorer(judge, sandbox=sandbox)
    slots = asyncio.Semaphore(SCORED_AT_ONCE)
    async with contextlib.AsyncExitStack() as stack:
        session = None
        if judge is not None:
            session = await stack.enter_async_context(HttpClient())

        async def one(entry: JournalEntry) -> dict[str, Any] | None:
            async with slots:
                return await scorer.score_entry(session, entry, tests)

        scorings = await asyncio.gather(*(one(e) for e in journal))
    share: dict[str, str] = {}
    scored = [
        ScoredResult.of(e.key, e.result, s, share=share, transcript=e.transcript)
        for e, s in zip(journal, scorings, strict=True)
    ]
    info = {
        "concurrency": None,
        **agent,
        "agent_id": agent_id,
        "planned": len(results),
        "not_run": 0,
    }
    cancelled = any(r.status == "cancelled" for r in results)
    summary = analyse(
        scored,
        [info],
        run_id=run_id,
        status="interrupted" if cancelled else "completed",
        repeats=max((e.repeat + 1 for e in journal), default=1),
    )
    records = [record(e, tests.get(e.test_id), s) for e, s in zip(journal, scorings, strict=True)]
    return ScoredResults(scored, records, summary)
