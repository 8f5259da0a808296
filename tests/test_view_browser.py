"""``llmbench view`` in headless Chromium: the runs list, a run's page with a record opened
(transcript, code cells, the files its agent left), a comparison, and a live run (``runner.py``
in a subprocess against a slow scripted server while the page is open: new results appear
without a reload, then the leaderboard once the run is scored); injected markup stays text and
the console stays clean. Screenshots go to test-artifacts/view-*.png.

Needs Playwright's Python package and a system Chromium, as tests/test_report_browser.py does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RUNNER
from tests.scripted_server import Answer, ScriptedServer
from tests.test_report_browser import CHART_LAYOUT
from tests.test_report_tools import FIB_CODE, INJECTED_CODE, INJECTED_OUTPUT
from tests.test_reports import INJECTION
from tests.view_support import (
    HOSTILE_FILE,
    HOSTILE_TEXT,
    NOTES,
    REPORT_RUN,
    START,
    TOOLS_RUN,
    ViewerServer,
    manifest,
    write_results,
)

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
HOSTILE_RUN = "20251230T000000Z-<img src=x onerror=window.__pwned=8>"
HOSTILE_AGENT = "<script>window.__pwned = 9</script>"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("view-browser")
    # finish() runs its own event loop: not in the thread where Playwright's may run
    with ThreadPoolExecutor(1) as pool:
        root = pool.submit(write_results, base / "results", base / "outside").result()
    hostile = root / HOSTILE_RUN
    hostile.mkdir()
    data = manifest(
        HOSTILE_RUN, "interrupted", [HOSTILE_AGENT], ["t1"], 1, START - timedelta(days=4)
    )
    (hostile / "manifest.json").write_text(json.dumps(data), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def viewer(results: Path) -> Iterator[ViewerServer]:
    with ViewerServer(results) as running:
        yield running


class Page:
    """A page of the viewer and every console error and uncaught exception it produced."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.set_default_timeout(15_000)

    def texts(self, selector: str) -> list[str]:
        return [str(t) for t in self.page.locator(selector).all_text_contents()]

    def pwned(self) -> Any:
        return self.page.evaluate("() => window.__pwned")

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"view-{name}.png"), full_page=True)


@pytest.fixture
def page(browser: Any) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    wrapped = Page(context.new_page())
    yield wrapped
    context.close()


def records(page: Page) -> Any:
    return page.page.locator("#records tbody tr.record")


def test_the_runs_list_shows_every_run_newest_first(page: Page, viewer: ViewerServer) -> None:
    page.page.goto(viewer.url + "/")
    page.page.wait_for_selector("#runs tbody tr.run >> nth=3")
    # newest first: the live run started seconds ago
    assert page.texts("#runs tbody tr.run td:nth-child(2)") == [
        "20260101T000000Z-live",
        REPORT_RUN,
        TOOLS_RUN,
        HOSTILE_RUN,
    ]
    assert page.texts("#runs tbody tr.run td:nth-child(3)") == [
        "running",
        "completed",
        "completed",
        "interrupted",
    ]
    assert page.texts("#runs tbody tr.run >> nth=1 >> label.agent") == [
        " qwen-7b (0.88)",
        " llama-8b (0.67)",
        " phi-3 (0.38)",
    ]
    # a run id and an agent id made of markup are shown as text and do nothing
    assert page.texts("#runs tbody tr.run >> nth=3 >> label.agent") == [f" {HOSTILE_AGENT}"]
    assert page.pwned() is None
    assert page.page.evaluate("() => document.querySelectorAll('img, #runs script').length") == 0
    page.page.fill("#filter-text", "tools")
    assert page.texts("#runs tbody tr.run td:nth-child(2)") == [TOOLS_RUN]
    page.page.fill("#filter-text", "")
    page.page.select_option("#filter-status", "running")
    assert page.page.locator("#runs tbody tr.run").count() == 1
    page.page.select_option("#filter-status", "")
    page.shot("runs")
    assert page.errors == []


