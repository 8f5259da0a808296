"""The files an agent left in its home, as the viewer lists and serves them.

They are saved under ``<agent>/<test>-r<repeat>/files/`` of the run directory
(:func:`llmbench.store.run_dir.files_dir`) and were written by a model: any name, any bytes, and
possibly symlinks pointing anywhere. So a file is reached only by a relative name without
``.``, ``..``, a backslash or NUL; every folder on the way must resolve to itself (no symlinked
folder), the file itself is opened with ``O_NOFOLLOW`` and must be a regular file, and the
folder must resolve inside the run directory. The open descriptor is what is read, so the file
cannot be swapped between the check and the read. The listing walks the folder the same way,
never following a symlink.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from llmbench import jsonio
from llmbench.store.run_dir import FILES_LEFT_OUT, files_dir

MAX_LISTED = 500
"""Files listed per result at most (the rest are counted)."""


@dataclass(frozen=True)
class SavedFile:
    """One file an agent left, as listed."""

    name: str
    """Relative to the files folder, ``/`` between folders."""
    size: int


def safe_relative(name: str) -> PurePosixPath | None:
    """``name`` as a relative path that stays inside a folder, or None."""
    if not name or "\\" in name or "\0" in name or name.startswith("/"):
        return None
    relative = PurePosixPath(name)
    if relative.is_absolute() or any(part in ("", ".", "..") for part in name.split("/")):
        return None
    return relative


def folder_of(run_path: Path, record: dict[str, Any]) -> Path | None:
    """The files folder of a record's result, when it resolves inside ``run_path``."""
    try:
        folder = files_dir(
            run_path, str(record["agent_id"]), str(record["test_id"]), int(record["repeat"])
        )
        inside = folder.resolve(strict=True)
        root = run_path.resolve(strict=True)
    except (KeyError, TypeError, ValueError, OSError, RuntimeError):
        return None
    return inside if inside.is_relative_to(root) and inside.is_dir() else None


def open_saved(folder: Path, name: str) -> int | None:
    """A read-only descriptor of the regular file ``name`` inside ``folder`` (resolved, see
    :func:`folder_of`), reached without a symlink; None otherwise. The caller closes it."""
    relative = safe_relative(name)
    if relative is None:
        return None
    target = folder / relative
    try:
        if target.parent.resolve(strict=True) != folder / relative.parent:
            return None  # a folder on the way is a symlink
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except (OSError, ValueError, RuntimeError):
        return None
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            return fd
    except OSError:
        pass
    os.close(fd)
    return None


def list_saved(folder: Path) -> tuple[list[SavedFile], int]:
    """The regular files under ``folder`` (symlinks neither followed nor listed), sorted by
    name, at most :data:`MAX_LISTED`; and how many there are in all."""
    found: list[SavedFile] = []
    total = 0
    for top, dirs, names in os.walk(folder, followlinks=False):
        dirs.sort()
        for name in sorted(names):
            path = Path(top) / name
            try:
                st = path.lstat()
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode) or (top == str(folder) and name == FILES_LEFT_OUT):
                continue
            total += 1
            if len(found) < MAX_LISTED:
                found.append(SavedFile(path.relative_to(folder).as_posix(), st.st_size))
    return found, total


def left_out(folder: Path) -> list[dict[str, Any]]:
    """The files not saved because of ``[sandbox] save_files_mb`` (``.llmbench-cut.json``)."""
    fd = open_saved(folder, FILES_LEFT_OUT)
    if fd is None:
        return []
    try:
        data = jsonio.loads(os.read(fd, 1 << 20))
    except (OSError, ValueError):
        return []
    finally:
        os.close(fd)
    listed = data.get("left_out") if isinstance(data, dict) else None
    return [
        {"file": str(item.get("file")), "bytes": item.get("bytes")}
        for item in listed or []
        if isinstance(item, dict)
    ][:MAX_LISTED]


def looks_like_text(head: bytes) -> bool:
    """Whether the first bytes of a file read as UTF-8 text (a cut last character allowed)."""
    if b"\0" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3 and exc.reason == "unexpected end of data"
    return True
