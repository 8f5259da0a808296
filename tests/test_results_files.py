"""save_results: file names, containment, atomicity, the summary, and no secrets anywhere."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from llmbench import ResultsError, TestResult, TestRunner
from llmbench.store.files import safe_component
from llmbench.store.results import summarize
from tests.conftest import make_test
from tests.scripted_server import Answer, ScriptedServer, Status


def result(test_id: str, **fields: object) -> TestResult:
    base: dict[str, object] = {
        "test_id": test_id,
        "test_name": test_id,
        "success": True,
        "response_text": "x",
        "execution_time": 1.0,
        "timestamp": "2026-11-21T10:00:00.000+00:00",
        "model": "m",
    }
    base.update(fields)
    return TestResult(**base)  # type: ignore[arg-type]


def test_every_result_and_a_batch_file_are_written(
    server: ScriptedServer, runner: TestRunner, tmp_path: Path
) -> None:
    server.script(Answer(text="ok"), Status(400, "bad"))
    results = runner.execute_sequential(["t1", "t2"])
    out = tmp_path / "out"
    assert runner.save_results(results, out) is True
    saved = runner.last_saved
    assert saved is not None and len(saved.result_files) == 2
    first = json.loads(saved.result_files[0].read_text())
    assert first["test_id"] == "t1" and first["status"] == "ok" and first["response_text"] == "ok"
    assert set(first) == set(results[0].to_dict())
    second = json.loads(saved.result_files[1].read_text())
    assert second["status"] == "error" and second["http_status"] == 400
    batch = json.loads(saved.batch_file.read_text())
    assert batch["summary"]["total_tests"] == 2
    assert batch["summary"]["successful_tests"] == 1 and batch["summary"]["failed_tests"] == 1
    assert batch["summary"]["success_rate"] == 0.5
    assert [r["test_id"] for r in batch["results"]] == ["t1", "t2"]
    assert batch["run"]["api_configuration"]["model"] == "scripted-model"
    assert not [p for p in out.iterdir() if p.name.startswith(".tmp-")]


def test_summary_figures_worked_by_hand() -> None:
    results = [
        result(
            "a",
            execution_time=1.0,
            tokens_per_second=10.0,
            time_to_first_token=0.1,
            completion_tokens=5,
            prompt_tokens=3,
        ),
        result(
            "b",
            execution_time=3.0,
            tokens_per_second=30.0,
            time_to_first_token=0.3,
            completion_tokens=7,
            prompt_tokens=4,
        ),
        result(
            "c",
            execution_time=2.0,
            tokens_per_second=20.0,
            time_to_first_token=0.2,
            completion_tokens=1,
            prompt_tokens=1,
            category="x",
        ),
        result("d", success=False, status="error", execution_time=9.0, error_kind="timeout"),
    ]
    s = summarize(results)
    assert (s["total_tests"], s["successful_tests"], s["failed_tests"]) == (4, 3, 1)
    assert s["success_rate"] == 0.75
    assert s["total_execution_time"] == 15.0
    assert s["latency_s"] == {"mean": 2.0, "median": 2.0, "min": 1.0, "max": 3.0}  # ok results only
    assert s["tokens_per_second"]["mean"] == 20.0
    assert s["time_to_first_token_s"]["median"] == 0.2
    assert (s["prompt_tokens"], s["completion_tokens"]) == (8, 13)
    assert s["errors_by_kind"] == {"timeout": 1}
    assert s["wall_time"] == 9.0  # all started at the same instant; the longest took 9 s
    assert s["categories"]["x"] == {"total": 1, "ok": 1, "error": 0, "cancelled": 0}


@pytest.mark.parametrize(
    "test_id", ["../../x", "a/b", "/etc/passwd", "..", ".", "a\\b", "x" * 300, "nul\0byte", "é/ü"]
)
def test_hostile_ids_stay_inside_the_results_directory(tmp_path: Path, test_id: str) -> None:
    out = tmp_path / "results"
    runner = TestRunner()
    runner.save_results([result(test_id)], out)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written and all(p.parent == out for p in written)
    assert all(len(p.name) < 255 for p in written)
    saved = runner.last_saved
    assert saved is not None
    assert json.loads(saved.result_files[0].read_text())["test_id"] == test_id


def test_ids_that_sanitise_alike_do_not_overwrite(tmp_path: Path) -> None:
    runner = TestRunner()
    runner.save_results([result("a/b"), result("a_b"), result("a?b"), result("a_b")], tmp_path)
    saved = runner.last_saved
    assert saved is not None
    assert len({p.name for p in saved.result_files}) == 4
    ids = [json.loads(p.read_text())["test_id"] for p in saved.result_files]
    assert ids == ["a/b", "a_b", "a?b", "a_b"]


def test_saving_twice_never_overwrites(write_json, tmp_path: Path) -> None:
    runner = TestRunner(
        write_json("cfg.json", {"output_settings": {"filename_template": "{test_id}.json"}})
    )
    runner.save_results([result("a", response_text="first")], tmp_path / "o")
    runner.save_results([result("a", response_text="second")], tmp_path / "o")
    names = sorted(p.name for p in (tmp_path / "o").glob("a*.json"))
    assert names == ["a-2.json", "a.json"]
    assert json.loads((tmp_path / "o" / "a.json").read_text())["response_text"] == "first"


def test_filename_template_placeholders(write_json, tmp_path: Path) -> None:
    runner = TestRunner(
        write_json(
            "cfg.json",
            {"output_settings": {"filename_template": "{model}__{test_id}", "pretty_print": False}},
        )
    )
    runner.save_results([result("t1", model="org/model:q4")], tmp_path / "o")
    saved = runner.last_saved
    assert saved is not None
    name = saved.result_files[0].name
    assert name.startswith("org_model_q4-") and name.endswith("__t1.json")
    assert "\n" not in saved.result_files[0].read_text()


def test_sanitiser_is_stable_and_plain_ids_unchanged() -> None:
    assert safe_component("arith_01") == "arith_01"
    assert safe_component("a/b") == safe_component("a/b")
    assert safe_component("a/b") != safe_component("a_b")
    assert "/" not in safe_component("../../etc") and not safe_component("../../etc").startswith(
        "."
    )


def test_unwritable_directory_is_a_clear_error(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        blocker = tmp_path / "file"
        blocker.write_text("")
        target = blocker / "sub"  # a path under a regular file cannot be created, even by root
    else:
        target = tmp_path / "ro"
        target.mkdir()
        target.chmod(0o500)
    with pytest.raises(ResultsError, match="results directory"):
        TestRunner().save_results([result("a")], target)


def test_output_directory_comes_from_metadata(
    write_json, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    runner = TestRunner()
    assert runner.output_directory() == Path("results")
    runner.load_test_metadata(
        write_json("m.json", {"global_settings": {"output_directory": "meta_out"}})
    )
    runner.save_results([result("a")])
    assert list((tmp_path / "meta_out").glob("a_*.json"))


def test_secrets_never_reach_files_logs_or_errors(
    server: ScriptedServer,
    write_suite,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    key = "sk-test-0123456789abcdef"
    header = "Bearer hdr-secret-ABCDEFGH"
    monkeypatch.setenv("LLMBENCH_TEST_KEY", key)
    caplog.set_level(logging.DEBUG)
    log_file = tmp_path / "run.log"
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"logging": {"file": str(log_file), "level": "DEBUG"}}))
    runner = TestRunner(cfg)
    runner.load_test_suite(write_suite(make_test("a"), make_test("b"), make_test("c")))
    api = runner.configure_api(
        server.chat_url,
        "m",
        headers={"X-Custom-Auth-Token": header},
        api_key_env="LLMBENCH_TEST_KEY",
        retry_delay=0.01,
    )
    # the server echoes the key back in an error and in an answer
    server.script(
        Status(500, f"bad key {key}"),
        Answer(text=f"your key is {key}"),
        Status(401, f"invalid token {header}"),
        Answer(text="fine"),
    )
    results = runner.execute_sequential()
    # the key was sent to the server as a bearer token
    sent = server.requests[0].headers
    assert sent.get("Authorization") == f"Bearer {key}"
    runner.save_results(results, tmp_path / "out")
    texts = [p.read_text() for p in (tmp_path / "out").iterdir()]
    texts.append(log_file.read_text())
    texts.append(caplog.text)
    texts += [repr(api), repr(runner.api_config)]
    texts += [r.error_message or "" for r in results]
    for text in texts:
        assert key not in text
        assert "hdr-secret-ABCDEFGH" not in text
    assert any("***" in t for t in texts)
    runner.close()


def test_missing_api_key_variable_fails_before_any_request(
    server: ScriptedServer, runner: TestRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmbench import ConfigError

    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    runner.configure_api(server.chat_url, api_key_env="NO_SUCH_KEY_VAR")
    with pytest.raises(ConfigError, match="environment variable NO_SUCH_KEY_VAR is not set"):
        runner.execute_single_test("t1")
    assert server.request_count() == 0
