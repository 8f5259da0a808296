"""Loading suites, metadata, categories and the runner config: what loads, and what the user is
told when it does not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llmbench import ConfigError, InputError, SuiteError, TestRunner
from tests.conftest import make_test


def test_example_suite_loads() -> None:
    runner = TestRunner()
    root = Path(__file__).parent.parent / "test_definitions"
    assert runner.load_test_suite(root / "reasoning_tests_complete.json") is True
    assert runner.load_test_metadata(root / "test_suite_metadata.json") is True
    assert runner.load_categories(root / "categories.json") is True
    assert runner.suite is not None and len(runner.suite.tests) >= 24
    assert len({t.category for t in runner.suite.tests}) >= 4
    # every test has a reference: an expected answer, or scorers of its own (a submission)
    assert all(
        t.expected is not None or (t.model_extra or {}).get("scoring") for t in runner.suite.tests
    )


def test_unknown_test_keys_are_kept(write_suite) -> None:
    runner = TestRunner()
    runner.load_test_suite(write_suite(make_test("a", difficulty_score=3, rubric="be nice")))
    assert runner.suite is not None
    test = runner.suite.tests[0]
    assert test.model_extra == {"difficulty_score": 3, "rubric": "be nice"}


def test_seed_format_test_loads_unchanged(write_suite) -> None:
    seed = {
        "id": "complex_test_1",
        "name": "Complex Test 1: Multi-Document Synthesis",
        "category": "synthesis",
        "reasoning_type": "general",
        "description": "Tests multi-document synthesis",
        "prompt": "...",
        "parameters": {
            "max_tokens": 1500,
            "temperature": 0.4,
            "top_p": 0.95,
            "stream": False,
            "stop": ["\n\n\n"],
        },
        "metadata": {
            "expected_length": "medium",
            "timeout_seconds": 600,
            "reasoning_patterns": ["synthesis"],
        },
        "evaluation_config": {
            "reasoning_type": "general",
            "custom_weights": None,
            "expected_indicators": [],
        },
    }
    runner = TestRunner()
    assert runner.load_test_suite(write_suite(seed))
    assert runner.suite is not None and runner.suite.tests[0].timeout_s == 600.0


def test_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"tests": [make_test("a")]}).encode())
    assert TestRunner().load_test_suite(path)


BAD_TESTS: list[tuple[str, Any, str]] = [
    (
        "no prompt",
        {"id": "a", "name": "A", "category": "c"},
        "tests[0] (id 'a'): needs either 'prompt' (text) or 'messages'",
    ),
    (
        "messages to completions",
        make_test(
            "a", prompt=None, api_type="completions", messages=[{"role": "user", "content": "x"}]
        ),
        "tests[0] (id 'a'): 'messages' needs api_type 'chat', got 'completions'",
    ),
    (
        "max_tokens text",
        make_test("a", parameters={"max_tokens": "64"}),
        "tests[0] (id 'a'): field 'parameters.max_tokens': input should be a valid integer, got '64'",
    ),
    (
        "negative max_tokens",
        make_test("a", parameters={"max_tokens": -1}),
        "field 'parameters.max_tokens': input should be greater than 0, got -1",
    ),
    (
        "temperature",
        make_test("a", parameters={"temperature": "hot"}),
        "field 'parameters.temperature'",
    ),
    (
        "timeout",
        make_test("a", metadata={"timeout_seconds": 0}),
        "field 'metadata.timeout_seconds': input should be greater than 0, got 0",
    ),
    (
        "missing id",
        {"name": "A", "category": "c", "prompt": "p"},
        "tests[0]: missing required field 'id'",
    ),
    ("id type", make_test(7), "tests[0]: field 'id': input should be a valid string, got 7"),  # type: ignore[arg-type]
    (
        "role",
        make_test("a", prompt=None, messages=[{"role": "robot", "content": "x"}]),
        "field 'messages[0].role'",
    ),
    ("api_type", make_test("a", api_type="rest"), "field 'api_type'"),
    ("not an object", "just a string", "tests[0]: expected a JSON object, got string"),
]


@pytest.mark.parametrize(
    ("raw", "message"), [(b, m) for _, b, m in BAD_TESTS], ids=[n for n, _, _ in BAD_TESTS]
)
def test_bad_test_is_named_with_its_field(write_json, raw: Any, message: str) -> None:
    if isinstance(raw, dict) and raw.get("prompt", "") is None:
        del raw["prompt"]
    path = write_json("suite.json", {"tests": [raw]})
    with pytest.raises(SuiteError) as info:
        TestRunner().load_test_suite(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def test_duplicate_ids(write_suite) -> None:
    path = write_suite("a", "b", "a")
    with pytest.raises(SuiteError, match=r"duplicate test id 'a' at tests\[0\] and tests\[2\]"):
        TestRunner().load_test_suite(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"tests": [\n  {"id": "a",}\n]}',
            "line 2 column 14: malformed JSON: Expecting property name",
        ),
        ("", "file is empty"),
        ("[]", "expected a JSON object"),
        ('{"tests": []}', "'tests' is empty"),
        ('{"test": []}', "missing 'tests'; did you mean test?"),
        ('{"tests": {}}', "'tests': expected an array of test objects, got object"),
    ],
)
def test_bad_suite_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "suite.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SuiteError, match=message):
        TestRunner().load_test_suite(path)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes('{"tests": [{"id": "caf\xe9"}]}'.encode("latin-1"))
    with pytest.raises(SuiteError, match="not UTF-8 text: byte 22 is 0xe9"):
        TestRunner().load_test_suite(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match=r"nope\.json: file not found"):
        TestRunner().load_test_suite(tmp_path / "nope.json")


def test_category_with_unknown_id_is_left_out_with_a_suggestion(
    write_suite, write_json, caplog: pytest.LogCaptureFixture
) -> None:
    runner = TestRunner()
    runner.load_test_suite(write_suite("complex_test_01", "complex_test_02"))
    cats = write_json(
        "cats.json",
        {"categories": {"synthesis": {"test_ids": ["complex_test_1", "complex_test_02"]}}},
    )
    with caplog.at_level("WARNING", logger="llmbench.suite.loader"):
        assert runner.load_categories(cats)
    assert [r.getMessage() for r in caplog.records if r.name == "llmbench.suite.loader"] == [
        f"{cats}: category 'synthesis': 1 of its 2 test ids are not in the suite and are left "
        "out: complex_test_1 (did you mean complex_test_01?)"
    ]
    assert runner.category_test_ids("synthesis") == ["complex_test_02"]


def test_categories_loaded_first_are_checked_when_the_suite_arrives(
    write_suite, write_json, caplog: pytest.LogCaptureFixture
) -> None:
    runner = TestRunner()
    runner.load_categories(
        write_json("cats.json", {"categories": {"x": {"test_ids": ["a", "zz"]}}})
    )
    with caplog.at_level("WARNING", logger="llmbench.suite.loader"):
        runner.load_test_suite(write_suite("a"))
    assert "category 'x': 1 of its 2 test ids are not in the suite" in caplog.text
    assert runner.category_test_ids("x") == ["a"]
    runner.load_test_suite(write_suite("a", "zz", name="bigger.json"))  # checked again, whole
    assert runner.category_test_ids("x") == ["a", "zz"]


# -- test_runner_config.json ------------------------------------------------------------------


def test_partial_runner_config_merges_over_defaults(write_json) -> None:
    runner = TestRunner(
        write_json("cfg.json", {"api_defaults": {"timeout": 7}, "logging": {"level": "warning"}})
    )
    assert runner.config.api_defaults.timeout == 7
    assert runner.config.api_defaults.retry_attempts == 3  # default kept
    assert runner.config.logging.level == "WARNING"
    assert runner.api_config.timeout == 7


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"api_defaults": {"retry_atempts": 2}},
            "unknown key 'api_defaults.retry_atempts'; did you mean retry_attempts?",
        ),
        ({"output_setings": {}}, "unknown key 'output_setings'; did you mean output_settings?"),
        (
            {"api_defaults": {"timeout": "ten"}},
            "field 'api_defaults.timeout': input should be a valid number",
        ),
        (
            {"api_defaults": {"retry_backoff": 0.5}},
            "field 'api_defaults.retry_backoff': input should be greater than or equal to 1",
        ),
        ({"output_settings": {"filename_template": "{test}.json"}}, "unknown placeholder {test}"),
        ({"logging": {"level": "LOUD"}}, "field 'logging.level'"),
    ],
)
def test_bad_runner_config(write_json, data: dict[str, Any], message: str) -> None:
    path = write_json("cfg.json", data)
    with pytest.raises(ConfigError) as info:
        TestRunner(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


# -- test_suite_metadata.json -----------------------------------------------------------------


def test_metadata_settings_take_effect(write_json, tmp_path: Path) -> None:
    runner = TestRunner()
    runner.load_test_metadata(
        write_json(
            "meta.json",
            {
                "suite_info": {"name": "x"},
                "api_config": {
                    "endpoint": "http://127.0.0.1:9/v1/completions",
                    "model": "m",
                    "headers": {"X-A": "1"},
                },
                "global_settings": {
                    "default_timeout_seconds": 42,
                    "default_retry_attempts": 5,
                    "output_directory": str(tmp_path / "out"),
                },
            },
        )
    )
    api = runner.api_config
    assert (api.endpoint, api.model, api.timeout, api.retry_attempts) == (
        "http://127.0.0.1:9/v1/completions",
        "m",
        42,
        5,
    )
    assert api.headers == {"X-A": "1"}
    assert api.default_api_type() == "completions"
    assert runner.output_directory() == tmp_path / "out"
    runner.configure_api("http://127.0.0.1:9/v1", "other")
    assert (runner.api_config.model, runner.api_config.timeout) == ("other", 42)


def test_metadata_older_names_are_accepted(write_json) -> None:
    runner = TestRunner()
    runner.load_test_metadata(
        write_json("m.json", {"global_settings": {"timeout_seconds": 600, "retry_attempts": 1}})
    )
    assert (runner.api_config.timeout, runner.api_config.retry_attempts) == (600, 1)


def test_metadata_typo_is_warned(write_json, caplog: pytest.LogCaptureFixture) -> None:
    TestRunner().load_test_metadata(
        write_json("m.json", {"global_settings": {"delay_between_test": 1}})
    )
    assert (
        "key 'global_settings.delay_between_test' is not used by llmbench; did you mean delay_between_tests?"
        in caplog.text
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"api_config": {"endpoint": "localhost:8000"}}, "endpoint: expected an http(s) URL"),
        ({"api_config": {"type": "rest"}}, "field 'api_config.type'"),
        (
            {"global_settings": {"default_timeout_seconds": -1}},
            "field 'global_settings.default_timeout_seconds'",
        ),
        (
            {"execution_modes": {"concurrent": {"max_workers": 0}}},
            "field 'execution_modes.concurrent.max_workers'",
        ),
    ],
)
def test_bad_metadata(write_json, data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        TestRunner().load_test_metadata(write_json("m.json", data))
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"endpoint": "ftp://x"}, "endpoint: expected an http(s) URL"),
        ({"endpoint": "http://x/v1", "timeout": 0}, "timeout: expected a number > 0, got 0"),
        (
            {"endpoint": "http://x/v1", "retry_attempts": -1},
            "retry_attempts: expected an integer >= 0",
        ),
        (
            {"endpoint": "http://x/v1", "retry_attempt": 2},
            "unknown setting 'retry_attempt'; did you mean retry_attempts?",
        ),
    ],
)
def test_bad_configure_api(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(
        InputError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")
    ):
        TestRunner().configure_api(**kwargs)


def test_endpoint_forms_resolve_to_routes() -> None:
    from llmbench import APIConfiguration

    for endpoint in (
        "http://h:1",
        "http://h:1/v1",
        "http://h:1/v1/",
        "http://h:1/v1/chat/completions",
    ):
        api = APIConfiguration(endpoint=endpoint, model="m")
        assert api.url_for("chat") == "http://h:1/v1/chat/completions"
        assert api.url_for("completions") == "http://h:1/v1/completions"
    assert (
        APIConfiguration(endpoint="http://h:1/v1/completions").default_api_type() == "completions"
    )
    assert APIConfiguration(endpoint="http://h:1/v1").default_api_type() == "chat"
    assert (
        APIConfiguration(endpoint="http://h:1/v1/completions", api_type="chat").default_api_type()
        == "chat"
    )
    assert APIConfiguration(endpoint="https://h/openai/v1/chat/completions").url_for(
        "completions"
    ) == ("https://h/openai/v1/completions")


def test_shipped_json_schema_is_current_and_accepts_the_example() -> None:
    import jsonschema

    from llmbench.suite.schema import SCHEMA_PATH, render

    assert SCHEMA_PATH.read_text(encoding="utf-8") == render(), (
        "run python -m llmbench.suite.schema"
    )
    schema = json.loads(render())
    example = json.loads(
        (
            Path(__file__).parent.parent / "test_definitions" / "reasoning_tests_complete.json"
        ).read_text()
    )
    jsonschema.validate(example, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {
                "tests": [
                    {"id": "a", "name": "A", "category": "c", "parameters": {"max_tokens": "x"}}
                ]
            },
            schema,
        )


def test_max_response_bytes_from_the_runner_config_and_configure_api(write_json) -> None:
    runner = TestRunner(write_json("cfg.json", {"api_defaults": {"max_response_bytes": 4096}}))
    assert runner.api_config.max_response_bytes == 4096
    assert runner.configure_api("http://x/v1", max_response_bytes=8192).max_response_bytes == 8192
    with pytest.raises(ConfigError) as info:
        TestRunner(write_json("bad.json", {"api_defaults": {"max_response_bytes": 0}}))
    assert "field 'api_defaults.max_response_bytes': input should be greater than 0" in str(
        info.value
    )
    with pytest.raises(ConfigError, match=r"max_response_bytes: expected an integer > 0, got 0"):
        runner.configure_api("http://x/v1", max_response_bytes=0)
