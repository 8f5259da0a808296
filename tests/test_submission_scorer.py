"""The ``submission`` scorer: metrics by hand and against scikit-learn, skill, every kind of
invalid submission, the evaluator in the jail, and the spec errors a user sees through the suite
loader. Expected values are worked out by hand in the comments."""

from __future__ import annotations

import json
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sklearn import metrics

from llmbench.errors import SuiteError
from llmbench.scoring.base import Score, ScoreInput
from llmbench.scoring.specs import check_suite_scoring, runs_code, scorers_for
from llmbench.scoring.submission import SubmissionScorer, compute_metric, skill
from llmbench.suite.loader import load_suite
from tests.sandbox_support import leftovers

# a regression task: five houses, their prices
REFERENCE = "id,price\n1,100\n2,200\n3,300\n4,400\n5,500\n"
PERFECT = "id,price\n1,100\n2,200\n3,300\n4,400\n5,500\n"
CONTRACT = {
    "file",
    "valid",
    "reason",
    "metric",
    "metric_value",
    "higher_is_better",
    "baseline",
    "best",
    "skill",
    "achieved",
    "rows",
}


def rmse_entry(**fields: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "type": "submission",
        "reference": "task/reference.csv",
        "id_column": "id",
        "target_column": "price",
        "metric": "rmse",
        "baseline": 100,
    }
    entry.update(fields)
    return entry


def write_suite(tmp_path: Path, *entries: dict[str, Any], reference: str = REFERENCE) -> Path:
    """``tmp_path/suite.json`` with one test scored by ``entries``, and its reference."""
    (tmp_path / "task").mkdir(exist_ok=True)
    (tmp_path / "task" / "reference.csv").write_text(reference, encoding="utf-8")
    test = {"id": "houses", "name": "n", "category": "c", "prompt": "p", "scoring": list(entries)}
    path = tmp_path / "suite.json"
    path.write_text(json.dumps({"tests": [test]}), encoding="utf-8")
    return path


def scorer_of(tmp_path: Path, *entries: dict[str, Any], reference: str = REFERENCE) -> Any:
    """The one scorer the suite's test gets, loaded as a run loads it."""
    suite = load_suite(write_suite(tmp_path, *entries, reference=reference))
    check_suite_scoring(suite)
    (scorer,) = scorers_for(suite.tests[0])
    return scorer


def submit(
    tmp_path: Path, scorer: Any, text: str | bytes | None, name: str = "submission.csv"
) -> Score:
    """The score of a submission ``text`` (None: no file written) saved under ``files/``."""
    files = tmp_path / "files"
    files.mkdir(exist_ok=True)
    if text is not None:
        data = text.encode() if isinstance(text, str) else text
        (files / name).parent.mkdir(parents=True, exist_ok=True)
        (files / name).write_bytes(data)
    suite = load_suite(tmp_path / "suite.json")
    return scorer(ScoreInput(suite.tests[0], "", files_dir=files))  # type: ignore[no-any-return]


def rmse_score(tmp_path: Path, text: str | bytes | None, **fields: Any) -> Score:
    return submit(tmp_path, scorer_of(tmp_path, rmse_entry(**fields)), text)


# --- metrics ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "truth", "predicted", "expected"),
    [
        # squared errors 0, 0, 4: sqrt(4 / 3)
        ("rmse", ["1", "2", "3"], ["1", "2", "5"], math.sqrt(4 / 3)),
        # absolute errors 0, 0, 2: 2 / 3
        ("mae", ["1", "2", "3"], ["1", "2", "5"], 2 / 3),
        # residuals 4 over a total of squares (1 + 0 + 1) = 2: 1 - 4 / 2
        ("r2", ["1", "2", "3"], ["1", "2", "5"], -1.0),
        # three of four
        ("accuracy", ["a", "b", "c", "a"], ["a", "b", "b", "a"], 0.75),
        # labels as strings, stripped of spaces by the reader: "1.0" is not "1"
        ("accuracy", ["1", "2"], ["1", "2.0"], 0.5),
        # f1 per class: a 1, b (precision 1/2, recall 1) 2/3, c 0: mean 5/9
        ("f1", ["a", "b", "c", "a"], ["a", "b", "b", "a"], 5 / 9),
        # of the four (positive, negative) pairs, (0.35, 0.4) is ranked wrong: 3/4
        ("auc", ["0", "0", "1", "1"], ["0.1", "0.4", "0.35", "0.8"], 0.75),
        # the positive class of two labels that are not numbers is the later: yes
        ("auc", ["no", "no", "yes", "yes"], ["0.1", "0.4", "0.35", "0.8"], 0.75),
        # of 0 and 1 written as numbers, 1
        ("auc", ["0.0", "0", "1", "1.0"], ["0.1", "0.4", "0.35", "0.8"], 0.75),
    ],
)
def test_metric_by_hand(
    metric: str, truth: list[str], predicted: list[str], expected: float
) -> None:
    assert compute_metric(metric, truth, predicted) == pytest.approx(expected, abs=1e-12)


