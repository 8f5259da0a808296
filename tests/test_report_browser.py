"""report.html opened from disk in headless Chromium: every chart drawn (marks, tooltips, no
label outside its chart, none on another), the table filtered, sorted and expanded, injected
markup inert, nothing fetched, and a clean console (no error, no Vega warning, no
Content-Security-Policy violation).

Needs Playwright's Python package and a system Chromium (not Playwright's own download):

    pip install playwright          # in the dev extra
    apt-get install -y chromium     # Debian; or set LLMBENCH_CHROMIUM to a Chromium binary

The test fails (never skips) when either is missing, naming the install step.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from llmbench.report.charts import chart_css, chart_specs, vendor_scripts
from llmbench.report.html import csp_hash, render_html
from llmbench.report.write import in_memory, write_reports
from tests.test_report_charts import (
    AGENT_NAMES,
    INJECTED_AGENT,
    INJECTED_TEST,
    long_names_run,
    strings,
)
from tests.test_report_submissions import CSV_LINES as SUBMITTED
from tests.test_report_submissions import INJECTED as SCRIPT
from tests.test_report_submissions import write_submission_run
from tests.test_report_tools import FIB_CODE, INJECTED_CODE, INJECTED_OUTPUT, write_tool_run
from tests.test_reports import INJECTION, make_records, make_summary

REPO = Path(__file__).resolve().parent.parent
SCREENSHOT = REPO / "test-artifacts" / "report.png"
CHARTS_SCREENSHOT = REPO / "test-artifacts" / "report-charts.png"
SCRIPTS = 6
"""The page's scripts: the data block, Vega, Vega-Lite, vega-embed, charts.js, report.js."""


@pytest.fixture(scope="module")
def report_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    run_dir = tmp_path_factory.mktemp("run")
    return write_reports(run_dir, make_summary(), *in_memory(make_records()))["html"].as_uri()


# every Content-Security-Policy violation, kept where the test can read it (an init script runs
# before the page's own and is not subject to its policy)
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));
"""


class Page:
    """A loaded report page and every console error, Vega warning, uncaught exception and
    request it produced."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: self.requests.append(r.url))

    def _console(self, message: Any) -> None:
        if message.type == "error" or message.text.startswith("WARN"):
            self.errors.append(message.text)

    def open(self, url: str) -> Page:
        """Go to ``url`` and wait until every chart is drawn (or has failed)."""
        self.page.goto(url)
        self.page.wait_for_selector("body[data-charts=done]", state="attached", timeout=30_000)
        return self

    def problems(self) -> list[str]:
        """Console errors, Vega warnings, policy violations and requests beyond the page."""
        violations = [f"CSP: {v}" for v in self.page.evaluate("() => window.__violations")]
        fetched = [f"request: {u}" for u in self.requests if u != self.page.url]
        return [*self.errors, *violations, *fetched]

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
    wrapped = Page(context.new_page()).open(report_url)
    yield wrapped
    context.close()


def box(page: Page, selector: str) -> dict[str, float]:
    found = page.page.locator(selector).bounding_box()
    assert found is not None, f"{selector} is not rendered"
    return dict(found)


# per chart figure: its state, its svg's size, its data marks, and its visible text labels
# that lie outside the svg or on another label (by more than half a pixel either way)
CHART_LAYOUT = """() => Array.from(document.querySelectorAll('figure.chart')).map((f) => {
  const svg = f.querySelector('.chart-view svg');
  const out = { id: f.id, state: f.getAttribute('data-state'), marks: 0, outside: [], overlaps: [] };
  if (!svg) return out;
  const box = svg.getBoundingClientRect();
  out.width = box.width; out.height = box.height;
  out.marks = svg.querySelectorAll('g.role-mark > *').length;
  const labels = Array.from(svg.querySelectorAll('text'))
    .filter((t) => t.textContent && t.getAttribute('opacity') !== '0')
    .map((t) => [t.textContent, t.getBoundingClientRect()]);
  out.labels = labels.length;
  const tol = 0.5;
  out.outside = labels.filter(([, r]) => r.left < box.left - tol || r.right > box.right + tol
    || r.top < box.top - tol || r.bottom > box.bottom + tol).map(([t]) => t);
  labels.forEach(([a, r], i) => labels.slice(i + 1).forEach(([b, q]) => {
    const w = Math.min(r.right, q.right) - Math.max(r.left, q.left);
    const h = Math.min(r.bottom, q.bottom) - Math.max(r.top, q.top);
    if (w > tol && h > tol) out.overlaps.push(a + ' / ' + b);
  }));
  return out;
})"""


