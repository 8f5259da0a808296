"""Properties of the loaders and of result file names, checked with Hypothesis.

- The suite loader, the base config (through :func:`load_plan`, as a run loads it) and the agent
  loader, fed arbitrary bytes, arbitrary values and valid files with a few fields mutated,
  removed or retyped, either load or raise llmbench's own :class:`InputError`, whose message
  is one line.
- Result file names made from arbitrary ids stay inside the run directory, are one file name
  under one folder per agent, and distinct ids never share a file.

Deterministic (``derandomize=True``, no example database) and bounded for CI.
"""

from __future__ import annotations

import datetime
import itertools
import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmbench.config.agent_config import load_agents
from llmbench.errors import InputError, ResultsError
from llmbench.result import TestResult
from llmbench.runs.plan import load_plan
from llmbench.scoring.specs import check_suite_scoring
from llmbench.store.files import MAX_COMPONENT, contained_path, safe_component
from llmbench.store.run_dir import _RESERVED, JournalEntry, RunDirectory
from llmbench.suite.loader import load_suite

FAST = settings(
    max_examples=250,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

_counter = itertools.count()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Callable[[], Path]:
    """A fresh directory per example (Hypothesis runs many examples per test)."""
    base = tmp_path_factory.mktemp("properties")

    def fresh() -> Path:
        path = base / str(next(_counter))
        path.mkdir()
        return path

    return fresh


def assert_input_error_or_nothing(load: Callable[[], Any]) -> None:
    """``load()`` returns, or raises InputError with a one-line message; nothing else."""
    try:
        load()
    except InputError as exc:
        message = str(exc)
        assert message and "\n" not in message and "\r" not in message, message
        assert message.isprintable(), message


# -- values ----------------------------------------------------------------------------------

NASTY_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "a\nb",
        "\ud800",
        "../../x",
        "x" * 300,
        "\u202e",
        "NaN",
        "embedded",
        "http://",
        "http://[::1",
        "http://h:99999",
        "/dev/null",
    ]
)
NASTY_NUMBERS = st.sampled_from([0, -1, 10**30, -(10**30), 1e308, -0.0, 0.5])
TEXT = st.one_of(st.text(max_size=30), NASTY_TEXT)
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    NASTY_NUMBERS,
    TEXT,
    NASTY_TEXT,
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
TOML_SCALARS = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),  # nan and inf are TOML
    NASTY_NUMBERS,
    TEXT,
    NASTY_TEXT,
    st.dates(),
    st.times(),
    st.datetimes(timezones=st.sampled_from([None, datetime.UTC])),
)
TOML_VALUES = st.recursive(
    TOML_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


def mutate(data: Any, draw: Callable[..., Any], values: st.SearchStrategy[Any]) -> Any:
    """``data`` (JSON-like) with one place removed, replaced by ``values`` or duplicated."""
    if not isinstance(data, dict | list) or not data:
        return draw(values)
    keys = list(data) if isinstance(data, dict) else list(range(len(data)))
    key = draw(st.sampled_from(keys))
    action = draw(st.sampled_from(["descend", "descend", "remove", "replace", "duplicate"]))
    copy: Any = dict(data) if isinstance(data, dict) else list(data)
    if action == "descend":
        copy[key] = mutate(copy[key], draw, values)
    elif action == "remove":
        del copy[key]
    elif action == "replace":
        copy[key] = draw(values)
    elif isinstance(copy, list):
        copy.append(copy[key])
    else:
        copy[f"{key}_"] = copy[key]
    return copy


def mutated(base: Any, values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``base`` after one to three :func:`mutate` steps."""

    @st.composite
    def build(draw: Callable[..., Any]) -> Any:
        data = base
        for _ in range(draw(st.integers(1, 3))):
            data = mutate(data, draw, values)
        return data

    return build()


EDITS = ['"', "'", "[", "]", "{", "}", ",", "=", "\n", "\\", "#", "", "\x00", "\ufeff", "NaN"]
EDITS += ["1e999", "9" * 5000, "[" * 3000, '{"a": ' * 1500, "x = [" * 1500, "\\u0000"]


@st.composite
def text_edits(draw: Callable[..., Any], text: str) -> str:
    """``text`` with a few characters inserted, deleted or replaced."""
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        new = draw(st.sampled_from(EDITS))
        cut = draw(st.integers(0, 2))
        text = text[:at] + new + text[at + cut :]
    return text


# -- a TOML writer (tomli_w is not a dependency) ----------------------------------------------


def toml_string(value: str) -> str:
    out = []
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        elif 0xD800 <= ord(ch) <= 0xDFFF:
            out.append("\ufffd")  # TOML text is UTF-8: it cannot hold a lone surrogate
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value if v is not None) + "]"
    if isinstance(value, dict):
        items = (f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items() if v is not None)
        return "{" + ", ".join(items) + "}"
    raise TypeError(type(value))


def toml_document(data: Any) -> str:
    """``data`` as TOML: a table becomes ``key = value`` lines with inline tables."""
    if not isinstance(data, dict):
        return f"value = {toml_value(data)}\n" if data is not None else ""
    lines = [f"{toml_string(k)} = {toml_value(v)}" for k, v in data.items() if v is not None]
    return "\n".join(lines) + "\n"


def test_the_toml_writer_round_trips() -> None:
    import tomllib

    data = {"a": [1, 2.5, 'x\n"y\\'], "b": {"c": True, "d": datetime.date(2024, 1, 2)}}
    assert tomllib.loads(toml_document(data)) == data


# -- (a) the suite loader ---------------------------------------------------------------------

VALID_SUITE: dict[str, Any] = {
    "suite_info": {"name": "properties", "version": "1"},
    "tests": [
        {
            "id": "p1",
            "name": "Prompt",
            "category": "math",
            "prompt": "What is 2 + 2?",
            "expected": "4",
            "parameters": {"max_tokens": 16, "temperature": 0.5, "stop": ["\n"], "seed": 3},
            "metadata": {"timeout_seconds": 5.0, "difficulty": "easy"},
            "scoring": [{"type": "numeric", "abs_tol": 0.5}, {"type": "exact"}],
        },
        {
            "id": "m1",
            "name": "Messages",
            "category": "chat",
            "api_type": "chat",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Say hello."},
            ],
            "expected": "hello",
            "scoring": [{"type": "contains", "any": ["hello", "hi"]}],
        },
        {
            "id": "i1",
            "name": "Interactive",
            "category": "dialogue",
            "type": "interactive",
            "instructions": ["Ask for a budget.", "Ask per day."],
            "context": "30 a day.",
            "expected": 30,
        },
        {
            "id": "r1",
            "name": "Regex",
            "category": "math",
            "prompt": "Name a number in the forties.",
            "scoring": [{"type": "regex", "pattern": "4\\d", "flags": "i"}],
        },
    ],
}


def _load_suite_and_scoring(path: Path) -> None:
    suite = load_suite(path)
    check_suite_scoring(suite, path)


def test_the_valid_suite_loads(tmp_path: Path) -> None:
    path = tmp_path / "suite.json"
    path.write_text(json.dumps(VALID_SUITE), encoding="utf-8")
    _load_suite_and_scoring(path)


@FAST
@given(raw=st.binary(max_size=300))
def test_suite_loader_on_arbitrary_bytes(scratch: Callable[[], Path], raw: bytes) -> None:
    path = scratch() / "suite.json"
    path.write_bytes(raw)
    assert_input_error_or_nothing(lambda: _load_suite_and_scoring(path))


@FAST
@given(value=JSON_VALUES)
def test_suite_loader_on_arbitrary_json(scratch: Callable[[], Path], value: Any) -> None:
    path = scratch() / "suite.json"
    path.write_text(json.dumps(value), encoding="utf-8", errors="surrogatepass")
    assert_input_error_or_nothing(lambda: _load_suite_and_scoring(path))


@FAST
@given(data=mutated(VALID_SUITE, JSON_VALUES))
def test_suite_loader_on_almost_valid_suites(scratch: Callable[[], Path], data: Any) -> None:
    path = scratch() / "suite.json"
    # json.dumps escapes lone surrogates, so the file itself is always UTF-8
    path.write_text(json.dumps(data), encoding="utf-8")
    assert_input_error_or_nothing(lambda: _load_suite_and_scoring(path))


@FAST
@given(text=text_edits(json.dumps(VALID_SUITE, indent=1)))
def test_suite_loader_on_edited_text(scratch: Callable[[], Path], text: str) -> None:
    path = scratch() / "suite.json"
    path.write_text(text, encoding="utf-8")
    assert_input_error_or_nothing(lambda: _load_suite_and_scoring(path))


# -- (b) the base config (through the whole plan) and the agent configs -----------------------

VALID_BASE: dict[str, Any] = {
    "benchmark": {
        "test_suite": "suite.json",
        "test_metadata": "metadata.json",
        "categories_file": "categories.json",
        "test_cases": ["p1", "m1", "i1"],
        "categories": ["math", "chat", "dialogue"],
        "results_dir": "results",
        "log_dir": "logs",
        "max_workers": 2,
        "repeats": 1,
        "seed": 7,
    },
    "instructor": {
        "endpoint": "http://127.0.0.1:9/v1",
        "model": "helper",
        "mode": "llm",
        "max_turns": 3,
        "temperature": 0.5,
        "headers": {"X-Team": "bench"},
    },
    "supervisor": {
        "endpoint": "embedded",
        "timeout": 30.0,
        "retry_attempts": 1,
        "structured_output": "json_schema",
    },
}
VALID_AGENT: dict[str, Any] = {
    "id": "alpha",
    "endpoint": "http://127.0.0.1:9/v1/chat/completions",
    "model": "m",
    "api_type": "chat",
    "api_key_env": "PATH",  # set wherever the tests run
    "headers": {"X-Team": "bench"},
    "timeout": 10.0,
    "retry_attempts": 1,
    "max_concurrency": 2,
    "rpm": 60.0,
    "system_prompt": "Be brief.",
    "parameters": {"temperature": 0.2, "stop": ["\n"], "logit_bias": {"50256": -100}},
}
METADATA = {
    "api_config": {"endpoint": "embedded"},
    "global_settings": {"default_retry_attempts": 1},
}
CATEGORIES = {"categories": {"math": {"description": "sums", "test_ids": ["p1", "r1"]}}}


def _run_files(root: Path, base_text: str, agent_text: str) -> None:
    (root / "suite.json").write_text(json.dumps(VALID_SUITE), encoding="utf-8")
    (root / "metadata.json").write_text(json.dumps(METADATA), encoding="utf-8")
    (root / "categories.json").write_text(json.dumps(CATEGORIES), encoding="utf-8")
    (root / "base_config.toml").write_text(base_text, encoding="utf-8")
    (root / "agents").mkdir()
    (root / "agents" / "alpha.toml").write_text(agent_text, encoding="utf-8")


def _plan(root: Path) -> None:
    load_plan(root / "base_config.toml", root / "agents")


def test_the_valid_configs_load(tmp_path: Path) -> None:
    _run_files(tmp_path, toml_document(VALID_BASE), toml_document(VALID_AGENT))
    _plan(tmp_path)


@FAST
@given(text=st.text(max_size=200))
def test_base_config_on_arbitrary_text(scratch: Callable[[], Path], text: str) -> None:
    root = scratch()
    _run_files(root, "", toml_document(VALID_AGENT))
    (root / "base_config.toml").write_text(text, encoding="utf-8", errors="surrogatepass")
    assert_input_error_or_nothing(lambda: _plan(root))


@FAST
@given(data=mutated(VALID_BASE, TOML_VALUES))
def test_base_config_almost_valid(scratch: Callable[[], Path], data: Any) -> None:
    root = scratch()
    _run_files(root, toml_document(data), toml_document(VALID_AGENT))
    assert_input_error_or_nothing(lambda: _plan(root))


@FAST
@given(text=text_edits(toml_document(VALID_BASE)))
def test_base_config_edited_text(scratch: Callable[[], Path], text: str) -> None:
    root = scratch()
    _run_files(root, text, toml_document(VALID_AGENT))
    assert_input_error_or_nothing(lambda: _plan(root))


@FAST
@given(text=st.text(max_size=200))
def test_agent_config_on_arbitrary_text(scratch: Callable[[], Path], text: str) -> None:
    path = scratch() / "alpha.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    assert_input_error_or_nothing(lambda: load_agents(path))


@FAST
@given(data=mutated(VALID_AGENT, TOML_VALUES))
def test_agent_config_almost_valid(scratch: Callable[[], Path], data: Any) -> None:
    root = scratch()
    _run_files(root, toml_document(VALID_BASE), toml_document(data))
    assert_input_error_or_nothing(lambda: _plan(root))


@FAST
@given(text=text_edits(toml_document(VALID_AGENT)))
def test_agent_config_edited_text(scratch: Callable[[], Path], text: str) -> None:
    path = scratch() / "alpha.toml"
    path.write_text(text, encoding="utf-8")
    assert_input_error_or_nothing(lambda: load_agents(path))


# -- (c) result file names --------------------------------------------------------------------

ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=120)
IDS = st.one_of(
    ANY_TEXT,
    st.text(st.sampled_from("./\\_-aA0\x00é"), max_size=12),
    st.sampled_from(
        ["", ".", "..", "../..", "a/b", "a_b", "manifest.json", "x" * 300, "\ud800", "a\udcff"]
    ),
)
SAFE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


@FAST
@given(value=IDS)
def test_safe_component_is_one_plain_file_name(value: str) -> None:
    name = safe_component(value)
    assert SAFE.fullmatch(name), name
    assert name not in (".", "..")
    assert len(name) <= MAX_COMPONENT + 11


@FAST
@given(values=st.lists(IDS, max_size=8, unique=True))
def test_distinct_ids_get_distinct_names(values: list[str]) -> None:
    # also offer each id's cleaned name as an id of its own: it must not take the original's
    # place
    everything = list(dict.fromkeys(values + [safe_component(v) for v in values]))
    names = [safe_component(v) for v in everything]
    assert len(set(names)) == len(names)


@FAST
@given(name=ANY_TEXT)
def test_contained_path_stays_in_its_directory_or_refuses(
    scratch: Callable[[], Path], name: str
) -> None:
    directory = scratch()
    try:
        target = contained_path(directory, name)
    except ResultsError:
        return
    assert target.parent == directory.resolve()


@FAST
@given(keys=st.lists(st.tuples(IDS, IDS, st.integers(0, 12)), min_size=1, max_size=6, unique=True))
def test_result_files_are_inside_one_agent_folder_and_never_shared(
    scratch: Callable[[], Path], keys: list[tuple[str, str, int]]
) -> None:
    run = RunDirectory.create(scratch() / "results", "run")
    root = run.path.resolve()
    files = [run.result_file(agent, test, repeat) for agent, test, repeat in keys]
    for path in files:
        assert path.parent.parent == root
        assert path.parent.name not in _RESERVED
        assert path.resolve().is_relative_to(root)
        assert path.name.endswith(".json") and "/" not in path.name
    assert len(set(files)) == len(files)
    # an agent's folder is its own: two agents never share one
    folders = {agent: run.result_file(agent, "t", 0).parent for agent, _, _ in keys}
    assert len(set(folders.values())) == len(folders)


@settings(FAST, max_examples=40)
@given(
    keys=st.lists(st.tuples(IDS, IDS), min_size=1, max_size=3, unique=True),
)
def test_written_result_files_land_inside_the_run_directory(
    scratch: Callable[[], Path], keys: list[tuple[str, str]]
) -> None:
    base = scratch()
    run = RunDirectory.create(base / "results", "run")
    run.write_manifest({})
    with run:
        for agent, test in keys:
            result = TestResult(
                test_id=test, test_name="t", success=True, response_text="ok", execution_time=0.1
            )
            run.append(JournalEntry(agent, test, 0, result))
    written = [p for p in base.rglob("*") if p.is_file()]
    assert len(written) == 2 + len(keys)  # manifest, journal and one file per key
    for path in written:
        assert path.resolve().is_relative_to(run.path.resolve())
    assert [e.key[:2] for e in run.read_journal()] == keys
