"""A data set's tests are spilled to a temporary file and made one at a time (suite/tests.py):
the plan holds ids, categories and kinds, not the tests' text; a run over it saves and scores
as the same tests loaded from a suite file do; nothing is left in the temporary directory."""

from __future__ import annotations

import gc
import json
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from llmbench.config.base_config import load_base_config
from llmbench.errors import SuiteError
from llmbench.runs.plan import load_plan, load_tests
from llmbench.suite.dataset import load_benchmark_suite
from llmbench.suite.models import TestCase
from llmbench.suite.tests import Tests
from tests.conftest import Run
from tests.scripted_server import Echo, ScriptedServer
from tests.test_dataset import (
    MAPPING,
    ROWS,
    _lines,
    _run_dir,
    llmbench,
    write_agent,
    write_base,
    write_rows,
)

TEXT = 8_000
"""Characters of each long prompt."""


def _long_rows(path: Path, rows: int) -> int:
    """``rows`` rows whose questions are :data:`TEXT` characters; the text's size."""
    data = [{"q": f"{i} " + "x" * (TEXT - 8), "a": i} for i in range(rows)]
    write_rows(path, data)
    return rows * TEXT


def _plan_base(tmp_path: Path, name: str) -> Path:
    write_base(tmp_path, f'path = "{name}"\nid = "q_{{row}}"\nprompt = "{{q}}"\nexpected = "{{a}}"')
    write_agent(tmp_path, "http://127.0.0.1:9/v1")
    return tmp_path / "base_config.toml"


def test_the_plan_holds_no_text_of_the_tests(tmp_path: Path) -> None:
    rows = 1_000
    size = _long_rows(tmp_path / "long.jsonl", rows)  # 8 MB of prompts
    base = _plan_base(tmp_path, "long.jsonl")
    load_plan(base, tmp_path / "agents")  # the first load imports and builds what is shared
    gc.collect()
    tracemalloc.start()
    try:
        plan = load_plan(base, tmp_path / "agents")
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
        benchmark = load_base_config(base).benchmark  # reading a file reserves 64 MB untouched
        tracemalloc.reset_peak()
        load_tests(benchmark, base)
        peak = tracemalloc.get_traced_memory()[1] - held
    finally:
        tracemalloc.stop()
    assert len(plan.tests) == rows
    # 8,000 characters of text a test; the plan holds a few hundred bytes a test
    assert held < rows * 500, (held, size)
    assert peak < size / 10, (peak, size)  # a row at a time while loading
    test = plan.tests.get("q_997")
    assert test is not None and test.prompt == "997 " + "x" * (TEXT - 8) and test.expected == 997


RICH = """
id = "t{row}"
name = "test {row}"
messages = [{ role = "system", content = "Be brief." }, { role = "user", content = "{q}" }]
prompt = "{q}"
expected = "{a}"
category = "{c}"
assertions = "assert {a} == {a}"
parameters = { temperature = 0.5, seed = 7 }
metadata = { timeout_seconds = 30.0, source = "{c}" }
extra = { origin = "{c}", number = "{a}" }
scoring = [{ type = "numeric" }]
"""


@pytest.mark.parametrize("name", ["data.jsonl", "data.csv", "data.parquet.gz"])
def test_a_spilled_test_is_the_test_the_data_set_gives(tmp_path: Path, name: str) -> None:
    rows = [
        {"q": f'what is {i}? ünïcode \u2028 "quoted"', "a": i, "c": f"c{i % 2}"} for i in range(5)
    ]
    write_rows(tmp_path / name, rows)
    base = tmp_path / "base_config.toml"
    write_base(tmp_path, f'path = "{name}"\n{RICH}')
    benchmark = load_base_config(base).benchmark
    kept = load_benchmark_suite(benchmark, base).tests
    spilled = load_tests(benchmark, base)
    assert list(spilled) == kept
    assert [t.model_dump() for t in spilled] == [t.model_dump() for t in kept]
    assert [t.model_extra for t in spilled] == [t.model_extra for t in kept]
    assert list(spilled.ids) == [f"t{i}" for i in range(5)]
    assert spilled.get("t3") == kept[3] and spilled.get("t9") is None


def _case(test_id: str, category: str, **more: Any) -> TestCase:
    return TestCase.model_validate({"id": test_id, "name": test_id, "category": category, **more})