def chart_layout(page: Page) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in page.page.evaluate(CHART_LAYOUT)}


def test_every_chart_is_drawn_with_its_labels_inside_and_apart(page: Page) -> None:
    charts = chart_layout(page)
    assert list(charts) == [
        "chart-categories",
        "chart-quality-speed",
        "chart-latency",
        "chart-ttft",
        "chart-tokens-per-second",
        "chart-latency-prompt",
    ]
    for chart in charts.values():
        assert chart["state"] == "rendered", chart
        assert chart["width"] > 300 and chart["height"] > 100, chart
        assert (chart["outside"], chart["overlaps"]) == ([], []), chart
    assert page.problems() == []


def test_charts_draw_one_mark_per_figure(page: Page) -> None:
    marks = {k: v["marks"] for k, v in chart_layout(page).items()}
    assert marks == {
        "chart-categories": 18,  # 3 agents x 3 categories: a bar and an interval each
        "chart-quality-speed": 6,  # a point and an interval per agent
        "chart-latency": 9,  # whiskers, box and median per agent, no outliers
        "chart-ttft": 9,
        "chart-tokens-per-second": 9,
        "chart-latency-prompt": 23,  # 24 requests, one failed
    }


def test_the_latency_axis_names_every_agent_with_its_count_in_full(page: Page) -> None:
    labels = page.page.eval_on_selector_all(
        "#chart-latency svg text", "ts => ts.map(t => t.textContent).filter(t => t.includes('(n='))"
    )
    assert labels == ["qwen-7b (n=8)", "llama-8b (n=7)", "phi-3 (n=8)"]


# the first item (with a size) of each layer of marks in each chart, as (chart, layer, index)
HOVER_TARGETS = """() => Array.from(document.querySelectorAll('figure.chart')).flatMap((f) =>
  Array.from(f.querySelectorAll('.chart-view svg g.role-mark')).map((g, layer) => {
    const n = Array.from(g.children).findIndex((e) => {
      const r = e.getBoundingClientRect();
      return r.width + r.height > 1;
    });
    return n < 0 ? null : [f.id, layer, n];
  }).filter(Boolean))"""
# scrolls that item into view and gives its centre
CENTRE = """([chart, layer, n]) => {
  const e = document.getElementById(chart).querySelectorAll('.chart-view svg g.role-mark')[layer]
    .children[n];
  e.scrollIntoView({ block: 'center' });
  const r = e.getBoundingClientRect();
  return [r.left + r.width / 2, r.top + r.height / 2];
}"""


def hover(page: Page, target: list[Any]) -> str:
    """Hover one mark (:data:`HOVER_TARGETS`); the tooltip's text, which holds only a table of
    text cells."""
    x, y = page.page.evaluate(CENTRE, target)
    page.page.mouse.move(x, y)
    tip = page.page.locator(".chart-tooltip.visible")
    tip.wait_for(timeout=5000)
    tags = tip.evaluate("t => Array.from(t.querySelectorAll('*')).map(e => e.tagName)")
    assert set(tags) <= {"TABLE", "TR", "TH", "TD"}, tags
    text = str(tip.text_content())
    page.page.mouse.move(0, 0)
    return text


def hover_every_layer(page: Page) -> list[tuple[str, int, str]]:
    """(chart, layer, tooltip text) for the first mark of every layer of every chart."""
    return [(t[0], t[1], hover(page, t)) for t in page.page.evaluate(HOVER_TARGETS)]


def test_every_mark_has_a_tooltip(page: Page) -> None:
    shown = hover_every_layer(page)
    # 2 + 2 + 3 x 3 + 1 layers, less the whiskers of the constant TTFT and tokens/s, which
    # have no length to hover
    assert len(shown) == 12
    assert all("agent" in text for _, _, text in shown), shown
    first = dict(((c, text) for c, _, text in reversed(shown)))
    assert first["chart-categories"].startswith("agentqwen-7bcategoryarithmeticmean score")
    assert page.problems() == []


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
    assert page.page.evaluate("() => document.scripts.length") == SCRIPTS


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
    assert page.problems() == []


