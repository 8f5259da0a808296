"""Turning pydantic validation errors into one-line messages a user can act on."""

from __future__ import annotations

import datetime
import difflib
import re
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError

_TYPE_TAG = re.compile(r"(str|int|float|bool|list|dict|none|function-\w+)(\[.*\])?")

MAX_ID_LENGTH = 100
"""The longest test id or agent id, in characters."""


def check_id(value: str) -> str:
    """A test or agent id as it is, or ValueError saying why it cannot be one.

    An id is 1 to :data:`MAX_ID_LENGTH` printable characters (no line breaks, tabs, NUL or
    other control characters) that neither start nor end with whitespace. Other characters,
    ``/`` and ``..`` included, are allowed: result file names are made from ids by
    :func:`llmbench.store.files.safe_component`, which keeps them inside the run directory.
    """
    if not value.isprintable():
        raise ValueError("must be printable text: no line breaks, tabs, NUL or other controls")
    if value != value.strip():
        raise ValueError("must not start or end with whitespace")
    return value


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NOT_SHOWN = "env_name"
"""Errors of this type do not echo the input: it may be the secret itself."""


def check_env_name(value: str | None) -> str | None:
    """An ``api_key_env`` value as it is, or an error that does not repeat the value (a key
    pasted in place of the variable's name must not reach a terminal or a log)."""
    if value is not None and not _ENV_NAME.fullmatch(value):
        raise PydanticCustomError(
            _NOT_SHOWN,
            "expected the name of an environment variable such as OPENAI_API_KEY "
            "(letters, digits and _), not the key itself; the value is not shown",
        )
    return value


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean X?"`` for the closest of ``choices``, or ``""`` when none is close.

    Numbers are compared by value first: ``complex_test_1`` suggests ``complex_test_01``
    (which a spelling match would rank below ``complex_test_41``)."""
    options = list(choices)
    same_numbers = [c for c in options if _numbers_by_value(c) == _numbers_by_value(word)]
    close = same_numbers or difflib.get_close_matches(word, options, n=1, cutoff=0.5)
    return f"; did you mean {close[0]}?" if close else ""


def _numbers_by_value(text: str) -> str:
    """``text`` with each run of digits written without leading zeros."""
    return re.sub(r"\d+", lambda m: m.group().lstrip("0") or "0", text)


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
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "missing":
        return f"missing required field '{where}'"
    if err["type"] == _NOT_SHOWN:
        return f"field '{where}': {msg}"
    if err["type"] == "path_type":
        msg = "input should be a path written as a string"
    # "a valid dictionary or instance of BenchmarkSection": the class name means nothing to a user
    msg = re.sub(r" or instance of \w+", "", msg)
    return f"field '{where}': {msg[0].lower() + msg[1:]}, got {shown(got)}"


def shown(value: Any, limit: int = 60) -> str:
    """``value`` for a message: its repr cut to ``limit`` characters; a TOML date or time as
    ``date 1979-05-27``."""
    if isinstance(value, datetime.date | datetime.time):
        return f"{type(value).__name__} {value.isoformat()}"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
