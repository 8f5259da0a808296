"""The rows of a data file, read one at a time: JSONL, a JSON array, CSV, TSV and Parquet, any
of them gzipped.

Reading never holds the whole file or all of its rows, with one exception:

- JSONL: line by line (a gzipped file is decompressed as it is read);
- CSV and TSV: record by record through :mod:`csv` (quoted cells may span lines);
- Parquet: record batches of :data:`PARQUET_BATCH_ROWS` rows through ``pyarrow`` (the optional
  ``llmbench[parquet]`` extra, imported only to read a Parquet file), which decodes one row
  group at a time;
- a JSON array is parsed whole (up to :data:`~llmbench.config.files.MAX_INPUT_BYTES` of text);
  each row is let go as soon as it has been handed out. Large data sets belong in JSONL.

Problems are :class:`~llmbench.errors.SuiteError` naming the file, the row and, where the format
has lines, the line.
"""

from __future__ import annotations

import csv
import datetime
import decimal
import gzip
import importlib
import io
import json
import math
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from llmbench.config.files import MAX_INPUT_BYTES, json_type
from llmbench.errors import SuiteError

FORMATS = ("jsonl", "json", "csv", "tsv", "parquet")
"""The formats a data file may have; a ``.gz`` suffix after any of them is decompressed."""
SUFFIXES = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
PARQUET_BATCH_ROWS = 1024
"""Rows decoded from a Parquet file at a time."""
PARQUET_INSTALL = "pip install 'llmbench[parquet]'"

_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class Row:
    """One row of a data file."""

    index: int
    """Counted from 0 over the rows (blank lines and a CSV header are not rows)."""
    line: int | None
    """The line it starts on (its last line for a CSV record), where the format has lines."""
    fields: dict[str, Any]

    def where(self) -> str:
        """``row 3 (line 4)``, or ``row 3``."""
        return f"row {self.index}" + (f" (line {self.line})" if self.line is not None else "")


def format_of(path: Path) -> str | None:
    """The format its name gives a file (``a.jsonl.gz`` -> ``jsonl``), or None."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    return SUFFIXES.get(suffixes[-1]) if suffixes else None


def read_rows(path: Path, fmt: str) -> Iterator[Row]:
    """The rows of the file at ``path`` in format ``fmt`` (one of :data:`FORMATS`), in order."""
    readers = {"jsonl": _jsonl, "json": _json_array, "csv": _csv, "tsv": _csv, "parquet": _parquet}
    if fmt not in readers:
        raise SuiteError(f"unknown data set format {fmt!r}; one of {', '.join(FORMATS)}", path=path)
    with _errors(path):
        yield from readers[fmt](path, fmt)


@contextmanager
def _errors(path: Path) -> Iterator[None]:
    """OSError and gzip's errors while reading, as SuiteError naming the file."""
    try:
        yield
    except FileNotFoundError:
        raise SuiteError("file not found", path=path) from None
    except IsADirectoryError:
        raise SuiteError("is a directory, expected a data file", path=path) from None
    except PermissionError:
        raise SuiteError("permission denied reading the file", path=path) from None
    except gzip.BadGzipFile:
        raise SuiteError("not a gzip file, though its name ends in .gz", path=path) from None
    except (EOFError, zlib.error):
        raise SuiteError("the gzip data is truncated or corrupt", path=path) from None
    except OSError as exc:
        raise SuiteError(f"cannot read the file: {exc.strerror or exc}", path=path) from None


def _open(path: Path) -> gzip.GzipFile | io.BufferedReader:
    """The file's bytes, decompressed as they are read when its name ends in ``.gz``."""
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rb")
    return path.open("rb")


# -- JSON -----------------------------------------------------------------------------------


class _NotJson(ValueError):
    """``NaN``, ``Infinity`` or ``1e999``: Python's parser takes them, JSON has no such number."""


def _refuse_constant(token: str) -> NoReturn:
    raise _NotJson(f"{token} is not a JSON number")


def _finite(token: str) -> float:
    value = float(token)
    if not math.isfinite(value):
        raise _NotJson(f"{token} is out of range for a number")
    return value


def _parse_json(text: str, path: Path, line: int | None = None) -> Any:
    """``text`` parsed; SuiteError naming ``path`` and the place. ``line``: the file line
    ``text`` is (a JSONL row), else None (a whole file)."""
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite)
    except json.JSONDecodeError as exc:
        at = exc.lineno if line is None else line
        raise SuiteError(
            f"line {at} column {exc.colno}: malformed JSON: {exc.msg}", path=path
        ) from None
    except (_NotJson, RecursionError, ValueError) as exc:
        problem = str(exc) if isinstance(exc, _NotJson) else "too deeply nested or huge"
        where = "" if line is None else f"line {line}: "
        raise SuiteError(f"{where}malformed JSON: {problem}", path=path) from None


