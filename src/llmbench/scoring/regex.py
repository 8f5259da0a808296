"""The ``regex`` scorer: a regular expression (Python :mod:`re` syntax) matches the answer.

``match: "search"`` (the default) passes when the pattern occurs anywhere in the answer;
``"fullmatch"`` when it matches the whole answer with surrounding whitespace stripped.
``flags`` is a string of ``i`` (ignore case), ``m`` (``^``/``$`` at every line), ``s`` (``.``
matches a newline), ``x`` (verbose). The pattern is compiled when the suite is checked, so a
bad pattern is an input error before a run starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from llmbench.scoring.base import Score, ScoreInput
from llmbench.scoring.normalize import shorten

NAME = "regex"
FLAGS: dict[str, re.RegexFlag] = {
    "i": re.IGNORECASE,
    "m": re.MULTILINE,
    "s": re.DOTALL,
    "x": re.VERBOSE,
}


def compile_pattern(pattern: str, flags: str) -> re.Pattern[str]:
    """``pattern`` compiled with ``flags`` letters; ValueError names what is wrong."""
    value = re.NOFLAG
    for letter in flags:
        if letter not in FLAGS:
            raise ValueError(f"unknown flag {letter!r}; known flags: {', '.join(FLAGS)}")
        value |= FLAGS[letter]
    try:
        return re.compile(pattern, value)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None


@dataclass
class RegexScorer:
    """Passes when ``pattern`` is found in (``search``) or matches (``fullmatch``) the answer."""

    pattern: re.Pattern[str]
    match: Literal["search", "fullmatch"] = "search"
    name: str = field(default=NAME, init=False)

    def __call__(self, item: ScoreInput) -> Score:
        if self.match == "fullmatch":
            found = self.pattern.fullmatch(item.answer.strip())
        else:
            found = self.pattern.search(item.answer)
        if found is None:
            verb = "match the answer" if self.match == "fullmatch" else "found in the answer"
            return Score(self.name, 0.0, False, f"/{self.pattern.pattern}/ not {verb}")
        return Score(
            self.name, 1.0, True, f"/{self.pattern.pattern}/ matched {shorten(found.group(0))!r}"
        )
