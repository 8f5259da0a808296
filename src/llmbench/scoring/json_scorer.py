"""The ``json`` scorer: the answer holds valid JSON, optionally matching a schema and ``expected``.

Where the JSON is taken from, first that applies:

1. the first fenced block tagged ``json`` or untagged (```` ```json ... ``` ````); if it does
   not parse, the answer fails (the model said "this is the JSON");
2. the whole answer, stripped;
3. the first object or array in the text that parses (``Here it is: {"a": 1}. Done.``); a bare
   scalar inside prose is not taken.

Then, when given: ``schema`` (a JSON Schema, any draft :mod:`jsonschema` knows; checked when the
suite is checked) must validate the value, and with ``equals`` the value must equal the test's
``expected`` as JSON values (``1`` equals ``1.0``, ``true`` does not equal ``1``, key order does
not matter). The value is 1 when every check passes, else 0.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from llmbench.scoring.base import Score, ScoreInput
from llmbench.scoring.normalize import shorten

NAME = "json"
_FENCE = re.compile(r"^[ \t]*```[ \t]*(\w*)[^\n]*\n(.*?)^[ \t]*```", re.MULTILINE | re.DOTALL)
_MISSING = object()


def extract_json(answer: str) -> tuple[Any, str]:
    """The JSON value of ``answer`` and where it was found; ValueError says why there is none."""
    for fence in _FENCE.finditer(answer):
        if fence.group(1).lower() in ("", "json", "jsonc"):
            try:
                return json.loads(fence.group(2)), "fenced block"
            except json.JSONDecodeError as exc:
                raise ValueError(f"the fenced block is not valid JSON: {exc}") from None
    try:
        return json.loads(answer), "whole answer"
    except json.JSONDecodeError:
        pass
    decoder = json.JSONDecoder()
    for m in re.finditer(r"[{\[]", answer):
        try:
            return decoder.raw_decode(answer, m.start())[0], "first JSON value in the text"
        except json.JSONDecodeError:
            continue
    raise ValueError("no JSON value in the answer")


def check_schema(schema: dict[str, Any]) -> None:
    """Raise ValueError when ``schema`` is not a valid JSON Schema."""
    # jsonschema is imported when a test has a schema: a run that has none does not pay ~30 ms
    # of start-up for it
    from jsonschema import exceptions as schema_errors  # type: ignore[import-untyped]
    from jsonschema import validators

    try:
        validators.validator_for(schema).check_schema(schema)
    except schema_errors.SchemaError as exc:
        raise ValueError(f"invalid JSON Schema at {exc.json_path}: {exc.message}") from None


def schema_problem(value: Any, schema: dict[str, Any]) -> str | None:
    """The most relevant reason ``value`` fails ``schema``, or None when it validates."""
    from jsonschema import exceptions as schema_errors
    from jsonschema import validators

    validator = validators.validator_for(schema)(schema)
    error = schema_errors.best_match(validator.iter_errors(value))
    if error is None:
        return None
    return f"at {error.json_path}: {error.message}"


def first_difference(got: Any, want: Any, path: str = "$") -> str | None:
    """Where two JSON values first differ (``$.a[0]: 2 != 3``), or None when equal."""
    if isinstance(got, bool) or isinstance(want, bool):
        same = type(got) is type(want) and got == want
        return None if same else f"{path}: {json.dumps(got)} != {json.dumps(want)}"
    if isinstance(got, dict) and isinstance(want, dict):
        for key in sorted(set(got) | set(want)):
            a, b = got.get(key, _MISSING), want.get(key, _MISSING)
            if a is _MISSING or b is _MISSING:
                which = "extra" if b is _MISSING else "missing"
                return f"{path}: {which} key {key!r}"
            diff = first_difference(a, b, f"{path}.{key}")
            if diff:
                return diff
        return None
    if isinstance(got, list) and isinstance(want, list):
        if len(got) != len(want):
            return f"{path}: {len(got)} items != {len(want)}"
        for i, (a, b) in enumerate(zip(got, want, strict=True)):
            diff = first_difference(a, b, f"{path}[{i}]")
            if diff:
                return diff
        return None
    numbers = (int, float)
    if isinstance(got, numbers) and isinstance(want, numbers):
        return None if got == want else f"{path}: {got} != {want}"
    if type(got) is type(want) and got == want:
        return None
    return f"{path}: {shorten(json.dumps(got), 40)} != {shorten(json.dumps(want), 40)}"


@dataclass
class JsonScorer:
    """Passes when the answer holds JSON that meets ``schema`` and, with ``equals``, expected."""

    schema: dict[str, Any] | None = None
    expected: Any = None
    equals: bool = False
    name: str = field(default=NAME, init=False)

    def __call__(self, item: ScoreInput) -> Score:
        try:
            value, where = extract_json(item.answer)
        except ValueError as exc:
            return Score(self.name, 0.0, False, str(exc))
        if self.schema is not None:
            problem = schema_problem(value, self.schema)
            if problem:
                return Score(self.name, 0.0, False, f"does not match the schema {problem}")
        if self.equals:
            diff = first_difference(value, self.expected)
            if diff:
                return Score(self.name, 0.0, False, f"differs from expected at {diff}")
        checks = ["valid JSON"]
        checks += ["matches the schema"] if self.schema is not None else []
        checks += ["equals expected"] if self.equals else []
        return Score(self.name, 1.0, True, f"{', '.join(checks)} ({where})")