def test_ticking_agents_of_two_runs_opens_their_comparison(
    page: Page, viewer: ViewerServer
) -> None:
    page.page.goto(viewer.url + "/")
    page.page.wait_for_selector("#runs tbody tr.run")
    page.page.check(f"#runs input[data-key='{REPORT_RUN}/qwen-7b']")
    page.page.check(f"#runs input[data-key='{TOOLS_RUN}/coder']")
    assert page.page.locator("#compare").text_content() == "Compare selected agents (2)"
    page.page.click("#compare")
    page.page.wait_for_selector("#comparison tbody tr.record")
    assert page.texts("#comparison thead th.column .agent") == ["qwen-7b", "coder"]
    assert page.page.locator("#paired tbody tr").count() == 1
    assert page.errors == []


def test_a_run_page_has_the_leaderboard_and_filters_its_records(
    page: Page, viewer: ViewerServer
) -> None:
    page.page.goto(f"{viewer.url}/runs/{REPORT_RUN}")
    page.page.wait_for_selector("#records tbody tr.record")
    assert page.texts("#leaderboard tbody td:nth-child(2)") == ["qwen-7b", "llama-8b", "phi-3"]
    assert page.texts("#differences li")[0].startswith("qwen-7b > phi-3 by 0.50")
    assert page.page.locator("#record-count").text_content() == "25 of 25 records"
    # over, but 5 of its 30 planned results are missing (the injected test is not planned)
    assert page.page.locator("#live-status").text_content() == (
        "Ended (completed): 25 of 30 results, 1 error (max_workers 4)"
    )
    page.page.select_option("#filter-status", "failed")
    page.page.wait_for_function(
        "() => document.getElementById('record-count').textContent === '11 of 25 records'"
    )
    page.page.select_option("#filter-agent", "phi-3")
    page.page.wait_for_function(
        "() => document.getElementById('record-count').textContent === '6 of 25 records'"
    )
    page.page.select_option("#filter-status", "")
    page.page.select_option("#filter-agent", "")
    page.page.click("#records th[data-key=score]")
    page.page.wait_for_function(
        "() => document.querySelector('#records th[data-key=score]').getAttribute('aria-sort')"
        " === 'ascending' && document.querySelectorAll('#records tbody tr.record').length === 25"
    )
    page.page.wait_for_function(
        "() => document.querySelector('#records tbody tr.record td:nth-child(6)').textContent"
        " === '0.00'"
    )
    assert page.errors == []


def test_a_run_page_draws_the_reports_charts(page: Page, viewer: ViewerServer) -> None:
    """The run page draws the charts report.html has (charts.js over /api/.../charts), under
    the viewer's policy (scripts from this origin only, no eval), with every label inside its
    chart and apart from the others."""
    page.page.goto(f"{viewer.url}/runs/{REPORT_RUN}")
    page.page.wait_for_function(
        "() => document.querySelectorAll('#charts figure.chart').length > 0 && Array.from("
        "document.querySelectorAll('#charts figure.chart')).every((f) => "
        "f.getAttribute('data-state') !== 'drawing')"
    )
    charts = {c["id"]: c for c in page.page.evaluate(CHART_LAYOUT)}
    assert {"chart-categories", "chart-quality-speed", "chart-latency"} <= set(charts)
    for chart in charts.values():
        assert chart["state"] == "rendered", chart
        assert chart["marks"] > 0 and chart["width"] > 200, chart
        assert (chart["outside"], chart["overlaps"]) == ([], []), chart
    page.shot("charts")
    assert page.errors == []


