"""Turning pydantic validation errors into one-line messages a user can act on."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

_TYPE_TAG = re.compile(r"(str|int|float|bool|list|dict|none|function-\w+)(\[.*\])?")


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean X?"`` for the closest of ``choices``, or ``""`` when none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.5)
    return f"; did you mean {close[0]}?" if close else ""


def _field_names(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """The field names known at ``loc`` inside ``model`` (for suggesting a misspelled key)."""
    current: Any = model
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        info = current.model_fields.get(str(part))
        if info is None:
            return []
        current = info.annotation
        # unwrap Optional[Model]
        for arg in getattr(current, "__args__", ()) or ():
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                current = arg
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def dotted(loc: Sequence[int | str]) -> str:
    """``("a", 0, "b")`` -> ``a[0].b``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def explain(exc: ValidationError, model: type[BaseModel], prefix: str = "") -> str:
    """The first problem in ``exc`` as ``field 'x.y': expected ..., got ...``.

    Unknown keys name the closest known key. ``prefix`` is prepended to the field path.
    """
    err = exc.errors(include_url=False)[0]
    # pydantic adds the tried type of a union to the location ("temperature.float"); drop it
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and _TYPE_TAG.fullmatch(p)))
    where = dotted(loc)
    if prefix:
        where = f"{prefix}.{where}" if where else prefix
    if err["type"] == "extra_forbidden":
        known = _field_names(model, loc[:-1])
        hint = did_you_mean(str(loc[-1]), known)
        if not hint and known:
            hint = f"; known keys: {', '.join(sorted(known))}"
        return f"unknown key '{where}'{hint}"
    got = err.get("input")
    msg = err["msg"]
    if err["type"] == "missing":
        return f"missing required field '{where}'"
    shown = repr(got)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"field '{where}': {msg[0].lower() + msg[1:]}, got {shown}"