def test_metrics_match_scikit_learn_on_random_data() -> None:
    rng = random.Random(17)
    n = 300
    truth = [rng.gauss(50, 20) for _ in range(n)]
    guess = [t + rng.gauss(0, 10) for t in truth]
    labels = [rng.choice("abc") for _ in range(n)]
    guessed = [lab if rng.random() < 0.7 else rng.choice("abc") for lab in labels]
    classes = [rng.randint(0, 1) for _ in range(n)]
    chances = [min(1.0, max(0.0, c * 0.3 + rng.random() * 0.7)) for c in classes]
    as_text = [repr(v) for v in guess]
    expected = {
        "rmse": math.sqrt(metrics.mean_squared_error(truth, guess)),
        "mae": metrics.mean_absolute_error(truth, guess),
        "r2": metrics.r2_score(truth, guess),
        "accuracy": metrics.accuracy_score(labels, guessed),
        "f1": metrics.f1_score(labels, guessed, average="macro"),
        "auc": metrics.roc_auc_score(classes, chances),
    }
    assert compute_metric("rmse", [repr(v) for v in truth], as_text) == pytest.approx(
        expected["rmse"]
    )
    assert compute_metric("mae", [repr(v) for v in truth], as_text) == pytest.approx(
        expected["mae"]
    )
    assert compute_metric("r2", [repr(v) for v in truth], as_text) == pytest.approx(expected["r2"])
    assert compute_metric("accuracy", labels, guessed) == pytest.approx(expected["accuracy"])
    assert compute_metric("f1", labels, guessed) == pytest.approx(expected["f1"])
    auc = compute_metric("auc", [str(c) for c in classes], [repr(p) for p in chances])
    assert auc == pytest.approx(expected["auc"])


# --- skill --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric_value", "baseline", "best", "expected"),
    [
        (0.8, 0.6, 1.0, 0.5),  # higher is better: (0.8 - 0.6) / (1 - 0.6)
        (20_512, 30_000, 0, 0.31626666666666664),  # lower: (20512 - 30000) / (0 - 30000)
        (30_000, 30_000, 0, 0.0),  # at the baseline
        (0.6, 0.6, 1.0, 0.0),
        (40_000, 30_000, 0, -1 / 3),  # worse than the baseline
        (0.0, 0.5, 0.9, -1.25),
    ],
)
def test_skill(metric_value: float, baseline: float, best: float, expected: float) -> None:
    assert skill(metric_value, baseline, best) == pytest.approx(expected, abs=1e-12)


def verdict(metric_value: float, baseline: float, best: float, higher: bool) -> Score:
    scorer = SubmissionScorer(Path("unused"), baseline, best, higher, metric="rmse")
    return scorer._verdict(metric_value, 5)


def test_the_baseline_exactly_is_achieved_with_value_0() -> None:
    score = verdict(30_000, 30_000, 0, False)
    assert (score.value, score.passed, score.details["achieved"]) == (0.0, True, True)  # type: ignore[index]


def test_below_the_baseline_is_clipped_to_0_and_not_achieved() -> None:
    score = verdict(40_000, 30_000, 0, False)
    assert (score.value, score.passed) == (0.0, False)
    assert score.details is not None and score.details["skill"] == pytest.approx(-1 / 3)
    assert (
        score.reason == "rmse 40,000 (baseline 30,000, best 0): skill -0.33, baseline not achieved"
    )


def test_past_the_best_is_clipped_to_1() -> None:
    # best 0.9 given, the submission reaches 1.0: skill (1 - 0.5) / (0.9 - 0.5) = 1.25
    score = verdict(1.0, 0.5, 0.9, True)
    assert (score.value, score.passed) == (1.0, True)
    assert score.details is not None and score.details["skill"] == pytest.approx(1.25)


