"""Fitting a table to a width: which columns to show, how wide each is, which are left out.

:func:`fit` is the terminal leaderboard's layout (:mod:`llmbench.report.terminal`), kept apart
from rich so that it can be read and tested as arithmetic. A table laid out by it is
``sum(widths) + GAP * (columns - 1)`` cells wide: cells never wrap (an interval stays on one
line); a header may wrap at its spaces, never inside ``[...]`` or ``(...)``. When even that
does not fit, the columns named by ``drop`` are left out in that order, and only when what
remains is still too wide is the ``cut`` column made narrower (its cells then end in ``…``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len

GAP = 3
"""Cells between two columns: `` | ``."""

MIN_CUT = 8
"""The narrowest the ``cut`` column is made, however narrow the width (the table is then
wider than the width)."""

_HEADER_WORDS = re.compile(r"\[[^\]]*\]|\([^)]*\)|\S+")


@dataclass(frozen=True)
class Fit:
    """A table's layout at one width."""

    shown: tuple[int, ...]
    """The columns shown, as indexes into the header, in table order."""
    widths: tuple[int, ...]
    """The width in cells of each column shown (padding and gaps not included)."""
    left_out: tuple[int, ...]
    """The columns left out, in the order they were dropped."""
    cut: bool
    """Whether the ``cut`` column is narrower than its longest cell."""


def header_words(header: str) -> list[str]:
    """The pieces a header may be wrapped between: its words, ``[95% CI]`` and ``(s)`` whole."""
    return _HEADER_WORDS.findall(header)


def wrap_header(header: str, width: int) -> str:
    """``header`` over as few lines of at most ``width`` cells as its words allow."""
    lines: list[str] = []
    for word in header_words(header):
        if lines and cell_len(lines[-1]) + 1 + cell_len(word) <= width:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    return "\n".join(lines)


def table_width(widths: Sequence[int]) -> int:
    """The cells a table of columns this wide takes."""
    return sum(widths) + GAP * max(len(widths) - 1, 0)


def fit(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    width: int | None,
    drop: Sequence[str] = (),
    cut: str | None = None,
) -> Fit:
    """The layout of ``rows`` under ``header`` in ``width`` cells (None: every column, each as
    wide as its widest cell or header).

    A column is as wide as its longest cell, and as its header where there is room for it on
    one line (the columns first in the table get that room first), else as its longest header
    word. ``drop`` names the columns that may be left out, least important first (a name not
    in ``header`` is skipped); ``cut`` names the column that is made narrower when the rest
    still does not fit.
    """
    cells = [max((cell_len(row[i]) for row in rows), default=0) for i in range(len(header))]
    full = [max(c, cell_len(h)) for c, h in zip(cells, header, strict=True)]
    if width is None:
        return Fit(tuple(range(len(header))), tuple(full), (), False)
    least = [
        max([c, *(cell_len(w) for w in header_words(h))])
        for c, h in zip(cells, header, strict=True)
    ]
    shown = list(range(len(header)))
    left_out: list[int] = []
    for name in [*(d for d in drop if d in header), None]:
        if table_width([least[i] for i in shown]) <= width:
            return Fit(tuple(shown), _widened(shown, least, full, width), tuple(left_out), False)
        if name is not None:
            shown.remove(header.index(name))
            left_out.append(header.index(name))
    widths = [least[i] for i in shown]
    if cut is not None and cut in header and header.index(cut) in shown:
        at = shown.index(header.index(cut))
        rest = table_width(widths) - widths[at]
        widths[at] = min(widths[at], max(width - rest, MIN_CUT))
        return Fit(tuple(shown), tuple(widths), tuple(left_out), widths[at] < cells[shown[at]])
    return Fit(tuple(shown), tuple(widths), tuple(left_out), False)


def _widened(
    shown: Sequence[int], least: Sequence[int], full: Sequence[int], width: int
) -> tuple[int, ...]:
    """The ``least`` widths of ``shown``, each widened to its ``full`` one, in table order,
    while the table still fits in ``width``."""
    widths = [least[i] for i in shown]
    room = width - table_width(widths)
    for at, i in enumerate(shown):
        more = full[i] - least[i]
        if more <= room:
            widths[at] = full[i]
            room -= more
    return tuple(widths)
