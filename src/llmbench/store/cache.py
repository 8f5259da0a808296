"""An on-disk cache of model replies (SQLite), keyed by endpoint, model and the exact request.

Used by the judge so that re-scoring a run costs nothing. Keys are SHA-256 digests of the
canonical JSON of ``(namespace, endpoint, model, request body)``; the body never holds a
secret (credentials travel in headers, which are not part of the key). Safe to share between
processes: SQLite serialises writers; values are scrubbed of known secrets like every file
llmbench writes, and a write that fails (a locked or read-only database) is
logged and skipped, never fatal, because a cache is only ever an optimisation.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from llmbench import redact
from llmbench.store.files import FILE_MODE

log = logging.getLogger(__name__)

CACHE_FILE = "llmbench-cache.sqlite"


def cache_key(namespace: str, endpoint: str, model: str, body: dict[str, Any]) -> str:
    """The digest of everything that decides a reply."""
    canonical = json.dumps(
        [namespace, endpoint, model, body], sort_keys=True, ensure_ascii=False, default=str
    )
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


class ReplyCache:
    """``get`` / ``put`` of JSON values by key in one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection | None:
        if self._db is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                # SQLite would create it 0644 whatever the umask; its -wal and -shm files take
                # the mode of the database file
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
                db = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
                # a cache may lose its last entries in a power cut, it is never corrupted
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute(
                    "CREATE TABLE IF NOT EXISTS replies "
                    "(key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL NOT NULL)"
                )
                db.commit()
            except (OSError, sqlite3.Error) as exc:
                log.warning("%s: cache unavailable (%s); continuing without it", self.path, exc)
                return None
            self._db = db
        return self._db

    def get(self, key: str) -> Any | None:
        """The cached value, or None."""
        with self._lock:
            db = self._connect()
            if db is None:
                return None
            try:
                row = db.execute("SELECT value FROM replies WHERE key = ?", (key,)).fetchone()
            except sqlite3.Error as exc:
                log.warning("%s: cache read failed (%s)", self.path, exc)
                return None
        return json.loads(row[0]) if row else None

    def put(self, key: str, value: Any) -> None:
        """Store ``value`` (JSON-serialisable) under ``key``, known secrets scrubbed (a server
        may quote a credential back in its reply)."""
        text = redact.scrub(json.dumps(value, ensure_ascii=False))
        with self._lock:
            db = self._connect()
            if db is None:
                return
            try:
                db.execute(
                    "INSERT OR REPLACE INTO replies (key, value, created) VALUES (?, ?, ?)",
                    (key, text, time.time()),
                )
                db.commit()
            except sqlite3.Error as exc:
                log.warning("%s: cache write failed (%s)", self.path, exc)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
