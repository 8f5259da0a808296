"""The ``exact`` scorer: the whole answer, normalised, equals one acceptable value.

Exact means exact after normalisation (:mod:`llmbench.scoring.normalize`): no search for the
value inside a longer answer, no "last line" or "after 'Answer:'" heuristics. ``Paris``,
``paris.`` and ``**Paris**`` match ``"Paris"``; ``The capital is Paris.`` does not (use
``contains`` or ``regex`` for that). ``expected`` may be one value or a list of acceptable
values; numbers and booleans are compared as JSON writes them (``10.5``, ``true``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from llmbench.scoring.base import Score, ScoreInput
from llmbench.scoring.normalize import TextOptions, normalize, shorten

NAME = "exact"


@dataclass
class ExactScorer:
    """Passes when the normalised answer equals one of the normalised ``accepted`` values."""

    accepted: tuple[str, ...]
    """The acceptable answers as written in the suite."""
    options: TextOptions = field(default_factory=TextOptions)
    name: str = field(default=NAME, init=False)

    def __call__(self, item: ScoreInput) -> Score:
        answer = normalize(item.answer, self.options)
        passed = any(normalize(value, self.options) == answer for value in self.accepted)
        shown = " or ".join(repr(a) for a in self.accepted)
        got = repr(shorten(item.answer)) if item.answer.strip() else "an empty answer"
        return Score(self.name, float(passed), passed, f"expected {shown}, got {got}")
