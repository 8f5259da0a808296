"""``APIConfiguration``: where requests go and how they are retried.

Layers, lowest first: built-in defaults, ``test_runner_config.json``'s ``api_defaults``, the
suite metadata (``api_config`` and ``global_settings``), then ``TestRunner.configure_api``.
A test's ``metadata.timeout_seconds`` overrides ``timeout`` for that test only.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from llmbench import redact
from llmbench.errors import ConfigError
from llmbench.providers.thinking import DEFAULT_REASONING_TAGS, ReasoningTags

ApiType = Literal["chat", "completions"]
EMBEDDED = "embedded"
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024
"""The default ``max_response_bytes``: 32 MiB."""
_SUFFIXES: tuple[tuple[str, ApiType], ...] = (
    ("/chat/completions", "chat"),
    ("/completions", "completions"),
)


_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
"""An HTTP header name (RFC 9110 token)."""


def _check_url(endpoint: str) -> None:
    """ConfigError unless ``endpoint`` is an http(s) URL with a host and a valid port."""
    try:
        parts = urlsplit(endpoint)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:  # "http://[::1/v1", "http://host:99999", "http://host:abc"
        parts, port_ok = None, False
    fine = (
        parts is not None
        and parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and port_ok
        and endpoint.isprintable()
        and not any(ch.isspace() for ch in endpoint)
    )
    if not fine:
        raise ConfigError(
            f"endpoint: expected an http(s) URL such as http://127.0.0.1:8000/v1 or "
            f"'{EMBEDDED}', got {_without_credentials(endpoint)!r}"
        )


def _without_credentials(url: str) -> str:
    """``url`` as written but without ``user:password@`` and the query string (which may hold
    a key), for a message about a URL that may not parse."""
    return re.sub(r"//[^/@]*@", "//", url).split("?", 1)[0]


def _check_header(name: str, value: str) -> None:
    """ConfigError for a header that HTTP cannot carry; the value is never shown."""
    if not _HEADER_NAME.fullmatch(name):
        raise ConfigError(
            f"headers: {name!r} is not a header name (letters, digits and -, no spaces or :)"
        )
    if any(ch in value for ch in "\r\n\0"):
        raise ConfigError(f"headers: the value of {name!r} contains a line break or NUL")


@dataclass(frozen=True, repr=False)
class APIConfiguration:
    """Settings for talking to one OpenAI-compatible server.

    ``repr()`` and :meth:`redacted` never show header values that carry credentials.
    """

    __test__ = False

    endpoint: str | None = None
    """URL of the server (``http://host:port``, ``.../v1``, ``.../v1/chat/completions`` or
    ``.../v1/completions``), or ``"embedded"``; None means embedded too."""
    model: str = ""
    """Model name sent in every request."""
    headers: dict[str, str] = field(default_factory=dict)
    """Extra HTTP headers. Prefer ``api_key_env`` to putting a key here."""
    timeout: float = 120.0
    """Read timeout in seconds (longest wait for the next byte)."""
    retry_attempts: int = 3
    """Retries after the first attempt, for transient failures only."""
    retry_delay: float = 1.0
    """Seconds before the first retry; retry n waits ``retry_delay * retry_backoff**n``."""
    retry_backoff: float = 2.0
    """Growth factor of the delay between retries."""
    retry_budget_s: float = 600.0
    """Most seconds one test may spend across attempts and waits."""
    connect_timeout: float = 10.0
    """Seconds to wait for a TCP connection."""
    api_type: ApiType | None = None
    """``chat`` or ``completions``; inferred from the endpoint path when None."""
    api_key_env: str | None = None
    """Name of an environment variable whose value is sent as ``Authorization: Bearer ...``."""
    stream: bool = True
    """Stream responses so time to first token and generation speed are measured."""
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    """Largest answer read, in bytes (a whole stream, or a JSON body); a larger one is an error,
    not retried."""
    reasoning_tags: ReasoningTags | None = DEFAULT_REASONING_TAGS
    """The tags around thinking at the start of the content, split from the answer; None for a
    server that never sends thinking inline (then content is never looked at)."""

    def __post_init__(self) -> None:
        if self.endpoint is not None and self.endpoint != EMBEDDED:
            _check_url(self.endpoint)
        checks: tuple[tuple[str, float, float], ...] = (
            ("timeout", self.timeout, 0),
            ("connect_timeout", self.connect_timeout, 0),
            ("retry_budget_s", self.retry_budget_s, 0),
        )
        for name, value, low in checks:
            if not isinstance(value, int | float) or value <= low:
                raise ConfigError(f"{name}: expected a number > 0, got {value!r}")
        if not isinstance(self.retry_attempts, int) or self.retry_attempts < 0:
            raise ConfigError(
                f"retry_attempts: expected an integer >= 0, got {self.retry_attempts!r}"
            )
        if (
            not isinstance(self.max_response_bytes, int)
            or isinstance(self.max_response_bytes, bool)
            or self.max_response_bytes <= 0
        ):
            raise ConfigError(
                f"max_response_bytes: expected an integer > 0, got {self.max_response_bytes!r}"
            )
        if not isinstance(self.retry_delay, int | float) or self.retry_delay < 0:
            raise ConfigError(f"retry_delay: expected a number >= 0, got {self.retry_delay!r}")
        if not isinstance(self.retry_backoff, int | float) or self.retry_backoff < 1:
            raise ConfigError(f"retry_backoff: expected a number >= 1, got {self.retry_backoff!r}")
        if self.api_type not in (None, "chat", "completions"):
            raise ConfigError(f"api_type: expected 'chat' or 'completions', got {self.api_type!r}")
        if not isinstance(self.headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.headers.items()
        ):
            raise ConfigError("headers: expected a mapping of header names to string values")
        for header, header_value in self.headers.items():
            _check_header(header, header_value)
        tags = self.reasoning_tags
        if tags is not None and not (
            isinstance(tags, tuple)
            and len(tags) == 2
            and all(isinstance(t, str) and t for t in tags)
        ):
            raise ConfigError(
                f"reasoning_tags: expected two non-empty strings (opening, closing), got {tags!r}"
            )
        redact.register(redact.secrets_in(self.headers, self.endpoint))

    @property
    def is_embedded(self) -> bool:
        """True when requests go to the embedded llama.cpp model."""
        return self.endpoint is None or self.endpoint == EMBEDDED

    def base_and_type(self) -> tuple[str, ApiType | None]:
        """The endpoint without its ``/chat/completions`` or ``/completions`` suffix, and the
        API type that suffix implies (None for a bare base URL)."""
        if self.endpoint is None or self.is_embedded:
            raise ConfigError("the embedded endpoint has no URL until its server is started")
        return _base_and_type(self.endpoint)

    def url_for(self, api_type: ApiType) -> str:
        """The URL of the ``api_type`` route on this endpoint's server."""
        base, _ = self.base_and_type()
        parts = urlsplit(base)
        suffix = "/chat/completions" if api_type == "chat" else "/completions"
        return parts._replace(path=parts.path + suffix).geturl()

    def default_api_type(self) -> ApiType:
        """``api_type`` if set, else what the endpoint path implies, else ``chat``."""
        if self.api_type:
            return self.api_type
        if self.is_embedded:
            return "chat"
        return self.base_and_type()[1] or "chat"

    def api_key(self) -> str | None:
        """The API key from ``api_key_env``; raises ConfigError when the variable is unset."""
        if not self.api_key_env:
            return None
        value = os.environ.get(self.api_key_env)
        if not value:
            raise ConfigError(
                f"api_key_env: environment variable {self.api_key_env} is not set; "
                f"export {self.api_key_env}=<your key> or remove api_key_env"
            )
        redact.register([value])
        return value

    def request_headers(self) -> dict[str, str]:
        """Headers for every request: ``headers`` plus the bearer token from ``api_key_env``."""
        out = {"Content-Type": "application/json", **self.headers}
        key = self.api_key()
        if key and not any(k.lower() == "authorization" for k in out):
            out["Authorization"] = f"Bearer {key}"
        return out

    def redacted(self) -> dict[str, object]:
        """The settings as a dict safe to save or print: credentials masked."""
        return {
            "endpoint": redact.strip_url(self.endpoint) if self.endpoint else self.endpoint,
            "model": self.model,
            "headers": redact.redact_headers(self.headers),
            "timeout": self.timeout,
            "connect_timeout": self.connect_timeout,
            "retry_attempts": self.retry_attempts,
            "retry_delay": self.retry_delay,
            "retry_backoff": self.retry_backoff,
            "retry_budget_s": self.retry_budget_s,
            "api_type": self.api_type,
            "api_key_env": self.api_key_env,
            "stream": self.stream,
            "max_response_bytes": self.max_response_bytes,
            "reasoning_tags": list(self.reasoning_tags) if self.reasoning_tags else None,
        }

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.redacted().items())
        return f"APIConfiguration({fields})"


@functools.lru_cache(maxsize=256)
def _base_and_type(endpoint: str) -> tuple[str, ApiType | None]:
    """:meth:`APIConfiguration.base_and_type` of ``endpoint``, worked out once per endpoint
    (every test asks for it)."""
    parts = urlsplit(endpoint)
    path = parts.path.rstrip("/")
    implied: ApiType | None = None
    for suffix, kind in _SUFFIXES:
        if path.endswith(suffix):
            path, implied = path[: -len(suffix)], kind
            break
    if not path.endswith("/v1") and implied is None:
        path += "/v1"
    return parts._replace(path=path).geturl(), implied
