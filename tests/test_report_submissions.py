"""What the summary and the reports say about data-analysis tasks: submissions judged by the
``submission`` scorer (issue 17).

A synthetic run directory (journal and ``scores.jsonl`` written directly, no network, no
sandbox, no scorer run) of two agents over three tasks, two repeats each, finished with
:func:`~llmbench.runs.finish.finish` (``rescore=False``: the stored scores are the run's):

    task    metric (baseline, best)    try   alpha                          beta
    houses  rmse (30000, 0)            r0    21000: skill 0.3, achieved     no file: invalid
                                       r1    24000: skill 0.2, achieved     evaluation error
    iris    accuracy (0.6, 1.0)        r0    0.9: skill 0.75, achieved      1.0: skill 1, achieved
                                       r1    0.5: skill -0.25 (value 0)     0.6: skill 0, achieved
    churn   f1 (0.5, 1.0)              r0    missing ids: invalid           malformed: invalid
                                       r1    0.75: skill 0.5, achieved      0.4: skill -0.2 (value 0)

alpha: 6 tries, 5 valid, 4 achieved, values 0.3 + 0.2 + 0.75 + 0 + 0 + 0.5 = 1.75, mean 7/24;
pass^1 = mean(2/2, 1/2, 1/2) = 2/3, pass^2 = mean(1, 0, 0) = 1/3 over 3 tasks.
beta: 5 tries (the error left out), 3 valid, 2 achieved, values 0 + 1 + 0 + 0 + 0, mean 0.2;
pass^k over the 2 tasks with both tries evaluated (iris 2/2, churn 0/2): 1/2 and 1/2.
Paired (alpha - beta) over the 5 tries both had evaluated: 1.55/5 - 1/5 = 0.11; achieved 3 vs 2,
alpha only on houses r0 and churn r1, beta only on iris r1: McNemar p = 2 * (1 + 3) / 8 = 1.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from scipy.stats import binomtest

from llmbench.config.base_config import HelperSection
from llmbench.report.submissions import PREVIEW_LINES, submission_preview
from llmbench.report.terminal import print_report
from llmbench.result import TestResult
from llmbench.runs.finish import AgentInfo, finish
from llmbench.scoring.analysis import analyse
from llmbench.scoring.base import Score
from llmbench.scoring.run_scoring import aggregate
from llmbench.scoring.scored import ScoredResult
from llmbench.store.run_dir import JOURNAL, JournalEntry, RunDirectory, files_dir
from llmbench.suite.models import TestCase

TASKS = {
    "houses": ("rmse", 30000.0, 0.0, False),
    "iris": ("accuracy", 0.6, 1.0, True),
    "churn": ("f1", 0.5, 1.0, True),
}
TESTS = [
    TestCase.model_validate(
        {"id": t, "name": f"Task {t}", "category": "data_analysis", "prompt": f"Model {t}."}
    )
    for t in TASKS
]
# (agent, task, repeat): the metric of a valid submission, or why it is invalid, or an error
TRIES: dict[tuple[str, str, int], float | str] = {
    ("alpha", "houses", 0): 21000.0,
    ("alpha", "houses", 1): 24000.0,
    ("alpha", "iris", 0): 0.9,
    ("alpha", "iris", 1): 0.5,
    ("alpha", "churn", 0): "invalid: 3 ids of the reference missing (first: 7)",
    ("alpha", "churn", 1): 0.75,
    ("beta", "houses", 0): "invalid: no file submission.csv",
    ("beta", "houses", 1): "error: the evaluator raised ZeroDivisionError",
    ("beta", "iris", 0): 1.0,
    ("beta", "iris", 1): 0.6,
    ("beta", "churn", 0): "invalid: line 3: expected 2 fields, saw 5",
    ("beta", "churn", 1): 0.4,
}
# per try: execution time (s), turns, code cells, code errors, prompt and completion tokens
COSTS = {
    "alpha": [(10.0, 3, 5, 1, 1000, 200), (12.0, 3, 4, 0, 1100, 300), (20.0, 2, 3, 0, 900, 100),
              (22.0, 4, 6, 2, 1500, 500), (30.0, 3, 2, 1, 800, 200), (32.0, 3, 4, 0, 1200, 200)],
    "beta": [(5.0, 2, 1, 0, 400, 100), (99.0, 9, 9, 9, 9000, 9000), (7.0, 2, 2, 1, 500, 100),
             (9.0, 3, 3, 0, 600, 200), (11.0, 2, 4, 2, 700, 100), (13.0, 3, 5, 1, 800, 300)],
}  # fmt: skip
KEYS = [(a, t, r) for a in ("alpha", "beta") for t in TASKS for r in (0, 1)]
AGENTS = [AgentInfo("alpha", "model-a", "http://x"), AgentInfo("beta", "model-b", "http://x")]
INJECTED = "<script>window.__pwned = 6</script>"
CSV_LINES = ["id,price", *(f"{i},{100000 + i}" for i in range(1, 14)), INJECTED]


def submission_score(task: str, outcome: float | str) -> Score:
    """The ``submission`` score of the data contract for one try."""
    metric, baseline, best, higher = TASKS[task]
    details: dict[str, Any] = {
        "file": "submission.csv",
        "metric": metric,
        "higher_is_better": higher,
        "baseline": baseline,
        "best": best,
    }
    if isinstance(outcome, str) and outcome.startswith("error"):
        return Score("submission", 0.0, False, "", error=outcome.removeprefix("error: "))
    if isinstance(outcome, str):
        reason = outcome.removeprefix("invalid: ")
        details.update(valid=False, reason=reason, metric_value=None, skill=None)
        details.update(achieved=False, rows=None)
        return Score("submission", 0.0, False, reason, details=details)
    skill = (outcome - baseline) / (best - baseline)
    details.update(valid=True, reason=None, metric_value=outcome, skill=skill)
    details.update(achieved=skill >= 0, rows=200)
    value = min(1.0, max(0.0, skill))
    return Score("submission", value, skill >= 0, f"{metric} {outcome}", details=details)


def journal() -> list[JournalEntry]:
    entries = []
    for n, (agent, task, repeat) in enumerate(KEYS):
        seconds, turns, cells, errors, prompt, completion = COSTS[agent][n % 6]
        result = TestResult(
            test_id=task,
            test_name=f"Task {task}",
            success=True,
            response_text="I wrote /home/agent/submission.csv.",
            execution_time=seconds,
            prompt_tokens=prompt,
            completion_tokens=completion,
            category="data_analysis",
            status="ok",
            model=f"model-{agent[0]}",
            endpoint="http://x",
            attempts=1,
            end_reason="instructor_done",
            turns=turns,
            tool_protocol="function",
            tool_calls=cells,
            code_errors=errors,
        )
        transcript = [
            {"role": "user", "content": "Load /data/train.csv.", "source": "scripted", "turn": 1},
            {"role": "assistant", "content": "Done.", "source": "agent", "turn": 1},
        ]
        entries.append(JournalEntry(agent, task, repeat, result, transcript))
    return entries


def finished(tmp_path: Path) -> tuple[RunDirectory, dict[str, Any]]:
    """The run of the module docstring, its files saved, finished from its stored scores."""
    run = RunDirectory.create(tmp_path, "run")
    run.write_manifest({})
    entries = journal()
    (run.path / JOURNAL).write_text(
        "".join(e.to_json_line() + "\n" for e in entries), encoding="utf-8"
    )
    scored = [(e.key, aggregate([submission_score(e.test_id, TRIES[e.key])]), e) for e in entries]
    run.write_scores(scored)
    folder = run.files_dir("alpha", "houses", 0)
    folder.mkdir(parents=True)
    (folder / "submission.csv").write_text("\n".join(CSV_LINES) + "\n", encoding="utf-8")
    folder = run.files_dir("beta", "churn", 0)
    folder.mkdir(parents=True)
    (folder / "submission.csv").write_text(f"id,churn\n1,{INJECTED}\n", encoding="utf-8")
    summary = finish(
        run,
        tests=TESTS,
        agents=AGENTS,
        repeats=2,
        status="completed",
        judge_api=None,
        supervisor=HelperSection(),
        cache_dir=None,
        rescore=False,
    )
    return run, summary


def write_submission_run(tmp_path: Path) -> Path:
    """The run of the module docstring finished into ``tmp_path`` (for the browser test)."""
    return finished(tmp_path)[0].path


@pytest.fixture
def run(tmp_path: Path) -> tuple[RunDirectory, dict[str, Any]]:
    return finished(tmp_path)


def _block(summary: dict[str, Any], agent_id: str) -> dict[str, Any]:
    (agent,) = [a for a in summary["agents"] if a["agent_id"] == agent_id]
    block: dict[str, Any] = agent["submissions"]
    return block


def _terminal(summary: dict[str, Any]) -> str:
    console = Console(record=True, width=250)
    print_report(summary, console)
    return console.export_text()


def _wilson(successes: int, n: int) -> list[float]:
    low, high = binomtest(successes, n).proportion_ci(method="wilson")
    return [low, high]


# ---- summary.json ----


def test_rates_count_valid_and_achieved_tries_with_wilson_intervals(
    run: tuple[RunDirectory, dict[str, Any]],
) -> None:
    directory, summary = run
    assert summary == json.loads((directory.path / "summary.json").read_text(encoding="utf-8"))
    alpha, beta = _block(summary, "alpha"), _block(summary, "beta")
    assert (alpha["tasks"], alpha["tries"], alpha["errors"]) == (3, 6, 0)
    assert (beta["tasks"], beta["tries"], beta["errors"]) == (3, 5, 1)
    assert alpha["valid"] == {"count": 5, "rate": 5 / 6, "ci": pytest.approx(_wilson(5, 6))}
    assert alpha["achieved"] == {"count": 4, "rate": 4 / 6, "ci": pytest.approx(_wilson(4, 6))}
    assert beta["valid"] == {"count": 3, "rate": 3 / 5, "ci": pytest.approx(_wilson(3, 5))}
    assert beta["achieved"] == {"count": 2, "rate": 2 / 5, "ci": pytest.approx(_wilson(2, 5))}


def test_wilson_bound_by_hand() -> None:
    # 5 of 6, z = 1.959964: centre (5/6 + z²/12) / (1 + z²/6), half z·sqrt(5/216 + z²/144) / (...)
    z = 1.959963984540054
    denominator = 1 + z * z / 6
    centre = (5 / 6 + z * z / 12) / denominator
    half = z * math.sqrt(5 / 216 + z * z / 144) / denominator
    assert _wilson(5, 6) == pytest.approx([centre - half, centre + half])
    assert centre - half == pytest.approx(0.4365, abs=1e-4)


def test_mean_skill_counts_invalid_submissions_as_zero(
    run: tuple[RunDirectory, dict[str, Any]],
) -> None:
    alpha, beta = _block(run[1], "alpha"), _block(run[1], "beta")
    assert alpha["skill"]["mean"] == pytest.approx(1.75 / 6)
    assert beta["skill"]["mean"] == pytest.approx(0.2)
    low, high = alpha["skill"]["ci"]
    assert 0.0 <= low < 1.75 / 6 < high <= 0.75


def test_costs_are_means_over_the_evaluated_tries(
    run: tuple[RunDirectory, dict[str, Any]],
) -> None:
    alpha, beta = _block(run[1], "alpha"), _block(run[1], "beta")
    assert alpha["time_s"] == {"mean": pytest.approx(126 / 6)}
    assert alpha["turns"] == {"mean": pytest.approx(3.0)}
    assert alpha["code_cells"] == {"mean": pytest.approx(4.0)}
    assert alpha["code_errors"] == {"mean": pytest.approx(4 / 6)}
    assert alpha["tokens"] == {"mean": pytest.approx(8000 / 6)}
    # beta's evaluation error (99 s, 9 turns, ...) is left out of every figure
    assert beta["time_s"] == {"mean": pytest.approx(45 / 5)}
    assert beta["turns"] == {"mean": pytest.approx(12 / 5)}
    assert beta["code_cells"] == {"mean": pytest.approx(15 / 5)}
    assert beta["code_errors"] == {"mean": pytest.approx(4 / 5)}
    assert beta["tokens"] == {"mean": pytest.approx(3800 / 5)}


def test_pass_hat_k_is_the_share_of_tasks_achieved_on_every_try(
    run: tuple[RunDirectory, dict[str, Any]],
) -> None:
    alpha, beta = _block(run[1], "alpha"), _block(run[1], "beta")
    assert alpha["pass_hat_k"] == {"1": pytest.approx(2 / 3), "2": pytest.approx(1 / 3)}
    assert alpha["pass_hat_k_tasks"] == 3
    assert beta["pass_hat_k"] == {"1": pytest.approx(0.5), "2": pytest.approx(0.5)}
    assert beta["pass_hat_k_tasks"] == 2  # houses had one evaluated try


def test_by_task_gives_the_metric_against_the_baseline(
    run: tuple[RunDirectory, dict[str, Any]],
) -> None:
    alpha, beta = _block(run[1], "alpha"), _block(run[1], "beta")
    assert alpha["by_task"] == [
        {"test_id": "houses", "metric": "rmse", "baseline": 30000.0, "best": 0.0,
         "higher_is_better": False, "metric_value": 22500.0, "skill": pytest.approx(0.25),
         "valid": 2, "achieved": 2, "tries": 2, "errors": 0},
        {"test_id": "iris", "metric": "accuracy", "baseline": 0.6, "best": 1.0,
         "higher_is_better": True, "metric_value": pytest.approx(0.7),
         "skill": pytest.approx(0.375), "valid": 2, "achieved": 1, "tries": 2, "errors": 0},
        {"test_id": "churn", "metric": "f1", "baseline": 0.5, "best": 1.0,
         "higher_is_better": True, "metric_value": 0.75, "skill": pytest.approx(0.25),
         "valid": 1, "achieved": 1, "tries": 2, "errors": 0},
    ]  # fmt: skip
    houses = beta["by_task"][0]
    assert (houses["metric_value"], houses["skill"], houses["valid"]) == (None, 0.0, 0)
    assert (houses["tries"], houses["errors"], houses["metric"]) == (1, 1, "rmse")


def test_paired_comparison_covers_the_submission_value_and_achieved(
    run: tuple[RunDirectory, dict[str, Any]],
) -> None:
    (comparison,) = run[1]["comparisons"]
    # the general comparison: a task's only primary score is the submission's value
    assert comparison["n_pairs"] == 5
    assert comparison["mean_a"] == pytest.approx(0.31)
    assert comparison["mean_b"] == pytest.approx(0.2)
    sub = comparison["submissions"]
    assert sub["n_pairs"] == 5
    assert (sub["skill_a"], sub["skill_b"]) == (pytest.approx(0.31), pytest.approx(0.2))
    assert sub["skill_diff"] == pytest.approx(0.11)
    assert sub["skill_diff_ci"] == comparison["diff_ci"]
    assert sub["achieved"] == {
        "a": 3,
        "b": 2,
        "a_only": 2,
        "b_only": 1,
        "p_value": 1.0,
        "significant": False,
    }
    assert sub["skill_significant"] is False


def test_a_scoring_error_is_an_error_never_a_zero(
    run: tuple[RunDirectory, dict[str, Any]],
) -> None:
    (beta,) = [a for a in run[1]["agents"] if a["agent_id"] == "beta"]
    assert (beta["quality"]["scored"], beta["quality"]["scorer_errors"]) == (5, 1)


def test_old_records_without_details_load() -> None:
    old = {
        "agent_id": "a",
        "test_id": "t",
        "scoring": {"score": 1.0, "passed": True, "reasoning": None, "error": None,
                    "scores": [{"scorer": "exact", "value": 1.0, "passed": True, "reason": "",
                                "secondary": False, "error": None}]},
    }  # fmt: skip
    assert ScoredResult.from_record(old).submission is None
    assert ScoredResult.from_record({"agent_id": "a", "test_id": "t"}).submission is None
    assert Score.from_dict(old["scoring"]["scores"][0]).details is None  # type: ignore[index]
    assert "details" not in Score("exact", 1.0, True, "").to_dict()


def test_a_plain_run_has_no_submissions_block() -> None:
    records = [{"agent_id": a, "test_id": "t", "scoring": None} for a in ("a", "b")]
    summary = analyse(
        [ScoredResult.from_record(r) for r in records],
        [{"agent_id": a, "model": "m", "endpoint": "e", "planned": 1, "not_run": 0} for a in "ab"],
        run_id="r",
        status="completed",
        repeats=1,
    )
    assert [a["submissions"] for a in summary["agents"]] == [None, None]
    assert summary["comparisons"][0]["submissions"] is None


# ---- terminal, report.md, report.html ----


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


def _pct(successes: int, n: int) -> str:
    low, high = _wilson(successes, n)
    return f"{successes / n:.0%} [{low:.0%}, {high:.0%}]"


def test_terminal_shows_the_data_analysis_table(run: tuple[RunDirectory, dict[str, Any]]) -> None:
    rows = _table_rows(_terminal(run[1]), "Data-analysis tasks")
    alpha_ci = _block(run[1], "alpha")["skill"]["ci"]
    beta_ci = _block(run[1], "beta")["skill"]["ci"]
    # best mean score first: alpha 0.29, beta 0.20
    assert rows == [
        ["alpha", "3", "6", _pct(5, 6), _pct(4, 6),
         f"0.29 [{alpha_ci[0]:.2f}, {alpha_ci[1]:.2f}]", "21.00", "3.0", "4.0", "0.7", "1,333",
         "0", "0.67", "0.33"],
        ["beta", "3", "5", _pct(3, 5), _pct(2, 5), f"0.20 [{beta_ci[0]:.2f}, {beta_ci[1]:.2f}]",
         "9.00", "2.4", "3.0", "0.8", "760", "1", "0.50", "0.50"],
    ]  # fmt: skip
    assert "data-analysis: no significant difference in skill or baseline achieved" in _terminal(
        run[1]
    )


def test_report_md_has_the_data_analysis_sections(
    run: tuple[RunDirectory, dict[str, Any]],
) -> None:
    text = (run[0].path / "report.md").read_text(encoding="utf-8")
    assert "## Data-analysis tasks" in text and "### Per task" in text
    assert "| houses | rmse | 30,000 | 0 | alpha | 22,500 | 0.25 | 2/2 | 2/2 | 0 |" in text
    assert "| houses | rmse | 30,000 | 0 | beta | n/a | 0.00 | 0/1 | 0/1 | 1 |" in text
    assert "| iris | accuracy | 0.6 | 1 | beta | 0.8 | 0.50 | 2/2 | 2/2 | 0 |" in text
    assert "| alpha | beta | 5 | 0.31 | 0.20 |" in text
    assert "| 3 / 2 | 2 / 1 | 1.00 |" in text
    # a failed try names the submission's reason
    assert "| churn | 0 | data_analysis | submission: 3 ids of the reference missing" in text


def test_report_html_has_the_tables_and_the_chart(
    run: tuple[RunDirectory, dict[str, Any]],
) -> None:
    page = (run[0].path / "report.html").read_text(encoding="utf-8")
    for table_id in ("submissions", "submission-tasks", "submission-comparisons"):
        assert f'<table id="{table_id}">' in page
    assert '<div class="charts" id="submission-charts">' in page
    charts = _embedded(page)["charts"]
    assert [c["id"] for c in charts][-1] == "submissions"
    assert "<td>houses</td><td>rmse</td><td>30,000</td><td>0</td><td>alpha</td>" in page
    assert INJECTED not in page  # the data block escapes every "<"


def _embedded(page: str) -> dict[str, Any]:
    start = page.index('<script type="application/json" id="data">') + len(
        '<script type="application/json" id="data">'
    )
    end = page.index("</script>", start)
    data: dict[str, Any] = json.loads(page[start:end])
    return data


def _embedded_records(page: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = _embedded(page)["records"]
    return records


def test_report_html_embeds_the_first_lines_of_a_saved_submission(
    run: tuple[RunDirectory, dict[str, Any]],
) -> None:
    page = (run[0].path / "report.html").read_text(encoding="utf-8")
    previews = {
        (r["agent_id"], r["test_id"], r["repeat"]): r.get("submission_preview")
        for r in _embedded_records(page)
    }
    assert previews[("alpha", "houses", 0)] == {
        "file": "submission.csv",
        "lines": CSV_LINES[:PREVIEW_LINES],
        "more": True,
    }
    assert previews[("beta", "churn", 0)] == {
        "file": "submission.csv",
        "lines": ["id,churn", f"1,{INJECTED}"],
        "more": False,
    }
    # no files folder saved: no preview
    assert previews[("alpha", "houses", 1)] is None


def _record(agent: str = "alpha", test: str = "houses", repeat: int = 0) -> dict[str, Any]:
    score = submission_score(test, 21000.0).to_dict()
    return {"agent_id": agent, "test_id": test, "repeat": repeat, "scoring": {"scores": [score]}}


def test_a_symlinked_submission_is_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("API_KEY=sk-hidden\n", encoding="utf-8")
    folder = files_dir(tmp_path, "alpha", "houses", 0)
    folder.mkdir(parents=True)
    os.symlink(secret, folder / "submission.csv")
    assert submission_preview(tmp_path, _record()) is None


def test_a_symlinked_files_folder_is_not_followed(tmp_path: Path) -> None:
    elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    elsewhere.mkdir()
    (elsewhere / "submission.csv").write_text("id,price\n", encoding="utf-8")
    folder = files_dir(tmp_path / "run", "alpha", "houses", 0)
    folder.parent.mkdir(parents=True)
    os.symlink(elsewhere, folder)
    assert submission_preview(tmp_path / "run", _record()) is None


@pytest.mark.parametrize("name", ["../../outside.csv", "/etc/passwd"])
def test_a_submission_name_outside_the_folder_is_refused(tmp_path: Path, name: str) -> None:
    (tmp_path / "outside.csv").write_text("id\n", encoding="utf-8")
    files_dir(tmp_path, "alpha", "houses", 0).mkdir(parents=True)
    record = _record()
    record["scoring"]["scores"][0]["details"]["file"] = name
    assert submission_preview(tmp_path, record) is None


def test_files_dir_names_the_folder_beside_the_result_file(tmp_path: Path) -> None:
    run = RunDirectory.create(tmp_path, "run")
    folder = run.files_dir("a/b", "t 1", 2)
    assert folder.name == "files"
    assert folder.parent.name == run.result_file("a/b", "t 1", 2).name.removesuffix(".json")
    assert folder.parent.parent == run.result_file("a/b", "t 1", 2).parent
    assert not folder.exists()
    assert files_dir(run.path, "a/b", "t 1", 2).relative_to(run.path) == folder.relative_to(
        run.path.resolve()
    )


# ---- a run without submissions ----


def _strip(summary: dict[str, Any]) -> dict[str, Any]:
    """``summary`` as an llmbench before submissions wrote it."""
    copy = json.loads(json.dumps(summary))
    for agent in copy["agents"]:
        del agent["submissions"]
    for comparison in copy["comparisons"]:
        del comparison["submissions"]
    return copy


def test_a_plain_run_prints_the_same_bytes_as_before(tmp_path: Path) -> None:
    from tests.test_report_tools import entries, finished_run

    directory, summary = finished_run(tmp_path, entries())
    assert [a["submissions"] for a in summary["agents"]] == [None, None]
    text = _terminal(summary)
    assert text == _terminal(_strip(summary))
    assert "Data-analysis" not in text and "data-analysis" not in text
    report = (directory.path / "report.md").read_text(encoding="utf-8")
    assert "Data-analysis" not in report and "### Per task" not in report
    page = (directory.path / "report.html").read_text(encoding="utf-8")
    assert "Data-analysis" not in page and "submission-charts" not in page.split("<script")[0]
