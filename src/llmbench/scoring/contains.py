"""The ``contains`` scorer: the answer mentions the phrases it must.

``all``: every phrase must occur; the value is the fraction found. ``any``: one phrase is
enough; the value is 1 or 0. Without either, the test's ``expected`` is used: one value means
``all: [expected]``, a list means any of its (acceptable) values, as for ``exact``.

Answer and phrases are normalised alike (:mod:`llmbench.scoring.normalize`; case-insensitive
unless ``case_sensitive``) and, with ``whole_words`` (the default), a phrase does not match
inside a longer word: ``Paris`` is not found in ``Parisian``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from llmbench.scoring.base import Score, ScoreInput
from llmbench.scoring.normalize import TextOptions, contains_phrase, normalize

NAME = "contains"


@dataclass
class ContainsScorer:
    """Looks for ``phrases`` in the answer; ``mode`` says whether all or any must be there."""

    phrases: tuple[str, ...]
    mode: Literal["all", "any"] = "all"
    options: TextOptions = field(default_factory=TextOptions)
    whole_words: bool = True
    name: str = field(default=NAME, init=False)

    def __call__(self, item: ScoreInput) -> Score:
        answer = normalize(item.answer, self.options)
        found = [
            p
            for p in self.phrases
            if contains_phrase(answer, normalize(p, self.options), self.whole_words)
        ]
        missing = [p for p in self.phrases if p not in found]
        if self.mode == "any":
            passed = bool(found)
            reason = (
                f"found {found[0]!r}"
                if passed
                else f"none of {', '.join(repr(p) for p in self.phrases)} found"
            )
            return Score(self.name, float(passed), passed, reason)
        value = len(found) / len(self.phrases)
        reason = f"found {len(found)}/{len(self.phrases)}"
        if missing:
            reason += f"; missing {', '.join(repr(p) for p in missing)}"
        return Score(self.name, value, not missing, reason)
