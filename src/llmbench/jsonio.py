"""JSON in and out on the hot paths: orjson, with the standard library for what it refuses.

Every result is encoded for the journal, read back at the end of the run, encoded again for its
per-test file, and every streamed event of every answer is decoded: with :mod:`json` that was
most of llmbench's CPU per test (``indent=2`` even runs the pure-Python encoder). orjson does
the same in C, 10-40 times faster (benchmarks/README.md). Its output is the same JSON, written
as UTF-8 (as ``ensure_ascii=False``), with two differences we accept: NaN and infinities are
written as ``null`` (the standard library writes ``NaN``, which is not JSON) and floats are
written in their shortest form (``1e-05`` becomes ``1e-5``). On input, an integer beyond 64
bits is read as a float: only a server's raw response (``api_response``) could hold one, and
the answer's text, token counts and scores never do.

What orjson refuses falls back to :mod:`json`: integers beyond 64 bits and lone surrogates on
output, ``NaN``/``Infinity`` literals on input. So both functions accept what the standard
library accepts, and raise what it raises (:class:`ValueError` for bad input).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import orjson

_COMPACT = orjson.OPT_NON_STR_KEYS
_PRETTY = orjson.OPT_NON_STR_KEYS | orjson.OPT_INDENT_2


def loads(data: bytes | str) -> Any:
    """The value of the JSON text ``data``; :class:`ValueError` when it is not JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        # NaN, Infinity, integers beyond 64 bits, lone surrogates: the standard library takes
        # them; anything else it refuses too, with its own (familiar) message
        return json.loads(data)


def dumps_bytes(data: Any, pretty: bool = False) -> bytes:
    """``data`` as UTF-8 JSON; ``pretty`` indents by two spaces. Values JSON has no type for
    are written as their ``str()``."""
    try:
        return orjson.dumps(data, default=str, option=_PRETTY if pretty else _COMPACT)
    except orjson.JSONEncodeError:
        # a lone surrogate becomes its escape "\\udXXX", which reads back as the same string
        return _standard(data, pretty).encode("utf-8", "backslashreplace")


def dumps(data: Any, pretty: bool = False) -> str:
    """:func:`dumps_bytes` as text."""
    try:
        return orjson.dumps(data, default=str, option=_PRETTY if pretty else _COMPACT).decode()
    except orjson.JSONEncodeError:
        return _standard(data, pretty)


def _standard(data: Any, pretty: bool) -> str:
    return json.dumps(_finite(data), indent=2 if pretty else None, ensure_ascii=False, default=str)


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as ``None``, as orjson writes them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
