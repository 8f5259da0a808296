"""``base_config.toml``: what to run (``[benchmark]``) and the helper LLMs (``[instructor]``,
``[supervisor]``) of a multi-agent run.

Unknown keys are errors that name the closest known key. Relative paths resolve against the
directory of the config file, not the current directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from llmbench.config.api import EMBEDDED, APIConfiguration
from llmbench.config.files import read_toml
from llmbench.config.validation import check_env_name, explain
from llmbench.errors import ConfigError


def _usable_path(value: Path) -> Path:
    if "\0" in str(value):
        raise ValueError("a path cannot contain a NUL character")
    return value


# TOML values have types: "8" is not a number. Paths are written as strings, though.
LaxPath = Annotated[Path, Field(strict=False), AfterValidator(_usable_path)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class BenchmarkSection(_Strict):
    """``[benchmark]``."""

    test_suite: LaxPath
    """The suite file."""
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


class BaseConfig(_Strict):
    """The whole ``base_config.toml``."""

    benchmark: BenchmarkSection
    instructor: InstructorSection = InstructorSection()
    supervisor: HelperSection = HelperSection()


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
    b = config.benchmark
    here = p.parent
    resolved = b.model_copy(
        update={
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


def _check_api(helper: HelperSection, path: Path, section: str) -> None:
    """The endpoint and headers of ``[section]``, checked as the run will use them."""
    try:
        helper.api_configuration()
    except ConfigError as exc:
        raise ConfigError(f"[{section}].{exc.detail}", path=path) from None
