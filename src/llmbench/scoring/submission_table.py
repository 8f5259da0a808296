"""Reading a submission (the file an agent wrote) and its reference: checked, never trusted.

:func:`read_saved` finds the agent's file in the saved copy of ``/home/agent`` and reads its
bytes, refusing a file that is missing, not a regular file, over ``max_bytes`` (told from its
size, without reading it) or cut when the run saved it (listed in ``.llmbench-cut.json``).
:func:`parse_table` reads CSV text (UTF-8, a byte-order mark allowed) with the standard
library's ``csv`` module in strict mode into ids and targets. Every problem is an
:class:`Invalid` whose message says what and where (a line number, the columns found, the first
few ids); the scorer turns it into an invalid submission, or, for the reference, an error.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmbench.store.run_dir import FILES_LEFT_OUT

CUT_MARKER = FILES_LEFT_OUT
"""The file the run writes into a saved ``files`` folder listing the files it cut or left out
at its size cap (with their sizes)."""
SHOWN_IDS = 3
"""Ids a message names before it only counts them."""
AGENT_HOME = "/home/agent"


class Invalid(Exception):
    """Why a file cannot be scored: one line for a person."""


@dataclass(frozen=True)
class Table:
    """The rows of a CSV file that matter: one id and one target each, in file order."""

    ids: list[str]
    targets: list[str]
    """As written, stripped of surrounding spaces."""
    lines: list[int]
    """The line each row ends on (1 is the header)."""
    columns: list[str]

    def __len__(self) -> int:
        return len(self.ids)


def agent_path(file: str) -> str:
    """``file`` as the agent saw it: ``/home/agent/submission.csv``."""
    return f"{AGENT_HOME}/{file}"


def read_saved(files_dir: Path | None, file: str, max_bytes: int) -> bytes:
    """The bytes of ``file`` in the saved copy of ``/home/agent``; :class:`Invalid` (starting
    ``no submission:`` when it was never written) otherwise."""
    shown = agent_path(file)
    if files_dir is None:
        raise Invalid(f"no submission: {shown} was not written")
    left_out = _left_out(files_dir)
    path = files_dir / file
    try:
        info = os.lstat(path)
        if not path.resolve().is_relative_to(files_dir.resolve()):
            raise Invalid(f"{shown} is not inside {AGENT_HOME} (a symbolic link on its path)")
    except OSError:
        info = None
    if file in left_out:
        size = left_out[file]
        of = f" ({size:,} bytes)" if size is not None else ""
        raise Invalid(
            f"{shown}{of} was not saved: the agent's files passed [sandbox] save_files_mb"
        )
    if info is None:
        raise Invalid(f"no submission: {shown} was not written")
    if not stat.S_ISREG(info.st_mode):
        raise Invalid(f"{shown} is not a regular file")
    if info.st_size > max_bytes:
        raise Invalid(f"{shown} is {info.st_size:,} bytes, over the cap of {max_bytes:,} bytes")
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise Invalid(f"{shown} could not be read: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise Invalid(f"{shown} is over the cap of {max_bytes:,} bytes")
    return data


def _left_out(files_dir: Path) -> dict[str, int | None]:
    """The files the run left out when it saved the agent's files, with their sizes
    (:data:`~llmbench.store.run_dir.FILES_LEFT_OUT`)."""
    try:
        raw: Any = json.loads((files_dir / CUT_MARKER).read_bytes())
    except (OSError, ValueError):
        return {}
    items = raw.get("left_out") if isinstance(raw, dict) else None
    out: dict[str, int | None] = {}
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("file"), str):
            size = item.get("bytes")
            ok = isinstance(size, int) and not isinstance(size, bool)
            out[item["file"]] = size if ok else None
    return out


def decode(data: bytes, shown: str) -> str:
    """UTF-8 text (a leading byte-order mark dropped); :class:`Invalid` naming the line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise Invalid(f"{shown} line {line}: not UTF-8 text (byte {exc.start + 1})") from None


def parse_table(
    text: str, shown: str, id_column: str, target_column: str, *, numeric: bool
) -> Table:
    """The id and target of every row of the CSV ``text``; ``numeric``: each target must be a
    finite number. :class:`Invalid` for a parse error (with its line), a missing column (the
    columns found named), a row of the wrong length or an empty id."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise Invalid(f"{shown} is empty (expected a header line {id_column},{target_column})")
        columns = [c.strip() for c in header]
        at_id = _column(columns, id_column, shown)
        at_target = _column(columns, target_column, shown)
        ids: list[str] = []
        targets: list[str] = []
        lines: list[int] = []
        for row in reader:
            if not row:
                continue  # a blank line
            where = f"{shown} line {reader.line_num}"
            if len(row) != len(columns):
                raise Invalid(f"{where}: {len(row)} fields, the header has {len(columns)}")
            key, target = row[at_id].strip(), row[at_target].strip()
            if not key:
                raise Invalid(f"{where}: empty {id_column!r}")
            if numeric and not _is_number(target):
                raise Invalid(f"{where}: {target_column!r} is not a number: {target[:40]!r}")
            ids.append(key)
            targets.append(target)
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise Invalid(f"{shown} line {reader.line_num}: not valid CSV ({exc})") from None
    return Table(ids, targets, lines, columns)


def _column(columns: list[str], name: str, shown: str) -> int:
    found = [i for i, c in enumerate(columns) if c == name]
    if not found:
        listed = ", ".join(repr(c) for c in columns[:10]) + (", ..." if len(columns) > 10 else "")
        raise Invalid(f"{shown} has no column {name!r} (columns found: {listed})")
    if len(found) > 1:
        raise Invalid(f"{shown} has the column {name!r} {len(found)} times")
    return found[0]


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def first(values: Iterable[str]) -> str:
    """The first :data:`SHOWN_IDS` of ``values``, comma-separated."""
    out: list[str] = []
    for value in values:
        if len(out) == SHOWN_IDS:
            break
        out.append(value if len(value) <= 40 else value[:37] + "...")
    return ", ".join(out)


def id_problems(reference: Table, submission: Table) -> str | None:
    """Why the submission's ids are not exactly the reference's (duplicates, missing, extra),
    or None when they are."""
    seen: dict[str, int] = {}
    duplicates: list[str] = []
    for key, line in zip(submission.ids, submission.lines, strict=True):
        if key in seen:
            duplicates.append(f"{key} on lines {seen[key]} and {line}")
        else:
            seen[key] = line
    if duplicates:
        n = len(duplicates)
        return f"{n} duplicate id{'s' if n > 1 else ''} (e.g. {first(duplicates)})"
    expected = set(reference.ids)
    missing = [k for k in reference.ids if k not in seen]
    extra = [k for k in submission.ids if k not in expected]
    problems = []
    if missing:
        n = len(missing)
        problems.append(f"{n} id{'s' if n > 1 else ''} missing (e.g. {first(missing)})")
    if extra:
        n = len(extra)
        problems.append(f"{n} extra id{'s' if n > 1 else ''} (e.g. {first(extra)})")
    return "; ".join(problems) or None