def test_an_injected_answer_and_test_id_show_as_text(page: Page, viewer: ViewerServer) -> None:
    page.page.goto(f"{viewer.url}/runs/{REPORT_RUN}")
    page.page.wait_for_selector("#records tbody tr.record")
    page.page.fill("#filter-text", "__pwned")
    page.page.wait_for_function(
        "() => document.getElementById('record-count').textContent === '2 of 25 records'"
    )
    assert page.texts("#records tbody tr.record td:nth-child(2)") == ["arith_02", INJECTION]
    records(page).nth(1).click()
    detail = page.page.locator("#records tr.detail")
    detail.wait_for()
    assert detail.locator("pre").nth(2).text_content() == INJECTION  # the answer
    assert detail.locator("pre").nth(0).text_content() == (
        "(the test is no longer in the run's suite)"
    )
    assert page.pwned() is None
    assert page.page.evaluate("() => document.querySelectorAll('img').length") == 0
    assert page.page.evaluate("() => document.scripts.length") == 4  # the page's own
    assert page.errors == []


def test_a_record_opens_with_its_transcript_and_the_files_its_agent_left(
    page: Page, viewer: ViewerServer, browser: Any
) -> None:
    page.page.goto(f"{viewer.url}/runs/{TOOLS_RUN}")
    page.page.wait_for_selector("#records tbody tr.record")
    assert page.page.locator("#tools-section p.warning").is_visible()
    assert page.page.locator("#live").is_hidden()  # over, every planned result in
    records(page).first.click()  # coder / fib
    detail = page.page.locator("#records tr.detail")
    detail.wait_for()
    assert detail.locator("pre").first.text_content() == "What is the 40th Fibonacci number?"
    cells = detail.locator("ol.episode li.cell")
    assert cells.count() == 3
    assert cells.nth(0).locator("pre.code").text_content() == FIB_CODE
    assert cells.nth(1).locator("span.mark").all_text_contents() == ["raised"]
    assert cells.nth(2).locator("pre.code").text_content() == INJECTED_CODE
    assert cells.nth(2).locator("pre.output").text_content() == INJECTED_OUTPUT
    files = detail.locator("ul.files li.file a.view")
    assert files.all_text_contents() == [HOSTILE_FILE, "fib.py", "out/notes.txt"]
    page.shot("run")
    # each file opens as plain text, the one named like markup too: nothing in it runs
    for n, body in ((2, NOTES), (0, HOSTILE_TEXT)):
        href = str(files.nth(n).get_attribute("href"))
        opened = Page(page.page.context.new_page())
        opened.page.goto(viewer.url + href)
        assert opened.page.evaluate("() => document.contentType") == "text/plain"
        assert opened.page.evaluate("() => document.body.textContent") == body
        assert opened.pwned() is None
        opened.page.close()
    assert page.pwned() is None
    assert page.page.evaluate("() => document.querySelectorAll('img').length") == 0
    assert page.errors == []


def test_a_comparison_shows_the_same_test_side_by_side(page: Page, viewer: ViewerServer) -> None:
    page.page.goto(f"{viewer.url}/compare?c={REPORT_RUN}/qwen-7b&c={REPORT_RUN}/phi-3")
    page.page.wait_for_selector("#comparison tbody tr.record")
    assert page.page.locator("#row-count").text_content() == "9 rows"
    paired = page.texts("#paired tbody td")
    assert paired[2:7] == ["8", "0.88", "0.31", "0.56 [0.25, 0.88]", "5 / 0"]
    row = page.page.locator("#comparison tbody tr.record").nth(1)  # arith_01, repeat 1
    assert row.locator("td").all_text_contents()[3:] == ["1.00 · yes", "0.00 · no"]
    row.click()
    sides = page.page.locator("#comparison tr.detail td.side")
    page.page.wait_for_function(
        "() => document.querySelectorAll('#comparison tr.detail td.side pre').length >= 6"
    )
    answers = [sides.nth(n).locator("pre").nth(2).text_content() for n in range(2)]
    assert answers == ["5", "I am not sure."]
    page.page.check("#filter-differ")
    page.page.wait_for_function(
        "() => document.getElementById('row-count').textContent === '6 rows'"
    )
    page.shot("compare")
    assert page.pwned() is None
    assert page.errors == []


# a live run


LIVE_TESTS = 14
ANSWER_S = 0.6