@pytest.fixture(scope="module")
def capped_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("capped") / "report.html"
    path.write_text(render_html(make_summary(), *in_memory(make_records()), max_records=12))
    return path.as_uri()


def test_a_capped_page_says_so_and_still_charts_every_result(browser: Any, capped_url: str) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = Page(context.new_page()).open(capped_url)
    note = page.page.locator("#records-note")
    assert note.is_visible()
    assert str(note.text_content()).startswith("Showing 12 of 24 results")
    assert page.rows().count() == 12 and page.count_text() == "12 of 12 records"
    # the box plots count every successful request, not only the records in the table
    labels = page.page.eval_on_selector_all(
        "#chart-latency svg text", "ts => ts.map(t => t.textContent).filter(t => t.includes('(n='))"
    )
    assert labels == ["qwen-7b (n=8)", "llama-8b (n=7)", "phi-3 (n=8)"]
    assert chart_layout(page)["chart-latency-prompt"]["marks"] == 23
    page.page.select_option("#filter-category", "dialogue")
    assert page.problems() == []
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
    page = Page(context.new_page()).open(thinking_url)
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
    assert page.problems() == []
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
    page = Page(context.new_page()).open(tools_url)
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
    assert page.page.evaluate("() => document.scripts.length") == SCRIPTS

    page.rows().nth(1).click()  # csv: stopped at the limit, the session restarted
    flagged = page.page.locator("#records tr.detail").nth(1).locator("li.cell.flagged")
    assert flagged.locator("span.mark").all_text_contents() == ["timed out", "session restarted"]
    note = page.page.locator("#records tr.detail").nth(1).locator("li.runner-note")
    assert note.locator("p").text_content() == "stopped: max_tool_calls=8 reached in turn 1"
    assert note.locator(".meta").text_content() == "turn 1 · note · runner"
    assert page.problems() == []
    context.close()


@pytest.fixture(scope="module")
def submissions_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    with ThreadPoolExecutor(1) as pool:  # finish() runs its own event loop
        run_dir = pool.submit(write_submission_run, tmp_path_factory.mktemp("subs")).result()
    return (run_dir / "report.html").as_uri()


def test_a_submission_shows_its_first_rows_as_text(browser: Any, submissions_url: str) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = Page(context.new_page()).open(submissions_url)
    assert page.page.locator("#submissions tbody tr").count() == 2
    assert page.page.locator("#submission-tasks tbody tr").count() == 6
    # a bar per task and agent with a valid submission: alpha 3, beta 2 (none on houses)
    bars = "#chart-submissions g.mark-rect.role-mark > path"
    assert page.page.locator(bars).count() == 5
    assert page.page.locator(
        "#chart-submissions g.mark-text.role-mark > text"
    ).all_text_contents() == ["no valid submission"]
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
    assert page.page.evaluate("() => document.scripts.length") == SCRIPTS
    assert page.problems() == []
    context.close()


# ---- long agent ids and category names, six agents, markup in the run's text ----


@pytest.fixture(scope="module")
def long_run() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return long_names_run()


@pytest.fixture(scope="module")
def long_url(
    tmp_path_factory: pytest.TempPathFactory, long_run: tuple[dict[str, Any], list[Any]]
) -> str:
    path = tmp_path_factory.mktemp("long") / "report.html"
    path.write_text(render_html(long_run[0], *in_memory(long_run[1])), encoding="utf-8")
    return path.as_uri()


