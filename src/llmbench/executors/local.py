"""The local executor: each test runs as a task of the scheduler's own event loop."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from llmbench.engine.scheduler import Lane
from llmbench.engine.test_run import Helpers, Outcome, TestRun
from llmbench.providers.http1 import HttpClient


class LocalExecutor:
    """Runs tests in this event loop over one HTTP client (the default executor)."""

    name = "local"

    def __init__(self, session: HttpClient, helpers: Helpers) -> None:
        self.session = session
        self.helpers = helpers

    def execute(
        self, lane: Lane, run: TestRun, seed: int | None, repeat: int
    ) -> Coroutine[Any, Any, Outcome]:
        return run.execute(self.session, self.helpers, seed, repeat)