@pytest.mark.parametrize("make", [Tests.of, Tests.spill])
def test_tests_plan_with_ids_categories_and_kinds(make: Any) -> None:
    cases = [
        _case("a", "math", prompt="1+1", expected=2),
        _case("b", "talk", type="interactive", instructions=["hi"]),
        _case("c", "math", prompt="2+2", scoring=[{"type": "judge", "rubric": "right?"}]),
    ]
    tests = make(cases, judged=lambda t: t.id == "c")
    assert list(tests.ids) == ["a", "b", "c"] and len(tests) == 3 and "b" in tests
    assert tests.categories == {"math", "talk"} and tests.ids_in("math") == ["a", "c"]
    assert tests.category_of("b") == "talk" and tests.is_interactive("b")
    assert tests.interactive_count == 1 and tests.needs_judge
    chosen = tests.select(["c", "a", "c"])
    assert list(chosen.ids) == ["c", "a"] and [t.id for t in chosen] == ["c", "a"]
    assert chosen.categories == {"math"} and not chosen.interactive_count
    assert chosen.get("b") is None and chosen.get("a") == cases[0]
    assert not tests.select(["a", "b"]).needs_judge
    assert tests.select(["a", "b", "c"]) is tests
    with pytest.raises(SuiteError, match="test id 'a' is given twice"):
        make([cases[0], cases[0]])


def test_the_spill_file_has_no_name_and_is_gone_with_the_tests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spill_dir = tmp_path / "tmp"
    spill_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill_dir))
    _long_rows(tmp_path / "long.jsonl", 50)
    plan = load_plan(_plan_base(tmp_path, "long.jsonl"), tmp_path / "agents")
    assert len(plan.tests) == 50 and list(spill_dir.iterdir()) == []
    (tmp_path / "long.jsonl").write_text('{"q": "x", "a": 1}\n{"q": 2}\n', encoding="utf-8")
    with pytest.raises(SuiteError, match="no field 'a'"):
        load_plan(tmp_path / "base_config.toml", tmp_path / "agents")
    assert list(spill_dir.iterdir()) == []


def test_a_spilled_data_set_runs_and_scores_as_its_suite_file(
    tmp_path: Path, server: ScriptedServer, run: Run
) -> None:
    write_rows(tmp_path / "data.jsonl", ROWS)
    base = write_base(tmp_path, f'path = "data.jsonl"\n{MAPPING}')
    write_agent(tmp_path, server.url + "/v1")
    server.set_default(Echo())
    converted = llmbench(tmp_path, "convert", "--base_config", str(base), "-o", "suite.json")
    assert converted.returncode == 0, converted.stderr
    spill_dir = tmp_path / "tmp"
    spill_dir.mkdir()
    done = run(
        "--base_config", "base_config.toml", "--agent_config", "agents", "--repeats", "2",
        env={"TMPDIR": str(spill_dir)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert list(spill_dir.iterdir()) == []  # the spill file never had a name
    from_dataset = _run_dir(tmp_path)
    from_dataset.rename(tmp_path / "dataset-run")
    (tmp_path / "suite.toml").write_text(
        '[benchmark]\nresults_dir = "results"\ntest_suite = "suite.json"\n', encoding="utf-8"
    )
    done = run("--base_config", "suite.toml", "--agent_config", "agents", "--repeats", "2")
    assert done.returncode == 0, done.stderr
    runs = [tmp_path / "dataset-run", _run_dir(tmp_path)]

    def scored(run_dir: Path) -> dict[tuple[str, int], Any]:
        """The latest scoring of each test and repeat (a rescoring appends)."""
        return {(s["test_id"], s["repeat"]): s["scoring"] for s in _lines(run_dir / "scores.jsonl")}

    assert scored(runs[0]) == scored(runs[1])
    assert len(scored(runs[0])) == 6
    summaries = [json.loads((r / "summary.json").read_text(encoding="utf-8")) for r in runs]
    keys = ("planned", "not_run", "quality", "categories", "repeats")
    assert [{k: a[k] for k in keys} for a in summaries[0]["agents"]] == [
        {k: a[k] for k in keys} for a in summaries[1]["agents"]
    ]
    assert summaries[0]["agents"][0]["quality"]["pass_rate"] == pytest.approx(4 / 6)
    report = (runs[0] / "report.html").read_text(encoding="utf-8")
    assert "What is 9 - 3? Say 5." in report  # the prompt, read back from the spill file
    rescored = llmbench(tmp_path, "score", str(runs[0]))
    assert rescored.returncode == 0, rescored.stderr
    assert scored(runs[0]) == scored(runs[1])
