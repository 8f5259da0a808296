"""``llmbench show``: a run's stored results as JSON, read from its journal and scores.

One real run (two agents x three tests x two repeats, runner.py in-process against the scripted
server) is made for the module; each test reads it (or a copy it changes) with ``main([...])``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from llmbench.cli.main import main
from llmbench.cli.run import main as runner_main
from tests.conftest import make_test
from tests.scripted_server import Echo, ScriptedServer, Status
from tests.test_runner_e2e import _agent, _base_config, _suite

AGENTS = ("alpha", "beta")
TESTS = ("q1", "q2", "q3")
REPEATS = 2
Key = tuple[str, str, int]


@pytest.fixture(scope="module")
def run_dir(
    _session_server: ScriptedServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """A finished run: q1 answered and scored (expected matches the echo), q2 an error (400)
    for every agent and repeat (so not scored), q3 answered with nothing to score."""
    server = _session_server
    server.reset()
    tmp = tmp_path_factory.mktemp("show")
    _suite(
        tmp,
        [
            make_test("q1", expected="question q1"),
            make_test("q2", expected="question q2"),
            make_test("q3"),
        ],
    )
    _base_config(tmp, server.url + "/v1", server.url + "/v1", extra=f"repeats = {REPEATS}")
    for agent_id in AGENTS:
        _agent(tmp, agent_id, server.url + "/v1")
    server.set_default(Echo())
    server.script(*[Status(400, "context length exceeded")] * 4, marker="question q2")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp)
        code = runner_main(["--base_config", "base_config.toml", "--agent_config", "agents"])
    server.reset()
    assert code == 1  # q2 failed
    (found,) = (tmp / "results").glob("*/manifest.json")
    yield found.parent


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _expected_record(run_dir: Path, key: Key) -> dict[str, Any]:
    """The record worked out from the files: the last journal line of the key, its question
    and reference answer, the last scores.jsonl line of the key."""
    (entry,) = [
        e
        for e in _lines(run_dir / "results.jsonl")
        if (e["agent_id"], e["test_id"], e["repeat"]) == key
    ][-1:]
    (scoring,) = [
        s["scoring"]
        for s in _lines(run_dir / "scores.jsonl")
        if (s["agent_id"], s["test_id"], s["repeat"]) == key
    ][-1:]
    return {
        **entry,
        "prompt": f"question {key[1]}",
        "expected": None if key[1] == "q3" else f"question {key[1]}",
        "scoring": scoring,
    }


def _show(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["show", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _keys(records: list[dict[str, Any]]) -> list[Key]:
    return [(r["agent_id"], r["test_id"], r["repeat"]) for r in records]


def test_one_result_is_one_pretty_object_with_prompt_expected_and_scoring(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _show(capsys, str(run_dir), "q1", "--agent", "alpha", "--repeat", "1")
    assert (code, err) == (0, "")
    assert out.startswith("{\n  ")  # indented
    shown = json.loads(out)
    expected = _expected_record(run_dir, ("alpha", "q1", 1))
    assert shown == expected
    journal_fields = [k for k in expected if k not in ("prompt", "expected", "scoring")]
    assert list(shown) == [*journal_fields, "prompt", "expected", "scoring"]
    assert "api_response" in shown and "transcript" in shown
    assert shown["response_text"] == "question q1"
    assert shown["scoring"]["passed"] is True and shown["scoring"]["score"] == 1.0


def test_without_a_selection_every_result_is_shown_as_an_array_in_run_order(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _show(capsys, str(run_dir))
    assert (code, err) == (0, "")
    shown = json.loads(out)
    # agent by agent, repeat by repeat, in suite order
    order = [(a, t, r) for a in AGENTS for r in range(REPEATS) for t in TESTS]
    assert _keys(shown) == order
    assert shown == [_expected_record(run_dir, key) for key in order]


def test_jsonl_prints_one_compact_object_a_line(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _show(capsys, str(run_dir), "--jsonl", "q3")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 4  # 2 agents x 2 repeats
    records = [json.loads(line) for line in lines]
    assert _keys(records) == [
        ("alpha", "q3", 0),
        ("alpha", "q3", 1),
        ("beta", "q3", 0),
        ("beta", "q3", 1),
    ]
    assert all(r["scoring"] is None and r["expected"] is None for r in records)  # nothing to score


@pytest.mark.parametrize(
    "selection",
    [
        ["q3", "q1", "--agent", "beta", "--repeat", "0"],
        ["q1,q3", "--agent", "beta", "--repeat", "0"],
        ["--agent", "beta", "q1", "--repeat", "0", "q3"],
        ["q1", "q3", "q1", "--agent", "beta,beta", "--repeat", "0"],
    ],
)
def test_test_ids_and_agents_may_be_listed_or_comma_separated(
    run_dir: Path, capsys: pytest.CaptureFixture[str], selection: list[str]
) -> None:
    code, out, _ = _show(capsys, str(run_dir), *selection)
    assert code == 0
    assert _keys(json.loads(out)) == [("beta", "q1", 0), ("beta", "q3", 0)]  # run order, once


def test_agent_is_repeatable(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _show(capsys, str(run_dir), "q1", "--agent", "beta", "--agent", "alpha")
    assert code == 0
    assert _keys(json.loads(out)) == [
        ("alpha", "q1", 0),
        ("alpha", "q1", 1),
        ("beta", "q1", 0),
        ("beta", "q1", 1),
    ]


def test_a_failed_request_shows_its_error_and_why_it_was_not_scored(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _show(capsys, str(run_dir), "q2", "--agent", "beta", "--repeat", "0")
    assert code == 0
    shown = json.loads(out)
    assert shown["status"] == "error"
    assert "400" in shown["error_message"] and "context length exceeded" in shown["error_message"]
    assert shown["scoring"]["error"] == "not scored: the request failed"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["q11"], "unknown test 'q11'; did you mean q1?; the tests of the run: q1, q2, q3"),
        (["q1", "nope"], "unknown test 'nope'; the tests of the run: q1, q2, q3"),
        (
            ["--agent", "alpah"],
            "unknown agent 'alpah'; did you mean alpha?; the agents of the run: alpha, beta",
        ),
        (
            ["--agent", "alpha,gamma"],
            "unknown agent 'gamma'; the agents of the run: alpha, beta",
        ),
        (["--repeat", "2"], "--repeat 2: the run has 2 repeat(s), numbered 0 to 1"),
    ],
)
def test_an_unknown_selection_is_one_line_naming_it_and_the_known_ones(
    run_dir: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = _show(capsys, str(run_dir), *args)
    assert (code, out) == (2, "")
    assert err == f"error: {run_dir}: {message}\n"


def test_a_directory_that_is_not_a_run_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _show(capsys, str(tmp_path))
    assert (code, out) == (2, "")
    assert err == f"error: {tmp_path}: not a run directory (no manifest.json)\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "RUN", "--repeat", "-1"], "argument --repeat: expected a number >= 0, got -1"),
        (["show", "RUN", "--agent", "a", "--bogus", "q1"], "unrecognized arguments: --bogus q1"),
        (["list", "tests", "q1"], "unrecognized arguments: q1"),
    ],
)
def test_the_parser_refuses_bad_arguments(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    assert capsys.readouterr().err.endswith(f": error: {message}\n")


@pytest.fixture
def changed_run(run_dir: Path, tmp_path: Path) -> Path:
    """A copy of the run that a test may change."""
    copy = tmp_path / run_dir.name
    shutil.copytree(run_dir, copy)
    return copy


def _rewrite_journal(
    run_dir: Path, keep: Callable[[dict[str, Any]], bool], extra: Sequence[dict[str, Any]] = ()
) -> None:
    lines = [e for e in _lines(run_dir / "results.jsonl") if keep(e)] + list(extra)
    (run_dir / "results.jsonl").write_text(
        "".join(json.dumps(e) + "\n" for e in lines), encoding="utf-8"
    )


def test_results_not_run_are_named_on_stderr_and_exit_1(
    changed_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the run was killed before beta's q3 and q1 of repeat 1 were written
    _rewrite_journal(
        changed_run,
        lambda e: not (e["agent_id"] == "beta" and e["repeat"] == 1 and e["test_id"] != "q2"),
    )
    code, out, err = _show(capsys, str(changed_run), "--agent", "beta")
    assert code == 1
    assert _keys(json.loads(out)) == [
        ("beta", "q1", 0),
        ("beta", "q2", 0),
        ("beta", "q3", 0),
        ("beta", "q2", 1),
    ]
    assert err == "not run: beta / q1 (repeat 1)\nnot run: beta / q3 (repeat 1)\n"


def test_when_nothing_selected_was_run_stdout_is_empty(
    changed_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _rewrite_journal(changed_run, lambda e: e["test_id"] != "q3")
    code, out, err = _show(capsys, str(changed_run), "q3", "--repeat", "0")
    assert (code, out) == (1, "")
    assert err == "not run: alpha / q3 (repeat 0)\nnot run: beta / q3 (repeat 0)\n"


def test_a_later_journal_line_supersedes_an_earlier_one(
    changed_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = _lines(changed_run / "results.jsonl")
    (first,) = [
        e for e in journal if (e["agent_id"], e["test_id"], e["repeat"]) == ("alpha", "q3", 0)
    ]
    _rewrite_journal(changed_run, lambda e: True, [{**first, "response_text": "resumed answer"}])
    code, out, _ = _show(capsys, str(changed_run), "q3", "--agent", "alpha", "--repeat", "0")
    assert code == 0
    assert json.loads(out)["response_text"] == "resumed answer"


def test_a_reader_that_stops_early_ends_the_command_quietly(
    run_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # `llmbench show RUN | head`, after head exited
    pipe = open(write_end, "w", encoding="utf-8")  # noqa: SIM115
    monkeypatch.setattr(sys, "stdout", pipe)
    try:
        assert main(["show", str(run_dir)]) == 0
        pipe.write("more")
        pipe.flush()  # stdout now goes nowhere: the flush at exit cannot fail
    finally:
        pipe.close()
    assert capsys.readouterr().err == ""
