"""base_config.toml and agent configs: what loads, and the one-line message when it does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmbench import ConfigError
from llmbench.config.agent_config import check_environment, load_agent, load_agents
from llmbench.config.base_config import load_base_config

ROOT = Path(__file__).resolve().parent.parent


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_configs_load() -> None:
    base = load_base_config(ROOT / "base_config.toml")
    assert base.benchmark.test_suite == ROOT / "test_definitions" / "reasoning_tests_complete.json"
    assert base.benchmark.test_suite.exists()
    assert load_base_config(ROOT / "sample_base_config.toml").benchmark.max_workers == 8
    agents = load_agents(ROOT / "agent_configs")
    assert [a.id for a in agents] == ["smollm2-greedy", "smollm2-warm"]  # the sample is skipped
    assert agents[1].parameters == {"temperature": 0.8, "seed": 11}
    assert load_agent(ROOT / "agent_configs" / "sample_agent_config.toml").id == "my-model"


def test_base_config_defaults_and_relative_paths(tmp_path: Path) -> None:
    cfg = write(tmp_path / "conf" / "base.toml", '[benchmark]\ntest_suite = "suites/s.json"\n')
    base = load_base_config(cfg)
    assert base.benchmark.test_suite == tmp_path / "conf" / "suites" / "s.json"
    assert base.benchmark.results_dir == tmp_path / "conf" / "results"
    assert (base.benchmark.max_workers, base.benchmark.repeats) == (8, 1)
    assert base.instructor.endpoint == "embedded" and base.instructor.max_turns == 6


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[benchmark]\ntest_suite = "s.json"\nmax_wrokers = 3\n',
            "unknown key 'benchmark.max_wrokers'; did you mean max_workers?",
        ),
        (
            '[benchmark]\ntest_suite = "s.json"\nmax_workers = 0\n',
            "field 'benchmark.max_workers': input should be greater than 0, got 0",
        ),
        (
            '[benchmark]\ntest_suite = "s.json"\nrepeats = "two"\n',
            "field 'benchmark.repeats': input should be a valid integer",
        ),
        ("[benchmark]\n", "[benchmark]: missing test_suite (a suite file) or [benchmark.dataset]"),
        (
            '[benchmark]\ntest_suite = "s.json"\n[instructer]\n',
            "unknown key 'instructer'; did you mean instructor?",
        ),
        (
            '[benchmark]\ntest_suite = "s.json"\n[supervisor]\nendpoint = "localhost:1"\n',
            "[supervisor].endpoint: expected an http(s) URL",
        ),
        (
            '[benchmark]\ntest_suite = "s.json"\n[instructor]\nmode = "free"\n',
            "field 'instructor.mode'",
        ),
        (
            '[benchmark]\ntest_suite = "s.json\n',
            "line 2, column 21: malformed TOML: Illegal character",
        ),
    ],
)
def test_bad_base_config(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path / "base.toml", text)
    with pytest.raises(ConfigError) as info:
        load_base_config(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'id = "a"\nmax_concurency = 2\n',
            "unknown key 'max_concurency'; did you mean max_concurrency?",
        ),
        (
            'id = "a"\ntimeout = "ten"\n',
            "field 'timeout': input should be a valid number, got 'ten'",
        ),
        ('id = "a"\nrpm = -1\n', "field 'rpm': input should be greater than 0"),
        ('endpoint = "embedded"\n', "missing required field 'id'"),
        ('id = ""\n', "field 'id'"),
        ('id = "a\\u0000b"\n', "field 'id': must be printable text: no line breaks, tabs, NUL"),
        ('id = "a"\nendpoint = "ftp://x"\n', "endpoint: expected an http(s) URL"),
        ('id = "a"\napi_type = "rest"\n', "field 'api_type'"),
        ('id = "a"\nsource = "x"\n', "unknown key 'source'"),
        ('id = "a"\n[parameters\n', "malformed TOML"),
    ],
)
def test_bad_agent_config(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path / "agent.toml", text)
    with pytest.raises(ConfigError) as info:
        load_agents(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_duplicate_agent_ids_name_both_files(tmp_path: Path) -> None:
    a = write(tmp_path / "agents" / "a.toml", 'id = "same"\n')
    b = write(tmp_path / "agents" / "b.toml", 'id = "same"\n')
    with pytest.raises(ConfigError) as info:
        load_agents(tmp_path / "agents")
    assert str(info.value) == f"agent id 'same' is used by both {a} and {b}; ids must be unique"


def test_directory_skips_the_sample_and_other_files(tmp_path: Path) -> None:
    write(tmp_path / "agents" / "sample_agent_config.toml", 'id = "sample"\n')
    write(tmp_path / "agents" / "notes.txt", "not toml")
    write(tmp_path / "agents" / "b.toml", 'id = "b"\n')
    write(tmp_path / "agents" / "a.toml", 'id = "a"\n')
    assert [a.id for a in load_agents(tmp_path / "agents")] == ["a", "b"]


def test_directory_with_only_the_sample(tmp_path: Path) -> None:
    write(tmp_path / "agents" / "sample_agent_config.toml", 'id = "sample"\n')
    with pytest.raises(ConfigError, match=r"sample_agent_config\.toml is only the template"):
        load_agents(tmp_path / "agents")


def test_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "agents").mkdir()
    with pytest.raises(
        ConfigError, match=r"no agent configs in this directory; add one \.toml file per agent"
    ):
        load_agents(tmp_path / "agents")


def test_missing_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMBENCH_NOPE", raising=False)
    monkeypatch.setenv("LLMBENCH_YES", "k" * 10)
    path = tmp_path / "a.toml"
    check_environment([("LLMBENCH_YES", path, "api_key_env")])
    with pytest.raises(ConfigError) as info:
        check_environment(
            [("LLMBENCH_YES", path, "api_key_env"), ("LLMBENCH_NOPE", path, "api_key_env")]
        )
    assert str(info.value) == (
        f"{path}: api_key_env: environment variable LLMBENCH_NOPE is not set; "
        "export LLMBENCH_NOPE=<your key> before running"
    )


def test_max_response_bytes_reaches_the_api_settings(tmp_path: Path) -> None:
    agent = load_agent(write(tmp_path / "a.toml", 'id = "a"\nmax_response_bytes = 4096\n'))
    api = agent.api_configuration()
    assert api.max_response_bytes == 4096
    assert api.redacted()["max_response_bytes"] == 4096
    default = load_agent(write(tmp_path / "b.toml", 'id = "b"\n')).api_configuration()
    assert default.max_response_bytes == 32 * 1024 * 1024


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "field 'max_response_bytes': input should be greater than 0"),
        ('"32MB"', "field 'max_response_bytes': input should be a valid integer"),
        ("1.5", "field 'max_response_bytes': input should be a valid integer"),
    ],
)
def test_bad_max_response_bytes(tmp_path: Path, value: str, message: str) -> None:
    path = write(tmp_path / "a.toml", f'id = "a"\nmax_response_bytes = {value}\n')
    with pytest.raises(ConfigError) as info:
        load_agent(path)
    assert message in str(info.value)
