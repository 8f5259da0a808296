"""Keeping secrets out of results, logs, reports and error messages.

Secrets enter llmbench in two ways only: a header value (``Authorization``, ``api-key``, ...)
and an API key read from the environment variable named by ``api_key_env``. Both are
registered here; :func:`scrub` replaces any registered value in a text, and
:class:`RedactingFilter` applies it to every log record of the ``llmbench`` logger.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, urlsplit

MASK = "***"
_MASK_BYTES = MASK.encode()
_SENSITIVE = re.compile(
    r"(authorization|api[-_]?key|token|secret|password|cookie|session|credential)", re.I
)
_lock = threading.Lock()
_secrets: set[str] = set()
_longest_first: tuple[str, ...] = ()
"""The registered secrets, longest first (so a key inside a longer header value goes too)."""
_longest_first_bytes: tuple[bytes, ...] = ()
"""The same as UTF-8, for :func:`scrub_bytes`."""


def is_sensitive(name: str) -> bool:
    """True for header or parameter names that carry credentials."""
    return bool(_SENSITIVE.search(name))


def register(values: Iterable[str | None]) -> None:
    """Remember secret values so that :func:`scrub` hides them everywhere from now on."""
    with _lock:
        for value in values:
            if value and len(value) >= 4:
                _secrets.add(value)
                # "Bearer sk-..." also hides the bare key
                parts = value.split(None, 1)
                if len(parts) == 2 and len(parts[1]) >= 4:
                    _secrets.add(parts[1])
        global _longest_first, _longest_first_bytes
        _longest_first = tuple(sorted(_secrets, key=len, reverse=True))
        _longest_first_bytes = tuple(s.encode("utf-8", "backslashreplace") for s in _longest_first)


def secrets_in(headers: Mapping[str, str] | None, url: str | None = None) -> list[str]:
    """The secret values in ``headers`` (by header name) and in ``url``'s query string."""
    found = [v for k, v in (headers or {}).items() if is_sensitive(k) and v]
    if url:
        parts = urlsplit(url)
        found += [v for k, v in parse_qsl(parts.query) if is_sensitive(k) and v]
        if parts.password:
            found.append(parts.password)
    return found


def any_registered() -> bool:
    """True once a secret has been registered: until then there is nothing to scrub."""
    return bool(_longest_first)


def scrub(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    for secret in _longest_first:  # a tuple replaced whole by register(): no lock needed
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def scrub_bytes(data: bytes) -> bytes:
    """:func:`scrub` for UTF-8 text as bytes."""
    for secret in _longest_first_bytes:
        if secret in data:
            data = data.replace(secret, _MASK_BYTES)
    return data


def redact_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """A copy of ``headers`` with the values of sensitive ones replaced by ``***``."""
    return {k: (MASK if is_sensitive(k) else scrub(v)) for k, v in (headers or {}).items()}


@functools.lru_cache(maxsize=256)
def strip_url(url: str) -> str:
    """``url`` without credentials and query string, safe to save and print."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}" if parts.scheme else url


class RedactingFilter(logging.Filter):
    """Scrubs registered secrets from a log record's message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _secrets:
            record.msg = scrub(record.getMessage())
            record.args = None
        return True
