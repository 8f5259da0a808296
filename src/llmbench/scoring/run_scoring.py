"""Scoring a run: every final result gets its scorers' verdicts, stored beside the result.

:func:`score_entries` turns journal entries into scored records (the format of
``docs/summary-format.md``). Rule-based scorers run in worker threads (the ``python`` scorer
waits on a child process); the judge runs in the event loop. A result whose request failed is
not scored and says so; a test with no ``expected`` and no ``scoring`` has no scorers and is
left out of the statistics.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
import math
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmbench.providers.http1 import HttpClient
from llmbench.scoring.base import Score, ScoreInput, Scorer
from llmbench.scoring.judge import Judge
from llmbench.scoring.specs import JudgeSpec, judge_spec, scorers_for
from llmbench.store.run_dir import EntryKey, JournalEntry
from llmbench.suite.models import TestCase
from llmbench.suite.tests import TestLookup

if TYPE_CHECKING:
    from llmbench.sandbox.settings import SandboxSettings

log = logging.getLogger(__name__)

NOT_RUN = "not scored: the request failed"
Scoring = dict[str, Any] | None
"""A record's ``scoring`` block (docs/summary-format.md); None when its test has nothing to
score."""


def prompt_text(test: TestCase) -> str:
    """What reports show as the test's question."""
    if test.is_interactive:
        steps = test.instructions or []
        return "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))
    if test.messages is not None:
        return "\n".join(
            f"{m.role}: {m.content if isinstance(m.content, str) else '[content parts]'}"
            for m in test.messages
        )
    return test.prompt or ""


def aggregate(scores: Sequence[Score]) -> dict[str, Any]:
    """The ``scoring`` block of a record from its scores."""
    primary = [s for s in scores if not s.secondary]
    reasoning = next((s.value for s in scores if s.secondary and s.error is None), None)
    failed = next((s for s in primary if s.error is not None), None)
    block: dict[str, Any] = {
        "score": None,
        "passed": None,
        "reasoning": reasoning,
        "error": None,
        "scores": [s.to_dict() for s in scores],
    }
    if failed is not None:
        block["error"] = f"{failed.scorer}: {failed.error}"
    elif primary:
        block["score"] = math.fsum(s.value for s in primary) / len(primary)
        block["passed"] = all(s.passed for s in primary)
    return block


def _scorer_bug(entry: JournalEntry, exc: Exception) -> dict[str, Any]:
    log.exception("scoring %s of %s failed", entry.test_id, entry.agent_id, exc_info=exc)
    return not_scored(f"not scored: internal error {type(exc).__name__}: {exc}")


def not_scored(reason: str = NOT_RUN) -> dict[str, Any]:
    """The ``scoring`` block of a result that could not be scored."""
    return {"score": None, "passed": None, "reasoning": None, "error": reason, "scores": []}


def record(
    entry: JournalEntry, test: TestCase | None, scoring: dict[str, Any] | None
) -> dict[str, Any]:
    """A scored record: the journal entry's fields plus prompt, expected and scoring."""
    data = entry.to_dict()
    data.pop("api_response", None)  # raw responses stay in the per-test files
    data["prompt"] = prompt_text(test) if test is not None else ""
    data["expected"] = test.expected if test is not None else None
    data.setdefault("cached", False)
    data["scoring"] = scoring
    return data


@dataclass(frozen=True)
class RuleScores:
    """The rule-based scorers' verdicts on one answer, worked out where the test ran."""

    answer: str
    """The answer they judged (used only for an entry with this very answer)."""
    scores: tuple[Score, ...]


def blocks(rules: Sequence[Scorer]) -> bool:
    """True when one of ``rules`` waits on something (a child process: the ``python`` and
    ``submission`` scorers), so that it runs in a thread, where the answer is."""
    return any(getattr(r, "blocking", False) for r in rules)


def blocking_rules(test: TestCase, sandbox: SandboxSettings | None) -> list[Scorer]:
    """``test``'s rules when one of them blocks (all of them, so that its verdicts are
    complete); none otherwise."""
    rules = scorers_for(test, sandbox)
    return rules if blocks(rules) else []


SCORERS_KEPT = 4096
"""Tests whose scorers are kept for their next result (another agent's, another repeat's)."""


@dataclass(frozen=True)
class _TestScorers:
    """What one test is scored with, worked out once per test."""

    rules: list[Scorer]
    judge: JudgeSpec | None
    blocking: bool
    """True when a rule waits on something (a child process): it runs in a worker thread."""


