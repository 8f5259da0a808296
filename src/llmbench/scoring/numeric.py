"""The ``numeric`` scorer: the LAST number of the answer equals the expected number.

Models reason first and answer last, so the final number is taken as the answer. A number is:

- an integer or decimal, with an optional sign (``-``, ``+``, ``−``) and currency sign
  (``$ € £ ¥``): ``42``, ``-2.5``, ``.5``, ``$1,234.50``, ``-$3``;
- with ``,`` thousands separators only in groups of three (``1,000`` is 1000; ``1,2,3`` is
  three numbers, the last being 3; ``12,5`` is 12 then 5: decimal commas are not read);
- with an exponent: ``1e3``, ``6.02E23``;
- a fraction of two integers, ``3/4``, or LaTeX ``\\frac{3}{4}`` (a date such as
  ``11/21/2026`` is not a fraction);
- followed by ``%`` or ``percent``: a percentage.

Not read: numbers in words (``five``), mixed numbers (``1 1/2`` reads as 1/2), digits inside a
word (``H2O``), a minus sign right after a letter or digit (``10-20`` is 10 then 20).

The percent rule: a percentage stands for two values, as written and divided by 100, and two
numbers match when any value of one is close to any value of the other. So ``25%`` in an answer
matches an expected ``0.25`` and an expected ``25``; an expected ``"25%"`` (a string) matches an
answer ``0.25`` or ``25``. A bare number stands only for itself (an answer ``0.25`` does not
match an expected ``25``).

Close means ``|found - expected| <= max(abs_tol, rel_tol * |expected|)``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from llmbench.scoring.base import Score, ScoreInput

NAME = "numeric"

_NUMBER = re.compile(
    r"""
    (?<![\w./\\])
    (?P<sign>[-+\u2212])?
    [$€£¥]?
    (?P<sign2>[-+\u2212])?
    (?:
        \\[dt]?frac\{(?P<lnum>\d+)\}\{(?P<lden>\d+)\}
      | (?P<num>\d+)/(?P<den>\d+)(?![/\d.])
      | (?P<dec>(?:\d{1,3}(?:,\d{3})+(?![\d])|\d+)(?:\.\d+)?|\.\d+)(?P<exp>[eE][-+]?\d+)?
    )
    (?P<pct>\s?%|\s(?:percent|per\scent)\b)?
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Number:
    """A number read from text: its value, whether it is a percentage, and how it was written."""

    value: float
    percent: bool
    text: str

    def readings(self) -> tuple[float, ...]:
        """The values it stands for (a percentage stands for two; see the module docstring)."""
        return (self.value, self.value / 100) if self.percent else (self.value,)


def _value(m: re.Match[str]) -> float | None:
    if m["lnum"] is not None or m["num"] is not None:
        num, den = (m["lnum"], m["lden"]) if m["lnum"] is not None else (m["num"], m["den"])
        if int(den) == 0:
            return None
        value = int(num) / int(den)
    else:
        value = float(m["dec"].replace(",", "") + (m["exp"] or ""))
    negative = (m["sign"] or m["sign2"] or "+") in "-\u2212"
    return -value if negative else value


def numbers(text: str) -> list[Number]:
    """Every number in ``text``, in order."""
    out: list[Number] = []
    for m in _NUMBER.finditer(text):
        value = _value(m)
        if value is not None and math.isfinite(value):
            out.append(Number(value, m["pct"] is not None, m.group(0).strip()))
    return out


def parse_number(text: str) -> Number | None:
    """``text`` read as exactly one number (``"25%"``, ``"1,000"``), else None."""
    m = _NUMBER.fullmatch(text.strip())
    if m is None:
        return None
    value = _value(m)
    if value is None or not math.isfinite(value):
        return None
    return Number(value, m["pct"] is not None, m.group(0).strip())


def format_number(value: float) -> str:
    """``30`` for 30.0, ``10.5``, ``1e-07``: short and exact."""
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


@dataclass
class NumericScorer:
    """Passes when the last number of the answer is close to ``expected``."""

    expected: Number
    abs_tol: float = 1e-6
    rel_tol: float = 0.0
    name: str = field(default=NAME, init=False)

    def close(self, found: Number) -> bool:
        """True when any reading of ``found`` is within tolerance of any reading of expected."""
        return any(
            abs(f - e) <= max(self.abs_tol, self.rel_tol * abs(e))
            for f in found.readings()
            for e in self.expected.readings()
        )

    def __call__(self, item: ScoreInput) -> Score:
        shown = self.expected.text
        found = numbers(item.answer)
        if not found:
            return Score(self.name, 0.0, False, f"expected {shown}; no number in the answer")
        last = found[-1]
        passed = self.close(last)
        reason = f"expected {shown}, found {last.text} (last number of the answer)"
        return Score(self.name, float(passed), passed, reason)
