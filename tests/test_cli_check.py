"""``llmbench validate`` and ``llmbench list``: run as a subprocess, as a user would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def llmbench(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llmbench.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_validate_the_shipped_run() -> None:
    out = llmbench("validate")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == (
        "ok: 39 tests x 2 agents (smollm2-greedy, smollm2-warm) x 1 repeats = 78 tests to run, against embedded"
    )


def test_list_tests_and_agents() -> None:
    tests = llmbench("list", "tests")
    assert tests.returncode == 0
    lines = tests.stdout.splitlines()
    assert len(lines) == 39 and lines[0].startswith("arith_01\tarithmetic\tprompt\t")
    agents = llmbench("list", "agents")
    assert [line.split("\t")[0] for line in agents.stdout.splitlines()] == [
        "smollm2-greedy",
        "smollm2-warm",
    ]


def _run_dir(tmp_path: Path, base: str, agents: dict[str, str]) -> Path:
    (tmp_path / "agents").mkdir()
    for name, text in agents.items():
        (tmp_path / "agents" / name).write_text(text)
    suite = ROOT / "test_definitions" / "reasoning_tests_complete.json"
    (tmp_path / "base.toml").write_text(f'[benchmark]\ntest_suite = "{suite}"\n{base}')
    return tmp_path


@pytest.mark.parametrize(
    ("base", "agents", "message"),
    [
        (
            "max_wrokers = 3\n",
            {"a.toml": 'id = "a"\n'},
            "base.toml: unknown key 'benchmark.max_wrokers'; did you mean max_workers?",
        ),
        (
            'test_cases = ["arith_1"]\n',
            {"a.toml": 'id = "a"\n'},
            "base.toml: [benchmark].test_cases: arith_1 is not in the suite; did you mean arith_01?",
        ),
        (
            'categories = ["logik"]\n',
            {"a.toml": 'id = "a"\n'},
            "base.toml: [benchmark].categories: unknown category 'logik'; did you mean logic?",
        ),
        ("", {"a.toml": 'id = "x"\n', "b.toml": 'id = "x"\n'}, "agent id 'x' is used by both"),
        (
            "",
            {"sample_agent_config.toml": 'id = "x"\n'},
            "sample_agent_config.toml is only the template",
        ),
        (
            "",
            {"a.toml": 'id = "a"\napi_key_env = "LLMBENCH_SURELY_UNSET"\n'},
            "a.toml: api_key_env: environment variable LLMBENCH_SURELY_UNSET is not set",
        ),
        (
            "",
            {"a.toml": 'id = "a"\ntimeout = = 1\n'},
            "a.toml: line 2, column 11: malformed TOML: Invalid value",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, base: str, agents: dict[str, str], message: str
) -> None:
    run = _run_dir(tmp_path, base, agents)
    out = llmbench(
        "validate", "--base_config", str(run / "base.toml"), "--agent_config", str(run / "agents")
    )
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.startswith("error: ") and out.stderr.count("\n") == 1
    assert "Traceback" not in out.stderr
    assert message in out.stderr
