"""Reading JSON and TOML input files with errors that say where the problem is."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, NoReturn

from llmbench.errors import InputError

MAX_INPUT_BYTES = 64 * 1024 * 1024
"""Input files larger than this are refused with their size instead of being parsed."""

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_LONG_NUMBER = re.compile(r"[0-9A-Fa-f_]{4000,}")
_TOML_POSITION = re.compile(r" \(at line (?P<line>\d+), column (?P<column>\d+)\)\Z")
_JSON_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_TOML_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'')


def read_text(p: Path, kind: str, error: type[InputError]) -> str:
    """The text of an input file, or ``error`` naming the file.

    A UTF-8 byte order mark is accepted; any other encoding is refused with the byte offset of
    the first undecodable byte. ``kind`` ("JSON", "TOML") is for the messages.
    """
    if "\0" in str(p):
        raise error("not a usable file name: it contains a NUL character", path=p)
    try:
        size = p.stat().st_size
        if p.is_dir():
            raise error(f"is a directory, expected a {kind} file", path=p)
        if size > MAX_INPUT_BYTES:
            raise error(
                f"file is {size / 1e6:.1f} MB; llmbench reads input files up to "
                f"{MAX_INPUT_BYTES / 1e6:.0f} MB",
                path=p,
            )
        with p.open("rb") as fh:
            # bounded: a pipe or a device has no size to check beforehand
            raw = fh.read(MAX_INPUT_BYTES + 1)
        if len(raw) > MAX_INPUT_BYTES:
            raise error(
                f"file is over {MAX_INPUT_BYTES / 1e6:.0f} MB; llmbench reads input files up "
                f"to {MAX_INPUT_BYTES / 1e6:.0f} MB",
                path=p,
            )
    except FileNotFoundError:
        raise error("file not found", path=p) from None
    except PermissionError:
        raise error("permission denied reading the file", path=p) from None
    except OSError as exc:
        raise error(f"cannot read the file: {exc.strerror or exc}", path=p) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if raw.startswith(_UTF16_BOMS):
            raise error("not UTF-8 text: the file is UTF-16; save it as UTF-8", path=p) from None
        raise error(
            f"not UTF-8 text: byte {exc.start} is 0x{raw[exc.start]:02x}; save the file as UTF-8",
            path=p,
        ) from None


def _control_character(text: str, line: int, column: int) -> str:
    """``"; found the control character '\\x00'"`` when one is at ``line``:``column`` (tomllib
    does not name it), else ``""``."""
    lines = text.split("\n")
    if line <= len(lines) and column <= len(lines[line - 1]):
        ch = lines[line - 1][column - 1]
        if not ch.isprintable() and ch not in "\t\r":
            return f"; found the control character {ch!a}"
    return ""


def _line_column(text: str, offset: int, comma: str = "") -> str:
    """``line L column C`` of ``offset`` (``line L, column C`` with ``comma=","``, as tomllib)."""
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"line {line}{comma} column {column}"


def _blank_strings(text: str, strings: re.Pattern[str]) -> str:
    """``text`` with the inside of every one-line string literal blanked, offsets unchanged."""
    return strings.sub(lambda m: '"' + " " * (len(m.group()) - 2) + '"', text)


def _deepest(code: str) -> int:
    """The offset where ``[`` / ``{`` nesting first reaches its deepest in ``code``."""
    depth = best = where = 0
    for i, ch in enumerate(code):
        if ch in "[{":
            depth += 1
            if depth > best:
                best, where = depth, i
        elif ch in "]}":
            depth -= 1
    return where


def _beyond_parser(text: str, exc: BaseException, kind: str) -> str:
    """The message for input the parser gave up on rather than rejected: nesting deeper than
    Python's recursion limit, or an integer with more digits than Python converts."""
    strings, comma, nested = (
        (_JSON_STRING, "", "arrays and objects")
        if kind == "JSON"
        else (_TOML_STRING, ",", "arrays and tables")
    )
    code = _blank_strings(text, strings)
    if isinstance(exc, RecursionError):
        where = _line_column(code, _deepest(code), comma)
        return f"{where}: malformed {kind}: {nested} nested too deeply"
    long_number = _LONG_NUMBER.search(code)
    if long_number is None:
        return f"malformed {kind}: {exc}"
    where = _line_column(code, long_number.start(), comma)
    return f"{where}: malformed {kind}: a number with thousands of digits"


class _NotJson(ValueError):
    """A number Python's parser takes but JSON has not: ``NaN``, ``Infinity``, ``1e999``."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.token = token


def _json_constant(token: str) -> NoReturn:
    raise _NotJson(token)


def _json_float(token: str) -> float:
    value = float(token)
    if not math.isfinite(value):
        raise _NotJson(token)
    return value


def _not_json_message(text: str, token: str) -> str:
    code = _blank_strings(text, _JSON_STRING)
    found = re.search(rf"(?<![\w.+-]){re.escape(token)}(?![\w.])", code)
    where = _line_column(code, found.start() if found else 0)
    if token[-1].isdigit():
        return f"{where}: malformed JSON: {token} is out of range for a number"
    return f"{where}: malformed JSON: {token} is not a JSON number; use a number or null"


def json_type(value: Any) -> str:
    """The JSON name of a parsed value's type: object, array, string, number, boolean, null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def read_json(path: str | Path, error: type[InputError] = InputError) -> Any:
    """Parse a JSON file; raise ``error`` naming the file (and line and column) on any problem.

    ``NaN``, ``Infinity`` and numbers too large for a float (``1e999``), which Python's parser
    takes, are not JSON numbers and are refused.
    """
    p = Path(path)
    text = read_text(p, "JSON", error)
    if not text.strip():
        raise error("file is empty, expected a JSON object", path=p)
    try:
        return json.loads(text, parse_constant=_json_constant, parse_float=_json_float)
    except json.JSONDecodeError as exc:
        msg = exc.msg
        if msg.startswith("Invalid control character"):
            msg = "a line break or control character inside a string (a closing quote missing?)"
        raise error(
            f"line {exc.lineno} column {exc.colno}: malformed JSON: {msg}", path=p
        ) from None
    except _NotJson as exc:
        raise error(_not_json_message(text, exc.token), path=p) from None
    except (RecursionError, ValueError) as exc:
        raise error(_beyond_parser(text, exc, "JSON"), path=p) from None


def read_toml(path: str | Path, error: type[InputError] = InputError) -> dict[str, Any]:
    """Parse a TOML file; raise ``error`` naming the file, line and column on any problem."""
    import tomllib

    p = Path(path)
    text = read_text(p, "TOML", error)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib says "... (at line 3, column 7)"; lead with the position like read_json does
        msg = str(exc)
        where = ""
        position = _TOML_POSITION.search(msg)
        if position:
            msg = msg[: position.start()]
            where = f"line {position['line']}, column {position['column']}: "
            if "Illegal character" not in msg:
                msg += _control_character(text, int(position["line"]), int(position["column"]))
        raise error(f"{where}malformed TOML: {msg}", path=p) from None
    except (RecursionError, ValueError) as exc:
        raise error(_beyond_parser(text, exc, "TOML"), path=p) from None
