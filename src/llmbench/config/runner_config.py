"""``test_runner_config.json``: the runner's own defaults, merged deeply over built-in ones.

Every key has a built-in default, so a partial file only names what it changes. An unknown key
is an error that names it and the closest known key: a typo never falls back to a default.
"""

from __future__ import annotations

import copy
import string
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from llmbench.config.api import DEFAULT_MAX_RESPONSE_BYTES
from llmbench.config.files import read_json
from llmbench.config.validation import explain
from llmbench.errors import ConfigError

FILENAME_PLACEHOLDERS = frozenset({"test_id", "timestamp", "model"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ApiDefaults(_Strict):
    """``api_defaults``: request settings used unless the metadata or the test says otherwise."""

    timeout: float = Field(120.0, gt=0)
    """Read timeout in seconds: the longest wait for the next byte of a response."""
    connect_timeout: float = Field(10.0, gt=0)
    """Seconds to wait for a TCP connection."""
    retry_attempts: int = Field(3, ge=0)
    """Retries after the first attempt, for transient failures only."""
    retry_delay: float = Field(1.0, ge=0)
    """Seconds before the first retry."""
    retry_backoff: float = Field(2.0, ge=1)
    """Each retry waits ``retry_delay * retry_backoff**n`` (with jitter)."""
    retry_budget_s: float = Field(600.0, gt=0)
    """Most seconds one test may spend in attempts and waits together."""
    stream: bool = True
    """Stream responses (SSE) so time to first token and generation speed are measured."""
    max_response_bytes: int = Field(DEFAULT_MAX_RESPONSE_BYTES, gt=0)
    """Largest answer read, in bytes (a whole stream or a JSON body); a larger one is an error."""


class ExecutionDefaults(_Strict):
    """``execution_defaults``."""

    sequential_delay: float = Field(0.0, ge=0)
    """Seconds between tests in ``execute_sequential``."""
    concurrent_workers: int = Field(3, gt=0)
    """Tests in flight in ``execute_concurrent`` when no count is given."""
    progress_reporting: bool = True
    """Log a progress line (INFO) as each test ends."""
    save_raw_responses: bool = True
    """Keep the server's response in ``TestResult.api_response``."""


class OutputSettings(_Strict):
    """``output_settings``."""

    results_directory: str = "results"
    """Where ``save_results`` writes when neither the call nor the metadata names a directory."""
    filename_template: str = "{test_id}_{timestamp}.json"
    """Per-result file name; placeholders ``{test_id}``, ``{timestamp}``, ``{model}``."""
    include_metadata: bool = True
    """Add the run's (redacted) API settings to the batch file."""
    pretty_print: bool = True
    """Indent the JSON files."""

    @field_validator("filename_template")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        except ValueError as exc:
            raise ValueError(f"not a valid template ({exc})") from None
        unknown = names - FILENAME_PLACEHOLDERS
        if unknown:
            raise ValueError(
                f"unknown placeholder {{{sorted(unknown)[0]}}}; use {{test_id}}, {{timestamp}} "
                "or {model}"
            )
        if "test_id" not in names:
            raise ValueError("the template must contain {test_id}")
        return value


class LoggingSettings(_Strict):
    """``logging``: applies to the ``llmbench`` logger only, never to the root logger."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    format: str = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    file: str | None = None
    """Also append log lines to this file."""

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class RunnerConfig(_Strict):
    """The whole ``test_runner_config.json``."""

    api_defaults: ApiDefaults = ApiDefaults()
    execution_defaults: ExecutionDefaults = ExecutionDefaults()
    output_settings: OutputSettings = OutputSettings()
    logging: LoggingSettings = LoggingSettings()


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` layered over ``base``: nested dicts merge, everything else replaces."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_runner_config(path: str | Path | None = None) -> RunnerConfig:
    """The built-in defaults, with the file at ``path`` (if any) merged over them."""
    if path is None:
        return RunnerConfig()
    data = read_json(path, ConfigError)
    if not isinstance(data, dict):
        raise ConfigError(
            f"expected a JSON object at the top, got {type(data).__name__}", path=path
        )
    merged = deep_merge(RunnerConfig().model_dump(), data)
    try:
        return RunnerConfig.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(explain(exc, RunnerConfig), path=path) from None