def _jsonl(path: Path, fmt: str) -> Iterator[Row]:
    index = 0
    with _open(path) as fh:
        for number, raw in enumerate(fh, 1):
            raw = raw.rstrip(b"\r\n")  # so that a column number counts within the line
            if number == 1:
                raw = raw.removeprefix(_BOM)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise SuiteError(
                    f"line {number}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at column "
                    f"{exc.start + 1}); save the file as UTF-8",
                    path=path,
                ) from None
            if not text.strip():
                continue
            yield _row(path, index, number, _parse_json(text, path, number))
            index += 1


def _row(path: Path, index: int, line: int | None, value: Any) -> Row:
    if not isinstance(value, dict):
        where = f"row {index}" + (f" (line {line})" if line is not None else "")
        raise SuiteError(
            f"{where}: expected a JSON object (one row), got {json_type(value)}", path=path
        )
    return Row(index, line, value)


def _json_array(path: Path, fmt: str) -> Iterator[Row]:
    with _open(path) as fh:
        raw = fh.read(MAX_INPUT_BYTES + 1)
    if len(raw) > MAX_INPUT_BYTES:
        raise SuiteError(
            f"a JSON array is read whole and this one is over {MAX_INPUT_BYTES // 10**6} MB; "
            "write it as JSONL (one row object per line, .jsonl), which is read a row at a time",
            path=path,
        )
    try:
        text = raw.removeprefix(_BOM).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SuiteError(
            f"not UTF-8 text: byte {exc.start} is 0x{raw[exc.start]:02x}; save the file as UTF-8",
            path=path,
        ) from None
    del raw
    data = _parse_json(text, path)
    del text
    if not isinstance(data, list):
        raise SuiteError(
            f"expected a JSON array of row objects, got {json_type(data)}"
            + (" (a suite file? name it in [benchmark].test_suite)" if _is_suite(data) else ""),
            path=path,
        )
    for index in range(len(data)):
        value, data[index] = data[index], None  # let each row go once it is handed out
        yield _row(path, index, None, value)


def _is_suite(data: Any) -> bool:
    return isinstance(data, dict) and "tests" in data


# -- CSV ------------------------------------------------------------------------------------

_CSV_FIELD_LIMIT = 2**31 - 1
"""Cells as long as anything else llmbench reads (the csv module's default is 128 KiB, less than
a long code problem)."""


def _csv(path: Path, fmt: str) -> Iterator[Row]:
    csv.field_size_limit(max(csv.field_size_limit(), _CSV_FIELD_LIMIT))
    with _open(path) as binary, io.TextIOWrapper(binary, "utf-8-sig", newline="") as text:
        reader = csv.reader(text, delimiter="\t" if fmt == "tsv" else ",")
        header = _next_record(reader, path)
        if header is None:
            raise SuiteError("the file is empty, expected a header row of column names", path=path)
        _check_header(header, path)
        index = 0
        while (cells := _next_record(reader, path)) is not None:
            if not cells:  # a blank line
                continue
            if len(cells) != len(header):
                raise SuiteError(
                    f"row {index} (line {reader.line_num}): {len(cells)} cells, but the header "
                    f"has {len(header)} columns",
                    path=path,
                )
            yield Row(index, reader.line_num, dict(zip(header, cells, strict=True)))
            index += 1


def _next_record(reader: Any, path: Path) -> list[str] | None:
    try:
        cells: list[str] | None = next(reader, None)
        return cells
    except UnicodeDecodeError as exc:
        raise SuiteError(
            f"not UTF-8 text after line {reader.line_num} (byte 0x{exc.object[exc.start]:02x}); "
            "save the file as UTF-8",
            path=path,
        ) from None
    except csv.Error as exc:
        raise SuiteError(f"line {reader.line_num}: malformed CSV: {exc}", path=path) from None


def _check_header(header: list[str], path: Path) -> None:
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise SuiteError(f"line 1: the header names the column {name!r} twice", path=path)
        seen.add(name)


# -- Parquet --------------------------------------------------------------------------------


def _parquet(path: Path, fmt: str) -> Iterator[Row]:
    try:
        pq = importlib.import_module("pyarrow.parquet")
    except ImportError:
        raise SuiteError(
            f"reading a Parquet file needs pyarrow: {PARQUET_INSTALL}", path=path
        ) from None
    lib = importlib.import_module("pyarrow.lib")
    index = 0
    with _open(path) as fh:
        try:
            batches = pq.ParquetFile(fh).iter_batches(batch_size=PARQUET_BATCH_ROWS)
            for batch in batches:
                for fields in batch.to_pylist():
                    yield Row(index, None, {str(k): _plain(v) for k, v in fields.items()})
                    index += 1
        except lib.ArrowException as exc:
            raise SuiteError(f"not a readable Parquet file: {exc}", path=path) from None


def _plain(value: Any) -> Any:
    """A value read from Parquet as JSON has it: NaN as null, dates as ISO text, decimals as
    numbers, bytes as text; lists and maps walked."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return _plain(float(value))
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
