"""A suite made from a data file: ``[benchmark.dataset]`` maps each row to a test.

The table (:class:`~llmbench.config.base_config.DatasetSection`) names the file (``path``, or
``package = "module:path"`` for a file inside an installed package) and gives, for each test
key, a template filled from the row (:mod:`llmbench.config.template`). Rows are read one at a
time (:mod:`llmbench.suite.rows`) and each becomes a :class:`TestCase` as it is read, through
the suite loader's :func:`~llmbench.suite.loader.parse_test` and :class:`Sharing`, so a data set
is validated exactly as a suite is and equal strings and models are held once.

Text and values: ``id``, ``name``, ``category``, ``prompt``, ``messages``, ``instructions``,
``context``, ``assertions``, ``description`` and ``reasoning_type`` are always text (a number in
the row gives its text). In ``expected``, ``parameters``, ``metadata``, ``evaluation_config`` and
``extra`` a template that is exactly one field, ``"{answer}"``, gives the row's value itself, so
a number stays a number (and ``numeric`` scores it), a list a list; any other template gives
text. A CSV cell is always text.

Defaults: ``id`` is ``"{row}"``, ``name`` the id, ``category`` the file's name without its
extensions (``HumanEval`` for ``HumanEval.jsonl.gz``); ``assertions`` written as one string is
one assertion.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from llmbench import jsonio
from llmbench.config.base_config import BenchmarkSection, DatasetSection
from llmbench.config.template import MissingField, Template, compile_templates, fill
from llmbench.config.validation import did_you_mean, shown
from llmbench.errors import ConfigError, SuiteError
from llmbench.suite.loader import Sharing, _test_label, load_suite, parse_test
from llmbench.suite.models import Suite, TestCase
from llmbench.suite.rows import FORMATS, Row, format_of, read_rows

WHERE = "[benchmark.dataset]"
TEXT_KEYS = (
    "id",
    "name",
    "category",
    "description",
    "reasoning_type",
    "prompt",
    "messages",
    "instructions",
    "context",
    "assertions",
)
"""Test keys whose templates always give text."""
VALUE_KEYS = ("expected", "parameters", "metadata", "evaluation_config")
"""Test keys where ``"{field}"`` alone gives the row's value with its type (so does ``extra``)."""
FIXED_KEYS = ("type", "api_type", "scoring")
"""Test keys copied to every test as they are written."""
MAX_FIELDS_SHOWN = 12
"""The most field names an error lists (the rest are counted)."""


@dataclass(frozen=True)
class DataSource:
    """The file a data set is read from."""

    path: Path
    format: str
    """One of :data:`~llmbench.suite.rows.FORMATS`."""
    label: str
    """How the base config names it: the path, or ``module:path`` for a package's file."""

    @property
    def stem(self) -> str:
        """The file's name without its extensions: ``HumanEval`` for ``HumanEval.jsonl.gz``."""
        return self.path.name.split(".", 1)[0] or self.path.name


def locate(dataset: DatasetSection, base_path: str | Path) -> DataSource:
    """The file ``dataset`` reads and its format; ConfigError naming the base config when the
    file, the package or the format cannot be found."""
    if dataset.package is not None:
        path = _package_file(dataset.package, Path(base_path))
        label = dataset.package
    else:
        assert dataset.path is not None  # load_base_config checks that one of the two is set
        path, label = Path(dataset.path), str(dataset.path)
        if path.is_dir():
            raise ConfigError(
                f"{WHERE}.path: {path}: is a directory, expected a data file", path=base_path
            )
        if not path.exists():
            raise ConfigError(f"{WHERE}.path: {path}: file not found", path=base_path)
    fmt = dataset.format or format_of(path)
    if fmt is None:
        raise ConfigError(
            f"{WHERE}.path: cannot tell the format of {path.name} from its name; name it "
            f".jsonl, .json, .csv, .tsv or .parquet (.gz allowed) or set format to one of "
            f"{', '.join(FORMATS)}",
            path=base_path,
        )
    return DataSource(path, fmt, label)


