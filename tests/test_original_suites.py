"""Suites written for the project whose TestRunner design llmbench implements load and run
unchanged.

Its two real suites (a base-model suite for the completions API and an instruct suite for the
chat API, with their ``test_suite_metadata.json`` and ``categories.json``) have quirks a
stricter loader refused: every instruct test carries both ``prompt`` and ``messages``, and the
base categories file names ``complex_test_1`` where the suite has ``complex_test_01``. The
files here are small replicas with the same shape and the same quirks, made by the tests (the
originals are another project's, not ours to ship).
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from llmbench import TestRunner
from llmbench.config.validation import did_you_mean
from tests.conftest import REPO, RUNNER
from tests.scripted_server import Echo, ScriptedServer

N_BASE = 12
N_INSTRUCT = 4
RUN_ARGS = (sys.executable, str(RUNNER), "--base_config", "base_config.toml")
RUN_ARGS += ("--agent_config", "agent.toml")


def _base_test(n: int) -> dict[str, Any]:
    return {
        "id": f"complex_test_{n:02d}",
        "name": f"Test {n}: Multi-Document Synthesis",
        "suite": "Base Reasoning Tests",
        "category": "complex_synthesis" if n <= 8 else "chain_of_thought",
        "reasoning_type": "general",
        "api_type": "completions",
        "description": "Base model test",
        "prompt": f"Document A ... Document B ... Synthesis {n}:",
        "parameters": {"max_tokens": 32, "temperature": 0.4, "top_p": 0.9, "stop": ["\n\n\n"]},
        "metadata": {"timeout_seconds": 600, "difficulty": "medium", "test_range": [1, 15]},
        "evaluation_config": {
            "reasoning_type": "general",
            "custom_weights": None,
            "expected_indicators": ["based on", "synthesis"],
        },
    }


def _instruct_test(n: int) -> dict[str, Any]:
    prompt = f"Consider the rules of Logica ... Question {n}?"
    return {
        "id": f"reasoning_test_{n:02d}",
        "name": f"Test {n}: Multi-Layer Deductive Chain",
        "suite": "Instruct Reasoning Complex Tests",
        "category": "reasoning_logic",
        "reasoning_type": "chain_of_thought",
        "api_type": "chat",
        "description": "Instruct test case for reasoning logic",
        "prompt": prompt,
        "messages": [{"role": "user", "content": prompt}],
        "parameters": {"max_tokens": 32, "temperature": 0.6, "top_p": 0.95},
        "metadata": {"timeout_seconds": 600},
        "evaluation_config": {"reasoning_type": "chain_of_thought"},
    }


def _metadata(api_type: str) -> dict[str, Any]:
    return {
        "suite_name": "Advanced Long-Context Reasoning Test Suite",
        "suite_id": "reasoning_comprehensive_v1",
        "description": "Comprehensive suite",
        "version": "1.0.0",
        "api_config": {
            "endpoint": "http://127.0.0.1:8004/v1/completions",
            "model": "/app/models/hf/some-model",
            "headers": {"Content-Type": "application/json"},
            "type": api_type,
        },
        "global_settings": {
            "default_timeout_seconds": 600,
            "default_retry_attempts": 3,
            "delay_between_tests": 1,
            "output_directory": "test_results",
            "save_raw_responses": True,
        },
        "execution_modes": {
            "sequential": {"enabled": True, "description": "one after another"},
            "concurrent": {"enabled": True, "default_workers": 3, "max_workers": 10},
        },
        "evaluation_integration": {"enabled": True, "evaluator_module": "reasoning_evaluator"},
    }


def _write(directory: Path, name: str, data: Any) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


@pytest.fixture
def original(tmp_path: Path) -> dict[str, dict[str, Path]]:
    """The two suites, each with its metadata and categories files."""
    base = tmp_path / "base_models" / "test_definitions"
    instruct = tmp_path / "instruct-models" / "test_definitions"
    base_categories = {
        # the quirk: ids without the suite's zero padding (and extra keys per category)
        "complex_synthesis": {
            "description": "Complex multi-document synthesis",
            "reasoning_focus": "synthesis, integration",
            "temperature_range": [0.3, 0.6],
            "test_range": [1, 8],
            "test_ids": [f"complex_test_{n}" for n in range(1, 9)],
        },
        "chain_of_thought": {
            "description": "Step-by-step reasoning chains",
            "test_ids": [f"complex_test_{n}" for n in range(9, N_BASE + 1)],
        },
    }
    instruct_categories = {
        "reasoning_logic": {
            "description": "Logic",
            "test_ids": [f"reasoning_test_{n:02d}" for n in range(1, N_INSTRUCT + 1)],
        }
    }
    info = {"name": "Base", "version": "1.0.0", "total_tests": N_BASE, "api_type": "completions"}
    return {
        "base": {
            "suite": _write(
                base,
                "reasoning_tests_complete.json",
                {"suite_info": info, "tests": [_base_test(n) for n in range(1, N_BASE + 1)]},
            ),
            "metadata": _write(base, "test_suite_metadata.json", _metadata("completions")),
            "categories": _write(base, "categories.json", {"categories": base_categories}),
        },
        "instruct": {
            "suite": _write(
                instruct,
                "instruct_tests_complete.json",
                {
                    "suite_info": {"name": "Instruct", "total_tests": N_INSTRUCT},
                    "tests": [_instruct_test(n) for n in range(1, N_INSTRUCT + 1)],
                },
            ),
            "metadata": _write(instruct, "test_suite_metadata.json", _metadata("chat")),
            "categories": _write(instruct, "categories.json", {"categories": instruct_categories}),
        },
    }


def _runner(files: dict[str, Path], server: ScriptedServer) -> TestRunner:
    runner = TestRunner()
    assert runner.load_test_suite(files["suite"])
    assert runner.load_test_metadata(files["metadata"])
    assert runner.load_categories(files["categories"])
    runner.configure_api(server.url + "/v1", "scripted-model", retry_attempts=0, timeout=10.0)
    return runner


def test_a_test_with_both_prompt_and_messages_sends_messages_to_chat_and_prompt_to_completions(
    original: dict[str, dict[str, Path]], server: ScriptedServer
) -> None:
    server.set_default(Echo())
    runner = _runner(original["instruct"], server)
    [chat] = runner.execute_sequential(["reasoning_test_01"])
    assert chat.status == "ok"
    body = server.requests[-1].body
    assert body is not None and server.requests[-1].path.endswith("/chat/completions")
    assert body["messages"] == [{"role": "user", "content": _instruct_test(1)["prompt"]}]
    assert "prompt" not in body

    # the same test against a completions endpoint (no api_type of its own) sends its prompt
    suite = json.loads(original["instruct"]["suite"].read_text(encoding="utf-8"))
    for test in suite["tests"]:
        del test["api_type"]
    original["instruct"]["suite"].write_text(json.dumps(suite), encoding="utf-8")
    runner.load_test_suite(original["instruct"]["suite"])
    runner.configure_api(server.url + "/v1", "scripted-model", api_type="completions")
    [completion] = runner.execute_sequential(["reasoning_test_01"])
    assert completion.status == "ok"
    body = server.requests[-1].body
    assert body is not None and server.requests[-1].path.endswith("/v1/completions")
    assert body["prompt"] == _instruct_test(1)["prompt"] and "messages" not in body


def test_a_category_naming_ids_the_suite_lacks_loads_with_a_warning_and_keeps_the_rest(
    original: dict[str, dict[str, Path]],
    server: ScriptedServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.set_default(Echo())
    with caplog.at_level(logging.WARNING, logger="llmbench"):
        runner = _runner(original["base"], server)
    warnings = [r.getMessage() for r in caplog.records if r.name == "llmbench.suite.loader"]
    categories = original["base"]["categories"]
    assert warnings == [  # one per category
        f"{categories}: category 'complex_synthesis': 8 of its 8 test ids are not in the suite "
        "and are left out: "
        + ", ".join(f"complex_test_{n} (did you mean complex_test_{n:02d}?)" for n in range(1, 9)),
        f"{categories}: category 'chain_of_thought': 1 of its 4 test ids are not in the suite "
        "and are left out: complex_test_9 (did you mean complex_test_09?)",
    ]
    # chain_of_thought names complex_test_9 .. 12: 9 is missing, 10-12 exist as written
    assert runner.categories is not None
    assert runner.categories["chain_of_thought"].test_ids == [
        "complex_test_10",
        "complex_test_11",
        "complex_test_12",
    ]
    results = runner.execute_category("chain_of_thought", workers=2)
    assert [r.test_id for r in results] == ["complex_test_10", "complex_test_11", "complex_test_12"]
    assert all(r.status == "ok" for r in results)


def test_numbers_are_compared_by_value_in_suggestions() -> None:
    ids = [f"complex_test_{n:02d}" for n in range(1, 51)]
    assert did_you_mean("complex_test_1", ids) == "; did you mean complex_test_01?"
    assert did_you_mean("complex_test_41", ids) == "; did you mean complex_test_41?"
    assert did_you_mean("complex_tset_07", ids) == "; did you mean complex_test_07?"


def _base_config(directory: Path, files: dict[str, Path], extra: str = "") -> Path:
    path = directory / "base_config.toml"
    path.write_text(
        f"""
