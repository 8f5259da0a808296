"""Agent configs: one TOML file per model under test.

``load_agents(path)`` takes a file or a directory. In a directory, files that are not
``.toml`` and ``sample_agent_config.toml`` (the documented template) are skipped. Agent ids
are unique; the error for a duplicate names both files.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from llmbench.config.api import EMBEDDED, APIConfiguration
from llmbench.config.files import read_toml
from llmbench.config.validation import explain
from llmbench.errors import ConfigError

SAMPLE_NAME = "sample_agent_config.toml"


class AgentConfig(BaseModel):
    """One agent: a model behind an endpoint, with its own limits and parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    id: str = Field(min_length=1, max_length=100)
    """Unique over the run; names the agent's folder in the run directory."""
    endpoint: str = EMBEDDED
    """An OpenAI-compatible URL, or ``embedded``."""
    model: str = ""
    api_type: Literal["chat", "completions"] | None = None
    api_key_env: str | None = None
    """Name of the environment variable holding the API key; never the key itself."""
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(120.0, gt=0)
    """Read timeout in seconds."""
    retry_attempts: int = Field(3, ge=0)
    max_concurrency: int = Field(4, gt=0)
    """This agent's own bound on tests in flight."""
    rpm: float | None = Field(None, gt=0)
    """Most requests per minute to this agent."""
    system_prompt: str | None = None
    """Prepended as a system message to every chat test that has none."""
    parameters: dict[str, Any] = Field(default_factory=dict)
    """Sent to the API, overriding the test's parameters where both set one."""
    source: Path | None = Field(None, exclude=True, strict=False)
    """The file this agent came from (set by the loader)."""

    @field_validator("id")
    @classmethod
    def _printable(cls, value: str) -> str:
        if any(not ch.isprintable() for ch in value):
            raise ValueError("must contain printable characters only")
        return value

    def api_configuration(self) -> APIConfiguration:
        """The agent's settings as an :class:`APIConfiguration`."""
        return APIConfiguration(
            endpoint=self.endpoint,
            model=self.model,
            headers=dict(self.headers),
            timeout=self.timeout,
            retry_attempts=self.retry_attempts,
            api_type=self.api_type,
            api_key_env=self.api_key_env,
        )


def load_agent(path: str | Path) -> AgentConfig:
    """Parse and validate one agent file."""
    p = Path(path)
    data = read_toml(p, ConfigError)
    if "source" in data:
        raise ConfigError("unknown key 'source'", path=p)
    try:
        agent = AgentConfig.model_validate({**data, "source": p})
    except ValidationError as exc:
        raise ConfigError(explain(exc, AgentConfig), path=p) from None
    try:
        agent.api_configuration()
    except ConfigError as exc:
        raise ConfigError(exc.detail, path=p) from None
    return agent


def agent_files(path: str | Path) -> list[Path]:
    """The agent files at ``path``: the file itself, or a directory's ``*.toml`` but the sample."""
    p = Path(path)
    if not p.exists():
        raise ConfigError("no such file or directory", path=p)
    if p.is_file():
        return [p]
    files = sorted(f for f in p.iterdir() if f.suffix == ".toml" and f.name != SAMPLE_NAME)
    if not files:
        has_sample = (p / SAMPLE_NAME).exists()
        hint = (
            f"; {SAMPLE_NAME} is only the template: copy it to another name and edit it"
            if has_sample
            else "; add one .toml file per agent"
        )
        raise ConfigError(f"no agent configs in this directory{hint}", path=p)
    return files


def load_agents(path: str | Path) -> list[AgentConfig]:
    """Every agent at ``path`` (a file or a directory), ids unique."""
    agents: list[AgentConfig] = []
    seen: dict[str, Path] = {}
    for file in agent_files(path):
        agent = load_agent(file)
        if agent.id in seen:
            raise ConfigError(
                f"agent id {agent.id!r} is used by both {seen[agent.id]} and {file}; "
                "ids must be unique"
            )
        seen[agent.id] = file
        agents.append(agent)
    return agents


def check_environment(
    named: Iterable[tuple[str | None, str | Path | None, str]],
) -> None:
    """Raise ConfigError for the first ``api_key_env`` whose variable is unset.

    ``named`` holds (variable name, file, where) triples, ``where`` such as ``api_key_env`` or
    ``[supervisor].api_key_env``.
    """
    for variable, path, where in named:
        if variable and not os.environ.get(variable):
            raise ConfigError(
                f"{where}: environment variable {variable} is not set; "
                f"export {variable}=<your key> before running",
                path=path,
            )
