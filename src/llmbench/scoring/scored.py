"""``ScoredResult``: one scored record reduced to the figures the summary and reports count.

The end of a run keeps one of these per agent, test and repeat instead of the scored record of
docs/summary-format.md (no prompt, answer, transcript or scorer reasons: a few hundred bytes
instead of tens of kilobytes), so that its memory does not grow with the answers. The texts stay
in ``results.jsonl`` and ``scores.jsonl``, from which a report reads the few records it shows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llmbench.result import TestResult

SUBMISSION = "submission"
"""The scorer that judges the file a data-analysis agent writes (issue 17)."""


@dataclass(frozen=True, slots=True)
class SubmissionVerdict:
    """The ``submission`` scorer's verdict on one result, from its score's ``details``."""

    error: bool
    """The evaluation failed (the score's ``error``): a scoring error, never a zero; the fields
    below are then whatever ``details`` said, if anything."""
    valid: bool
    """The file existed, parsed and had exactly the reference's ids and the right columns."""
    achieved: bool
    """Skill >= 0: the metric reached the task's baseline."""
    value: float
    """The score's value: skill clipped to [0, 1], 0 for an invalid submission."""
    skill: float | None
    """(metric - baseline) / (best - baseline); None when invalid."""
    metric: str | None
    """``rmse``, ``accuracy``, ..., ``evaluator``."""
    metric_value: float | None
    """The metric of a valid submission; None when invalid."""
    baseline: float | None
    best: float | None
    higher_is_better: bool | None


@dataclass(frozen=True, slots=True)
class ScoredResult:
    """One agent's result of one test and repeat, with its scoring's verdict."""

    agent_id: str
    test_id: str
    repeat: int
    category: str
    status: str
    """The request's status: ``ok``, ``error`` or ``cancelled``."""
    error_kind: str | None
    execution_time: float
    time_to_first_token: float | None
    """The first token of any kind, thinking included."""
    time_to_first_answer_token: float | None
    tokens_per_second: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    cached: bool
    """Served from the reply cache: left out of the speed figures."""
    tokens_estimated: bool
    reasoning_tokens: int | None
    reasoning_truncated: bool
    """The model ran out of tokens while thinking (``TestResult.reasoning_truncated``)."""
    attempts: int
    timestamp: str
    """When the test started, ISO 8601 (``TestResult.timestamp``)."""
    has_scoring: bool
    """False when the record's ``scoring`` is null: its test has nothing to score."""
    score: float | None
    """``scoring.score``: None when not scored (request failed, scorer error, nothing to score)."""
    passed: bool | None
    """``scoring.passed``."""
    reasoning: float | None
    """``scoring.reasoning``: the secondary reasoning scorer's value."""
    scoring_error: str | None
    """``scoring.error``: why the result could not be scored."""
    end_reason: str | None = None
    """How the test ended (``TestResult.end_reason``); None in older results."""
    turns: int | None = None
    """User turns the agent answered; None in older results."""
    interactive: bool = False
    """An interactive test (its transcript opens with an instructor's or a script's turn, not
    the test's prompt)."""
    tool_protocol: str | None = None
    """``function`` or ``text`` for a test with tools; None for a test without."""
    tool_calls: int = 0
    """Code calls the agent made."""
    code_errors: int = 0
    """Code calls that raised."""
    code_timeouts: int = 0
    """Code calls stopped at their time limit."""
    session_restarts: int = 0
    """Times the agent's Python session was started again."""
    instructor_tokens: int | None = None
    """The instructor's prompt plus completion tokens for this test; None when it had none."""
    supervisor_tokens: int | None = None
    """The supervisor's prompt plus completion tokens for this test; None when it had none."""
    submission: SubmissionVerdict | None = None
    """The ``submission`` scorer's verdict; None when the result has no such score (a test
    without one, a failed request, or a record scored before it existed)."""

    @property
    def key(self) -> tuple[str, int]:
        """``(test_id, repeat)``: what two agents' results are paired on."""
        return self.test_id, self.repeat

    @property
    def passes(self) -> bool:
        """Scored and passed."""
        return self.score is not None and self.passed is True

    @property
    def failed(self) -> bool:
        """Failed, errored or not scored: what the reports list as a failure (a test with
        nothing to score fails only when its request did)."""
        return self.status != "ok" or bool(self.scoring_error) or self.passed is False

    @classmethod
    def of(
        cls,
        key: tuple[str, str, int],
        result: TestResult,
        scoring: Mapping[str, Any] | None,
        *,
        share: dict[str, str] | None = None,
        transcript: Sequence[Mapping[str, Any]] | None = None,
    ) -> ScoredResult:
        """From a journal entry's key ``(agent_id, test_id, repeat)``, its result, its
        ``scoring`` block and its transcript (which says whether the test was interactive).
        Strings that repeat from result to result (category, status, error kind, scoring
        error, end reason, tool protocol) are taken from ``share`` when an equal one is there,
        so that many results hold one copy."""
        strings = {} if share is None else share

        def shared(text: str) -> str:
            return strings.setdefault(text, text)

        def maybe(text: str | None) -> str | None:
            return None if text is None else shared(text)

        return cls(
            agent_id=key[0],
            test_id=key[1],
            repeat=key[2],
            category=shared(result.category),
            status=shared(result.status),
            error_kind=maybe(result.error_kind),
            execution_time=result.execution_time,
            time_to_first_token=result.time_to_first_token,
            time_to_first_answer_token=result.time_to_first_answer_token,
            tokens_per_second=result.tokens_per_second,
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            cached=result.cached,
            tokens_estimated=result.tokens_estimated,
            reasoning_tokens=result.reasoning_tokens,
            reasoning_truncated=result.reasoning_truncated,
            attempts=result.attempts,
            timestamp=result.timestamp,
            **_verdict(scoring, shared),
            end_reason=maybe(result.end_reason),
            turns=result.turns,
            interactive=is_interactive(transcript),
            tool_protocol=maybe(result.tool_protocol),
            tool_calls=result.tool_calls,
            code_errors=result.code_errors,
            code_timeouts=result.code_timeouts,
            session_restarts=result.session_restarts,
            instructor_tokens=result.instructor_tokens,
            supervisor_tokens=result.supervisor_tokens,
        )

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ScoredResult:
        """From a scored record of docs/summary-format.md (fields it lacks take their
        ``TestResult`` defaults)."""
        return cls(
            agent_id=str(record["agent_id"]),
            test_id=str(record["test_id"]),
            repeat=int(record.get("repeat", 0)),
            category=str(record.get("category", "")),
            status=str(record.get("status", "ok")),
            error_kind=record.get("error_kind"),
            execution_time=float(record.get("execution_time") or 0.0),
            time_to_first_token=record.get("time_to_first_token"),
            time_to_first_answer_token=record.get("time_to_first_answer_token"),
            tokens_per_second=record.get("tokens_per_second"),
            prompt_tokens=record.get("prompt_tokens"),
            completion_tokens=record.get("completion_tokens"),
            cached=bool(record.get("cached")),
            tokens_estimated=bool(record.get("tokens_estimated")),
            reasoning_tokens=record.get("reasoning_tokens"),
            reasoning_truncated=bool(record.get("reasoning_truncated")),
            attempts=int(record.get("attempts") or 0),
            timestamp=str(record.get("timestamp") or ""),
            **_verdict(record.get("scoring"), lambda text: text),
            end_reason=record.get("end_reason"),
            turns=record.get("turns"),
            interactive=is_interactive(record.get("transcript")),
            tool_protocol=record.get("tool_protocol"),
            tool_calls=int(record.get("tool_calls") or 0),
            code_errors=int(record.get("code_errors") or 0),
            code_timeouts=int(record.get("code_timeouts") or 0),
            session_restarts=int(record.get("session_restarts") or 0),
            instructor_tokens=record.get("instructor_tokens"),
            supervisor_tokens=record.get("supervisor_tokens"),
        )


def is_interactive(transcript: Sequence[Mapping[str, Any]] | None) -> bool:
    """Whether ``transcript`` is an interactive test's: a single test's (one with tools) opens
    with the test's own prompt (``"source": "test"``), an interactive test's with a scripted or
    an instructor's turn; a test without tools or turns has none."""
    if not transcript:
        return False
    first = transcript[0]
    return not (isinstance(first, Mapping) and first.get("source") == "test")


def _verdict(scoring: Mapping[str, Any] | None, shared: Callable[[str], str]) -> dict[str, Any]:
    if scoring is None:
        return {
            "has_scoring": False,
            "score": None,
            "passed": None,
            "reasoning": None,
            "scoring_error": None,
            "submission": None,
        }
    score, passed, reasoning = scoring.get("score"), scoring.get("passed"), scoring.get("reasoning")
    error = scoring.get("error")
    return {
        "has_scoring": True,
        "score": None if score is None else float(score),
        "passed": passed if isinstance(passed, bool) else None,
        "reasoning": None if reasoning is None else float(reasoning),
        "scoring_error": None if error is None else shared(str(error)),
        "submission": _submission(scoring.get("scores"), shared),
    }


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _submission(scores: Any, shared: Callable[[str], str]) -> SubmissionVerdict | None:
    """The verdict of the first non-secondary ``submission`` score in ``scores``, if any."""
    if not isinstance(scores, Sequence):
        return None
    found = next(
        (
            s
            for s in scores
            if isinstance(s, Mapping) and s.get("scorer") == SUBMISSION and not s.get("secondary")
        ),
        None,
    )
    if found is None:
        return None
    details = found.get("details")
    details = details if isinstance(details, Mapping) else {}
    metric = details.get("metric")
    higher = details.get("higher_is_better")
    achieved = details.get("achieved")
    if not isinstance(achieved, bool):  # details without it: the score's verdict is achieved
        achieved = found.get("passed") is True
    return SubmissionVerdict(
        error=found.get("error") is not None,
        valid=details.get("valid") is True,
        achieved=achieved and found.get("error") is None,
        value=_number(found.get("value")) or 0.0,
        skill=_number(details.get("skill")),
        metric=shared(metric) if isinstance(metric, str) else None,
        metric_value=_number(details.get("metric_value")),
        baseline=_number(details.get("baseline")),
        best=_number(details.get("best")),
        higher_is_better=higher if isinstance(higher, bool) else None,
    )
