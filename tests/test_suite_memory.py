"""A loaded suite shares what its tests have in common (the suite is kept for the whole run):
the bookkeeping pydantic gives each model, equal strings, equal ``parameters`` and ``metadata``;
and each test still behaves as a test of its own."""

from __future__ import annotations

import copy
import gc
import pickle
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from llmbench import SuiteError
from llmbench.suite import TestCase, load_suite
from llmbench.suite import models as suite_models
from tests.conftest import make_test


def _two(**fields: Any) -> tuple[TestCase, TestCase]:
    return (
        TestCase.model_validate(make_test("a", **fields)),
        TestCase.model_validate(make_test("b", **fields)),
    )


def test_tests_with_the_same_keys_share_one_fields_set() -> None:
    a, b = _two()
    assert a.model_fields_set == {"id", "name", "category", "prompt", "parameters"}
    assert a.model_fields_set is b.model_fields_set


def test_tests_with_other_keys_have_their_own_fields_set() -> None:
    a = TestCase.model_validate(make_test("a"))
    b = TestCase.model_validate(make_test("b", expected="5"))
    assert b.model_fields_set == a.model_fields_set | {"expected"}


def test_a_shared_fields_set_cannot_be_changed() -> None:
    a, b = _two()
    with pytest.raises(TypeError, match="shared by many suite models"):
        a.model_fields_set.add("expected")
    with pytest.raises(TypeError, match="shared by many suite models"):
        a.model_fields_set |= {"expected"}
    assert "expected" not in b.model_fields_set


def test_tests_without_unknown_keys_share_one_empty_extra_that_cannot_be_changed() -> None:
    a, b = _two()
    assert a.model_extra == {} and a.model_extra is b.model_extra
    with pytest.raises(TypeError, match="shared by many suite models"):
        a.model_extra["rubric"] = "x"  # type: ignore[index]
    assert b.model_extra == {}


def test_unknown_keys_stay_the_tests_own() -> None:
    a, b = _two(rubric="be nice")
    assert a.model_extra == {"rubric": "be nice"}
    assert a.model_extra is not b.model_extra


def test_a_copy_with_changes_leaves_the_shared_objects_alone() -> None:
    a, b = _two()
    changed = a.model_copy(update={"expected": "5", "rubric": "r"})
    assert changed.expected == "5" and changed.model_extra == {"rubric": "r"}
    assert "expected" in changed.model_fields_set
    assert "expected" not in b.model_fields_set and b.model_extra == {}


@pytest.mark.parametrize(
    "clone", [copy.copy, copy.deepcopy, lambda t: pickle.loads(pickle.dumps(t))]
)
def test_a_copied_test_is_equal_and_has_ordinary_bookkeeping(clone: Any) -> None:
    a, _ = _two()
    copied = clone(a)
    assert copied == a
    assert type(copied.model_fields_set) is set and type(copied.model_extra) is dict
    assert copied.model_dump(exclude_unset=True) == make_test("a")


def test_key_sets_past_the_bound_are_not_shared(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(suite_models, "_FIELDS_SETS", {})
    monkeypatch.setattr(suite_models, "MAX_SHARED_KEY_SETS", 2)
    first = TestCase.model_validate(make_test("a"))  # 2 sets: its parameters' and its own
    other = TestCase.model_validate(make_test("b", expected=1))
    assert first.parameters.model_fields_set is other.parameters.model_fields_set
    assert type(first.model_fields_set) is suite_models.SharedFieldsSet
    assert type(other.model_fields_set) is set
    assert other.model_fields_set == {"id", "name", "category", "prompt", "parameters", "expected"}


# -- loading ----------------------------------------------------------------------------------


def _load(write_suite: Any, *tests: dict[str, Any]) -> list[TestCase]:
    return load_suite(write_suite(*tests)).tests


def test_equal_strings_of_a_suite_are_one_object(write_suite: Any) -> None:
    a, b = _load(
        write_suite,
        make_test("a", prompt="same", expected="5"),
        make_test("b", prompt="same", expected="5"),
    )
    assert a.category == b.category == "general" and a.category is b.category
    assert a.prompt is b.prompt and a.expected is b.expected
    assert (a.id, b.id, a.name, b.name) == ("a", "b", "Test a", "Test b")


def test_equal_message_texts_are_one_object(write_suite: Any) -> None:
    turns = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    a, b = _load(
        write_suite,
        make_test("a", prompt=None, messages=turns),
        make_test("b", prompt=None, messages=[dict(turns[0]), {"role": "user", "content": "Yo"}]),
    )
    assert a.messages is not None and b.messages is not None
    assert a.messages[0].content is b.messages[0].content
    assert [m.content for m in b.messages] == ["Be brief.", "Yo"]


def test_equal_parameters_and_metadata_are_one_model(write_suite: Any) -> None:
    meta = {"difficulty": "easy", "timeout_seconds": 60}
    a, b = _load(write_suite, make_test("a", metadata=meta), make_test("b", metadata=meta))
    assert a.parameters is b.parameters and a.metadata is b.metadata
    assert b.parameters.max_tokens == 16 and b.timeout_s == 60.0
    assert b.metadata.model_extra == {"difficulty": "easy"}


@pytest.mark.parametrize(
    "other",
    [{"max_tokens": 17, "temperature": 0.0}, {"temperature": 0.0, "max_tokens": 16}],
    ids=["other values", "other key order"],
)
def test_parameters_written_otherwise_are_a_model_of_their_own(
    write_suite: Any, other: dict[str, Any]
) -> None:
    a, b = _load(write_suite, make_test("a"), make_test("b", parameters=other))
    assert a.parameters is not b.parameters
    assert b.parameters.model_dump(exclude_unset=True) == other


def test_a_bad_test_with_the_parameters_of_a_good_one_gets_its_own_error(
    write_suite: Any,
) -> None:
    path = write_suite(make_test("a"), make_test("b", category=3))
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    assert str(info.value) == (
        f"{path}: tests[1] (id 'b'): field 'category': input should be a valid string, got 3"
    )


def test_a_loaded_test_takes_under_a_kilobyte(tmp_path: Path, write_suite: Any) -> None:
    """The suite is kept to the end of the run: with its own bookkeeping, its own copy of each
    string and its own Parameters, a test such as these took about 2 KB."""
    n = 2000
    path = write_suite(*(make_test(f"t{i:05d}", expected="5") for i in range(n)))
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        suite = load_suite(path)
        gc.collect()
        per_test = (tracemalloc.get_traced_memory()[0] - before) / n
    finally:
        tracemalloc.stop()
    assert len(suite.tests) == n
    assert per_test < 1000, f"{per_test:.0f} bytes a test"
