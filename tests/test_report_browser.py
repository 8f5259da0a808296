"""report.html opened from disk in headless Chromium: charts drawn, table filtered, sorted and
expanded, injected markup inert, and a clean console.

Needs Playwright's Python package and a system Chromium (not Playwright's own download):

    pip install playwright          # in the dev extra
    apt-get install -y chromium     # Debian; or set LLMBENCH_CHROMIUM to a Chromium binary

The test fails (never skips) when either is missing, naming the install step.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from llmbench.report.html import render_html
from llmbench.report.write import in_memory, write_reports
from tests.test_report_submissions import CSV_LINES as SUBMITTED
from tests.test_report_submissions import INJECTED as SCRIPT
from tests.test_report_submissions import write_submission_run
from tests.test_report_tools import FIB_CODE, INJECTED_CODE, INJECTED_OUTPUT, write_tool_run
from tests.test_reports import INJECTION, make_records, make_summary

REPO = Path(__file__).resolve().parent.parent
SCREENSHOT = REPO / "test-artifacts" / "report.png"


def chromium_binary() -> str:
    """The system Chromium, or a failure that says how to install it."""
    path = os.environ.get("LLMBENCH_CHROMIUM") or next(
        (p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None
    )
    if not path or not Path(path).exists():
        pytest.fail(
            "no Chromium for the report browser test: install it with "
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
            "the report browser test needs Playwright: `pip install playwright` "
            "(the dev extra); do not run `playwright install`, it uses the system Chromium",
            pytrace=False,
        )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_binary(), headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def report_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    run_dir = tmp_path_factory.mktemp("run")
    return write_reports(run_dir, make_summary(), *in_memory(make_records()))["html"].as_uri()


class Page:
    """A loaded report page and every console error and uncaught exception it produced."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def rows(self) -> Any:
        return self.page.locator("#records tbody tr.record")

    def column(self, n: int) -> list[str]:
        return [
            str(t)
            for t in self.page.eval_on_selector_all(
                f"#records tbody tr.record td:nth-child({n})",
                "cells => cells.map(c => c.textContent)",
            )
        ]

    def count_text(self) -> str:
        return str(self.page.locator("#record-count").text_content())


