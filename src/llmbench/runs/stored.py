"""A finished (or stopped) run read back from its directory: the suite it was made from, its
agents as recorded, and what the summary being replaced knew (concurrency, tool protocols), for
``llmbench score``, ``llmbench report``, ``llmbench show`` and :func:`llmbench.load_results`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmbench import jsonio
from llmbench.config.base_config import BaseConfig, load_base_config
from llmbench.errors import ConfigError, ResultsError
from llmbench.runs.finish import AgentInfo
from llmbench.runs.manifest import recorded_inputs
from llmbench.runs.plan import load_tests
from llmbench.store.run_dir import SUMMARY, EntryKey, RunDirectory, run_keys
from llmbench.suite.dataset import source_file
from llmbench.suite.tests import Tests


@dataclass
class StoredRun:
    """A run directory read back: what it was meant to run and what it holds."""

    run_dir: RunDirectory
    base: BaseConfig
    tests: Tests
    agents: list[AgentInfo]
    repeats: int
    status: str
    sandbox: dict[str, Any] | None = None
    """The code sandbox of a run with tools (the summary's ``sandbox`` block), or None."""

    @property
    def keys(self) -> list[EntryKey]:
        return run_keys((a.agent_id for a in self.agents), self.tests.ids, self.repeats)


def open_run(path: str, base_config: str | None = None) -> StoredRun:
    """Read a run directory and the suite it was made from (InputError when unusable)."""
    try:
        run_dir = RunDirectory.open(path)
        manifest = run_dir.read_manifest()
    except ResultsError as exc:
        raise ConfigError(str(exc)) from None
    inputs = recorded_inputs(manifest, run_dir.manifest_path)
    base_path = base_config or inputs.base_config
    if base_path is None:
        raise ConfigError(
            "the run was started with a BaseConfig object, not a file; give the base config "
            "again (--base_config FILE)",
            path=run_dir.manifest_path,
        )
    base = load_base_config(base_path)
    every = load_tests(base.benchmark, base_path)  # a suite file or a data set
    source = source_file(base.benchmark, base_path)
    tests = every.select(t for t in inputs.tests if t in every)
    missing = [t for t in inputs.tests if t not in every]
    if missing:
        raise ConfigError(
            f"{source}: tests of the run are no longer in the suite: "
            f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}"
        )
    recorded = {a.get("id"): a for a in manifest.get("agents") or [] if isinstance(a, dict)}
    previous = previous_summary(run_dir)
    concurrency = _recorded_concurrency(manifest, previous)
    protocols = recorded_protocols(previous)
    agents = [
        AgentInfo(
            a,
            (recorded.get(a) or {}).get("model") or None,
            str((recorded.get(a) or {}).get("endpoint") or ""),
            concurrency.get(a) if isinstance(concurrency.get(a), dict) else None,
            *protocols.get(a, (None, None)),
        )
        for a in inputs.agents
    ]
    status = str(manifest.get("status") or "completed")
    sandbox = previous.get("sandbox")
    return StoredRun(
        run_dir,
        base,
        tests,
        agents,
        inputs.repeats,
        status,
        sandbox if isinstance(sandbox, dict) else None,
    )


def previous_summary(run_dir: RunDirectory) -> dict[str, Any]:
    """The summary being replaced, or {} when there is none or it is not one llmbench wrote."""
    try:
        previous = jsonio.loads((run_dir.path / SUMMARY).read_bytes())
    except (OSError, ValueError):
        return {}
    return previous if isinstance(previous, dict) else {}


def _recorded_concurrency(manifest: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
    """Each agent's concurrency as the run chose it: from the manifest (written as the run
    ends), else from the summary being replaced (a manifest the run's end could not update),
    so that rebuilding a summary never loses it."""
    recorded = manifest.get("concurrency")
    if isinstance(recorded, dict):
        return recorded
    try:
        return {a["agent_id"]: a["concurrency"] for a in previous["agents"]}
    except (KeyError, TypeError):  # none, or not one llmbench wrote
        return {}


def recorded_protocols(previous: dict[str, Any]) -> dict[str, tuple[str | None, str | None]]:
    """Each agent's tool protocol and why preflight chose it, from the summary being replaced
    (only the run's preflight knew them), so that rebuilding a summary never loses them."""
    protocols: dict[str, tuple[str | None, str | None]] = {}
    for agent in previous.get("agents") or []:
        tools = agent.get("tools") if isinstance(agent, dict) else None
        if isinstance(tools, dict):
            protocol, reason = tools.get("protocol"), tools.get("protocol_reason")
            protocols[str(agent.get("agent_id"))] = (
                protocol if isinstance(protocol, str) else None,
                reason if isinstance(reason, str) else None,
            )
    return protocols