[benchmark]
test_suite = "{files["suite"]}"
test_metadata = "{files["metadata"]}"
categories_file = "{files["categories"]}"
results_dir = "results"
{extra}
""",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("which", ["base", "instruct"])
def test_runner_py_runs_each_original_suite_unchanged(
    which: str, original: dict[str, dict[str, Path]], server: ScriptedServer, tmp_path: Path
) -> None:
    server.set_default(Echo())
    files = original[which]
    _base_config(tmp_path, files)
    api_type = "completions" if which == "base" else "chat"
    (tmp_path / "agent.toml").write_text(
        f'id = "local"\nendpoint = "{server.url}/v1"\nmodel = "scripted-model"\n'
        f'api_type = "{api_type}"\nretry_attempts = 0\n',
        encoding="utf-8",
    )
    done = subprocess.run(
        [*RUN_ARGS],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    [run_dir] = [p for p in (tmp_path / "results").iterdir() if p.is_dir() and p.name[0] != "."]
    lines = (run_dir / "results.jsonl").read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines]
    expected = N_BASE if which == "base" else N_INSTRUCT
    assert len(entries) == expected and all(e["status"] == "ok" for e in entries)
    assert all(e["response_text"] for e in entries)  # every test answered (the echo)
    if which == "base":
        assert "complex_test_1 (did you mean complex_test_01?)" in done.stderr
        # only the secondary reasoning scorer (its indicators): answered, no verdict, no error
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
        quality = summary["agents"][0]["quality"]
        assert (quality["n"], quality["unscored"], quality["errors"]) == (N_BASE, N_BASE, 0)
        assert quality["reasoning_mean"] is not None


def test_an_unknown_id_on_the_command_line_stays_an_error(
    original: dict[str, dict[str, Path]], server: ScriptedServer, tmp_path: Path
) -> None:
    _base_config(tmp_path, original["base"])
    (tmp_path / "agent.toml").write_text(
        f'id = "local"\nendpoint = "{server.url}/v1"\nmodel = "scripted-model"\n',
        encoding="utf-8",
    )
    done = subprocess.run(
        [*RUN_ARGS, "--tests", "complex_test_1", "--dry-run"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().endswith(
        "error: command line: tests: complex_test_1 is not in the suite; "
        "did you mean complex_test_01?"
    ), done.stderr


def test_the_shipped_metadata_counts_the_tests_the_suite_has() -> None:
    definitions = REPO / "test_definitions"
    suite = json.loads((definitions / "reasoning_tests_complete.json").read_text("utf-8"))
    metadata = json.loads((definitions / "test_suite_metadata.json").read_text("utf-8"))
    count = len(suite["tests"])
    assert suite["suite_info"]["total_tests"] == count
    for text in (suite["suite_info"]["description"], metadata["suite_info"]["description"]):
        assert re.findall(r"suite of (\d+) ", text) == [str(count)], text
