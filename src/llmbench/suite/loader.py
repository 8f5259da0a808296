"""Loading suites and categories with errors that name the file, the test id and the field."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from llmbench.config.files import json_type, read_json
from llmbench.config.validation import did_you_mean, explain, shown
from llmbench.errors import SuiteError
from llmbench.suite.models import Category, Suite, TestCase


def _test_label(index: int, raw: Any) -> str:
    if isinstance(raw, dict) and isinstance(raw.get("id"), str):
        return f"tests[{index}] (id {shown(raw['id'], 40)})"
    return f"tests[{index}]"


def parse_test(raw: Any, index: int, path: str | Path) -> TestCase:
    """Validate one test object; the error names its position and id."""
    label = _test_label(index, raw)
    if not isinstance(raw, dict):
        raise SuiteError(f"{label}: expected a JSON object, got {json_type(raw)}", path=path)
    try:
        return TestCase.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        if not err["loc"]:  # a model-level check such as prompt-or-messages
            raise SuiteError(
                f"{label}: {err['msg'].removeprefix('Value error, ')}", path=path
            ) from None
        raise SuiteError(f"{label}: {explain(exc, TestCase)}", path=path) from None


def load_suite(path: str | Path) -> Suite:
    """Parse and validate a suite file: ``{"suite_info": {...}, "tests": [...]}``."""
    data = read_json(path, SuiteError)
    if not isinstance(data, dict):
        raise SuiteError(
            f'expected a JSON object {{"suite_info": ..., "tests": [...]}}, got {json_type(data)}',
            path=path,
        )
    if "tests" not in data:
        raise SuiteError(f"missing 'tests'{did_you_mean('tests', data)}", path=path)
    raw_tests = data["tests"]
    if not isinstance(raw_tests, list):
        raise SuiteError(
            f"'tests': expected an array of test objects, got {json_type(raw_tests)}", path=path
        )
    if not raw_tests:
        raise SuiteError("'tests' is empty; a suite needs at least one test", path=path)
    info = data.get("suite_info", {})
    if not isinstance(info, dict):
        raise SuiteError(f"'suite_info': expected an object, got {json_type(info)}", path=path)
    tests: list[TestCase] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_tests):
        test = parse_test(raw, index, path)
        if test.id in seen:
            raise SuiteError(
                f"duplicate test id {test.id!r} at tests[{seen[test.id]}] and tests[{index}]",
                path=path,
            )
        seen[test.id] = index
        tests.append(test)
    extra = {k: v for k, v in data.items() if k not in ("suite_info", "tests")}
    return Suite.model_validate({"suite_info": info, "tests": tests, **extra})


def unknown_id_message(test_id: str, known: Collection[str]) -> str:
    """``"x is not in the suite; did you mean y?"``."""
    return f"{test_id} is not in the suite{did_you_mean(test_id, known)}"


def check_categories(
    categories: Mapping[str, Category], known_ids: Collection[str], path: str | Path | None
) -> None:
    """Raise SuiteError for the first category test id that the suite lacks."""
    for name, category in categories.items():
        for test_id in category.test_ids:
            if test_id not in known_ids:
                raise SuiteError(
                    f"category {name!r}: {unknown_id_message(test_id, known_ids)}", path=path
                )


def load_categories(
    path: str | Path, known_ids: Collection[str] | None = None
) -> dict[str, Category]:
    """Parse ``{"categories": {name: {description, test_ids}}}``; check ids when given."""
    data = read_json(path, SuiteError)
    if not isinstance(data, dict) or not isinstance(data.get("categories"), dict):
        raise SuiteError(
            'expected {"categories": {name: {"description": ..., "test_ids": [...]}}}', path=path
        )
    out: dict[str, Category] = {}
    for name, raw in data["categories"].items():
        if not isinstance(raw, dict):
            raise SuiteError(
                f"category {name!r}: expected an object, got {json_type(raw)}", path=path
            )
        try:
            out[name] = Category.model_validate(raw)
        except ValidationError as exc:
            raise SuiteError(f"category {name!r}: {explain(exc, Category)}", path=path) from None
    if known_ids is not None:
        check_categories(out, known_ids, path)
    return out