def _package_file(spec: str, base_path: Path) -> Path:
    """The file ``module:relative/path`` names inside an installed package."""
    module, _, relative = spec.partition(":")
    top = module.split(".", 1)[0]
    try:
        root = importlib.resources.files(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module.startswith(exc.name):
            raise ConfigError(
                f"{WHERE}.package: the Python package {module!r} is not installed; install it "
                f"(pip install {top.replace('_', '-')}) where llmbench runs",
                path=base_path,
            ) from None
        raise ConfigError(
            f"{WHERE}.package: importing {module} failed: {exc}", path=base_path
        ) from None
    except TypeError:  # a module, not a package
        raise ConfigError(
            f"{WHERE}.package: {module!r} is a module, not a package with files", path=base_path
        ) from None
    except Exception as exc:  # importing runs the package's own code: any error can come out
        raise ConfigError(
            f"{WHERE}.package: importing {module} failed: {type(exc).__name__}: {exc}",
            path=base_path,
        ) from None
    resource = root.joinpath(*Path(relative).parts)
    if not resource.is_file():
        parent = resource.parent if isinstance(resource, Path) else None
        names = [p.name for p in parent.iterdir()] if parent and parent.is_dir() else []
        near = [str(Path(relative).parent / name) for name in names]
        hint = did_you_mean(relative, near)
        raise ConfigError(f"{WHERE}.package: {module} has no file {relative}{hint}", path=base_path)
    if not isinstance(resource, Path):
        raise ConfigError(
            f"{WHERE}.package: {module} is not installed as files on disk (a zip?); "
            "copy the file out and name it in path",
            path=base_path,
        )
    return resource


class RowMapping:
    """``[benchmark.dataset]``'s templates, parsed once, filled from each row."""

    def __init__(self, dataset: DatasetSection, source: DataSource) -> None:
        given = dataset.model_dump(exclude_none=True, exclude={"path", "package", "format"})
        extra = given.pop("extra", {})
        if isinstance(given.get("assertions"), str):
            given["assertions"] = [given["assertions"]]
        self._category = Template.parse(source.stem.replace("{", "{{").replace("}", "}}"))
        self._text = {k: compile_templates(given[k]) for k in TEXT_KEYS if k in given}
        self._values = {k: compile_templates(given[k]) for k in VALUE_KEYS if k in given}
        self._values.update({k: compile_templates(v) for k, v in extra.items()})
        self._fixed = {k: given[k] for k in FIXED_KEYS if k in given}
        self._templates = {**self._text, **self._values}
        self._where = {k: f"{WHERE}.{'extra.' if k in extra else ''}{k}" for k in self._templates}

    def raw_test(self, row: Row) -> dict[str, Any]:
        """The test object of ``row``, as a suite file would hold it."""
        raw: dict[str, Any] = {}
        key = "id"
        try:
            for key, compiled in self._text.items():
                raw[key] = fill(compiled, row.fields, row.index, text=True)
            raw.setdefault("name", raw["id"])
            if "category" not in raw:
                raw["category"] = self._category.render(row.fields, row.index)
            for key, compiled in self._values.items():
                raw[key] = fill(compiled, row.fields, row.index, text=False)
        except MissingField as exc:
            raise SuiteError(self._missing(row, key, exc.field)) from None
        except ValueError as exc:
            raise SuiteError(f"{row.where()}: {self._where[key]}: {exc}") from None
        raw.update(self._fixed)
        return raw

    def _missing(self, row: Row, key: str, field: str) -> str:
        template = _naming(self._templates[key], field)
        fields = sorted(row.fields)
        listed = ", ".join(fields[:MAX_FIELDS_SHOWN]) + (
            f" and {len(fields) - MAX_FIELDS_SHOWN} more" if len(fields) > MAX_FIELDS_SHOWN else ""
        )
        return (
            f"{row.where()}: no field {field!r} for {self._where[key]} "
            f"{shown(template.text if template else field, 50)}"
            f"{did_you_mean(field, fields)} (the row has {listed or 'no fields'})"
        )


def _naming(compiled: Any, field: str) -> Template | None:
    """The first template in ``compiled`` that names ``field``."""
    if isinstance(compiled, Template):
        return compiled if field in compiled.fields else None
    items = compiled.values() if isinstance(compiled, dict) else compiled
    if isinstance(items, Iterable) and not isinstance(items, str):
        for item in items:
            found = _naming(item, field)
            if found is not None:
                return found
    return None


def iter_tests(
    dataset: DatasetSection,
    source: DataSource,
    *,
    share: bool = True,
    seen: dict[str, int] | None = None,
) -> Iterator[TestCase]:
    """The tests of a data set, one per row, each made as its row is read.

    With ``share`` (for tests that will be kept), equal strings and models are held once
    (:class:`Sharing`, which holds each string it has seen until the last row); without it
    only the ids seen so far are held, so tests that are written out and let go need no
    memory that grows with the file. ``seen`` is where the ids seen so far are kept, each
    with its row's index (the test's index among those yielded): pass the dict that will
    index the tests (:meth:`~llmbench.suite.tests.Tests.spill`) so that each id is held once.

    Raises SuiteError naming the data file and the row for a template that names a field the
    row lacks, a test that is not valid, or a test id given twice.
    """
    mapping = RowMapping(dataset, source)
    sharing = Sharing() if share else None
    seen = {} if seen is None else seen
    for row in read_rows(source.path, source.format):
        try:
            raw = mapping.raw_test(row)
            test = _parse(raw, row, source.path, sharing)
        except SuiteError as exc:
            raise SuiteError(exc.detail, path=source.path) from None
        first = seen.setdefault(test.id, row.index)
        if first != row.index:
            raise SuiteError(
                f"rows {first} and {row.where().removeprefix('row ')} give the same test id "
                f"{test.id!r}; make {WHERE}.id unique (add {{row}}, the row's index)",
                path=source.path,
            )
        yield test


def _parse(raw: dict[str, Any], row: Row, path: Path, sharing: Sharing | None) -> TestCase:
    """:func:`parse_test`, its errors naming the row instead of ``tests[i]``."""
    try:
        return parse_test(raw, row.index, path, sharing)
    except SuiteError as exc:
        label = _test_label(row.index, raw)
        problem = exc.detail.removeprefix(f"{label}: ")
        test_id = raw.get("id")
        named = f", id {shown(test_id, 40)}" if isinstance(test_id, str) else ""
        raise SuiteError(f"{row.where()}{named}: {problem}") from None


def suite_info(dataset: DatasetSection, source: DataSource) -> dict[str, Any]:
    """The ``suite_info`` of a data set's suite: its name and where it came from."""
    return {"name": source.stem, "dataset": source.label, "format": source.format}


def load_dataset(dataset: DatasetSection, base_path: str | Path) -> Suite:
    """Every test of a data set, as a :class:`Suite`."""
    source = locate(dataset, base_path)
    tests = list(iter_tests(dataset, source))
    if not tests:
        raise SuiteError("the data set has no rows; it needs at least one", path=source.path)
    return Suite.model_validate({"suite_info": suite_info(dataset, source), "tests": tests})


def load_benchmark_suite(benchmark: BenchmarkSection, base_path: str | Path) -> Suite:
    """The suite ``[benchmark]`` names: its ``test_suite`` file or its ``[benchmark.dataset]``."""
    if benchmark.dataset is not None:
        return load_dataset(benchmark.dataset, base_path)
    assert benchmark.test_suite is not None  # load_base_config checks that one of the two is set
    return load_suite(benchmark.test_suite)


def source_file(benchmark: BenchmarkSection, base_path: str | Path) -> Path:
    """The file a run's tests come from: the suite file, or the data set's file."""
    if benchmark.dataset is not None:
        return locate(benchmark.dataset, base_path).path
    assert benchmark.test_suite is not None
    return Path(benchmark.test_suite)


def write_suite(tests: Iterable[TestCase], info: dict[str, Any], out: IO[str]) -> int:
    """Write ``{"suite_info": info, "tests": [...]}`` to ``out``, one test a line, as tests
    come (nothing is held); returns how many were written."""
    out.write('{"suite_info": ' + jsonio.dumps(info) + ', "tests": [')
    count = 0
    for test in tests:
        out.write(",\n  " if count else "\n  ")
        out.write(jsonio.dumps(test.model_dump(mode="json", exclude_unset=True)))
        count += 1
    out.write("\n]}\n")
    return count


def convert_dataset(dataset: DatasetSection, base_path: str | Path, out: IO[str]) -> int:
    """Write the suite JSON a data set becomes to ``out``, a row at a time (see
    :func:`write_suite`); returns how many tests were written."""
    source = locate(dataset, base_path)
    tests = iter_tests(dataset, source, share=False)
    count = write_suite(tests, suite_info(dataset, source), out)
    if not count:
        raise SuiteError("the data set has no rows; it needs at least one", path=source.path)
    return count
