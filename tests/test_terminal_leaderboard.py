"""The terminal leaderboard at 80 and 120 columns, in a terminal and in a pipe: snapshots.

Each report is compared with a text file under ``tests/snapshots/``; after a deliberate change
of the layout, look at the new output, then write the files again with

    LLMBENCH_UPDATE_SNAPSHOTS=1 pytest tests/test_terminal_leaderboard.py

The properties the issue asks for (every line within the width, every id that fits shown
whole, intervals on one line, the two runs of a comparison told apart and named in a legend)
are asserted on the output too, so that a snapshot written carelessly cannot hide a regression.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from llmbench.report.fit import fit, wrap_header
from llmbench.report.terminal import (
    PLAIN_WIDTH,
    interval,
    print_report,
    stdout_console,
)

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("LLMBENCH_UPDATE_SNAPSHOTS") == "1"

RUN_A = "20261121T103000Z-a1b2c3"
RUN_B = "20261122T090000Z-d4e5f6"
SMOLLM = "HuggingFaceTB/SmolLM2-135M-Instruct-Q8_0"


def _agent(
    agent_id: str,
    model: str,
    score: tuple[float, float, float],
    passed: tuple[float, float, float],
    n_errors: tuple[int, int],
    speed: tuple[float, float, float | None],
    run_id: str | None = None,
) -> dict[str, Any]:
    p50, p95, tokens = speed
    return {
        "agent_id": agent_id,
        "run_id": run_id,
        "model": model,
        "not_run": 0,
        "quality": {
            "n": n_errors[0],
            "errors": n_errors[1],
            "mean_score": score[0],
            "score_ci": [score[1], score[2]],
            "pass_rate": passed[0],
            "pass_ci": [passed[1], passed[2]],
        },
        "speed": {
            "latency_s": {"p50": p50, "p95": p95},
            "tokens_per_second": {"p50": tokens},
            "streamed": tokens is not None,
        },
    }


def _comparison(a: str, b: str, diff: float, ci: tuple[float, float]) -> dict[str, Any]:
    return {
        "a": a,
        "b": b,
        "n_pairs": 120,
        "mean_diff": diff,
        "diff_ci": list(ci),
        "mcnemar": {"a_only": 14, "b_only": 2, "p_value": 0.004},
        "significant": True,
        "min_detectable_diff": 0.11,
    }


def single_run() -> dict[str, Any]:
    """Four agents of one run: long ids and model names, one that did not stream."""
    return {
        "run_id": RUN_A,
        "status": "completed",
        "agents": [
            _agent(
                "smollm2-warm-long-name",
                SMOLLM,
                (0.62, 0.51, 0.72),
                (0.60, 0.45, 0.73),
                (120, 3),
                (3.57, 92.07, 26.7),
            ),
            _agent(
                "smollm2-greedy",
                SMOLLM,
                (0.58, 0.47, 0.69),
                (0.55, 0.46, 0.64),
                (120, 0),
                (3.88, 84.28, 26.9),
            ),
            _agent(
                "qwen2.5-7b-instruct-q4",
                "qwen2.5-7b-instruct-q4_k_m.gguf",
                (0.81, 0.74, 0.87),
                (0.79, 0.71, 0.85),
                (120, 1),
                (0.41, 1.20, 88.0),
            ),
            _agent(
                "llama-3.1-8b-no-stream",
                "meta-llama/Llama-3.1-8B-Instruct",
                (0.70, 0.62, 0.78),
                (0.68, 0.59, 0.76),
                (120, 0),
                (1.12, 2.40, None),
            ),
        ],
        "comparisons": [
            _comparison("qwen2.5-7b-instruct-q4", "smollm2-greedy", 0.23, (0.14, 0.32)),
        ],
    }


def two_runs() -> dict[str, Any]:
    """``llmbench report A B``: two agents in both runs (``agent@run_id``), one in B only."""
    warm, greedy = "smollm2-warm-long-name", "smollm2-greedy"
    return {
        "run_id": f"compare of {RUN_A}, {RUN_B}",
        "status": "compare",
        "agents": [
            _agent(
                f"{warm}@{RUN_A}",
                SMOLLM,
                (0.62, 0.51, 0.72),
                (0.60, 0.45, 0.73),
                (120, 3),
                (3.57, 92.07, 26.7),
                RUN_A,
            ),
            _agent(
                f"{greedy}@{RUN_A}",
                SMOLLM,
                (0.58, 0.47, 0.69),
                (0.55, 0.46, 0.64),
                (120, 0),
                (3.88, 84.28, 26.9),
                RUN_A,
            ),
            _agent(
                f"{warm}@{RUN_B}",
                SMOLLM,
                (0.66, 0.56, 0.75),
                (0.64, 0.55, 0.72),
                (120, 0),
                (3.41, 88.50, 27.3),
                RUN_B,
            ),
            _agent(
                f"{greedy}@{RUN_B}",
                SMOLLM,
                (0.57, 0.46, 0.68),
                (0.55, 0.46, 0.64),
                (120, 1),
                (3.90, 85.10, 26.8),
                RUN_B,
            ),
            _agent(
                "qwen2.5-7b-instruct-q4",
                "qwen2.5-7b-instruct-q4_k_m.gguf",
                (0.81, 0.74, 0.87),
                (0.79, 0.71, 0.85),
                (120, 1),
                (0.41, 1.20, 88.0),
                RUN_B,
            ),
        ],
        "comparisons": [
            _comparison("qwen2.5-7b-instruct-q4", f"{greedy}@{RUN_B}", 0.24, (0.15, 0.33)),
        ],
    }


SUMMARIES = {"single": single_run, "compare": two_runs}

# what a reader must find whole in each report, worked out by hand from the fixtures
SHOWN_IDS = {
    "single": [
        "smollm2-warm-long-name",
        "smollm2-greedy",
        "qwen2.5-7b-instruct-q4",
        "llama-3.1-8b-no-stream",
    ],
    "compare": [
        "smollm2-warm-long-name@r1",
        "smollm2-greedy@r1",
        "smollm2-warm-long-name@r2",
        "smollm2-greedy@r2",
        "qwen2.5-7b-instruct-q4",
    ],
}
# the columns each width leaves out: at 80, everything but #, Agent, Score, Pass rate and
# n / errors (1 + 25 + 17 + 18 + 7 and four gaps of 3 = 80 for the comparison); at 120, the
# model alone (the rest is 1 + 25 + 17 + 18 + 10 + 21 + 12 and six gaps = 122, 120 with the
# headers of the last two wrapped; 40 more for the model do not fit)
LEFT_OUT = {
    80: "Model, Tokens/s p50, Latency p50 / p95 (s)",
    120: "Model",
}


def _joined(text: str) -> str:
    """``text`` on one line, each run of spaces and line breaks one space (a note rich wrapped)."""
    return " ".join(text.split())


def _rendered(summary: dict[str, Any], width: int, terminal: bool) -> str:
    console = Console(width=width, record=True, force_terminal=terminal, color_system=None)
    print_report(summary, console)
    return console.export_text()


def _matches_snapshot(text: str, name: str) -> None:
    path = SNAPSHOTS / f"{name}.txt"
    # trailing spaces (rich pads wrapped lines) are not part of what a reader sees
    text = "".join(f"{line.rstrip()}\n" for line in text.splitlines())
    if UPDATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing: write it with LLMBENCH_UPDATE_SNAPSHOTS=1"
    assert text == path.read_text(encoding="utf-8"), (
        f"the report differs from {path}; if the change is meant, look at it and write the "
        "snapshot again with LLMBENCH_UPDATE_SNAPSHOTS=1"
    )


def _check_properties(text: str, kind: str, width: int) -> None:
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width, text
    table = [line for line in lines if line.count("|") >= 2 or line.count("│") >= 2]
    for shown in SHOWN_IDS[kind]:
        rows = [line for line in table if f" {shown} " in line]
        assert len(rows) == 1, f"{shown} is not whole in one row:\n{text}"
    for agent in SUMMARIES[kind]()["agents"]:
        quality = agent["quality"]
        score = interval(quality["mean_score"], quality["score_ci"])
        assert any(score in line for line in table), f"{score} is not on one line:\n{text}"
    assert f"Left out to fit {width} columns: {LEFT_OUT[width]} (" in _joined(text), text
    assert "…" not in text  # every id fits
    if kind == "compare":
        assert RUN_A not in text.replace(f"  r1  {RUN_A}  started 2026-11-21 10:30 UTC", "")
        assert RUN_B not in text.replace(f"  r2  {RUN_B}  started 2026-11-22 09:00 UTC", "")


@pytest.mark.parametrize("kind", ["single", "compare"])
@pytest.mark.parametrize("width", [80, 120])
def test_the_terminal_leaderboard_fits_the_width(kind: str, width: int) -> None:
    text = _rendered(SUMMARIES[kind](), width, terminal=True)
    _check_properties(text, kind, width)
    _matches_snapshot(text, f"{kind}-{width}-terminal")


@pytest.mark.parametrize("kind", ["single", "compare"])
def test_without_a_terminal_the_leaderboard_is_plain_text_at_120_columns(
    kind: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("COLUMNS", "FORCE_COLOR", "TTY_COMPATIBLE"):
        monkeypatch.delenv(name, raising=False)
    console = stdout_console()  # stdout is pytest's capture: not a terminal
    assert (console.is_terminal, console.width) == (False, PLAIN_WIDTH)
    print_report(SUMMARIES[kind](), console)
    text = capsys.readouterr().out
    assert text.isascii(), text  # no colours, no box drawing
    _check_properties(text, kind, PLAIN_WIDTH)
    _matches_snapshot(text, f"{kind}-{PLAIN_WIDTH}-plain")


def test_without_a_terminal_columns_sets_the_width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    assert stdout_console().width == 100


def test_a_terminal_too_narrow_for_an_id_cuts_it_but_keeps_its_run_label() -> None:
    # 44 = 1 + 20 + 17 and two gaps of 3: the agent column gets 20 of the 25 cells it needs
    text = _rendered(two_runs(), 44, terminal=False)
    assert max(len(line) for line in text.splitlines()) <= 44, text
    assert "| smollm2-warm-lon…@r1 | 0.62 [0.51, 0.72]" in text
    assert "| smollm2-warm-lon…@r2 | 0.66 [0.56, 0.75]" in text
    assert "| smollm2-greedy@r1    | 0.58 [0.47, 0.69]" in text  # it fits: whole
    assert "Agent ids cut to fit 44 columns (…)" in _joined(text)
    _matches_snapshot(text, "compare-44-plain")


def test_an_interrupted_run_keeps_not_run_before_the_pass_rate() -> None:
    summary = single_run()
    summary["agents"][0]["not_run"] = 7
    text = _rendered(summary, 80, terminal=False)
    left_out = "Model, Tokens/s p50, Latency p50 / p95 (s), Pass rate [95% CI]"
    assert f"Left out to fit 80 columns: {left_out} (" in _joined(text)
    (row,) = [line for line in text.splitlines() if " smollm2-warm-long-name " in line]
    assert row.split("|")[3:] == ["    120 / 3 ", "       7"], row


def test_fit_leaves_out_columns_in_the_drop_order_then_cuts() -> None:
    header = ["id", "a b", "c"]
    rows = [["abcdef", "1", "22"]]
    # widths 6, 3 ("a b" on one line) and 2, with two gaps of 3: 17
    assert fit(header, rows, 17, drop=["a b", "c"], cut="id").widths == (6, 3, 2)
    # one cell less: "a b" wraps to "a" / "b", 1 wide (15, the least that fits)
    assert fit(header, rows, 16, drop=["a b", "c"], cut="id").widths == (6, 1, 2)
    assert fit(header, rows, 15, drop=["a b", "c"], cut="id").widths == (6, 1, 2)
    narrow = fit(header, rows, 14, drop=["a b", "c"], cut="id")
    assert (narrow.shown, narrow.widths, narrow.left_out) == ((0, 2), (6, 2), (1,))
    # the id alone is 6 > 5, but never cut below MIN_CUT = 8 cells, so it stays whole
    alone = fit(header, rows, 5, drop=["a b", "c"], cut="id")
    assert (alone.shown, alone.widths, alone.left_out, alone.cut) == ((0,), (6,), (1, 2), False)
    cut = fit(["id"], [["a" * 12]], 9, cut="id")
    assert (cut.widths, cut.cut) == ((9,), True)


def test_a_header_wraps_between_its_words_never_inside_brackets() -> None:
    assert wrap_header("Pass rate [95% CI]", 17) == "Pass rate\n[95% CI]"
    assert wrap_header("Latency p50 / p95 (s)", 11) == "Latency p50\n/ p95 (s)"
    assert wrap_header("Score [95% CI]", 17) == "Score [95% CI]"
