"""Reading JSON input files with errors that say where the problem is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llmbench.errors import InputError

MAX_INPUT_BYTES = 64 * 1024 * 1024
"""Input files larger than this are refused with their size instead of being parsed."""


def read_text(p: Path, kind: str, error: type[InputError]) -> str:
    """The text of an input file, or ``error`` naming the file.

    A UTF-8 byte order mark is accepted; any other encoding is refused with the byte offset of
    the first undecodable byte. ``kind`` ("JSON", "TOML") is for the messages.
    """
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
        raw = p.read_bytes()
    except FileNotFoundError:
        raise error("file not found", path=p) from None
    except PermissionError:
        raise error("permission denied reading the file", path=p) from None
    except OSError as exc:
        raise error(f"cannot read the file: {exc.strerror or exc}", path=p) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(
            f"not UTF-8 text: byte {exc.start} is 0x{raw[exc.start]:02x}; save the file as UTF-8",
            path=p,
        ) from None


def read_json(path: str | Path, error: type[InputError] = InputError) -> Any:
    """Parse a JSON file; raise ``error`` naming the file (and line and column) on any problem."""
    p = Path(path)
    text = read_text(p, "JSON", error)
    if not text.strip():
        raise error("file is empty, expected a JSON object", path=p)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(
            f"line {exc.lineno} column {exc.colno}: malformed JSON: {exc.msg}", path=p
        ) from None


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
        if msg.endswith(")") and " (at " in msg:
            msg, _, pos = msg.rpartition(" (at ")
            where = pos.rstrip(")") + ": "
        raise error(f"{where}malformed TOML: {msg}", path=p) from None
