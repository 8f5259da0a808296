"""When to retry a failed attempt and how long to wait first.

Only transient failures are retried: connection errors, timeouts, and HTTP 408, 409, 425, 429
and 5xx. Retry n (counting from 0) waits ``delay_s * backoff**n``, scaled by a random factor in
[1 - jitter, 1 + jitter] so that many clients do not retry in step, and never less than a
``Retry-After`` the server sent on 429 or 503. Retries stop after ``retries`` of them or when the
next wait would go past ``budget_s`` seconds since the test started, whichever comes first.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from llmbench.errors import RequestFailure

RETRYABLE_STATUS = frozenset({408, 409, 425, 429})
RETRY_AFTER_STATUS = frozenset({429, 503})


def is_transient(failure: RequestFailure) -> bool:
    """True when trying again may succeed."""
    if failure.kind in ("connection", "timeout"):
        return True
    status = failure.status
    return (
        failure.kind == "http"
        and status is not None
        and (status in RETRYABLE_STATUS or 500 <= status <= 599)
    )


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter for transient failures."""

    retries: int = 3
    """Retries after the first attempt."""
    delay_s: float = 1.0
    backoff: float = 2.0
    budget_s: float = 600.0
    """Most seconds from the test's start to the start of its last retry."""
    jitter: float = 0.2

    def backoff_delay(self, retry_index: int) -> float:
        """The wait before retry ``retry_index`` (0 for the first retry), with jitter."""
        base = self.delay_s * self.backoff**retry_index
        return base * random.uniform(1 - self.jitter, 1 + self.jitter)

    def next_delay(
        self, failure: RequestFailure, attempts_made: int, elapsed_s: float
    ) -> tuple[float | None, str]:
        """Seconds to wait before the next attempt, or None and the reason to stop."""
        if not is_transient(failure):
            return None, "not retried: the failure is not transient"
        if attempts_made > self.retries:
            return None, f"gave up after {attempts_made} attempts"
        delay = self.backoff_delay(attempts_made - 1)
        if failure.retry_after_s is not None and failure.status in RETRY_AFTER_STATUS:
            delay = max(delay, failure.retry_after_s)
        if elapsed_s + delay > self.budget_s:
            return None, (
                f"gave up after {attempts_made} attempts: the next wait ({delay:.1f}s) would pass "
                f"the retry budget of {self.budget_s:g}s"
            )
        return delay, ""
