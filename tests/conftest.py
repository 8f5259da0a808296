"""Shared fixtures: a real scripted HTTP server, suite files and a runner pointed at them."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from llmbench import TestRunner
from tests.scripted_server import ScriptedServer

REPO = Path(__file__).resolve().parent.parent
RUNNER = REPO / "runner.py"
Run = Callable[..., subprocess.CompletedProcess[str]]
"""``run(*args, env=None, timeout=60)``: ``runner.py ARGS`` in ``tmp_path``, output captured."""


@pytest.fixture
def run(tmp_path: Path) -> Run:
    def go(
        *args: str, env: dict[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(RUNNER), *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
        )

    return go


@pytest.fixture(scope="session")
def _session_server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


@pytest.fixture
def server(_session_server: ScriptedServer) -> Iterator[ScriptedServer]:
    """The scripted OpenAI-compatible server, with an empty script for each test."""
    _session_server.reset()
    yield _session_server
    _session_server.reset()


@pytest.fixture(scope="session")
def _session_server2() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


@pytest.fixture
def server2(_session_server2: ScriptedServer) -> Iterator[ScriptedServer]:
    """A second scripted server (a second agent's endpoint), empty script for each test."""
    _session_server2.reset()
    yield _session_server2
    _session_server2.reset()


async def ignores_first_cancellation(self: Any, *args: Any) -> Any:
    """A ``TestRun.execute`` that swallows the first cancellation (the run's shutdown ends it):
    a test that does not stop when it is told to."""
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        await asyncio.sleep(30)
    raise AssertionError("not reached")


def make_test(test_id: str, **fields: Any) -> dict[str, Any]:
    """A valid suite test; ``fields`` override or add keys."""
    test: dict[str, Any] = {
        "id": test_id,
        "name": f"Test {test_id}",
        "category": "general",
        "prompt": f"question {test_id}",
        "parameters": {"max_tokens": 16, "temperature": 0.0},
    }
    test.update(fields)
    return test


@pytest.fixture
def write_json(tmp_path: Path) -> Callable[[str, Any], Path]:
    """Write ``data`` as JSON to ``tmp_path / name`` and return the path."""

    def write(name: str, data: Any) -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(data), encoding="utf-8")
        return path

    return write


@pytest.fixture
def write_suite(write_json: Callable[[str, Any], Path]) -> Callable[..., Path]:
    """Write a suite of ``tests`` (dicts or ids) and return its path."""

    def write(*tests: dict[str, Any] | str, name: str = "suite.json") -> Path:
        items = [make_test(t) if isinstance(t, str) else t for t in tests]
        return write_json(name, {"suite_info": {"name": "t"}, "tests": items})

    return write


@pytest.fixture
def runner(
    server: ScriptedServer, write_suite: Callable[..., Path], tmp_path: Path
) -> Iterator[TestRunner]:
    """A runner with a 6-test suite (t1..t6) pointed at the scripted server, fast retries."""
    r = TestRunner()
    r.load_test_suite(write_suite("t1", "t2", "t3", "t4", "t5", "t6"))
    r.configure_api(
        server.url + "/v1",
        "scripted-model",
        retry_attempts=2,
        retry_delay=0.01,
        timeout=5.0,
        retry_budget_s=30.0,
    )
    yield r
    r.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say loudly which tests were skipped: each one leaves a guarantee unchecked here."""
    skipped = terminalreporter.stats.get("skipped", [])
    if not skipped:
        return
    terminalreporter.section("SKIPPED: GUARANTEES NOT CHECKED ON THIS MACHINE", sep="!", red=True)
    for report in skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        terminalreporter.write_line(f"{report.nodeid}: {reason}", red=True, bold=True)


# the browser tests (tests/test_report_browser.py, tests/test_view_browser.py)


def chromium_binary() -> str:
    """The system Chromium, or a failure that says how to install it."""
    path = os.environ.get("LLMBENCH_CHROMIUM") or next(
        (p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None
    )
    if not path or not Path(path).exists():
        pytest.fail(
            "no Chromium for the browser tests (report.html, llmbench view): install it with "
            "`apt-get install -y chromium` or set LLMBENCH_CHROMIUM to a Chromium binary",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            "the browser tests need Playwright: `pip install playwright` "
            "(the dev extra); do not run `playwright install`, it uses the system Chromium",
            pytrace=False,
        )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_binary(), headless=True)
        yield browser
        browser.close()