def test_the_reason_line() -> None:
    score = verdict(20_512, 30_000, 0, False)
    assert score.reason == "rmse 20,512 (baseline 30,000, best 0): skill 0.32, baseline achieved"


# --- submissions through the scorer --------------------------------------------------------


def test_a_perfect_submission_has_skill_1(tmp_path: Path) -> None:
    score = rmse_score(tmp_path, PERFECT)
    assert (score.value, score.passed, score.error) == (1.0, True, None)
    assert score.reason == "rmse 0 (baseline 100, best 0): skill 1.00, baseline achieved"
    assert score.details == {
        "file": "submission.csv",
        "valid": True,
        "reason": None,
        "metric": "rmse",
        "metric_value": 0.0,
        "higher_is_better": False,
        "baseline": 100.0,
        "best": 0.0,
        "skill": 1.0,
        "achieved": True,
        "rows": 5,
    }


def test_a_submission_at_the_baseline_is_achieved(tmp_path: Path) -> None:
    # every price off by 100: rmse 100, the baseline
    score = rmse_score(tmp_path, "id,price\n1,200\n2,300\n3,400\n4,500\n5,600\n")
    assert (score.value, score.passed) == (0.0, True)
    assert score.details is not None
    assert (score.details["metric_value"], score.details["skill"]) == (100.0, 0.0)


def test_a_submission_below_the_baseline(tmp_path: Path) -> None:
    # every price off by 200: rmse 200, skill (200 - 100) / (0 - 100) = -1
    score = rmse_score(tmp_path, "id,price\n1,300\n2,400\n3,500\n4,600\n5,700\n")
    assert (score.value, score.passed) == (0.0, False)
    assert score.details is not None
    assert (score.details["skill"], score.details["achieved"], score.details["valid"]) == (
        -1.0,
        False,
        True,
    )


def test_rows_in_another_order_are_matched_by_id(tmp_path: Path) -> None:
    # one price off by 50: rmse sqrt(2500 / 5) = 22.36, skill 0.7764
    score = rmse_score(tmp_path, "id,price\n5,500\n3,350\n1,100\n4,400\n2,200\n")
    assert score.details is not None
    assert score.details["metric_value"] == pytest.approx(math.sqrt(500))
    assert score.value == pytest.approx(1 - math.sqrt(500) / 100)


def test_spaces_blank_lines_a_byte_order_mark_and_crlf_are_accepted(tmp_path: Path) -> None:
    text = "\ufeffid , price\r\n 1, 100\r\n\r\n2,200\r\n3,300\r\n4,400\r\n5,500\r\n"
    assert rmse_score(tmp_path, text).value == 1.0


def test_classification_by_accuracy(tmp_path: Path) -> None:
    reference = "id,label\na,cat\nb,dog\nc,dog\nd,cat\n"
    entry = rmse_entry(target_column="label", metric="accuracy", baseline=0.5)
    scorer = scorer_of(tmp_path, entry, reference=reference)
    # three of four right: accuracy 0.75, skill (0.75 - 0.5) / (1 - 0.5) = 0.5
    score = submit(tmp_path, scorer, "id,label\nd,cat\nc,dog\nb,cat\na,cat\n")
    assert (score.value, score.passed) == (0.5, True)
    assert score.reason == "accuracy 0.75 (baseline 0.5, best 1): skill 0.50, baseline achieved"