class RunScorer:
    """Scores entries with the rule-based scorers and, where a test asks for it, the judge."""

    def __init__(
        self,
        judge: Judge | None,
        workers: int = 2,
        sandbox: SandboxSettings | None = None,
        files_for: Callable[[JournalEntry], Path] | None = None,
        scored: MutableMapping[EntryKey, RuleScores] | None = None,
    ) -> None:
        """``sandbox``: the run's ``[sandbox]`` section, for the ``python`` scorer (None: the
        default isolation, ``"bwrap"``). ``files_for``: where an entry's saved ``/home/agent``
        files are (a run directory's :meth:`~RunDirectory.files_dir`), for the ``submission``
        scorer; None: no files were saved. ``scored``: the rules' verdicts of entries whose
        blocking rules already ran elsewhere (on the Ray actor that ran the test, next to its
        answer and files), each used once instead of running those rules here."""
        self.judge = judge
        self.sandbox = sandbox
        self.files_for = files_for
        self.scored = scored
        self._slots = asyncio.Semaphore(max(1, workers))
        self._scorers: dict[int, tuple[TestCase, _TestScorers]] = {}

    def _for(self, test: TestCase) -> _TestScorers:
        """The test's scorers, built once per test (a test's repeats and agents share them)."""
        known = self._scorers.get(id(test))
        if known is not None and known[0] is test:
            return known[1]
        rules = scorers_for(test, self.sandbox)
        plan = _TestScorers(rules, judge_spec(test), blocks(rules))
        if len(self._scorers) >= SCORERS_KEPT:  # bounded: 100,000 tests' scorers are 50 MB
            self._scorers.clear()
        self._scorers[id(test)] = (test, plan)
        return plan

    def score(
        self,
        session: HttpClient | None,
        entry: JournalEntry,
        tests: TestLookup,
    ) -> Scoring | Awaitable[Scoring]:
        """The scoring block of one entry (None for a test with nothing to score), at once
        when nothing is waited for (text rules only, no judge: the common case, spared a task
        per result), else an awaitable of it. A scorer bug becomes a "not scored" block, never
        an exception."""
        test = tests.get(entry.test_id)
        if test is None:
            return not_scored(f"not scored: test {entry.test_id!r} is no longer in the suite")
        plan = self._for(test)
        if not plan.rules and plan.judge is None:
            return None
        if entry.result.status != "ok":
            return not_scored()
        if plan.blocking or plan.judge is not None:
            return self._score_later(session, entry, test, plan)
        try:  # text rules take microseconds: a thread hop would cost more than they do
            item = self._input(entry, test, plan)
            return aggregate([scorer(item) for scorer in plan.rules])
        except Exception as exc:  # a scorer bug must not lose the other scores
            return _scorer_bug(entry, exc)

    def _input(self, entry: JournalEntry, test: TestCase, plan: _TestScorers) -> ScoreInput:
        # only the blocking rules (python, submission) read saved files: the others are spared
        # a path and a stat per result
        files = self.files_for(entry) if plan.blocking and self.files_for is not None else None
        return ScoreInput(
            test,
            entry.result.response_text,
            entry.transcript,
            files_dir=files if files is not None and files.is_dir() else None,
        )

    async def _score_later(
        self, session: HttpClient | None, entry: JournalEntry, test: TestCase, plan: _TestScorers
    ) -> Scoring:
        """An ok entry of a test with a rule that blocks (run in a worker thread, unless the
        worker that ran the test already did) or a judge."""
        try:
            item = self._input(entry, test, plan)
            rules = plan.rules
            done = self.scored.pop(entry.key, None) if self.scored is not None else None
            if plan.blocking and done is not None and done.answer == entry.result.response_text:
                scores = list(done.scores)
            elif plan.blocking:
                async with self._slots:
                    scores = await asyncio.to_thread(lambda: [scorer(item) for scorer in rules])
            else:
                scores = [scorer(item) for scorer in rules]
            spec = plan.judge
            if spec is not None:
                if self.judge is None or session is None:
                    scores.append(
                        Score(
                            "judge", 0.0, False, "no judge configured", error="no judge configured"
                        )
                    )
                else:
                    if getattr(spec, "include_reasoning", False):
                        item = dataclasses.replace(item, reasoning=entry.result.reasoning_text)
                    scores.append(
                        await self.judge.score(
                            session, item, spec.rubric, getattr(spec, "pass_score", None)
                        )
                    )
            return aggregate(scores)
        except Exception as exc:  # a scorer bug must not lose the other scores
            return _scorer_bug(entry, exc)

    async def score_entry(
        self,
        session: HttpClient | None,
        entry: JournalEntry,
        tests: TestLookup,
    ) -> Scoring:
        """:meth:`score`, awaited."""
        scoring = self.score(session, entry, tests)
        return await scoring if inspect.isawaitable(scoring) else scoring

    async def score_all(
        self,
        entries: Sequence[JournalEntry],
        tests: TestLookup,
        session: HttpClient | None,
    ) -> dict[EntryKey, dict[str, Any] | None]:
        """The scoring block of every entry (None for a test with nothing to score)."""

        async def one(entry: JournalEntry) -> tuple[EntryKey, dict[str, Any] | None]:
            return entry.key, await self.score_entry(session, entry, tests)

        pairs = await asyncio.gather(*(one(e) for e in entries))
        return dict(pairs)
