"""The rule-based scorers and the ``scoring`` spec parser: what each answer scores, and what the
user is told about a bad spec. Every expected value below is worked out by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from llmbench.errors import SuiteError
from llmbench.scoring.base import Score, ScoreInput
from llmbench.scoring.choice import extract_choice
from llmbench.scoring.json_scorer import extract_json
from llmbench.scoring.normalize import normalize, strip_punctuation
from llmbench.scoring.numeric import numbers
from llmbench.scoring.specs import JudgeSpec, check_suite_scoring, judge_spec, scorers_for
from llmbench.suite.loader import load_suite
from llmbench.suite.models import Suite, TestCase

ROOT = Path(__file__).parent.parent


def case(scoring: list[Any] | dict[str, Any] | None = None, **fields: Any) -> TestCase:
    """A valid test ``arith_01``; ``scoring`` and ``fields`` are added as given."""
    data: dict[str, Any] = {"id": "arith_01", "name": "n", "category": "c", "prompt": "q"}
    if scoring is not None:
        data["scoring"] = scoring
    data.update(fields)
    return TestCase.model_validate(data)


def score(spec: dict[str, Any], answer: str, **fields: Any) -> Score:
    """The score of ``answer`` by the one scorer ``spec`` describes."""
    (scorer,) = scorers_for(case([spec], **fields))
    return scorer(ScoreInput(case([spec], **fields), answer))


# --- normalisation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "stripped"),
    [
        ("**Paris.**", "Paris"),
        ('"yes!"', "yes"),
        ("don't", "don't"),
        ("11:45", "11:45"),
        ("3.14.", "3.14"),
        ("-5", "-5"),
        ("$5", "5"),
        ("(a) or (b)", "a or b"),
    ],
)
def test_strip_punctuation_keeps_inner_marks_and_signs(text: str, stripped: str) -> None:
    assert strip_punctuation(text) == stripped


def test_normalize_folds_case_width_and_whitespace() -> None:
    assert normalize("  Ｐａｒｉｓ \n\t IS  big. ") == "paris is big"


# --- exact ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected", "answer", "passed"),
    [
        ({}, "Paris", "Paris", True),
        ({}, "Paris", "paris.", True),
        ({}, "Paris", "**Paris**", True),
        ({}, "Paris", "  Paris \n", True),
        ({}, "Paris", "The capital is Paris.", False),
        ({}, "11:45", "11:45", True),
        ({}, "11:45", "11.45", False),
        ({}, "5", "-5", False),
        ({}, ["NYC", "New York"], "new  york!", True),
        ({}, True, "True", True),
        ({}, 10.5, "10.5", True),
        ({"case_sensitive": True}, "Paris", "paris", False),
        ({"ignore_punctuation": False}, "Paris", "Paris.", False),
        ({"normalize_whitespace": False}, "New York", "New  York", False),
        ({"value": "Lyon"}, "Paris", "Lyon", True),
        ({"value": "Lyon"}, "Paris", "Paris", False),
    ],
)
def test_exact(spec: dict[str, Any], expected: Any, answer: str, passed: bool) -> None:
    result = score({"type": "exact", **spec}, answer, expected=expected)
    assert (result.value, result.passed) == (float(passed), passed)


def test_exact_reason_shows_expected_and_answer() -> None:
    assert score({"type": "exact"}, "Lyon.", expected="Paris").reason == (
        "expected 'Paris', got 'Lyon.'"
    )
    assert score({"type": "exact"}, " ", expected=["a", "b"]).reason == (
        "expected 'a' or 'b', got an empty answer"
    )


# --- contains ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "answer", "value", "passed", "reason"),
    [
        ({"all": ["Paris", "France"]}, "Paris is in France.", 1.0, True, "found 2/2"),
        (
            {"all": ["Paris", "Berlin", "Rome", "Oslo"]},
            "Paris, then Rome.",
            0.5,
            False,
            "found 2/4; missing 'Berlin', 'Oslo'",
        ),
        ({"any": ["Paris", "Lyon"]}, "I like lyon", 1.0, True, "found 'Lyon'"),
        ({"any": ["Paris", "Lyon"]}, "Nice", 0.0, False, "none of 'Paris', 'Lyon' found"),
        ({"all": ["Paris"]}, "Parisian food", 0.0, False, "found 0/1; missing 'Paris'"),
        ({"all": ["Paris"], "whole_words": False}, "Parisian food", 1.0, True, "found 1/1"),
        (
            {"all": ["Paris"], "case_sensitive": True},
            "paris",
            0.0,
            False,
            "found 0/1; missing 'Paris'",
        ),
        ({"all": ["New York"]}, "in new\nyork", 1.0, True, "found 1/1"),
    ],
)
def test_contains(
    spec: dict[str, Any], answer: str, value: float, passed: bool, reason: str
) -> None:
    assert score({"type": "contains", **spec}, answer) == Score("contains", value, passed, reason)


def test_contains_defaults_to_expected() -> None:
    assert score({"type": "contains"}, "It is Paris.", expected="Paris").passed
    # a list of expected values is a list of alternatives, as for exact
    assert score({"type": "contains"}, "Maybe Lyon", expected=["Paris", "Lyon"]).passed


# --- regex ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "answer", "passed", "reason"),
    [
        ({"pattern": r"\b42\b"}, "The answer is 42.", True, "/\\b42\\b/ matched '42'"),
        ({"pattern": r"\b42\b"}, "It is 420.", False, "/\\b42\\b/ not found in the answer"),
        ({"pattern": r"\d+", "match": "fullmatch"}, " 42\n", True, "/\\d+/ matched '42'"),
        ({"pattern": r"\d+", "match": "fullmatch"}, "x 42", False, "/\\d+/ not match the answer"),
        ({"pattern": "yes", "flags": "i"}, "YES", True, "/yes/ matched 'YES'"),
        ({"pattern": "^b$", "flags": "m"}, "a\nb\nc", True, "/^b$/ matched 'b'"),
    ],
)
def test_regex(spec: dict[str, Any], answer: str, passed: bool, reason: str) -> None:
    assert score({"type": "regex", **spec}, answer) == Score("regex", float(passed), passed, reason)


# --- numeric -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "value", "percent"),
    [
        ("The answer is 30.", 30.0, False),
        ("1,000", 1000.0, False),
        ("It costs $1,234.50 in total", 1234.5, False),
        ("1e3", 1000.0, False),
        ("6.02E23", 6.02e23, False),
        ("3/4", 0.75, False),
        (r"$\frac{3}{4}$", 0.75, False),
        ("-2.5%", -2.5, True),
        ("25 percent", 25.0, True),
        (".5", 0.5, False),
        ("From 10 to 20, then 5", 5.0, False),
        ("10-20", 20.0, False),
        ("x = -7", -7.0, False),
        ("\u22123", -3.0, False),
        ("-$3", -3.0, False),
        ("1,2,3", 3.0, False),
        ("H2O has 3 atoms", 3.0, False),
        ("The answer is **42**.", 42.0, False),
    ],
)
def test_the_last_number_is_read(answer: str, value: float, percent: bool) -> None:
    last = numbers(answer)[-1]
    assert (last.value, last.percent) == (value, percent)


def test_no_number_in_words() -> None:
    assert numbers("five apples and a pear") == []


@pytest.mark.parametrize(
    ("spec", "expected", "answer", "passed", "reason"),
    [
        ({}, 30, "So the total is 30.", True, "expected 30, found 30 (last number of the answer)"),
        (
            {},
            30,
            "30 apples, minus 1 = 29",
            False,
            "expected 30, found 29 (last number of the answer)",
        ),
        ({}, 5, "I don't know", False, "expected 5; no number in the answer"),
        ({}, 10.5, "10.50", True, "expected 10.5, found 10.50 (last number of the answer)"),
        ({}, 1000, "1,000", True, "expected 1000, found 1,000 (last number of the answer)"),
        # the percent rule: 25% stands for 25 and 0.25
        ({}, 0.25, "25%", True, "expected 0.25, found 25% (last number of the answer)"),
        ({}, 25, "25%", True, "expected 25, found 25% (last number of the answer)"),
        ({}, "25%", "0.25", True, "expected 25%, found 0.25 (last number of the answer)"),
        ({}, 25, "0.25", False, "expected 25, found 0.25 (last number of the answer)"),
        ({}, -0.025, "-2.5%", True, "expected -0.025, found -2.5% (last number of the answer)"),
        # tolerances: |100.9 - 100| = 0.9 <= 0.01 * 100; |101.5 - 100| = 1.5 > 1
        (
            {"rel_tol": 0.01},
            100,
            "100.9",
            True,
            "expected 100, found 100.9 (last number of the answer)",
        ),
        (
            {"rel_tol": 0.01},
            100,
            "101.5",
            False,
            "expected 100, found 101.5 (last number of the answer)",
        ),
        # the edge is inside (<=), in exactly representable numbers: |7.5 - 7| = 0.5 <= 0.5,
        # |5 - 4| = 1 <= 0.25 * 4
        ({"abs_tol": 0.5}, 7, "7.5", True, "expected 7, found 7.5 (last number of the answer)"),
        ({"rel_tol": 0.25}, 4, "5", True, "expected 4, found 5 (last number of the answer)"),
        # rel_tol is relative to the expected value, not the found one: 25 > 0.2 * 100 (though
        # 25 <= 0.2 * 125), and 25 <= 0.2 * 125 (though 25 > 0.2 * 100)
        (
            {"rel_tol": 0.2},
            100,
            "125",
            False,
            "expected 100, found 125 (last number of the answer)",
        ),
        (
            {"rel_tol": 0.2},
            125,
            "100",
            True,
            "expected 125, found 100 (last number of the answer)",
        ),
        # default abs_tol 1e-6: 1e-7 off passes, 3.3e-4 off fails
        ({}, 0.1, "0.1000001", True, "expected 0.1, found 0.1000001 (last number of the answer)"),
        (
            {},
            0.3333333,
            "0.333",
            False,
            "expected 0.3333333, found 0.333 (last number of the answer)",
        ),
        ({"abs_tol": 0.5}, 7, "7.4", True, "expected 7, found 7.4 (last number of the answer)"),
        ({"value": 8}, 7, "8", True, "expected 8, found 8 (last number of the answer)"),
        (
            {"value": "3/4"},
            None,
            "0.75",
            True,
            "expected 3/4, found 0.75 (last number of the answer)",
        ),
    ],
)
def test_numeric(
    spec: dict[str, Any], expected: Any, answer: str, passed: bool, reason: str
) -> None:
    fields = {} if expected is None else {"expected": expected}
    assert score({"type": "numeric", **spec}, answer, **fields) == Score(
        "numeric", float(passed), passed, reason
    )


# --- choice --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "letter", "how"),
    [
        ("C", "C", "the whole answer"),
        ("(c)", "C", "the whole answer"),
        ("**C.**", "C", "the whole answer"),
        ("The answer is (B)", "B", "an explicit statement"),
        ("Answer: d", "D", "an explicit statement"),
        ("answer is b, since 2 > 1", "B", "an explicit statement"),
        ("I'd go with option A because it is cheaper.", "A", "an explicit statement"),
        ("A is tempting, but the answer is not A. Final answer: C", "C", "an explicit statement"),
        ("Between the options, **C** fits best.", "C", "bold or boxed letter"),
        (r"So $\boxed{D}$", "D", "bold or boxed letter"),
        ("Option B fits because 4 > 3.", "B", "'option X'"),
        ("B) 42, since 6 * 7 = 42", "B", "a line starting with a letter"),
        ("I think (D) fits.", "D", "letter in parentheses"),
        ("A good choice is B", "B", "a letter standing alone"),
        ("I believe C is right", "C", "a letter standing alone"),
    ],
)
def test_extract_choice(answer: str, letter: str, how: str) -> None:
    got = extract_choice(answer)
    assert (got.letter, got.how) == (letter, how)


def test_the_article_a_is_not_a_choice() -> None:
    # "the answer is a ..." (lower case before a word) and "A dog" are not choices
    assert extract_choice("the answer is a tricky one").letter is None
    assert extract_choice("A dog barks.").letter is None


def test_listing_every_option_is_ambiguous() -> None:
    got = extract_choice("A) 1\nB) 2\nC) 3")
    assert (got.letter, got.conflicting) == (None, ("A", "B", "C"))


@pytest.mark.parametrize(
    ("spec", "expected", "answer", "passed", "reason"),
    [
        ({}, "B", "The answer is (B)", True, "expected B, extracted B (an explicit statement)"),
        ({}, "b", "**C**", False, "expected B, extracted C (the whole answer)"),
        ({}, "B", "I cannot tell", False, "expected B; no choice found in the answer"),
        ({}, "B", "A) 1\nB) 2", False, "expected B; ambiguous: A, B"),
        (
            {"choices": "ABCDE"},
            "E",
            "Answer: E",
            True,
            "expected E, extracted E (an explicit statement)",
        ),
        (
            {"options": {"A": "Paris", "B": "Lyon"}},
            "Paris",
            "it's Paris, clearly",
            True,
            "expected A, extracted A (the option's text)",
        ),
    ],
)
def test_choice(
    spec: dict[str, Any], expected: str, answer: str, passed: bool, reason: str
) -> None:
    assert score({"type": "choice", **spec}, answer, expected=expected) == Score(
        "choice", float(passed), passed, reason
    )


# --- json ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "value", "where"),
    [
        ('Here:\n```json\n{"a": 1}\n```\nDone.', {"a": 1}, "fenced block"),
        ("```\n[1, 2]\n```", [1, 2], "fenced block"),
        (' {"a": 1} ', {"a": 1}, "whole answer"),
        ("5", 5, "whole answer"),
        ('Sure! {"a": [1, 2]}. Anything else?', {"a": [1, 2]}, "first JSON value in the text"),
        ('Use {braces} like {"b": true}', {"b": True}, "first JSON value in the text"),
    ],
)
def test_extract_json(answer: str, value: Any, where: str) -> None:
    assert extract_json(answer) == (value, where)


SCHEMA = {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["name"]}


@pytest.mark.parametrize(
    ("spec", "expected", "answer", "passed", "reason"),
    [
        ({}, None, '{"a": 1}', True, "valid JSON (whole answer)"),
        ({}, None, "no json here", False, "no JSON value in the answer"),
        (
            {},
            None,
            "```json\n{bad}\n```",
            False,
            "the fenced block is not valid JSON: Expecting property name enclosed in double "
            "quotes: line 1 column 2 (char 1)",
        ),
        (
            {"schema": SCHEMA},
            None,
            '{"name": "Al", "age": 3}',
            True,
            "valid JSON, matches the schema (whole answer)",
        ),
        (
            {"schema": SCHEMA},
            None,
            '{"age": 3}',
            False,
            "does not match the schema at $: 'name' is a required property",
        ),
        (
            {"schema": SCHEMA},
            None,
            '{"name": "Al", "age": "3"}',
            False,
            "does not match the schema at $.age: '3' is not of type 'integer'",
        ),
        (
            {"equals": True},
            {"b": [1, 2], "a": 1},
            '{"a": 1.0, "b": [1, 2]}',
            True,
            "valid JSON, equals expected (whole answer)",
        ),
        (
            {"equals": True},
            {"a": [1, 2]},
            '{"a": [1, 3]}',
            False,
            "differs from expected at $.a[1]: 3 != 2",
        ),
        (
            {"equals": True},
            {"a": 1},
            '{"a": true}',
            False,
            "differs from expected at $.a: true != 1",
        ),
        ({"equals": True}, {"a": 1}, "{}", False, "differs from expected at $: missing key 'a'"),
    ],
)
def test_json(spec: dict[str, Any], expected: Any, answer: str, passed: bool, reason: str) -> None:
    fields = {} if expected is None else {"expected": expected}
    assert score({"type": "json", **spec}, answer, **fields) == Score(
        "json", float(passed), passed, reason
    )


# --- reasoning -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("indicators", "spec", "answer", "value", "passed", "reason"),
    [
        (["add", "sum"], {}, "The sum is 5.", 0.5, True, "1/2 indicators (sum)"),
        (["add", "sum"], {}, "Adding them gives 5.", 0.0, False, "0/2 indicators"),
        (["add", "sum"], {}, "ADD them: the SUM is 5", 1.0, True, "2/2 indicators (add, sum)"),
        (
            ["last year", "fewer"],
            {},
            "Fewer than last  year.",
            1.0,
            True,
            "2/2 indicators (last year, fewer)",
        ),
        (
            ["a", "b", "c", "d"],
            {"threshold": 0.75},
            "a b c",
            0.75,
            True,
            "3/4 indicators (a, b, c)",
        ),
        (["a", "b", "c", "d"], {"threshold": 0.75}, "a b", 0.5, False, "2/4 indicators (a, b)"),
    ],
)
def test_reasoning(
    indicators: list[str],
    spec: dict[str, Any],
    answer: str,
    value: float,
    passed: bool,
    reason: str,
) -> None:
    result = score(
        {"type": "reasoning", **spec},
        answer,
        evaluation_config={"expected_indicators": indicators},
    )
    assert result == Score("reasoning", value, passed, reason, secondary=True)


# --- which scorers a test gets ---------------------------------------------------------------


def names(test: TestCase) -> list[str]:
    return [s.name for s in scorers_for(test)]


@pytest.mark.parametrize(
    ("fields", "expected_names"),
    [
        ({"expected": 5}, ["numeric"]),
        ({"expected": 10.5}, ["numeric"]),
        ({"expected": "Paris"}, ["exact"]),
        ({"expected": True}, ["exact"]),
        ({"expected": ["Paris", "paris, France"]}, ["exact"]),
        ({}, []),
        (
            {"expected": 5, "evaluation_config": {"expected_indicators": ["add"]}},
            ["numeric", "reasoning"],
        ),
        ({"evaluation_config": {"expected_indicators": ["add"]}}, ["reasoning"]),
        ({"expected": 5, "scoring": []}, []),
        ({"expected": 5, "scoring": None}, ["numeric"]),
        (
            {
                "expected": 5,
                "scoring": [
                    {"type": "numeric", "rel_tol": 0.01},
                    {"type": "contains", "all": ["5"]},
                ],
            },
            ["numeric", "contains"],
        ),
        (
            {
                "expected": 5,
                "evaluation_config": {"expected_indicators": ["add"]},
                "scoring": [{"type": "reasoning", "threshold": 1.0}, {"type": "judge"}],
            },
            ["reasoning"],
        ),
    ],
)
def test_scorers_for(fields: dict[str, Any], expected_names: list[str]) -> None:
    assert names(case(**fields)) == expected_names


def test_judge_spec_is_parsed_but_not_built() -> None:
    test = case([{"type": "judge", "rubric": "Names Paris."}, {"type": "exact"}], expected="Paris")
    assert names(test) == ["exact"]
    assert judge_spec(test) == JudgeSpec(type="judge", rubric="Names Paris.")
    assert judge_spec(case(expected="Paris")) is None


KNOWN = "exact, contains, regex, numeric, choice, json, python, reasoning, judge, submission"


@pytest.mark.parametrize(
    ("scoring", "fields", "message"),
    [
        (
            [{"type": "numeric"}, {"type": "numeric", "rel_tl": 0.01}],
            {"expected": 5},
            "scoring[1] (numeric): unknown key 'rel_tl'; did you mean rel_tol?",
        ),
        ([{"type": "numerc"}], {}, "scoring[0]: unknown type 'numerc'; did you mean numeric?"),
        ([{"type": "fuzzy"}], {}, f"scoring[0]: unknown type 'fuzzy' (one of {KNOWN})"),
        ([{}], {}, f"scoring[0]: missing 'type' (one of {KNOWN})"),
        (["exact"], {}, 'scoring[0]: expected an object like {"type": "exact"}, got \'exact\''),
        (
            [{"type": "regex", "pattern": "(["}],
            {},
            "scoring[0] (regex): field 'pattern': invalid regular expression '([': "
            "unterminated character set at position 1",
        ),
        (
            [{"type": "regex", "pattern": "a", "flags": "q"}],
            {},
            "scoring[0] (regex): field 'flags': unknown flag 'q'; known flags: i, m, s, x",
        ),
        ([{"type": "regex"}], {}, "scoring[0] (regex): missing required field 'pattern'"),
        (
            [{"type": "numeric", "abs_tol": "0.1"}],
            {"expected": 5},
            "scoring[0] (numeric): field 'abs_tol': input should be a valid number, got '0.1'",
        ),
        (
            [{"type": "numeric", "abs_tol": -1}],
            {"expected": 5},
            "scoring[0] (numeric): field 'abs_tol': input should be greater than or equal to 0, got -1",
        ),
        (
            [{"type": "numeric"}],
            {"expected": "Paris"},
            "scoring[0] (numeric): expected a number, got 'Paris'",
        ),
        (
            [{"type": "numeric"}],
            {"expected": True},
            "scoring[0] (numeric): expected a number, got True",
        ),
        (
            [{"type": "exact", "case_sensitive": "yes"}],
            {"expected": "a"},
            "scoring[0] (exact): field 'case_sensitive': input should be a valid boolean, got 'yes'",
        ),
        ([{"type": "exact"}], {}, "scoring[0] (exact): needs 'value' or the test's 'expected'"),
        (
            [{"type": "contains", "all": ["a"], "any": ["b"]}],
            {},
            "scoring[0] (contains): give 'all' or 'any', not both (use two contains entries)",
        ),
        (
            [{"type": "contains", "all": ["a", " "]}],
            {},
            "scoring[0] (contains): phrases must be non-empty strings, got ['a', ' ']",
        ),
        (
            [{"type": "json", "schema": {"type": "nope"}}],
            {},
            "scoring[0] (json): field 'schema': invalid JSON Schema at $.type: "
            "'nope' is not valid under any of the given schemas",
        ),
        (
            [{"type": "json", "schem": {}}],
            {},
            "scoring[0] (json): unknown key 'schem'; did you mean schema?",
        ),
        (
            [{"type": "json", "equals": True}],
            {},
            "scoring[0] (json): 'equals' needs the test's 'expected'",
        ),
        (
            [{"type": "choice"}],
            {"expected": "E"},
            "scoring[0] (choice): 'expected' must be one of 'ABCD', got 'E'",
        ),
        (
            [{"type": "choice", "options": {"A": "Paris"}}],
            {"expected": "Rome"},
            "scoring[0] (choice): 'expected' must be one of 'ABCD' or an option's text, got 'Rome'",
        ),
        (
            [{"type": "choice", "choices": "abc"}],
            {"expected": "a"},
            "scoring[0] (choice): field 'choices': expected upper-case letters like 'ABCD', got 'abc'",
        ),
        (
            [{"type": "choice", "options": {"E": "x"}}],
            {"expected": "A"},
            "scoring[0] (choice): field 'options': 'E' is not one of 'ABCD'",
        ),
        (
            [{"type": "python", "assertions": ["add(2,"]}],
            {},
            "scoring[0] (python): assertions[0]: not valid Python ('(' was never closed): 'add(2,'",
        ),
        (
            [{"type": "python"}],
            {"assertions": ["add(2, 3) == 5", 5]},
            "scoring[0] (python): the test's 'assertions': expected a string or a list of strings, got ['add(2, 3) == 5', 5]",
        ),
        (
            [{"type": "python"}],
            {"assertions": "add(2,"},
            "scoring[0] (python): assertions[0]: not valid Python ('(' was never closed): 'add(2,'",
        ),
        (
            [{"type": "python", "answer": "body"}],
            {},
            "scoring[0] (python): field 'answer': input should be 'program' or 'function', got 'body'",
        ),
        (
            [{"type": "python", "answer": "function"}],
            {},
            "scoring[0] (python): \"answer\": \"function\" needs a prompt that opens a function (a top-level 'def', as in HumanEval), found none in the test's 'prompt'",
        ),
        (
            [{"type": "python", "answer": "function"}],
            {"prompt": None, "messages": [{"role": "user", "content": "def f():"}]},
            'scoring[0] (python): "answer": "function" needs the test\'s \'prompt\' (the code the answer completes)',
        ),
        (
            [{"type": "python", "timeout_s": 0}],
            {},
            "scoring[0] (python): field 'timeout_s': input should be greater than 0, got 0",
        ),
        (
            [{"type": "reasoning"}],
            {},
            "scoring[0] (reasoning): needs 'indicators' or evaluation_config.expected_indicators",
        ),
        (
            [{"type": "judge", "rubric": 5}],
            {},
            "scoring[0] (judge): field 'rubric': input should be a valid string, got 5",
        ),
        ([{"type": "judge"}, {"type": "judge"}], {}, "'scoring' has more than one judge entry"),
        (
            {"type": "exact"},
            {},
            "'scoring': expected a list of scorer specs, got {'type': 'exact'}",
        ),
        (
            None,
            {"expected": {"a": 1}},
            "'expected' is a JSON object; say how to score it, e.g. "
            '"scoring": [{"type": "json", "equals": true}]',
        ),
        (
            None,
            {"expected": 5, "evaluation_config": {"expected_indicators": "add"}},
            "evaluation_config.expected_indicators: expected a list of words, got 'add'",
        ),
    ],
)
def test_bad_specs_are_named(scoring: Any, fields: dict[str, Any], message: str) -> None:
    with pytest.raises(SuiteError) as info:
        scorers_for(case(scoring, **fields))
    assert str(info.value) == f"test 'arith_01': {message}"


def test_check_suite_scoring_names_the_file() -> None:
    suite = Suite(
        tests=[case(expected=5), case([{"type": "numerc"}]).model_copy(update={"id": "b"})]
    )
    with pytest.raises(SuiteError) as info:
        check_suite_scoring(suite, path="suite.json")
    assert (
        str(info.value)
        == "suite.json: test 'b': scoring[0]: unknown type 'numerc'; did you mean numeric?"
    )


def test_the_example_suite_scores() -> None:
    suite = load_suite(ROOT / "test_definitions" / "reasoning_tests_complete.json")
    check_suite_scoring(suite)
    by_id = suite.by_id()
    assert names(by_id["arith_01"]) == ["numeric", "reasoning"]
    assert names(by_id["knowledge_01"]) == ["contains", "reasoning"]
    assert names(by_id["dialog_02"]) == ["contains"]
    assert names(by_id["code_07"]) == ["python"]
    assert judge_spec(by_id["knowledge_07"]) is not None
    arith = by_id["arith_01"]
    scores = [s(ScoreInput(arith, "Adding 2 and 3 gives 5.")) for s in scorers_for(arith)]
    assert [(s.scorer, s.value, s.passed, s.secondary) for s in scores] == [
        ("numeric", 1.0, True, False),
        ("reasoning", 0.0, False, True),
    ]
