"""Safe file names and atomic writes inside a results directory."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from llmbench import jsonio, redact
from llmbench.errors import ResultsError

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_HASHED = re.compile(r"-[0-9a-f]{10}\Z")
MAX_COMPONENT = 80
MAX_NAME = 200


TEMPORARY_PREFIX = ".tmp-"
"""Names of :func:`write_atomic`'s temporary files; a killed writer can leave one behind."""
FILE_MODE = 0o666
"""The mode every file llmbench writes is created with, as by ``open()``: the umask takes from
it (0644 under the usual umask 022), so all the files of a run have one mode. Nothing written
holds a secret (they are scrubbed), so nothing needs to be private."""


def safe_component(value: str, max_len: int = MAX_COMPONENT) -> str:
    """``value`` as a file-name fragment that cannot leave a directory.

    Characters other than letters, digits, ``.``, ``_`` and ``-`` become ``_``; leading dots
    go (no ``..`` and no hidden files). When anything had to change, or the value is long, a
    short hash of the original is appended, so two ids that clean up alike (``a/b`` and
    ``a_b``) still get different names. A value that already ends like a hash (``-`` and ten
    hex digits) gets one too, so it cannot take the name made for another value: distinct
    values give distinct names (up to a collision of 40-bit SHA-256 prefixes).
    """
    cleaned = _UNSAFE.sub("_", value).lstrip("._").rstrip("_") or "_"
    if cleaned != value or len(cleaned) > max_len or _HASHED.search(value):
        digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        cleaned = f"{cleaned[:max_len]}-{digest}"
    return cleaned


def contained_path(directory: Path, name: str) -> Path:
    """``directory / name``, refusing any name that would resolve outside ``directory``."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise ResultsError(f"refusing unsafe file name {name!r}")
    try:
        target = (directory / name).resolve()
    except (OSError, ValueError):  # a lone surrogate cannot be encoded as a file name
        raise ResultsError(f"refusing file name {name!r}: not encodable as a file name") from None
    if target.parent != directory.resolve():
        raise ResultsError(f"refusing file name {name!r}: it leaves {directory}")
    return target


def ensure_directory(directory: str | Path) -> Path:
    """Create ``directory`` (and parents) and check it is writable."""
    path = Path(directory)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ResultsError(f"{path}: cannot create the results directory: {exc.strerror}") from None
    try:  # a real write: access() says yes to root on a read-only file system's permissions
        with tempfile.TemporaryFile(dir=path, prefix=TEMPORARY_PREFIX):
            pass
    except OSError as exc:
        raise ResultsError(
            f"{path}: the results directory is not writable ({exc.strerror}); fix it or set "
            f"another results_dir in [benchmark]"
        ) from None
    return path


def dumps(data: Any, pretty: bool) -> str:
    """JSON text with every registered secret scrubbed."""
    return redact.scrub(jsonio.dumps(data, pretty))


def dumps_bytes(data: Any, pretty: bool) -> bytes:
    """:func:`dumps` as UTF-8 bytes, ready to write (a lone surrogate is written as its JSON
    escape, which reads back as the same string)."""
    return redact.scrub_bytes(jsonio.dumps_bytes(data, pretty))


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same directory, fsynced, and a
    rename, so a reader never sees a half-written file. The temporary file's name is fixed
    per process and target (one writer per file at a time), which is cheaper than a random one;
    a killed writer's leftover is removed on resume (:data:`TEMPORARY_PREFIX`)."""
    tmp = path.with_name(f"{TEMPORARY_PREFIX}{os.getpid()}-{path.name}")
    _write(tmp, text.encode("utf-8") if isinstance(text, str) else text, fsync=True, name=path)
    try:
        os.replace(tmp, path)
    except OSError as exc:
        _remove(tmp)
        raise ResultsError(f"{path}: cannot write: {exc.strerror or exc}") from None


def write_copy(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` in place: for the readable copies of what a journal holds
    (the per-test files). No temporary file, rename or fsync: on ext4 the rename alone cost
    more than the rest of a result's end-of-run work. A failed write (a full disk) removes the
    file rather than leave part of it; the caller writes the line that makes the copy final
    only after the copy, so a copy torn by a kill is written again on resume."""
    _write(path, data, fsync=False, name=path)


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd``: one write() unless the kernel takes less."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _write(path: Path, data: bytes, *, fsync: bool, name: Path) -> None:
    """Create ``path`` holding ``data`` (fsynced if asked); on failure remove what was created
    and raise :class:`ResultsError` naming ``name``."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    except OSError as exc:
        raise ResultsError(f"{name}: cannot write: {exc.strerror or exc}") from None
    try:
        write_all(fd, data)
        if fsync:
            os.fsync(fd)
    except OSError as exc:
        _remove(path)
        raise ResultsError(f"{name}: cannot write: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def unique_name(directory: Path, name: str, taken: set[str]) -> str:
    """``name``, or ``name`` with ``-2``, ``-3``... before the extension, so that no existing
    file and no name in ``taken`` is reused."""
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    candidate, n = name, 1
    while candidate in taken or (directory / candidate).exists():
        n += 1
        candidate = f"{stem}-{n}.{ext}" if ext else f"{stem}-{n}"
    taken.add(candidate)
    return candidate
