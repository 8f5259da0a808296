"""A per-endpoint circuit breaker: stop sending to a server that does not accept connections.

Without it, a server that dies during a run turns every remaining test into a full round of
retries and connect timeouts. With it, after ``threshold`` consecutive attempts that failed to
reach the server (connection refused or reset before any response, connect timeout), the
breaker *opens*: requests to that endpoint fail at once, without touching the network, with one
reason that names the endpoint and the last failure. After ``cooldown_s`` the breaker lets one
request through as a *probe* (half-open); if the probe reaches the server the breaker closes and
the endpoint's remaining tests run normally, otherwise it opens again for twice the cool-down
(up to ``max_cooldown_s``).

A breaker is shared by every :class:`~llmbench.engine.calls.Caller` that talks to the same
server (scheme, host and port): several agents, or an agent and the judge, served by one process
go down together. Failures that prove the server is up (any HTTP status, a read timeout after
the headers, a malformed body) reset the count; only failures to reach it count.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from llmbench.config.api import APIConfiguration
from llmbench.errors import RequestFailure

log = logging.getLogger(__name__)

State = Literal["closed", "open", "half_open"]

DEFAULT_THRESHOLD = 5
DEFAULT_COOLDOWN_S = 10.0
MAX_COOLDOWN_S = 120.0


def unreachable(failure: RequestFailure) -> bool:
    """True when the attempt never reached the server (no response of any kind)."""
    return failure.kind == "connection" and failure.status is None


@dataclass
class CircuitBreaker:
    """The breaker of one endpoint; see the module docstring. Used from one event loop."""

    endpoint: str
    """The server's ``scheme://host:port``, as shown in messages."""
    threshold: int = DEFAULT_THRESHOLD
    cooldown_s: float = DEFAULT_COOLDOWN_S
    max_cooldown_s: float = MAX_COOLDOWN_S
    state: State = "closed"
    failures: int = 0
    """Consecutive attempts that did not reach the server."""
    last_failure: str = ""
    opened_count: int = 0
    """How many times the breaker opened (0: the endpoint never looked down)."""
    _retry_at: float = 0.0
    _current_cooldown_s: float = 0.0
    _probe_in_flight: bool = field(default=False, repr=False)

    def before_attempt(self) -> bool:
        """Whether an attempt may go out now. Raises RequestFailure (kind ``circuit_open``,
        never retried) while the breaker is open. Returns True when this attempt is the probe:
        its outcome must be reported with :meth:`record`."""
        if self.state == "closed":
            return False
        now = time.monotonic()
        if self.state == "open" and now >= self._retry_at:
            self.state = "half_open"
        if self.state == "half_open" and not self._probe_in_flight:
            self._probe_in_flight = True
            log.info("endpoint %s: probing after the cool-down", self.endpoint)
            return True
        raise RequestFailure("circuit_open", self.reason())

    def reason(self) -> str:
        """Why requests to this endpoint are not being sent."""
        return (
            f"not sent: endpoint {self.endpoint} is unreachable ({self.failures} consecutive "
            f"connection failures; last: {self.last_failure}); the circuit breaker probes it "
            f"again every {self._current_cooldown_s:g}s or so; re-run these tests with "
            f"--resume RUN_DIR --retry-errors"
        )

    def record(self, failure: RequestFailure | None, *, probe: bool = False) -> None:
        """Report how an attempt ended: ``None`` for success, else its failure."""
        if probe:
            self._probe_in_flight = False
        if failure is None or not unreachable(failure):
            if self.state != "closed":
                log.warning("endpoint %s: reachable again; sending requests", self.endpoint)
            self.state = "closed"
            self.failures = 0
            self._current_cooldown_s = 0.0
            return
        self.failures += 1
        self.last_failure = failure.message
        if self.state == "half_open" and probe:
            self._open(min(self._current_cooldown_s * 2, self.max_cooldown_s))
        elif self.state == "closed" and self.failures >= self.threshold:
            self._open(self.cooldown_s)

    def release_probe(self) -> None:
        """The probe ended without an answer either way (cancelled): the next attempt probes."""
        self._probe_in_flight = False

    def _open(self, cooldown_s: float) -> None:
        first = self.state == "closed"
        self.state = "open"
        self.opened_count += 1
        self._current_cooldown_s = cooldown_s
        self._retry_at = time.monotonic() + cooldown_s
        if first:
            log.error(
                "endpoint %s: %d consecutive connection failures (last: %s); failing its tests "
                "without sending until a probe in %gs gets through",
                self.endpoint,
                self.failures,
                self.last_failure,
                cooldown_s,
            )

    @property
    def is_open(self) -> bool:
        """True while requests fail without being sent (a due probe would still go out)."""
        return self.state == "open" and time.monotonic() < self._retry_at


def endpoint_key(api: APIConfiguration) -> str:
    """``scheme://host:port`` of the server ``api`` talks to."""
    parts = urlsplit(api.url_for("chat"))
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{parts.hostname}:{port}"


class Breakers:
    """One :class:`CircuitBreaker` per server, shared by every caller that talks to it."""

    def __init__(
        self, *, threshold: int = DEFAULT_THRESHOLD, cooldown_s: float = DEFAULT_COOLDOWN_S
    ) -> None:
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._by_endpoint: dict[str, CircuitBreaker] = {}

    def for_api(self, api: APIConfiguration) -> CircuitBreaker:
        key = endpoint_key(api)
        breaker = self._by_endpoint.get(key)
        if breaker is None:
            breaker = CircuitBreaker(key, threshold=self.threshold, cooldown_s=self.cooldown_s)
            self._by_endpoint[key] = breaker
        return breaker

    def tripped(self) -> list[CircuitBreaker]:
        """The breakers that opened at least once during the run."""
        return [b for b in self._by_endpoint.values() if b.opened_count]
