"""Loading suites and categories with errors that name the file, the test id and the field."""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from llmbench.config.files import json_type, read_json
from llmbench.config.validation import did_you_mean, explain, shown
from llmbench.errors import SuiteError
from llmbench.suite.models import Category, Suite, TestCase

log = logging.getLogger(__name__)

MAX_SHOWN_MISSING = 10
"""Unknown ids a category's warning lists by name (the rest are counted)."""


def _test_label(index: int, raw: Any) -> str:
    if isinstance(raw, dict) and isinstance(raw.get("id"), str):
        return f"tests[{index}] (id {shown(raw['id'], 40)})"
    return f"tests[{index}]"


SHARED_MODELS = ("parameters", "metadata")
"""Test keys whose equal objects become one validated model (see :class:`Sharing`)."""


class Sharing:
    """Equal values of the tests of one suite made into one object, while the suite loads.

    The JSON parser gives every test its own copy of each value, so 100,000 tests of category
    ``"math"`` with the same ``parameters`` would hold 100,000 ``"math"`` strings and 100,000
    Parameters models. Here a test's strings (all but its id, which is unique) and the text of
    its messages become the first equal string seen, and its ``parameters`` and ``metadata``
    the model of the first test whose object was written the same (same JSON, keys in the
    same order), validated once. The tests validate as before: a shared model is one that
    validated, and the error of a bad test is the same.
    """

    def __init__(self) -> None:
        self._strings: dict[str, str] = {}
        self._models: dict[tuple[str, str], BaseModel] = {}

    def _string(self, value: str) -> str:
        return self._strings.setdefault(value, value)

    def _message(self, message: Any) -> Any:
        if not isinstance(message, dict):
            return message
        return {k: self._string(v) if isinstance(v, str) else v for k, v in message.items()}

    def prepare(self, raw: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """A copy of ``raw`` holding the objects seen before, and the keys of the models it
        holds that have not been seen yet (for :meth:`keep`)."""
        out: dict[str, Any] = {}
        new: list[tuple[str, str]] = []
        for key, value in raw.items():
            if isinstance(value, str) and key != "id":
                value = self._string(value)
            elif key == "messages" and isinstance(value, list):
                value = [self._message(m) for m in value]
            elif key in SHARED_MODELS and isinstance(value, dict):
                text = (key, json.dumps(value))
                known = self._models.get(text)
                if known is None:
                    new.append(text)
                else:
                    value = known
            out[key] = value
        return out, new

    def keep(self, test: TestCase, new: list[tuple[str, str]]) -> None:
        """Remember the models of ``test`` under the keys :meth:`prepare` found new."""
        for text in new:
            self._models[text] = getattr(test, text[0])


def parse_test(raw: Any, index: int, path: str | Path, sharing: Sharing | None = None) -> TestCase:
    """Validate one test object; the error names its position and id. With ``sharing``, the
    test holds the objects it has in common with the tests parsed before it."""
    label = _test_label(index, raw)
    if not isinstance(raw, dict):
        raise SuiteError(f"{label}: expected a JSON object, got {json_type(raw)}", path=path)
    new: list[tuple[str, str]] = []
    if sharing is not None:
        raw, new = sharing.prepare(raw)
    try:
        test = TestCase.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        if not err["loc"]:  # a model-level check such as prompt-or-messages
            raise SuiteError(
                f"{label}: {err['msg'].removeprefix('Value error, ')}", path=path
            ) from None
        # the limits are keys of the test in the file, gathered into one field
        detail = explain(exc, TestCase).replace("'limits.", "'")
        raise SuiteError(f"{label}: {detail}", path=path) from None
    if sharing is not None:
        sharing.keep(test, new)
    if test.files is not None:
        test = _with_resolved_files(test, label, Path(path))
    return _with_resolved_scoring_files(test, label, Path(path))


def _with_resolved_files(test: TestCase, label: str, path: Path) -> TestCase:
    """``test`` with its ``files`` made absolute (relative to the suite file) and checked."""
    resolved: list[str] = []
    for index, name in enumerate(test.file_paths):
        where = "files" if isinstance(test.files, str) else f"files[{index}]"
        if not name.strip() or "\0" in name:
            raise SuiteError(f"{label}: '{where}': expected a path, got {shown(name)}", path=path)
        full = (path.parent / name).resolve()
        if not full.exists():
            raise SuiteError(
                f"{label}: '{where}': {name} does not exist (looked for {full}; paths are "
                "relative to the suite file)",
                path=path,
            )
        if isinstance(test.files, list) and not full.is_file():
            raise SuiteError(
                f"{label}: '{where}': {name} is not a file (a list names files; give a folder "
                'alone as "files": "folder")',
                path=path,
            )
        resolved.append(str(full))
    files: str | list[str] = resolved[0] if isinstance(test.files, str) else resolved
    return test.model_copy(update={"files": files})


SCORER_FILES: dict[str, tuple[str, ...]] = {"submission": ("reference", "evaluator")}
"""Keys of a ``scoring`` entry naming a file relative to the suite file, by scorer type."""


def _with_resolved_scoring_files(test: TestCase, label: str, path: Path) -> TestCase:
    """``test`` with the files its ``scoring`` entries name (a submission's ``reference`` and
    ``evaluator``) made absolute (relative to the suite file) and checked to be files. Values
    that are not paths are left for the scorer spec's own checks."""
    raw = (test.model_extra or {}).get("scoring")
    if not isinstance(raw, list):
        return test
    entries: list[Any] = []
    changed = False
    for index, entry in enumerate(raw):
        kind = entry.get("type") if isinstance(entry, dict) else None
        keys = SCORER_FILES.get(kind, ()) if isinstance(kind, str) else ()
        if keys:
            entry = dict(entry)
            for key in keys:
                name = entry.get(key)
                if isinstance(name, str) and name.strip() and "\0" not in name:
                    where = f"scoring[{index}].{key}"
                    entry[key] = _suite_file(name, path, label, where)
                    changed = True
        entries.append(entry)
    return test.model_copy(update={"scoring": entries}) if changed else test


def _suite_file(name: str, path: Path, label: str, where: str) -> str:
    """``name`` (relative to the suite file ``path``) as an absolute path to a file."""
    try:
        full = (path.parent / name).resolve()
        found = full.exists()
        is_file = full.is_file()
    except (OSError, ValueError):
        full, found, is_file = path.parent / name, False, False
    if not found:
        raise SuiteError(
            f"{label}: '{where}': {name} does not exist (looked for {full}; paths are relative "
            "to the suite file)",
            path=path,
        )
    if not is_file:
        raise SuiteError(f"{label}: '{where}': {name} is not a file", path=path)
    return str(full)


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
    sharing = Sharing()
    for index, raw in enumerate(raw_tests):
        test = parse_test(raw, index, path, sharing)
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
) -> dict[str, Category]:
    """``categories`` with only the test ids the suite has. A category that names ids the suite
    lacks loads with a warning that lists them, each with the closest id of the suite (suites
    and their categories files drift apart: ``complex_test_1`` against ``complex_test_01``)."""
    out: dict[str, Category] = {}
    for name, category in categories.items():
        missing = [test_id for test_id in category.test_ids if test_id not in known_ids]
        if missing:
            shown_ids = ", ".join(
                _with_suggestion(test_id, known_ids) for test_id in missing[:MAX_SHOWN_MISSING]
            )
            more = len(missing) - MAX_SHOWN_MISSING
            log.warning(
                "%scategory %r: %d of its %d test ids are not in the suite and are left out: %s%s",
                f"{path}: " if path is not None else "",
                name,
                len(missing),
                len(category.test_ids),
                shown_ids,
                f" and {more} more" if more > 0 else "",
            )
            kept = [test_id for test_id in category.test_ids if test_id in known_ids]
            category = category.model_copy(update={"test_ids": kept})
        out[name] = category
    return out


def _with_suggestion(test_id: str, known_ids: Collection[str]) -> str:
    """``complex_test_1 (did you mean complex_test_01?)``, or the id alone."""
    hint = did_you_mean(test_id, known_ids)
    return f"{test_id} ({hint.removeprefix('; ')})" if hint else test_id


def load_categories(
    path: str | Path, known_ids: Collection[str] | None = None
) -> dict[str, Category]:
    """Parse ``{"categories": {name: {description, test_ids}}}``; with ``known_ids``, ids the
    suite lacks are left out with a warning (:func:`check_categories`)."""
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
        return check_categories(out, known_ids, path)
    return out
