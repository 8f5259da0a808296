"""``llmbench view``'s server and API, against a real server on a free port: the runs list, a
run's sections and records (paged, filtered, sorted), a record in full, the files an agent
wrote, the comparison, server-sent events, the headers, path traversal, and that it only reads.

The results directory is tests/view_support.py's (three runs written by hand); every expected
value below is read off its records.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from llmbench.view.index import RecordFilter, RunIndex
from tests.test_report_tools import FIB_CODE, INJECTED_CODE
from tests.test_reports import INJECTION
from tests.view_support import (
    HOSTILE_FILE,
    HOSTILE_TEXT,
    LIVE_RUN,
    NOTES,
    REPORT_RUN,
    TOOLS_RUN,
    ViewerServer,
    live_line,
    manifest,
    write_lines,
    write_results,
)

REPO = Path(__file__).resolve().parent.parent
DAMAGED_RUN = "20251231T000000Z-damaged"
LINKED_RUN = "20991231T000000Z-linked"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("view")
    root = write_results(base / "results", base / "outside")
    damaged = root / DAMAGED_RUN
    damaged.mkdir()
    (damaged / "manifest.json").write_text('{"status": 3}', encoding="utf-8")
    # a run directory that is a symlink to one outside the results directory
    elsewhere = base / "outside" / "run"
    elsewhere.mkdir()
    (elsewhere / "manifest.json").write_text(json.dumps({"status": "completed"}))
    (root / LINKED_RUN).symlink_to(elsewhere, target_is_directory=True)
    return root


@pytest.fixture(scope="module")
def server(results: Path) -> Iterator[ViewerServer]:
    with ViewerServer(results) as running:
        yield running


class Reply:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> Any:
        return json.loads(self.body)


def get(server: ViewerServer, path: str, headers: dict[str, str] | None = None) -> Reply:
    """GET ``path`` exactly as written (no normalising, no re-encoding)."""
    where = urlsplit(server.url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=10)
    try:
        connection.putrequest("GET", path, skip_host=headers is not None and "Host" in headers)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        found = {k.lower(): v for k, v in response.getheaders()}
        return Reply(response.status, found, response.read())
    finally:
        connection.close()


def api(server: ViewerServer, path: str) -> Any:
    reply = get(server, path)
    assert reply.status == 200, reply.body
    return reply.json()


def run_url(run_id: str, rest: str = "") -> str:
    return f"/api/runs/{quote(run_id, safe='')}{rest}"


# the runs list


def test_runs_are_listed_newest_first_with_their_status(server: ViewerServer) -> None:
    runs = api(server, "/api/runs")["runs"]
    # by start time: the live run started a few seconds ago; the damaged one has no time
    assert [(r["id"], r["status"]) for r in runs] == [
        (LIVE_RUN, "running"),
        (REPORT_RUN, "completed"),
        (TOOLS_RUN, "completed"),
        (DAMAGED_RUN, "damaged"),
    ]


def test_a_run_line_has_agents_tests_scores_and_counts(server: ViewerServer) -> None:
    live, report, tools = api(server, "/api/runs")["runs"][:3]
    assert report["agents"] == ["qwen-7b", "llama-8b", "phi-3"]
    assert (report["tests"], report["repeats"], report["planned"]) == (5, 2, 30)
    # the summary's figures (tests/test_reports.py make_summary)
    assert report["scores"] == {"qwen-7b": 0.88, "llama-8b": 0.67, "phi-3": 0.38}
    assert report["started_at"] == "2026-01-03T00:00:00+00:00"
    assert tools["scores"] == {"coder": 0.75, "texter": 1.0} and tools["has_report"]
    # the live run: no summary yet, its 4 journal lines counted
    assert (live["done"], live["planned"], live["scores"]) == (4, 10, {})


def test_a_damaged_manifest_is_listed_with_the_file_and_the_field(
    server: ViewerServer, results: Path
) -> None:
    damaged = api(server, "/api/runs")["runs"][3]
    assert damaged["problem"] == (
        f"{results / DAMAGED_RUN / 'manifest.json'}: status: Input should be a valid string (got 3)"
    )


def test_a_symlinked_run_leading_out_of_the_results_is_neither_listed_nor_served(
    server: ViewerServer,
) -> None:
    assert LINKED_RUN not in [r["id"] for r in api(server, "/api/runs")["runs"]]
    assert get(server, run_url(LINKED_RUN)).status == 404
    assert get(server, f"/runs/{LINKED_RUN}").status == 404


# one run


def test_the_run_page_data_has_the_reports_tables(server: ViewerServer) -> None:
    data = api(server, run_url(REPORT_RUN))
    leaderboard = data["sections"][0]
    assert leaderboard["title"] == "Leaderboard"
    rows = leaderboard["tables"][0]["rows"]
    assert [row[:2] for row in rows] == [["1", "qwen-7b"], ["2", "llama-8b"], ["3", "phi-3"]]
    assert rows[0][3] == "0.88 [0.62, 1.00]"
    assert (
        leaderboard["lines"][0] == "qwen-7b > phi-3 by 0.50 [0.13, 0.88], McNemar p = 0.07, n = 8"
    )
    assert [s["title"] for s in data["sections"]] == ["Leaderboard", "Repeats"]
    assert data["records_total"] == 25
    assert data["categories"] == ["arithmetic", "dialogue", "reasoning"]


def test_the_tools_run_has_its_tools_section_with_the_loud_warning(server: ViewerServer) -> None:
    sections = {s["title"]: s for s in api(server, run_url(TOOLS_RUN))["sections"]}
    tools = sections["Tools"]
    assert tools["warning"].startswith("WARNING: code ran with isolation = process")
    assert [row[0] for row in tools["tables"][0]["rows"]] == ["texter", "coder"]


def test_records_come_a_page_at_a_time_in_the_order_they_arrived(server: ViewerServer) -> None:
    page = api(server, run_url(REPORT_RUN, "/records?offset=20&limit=3"))
    assert (page["total"], page["offset"]) == (25, 20)
    assert [(r["position"], r["agent_id"], r["test_id"], r["repeat"]) for r in page["records"]] == [
        (20, "phi-3", "logic_01", 0),
        (21, "phi-3", "logic_01", 1),
        (22, "phi-3", "chat_01", 0),
    ]
    assert page["records"][2]["scoring"] == {"score": 0.5, "passed": False, "error": None}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("agent=phi-3", 8),
        ("agent=phi-3&agent=qwen-7b", 17),
        ("category=dialogue", 6),
        ("status=failed", 11),  # qwen 1, llama 4, phi 6
        ("status=error", 1),
        ("status=passed", 14),
        ("agent=llama-8b&status=failed&category=reasoning", 1),
        ("text=__PWNED", 2),  # an answer, and the record whose test id is the injection
        ("text=see+you", 6),  # inside the dialogue answers, across a line break's escape
        ("test=arith_01", 6),
    ],
)
def test_records_filter(server: ViewerServer, query: str, expected: int) -> None:
    page = api(server, run_url(REPORT_RUN, f"/records?{query}&limit=500"))
    assert page["total"] == expected == len(page["records"])


def test_sorting_by_score_puts_the_unscored_last_both_ways(server: ViewerServer) -> None:
    def scores(query: str) -> list[float | None]:
        page = api(server, run_url(REPORT_RUN, f"/records?sort=score{query}&limit=500"))
        return [(r["scoring"] or {}).get("score") for r in page["records"]]

    assert scores("") == [0.0] * 8 + [0.5] + [1.0] * 14 + [None] * 2
    assert scores("&desc=1") == [1.0] * 14 + [0.5] + [0.0] * 8 + [None] * 2


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "status=bogus",
            "status: expected one of ok, error, cancelled, failed, passed, got 'bogus'",
        ),
        (
            "sort=prompt",
            "sort: expected one of agent_id, test_id, category, repeat, status, score, passed, latency, got 'prompt'",
        ),
        ("limit=0", "limit: expected a number from 1 to 500, got 0"),
        ("offset=ten", "offset: expected a whole number, got 'ten'"),
    ],
)
def test_a_bad_query_is_a_400_that_says_what_to_give(
    server: ViewerServer, query: str, message: str
) -> None:
    reply = get(server, run_url(REPORT_RUN, f"/records?{query}"))
    assert reply.status == 400
    assert reply.json() == {"error": message}


def test_a_record_in_full_has_its_prompt_scorers_and_transcript(server: ViewerServer) -> None:
    record = api(server, run_url(REPORT_RUN, "/records/7"))  # qwen-7b chat_01 repeat 1
    assert (record["agent_id"], record["test_id"], record["repeat"]) == ("qwen-7b", "chat_01", 1)
    assert record["prompt"] == "Book a table for two at 7pm."  # from the run's suite
    assert (
        record["scoring"]["scores"][0]["reason"]
        == "expected None, found Booked for 19:00.\nSee you!"
    )
    assert [t["source"] for t in record["transcript"]] == [
        "scripted",
        "agent",
        "supervisor",
        "agent",
    ]
    assert "api_response" not in record


def test_a_record_whose_test_left_the_suite_says_why_it_has_no_prompt(
    server: ViewerServer,
) -> None:
    record = api(server, run_url(REPORT_RUN, "/records/24"))
    assert record["test_id"] == INJECTION and record["response_text"] == INJECTION
    assert (record["prompt"], record["prompt_note"]) == (
        None,
        "the test is no longer in the run's suite",
    )


def test_a_tool_record_lists_the_files_its_agent_left_and_no_symlink(
    server: ViewerServer,
) -> None:
    record = api(server, run_url(TOOLS_RUN, "/records/0"))  # coder / fib
    assert [c.get("code") for c in record["transcript"] if c["role"] == "tool"] == [
        FIB_CODE,
        "print(fib(40)",
        INJECTED_CODE,
    ]
    assert record["files"] == [
        {"name": HOSTILE_FILE, "size": len(HOSTILE_TEXT)},
        {"name": "fib.py", "size": 17},
        {"name": "out/notes.txt", "size": len(NOTES)},
    ]
    assert record["files_total"] == 3
    # no suite to read (the manifest names no base config): the transcript gives the prompt
    assert (record["prompt"], record["prompt_note"]) == ("What is the 40th Fibonacci number?", None)


def test_a_record_without_a_suite_or_an_opening_says_why_it_has_no_prompt(
    server: ViewerServer,
) -> None:
    record = api(server, run_url(TOOLS_RUN, "/records/2"))  # coder / chat: scripted turns
    assert record["prompt"] is None
    assert record["prompt_note"] == (
        "the manifest names no base config file (a run started from an object)"
    )


def test_an_unknown_record_is_a_404(server: ViewerServer) -> None:
    for n in ("25", "-1", "x", "1e3"):
        assert get(server, run_url(REPORT_RUN, f"/records/{n}")).status == 404


# the files an agent wrote


def _file(server: ViewerServer, name: str, query: str = "") -> Reply:
    return get(server, run_url(TOOLS_RUN, f"/files/0/{name}{query}"))


def test_a_text_file_is_served_as_plain_text_inline(server: ViewerServer) -> None:
    reply = _file(server, "out/notes.txt")
    assert reply.status == 200 and reply.body == NOTES.encode()
    assert reply.headers["content-type"] == "text/plain; charset=utf-8"
    assert reply.headers["content-disposition"] == "inline; filename*=UTF-8''notes.txt"
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["content-security-policy"] == "default-src 'none'; sandbox"


def test_a_file_named_like_markup_is_plain_text_never_html(server: ViewerServer) -> None:
    reply = _file(server, quote(HOSTILE_FILE), "?download=1")
    assert reply.status == 200 and reply.body == HOSTILE_TEXT.encode()
    assert reply.headers["content-type"] == "text/plain; charset=utf-8"
    assert reply.headers["content-disposition"] == (
        f"attachment; filename*=UTF-8''{quote(HOSTILE_FILE)}"
    )


@pytest.mark.parametrize(
    "name",
    [
        "escape.txt",  # a symlink to a file outside the run
        "linked/secret.txt",  # through a symlinked folder
        "..%2F..%2F..%2Fmanifest.json",
        "%2e%2e/%2e%2e/%2e%2e/manifest.json",
        "..%5c..%5cmanifest.json",
        "%2Fetc%2Fpasswd",
        "/etc/passwd",
        "out/../../../../manifest.json",
        "fib.py%00.txt",
        ".",
        "out",
        ".llmbench-cut.json",
    ],
)
def test_a_file_outside_the_record_is_never_served(server: ViewerServer, name: str) -> None:
    reply = _file(server, name)
    assert reply.status == 404
    assert b"outside the run" not in reply.body and b"selection" not in reply.body


@pytest.mark.parametrize(
    "path",
    [
        "/api/runs/..",
        "/api/runs/%2e%2e",
        "/api/runs/%2E%2E/records",
        "/api/runs/..%2f..%2fetc",
        "/api/runs/%2Fetc%2Fpasswd",
        "/api/runs/.%2e%2foutside",
        "/api/runs/%2e",
        "/runs/%2e%2e",
        "/runs/..%2Foutside%2Frun",
        "/assets/..%2fapp.py",
        "/assets/%2e%2e%2f__init__.py",
        "/assets/../app.py",
        "/api/compare?c=..%2Foutside/x",
        "/api/compare?c=%2Fetc/x",
    ],
)
def test_path_traversal_reaches_nothing(server: ViewerServer, path: str) -> None:
    reply = get(server, path)
    assert reply.status in (400, 404), (path, reply.status)
    assert b"outside the run" not in reply.body and b"import " not in reply.body


# headers, hosts and read-only


@pytest.mark.parametrize(
    "path", ["/", f"/runs/{REPORT_RUN}", "/compare", "/api/runs", "/assets/run.js", "/nowhere"]
)
def test_every_response_has_a_strict_policy(server: ViewerServer, path: str) -> None:
    policy = get(server, path).headers["content-security-policy"]
    assert "script-src 'self';" in policy and "connect-src 'self';" in policy
    assert "default-src 'none'" in policy
    assert "unsafe" not in policy  # no inline script, no eval
    assert get(server, path).headers["x-content-type-options"] == "nosniff"


def test_a_request_for_another_host_is_refused(server: ViewerServer) -> None:
    port = urlsplit(server.url).port
    assert get(server, "/api/runs", {"Host": f"evil.example:{port}"}).status == 421
    assert get(server, "/api/runs", {"Host": f"localhost:{port}"}).status == 200


def _snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    found = {}
    for top, dirs, names in os.walk(root):
        for name in [*names, *dirs]:
            path = Path(top) / name
            st = path.lstat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
            found[str(path.relative_to(root))] = (st.st_size, st.st_mtime_ns, digest)
    return found


def test_the_viewer_changes_nothing_in_the_results(server: ViewerServer, results: Path) -> None:
    before = _snapshot(results)
    for path in (
        "/api/runs",
        run_url(REPORT_RUN),
        run_url(REPORT_RUN, "/records?text=x&sort=score"),
        run_url(REPORT_RUN, "/records/3"),
        run_url(TOOLS_RUN, "/records/0"),
        run_url(TOOLS_RUN, "/files/0/fib.py"),
        run_url(TOOLS_RUN, "/charts"),
        run_url(LIVE_RUN),
        f"/api/compare?c={REPORT_RUN}/qwen-7b&c={REPORT_RUN}/phi-3",
    ):
        assert get(server, path).status == 200, path
    assert _snapshot(results) == before


# charts


def test_a_scored_run_has_the_reports_charts(server: ViewerServer) -> None:
    specs = api(server, run_url(REPORT_RUN, "/charts"))
    ids = [c["id"] for c in specs]
    assert "categories" in ids and "latency" in ids and "quality-speed" in ids
    for chart in specs:
        assert chart["title"] and isinstance(chart["spec"], dict)
        assert "$schema" in chart["spec"] and "data" in json.dumps(chart["spec"])


def test_a_run_not_scored_yet_has_no_charts(server: ViewerServer) -> None:
    assert api(server, run_url(LIVE_RUN, "/charts")) == []


def test_the_chart_scripts_are_served_from_the_package(server: ViewerServer) -> None:
    scripts = get(server, "/assets/charts.js")
    assert scripts.status == 200 and "javascript" in scripts.headers["content-type"]
    text = scripts.body.decode("utf-8")
    assert "vegaEmbed" in text and "llmbenchCharts" in text  # the libraries, then charts.js
    assert get(server, "/assets/charts.css").status == 200


# comparison


def test_a_comparison_pairs_two_agents_as_the_summary_does(server: ViewerServer) -> None:
    data = api(server, f"/api/compare?c={REPORT_RUN}/qwen-7b&c={REPORT_RUN}/phi-3")
    assert data["total"] == 9  # 4 tests x 2 repeats, and the injected one only qwen has
    first = data["rows"][0]
    assert (first["test_id"], first["repeat"]) == ("arith_01", 0)
    assert [c["score"] for c in data["rows"][1]["cells"]] == [1.0, 0.0]
    assert data["rows"][8]["cells"][1] is None
    (pair,) = data["paired"]
    # qwen 7 of 8 pass (mean 0.875); phi 1, 0, 0, 0, 0, 0, 0.5, 1 (mean 0.3125)
    assert pair["n_pairs"] == 8
    assert pair["mean_a"] == pytest.approx(0.875) and pair["mean_b"] == pytest.approx(0.3125)
    assert pair["mean_diff"] == pytest.approx(0.5625)
    # qwen passes where phi does not: arith_01 r1, arith_02 r0, logic r0, logic r1, chat r0
    assert pair["mcnemar"] == {"a_only": 5, "b_only": 0, "p_value": pytest.approx(0.0625)}
    # phi's 0.5 makes the scores more than pass/fail: the interval alone decides, as in the
    # summary's comparisons
    assert pair["diff_ci"][0] > 0 and pair["significant"] is True


def test_a_comparison_can_show_only_the_rows_that_differ(server: ViewerServer) -> None:
    data = api(server, f"/api/compare?c={REPORT_RUN}/qwen-7b&c={REPORT_RUN}/phi-3&differ=1")
    assert data["total"] == 6  # the 5 discordant pairs, and the row phi has no result for


def test_a_comparison_across_runs_names_each_column(server: ViewerServer) -> None:
    data = api(server, f"/api/compare?c={TOOLS_RUN}/coder&c={REPORT_RUN}/qwen-7b")
    assert data["columns"] == [
        {"run_id": TOOLS_RUN, "agent_id": "coder"},
        {"run_id": REPORT_RUN, "agent_id": "qwen-7b"},
    ]
    assert data["paired"][0]["n_pairs"] == 0  # no test in common


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("", 400, "c: give at least one column, c=RUN/AGENT"),
        ("?c=nothing", 400, "c: expected RUN/AGENT, got 'nothing'"),
        ("?c=20000101T000000Z-none/a", 404, "no run '20000101T000000Z-none' in "),
    ],
)
def test_a_bad_comparison_says_what_is_wrong(
    server: ViewerServer, query: str, status: int, message: str
) -> None:
    reply = get(server, f"/api/compare{query}")
    assert reply.status == status
    assert reply.json()["error"].startswith(message)


# live


def _events(server: ViewerServer, path: str) -> Iterator[tuple[str, Any]]:
    """``(event, data)`` of a server-sent event stream, as they come."""
    where = urlsplit(server.url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=10)
    connection.request("GET", path)
    response = connection.getresponse()
    assert response.status == 200
    assert response.getheader("Content-Type") == "text/event-stream"
    kind, data = "message", ""
    try:
        while True:
            line = response.readline().decode()
            if not line:
                return
            line = line.rstrip("\n")
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif not line and data:
                yield kind, json.loads(data)
                kind, data = "message", ""
    finally:
        connection.close()


def test_the_event_stream_sends_what_is_appended_to_the_journal(
    server: ViewerServer, results: Path
) -> None:
    start = api(server, run_url(LIVE_RUN))
    assert start["progress"]["agents"][0]["done"] == 3
    stream = _events(server, run_url(LIVE_RUN, f"/events?offset={start['journal_end']}"))
    kind, first = next(stream)
    assert kind == "progress" and first["total"] == {
        "done": 4, "total": 10, "errors": 0, "eta_s": first["total"]["eta_s"],
        "in_flight": first["total"]["in_flight"],
    }  # fmt: skip
    write_lines(results / LIVE_RUN / "results.jsonl", [live_line("slow", "t2", datetime.now(UTC))])
    deadline = time.monotonic() + 5
    kind, data = next(stream)
    while kind != "records":
        assert time.monotonic() < deadline, "no records event"
        kind, data = next(stream)
    assert [(r["agent_id"], r["test_id"]) for r in data["rows"]] == [("slow", "t2")]
    assert data["total"] == 5 and data["journal_end"] > start["journal_end"]
    kind, after = next(stream)
    assert kind == "progress"
    assert [(a["agent_id"], a["done"], a["total"]) for a in after["agents"]] == [
        ("fast", 3, 5),
        ("slow", 2, 5),
    ]


# the big run


def _write_big_run(root: Path, agents: int, tests: int) -> str:
    run_id = "20260201T000000Z-big"
    path = root / run_id
    path.mkdir(parents=True)
    ids = [f"test-{n:06d}" for n in range(tests)]
    names = [f"agent-{a}" for a in range(agents)]
    now = datetime(2026, 2, 1, tzinfo=UTC)
    (path / "manifest.json").write_text(
        json.dumps(manifest(run_id, "completed", names, ids, 1, now)), encoding="utf-8"
    )
    with (
        open(path / "results.jsonl", "w", encoding="utf-8") as journal,
        open(path / "scores.jsonl", "w", encoding="utf-8") as scores,
    ):
        for agent in names:
            for n, test_id in enumerate(ids):
                line = live_line(agent, test_id, now + timedelta(seconds=n))
                journal.write(json.dumps(line) + "\n")
                scoring = {
                    "score": float(n % 2),
                    "passed": bool(n % 2),
                    "error": None,
                    "scores": [],
                }
                scores.write(
                    json.dumps(
                        {"agent_id": agent, "test_id": test_id, "repeat": 0, "scoring": scoring}
                    )
                    + "\n"
                )
    return run_id


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("big")
    return root, _write_big_run(root, 2, 50_000)


def _timed(server: ViewerServer, path: str) -> tuple[float, Any]:
    started = time.perf_counter()
    data = api(server, path)
    return time.perf_counter() - started, data


def test_a_run_of_100000_results_answers_each_page_fast(big: tuple[Path, str]) -> None:
    root, run_id = big
    with ViewerServer(root) as server:
        seconds, runs = _timed(server, "/api/runs")
        assert seconds < 2 and runs["runs"][0]["planned"] == 100_000
        seconds, first = _timed(server, run_url(run_id, "/records?limit=50"))
        assert seconds < 2 and first["total"] == 100_000 and len(first["records"]) == 50
        seconds, late = _timed(server, run_url(run_id, "/records?offset=99000&limit=50"))
        assert seconds < 2
        assert late["records"][0] == {
            "position": 99000, "agent_id": "agent-1", "test_id": "test-049000", "repeat": 0,
            "category": "general", "status": "ok", "execution_time": 2.0,
            "scoring": {"score": 0.0, "passed": False, "error": None}, "scored": True,
        }  # fmt: skip
        seconds, failed = _timed(server, run_url(run_id, "/records?status=failed&offset=49000"))
        assert seconds < 2 and failed["total"] == 50_000
        seconds, record = _timed(server, run_url(run_id, "/records/99999"))
        assert seconds < 2 and record["test_id"] == "test-049999"


def test_a_page_is_cut_from_the_index_without_reading_a_record(big: tuple[Path, str]) -> None:
    root, run_id = big
    index = RunIndex(root / run_id)
    index.refresh()
    assert len(index) == 100_000 and index.lines_read == 0
    page = index.select(RecordFilter(status="passed", sort="latency"))
    rows = [index.row(i) for i in page[49_000:49_050]]
    assert len(rows) == 50 and index.lines_read == 0  # filters, sorting and rows: no reading
    assert index.entry(99_999) is not None and index.lines_read == 1
    # what it holds per result: typed arrays and the key, never the line
    assert all(type(getattr(index, a)).__name__ == "array" for a in ("_line_at", "_score"))


def test_an_index_reads_only_what_was_appended(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    write_lines(run / "results.jsonl", [live_line("a", "t1", now)])
    index = RunIndex(run)
    assert index.refresh() and len(index) == 1
    end = index.journal_end
    with open(run / "results.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(live_line("a", "t2", now)) + "\n" + '{"agent_id": "a", "te')
    assert index.refresh() and len(index) == 2  # the half-written line waits
    assert index.changed_since(end) == [1]
    with open(run / "results.jsonl", "a", encoding="utf-8") as fh:
        fh.write('st_id": "t1", "repeat": 0, "status": "error", "execution_time": 1}\n')
    assert index.refresh() and len(index) == 2  # t1 again: it supersedes the first line
    assert index.status_of(0) == "error" and index.changed_since(end) == [1, 0]
    assert not index.refresh()


# the command line


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _view(*args: str, cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.Popen(
        [sys.executable, "-m", "llmbench.cli.main", "view", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_the_command_says_where_it_serves_and_stops_on_ctrl_c(results: Path) -> None:
    process = _view(str(results), "--no-open", cwd=results.parent)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith(f"llmbench view: serving {results} on http://127.0.0.1:")
        assert line.endswith(" (local only; Ctrl-C to stop)\n")
        url = line.split(" on ", 1)[1].split(" ", 1)[0]
        c = http.client.HTTPConnection(urlsplit(url).hostname, urlsplit(url).port, timeout=10)
        c.request("GET", "/api/runs")
        assert c.getresponse().status == 200
        c.close()
        process.send_signal(2)  # Ctrl-C
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert out == "llmbench view: stopped\n" and "Traceback" not in err


def test_a_missing_directory_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    process = _view("no-such-results", "--no-open", cwd=tmp_path)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 2
    assert err == (
        "error: no-such-results: no such directory; give the results directory of your runs "
        "(llmbench view RESULTS_DIR)\n"
    )


def test_a_port_in_use_is_one_line_and_exit_code_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = _view(".", "--no-open", "--port", str(port), cwd=tmp_path)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 1
    assert err == (
        f"error: cannot listen on 127.0.0.1:{port}: the port is in use; choose another "
        "--port, or leave it out for a free one\n"
    )


def test_another_host_is_served_with_a_warning(tmp_path: Path) -> None:
    port = _free_port()
    process = _view(".", "--no-open", "--host", "0.0.0.0", "--port", str(port), cwd=tmp_path)
    try:
        assert process.stdout is not None and process.stderr is not None
        line = process.stdout.readline()
        assert line == (
            f"llmbench view: serving {tmp_path} on http://0.0.0.0:{port}/ (OPEN TO THE "
            "NETWORK; Ctrl-C to stop)\n"
        )
        assert process.stderr.readline().startswith("warning: --host 0.0.0.0 exposes every result")
        process.terminate()
        process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "70000"], "argument --port: expected a port from 1 to 65535, got 70000"),
        (["--port", "-1"], "argument --port: expected a number >= 0, got -1"),
        (  # TEST-NET-3: never an address of this machine
            ["--host", "203.0.113.7"],
            "error: cannot listen on 203.0.113.7:0: Cannot assign requested address; give "
            "--host an address of this machine",
        ),
    ],
)
def test_a_bad_port_or_host_is_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    process = _view(".", "--no-open", *args, cwd=tmp_path)
    _, err = process.communicate(timeout=30)
    assert process.returncode in (1, 2) and "Traceback" not in err
    assert message in err.strip().splitlines()[-1]  # argparse's usage comes first
