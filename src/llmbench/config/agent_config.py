"""Agent configs: one TOML file per model under test.

``load_agents(path)`` takes a file or a directory. In a directory, files that are not
``.toml``, hidden files (an editor's ``.#a.toml``) and ``sample_agent_config.toml`` (the
documented template) are skipped. Agent ids are unique; the error for a duplicate names both
files.
"""

from __future__ import annotations

import datetime
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from llmbench.config.api import DEFAULT_MAX_RESPONSE_BYTES, EMBEDDED, APIConfiguration
from llmbench.config.files import read_toml
from llmbench.config.validation import (
    MAX_ID_LENGTH,
    check_env_name,
    check_id,
    dotted,
    explain,
    shown,
)
from llmbench.errors import ConfigError
from llmbench.providers.thinking import DEFAULT_REASONING_TAGS

SAMPLE_NAME = "sample_agent_config.toml"


def _concurrency(value: Any) -> Any:
    """``max_concurrency``: a whole number > 0, or ``"auto"``."""
    if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value > 0):
        return value
    raise ValueError('expected an integer > 0 or "auto"')


def _tags(value: Any) -> Any:
    """``reasoning_tags``: two non-empty strings, or ``false``."""
    if value is False:
        return value
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(tag, str) and tag.strip() for tag in value)
    ):
        return value
    raise ValueError('expected two tags such as ["<think>", "</think>"], or false')


class AgentConfig(BaseModel):
    """One agent: a model behind an endpoint, with its own limits and parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    id: Annotated[str, AfterValidator(check_id)] = Field(min_length=1, max_length=MAX_ID_LENGTH)
    """Unique over the run; names the agent's folder in the run directory (through
    :func:`~llmbench.store.files.safe_component`). 1 to 100 printable characters."""
    endpoint: str = EMBEDDED
    """An OpenAI-compatible URL, or ``embedded``."""
    model: str = ""
    api_type: Literal["chat", "completions"] | None = None
    api_key_env: Annotated[str | None, AfterValidator(check_env_name)] = None
    """Name of the environment variable holding the API key; never the key itself."""
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(120.0, gt=0)
    """Read timeout in seconds."""
    retry_attempts: int = Field(3, ge=0)
    retry_delay: float = Field(1.0, ge=0, allow_inf_nan=False)
    """Seconds before the first retry; retry n waits ``retry_delay * retry_backoff**n``."""
    retry_backoff: float = Field(2.0, ge=1, allow_inf_nan=False)
    retry_budget_s: float = Field(600.0, gt=0, allow_inf_nan=False)
    """Most seconds one test may take, all attempts and waits included."""
    max_response_bytes: int = Field(DEFAULT_MAX_RESPONSE_BYTES, gt=0)
    """Largest answer read, in bytes (a whole stream or a JSON body); a larger one is an error."""
    stream: bool = True
    """Stream answers (SSE): what gives time to first token and tokens/s. ``false``: one JSON
    answer per request, those two figures not measured (``--no-stream`` for one run)."""
    max_concurrency: Annotated[int | Literal["auto"], BeforeValidator(_concurrency)] = 4
    """This agent's own bound on tests in flight, or ``"auto"``: found from the server's
    latency while the run goes (see :mod:`llmbench.engine.concurrency`)."""
    rpm: float | None = Field(None, gt=0)
    """Most requests per minute to this agent."""
    ray_resources: dict[str, Annotated[float, Field(gt=0, allow_inf_nan=False)]] = Field(
        default_factory=dict
    )
    """With ``executor = "ray"``: Ray resources this agent's work needs, e.g. ``{"server_a" =
    0.001}`` for the node next to its model server (given to ``ray start --resources``). Its
    tests run on actors placed there."""
    system_prompt: str | None = None
    """Prepended as a system message to every chat test that has none."""
    parameters: dict[str, Any] = Field(default_factory=dict)
    """Sent to the API, overriding the test's parameters where both set one (thinking settings
    such as ``reasoning_effort`` or ``chat_template_kwargs`` included, unchanged)."""
    reasoning_tags: Annotated[list[str] | Literal[False], BeforeValidator(_tags)] = Field(
        default_factory=lambda: list(DEFAULT_REASONING_TAGS)
    )
    """The tags around thinking that a server leaves inline at the start of the answer: split
    off into ``reasoning_text``. ``false``: never look for them."""
    tool_protocol: Literal["auto", "function", "text"] = "auto"
    """How the agent runs code in tests with tools: ``function`` (the OpenAI tools API),
    ``text`` (fenced ``python`` blocks in its reply), or ``auto``: one probe request at
    preflight decides (see :mod:`llmbench.tools.probe`)."""
    max_turns: int | None = Field(None, gt=0)
    """Interactive tests: the most user turns, where the test sets none (default:
    ``[instructor] max_turns``)."""
    max_tool_calls: int = Field(8, gt=0)
    """Tests with tools: the most code calls in one turn, where the test sets none."""
    max_tool_calls_total: int = Field(64, gt=0)
    """Tests with tools: the most code calls in a test, where the test sets none."""
    time_limit_s: float | None = Field(None, gt=0, allow_inf_nan=False)
    """Tests with tools: working seconds per test (model calls and code, not retry or rate
    waits), where the test sets none; default none."""
    token_limit: int | None = Field(None, gt=0)
    """Tests with tools: the most tokens (prompt plus completion over the agent's requests)
    per test, where the test sets none; default none."""
    source: Path | None = Field(None, exclude=True, strict=False)
    """The file this agent came from (set by the loader)."""

    def api_configuration(self) -> APIConfiguration:
        """The agent's settings as an :class:`APIConfiguration`."""
        return APIConfiguration(
            endpoint=self.endpoint,
            model=self.model,
            headers=dict(self.headers),
            timeout=self.timeout,
            retry_attempts=self.retry_attempts,
            retry_delay=self.retry_delay,
            retry_backoff=self.retry_backoff,
            retry_budget_s=self.retry_budget_s,
            max_response_bytes=self.max_response_bytes,
            stream=self.stream,
            api_type=self.api_type,
            api_key_env=self.api_key_env,
            reasoning_tags=(self.reasoning_tags[0], self.reasoning_tags[1])
            if self.reasoning_tags
            else None,
        )


def _not_json(value: Any, where: tuple[str | int, ...]) -> str | None:
    """Why ``value`` cannot go in a JSON request body (a TOML date, ``inf``), or None."""
    if isinstance(value, datetime.date | datetime.time) or (
        isinstance(value, float) and not math.isfinite(value)
    ):
        return (
            f"field '{dotted(where)}': expected a JSON value (the API takes JSON; write a date "
            f"as a string), got {shown(value)}"
        )
    if isinstance(value, dict):
        items: Iterable[tuple[str | int, Any]] = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        problem = _not_json(item, (*where, key))
        if problem:
            return problem
    return None


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
    problem = _not_json(agent.parameters, ("parameters",))
    if problem:
        raise ConfigError(problem, path=p)
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
    if not p.is_dir():  # a file, or a pipe such as <(generate-agent)
        return [p]
    files = sorted(
        f
        for f in p.iterdir()
        if f.suffix == ".toml" and f.name != SAMPLE_NAME and not f.name.startswith(".")
    )
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