INVALID = [
    (
        "id,price\n1,100\n2,200\n",
        "invalid submission: 3 ids missing (e.g. 3, 4, 5)",
    ),
    (
        PERFECT + "6,600\n7,700\n",
        "invalid submission: 2 extra ids (e.g. 6, 7)",
    ),
    (
        "id,price\n1,100\n2,200\n3,300\n4,400\n",
        "invalid submission: 1 id missing (e.g. 5)",
    ),
    (
        "id,price\n1,100\n2,200\n3,300\n4,400\n9,500\n",
        "invalid submission: 1 id missing (e.g. 5); 1 extra id (e.g. 9)",
    ),
    (
        PERFECT + "3,333\n",
        "invalid submission: 1 duplicate id (e.g. 3 on lines 4 and 7)",
    ),
    (
        "id,value\n1,100\n",
        "invalid submission: submission.csv has no column 'price' (columns found: 'id', 'value')",
    ),
    (
        "house,price\n1,100\n",
        "invalid submission: submission.csv has no column 'id' (columns found: 'house', 'price')",
    ),
    (
        'id,price\n1,100\n2,"200\n3,300\n',
        "invalid submission: submission.csv line 4: not valid CSV (unexpected end of data)",
    ),
    (
        'id,price\n1,100\n2,"2"00\n',
        "invalid submission: submission.csv line 3: not valid CSV (',' expected after '\"')",
    ),
    (
        "id,price\n1,100\n2,200,7\n",
        "invalid submission: submission.csv line 3: 3 fields, the header has 2",
    ),
    (
        "id,price\n1,100\n2,two hundred\n",
        "invalid submission: submission.csv line 3: 'price' is not a number: 'two hundred'",
    ),
    (
        "id,price\n1,100\n2,nan\n",
        "invalid submission: submission.csv line 3: 'price' is not a number: 'nan'",
    ),
    (
        "id,price\n1,100\n,200\n",
        "invalid submission: submission.csv line 3: empty 'id'",
    ),
    (
        "",
        "invalid submission: submission.csv is empty (expected a header line id,price)",
    ),
    (
        b"id,price\n1,100\n2,\xff00\n",
        "invalid submission: submission.csv line 3: not UTF-8 text (byte 18)",
    ),
]


@pytest.mark.parametrize(("text", "reason"), INVALID)
def test_an_invalid_submission_scores_0_with_its_reason(
    tmp_path: Path, text: str | bytes, reason: str
) -> None:
    score = rmse_score(tmp_path, text)
    assert (score.value, score.passed, score.error, score.reason) == (0.0, False, None, reason)
    assert score.details is not None
    assert (score.details["valid"], score.details["reason"]) == (False, reason)
    assert (score.details["metric_value"], score.details["skill"]) == (None, None)
    assert score.details["achieved"] is False


def test_no_file_written(tmp_path: Path) -> None:
    score = rmse_score(tmp_path, None)
    assert (score.value, score.passed, score.error) == (0.0, False, None)
    assert score.reason == "no submission: /home/agent/submission.csv was not written"
    assert score.details is not None
    assert (score.details["valid"], score.details["rows"]) == (False, None)


def test_no_files_saved_at_all(tmp_path: Path) -> None:
    scorer = scorer_of(tmp_path, rmse_entry())
    suite = load_suite(tmp_path / "suite.json")
    score = scorer(ScoreInput(suite.tests[0], "", files_dir=None))
    assert score.reason == "no submission: /home/agent/submission.csv was not written"


def test_a_file_in_a_subfolder(tmp_path: Path) -> None:
    scorer = scorer_of(tmp_path, rmse_entry(file="./out/preds.csv"))
    score = submit(tmp_path, scorer, PERFECT, name="out/preds.csv")
    assert score.value == 1.0
    assert score.details is not None and score.details["file"] == "out/preds.csv"


def test_a_folder_in_place_of_the_file(tmp_path: Path) -> None:
    (tmp_path / "files" / "submission.csv").mkdir(parents=True)
    score = rmse_score(tmp_path, None)
    assert score.reason == "invalid submission: /home/agent/submission.csv is not a regular file"


def test_a_file_of_1_gb_is_invalid_by_its_size_without_being_read(tmp_path: Path) -> None:
    files = tmp_path / "files"
    files.mkdir()
    with (files / "submission.csv").open("wb") as f:
        f.truncate(1 << 30)  # sparse: no disk, and it would take seconds to read
    start = time.monotonic()
    score = rmse_score(tmp_path, None)
    assert time.monotonic() - start < 5
    assert score.reason == (
        "invalid submission: /home/agent/submission.csv is 1,073,741,824 bytes, over the cap of "
        "67,108,864 bytes"
    )
    assert score.details is not None and score.details["valid"] is False


def test_max_bytes_is_the_cap(tmp_path: Path) -> None:
    score = rmse_score(tmp_path, PERFECT, max_bytes=10)
    assert score.reason == (
        f"invalid submission: /home/agent/submission.csv is {len(PERFECT)} bytes, over the cap "
        "of 10 bytes"
    )


def _left_out(tmp_path: Path, name: str, size: int) -> None:
    files = tmp_path / "files"
    files.mkdir()
    listing = {"cap_bytes": 1000, "left_out": [{"file": name, "bytes": size}]}
    (files / ".llmbench-cut.json").write_text(json.dumps(listing), encoding="utf-8")


