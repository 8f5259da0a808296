"""Templates of the ``[benchmark.dataset]`` table: ``"Question: {question}"`` filled from a row.

The syntax is Python's :meth:`str.format`: ``{field}`` is the row's value of ``field``,
``{field:spec}`` formats it (``{row:04d}``), ``{{`` and ``}}`` are literal braces. A field name
is taken as it is written, dots, spaces and brackets included (CSV headers hold such names), so
there is no attribute or index access. ``{row}`` is the row's index, counted from 0 over the
rows of the file; a field of the row named ``row`` is hidden by it.

A template renders as text: a string as it is, null as ``""``, any other value as JSON
(``42``, ``0.5``, ``true``, ``["a", "b"]``). :meth:`Template.value` keeps the value's type
when the template is exactly one field (``"{answer}"``): the data set decides for which keys
(see :mod:`llmbench.suite.dataset`).
"""

from __future__ import annotations

import datetime
import json
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from llmbench.config.validation import shown

ROW = "row"
"""The field that is the row's index."""

_FORMATTER = string.Formatter()


class MissingField(LookupError):
    """A template names a field the row does not have."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


def as_text(value: Any) -> str:
    """A row's value as template text: a string as it is, null as ``""``, else JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False, default=str)


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template: literal text and fields, in order."""

    text: str
    """The template as written."""
    parts: tuple[tuple[str, str | None, str], ...]
    """``(literal, field or None, format spec)`` as :meth:`string.Formatter.parse` gives them."""

    @classmethod
    def parse(cls, text: str) -> Template:
        """The template of ``text``; ValueError saying what is wrong with its syntax."""
        try:
            parsed = list(_FORMATTER.parse(text))
        except ValueError as exc:
            raise ValueError(
                f"not a valid template ({str(exc)[0].lower()}{str(exc)[1:]}); "
                "write {{ and }} for a literal brace"
            ) from None
        parts: list[tuple[str, str | None, str]] = []
        for literal, field, spec, conversion in parsed:
            if field is not None:
                if not field:
                    raise ValueError(
                        "'{}' names no field; write {name} with a field of the row, or {row}"
                    )
                if conversion:
                    raise ValueError(
                        f"{{{field}!{conversion}}}: conversions (!r, !s, !a) are not supported"
                    )
                if spec and "{" in spec:
                    raise ValueError(f"{{{field}:{spec}}}: a format spec cannot hold a field")
            parts.append((literal, field, spec or ""))
        return cls(text, tuple(parts))

    @property
    def fields(self) -> tuple[str, ...]:
        """The fields the template names, in order."""
        return tuple(field for _, field, _ in self.parts if field is not None)

    @property
    def whole(self) -> str | None:
        """The field when the template is exactly ``"{field}"``, else None."""
        if len(self.parts) == 1 and self.parts[0][0] == "" and not self.parts[0][2]:
            return self.parts[0][1]
        return None

    def render(self, row: Mapping[str, Any], index: int) -> str:
        """The text of the template for ``row`` (the ``index``-th of the file).

        Raises :class:`MissingField`, or ValueError when a format spec does not fit the value.
        """
        if len(self.parts) == 1 and self.parts[0][1] is None:
            return self.parts[0][0]  # no field: the same string for every row, held once
        out: list[str] = []
        for literal, field, spec in self.parts:
            out.append(literal)
            if field is None:
                continue
            value = _lookup(row, index, field)
            if spec:
                try:
                    out.append(format(value, spec))
                except (ValueError, TypeError, OverflowError) as exc:
                    raise ValueError(
                        f"{{{field}:{spec}}} does not fit the value {shown(value, 40)}: {exc}"
                    ) from None
            else:
                out.append(as_text(value))
        return "".join(out)

    def value(self, row: Mapping[str, Any], index: int) -> Any:
        """The row's value itself when the template is exactly one field, else the text."""
        field = self.whole
        return _lookup(row, index, field) if field is not None else self.render(row, index)


def _lookup(row: Mapping[str, Any], index: int, field: str) -> Any:
    if field == ROW:
        return index
    try:
        return row[field]
    except KeyError:
        raise MissingField(field) from None


def compile_templates(value: Any) -> Any:
    """``value`` (a TOML value) with every string parsed into a :class:`Template`, lists and
    tables walked; ValueError for a bad template or a value JSON has no type for."""
    if isinstance(value, str):
        return Template.parse(value)
    if isinstance(value, list):
        return [compile_templates(v) for v in value]
    if isinstance(value, dict):
        return {k: compile_templates(v) for k, v in value.items()}
    if isinstance(value, datetime.date | datetime.time):
        raise ValueError("a TOML date or time has no JSON type; write it as a string")
    return value


def fill(compiled: Any, row: Mapping[str, Any], index: int, *, text: bool) -> Any:
    """``compiled`` (from :func:`compile_templates`) with every template filled from ``row``.

    With ``text`` every template gives text; otherwise a template that is exactly one field
    gives the row's value itself (a number stays a number).
    """
    if isinstance(compiled, Template):
        return compiled.render(row, index) if text else compiled.value(row, index)
    if isinstance(compiled, list):
        return [fill(v, row, index, text=text) for v in compiled]
    if isinstance(compiled, dict):
        return {k: fill(v, row, index, text=text) for k, v in compiled.items()}
    return compiled


def check_templates(value: Any) -> Any:
    """A pydantic validator: ``value`` as it is when every template in it parses."""
    compile_templates(value)
    return value
