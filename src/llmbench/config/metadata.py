"""``test_suite_metadata.json``: the suite's API settings and global settings.

Other tools write this file with keys llmbench does not use; those are kept and logged at
WARNING with the closest known key, so a typo is visible without refusing another tool's file.
The older names ``global_settings.timeout_seconds`` and ``retry_attempts`` are accepted too.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from llmbench.config.api import APIConfiguration
from llmbench.config.files import json_type, read_json
from llmbench.config.validation import check_env_name, did_you_mean, explain
from llmbench.errors import ConfigError

log = logging.getLogger(__name__)


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)


class MetadataApiConfig(_Lenient):
    """``api_config``."""

    endpoint: str | None = None
    """A URL (``http://host:port/v1/chat/completions``, ``.../v1`` or ``.../v1/completions``)
    or ``"embedded"``."""
    model: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    type: Literal["chat", "completions"] | None = None
    """API type; inferred from the endpoint path when not set."""
    api_key_env: Annotated[str | None, AfterValidator(check_env_name)] = None
    """Name of the environment variable holding the API key (sent as a Bearer token)."""


class GlobalSettings(_Lenient):
    """``global_settings``."""

    default_timeout_seconds: float | None = Field(
        None, gt=0, validation_alias=AliasChoices("default_timeout_seconds", "timeout_seconds")
    )
    default_retry_attempts: int | None = Field(
        None, ge=0, validation_alias=AliasChoices("default_retry_attempts", "retry_attempts")
    )
    delay_between_tests: float | None = Field(None, ge=0)
    output_directory: str | None = None


class ConcurrentMode(_Lenient):
    """``execution_modes.concurrent``."""

    default_workers: int | None = Field(None, gt=0)
    max_workers: int | None = Field(None, gt=0)


class ExecutionModes(_Lenient):
    """``execution_modes``."""

    concurrent: ConcurrentMode = ConcurrentMode()


class SuiteMetadata(_Lenient):
    """The whole ``test_suite_metadata.json``."""

    suite_info: dict[str, Any] = Field(default_factory=dict)
    api_config: MetadataApiConfig = MetadataApiConfig()
    global_settings: GlobalSettings = GlobalSettings()
    execution_modes: ExecutionModes = ExecutionModes()


def _warn_unknown(model: BaseModel, path: Path, where: str = "") -> None:
    for key in model.model_extra or {}:
        hint = did_you_mean(key, type(model).model_fields)
        # other tools add top-level sections of their own: only a likely typo is worth a word
        if hint or where:
            log.warning("%s: key '%s%s' is not used by llmbench%s", path, where, key, hint)
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, _Lenient):
            _warn_unknown(value, path, f"{where}{name}.")


def load_metadata(path: str | Path) -> SuiteMetadata:
    """Parse and validate a ``test_suite_metadata.json``."""
    data = read_json(path, ConfigError)
    if not isinstance(data, dict):
        raise ConfigError(f"expected a JSON object at the top, got {json_type(data)}", path=path)
    try:
        meta = SuiteMetadata.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(explain(exc, SuiteMetadata), path=path) from None
    api = meta.api_config
    try:
        APIConfiguration(endpoint=api.endpoint, headers=dict(api.headers))
    except ConfigError as exc:
        raise ConfigError(f"api_config.{exc.detail}", path=path) from None
    _warn_unknown(meta, Path(path))
    return meta
