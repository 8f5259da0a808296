"""The ``choice`` scorer: the option letter chosen in a multiple-choice answer.

The letter is looked for in tiers, most explicit first; the first tier that finds one wins:

1. the whole answer is a letter: ``C``, ``(c)``, ``**C.**``;
2. an explicit statement, the last one if there are several: ``The answer is (B)``,
   ``Answer: d``, ``final answer: option C``;
3. a bold or boxed letter: ``**C**``, ``\\boxed{C}``;
4. ``option A`` / ``choice A``: ``I'd go with option A because...``;
5. a line that starts with a letter and ``)``, ``.`` or ``:``: ``B) 42``;
6. a letter in parentheses: ``(B)``;
7. a stray capital letter standing alone (``A`` and ``I`` not when a lower-case word follows,
   where they are the article and the pronoun);
8. with ``options`` (letter -> option text): the answer mentions exactly one option's text.

In tiers 3 to 8 a tier that finds two different letters is ambiguous and the next tier is
tried; if none decides, the answer has no choice. A lower-case letter counts in tiers 1 and 2
only, and in tier 2 only when a delimiter or the end follows it (``answer: d``, not
``the answer is a ...``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from llmbench.scoring.base import Score, ScoreInput
from llmbench.scoring.normalize import contains_phrase, normalize

NAME = "choice"
_PRE = r"[\s(\[*\"'`]*"
_END = r"(?![\w'’])"


@dataclass(frozen=True)
class Extraction:
    """What :func:`extract_choice` found: a letter and how, or the letters that conflicted."""

    letter: str | None
    how: str
    conflicting: tuple[str, ...] = ()


def _tiers(letters: str) -> list[tuple[str, re.Pattern[str]]]:
    """Tiers 3 to 7: (how the letter was found, pattern with one group per alternative)."""
    cls = f"[{re.escape(letters)}]"
    words = [re.escape(c) for c in letters if c in "AI"]
    others = [re.escape(c) for c in letters if c not in "AI"]
    alone = [f"([{''.join(words)}])(?!\\s+[a-z])"] if words else []
    alone += [f"([{''.join(others)}])"] if others else []
    return [
        ("bold or boxed letter", re.compile(rf"\*\*\(?({cls})\)?[.:]?\*\*|\\boxed\{{({cls})\}}")),
        ("'option X'", re.compile(rf"\b(?:option|choice|letter)\s+[(\[*]*({cls}){_END}", re.I)),
        ("a line starting with a letter", re.compile(rf"^[ \t>*#-]*\(?({cls})[).:](?:\s|$)", re.M)),
        ("letter in parentheses", re.compile(rf"\(({cls})\)")),
        ("a letter standing alone", re.compile(rf"(?<![\w'’])(?:{'|'.join(alone)}){_END}")),
    ]


_EXPLICIT = re.compile(
    r"\b(?:answer|correct\s+(?:option|choice)|I\s+(?:would\s+)?(?:choose|pick|select)"
    r"|I'd\s+(?:choose|pick|select|go\s+with))"
    r"(?:\s+(?:is|would\s+be|will\s+be))?\s*[:=-]?\s*(?:option|choice|letter)?"
    rf"{_PRE}([a-z]){_END}",
    re.IGNORECASE,
)
_DELIMITERS = ").]*:,;!?\"'`"


def _explicit(answer: str, letters: str) -> list[str]:
    """Letters of tier 2, in order; a lower-case one only before a delimiter or the end."""
    out: list[str] = []
    for m in _EXPLICIT.finditer(answer):
        letter = m.group(1)
        if letter.upper() not in letters:
            continue
        rest = answer[m.end() :].lstrip(" \t")
        if letter.islower() and rest and rest[0] not in _DELIMITERS and rest[0] != "\n":
            continue
        out.append(letter.upper())
    return out


def _distinct(pattern: re.Pattern[str], answer: str) -> list[str]:
    found = (next(g for g in m.groups() if g).upper() for m in pattern.finditer(answer))
    return list(dict.fromkeys(found))


def extract_choice(
    answer: str, letters: str = "ABCD", options: Mapping[str, str] | None = None
) -> Extraction:
    """The option letter chosen in ``answer`` (see the module docstring for the rules)."""
    whole = normalize(answer)
    if len(whole) == 1 and whole.upper() in letters:
        return Extraction(whole.upper(), "the whole answer")
    explicit = _explicit(answer, letters)
    if explicit:
        return Extraction(explicit[-1], "an explicit statement")
    conflicting: tuple[str, ...] = ()
    for how, pattern in _tiers(letters):
        found = _distinct(pattern, answer)
        if len(found) == 1:
            return Extraction(found[0], how)
        if found and not conflicting:
            conflicting = tuple(found)
    if options:
        text = normalize(answer)
        named = [k for k, v in options.items() if contains_phrase(text, normalize(v))]
        if len(named) == 1:
            return Extraction(named[0], "the option's text")
        if named and not conflicting:
            conflicting = tuple(named)
    return Extraction(None, "", conflicting)


@dataclass
class ChoiceScorer:
    """Passes when the extracted letter is ``expected``."""

    expected: str
    """The right letter (upper case)."""
    letters: str = "ABCD"
    options: Mapping[str, str] | None = None
    name: str = field(default=NAME, init=False)

    def __call__(self, item: ScoreInput) -> Score:
        got = extract_choice(item.answer, self.letters, self.options)
        if got.letter is None:
            why = (
                f"ambiguous: {', '.join(got.conflicting)}"
                if got.conflicting
                else "no choice found in the answer"
            )
            return Score(self.name, 0.0, False, f"expected {self.expected}; {why}")
        passed = got.letter == self.expected
        reason = f"expected {self.expected}, extracted {got.letter} ({got.how})"
        return Score(self.name, float(passed), passed, reason)
