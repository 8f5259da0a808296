"""``manifest.json`` of a multi-agent run: what ran, with which settings, and how it ended.

Fields (all written at the start; ``status`` and ``ended_at`` updated at the end, ``sessions``
gains an entry per ``--resume``):

- ``run_id``, ``status`` (running / completed / interrupted / failed), ``started_at``,
  ``ended_at`` (ISO 8601, UTC), ``llmbench_version``, ``python``
- ``sessions``: ``[{"started_at", "argv", "retry_errors", "executor"}]``, one per start or
  resume; ``executor`` is ``{"name": "local"}`` or ``{"name": "ray", "address", "actors",
  "nodes", "embedded_servers"}`` (``address`` null for a local Ray instance;
  ``embedded_servers``: how many embedded model servers the actors call, one per node)
- ``inputs``: absolute paths of ``base_config``, ``agent_config`` (null for a config given to
  :func:`llmbench.run` as an object), ``test_suite`` (or ``dataset``, the data file of
  ``[benchmark.dataset]``, null for the other), and ``suite_sha256``, the hash of the file the
  tests came from
- ``selection``: ``agents``, ``tests`` (ids) and ``repeats``: what ``--resume`` completes
- ``config``: the base config as loaded, helper headers redacted
- ``agents``: each agent config, endpoint stripped of credentials, headers redacted

Secrets never reach it: API keys are only named (``api_key_env``), sensitive header values are
``***`` and every registered secret is scrubbed when the file is written.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeGuard

from llmbench import __version__, redact
from llmbench.errors import ConfigError
from llmbench.runs.plan import AgentConfigInput, RunPlan
from llmbench.store.run_dir import RunDirectory

log = logging.getLogger("llmbench.run")


def now() -> str:
    """The current time as ISO 8601 UTC, to the millisecond."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _sha256(path: Path) -> str | None:
    # a data set may be large: hash it as it is read, never whole in memory
    try:
        with path.open("rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError:
        return None


def _helper(section: Any) -> dict[str, Any]:
    data: dict[str, Any] = section.model_dump(mode="json")
    data["headers"] = redact.redact_headers(section.headers)
    data["endpoint"] = redact.strip_url(section.endpoint)
    return data


def _agent(agent: Any) -> dict[str, Any]:
    data: dict[str, Any] = agent.model_dump(mode="json")
    data["headers"] = redact.redact_headers(agent.headers)
    data["endpoint"] = redact.strip_url(agent.endpoint)
    data["source"] = str(Path(agent.source).resolve()) if agent.source else None
    return data


LOCAL = {"name": "local"}


def _session(retry_errors: bool, executor: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "started_at": now(),
        "argv": [redact.scrub(a) for a in sys.argv],
        "retry_errors": retry_errors,
        "executor": executor or LOCAL,
    }


def _input_path(given: object) -> str | None:
    """The absolute path of a config given as a path; None for one given as an object."""
    return str(Path(given).resolve()) if isinstance(given, str | os.PathLike) else None


def build(
    plan: RunPlan,
    run_dir: RunDirectory,
    *,
    base_config: object,
    agent_config: AgentConfigInput,
    executor: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest of a new run; ``base_config`` and ``agent_config`` as they were given,
    ``executor`` what runs the tests (default local)."""
    b = plan.base
    suite_path = plan.source.resolve()
    dataset = b.benchmark.dataset is not None
    return {
        "run_id": run_dir.run_id,
        "status": "running",
        "started_at": now(),
        "ended_at": None,
        "llmbench_version": __version__,
        "python": platform.python_version(),
        "sessions": [_session(False, executor)],
        "inputs": {
            "base_config": _input_path(base_config),
            "agent_config": _input_path(agent_config),
            "test_suite": None if dataset else str(suite_path),
            "dataset": str(suite_path) if dataset else None,
            "suite_sha256": _sha256(suite_path),
        },
        "selection": {
            "agents": [a.id for a in plan.agents],
            "tests": list(plan.tests.ids),
            "repeats": plan.repeats,
        },
        "config": {
            "benchmark": b.benchmark.model_dump(mode="json"),
            "instructor": _helper(b.instructor),
            "supervisor": _helper(b.supervisor),
        },
        "agents": [_agent(a) for a in plan.agents],
    }


def mark_resumed(
    run_dir: RunDirectory, *, retry_errors: bool, executor: dict[str, Any] | None = None
) -> None:
    """Record a resume: status back to running, one more session."""
    data = run_dir.read_manifest()
    sessions = data.get("sessions")
    session = _session(retry_errors, executor)
    data["sessions"] = [*(sessions if isinstance(sessions, list) else []), session]
    data["status"] = "running"
    data["ended_at"] = None
    run_dir.write_manifest(data)


@dataclass(frozen=True)
class RecordedInputs:
    """What a manifest says to load and run again on resume."""

    base_config: str | None
    """None: the run was started with a config object, which a resume must be given again."""
    agent_config: str | None
    agents: list[str]
    tests: list[str]
    repeats: int


def recorded_inputs(manifest: dict[str, Any], path: Path) -> RecordedInputs:
    """The inputs and selection of a manifest; ConfigError naming ``path`` when they are not
    there (not a manifest written by ``llmbench run``)."""
    inputs, selection = manifest.get("inputs"), manifest.get("selection")
    if not isinstance(inputs, dict) or not isinstance(selection, dict):
        raise ConfigError(
            "not the manifest of an 'llmbench run' (expected 'inputs' and 'selection')", path=path
        )
    base, agents_at = inputs.get("base_config"), inputs.get("agent_config")
    agents, tests, repeats = (
        selection.get("agents"),
        selection.get("tests"),
        selection.get("repeats"),
    )
    if not (
        isinstance(base, str | None)
        and isinstance(agents_at, str | None)
        and _strings(agents)
        and _strings(tests)
        and isinstance(repeats, int)
        and repeats > 0
    ):
        raise ConfigError(
            "'inputs' or 'selection' is damaged (expected config paths, lists of agent and "
            "test ids, and repeats >= 1)",
            path=path,
        )
    return RecordedInputs(base, agents_at, agents, tests, repeats)


def _strings(value: Any) -> TypeGuard[list[str]]:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def warn_on_drift(plan: RunPlan, manifest: dict[str, Any]) -> None:
    """Warn when the suite or an agent changed since the run began (results would mix)."""
    inputs = manifest.get("inputs") or {}
    suite_path = plan.source.resolve()
    recorded = inputs.get("suite_sha256") if isinstance(inputs, dict) else None
    if recorded and recorded != _sha256(suite_path):
        log.warning(
            "%s changed since this run began; its results will mix the two versions", suite_path
        )
    before = {a.get("id"): a for a in manifest.get("agents") or [] if isinstance(a, dict)}
    for agent in plan.agents:
        old = before.get(agent.id)
        if old is not None and old != _agent(agent):
            log.warning(
                "agent %s: its config changed since this run began; its results will mix the two",
                agent.id,
            )