def test_a_submission_left_out_when_saved_is_invalid(tmp_path: Path) -> None:
    _left_out(tmp_path, "submission.csv", 5000)
    score = rmse_score(tmp_path, None)
    assert score.reason == (
        "invalid submission: /home/agent/submission.csv (5,000 bytes) was not saved: the agent's "
        "files passed [sandbox] save_files_mb"
    )


def test_other_files_left_out_do_not_matter(tmp_path: Path) -> None:
    _left_out(tmp_path, "model.pkl", 10)
    assert rmse_score(tmp_path, PERFECT).value == 1.0


def test_a_bad_reference_is_an_error_not_a_zero(tmp_path: Path) -> None:
    score = submit(
        tmp_path,
        scorer_of(tmp_path, rmse_entry(), reference="id,price\n1,100\n2,lots\n"),
        "id,price\n1,100\n2,200\n",
    )
    reference = (tmp_path / "task" / "reference.csv").resolve()
    assert score.error == f"the reference {reference} line 3: 'price' is not a number: 'lots'"
    assert (
        score.value == 0.0 and score.details is not None and score.details["metric_value"] is None
    )


def test_without_scikit_learn_the_score_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn raises ImportError
    score = rmse_score(tmp_path, PERFECT)
    assert score.error == "the submission scorer needs scikit-learn: pip install 'llmbench[tasks]'"
    assert score.details is not None and score.details["valid"] is True


def test_details_keep_exactly_the_contract_keys(tmp_path: Path) -> None:
    for text in (PERFECT, None, "id,price\n1,1\n"):
        details = rmse_score(tmp_path, text).details
        assert details is not None and set(details) == CONTRACT
        (tmp_path / "files" / "submission.csv").unlink(missing_ok=True)


def test_it_runs_off_the_event_loop(tmp_path: Path) -> None:
    assert scorer_of(tmp_path, rmse_entry()).blocking is True


# --- Score records -----------------------------------------------------------------------


def test_old_score_records_without_details_load() -> None:
    old = {
        "scorer": "exact",
        "value": 1.0,
        "passed": True,
        "reason": "r",
        "secondary": False,
        "error": None,
    }
    score = Score.from_dict(old)
    assert score.details is None
    assert score.to_dict() == old  # written back in the same shape


def test_details_are_written_and_read_back() -> None:
    score = Score("submission", 0.5, True, "r", details={"valid": True, "skill": 0.5})
    data = json.loads(json.dumps(score.to_dict()))
    assert data["details"] == {"valid": True, "skill": 0.5}
    assert Score.from_dict(data) == score


# --- the evaluator, in the jail ------------------------------------------------------------


def evaluator_scorer(tmp_path: Path, source: str, **fields: Any) -> Any:
    (tmp_path / "task").mkdir(exist_ok=True)
    (tmp_path / "task" / "evaluate.py").write_text(source, encoding="utf-8")
    entry: dict[str, Any] = {
        "type": "submission",
        "reference": "task/reference.csv",
        "evaluator": "task/evaluate.py",
        "higher_is_better": True,
        "baseline": 0.5,
        "best": 1,
    }
    entry.update(fields)
    return scorer_of(tmp_path, entry)


COUNTING = """
import csv

def evaluate(reference_path, submission_path):
    print("printed output is dropped")
    with open(reference_path, newline="") as f:
        truth = {row["id"]: float(row["price"]) for row in csv.DictReader(f)}
    with open(submission_path, newline="") as f:
        guess = {row["id"]: float(row["price"]) for row in csv.DictReader(f)}
    return sum(abs(guess[k] - v) < 1 for k, v in truth.items()) / len(truth)
"""


def test_an_evaluator_scores_in_the_sandbox(tmp_path: Path) -> None:
    scorer = evaluator_scorer(tmp_path, COUNTING)
    # four of five prices right: 0.8, skill (0.8 - 0.5) / (1 - 0.5) = 0.6
    score = submit(tmp_path, scorer, "id,price\n1,100\n2,200\n3,300\n4,400\n5,0\n")
    assert score.error is None
    assert score.value == pytest.approx(0.6)
    assert score.reason == "evaluator 0.8 (baseline 0.5, best 1): skill 0.60, baseline achieved"
    assert score.details is not None
    assert (score.details["metric"], score.details["rows"]) == ("evaluator", None)
    assert leftovers() == []


