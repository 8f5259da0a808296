"""What a run's code needs: each agent's tool protocol (and why), and the code sandbox's
settings, checked to work on this machine before anything starts or is written."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmbench.runs.plan import RunPlan
from llmbench.runs.preflight import Use, choose_tool_protocols

if TYPE_CHECKING:
    from llmbench.sandbox import SandboxSettings

log = logging.getLogger("llmbench.run")


@dataclass(frozen=True)
class RunTools:
    """Each agent's tool protocol and why it was chosen, and the sandbox's settings (None when
    no test runs code)."""

    protocols: dict[str, tuple[str, str]] = field(default_factory=dict)
    sandbox: SandboxSettings | None = None


def check_sandbox(plan: RunPlan) -> SandboxSettings | None:
    """The sandbox settings when some test runs code, checked to work on this machine (one
    line saying why not and how to fix it, before anything starts or is written)."""
    if not plan.tests.needs_sandbox:
        return None
    from llmbench.sandbox import check_isolation

    settings = plan.base.sandbox.settings()
    check_isolation(settings)
    if settings.isolation == "process":
        log.warning(
            '[sandbox] isolation = "process": code runs with resource limits only, without '
            "filesystem or network isolation"
        )
    return settings


def sandbox_summary(settings: SandboxSettings | None) -> dict[str, Any] | None:
    """The summary's ``sandbox`` block: how the run's code was isolated and bounded."""
    if settings is None:
        return None
    return {
        "isolation": settings.isolation,
        "call_timeout_s": settings.call_timeout_s,
        "max_parallel": settings.parallel_calls,
        "python": settings.interpreter,
        "memory_mb": settings.memory_mb,
        "home_size_mb": settings.home_size_mb,
    }


async def tool_protocols(plan: RunPlan, resolved: dict[str, Use]) -> dict[str, tuple[str, str]]:
    """Each agent's tool protocol when some test gives tools (a probe for ``auto``)."""
    if not plan.tests.tools_count:
        return {}
    agents = [(a.id, a.tool_protocol, resolved[a.id].api) for a in plan.agents]
    return await choose_tool_protocols(agents)


def with_tools(manifest: dict[str, Any], plan: RunPlan, tools: RunTools) -> dict[str, Any]:
    """The manifest with the protocol each agent uses and the sandbox's settings."""
    if tools.protocols:
        manifest["tool_protocols"] = {
            agent_id: {"protocol": protocol, "reason": reason}
            for agent_id, (protocol, reason) in tools.protocols.items()
        }
    if tools.sandbox is not None:
        manifest["sandbox"] = plan.base.sandbox.model_dump(mode="json")
    return manifest