def _live_files(tmp: Path, server: ScriptedServer) -> None:
    tests = [
        {
            "id": f"q{n:02d}",
            "name": f"Question {n}",
            "category": "arithmetic",
            "prompt": f"What is {n} + 2?",
            "expected": "4",
            "parameters": {"max_tokens": 8},
        }
        for n in range(LIVE_TESTS)
    ]
    (tmp / "suite.json").write_text(json.dumps({"suite_info": {"name": "live"}, "tests": tests}))
    (tmp / "base_config.toml").write_text(
        '[benchmark]\ntest_suite = "suite.json"\nresults_dir = "results"\nmax_workers = 2\n'
    )
    (tmp / "agents").mkdir()
    (tmp / "agents" / "slowpoke.toml").write_text(
        f'id = "slowpoke"\nendpoint = "{server.url}/v1"\nmodel = "scripted-model"\n'
        "retry_attempts = 0\ntimeout = 10\nmax_concurrency = 1\n"
    )


def _count(page: Page) -> int:
    text = str(page.page.locator("#record-count").text_content() or "0 of 0")
    return int(text.split(" ", 1)[0] or 0)


@pytest.mark.timeout(120)
def test_a_running_run_shows_new_results_without_a_reload(
    page: Page, tmp_path: Path, server: ScriptedServer
) -> None:
    server.set_default(Answer("4", ttft_s=ANSWER_S))
    _live_files(tmp_path, server)
    results = tmp_path / "results"
    results.mkdir()
    with ViewerServer(results) as viewer:
        run = subprocess.Popen(
            [sys.executable, str(RUNNER), "--base_config", "base_config.toml",
             "--agent_config", "agents"],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO / "src")},
        )  # fmt: skip
        try:
            page.page.goto(viewer.url + "/")
            link = page.page.locator("#runs tbody tr.run a")
            link.wait_for(timeout=30_000)  # the runs list notices the new run by itself
            assert page.texts("#runs tbody tr.run td:nth-child(3)") == ["running"]
            link.click()
            page.page.wait_for_selector("#progress tbody tr")
            page.page.evaluate("() => { window.__same_page = true; }")
            first = _count(page)
            assert first < LIVE_TESTS
            page.page.wait_for_function(
                f"() => Number(document.getElementById('record-count').textContent"
                f".split(' ')[0]) >= {first + 2}",
                timeout=30_000,
            )
            assert page.page.evaluate("() => window.__same_page") is True  # no reload
            row = page.page.locator("#progress tbody tr[data-agent=slowpoke]")
            done = str(row.locator("td.done").text_content())
            assert done.endswith(f" / {LIVE_TESTS}") and int(done.split(" ")[0]) >= first + 2
            assert page.page.locator("#live-status").text_content().startswith("Running: ")
            assert row.locator("td:nth-child(9)").text_content() == "fixed 1"
            page.shot("live")
            # the end: scored, summarised, and the page says so, still without a reload
            page.page.wait_for_selector("#leaderboard", timeout=60_000)
            page.page.wait_for_function(
                "() => document.getElementById('run-status').textContent === 'completed'",
                timeout=30_000,
            )
            page.page.wait_for_function(
                f"() => document.getElementById('record-count').textContent === "
                f"'{LIVE_TESTS} of {LIVE_TESTS} records'"
            )
            page.page.wait_for_function(
                "() => document.querySelector('#records tbody tr.record td:nth-child(7)')"
                ".textContent === 'yes'"
            )
            assert page.page.evaluate("() => window.__same_page") is True
            assert page.texts("#leaderboard tbody td:nth-child(2)") == ["slowpoke"]
            page.shot("live-done")
            assert run.wait(timeout=60) == 0, run.stderr.read() if run.stderr else ""
        finally:
            if run.poll() is None:
                run.kill()
            run.communicate()
    assert page.errors == []


def test_the_screenshots_go_where_git_ignores_them() -> None:
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    done = subprocess.run(
        ["git", "check-ignore", "--quiet", "test-artifacts/view-run.png"], cwd=REPO
    )
    assert done.returncode == 0
