"""Text normalisation shared by the text scorers (``exact``, ``contains``, ``choice``).

:func:`normalize` applies, in this order:

1. Unicode NFKC (full-width letters, ligatures and non-breaking spaces become plain ones);
2. with ``ignore_punctuation``: drop every punctuation or symbol character (Unicode categories
   ``P*`` and ``S*``: ``.,;:!?'"()[]*_`$%`` ...) that does not sit between two letters or digits,
   and keep a sign directly before a digit. So ``**Paris.**`` -> ``Paris``, ``"yes!"`` ->
   ``yes``, but ``11:45``, ``3.14``, ``don't`` and ``-5`` keep their inner marks: ``11:45`` does
   not equal ``11.45`` and ``-5`` does not equal ``5``;
3. with ``normalize_whitespace``: runs of whitespace become one space, ends are stripped;
4. without ``case_sensitive``: case folding (``Straße`` equals ``STRASSE``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_SIGNS = frozenset("+-\u2212")
_WHITESPACE = re.compile(r"\s+")
_ASCII_MARK = re.compile(r"[!-/:-@\[-`{-~]")
"""Every ASCII punctuation or symbol character (Unicode categories P* and S*)."""


@dataclass(frozen=True)
class TextOptions:
    """How two texts are made comparable."""

    case_sensitive: bool = False
    normalize_whitespace: bool = True
    ignore_punctuation: bool = True


def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "PS"


def _kept(text: str, i: int) -> bool:
    """True when the mark at ``text[i]`` stays: between two alphanumerics, or a number's sign."""
    before = text[i - 1] if i > 0 else ""
    after = text[i + 1] if i + 1 < len(text) else ""
    if before.isalnum() and after.isalnum():
        return True
    return text[i] in _SIGNS and after.isdigit() and not before.isalnum()


def strip_punctuation(text: str) -> str:
    """Drop punctuation and symbols except between two alphanumerics or as a sign of a number."""
    if text.isascii():  # the usual case: only the ASCII marks need a look
        return _ASCII_MARK.sub(lambda m: m[0] if _kept(text, m.start()) else "", text)
    return "".join(ch for i, ch in enumerate(text) if not _is_mark(ch) or _kept(text, i))


def normalize(text: str, options: TextOptions = TextOptions()) -> str:
    """``text`` in the comparable form described in the module docstring."""
    text = unicodedata.normalize("NFKC", text)
    if options.ignore_punctuation:
        text = strip_punctuation(text)
    if options.normalize_whitespace:
        text = _WHITESPACE.sub(" ", text).strip()
    if not options.case_sensitive:
        text = text.casefold()
    return text


def as_text(value: object) -> str:
    """A reference value as text: strings as they are, other JSON scalars as JSON writes them."""
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def contains_phrase(haystack: str, needle: str, whole_words: bool = True) -> bool:
    """True when ``needle`` occurs in ``haystack``; with ``whole_words``, not inside a word.

    Both texts should already be normalised the same way. An empty needle is never found.
    """
    if not needle:
        return False
    if not whole_words:
        return needle in haystack
    pattern = re.escape(needle)
    if needle[0].isalnum() or needle[0] == "_":
        pattern = r"(?<!\w)" + pattern
    if needle[-1].isalnum() or needle[-1] == "_":
        pattern += r"(?!\w)"
    return re.search(pattern, haystack) is not None


def shorten(text: str, limit: int = 60) -> str:
    """``text`` on one line and at most ``limit`` characters, for a reason."""
    one_line = _WHITESPACE.sub(" ", text).strip()
    return one_line if len(one_line) <= limit else one_line[: limit - 3] + "..."