@pytest.mark.parametrize("width", [1400, 900])
def test_long_names_are_drawn_whole_inside_every_chart(
    browser: Any, long_url: str, width: int
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 1000})
    page = Page(context.new_page()).open(long_url)
    charts = chart_layout(page)
    assert sorted(charts) == sorted(
        f"chart-{c}"
        for c in (
            *("categories", "quality-speed", "latency", "ttft", "tokens-per-second"),
            *("latency-prompt", "submissions"),
        )
    )
    for chart in charts.values():
        assert chart["state"] == "rendered", chart
        assert chart["marks"] > 0, chart
        assert (chart["outside"], chart["overlaps"]) == ([], []), chart
    texts = page.page.eval_on_selector_all(
        "figure.chart svg text", "ts => ts.map(t => t.textContent)"
    )
    for whole in (
        "smollm2-warm-with-a-long-name (n=8)",
        "llama-3.1-8b-instruct-long-context (n=7)",
        "reading_comprehension",
        "multi_turn_dialogue_with_tools",
        "house_prices_regression_with_a_long_name",
        INJECTED_AGENT,
    ):
        assert whole in texts
    if width == 1400:
        CHARTS_SCREENSHOT.parent.mkdir(exist_ok=True)
        page.page.locator("main").screenshot(path=str(CHARTS_SCREENSHOT))
    assert page.problems() == []
    context.close()


def test_markup_in_agent_ids_categories_and_test_ids_stays_text_in_tooltips(
    browser: Any, long_url: str
) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = Page(context.new_page()).open(long_url)
    shown = hover_every_layer(page)
    agents = [name for names in AGENT_NAMES.values() for name in names]
    assert all(any(a in text for a in agents) or "each task's" in text for _, _, text in shown)
    # hover every point of the prompt chart: some are of the test whose id is markup
    count = page.page.locator("#chart-latency-prompt g.role-mark > path").count()
    seen = {hover(page, ["chart-latency-prompt", 0, n]) for n in range(count)}
    assert any(INJECTED_TEST in text for text in seen)
    assert page.page.evaluate("() => window.__pwned") is None
    assert page.page.evaluate("() => document.querySelectorAll('img, b').length") == 0
    assert page.page.evaluate("() => document.scripts.length") == SCRIPTS
    assert page.problems() == []
    context.close()


def test_no_run_text_reaches_a_vega_expression(
    browser: Any, long_url: str, long_run: tuple[dict[str, Any], list[Any]]
) -> None:
    """Vega-Lite compiles some settings into expressions; the run's text stays out of them
    (only in data rows and scale domains, which Vega reads as values)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = Page(context.new_page()).open(long_url)
    run_text = [INJECTED_AGENT, INJECTED_TEST, "reading_comprehension", *AGENT_NAMES["qwen-7b"]]
    for chart in chart_specs(long_run[0], in_memory(long_run[1])[0]):
        compiled = page.page.evaluate("spec => vegaLite.compile(spec).spec", chart["spec"])
        for path, text in strings(compiled):
            if any(t in text for t in run_text):
                assert {"values", "domain"} & set(path), (chart["id"], path, text)
    context.close()


@pytest.fixture(scope="module")
def bare_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A page of only the charts interface the viewer uses: chart_css(), vendor_scripts() and
    llmbenchCharts(container, chart_specs(...)), under the same kind of policy."""
    charts = json.dumps(chart_specs(make_summary(), in_memory(make_records())[0]))
    call = (
        "window.llmbenchCharts(document.getElementById('c'), JSON.parse("
        "document.getElementById('charts').textContent)).then((figures) => "
        "document.body.setAttribute('data-charts', figures.length));"
    )
    scripts = [*vendor_scripts(), call]
    policy = (
        f"default-src 'none'; style-src {csp_hash(chart_css())}; "
        f"script-src {' '.join(map(csp_hash, scripts))}"
    )
    page = "".join(
        [
            f'<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" '
            f'content="{policy}"><style>{chart_css()}</style></head><body><div id="c"></div>',
            '<script type="application/json" id="charts">',
            charts.replace("<", "\\u003c"),
            "</script>",
            *(f"<script>{s}</script>" for s in scripts),
            "</body></html>",
        ]
    )
    path = tmp_path_factory.mktemp("bare") / "charts.html"
    path.write_text(page, encoding="utf-8")
    return path.as_uri()


def test_the_charts_interface_draws_on_a_page_of_its_own(browser: Any, bare_url: str) -> None:
    context = browser.new_context(viewport={"width": 1000, "height": 800})
    page = Page(context.new_page())
    page.page.goto(bare_url)
    page.page.wait_for_selector("body[data-charts='6']", state="attached", timeout=30_000)
    charts = chart_layout(page)
    assert [c["state"] for c in charts.values()] == ["rendered"] * 6
    assert all(c["outside"] == [] and c["marks"] > 0 for c in charts.values())
    assert page.problems() == []
    context.close()
