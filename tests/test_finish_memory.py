"""The end of a run streams its journal: finish()'s peak memory does not grow with the results.

A synthetic run directory (journal lines written directly, no network) of 2,000 and of 20,000
results of one agent over the same 500-test suite is finished in a subprocess each; the peak
RSS of the bigger one may exceed the smaller one's by at most 4 KB per extra result (holding
every entry, as the end of a run once did, cost about 12 KB each; streaming costs under 1 KB),
and report.html stays a few MB (beside the charting libraries it inlines) however many results
there are.

Also here: the JournalIndex that finish() reads the journal through (the final line of each
key, torn and bad lines, the latest scoring), and finish() writing its scores in batches.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from llmbench.config.base_config import HelperSection
from llmbench.errors import ResultsError
from llmbench.report.charts import vendor_scripts
from llmbench.result import TestResult
from llmbench.runs import finish as finish_mod
from llmbench.runs.finish import AgentInfo, finish
from llmbench.store.journal_index import JournalIndex
from llmbench.store.run_dir import JOURNAL, SCORES, JournalEntry, RunDirectory
from llmbench.suite.models import TestCase

REPO = Path(__file__).resolve().parent.parent
N_TESTS = 500
AGENT = "alpha"
WORDS = ("the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while", "seven")


def suite_tests() -> list[dict[str, Any]]:
    """The synthetic suite: every test scored by ``exact`` against ``answer N``."""
    return [
        {
            "id": f"t{i:04d}",
            "name": f"Synthetic test {i}",
            "category": f"c{i % 7}",
            "prompt": f"Question {i}: " + " ".join(WORDS),
            "expected": f"answer {i}",
        }
        for i in range(N_TESTS)
    ]


def _entry(rng: random.Random, test_id: str, repeat: int, failed: bool) -> JournalEntry:
    number = int(test_id[1:])
    wrong = rng.random() < 0.3
    text = f"answer {number + 1 if wrong else number}"
    chatter = " ".join(rng.choice(WORDS) for _ in range(60))  # ~300 characters of answer
    transcript = None
    if number % 10 == 0:
        transcript = [
            {"role": role, "content": chatter, "source": "agent", "turn": turn}
            for turn in (1, 2)
            for role in ("user", "assistant")
        ]
    result = TestResult(
        test_id=test_id,
        test_name=f"Synthetic test {number}",
        success=not failed,
        response_text="" if failed else text if number % 3 else f"{text}\n\n{chatter}",
        execution_time=rng.uniform(0.2, 3.0),
        prompt_tokens=rng.randint(20, 400),
        completion_tokens=rng.randint(5, 300),
        tokens_per_second=None if failed else rng.uniform(20.0, 120.0),
        error_message="no reply within 30 s" if failed else None,
        timestamp=f"2026-11-21T10:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.000+00:00",
        category=f"c{number % 7}",
        status="error" if failed else "ok",
        time_to_first_token=None if failed else rng.uniform(0.05, 0.5),
        attempts=3 if failed else 1,
        model="synthetic-model",
        endpoint="http://127.0.0.1:9/v1",
        error_kind="timeout" if failed else None,
        finish_reason=None if failed else "stop",
    )
    return JournalEntry(AGENT, test_id, repeat, result, transcript)


def write_run(run_dir: Path, repeats: int, seed: int = 0) -> None:
    """A run directory whose journal holds ``N_TESTS * repeats`` final results; one key in 50
    has an earlier error line that its final line supersedes, and 3% of the results are errors."""
    rng = random.Random(seed)
    run_dir.mkdir()
    with (run_dir / JOURNAL).open("w", encoding="utf-8") as fh:
        for repeat in range(repeats):
            for i in range(N_TESTS):
                test_id = f"t{i:04d}"
                if rng.random() < 0.02:
                    fh.write(_entry(rng, test_id, repeat, True).to_json_line() + "\n")
                failed = rng.random() < 0.03
                fh.write(_entry(rng, test_id, repeat, failed).to_json_line() + "\n")


def child(run_dir: str, repeats: int) -> None:
    """Run finish() on ``run_dir`` and print its summary counts and the peak RSS (KB)."""
    import resource

    tests = [TestCase.model_validate(t) for t in suite_tests()]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    summary = finish(
        RunDirectory(Path(run_dir)),
        tests=tests,
        agents=[AgentInfo(AGENT, "synthetic-model", "http://127.0.0.1:9/v1")],
        repeats=repeats,
        status="completed",
        judge_api=None,
        supervisor=HelperSection(),
        cache_dir=None,
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    quality = summary["agents"][0]["quality"]
    print(json.dumps({"before_kb": before, "peak_kb": peak, "n": quality["n"]}))


def finish_in_subprocess(run_dir: Path, repeats: int) -> dict[str, Any]:
    code = f"from tests.test_finish_memory import child; child({str(run_dir)!r}, {repeats})"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    figures: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return figures


def test_finish_memory_does_not_grow_with_the_results(tmp_path: Path) -> None:
    small, big = tmp_path / "small", tmp_path / "big"
    write_run(small, repeats=4)
    write_run(big, repeats=40)
    few = finish_in_subprocess(small, 4)
    many = finish_in_subprocess(big, 40)
    assert (few["n"], many["n"]) == (2_000, 20_000)
    per_result = (many["peak_kb"] - few["peak_kb"]) * 1024 / 18_000
    assert per_result < 4096, f"peak RSS grew by {per_result:.0f} bytes per result"
    # a few MB of records and charts, plus the charting libraries it inlines
    html = (big / "report.html").stat().st_size
    libraries = sum(len(s.encode()) for s in vendor_scripts())
    assert html - libraries < 4_000_000, (
        f"report.html is {html} bytes, {libraries} of them libraries"
    )
    assert (big / "report.md").stat().st_size < 200_000


# ---- JournalIndex and finish() on small runs ----


def line(agent_id: str, test_id: str, repeat: int = 0, text: str = "answer", **fields: Any) -> str:
    result = TestResult(
        test_id, test_id, True, text, 0.5, category="c", model=f"model-{agent_id}", **fields
    )
    return JournalEntry(agent_id, test_id, repeat, result).to_json_line() + "\n"


def run_with(tmp_path: Path, journal: str, scores: str = "") -> RunDirectory:
    run = RunDirectory.create(tmp_path, "run")
    run.write_manifest({})
    (run.path / JOURNAL).write_text(journal, encoding="utf-8")
    if scores:
        (run.path / SCORES).write_text(scores, encoding="utf-8")
    return run


KEYS = [("a", "t1", 0), ("a", "t2", 0), ("a", "t3", 0)]


def test_the_index_reads_the_final_entry_of_each_key_of_the_run(tmp_path: Path) -> None:
    journal = (
        line("a", "t1", text="first")
        + line("a", "t2")
        + line("b", "t1")  # not a key of the run
        + "\n"
        + line("a", "t1", text="second")
    )
    with JournalIndex.build(run_with(tmp_path, journal), KEYS) as index:
        assert [index.has_entry(i) for i in range(3)] == [True, True, False]
        assert index.entry(0).result.response_text == "second"
        assert index.entry(1).key == ("a", "t2", 0)
        assert index.models == {"a": "model-a", "b": "model-b"}


def test_the_index_ignores_a_torn_last_line(tmp_path: Path) -> None:
    journal = line("a", "t1") + '{"agent_id": "a", "test_id": "t2'
    with JournalIndex.build(run_with(tmp_path, journal), KEYS) as index:
        assert [index.has_entry(i) for i in range(3)] == [True, False, False]


def test_the_index_refuses_a_bad_line_before_the_last(tmp_path: Path) -> None:
    journal = line("a", "t1") + "not json\n" + line("a", "t2")
    with pytest.raises(ResultsError, match=r"results\.jsonl: line 2: not a journal entry"):
        JournalIndex.build(run_with(tmp_path, journal), KEYS)


def test_an_entry_with_a_good_key_and_a_bad_body_is_an_error_naming_file_and_key(
    tmp_path: Path,
) -> None:
    bad = '{"agent_id": "a", "test_id": "t2", "repeat": 0, "no_such_field": 1}\n'
    with JournalIndex.build(run_with(tmp_path, line("a", "t1") + bad), KEYS) as index:
        assert index.entry(0).result.response_text == "answer"
        with pytest.raises(
            ResultsError, match=r"results\.jsonl: the entry of a / t2 \(repeat 0\) at byte \d+: "
        ):
            index.entry(1)


def test_the_index_gives_the_latest_scoring_and_skips_a_torn_scores_line(tmp_path: Path) -> None:
    def scored(test_id: str, score: float | None) -> str:
        block = None if score is None else {"score": score}
        return json.dumps({"agent_id": "a", "test_id": test_id, "repeat": 0, "scoring": block})

    scores = "\n".join(
        [scored("t1", 0.0), '{"agent_id": "a", "te' + scored("t1", 0.5), scored("t2", None)]
    )
    journal = line("a", "t1") + line("a", "t2") + line("a", "t3")
    with JournalIndex.build(run_with(tmp_path, journal, scores + "\n"), KEYS) as index:
        # the torn line swallowed t1's second scoring: the first one stands
        assert index.scoring(0) == {"score": 0.0}
        assert index.has_stored_scoring(1) and index.scoring(1) is None
        assert not index.has_stored_scoring(2) and index.scoring(2) is None
        index.keep_scoring(2, {"score": 1.0})
        index.keep_scoring(0, {"score": 0.25})
        assert index.scoring(2) == {"score": 1.0} and index.scoring(0) == {"score": 0.25}


def finish_small(run: RunDirectory, rescore: bool) -> dict[str, Any]:
    tests = [
        TestCase.model_validate(
            {"id": f"t{i}", "name": "n", "category": "c", "prompt": "p", "expected": "answer"}
        )
        for i in range(1, 6)
    ]
    return finish(
        run,
        tests=tests,
        agents=[AgentInfo("a", None, "http://a")],
        repeats=1,
        status="completed",
        judge_api=None,
        supervisor=HelperSection(),
        cache_dir=None,
        rescore=rescore,
        served_models=True,
    )


def test_finish_writes_scores_in_batches_to_scores_jsonl_and_the_result_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(finish_mod, "SCORES_BATCH", 2)
    monkeypatch.setattr(finish_mod, "SCORING_WINDOW", 2)
    journal = "".join(line("a", f"t{i}", text="answer" if i != 3 else "no") for i in range(1, 6))
    run = run_with(tmp_path, journal)
    for i in range(1, 6):
        target = run.result_file("a", f"t{i}", 0)
        target.parent.mkdir(exist_ok=True)
        target.write_text(json.dumps({"test_id": f"t{i}"}), encoding="utf-8")
    summary = finish_small(run, rescore=False)
    lines = [json.loads(x) for x in (run.path / SCORES).read_text().splitlines()]
    assert [x["test_id"] for x in lines] == ["t1", "t2", "t3", "t4", "t5"]
    assert [x["scoring"]["passed"] for x in lines] == [True, True, False, True, True]
    for x in lines:
        stored = json.loads(run.result_file("a", x["test_id"], 0).read_text(encoding="utf-8"))
        assert stored["scoring"] == x["scoring"]
    (agent,) = summary["agents"]
    assert agent["model"] == "model-a"  # as the results name it
    assert (agent["planned"], agent["not_run"], agent["quality"]["pass_rate"]) == (5, 0, 0.8)
    assert "| t3 | 0 | c | exact: " in (run.path / "report.md").read_text(encoding="utf-8")

    # without rescore, what has a score keeps it; with it, everything is scored again
    finish_small(run, rescore=False)
    assert len((run.path / SCORES).read_text().splitlines()) == 5
    finish_small(run, rescore=True)
    assert len((run.path / SCORES).read_text().splitlines()) == 10