@pytest.fixture
def page(browser: Any, report_url: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    wrapped = Page(context.new_page())
    wrapped.page.goto(report_url)
    yield wrapped
    context.close()


def box(page: Page, selector: str) -> dict[str, float]:
    found = page.page.locator(selector).bounding_box()
    assert found is not None, f"{selector} is not rendered"
    return dict(found)


@pytest.mark.parametrize("chart", ["chart-categories", "chart-quality-speed", "chart-latency"])
def test_chart_is_an_svg_with_a_size(page: Page, chart: str) -> None:
    found = box(page, f"#{chart} svg")
    assert found["width"] > 100 and found["height"] > 100


def test_charts_draw_one_mark_per_agent_and_category(page: Page) -> None:
    # 3 agents x 3 categories bars (each with an interval), 3 points, 3 boxes
    counts = page.page.evaluate(
        """() => ['#chart-categories rect.bar', '#chart-categories line.errbar',
                  '#chart-quality-speed circle.point', '#chart-latency rect.box']
                 .map(s => document.querySelectorAll(s).length)"""
    )
    assert counts == [9, 27, 3, 3]
    assert box(page, "#chart-categories rect.bar >> nth=0")["height"] > 0


def test_all_records_are_listed_at_first(page: Page) -> None:
    assert page.rows().count() == 24
    assert page.count_text() == "24 of 24 records"


def test_text_filter(page: Page) -> None:
    page.page.fill("#filter-text", "arith")
    # 2 arithmetic tests x 3 agents x 2 repeats
    assert page.rows().count() == 12
    assert page.count_text() == "12 of 24 records"


def test_only_failed_filter(page: Page) -> None:
    page.page.check("#filter-failed")
    # failed, errored or not scored: qwen 1, llama 4, phi 6
    assert page.rows().count() == 11


def test_agent_category_and_failed_filters_combine(page: Page) -> None:
    page.page.select_option("#filter-category", "dialogue")
    page.page.check("#filter-failed")
    assert page.column(1) == ["llama-8b", "phi-3"]
    page.page.select_option("#filter-agent", "phi-3")
    assert page.column(2) == ["chat_01"]


def test_sorting_by_score_puts_missing_scores_last_both_ways(page: Page) -> None:
    header = page.page.locator("#records th[data-key=score]")
    header.click()
    assert page.column(6) == ["0.00"] * 8 + ["0.50"] + ["1.00"] * 13 + ["n/a"] * 2
    assert header.get_attribute("aria-sort") == "ascending"
    header.click()
    assert page.column(6) == ["1.00"] * 13 + ["0.50"] + ["0.00"] * 8 + ["n/a"] * 2


def test_clicking_a_row_shows_the_transcript(page: Page) -> None:
    page.page.select_option("#filter-agent", "qwen-7b")
    page.page.select_option("#filter-category", "dialogue")
    page.rows().first.click()
    transcript = page.page.locator("#records tr.detail table.transcript tbody tr")
    assert transcript.count() == 4
    cells = transcript.nth(2).locator("td").all_text_contents()
    assert cells == [
        "2",
        "user",
        "supervisor",
        "Tonight, please.\n[instructor proposed: Tomorrow.]\n[supervisor: the instructor changed the day]",
    ]
    page.rows().first.click()
    assert page.page.locator("#records tr.detail").count() == 0


def test_injected_script_in_an_answer_does_not_run_and_shows_as_text(page: Page) -> None:
    page.page.fill("#filter-text", "__pwned")
    assert page.rows().count() == 1
    page.rows().first.click()
    answer = page.page.locator("#records tr.detail pre").nth(2)
    assert answer.text_content() == INJECTION
    assert page.page.evaluate("() => window.__pwned") is None
    assert page.page.evaluate("() => document.querySelectorAll('img').length") == 0
    assert page.page.evaluate("() => document.scripts.length") == 2


def test_console_stays_clean_through_every_control(page: Page) -> None:
    page.page.click("#records th[data-key=execution_time]")
    page.page.click("#records th[data-key=passed]")
    page.page.check("#filter-failed")
    page.page.uncheck("#filter-failed")
    page.page.select_option("#filter-category", "dialogue")
    for n in range(page.rows().count()):
        page.rows().nth(n).click()
    page.page.fill("#filter-text", "no such record")
    assert page.rows().count() == 0
    page.page.fill("#filter-text", "")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert page.errors == []


@pytest.fixture(scope="module")
def capped_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("capped") / "report.html"
    path.write_text(render_html(make_summary(), *in_memory(make_records()), max_records=12))
    return path.as_uri()


def test_a_capped_page_says_so_and_still_charts_every_result(browser: Any, capped_url: str) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = Page(context.new_page())
    page.page.goto(capped_url)
    note = page.page.locator("#records-note")
    assert note.is_visible()
    assert str(note.text_content()).startswith("Showing 12 of 24 results")
    assert page.rows().count() == 12 and page.count_text() == "12 of 12 records"
    # the box plots count every successful request, not only the records in the table
    labels = page.page.eval_on_selector_all(
        "#chart-latency text", "ts => ts.map(t => t.textContent).filter(t => t.includes('(n='))"
    )
    assert labels == ["qwen-7b (n=8)", "llama-8b (n=7)", "phi-3 (n=8)"]
    assert page.page.locator("#chart-latency rect.box").count() == 3
    page.page.select_option("#filter-category", "dialogue")
    assert page.errors == []
    context.close()


@pytest.fixture(scope="module")
def thinking_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    records = make_records()
    records[0].update(
        reasoning_text="First, <b>think</b>.", reasoning_tokens=12, time_to_first_answer_token=0.9
    )
    path = tmp_path_factory.mktemp("thinking") / "report.html"
    path.write_text(render_html(make_summary(), *in_memory(records)))
    return path.as_uri()


def test_a_record_shows_its_thinking_folded(browser: Any, thinking_url: str) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = Page(context.new_page())
    page.page.goto(thinking_url)
    page.rows().first.click()
    fold = page.page.locator("#records tr.detail details.thinking")
    assert fold.count() == 1 and fold.get_attribute("open") is None
    assert fold.locator("summary").text_content() == "Thinking (12 tokens)"
    assert not fold.locator("pre").is_visible()
    fold.locator("summary").click()
    assert fold.locator("pre").is_visible()
    assert fold.locator("pre").text_content() == "First, <b>think</b>."
    assert "first answer token 0.90 s" in str(
        page.page.locator("#records tr.detail p").first.text_content()
    )
    assert page.page.locator("#records tr.detail").count() == 1  # the click kept it open
    assert page.errors == []
    context.close()


def test_the_screenshot_goes_where_git_ignores_it() -> None:
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    done = subprocess.run(
        ["git", "check-ignore", "--quiet", str(SCREENSHOT.relative_to(REPO))], cwd=REPO
    )
    assert done.returncode == 0, f"{SCREENSHOT} would show up in `git status`; ignore it"


@pytest.fixture(scope="module")
def tools_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    # finish() runs its own event loop: not in this thread, where Playwright's is running
    with ThreadPoolExecutor(1) as pool:
        run_dir = pool.submit(write_tool_run, tmp_path_factory.mktemp("tools")).result()
    return (run_dir / "report.html").as_uri()


def test_a_tool_transcript_shows_code_cells_and_outputs_as_text(
    browser: Any, tools_url: str
) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = Page(context.new_page())
    page.page.goto(tools_url)
    assert page.page.locator("#tools tbody tr").count() == 2
    assert page.page.locator("#sandbox.warning").is_visible()
    page.page.select_option("#filter-agent", "coder")
    page.page.select_option("#filter-category", "code")
    assert page.column(2) == ["fib", "csv"]
    page.rows().first.click()
    detail = page.page.locator("#records tr.detail")
    assert detail.locator("p.outcome").text_content() == (
        "ended: answered · 1 turn · tool protocol function · 3 code calls, 1 raised, "
        "0 timed out, 0 session restarts"
    )
    episode = detail.locator("ol.episode > li")
    assert episode.count() == 7  # prompt, 2 assistant messages with calls, 3 cells, answer
    cells = detail.locator("ol.episode li.cell")
    assert cells.count() == 3
    assert cells.nth(0).locator("pre.code").text_content() == FIB_CODE
    assert cells.nth(0).locator("pre.output").text_content() == "(no output)"
    assert cells.nth(1).locator("span.mark").all_text_contents() == ["raised"]
    assert cells.nth(1).locator("p.error").text_content() == "error: SyntaxError"
    injected = cells.nth(2)
    assert injected.locator(".meta").text_content() == "turn 1 · code call_3 · 0.25 s"
    assert injected.locator("pre.code").text_content() == INJECTED_CODE
    assert injected.locator("pre.output").text_content() == INJECTED_OUTPUT
    assert "ui-monospace" in injected.locator("pre.code").evaluate(
        "e => getComputedStyle(e).fontFamily"
    )
    assert page.page.evaluate("() => window.__pwned") is None
    assert page.page.evaluate("() => document.querySelectorAll('img').length") == 0
    assert page.page.evaluate("() => document.scripts.length") == 2

    page.rows().nth(1).click()  # csv: stopped at the limit, the session restarted
    flagged = page.page.locator("#records tr.detail").nth(1).locator("li.cell.flagged")
    assert flagged.locator("span.mark").all_text_contents() == ["timed out", "session restarted"]
    note = page.page.locator("#records tr.detail").nth(1).locator("li.runner-note")
    assert note.locator("p").text_content() == "stopped: max_tool_calls=8 reached in turn 1"
    assert note.locator(".meta").text_content() == "turn 1 · note · runner"
    assert page.errors == []
    context.close()


@pytest.fixture(scope="module")
def submissions_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    with ThreadPoolExecutor(1) as pool:  # finish() runs its own event loop
        run_dir = pool.submit(write_submission_run, tmp_path_factory.mktemp("subs")).result()
    return (run_dir / "report.html").as_uri()


def test_a_submission_shows_its_first_rows_as_text(browser: Any, submissions_url: str) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = Page(context.new_page())
    page.page.goto(submissions_url)
    assert page.page.locator("#submissions tbody tr").count() == 2
    assert page.page.locator("#submission-tasks tbody tr").count() == 6
    # one bar per task and agent with a skill: 3 tasks x 2 agents
    assert page.page.locator("#chart-submissions rect.bar").count() == 6
    page.page.select_option("#filter-agent", "alpha")
    page.page.fill("#filter-text", "houses")
    assert page.column(2) == ["houses", "houses"]
    page.rows().first.click()
    detail = page.page.locator("#records tr.detail")
    assert detail.locator("p.submission").text_content() == (
        "submission.csv: valid · rmse 21,000 against baseline 30,000 and best 0 (lower is "
        "better) · skill 0.30 · baseline achieved · 200 rows"
    )
    preview = detail.locator("pre.submission-preview")
    assert preview.text_content() == "\n".join(SUBMITTED[:10]) + "\n…"
    page.page.select_option("#filter-agent", "beta")
    page.page.fill("#filter-text", "churn")
    page.rows().first.click()
    detail = page.page.locator("#records tr.detail")
    assert detail.locator("p.submission").text_content() == (
        "submission.csv: invalid (line 3: expected 2 fields, saw 5)"
    )
    assert detail.locator("pre.submission-preview").text_content() == f"id,churn\n1,{SCRIPT}"
    assert page.page.evaluate("() => window.__pwned") is None
    assert page.page.evaluate("() => document.scripts.length") == 2
    assert page.errors == []
    context.close()
