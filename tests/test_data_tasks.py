"""Data-analysis tasks end to end: a scripted agent (the scripted server) writes a submission in
the real sandbox, the run saves what it left in ``/home/agent``, the ``submission`` scorer judges
it, and ``llmbench score`` judges it again from the saved files without calling any model.

The task here is tiny so that every figure is worked out by hand: four rows whose true values
are 10, 20, 30, 40, scored by RMSE with baseline 10 and best 0 (so an RMSE of 5 is skill 0.5).
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
from pathlib import Path
from typing import Any

import pytest

from llmbench.cli.main import main as llmbench_main
from llmbench.cli.run import main
from tests.scripted_server import Answer, Code, ScriptedServer
from tests.test_runner_e2e import _journal, _run_dir
from tests.test_tool_runs import _sandbox_processes, _write_run

REPO = Path(__file__).resolve().parent.parent
TRUTH = {1: 10.0, 2: 20.0, 3: 30.0, 4: 40.0}
SECRET = "sk-tasks-secret-8c1e5a7d9f3b2e4c6a8d"
KEY_ENV = "LLMBENCH_TASKS_TEST_KEY"
CONTEXT = "The hidden fact: the answer rows are 10, 20, 30, 40."


def _submission_code(rows: dict[Any, Any] | None, header: str = "id,value") -> str:
    lines = [header] + [f"{k},{v}" for k, v in (rows or {}).items()]
    return f"open('submission.csv', 'w').write({chr(10).join(lines) + chr(10)!r})"


def _task(test_id: str, baseline: float = 10.0) -> dict[str, Any]:
    return {
        "id": test_id,
        "name": f"Task {test_id}",
        "category": "data_analysis",
        "tools": ["python"],
        "files": "task/data",
        "prompt": f"question {test_id}: predict value for /data/test.csv",
        "scoring": [
            {
                "type": "submission",
                "file": "submission.csv",
                "reference": "task/reference.csv",
                "id_column": "id",
                "target_column": "value",
                "metric": "rmse",
                "baseline": baseline,
                "best": 0,
            }
        ],
    }


def _write(tmp: Path, server: ScriptedServer, tests: list[dict[str, Any]]) -> list[str]:
    data = tmp / "task" / "data"
    data.mkdir(parents=True)
    (data / "test.csv").write_text("id\n1\n2\n3\n4\n", encoding="utf-8")
    with (tmp / "task" / "reference.csv").open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(("id", "value"))
        out.writerows(TRUTH.items())
    return _write_run(
        tmp,
        server,
        tests,
        agent=f'api_key_env = "{KEY_ENV}"',
        # room for the 1 GB submission (sparse: it takes no memory)
        sandbox="file_size_mb = 2048\nhome_size_mb = 2048",
        call_timeout_s=10,
    )


def _scores(run_dir: Path) -> dict[str, dict[str, Any]]:
    """Each test's last submission score (the latest scoring of each record wins)."""
    out: dict[str, dict[str, Any]] = {}
    for line in (run_dir / "scores.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        (score,) = [s for s in record["scoring"]["scores"] if s["scorer"] == "submission"]
        out[record["test_id"]] = score
    return out


@pytest.fixture(autouse=True)
def _api_key() -> Any:
    os.environ[KEY_ENV] = SECRET
    yield
    del os.environ[KEY_ENV]
    assert _sandbox_processes() == []


CASES: dict[str, tuple[str, bool, bool, float | None, str]] = {
    # test id: (code the agent runs, valid, achieved, skill, part of the reason)
    "perfect": (_submission_code(TRUTH), True, True, 1.0, "skill 1"),
    "at_baseline": (
        _submission_code({k: v + 10 for k, v in TRUTH.items()}),
        True,
        True,
        0.0,
        "baseline achieved",
    ),
    "half_way": (_submission_code({k: v - 5 for k, v in TRUTH.items()}), True, True, 0.5, "0.5"),
    "below": (
        _submission_code({k: v + 20 for k, v in TRUTH.items()}),
        True,
        False,
        -1.0,
        "baseline not achieved",
    ),
    "missing_id": (_submission_code({1: 10, 2: 20, 3: 30}), False, False, None, "missing"),
    "malformed": (
        "open('submission.csv', 'w').write('id,value\\n1,10\\n2,\"20\\n')",
        False,
        False,
        None,
        "line",
    ),
    "no_file": ("print('I forgot to write it')", False, False, None, "no submission"),
    "huge": (
        "f = open('submission.csv', 'wb')\nf.truncate(1 << 30)\nf.close()",
        False,
        False,
        None,
        "was not saved",
    ),
}


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_each_submission_gets_its_verdict_and_the_files_are_saved(
    tmp_path: Path, server: ScriptedServer, executor: str
) -> None:
    """Under Ray the sandboxes run in the actors and the files come back to the driver."""
    args = [*_write(tmp_path, server, [_task(name) for name in CASES]), "--executor", executor]
    for name, (code, *_rest) in CASES.items():
        server.script(Code(code), Answer("done"), marker=f"question {name}")
    assert main(args) == 0
    run_dir = _run_dir(tmp_path)
    scores = _scores(run_dir)
    for name, (_code, valid, achieved, skill, reason) in CASES.items():
        d = scores[name]["details"]
        assert (d["valid"], d["achieved"]) == (valid, achieved), (name, scores[name])
        if skill is None:
            assert d["skill"] is None and scores[name]["value"] == 0.0
        else:
            assert d["skill"] == pytest.approx(skill), name
            assert scores[name]["value"] == pytest.approx(max(0.0, min(1.0, skill)))
        assert reason in scores[name]["reason"], (name, scores[name]["reason"])
    entries = {e["test_id"]: e for e in _journal(run_dir)}
    saved = run_dir / "coder" / "perfect-r0" / "files" / "submission.csv"
    assert saved.read_text().startswith("id,value\n1,10")
    assert entries["perfect"]["files_saved"] == ["submission.csv"]
    assert entries["no_file"]["files_saved"] is None
    assert entries["huge"]["files_left_out"] == 1
    cut = json.loads((run_dir / "coder" / "huge-r0" / "files" / ".llmbench-cut.json").read_text())
    assert cut["left_out"] == [{"file": "submission.csv", "bytes": 1 << 30}]


def test_score_judges_the_saved_files_again_without_calling_a_model(
    tmp_path: Path, server: ScriptedServer
) -> None:
    args = _write(tmp_path, server, [_task("half_way")])
    server.script(Code(CASES["half_way"][0]), Answer("done"))
    assert main(args) == 0
    run_dir = _run_dir(tmp_path)
    assert _scores(run_dir)["half_way"]["details"]["skill"] == pytest.approx(0.5)
    suite = json.loads((tmp_path / "suite.json").read_text())
    suite["tests"][0]["scoring"][0]["baseline"] = 20.0  # RMSE 5 is now skill 0.75
    (tmp_path / "suite.json").write_text(json.dumps(suite))
    sent = server.request_count()
    code = llmbench_main(
        ["score", str(run_dir), "--base_config", str(tmp_path / "base_config.toml")]
    )
    assert code == 0
    assert server.request_count() == sent
    assert _scores(run_dir)["half_way"]["details"]["skill"] == pytest.approx(0.75)


def test_the_reference_the_context_the_results_and_the_key_are_out_of_the_agents_reach(
    tmp_path: Path, server: ScriptedServer
) -> None:
    test = _task("snoop")
    test.update(type="interactive", instructions=["Predict the values."], context=CONTEXT)
    del test["prompt"]
    args = _write(tmp_path, server, [test])
    probe = (
        "import os\n"
        "def look(path):\n"
        "    try:\n"
        "        return open(path).read()[:80]\n"
        "    except OSError as exc:\n"
        "        return type(exc).__name__\n"
        f"print(look({str(tmp_path / 'task' / 'reference.csv')!r}))\n"
        f"print(look({str(tmp_path / 'suite.json')!r}))\n"
        f"print(os.path.exists({str(tmp_path / 'results')!r}))\n"
        "print(sorted(os.environ))\n"
        "print(os.listdir('/data'))"
    )
    server.script(Code(probe), Answer("done"))
    assert main(args) == 0
    (entry,) = _journal(_run_dir(tmp_path))
    (cell,) = [e for e in entry["transcript"] if e["role"] == "tool"]
    out = cell["content"]
    assert out.splitlines()[:3] == ["FileNotFoundError", "FileNotFoundError", "False"]
    assert KEY_ENV not in out and SECRET not in out and "10, 20, 30, 40" not in out
    assert out.splitlines()[-1] == "['test.csv']"  # the reference is not under /data
    for request in server.requests:  # scripted mode: every request is the agent's
        assert "hidden fact" not in json.dumps(request.body)  # never the context


def test_the_shipped_tasks_are_what_their_script_makes(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "make_tasks", REPO / "test_definitions" / "tasks" / "make_tasks.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.HERE = tmp_path / "tasks"
    module.SUITE = tmp_path / "data_analysis.json"
    module.main()
    shipped = REPO / "test_definitions"
    for made in sorted((tmp_path / "tasks").rglob("*.csv")):
        rel = made.relative_to(tmp_path)
        assert made.read_bytes() == (shipped / rel).read_bytes(), rel
    assert module.SUITE.read_text() == (shipped / "data_analysis.json").read_text()


def test_the_instructor_may_stop_only_once_the_submission_is_written(
    tmp_path: Path, server: ScriptedServer
) -> None:
    test = _task("guided")
    test.update(type="interactive", instructions=["Load the data.", "Write the submission."])
    del test["prompt"]
    args = _write(tmp_path, server, [test])
    config = (tmp_path / "base_config.toml").read_text()
    (tmp_path / "base_config.toml").write_text(config.replace('mode = "scripted"', 'mode = "llm"'))
    done = json.dumps({"message": "Thanks, that is all.", "done": True})
    server.script(
        Answer(json.dumps({"message": "Please load the data.", "done": False})),
        Answer(done),  # turn 2: too early, nothing written yet: refused, step 2 sent instead
        Answer(done),  # turn 3: the file is there: accepted
        marker="You play the user",
    )
    verdict = json.dumps({"ok": True, "corrected_message": "", "reason": "fine"})
    server.script(Answer(verdict), marker="You check the messages")
    server.script(
        Code("rows = 4"),
        Answer("Loaded 4 rows."),
        Code(CASES["perfect"][0]),
        Answer("Written."),
    )
    assert main(args) == 0
    (entry,) = _journal(_run_dir(tmp_path))
    users = [e for e in entry["transcript"] if e["role"] == "user"]
    assert [u["content"] for u in users] == ["Please load the data.", "Write the submission."]
    assert users[1]["source"] == "supervisor"
    assert "rejected an early stop" in users[1]["note"]
    assert entry["end_reason"] == "instructor_done" and entry["turns"] == 2
    assert _scores(_run_dir(tmp_path))["guided"]["details"]["skill"] == pytest.approx(1.0)