def test_an_evaluator_with_columns_checks_the_ids_first(tmp_path: Path) -> None:
    scorer = evaluator_scorer(tmp_path, COUNTING, id_column="id", target_column="price")
    score = submit(tmp_path, scorer, "id,price\n1,100\n")
    assert score.reason == "invalid submission: 4 ids missing (e.g. 2, 3, 4)"


@pytest.mark.parametrize(
    ("source", "error"),
    [
        (
            "def evaluate(reference_path, submission_path):\n    return 1 / 0\n",
            "the evaluator evaluate.py failed: raised ZeroDivisionError: division by zero",
        ),
        (
            "def evaluate(reference_path, submission_path):\n    return float('nan')\n",
            "the evaluator evaluate.py failed: returned nan, expected a finite number",
        ),
        (
            "def evaluate(reference_path, submission_path):\n    return 'good'\n",
            "the evaluator evaluate.py failed: returned str, expected a number",
        ),
        (
            "def evaluate(reference_path, submission_path):\n    import os; os._exit(3)\n",
            "the evaluator evaluate.py failed: its session ended during the call (killed, or it exited)",
        ),
    ],
)
def test_a_failing_evaluator_is_an_error_never_a_zero(
    tmp_path: Path, source: str, error: str
) -> None:
    score = submit(tmp_path, evaluator_scorer(tmp_path, source), PERFECT)
    assert score.error == error
    assert score.reason == error
    assert score.details is not None
    assert (score.details["valid"], score.details["metric_value"]) == (True, None)


def test_the_evaluator_cannot_see_the_host(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("the instructor's context", encoding="utf-8")
    # the repository's files (its folder may exist in the jail, empty but for the mount point
    # of a venv inside it, which the jail binds alone)
    readme = str(Path(__file__).resolve().parents[1] / "README.md")
    source = f"""
import os

def evaluate(reference_path, submission_path):
    seen = [os.path.exists(p) for p in ({str(secret)!r}, {str(tmp_path)!r}, {readme!r})]
    return 0.25 if not any(seen) else 0.75
"""
    score = submit(tmp_path, evaluator_scorer(tmp_path, source, baseline=0), PERFECT)
    assert score.error is None
    assert score.details is not None and score.details["metric_value"] == 0.25


def test_an_evaluator_marks_the_test_as_running_code(tmp_path: Path) -> None:
    evaluator_scorer(tmp_path, COUNTING)
    assert runs_code(load_suite(tmp_path / "suite.json").tests[0])
    scorer_of(tmp_path, rmse_entry())
    assert not runs_code(load_suite(tmp_path / "suite.json").tests[0])


# --- spec errors, as the suite loader and the scorer check report them -------------------

LABEL = "tests[0] (id 'houses')"
ENTRY = "test 'houses': scoring[0] (submission)"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"evaluator": "task/evaluate.py"},
            f"{ENTRY}: give 'metric' or 'evaluator', not both",
        ),
        ({"metric": None}, f"{ENTRY}: give 'metric' or 'evaluator', one is needed"),
        (
            {"metric": "rsme"},
            f"{ENTRY}: field 'metric': unknown metric 'rsme'; did you mean rmse? (one of accuracy, f1, rmse, mae, r2, auc)",
        ),
        (
            {"file": "../results/submission.csv"},
            f"{ENTRY}: field 'file': expected a path inside /home/agent, relative to it and without '..', like 'submission.csv', got '../results/submission.csv'",
        ),
        (
            {"file": "/home/agent/submission.csv"},
            f"{ENTRY}: field 'file': expected a path inside /home/agent, relative to it and without '..', like 'submission.csv', got '/home/agent/submission.csv'",
        ),
        ({"best": 100}, f"{ENTRY}: field 'best': equals 'baseline' (100); skill needs them apart"),
        (
            {"best": 200},
            f"{ENTRY}: field 'best': 200 must be below 'baseline' (100) when lower is better",
        ),
        (
            {"higher_is_better": True},
            f"{ENTRY}: field 'higher_is_better': rmse is better lower; leave it out",
        ),
        ({"baseline": None}, f"{ENTRY}: missing required field 'baseline'"),
        (
            {"baseline": "30k"},
            f"{ENTRY}: field 'baseline': input should be a valid number, got '30k'",
        ),
        (
            {"target_column": None},
            f"{ENTRY}: missing required field 'target_column' (a metric needs it)",
        ),
        ({"max_bytes": 0}, f"{ENTRY}: field 'max_bytes': input should be greater than 0, got 0"),
        (
            {"treshold": 1},
            f"{ENTRY}: unknown key 'treshold'; known keys: baseline, best, evaluator, file, higher_is_better, id_column, max_bytes, metric, reference, target_column, type",
        ),
        (
            {"reference": "task/nowhere.csv"},
            f"{LABEL}: 'scoring[0].reference': task/nowhere.csv does not exist (looked for {{tmp}}/task/nowhere.csv; paths are relative to the suite file)",
        ),
        ({"reference": "task"}, f"{LABEL}: 'scoring[0].reference': task is not a file"),
    ],
)
def test_spec_errors_as_the_user_sees_them(
    tmp_path: Path, fields: dict[str, Any], message: str
) -> None:
    (tmp_path / "task").mkdir()
    (tmp_path / "task" / "evaluate.py").write_text(COUNTING, encoding="utf-8")
    entry = {k: v for k, v in rmse_entry(**fields).items() if v is not None}
    path = write_suite(tmp_path, entry)
    with pytest.raises(SuiteError) as info:
        check_suite_scoring(load_suite(path), path)
    assert str(info.value) == f"{path}: {message.replace('{tmp}', str(tmp_path.resolve()))}"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"best": None}, "missing required field 'best' (an evaluator needs it)"),
        (
            {"higher_is_better": None},
            "missing required field 'higher_is_better' (an evaluator needs it)",
        ),
        (
            {"source": "def score(a, b):\n    return 1\n"},
            "'evaluator': task/evaluate.py defines no function evaluate(reference_path, submission_path)",
        ),
        (
            {"source": "def evaluate(a, b):\n  return (\n"},
            "'evaluator': task/evaluate.py is not valid Python (line 2)",
        ),
    ],
)
def test_evaluator_spec_errors(tmp_path: Path, fields: dict[str, Any], message: str) -> None:
    source = fields.pop("source", COUNTING)
    (tmp_path / "task").mkdir()
    (tmp_path / "task" / "evaluate.py").write_text(source, encoding="utf-8")
    entry = {
        "type": "submission",
        "reference": "task/reference.csv",
        "evaluator": "task/evaluate.py",
        "higher_is_better": True,
        "baseline": 0.5,
        "best": 1,
        **fields,
    }
    path = write_suite(tmp_path, {k: v for k, v in entry.items() if v is not None})
    with pytest.raises(SuiteError) as info:
        check_suite_scoring(load_suite(path), path)
    evaluator = str((tmp_path / "task" / "evaluate.py").resolve())
    expected = message.replace("task/evaluate.py", evaluator)
    assert str(info.value) == f"{path}: {ENTRY}: {expected}"


