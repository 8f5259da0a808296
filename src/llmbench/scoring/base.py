"""The scoring vocabulary: what a scorer gets (:class:`ScoreInput`) and gives (:class:`Score`).

A scorer is one small object with one job: ``scorer(item) -> Score``. Its value is in [0, 1],
``passed`` says whether the answer counts as right, and ``reason`` tells a person why, in one
line. A scorer that cannot reach a verdict (a judge whose reply never parsed) returns a Score
with ``error`` set; that is counted as an error, never as a zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from llmbench.suite.models import TestCase


@dataclass(frozen=True)
class ScoreInput:
    """One answer to score."""

    test: TestCase
    answer: str
    """The agent's answer (its last reply for an interactive test)."""
    transcript: list[dict[str, Any]] | None = None
    """The conversation of an interactive test (see ``llmbench.interactive``)."""
    reasoning: str = ""
    """The model's thinking, given only to a judge asked for it (``include_reasoning``);
    rule-based scorers never see it."""
    files_dir: Path | None = None
    """The host folder holding the copy of what the agent left in ``/home/agent`` for this
    result (a test with tools, in a run directory); None when no files were saved."""


@dataclass(frozen=True)
class Score:
    """One scorer's verdict on one answer."""

    scorer: str
    """The scorer's name as written in the test's ``scoring`` spec (``exact``, ``numeric``...)."""
    value: float
    """In [0, 1]; 0 when ``error`` is set (and then not used)."""
    passed: bool
    reason: str
    """One line a person reads: what was expected, what was found."""
    secondary: bool = False
    """A labelled side metric (``reasoning``), never part of correctness."""
    error: str | None = None
    """Set when the scorer could not reach a verdict; the score then counts as an error."""
    details: dict[str, Any] | None = None
    """What a scorer keeps beyond the verdict, JSON-ready (the ``submission`` scorer: the raw
    metric, baseline, skill, validity; see ``docs/summary-format.md``); None for most."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready record; ``details`` only when set, so older records keep their
        shape."""
        data: dict[str, Any] = {
            "scorer": self.scorer,
            "value": self.value,
            "passed": self.passed,
            "reason": self.reason,
            "secondary": self.secondary,
            "error": self.error,
        }
        if self.details is not None:
            data["details"] = self.details
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Score:
        """A Score from :meth:`to_dict` output (one without ``details`` included)."""
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


class Scorer(Protocol):
    """Turns an answer into a :class:`Score`."""

    name: str

    def __call__(self, item: ScoreInput) -> Score: ...
