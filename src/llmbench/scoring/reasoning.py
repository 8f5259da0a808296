"""The ``reasoning`` scorer: a side metric, the share of expected indicator words in the answer.

The seed suite format lists words or phrases a good explanation uses in
``evaluation_config.expected_indicators`` (``["multiply", "product"]``). The value is the
fraction present (case-insensitive, as whole words: ``add`` is not found in ``adding``); the
score passes at ``threshold`` or more. It is always ``secondary``: a labelled side metric,
never part of correctness (a right answer with no explanation is still right).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from llmbench.scoring.base import Score, ScoreInput
from llmbench.scoring.normalize import TextOptions, contains_phrase, normalize

NAME = "reasoning"
_TEXT = TextOptions(case_sensitive=False, normalize_whitespace=True, ignore_punctuation=False)


@dataclass
class ReasoningScorer:
    """Fraction of ``indicators`` in the answer; passes at ``threshold``."""

    indicators: tuple[str, ...]
    threshold: float = 0.5
    name: str = field(default=NAME, init=False)

    def __call__(self, item: ScoreInput) -> Score:
        answer = normalize(item.answer, _TEXT)
        found = [w for w in self.indicators if contains_phrase(answer, normalize(w, _TEXT))]
        value = len(found) / len(self.indicators)
        reason = f"{len(found)}/{len(self.indicators)} indicators"
        if found:
            reason += f" ({', '.join(found)})"
        return Score(self.name, value, value >= self.threshold, reason, secondary=True)