def test_reference_is_resolved_relative_to_the_suite_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_suite(tmp_path, rmse_entry())
    monkeypatch.chdir("/")
    (test,) = load_suite(path).tests
    entry = (test.model_extra or {})["scoring"][0]
    assert entry["reference"] == str((tmp_path / "task" / "reference.csv").resolve())


def test_the_evaluator_runs_with_the_runs_sandbox_settings(tmp_path: Path) -> None:
    from llmbench.sandbox import SandboxSettings

    source = "import time\n\ndef evaluate(reference_path, submission_path):\n    time.sleep(60)\n"
    evaluator_scorer(tmp_path, source)
    (test,) = load_suite(tmp_path / "suite.json").tests
    quick = SandboxSettings(call_timeout_s=1.0, interrupt_grace_s=0.5)
    (scorer,) = scorers_for(test, quick)
    files = tmp_path / "files"
    files.mkdir()
    (files / "submission.csv").write_text(PERFECT, encoding="utf-8")
    start = time.monotonic()
    score = scorer(ScoreInput(test, "", files_dir=files))
    assert score.error == "the evaluator evaluate.py failed: timed out after 1 s"
    assert time.monotonic() - start < 30
    assert leftovers() == []


def test_a_symbolic_link_out_of_the_saved_files_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "preds.csv").write_text(PERFECT, encoding="utf-8")
    files = tmp_path / "files"
    files.mkdir()
    (files / "out").symlink_to(outside)
    scorer = scorer_of(tmp_path, rmse_entry(file="out/preds.csv"))
    score = submit(tmp_path, scorer, None)
    assert score.reason == (
        "invalid submission: /home/agent/out/preds.csv is not inside /home/agent (a symbolic link "
        "on its path)"
    )
