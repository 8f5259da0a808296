"""What the summary and the reports say about agents that act: code calls, how tests ended,
the sandbox they ran in, and the helpers' tokens.

A synthetic run directory (journal lines written directly, no network, no sandbox) of two agents
over four tests, finished with :func:`~llmbench.runs.finish.finish`:

    test   kind          coder (function protocol)             texter (text protocol)
    fib    tools         3 calls, 1 raised; answered; pass      1 call; answered; pass
    csv    tools         8 calls, 2 raised, 1 timed out,        sandbox_error (error result),
                         1 restart; tool_limit; fail            0 calls, 2 restarts
    chat   interactive   3 turns, max_turns; pass;              2 turns, instructor_done; pass;
                         instructor 120 + supervisor 30 tokens  instructor 80 tokens
    plain  single        answered; pass                         answered; pass

Only coder's protocol comes from preflight (with its reason); texter's is the one its results
name. Every expected figure below is worked out from this table.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from llmbench.config.base_config import HelperSection
from llmbench.report.markdown import render_markdown
from llmbench.report.terminal import PROCESS_WARNING, print_report
from llmbench.result import TestResult
from llmbench.runs.finish import AgentInfo, finish
from llmbench.runs.stored import previous_summary, recorded_protocols
from llmbench.scoring.analysis import analyse
from llmbench.scoring.scored import ScoredResult
from llmbench.store.run_dir import JOURNAL, JournalEntry, RunDirectory
from llmbench.suite.models import TestCase

INJECTED_CODE = 'print("</script><script>window.__pwned = 3</script>")'
INJECTED_OUTPUT = (
    '</script><script>window.__pwned = 4</script><img src=x onerror="window.__pwned = 5">'
)
FIB_CODE = (
    "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a"
)
REASON = "auto: the endpoint answered a tools request with tool_calls"
PROCESS = {
    "isolation": "process",
    "call_timeout_s": 60,
    "max_parallel": 2,
    "python": "/usr/bin/python3",
}
BWRAP = {**PROCESS, "isolation": "bwrap"}

TESTS = [
    TestCase.model_validate(
        {"id": t, "name": f"Test {t}", "category": c, "prompt": p, "expected": e}
    )
    for t, c, p, e in (
        ("fib", "code", "What is the 40th Fibonacci number?", "102334155"),
        ("csv", "code", "How many rows of /data/sales.csv have region = north?", "7"),
        ("chat", "dialogue", "Book a table for two.", "Booked."),
        ("plain", "facts", "What is the capital of France?", "Paris"),
    )
]
PROMPTS = {t.id: t.prompt for t in TESTS}


def _tool(turn: int, call_id: str | None, code: str, output: str, **marks: Any) -> dict[str, Any]:
    return {
        "role": "tool",
        "source": "sandbox",
        "turn": turn,
        "call_id": call_id,
        "code": code,
        "content": output,
        "duration_s": marks.pop("duration_s", 0.02),
        "raised": marks.pop("raised", False),
        "timed_out": marks.pop("timed_out", False),
        "restarted": marks.pop("restarted", False),
        "error": marks.pop("error", None),
    }


def _user(test_id: str) -> dict[str, Any]:
    return {"role": "user", "content": PROMPTS[test_id], "source": "test", "turn": 1}


def _agent(content: str, *calls: tuple[str | None, str], turn: int = 1) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "role": "assistant",
        "content": content,
        "source": "agent",
        "turn": turn,
    }
    if calls:
        entry["tool_calls"] = [{"id": i, "code": code} for i, code in calls]
    return entry


FIB_TRANSCRIPT = [
    _user("fib"),
    _agent("", ("call_1", FIB_CODE), ("call_2", "print(fib(40)")),
    _tool(1, "call_1", FIB_CODE, ""),
    _tool(
        1,
        "call_2",
        "print(fib(40)",
        "SyntaxError: '(' was never closed",
        raised=True,
        error="SyntaxError",
    ),
    _agent("", ("call_3", INJECTED_CODE)),
    _tool(1, "call_3", INJECTED_CODE, INJECTED_OUTPUT, duration_s=0.25),
    _agent("102334155"),
]
CSV_TRANSCRIPT = [
    _user("csv"),
    _agent("", ("call_1", "import time; time.sleep(999)")),
    _tool(
        1,
        "call_1",
        "import time; time.sleep(999)",
        "",
        timed_out=True,
        restarted=True,
        duration_s=60.0,
    ),
    {
        "role": "note",
        "source": "runner",
        "turn": 1,
        "content": "stopped: max_tool_calls=8 reached in turn 1",
    },
]
TEXT_TRANSCRIPT = [
    _user("fib"),
    _agent("```python\nprint(102334155)\n```", (None, "print(102334155)")),
    _tool(1, None, "print(102334155)", "102334155\n"),
    _agent("102334155"),
]
CHAT_TRANSCRIPT = [
    {"role": "user", "content": "Book a table for two.", "source": "scripted", "turn": 1},
    {"role": "assistant", "content": "Booked.", "source": "agent", "turn": 1},
]


def _result(test_id: str, answer: str, **fields: Any) -> TestResult:
    status = fields.pop("status", "ok")
    return TestResult(
        test_id=test_id,
        test_name=f"Test {test_id}",
        success=status == "ok",
        response_text=answer,
        execution_time=fields.pop("execution_time", 1.0),
        prompt_tokens=40,
        completion_tokens=10,
        category=next(t.category for t in TESTS if t.id == test_id),
        status=status,
        model="model",
        endpoint="http://127.0.0.1:9/v1",
        attempts=1,
        **fields,
    )


def entries() -> list[JournalEntry]:
    """The run of the module docstring, one journal entry per agent and test."""
    coder = [
        _result("fib", "102334155", end_reason="answered", turns=1, tool_protocol="function",
                tool_calls=3, code_errors=1),
        _result("csv", "12", end_reason="tool_limit", turns=1, tool_protocol="function",
                tool_calls=8, code_errors=2, code_timeouts=1, session_restarts=1),
        _result("chat", "Booked.", end_reason="max_turns", turns=3, instructor_tokens=120,
                supervisor_tokens=30),
        _result("plain", "Paris", end_reason="answered", turns=1),
    ]  # fmt: skip
    texter = [
        _result("fib", "102334155", end_reason="answered", turns=1, tool_protocol="text",
                tool_calls=1),
        _result("csv", "", status="error", error_kind="sandbox", end_reason="sandbox_error",
                error_message="sandbox: the session died twice", turns=1, tool_protocol="text",
                session_restarts=2),
        _result("chat", "Booked.", end_reason="instructor_done", turns=2, instructor_tokens=80),
        _result("plain", "Paris", end_reason="answered", turns=1),
    ]  # fmt: skip
    transcripts = {
        ("coder", "fib"): FIB_TRANSCRIPT,
        ("coder", "csv"): CSV_TRANSCRIPT,
        ("texter", "fib"): TEXT_TRANSCRIPT,
        ("texter", "csv"): [_user("csv")],
    }
    return [
        JournalEntry(
            agent_id,
            r.test_id,
            0,
            r,
            CHAT_TRANSCRIPT if r.test_id == "chat" else transcripts.get((agent_id, r.test_id)),
        )
        for agent_id, results in (("coder", coder), ("texter", texter))
        for r in results
    ]


AGENTS = [
    AgentInfo("coder", "model", "http://127.0.0.1:9/v1", None, "function", REASON),
    AgentInfo("texter", "model", "http://127.0.0.1:9/v1"),
]


def finished_run(
    tmp_path: Path,
    journal: list[JournalEntry],
    agents: list[AgentInfo] = AGENTS,
    sandbox: dict[str, Any] | None = PROCESS,
) -> tuple[RunDirectory, dict[str, Any]]:
    """A run directory holding ``journal``, finished (scored, summarised, reported)."""
    run = RunDirectory.create(tmp_path, "run")
    run.write_manifest({})
    (run.path / JOURNAL).write_text(
        "".join(e.to_json_line() + "\n" for e in journal), encoding="utf-8"
    )
    summary = finish(
        run,
        tests=TESTS,
        agents=agents,
        repeats=1,
        status="completed",
        judge_api=None,
        supervisor=HelperSection(),
        cache_dir=None,
        sandbox=sandbox,
    )
    return run, summary


def write_tool_run(tmp_path: Path) -> Path:
    """The run of the module docstring finished into ``tmp_path``; its directory (for the
    browser test)."""
    run, _ = finished_run(tmp_path, entries())
    return run.path


@pytest.fixture
def run(tmp_path: Path) -> tuple[RunDirectory, dict[str, Any]]:
    return finished_run(tmp_path, entries())


def _agent_block(summary: dict[str, Any], agent_id: str) -> dict[str, Any]:
    (block,) = [a for a in summary["agents"] if a["agent_id"] == agent_id]
    return block


def _terminal(summary: dict[str, Any]) -> str:
    console = Console(record=True, width=200)
    print_report(summary, console)
    return console.export_text()


# ---- summary.json ----


def test_summary_counts_the_code_calls_of_the_function_agent(
    run: tuple[RunDirectory, dict[str, Any]],
) -> None:
    directory, summary = run
    assert summary == json.loads((directory.path / "summary.json").read_text(encoding="utf-8"))
    coder = _agent_block(summary, "coder")
    assert coder["tools"] == {
        "tests": 2,
        "tool_calls": 11,
        "code_errors": 3,
        "code_timeouts": 1,
        "session_restarts": 1,
        "tool_calls_per_test": {"mean": 5.5, "max": 8},
        "end_reasons": {"answered": 1, "tool_limit": 1},
        "protocol": "function",
        "protocol_reason": REASON,
    }


def test_summary_takes_the_protocol_from_the_results_when_preflight_gave_none(
    run: tuple[RunDirectory, dict[str, Any]],
) -> None:
    texter = _agent_block(run[1], "texter")
    assert texter["tools"] == {
        "tests": 2,
        "tool_calls": 1,
        "code_errors": 0,
        "code_timeouts": 0,
        "session_restarts": 2,
        "tool_calls_per_test": {"mean": 0.5, "max": 1},
        "end_reasons": {"answered": 1, "sandbox_error": 1},
        "protocol": "text",
        "protocol_reason": None,
    }


def test_summary_counts_end_reasons_in_their_order_over_every_result(
    run: tuple[RunDirectory, dict[str, Any]],
) -> None:
    _, summary = run
    assert _agent_block(summary, "coder")["end_reasons"] == {
        "answered": 2,
        "max_turns": 1,
        "tool_limit": 1,
    }
    assert list(_agent_block(summary, "texter")["end_reasons"].items()) == [
        ("answered", 2),
        ("instructor_done", 1),
        ("sandbox_error", 1),
    ]


def test_summary_has_the_interactive_tests_and_the_helpers_tokens_apart(
    run: tuple[RunDirectory, dict[str, Any]],
) -> None:
    _, summary = run
    coder, texter = _agent_block(summary, "coder"), _agent_block(summary, "texter")
    assert coder["interactive"] == {
        "tests": 1,
        "turns_per_test": {"mean": 3.0, "max": 3},
        "end_reasons": {"max_turns": 1},
    }
    assert texter["interactive"]["end_reasons"] == {"instructor_done": 1}
    assert coder["helper_tokens"] == {"instructor": 120, "supervisor": 30}
    assert texter["helper_tokens"] == {"instructor": 80, "supervisor": 0}
    # the agent's own tokens: 4 results x (40 + 10), the helpers' not among them
    assert (coder["speed"]["prompt_tokens"], coder["speed"]["completion_tokens"]) == (160, 40)


def test_a_limit_is_scored_and_a_sandbox_error_is_an_error(
    run: tuple[RunDirectory, dict[str, Any]],
) -> None:
    _, summary = run
    coder, texter = _agent_block(summary, "coder"), _agent_block(summary, "texter")
    # coder: fib, chat, plain pass, csv (tool_limit) scored and failed
    assert (coder["quality"]["scored"], coder["quality"]["pass_rate"]) == (4, 0.75)
    assert (texter["quality"]["scored"], texter["quality"]["errors"]) == (3, 1)
    assert texter["speed"]["errors_by_kind"] == {"sandbox": 1}


def test_summary_names_the_sandbox_at_the_top(run: tuple[RunDirectory, dict[str, Any]]) -> None:
    assert run[1]["sandbox"] == PROCESS


# ---- terminal and report.md ----


def _table_rows(text: str, title: str) -> list[list[str]]:
    """The rows of the table titled ``title`` in ``text`` (printed as to a pipe: ``|`` between
    cells, a ``-+-`` rule under the header)."""
    lines = text.splitlines()
    start = next(n for n, line in enumerate(lines) if line.strip() == title)
    rule = next(n for n in range(start + 1, len(lines)) if set(lines[n].strip()) <= set("-+"))
    rows = []
    for line in lines[rule + 1 :]:
        if " | " not in line:
            break
        rows.append([c.strip() for c in line.split("|")])
    return rows


def test_terminal_shows_the_tools_table(run: tuple[RunDirectory, dict[str, Any]]) -> None:
    text = _terminal(run[1])
    # best mean score first, as in the leaderboard: texter 1.00, coder 0.75
    assert _table_rows(text, "Tools") == [
        ["texter", "text", "2", "1", "0", "0", "2", "0.5 / 1", "answered 1, sandbox_error 1"],
        ["coder", "function", "2", "11", "3", "1", "1", "5.5 / 8", "answered 1, tool_limit 1"],
    ]
    assert f"coder: tool protocol function ({REASON})" in text


def test_terminal_says_loudly_that_process_isolation_is_no_isolation(
    run: tuple[RunDirectory, dict[str, Any]],
) -> None:
    console = Console(record=True, width=200, force_terminal=True)
    print_report(run[1], console)
    assert f"\x1b[1;31mWARNING: {PROCESS_WARNING}" in console.export_text(styles=True)  # bold red


def test_terminal_names_a_real_isolation_plainly(tmp_path: Path) -> None:
    _, summary = finished_run(tmp_path, entries(), sandbox=BWRAP)
    text = _terminal(summary)
    assert (
        "code ran with isolation = bwrap (call timeout 60 s, at most 2 sessions at once, "
        "/usr/bin/python3)"
    ) in text
    assert "WARNING" not in text


def test_terminal_shows_end_reasons_and_helper_tokens_of_interactive_tests(
    run: tuple[RunDirectory, dict[str, Any]],
) -> None:
    assert _table_rows(_terminal(run[1]), "Conversations") == [
        ["texter", "1", "2.0 / 2", "instructor_done 1", "80", "0"],
        ["coder", "1", "3.0 / 3", "max_turns 1", "120", "30"],
    ]


def test_report_md_has_the_tools_section(run: tuple[RunDirectory, dict[str, Any]]) -> None:
    text = (run[0].path / "report.md").read_text(encoding="utf-8")
    assert f"**WARNING: {PROCESS_WARNING}**" in text
    assert "| coder | function | 2 | 11 | 3 | 1 | 1 | 5.5 / 8 | answered 1, tool_limit 1 |" in text
    assert "| texter | 1 | 2.0 / 2 | instructor_done 1 | 80 | 0 |" in text
    assert f"- coder: tool protocol function ({REASON})" in text
    # a failure stopped at a limit says so; the sandbox error gives its message
    assert "| csv | 0 | code | exact: expected '7', got '12' (stopped: tool_limit) |" in text
    assert "| csv | 0 | code | sandbox: the session died twice |" in text


def test_report_html_has_the_tools_table_and_the_warning_escaped(
    run: tuple[RunDirectory, dict[str, Any]],
) -> None:
    page = (run[0].path / "report.html").read_text(encoding="utf-8")
    assert '<table id="tools">' in page and '<table id="conversations">' in page
    assert f'<p class="warning" id="sandbox">WARNING: {PROCESS_WARNING}</p>' in page
    assert "<script>window.__pwned" not in page  # the data block escapes every "<"


# ---- a run without tools ----


def _plain_entries(**fields: Any) -> list[JournalEntry]:
    return [
        JournalEntry(agent, "plain", 0, _result("plain", "Paris", **fields))
        for agent in ("coder", "texter")
    ]


@pytest.mark.parametrize("fields", [{}, {"end_reason": "answered", "turns": 1}])
def test_a_plain_run_shows_nothing_new(tmp_path: Path, fields: dict[str, Any]) -> None:
    agents = [AgentInfo("coder", "model", "http://x"), AgentInfo("texter", "model", "http://x")]
    run, summary = finished_run(tmp_path, _plain_entries(**fields), agents, sandbox=None)
    assert summary["sandbox"] is None
    for agent in summary["agents"]:
        assert (agent["tools"], agent["interactive"], agent["helper_tokens"]) == (None, None, None)
        assert agent["end_reasons"] == ({"answered": 1} if fields else {})
    text = _terminal(summary)
    for word in ("Tools", "Conversations", "isolation", "protocol"):
        assert word not in text
    report = (run.path / "report.md").read_text(encoding="utf-8")
    page = (run.path / "report.html").read_text(encoding="utf-8")
    assert "## Tools" not in report and "## Conversations" not in report
    assert "<h2>Tools</h2>" not in page and "<h2>Conversations</h2>" not in page


# ---- older results ----


def test_an_old_journal_line_without_the_fields_loads_with_defaults(tmp_path: Path) -> None:
    old = {
        "agent_id": "coder",
        "test_id": "chat",
        "repeat": 0,
        "transcript": CHAT_TRANSCRIPT,
        "test_name": "Test chat",
        "success": True,
        "response_text": "Booked.",
        "execution_time": 1.0,
        "category": "dialogue",
        "status": "ok",
    }
    run = RunDirectory.create(tmp_path, "run")
    run.write_manifest({})
    (run.path / JOURNAL).write_text(json.dumps(old) + "\n", encoding="utf-8")
    summary = finish(
        run,
        tests=TESTS,
        agents=[AgentInfo("coder", "model", "http://x")],
        repeats=1,
        status="completed",
        judge_api=None,
        supervisor=HelperSection(),
        cache_dir=None,
    )
    (coder,) = summary["agents"]
    assert coder["end_reasons"] == {} and coder["tools"] is None
    assert coder["helper_tokens"] is None
    # an interactive test saved before turns were counted: no figures to show
    assert coder["interactive"] == {
        "tests": 1,
        "turns_per_test": {"mean": None, "max": None},
        "end_reasons": {},
    }
    assert "Conversations" not in _terminal(summary)


def test_an_old_scored_record_without_the_fields_loads_with_defaults() -> None:
    older = ScoredResult.from_record({"agent_id": "a", "test_id": "t"})
    assert (older.end_reason, older.turns, older.tool_protocol) == (None, None, None)
    assert (older.tool_calls, older.code_errors, older.code_timeouts) == (0, 0, 0)
    assert older.session_restarts == 0 and not older.interactive
    assert (older.instructor_tokens, older.supervisor_tokens) == (None, None)


def test_an_older_summary_without_the_blocks_renders() -> None:
    summary = analyse(
        [ScoredResult.from_record({"agent_id": "a", "test_id": "t", "scoring": None})],
        [{"agent_id": "a", "model": "m", "endpoint": "e", "planned": 1, "not_run": 0}],
        run_id="r",
        status="completed",
        repeats=1,
    )
    for key in ("end_reasons", "tools", "interactive", "helper_tokens"):
        del summary["agents"][0][key]
    del summary["sandbox"]
    assert "Tools" not in _terminal(summary)
    assert "## Tools" not in render_markdown(summary, [], lambda j: {})


# ---- the compact result ----


def test_a_single_test_with_tools_is_not_interactive_but_a_scripted_one_is() -> None:
    records = [
        {"agent_id": "a", "test_id": "t", "transcript": FIB_TRANSCRIPT},
        {"agent_id": "a", "test_id": "t", "transcript": CHAT_TRANSCRIPT},
        {"agent_id": "a", "test_id": "t", "transcript": None},
    ]
    assert [ScoredResult.from_record(r).interactive for r in records] == [False, True, False]


def test_compact_results_share_their_strings_and_stay_small() -> None:
    share: dict[str, str] = {}
    compact = [
        ScoredResult.of(e.key, e.result, None, share=share, transcript=e.transcript)
        for e in entries()
    ]
    texts = [r.end_reason for r in compact if r.end_reason == "answered"]
    assert len(texts) == 4 and all(t is texts[0] for t in texts)
    protocols = [r.tool_protocol for r in compact if r.tool_protocol == "function"]
    assert protocols[0] is protocols[1]
    # 34 slots (the submission verdict's is None outside data-analysis tasks) and the object
    # header: the counters are small cached ints, no dict per result
    assert not hasattr(compact[0], "__dict__")
    assert sys.getsizeof(compact[0]) <= 308


# ---- rebuilding the summary ----


def test_a_rebuild_keeps_the_protocols_and_the_sandbox(
    run: tuple[RunDirectory, dict[str, Any]],
) -> None:
    previous = previous_summary(run[0])
    assert recorded_protocols(previous) == {
        "coder": ("function", REASON),
        "texter": ("text", None),
    }
    assert previous["sandbox"] == PROCESS


def test_a_rebuild_without_a_summary_finds_nothing(tmp_path: Path) -> None:
    directory = RunDirectory.create(tmp_path, "run")
    assert previous_summary(directory) == {}
    assert recorded_protocols({}) == {}


def test_terminal_tables_fit_80_columns_with_agent_ids_whole(
    run: tuple[RunDirectory, dict[str, Any]],
) -> None:
    """The Tools and Conversations tables are laid out as the leaderboard is: within the width,
    cells on one line, the rightmost columns left out first (and named), agent ids whole."""
    console = Console(record=True, width=80)
    print_report(run[1], console)
    text = console.export_text()
    assert max(len(line.rstrip()) for line in text.splitlines()) <= 80
    tools = _table_rows(text, "Tools")
    assert [row[0] for row in tools] == ["texter", "coder"]
    assert tools[1][:3] == ["coder", "function", "2"]
    assert "Left out to fit 80 columns: End reasons" in text
    talks = _table_rows(text, "Conversations")
    assert [row[0] for row in talks] == ["texter", "coder"]
