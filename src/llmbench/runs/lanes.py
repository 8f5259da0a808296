"""The run's work as the scheduler takes it: one lane per agent (its caller, limits, tools and
pending tests) and the helpers (instructor, supervisor) of interactive tests."""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from llmbench.config.agent_config import AgentConfig
from llmbench.config.api import APIConfiguration
from llmbench.config.base_config import BaseConfig
from llmbench.engine.agent_loop import AgentTools, RunSandbox, ToolLimits
from llmbench.engine.breaker import Breakers
from llmbench.engine.calls import Caller
from llmbench.engine.concurrency import AutoConcurrency
from llmbench.engine.scheduler import Item, Lane
from llmbench.engine.test_run import Helpers, Target
from llmbench.runs.plan import RunPlan
from llmbench.runs.preflight import Use
from llmbench.runs.tools import RunTools
from llmbench.store.run_dir import EntryKey, RunDirectory
from llmbench.suite.tests import Tests


def uses_helpers(plan: RunPlan) -> bool:
    """True when some test is interactive and an LLM plays its user."""
    return plan.interactive_count > 0 and plan.base.instructor.mode == "llm"


def uses(plan: RunPlan) -> list[Use]:
    """Every API configuration the run calls, and who calls it."""
    found = [Use(a.id, a.api_configuration()) for a in plan.agents]
    if uses_helpers(plan):
        found.append(Use("instructor", plan.base.instructor.api_configuration()))
    if uses_helpers(plan) or plan.tests.needs_judge:
        found.append(Use("supervisor", plan.base.supervisor.api_configuration()))
    return found


def helpers(base: BaseConfig, resolved: dict[str, Use], breakers: Breakers) -> Helpers:
    """The instructor and supervisor of interactive tests (none when no LLM plays the user:
    ``resolved`` then has neither)."""
    i, s = base.instructor, base.supervisor
    if "instructor" not in resolved or "supervisor" not in resolved:
        return Helpers(max_turns=i.max_turns)
    instructor, supervisor = resolved["instructor"].api, resolved["supervisor"].api
    return Helpers(
        instructor=Caller(instructor, breaker=breakers.for_api(instructor)),
        supervisor=Caller(supervisor, breaker=breakers.for_api(supervisor)),
        max_turns=i.max_turns,
        instructor_parameters={"temperature": i.temperature, "max_tokens": i.max_tokens},
        instructor_format=i.structured_output,
        supervisor_parameters={"temperature": s.temperature, "max_tokens": s.max_tokens},
        supervisor_format=s.structured_output,
    )


def target(
    agent: AgentConfig,
    api: APIConfiguration,
    breakers: Breakers,
    tools: RunTools,
    sandbox: RunSandbox | None,
    *,
    rpm: float | None,
    files_dir: Callable[[str, int], Path] | None = None,
) -> Target:
    """Where and how ``agent``'s tests are sent (``api``: its resolved configuration);
    ``sandbox`` None: the run has no test with tools."""
    agent_tools = None
    if sandbox is not None:
        limits = ToolLimits(
            max_tool_calls=agent.max_tool_calls,
            max_tool_calls_total=agent.max_tool_calls_total,
            time_limit_s=agent.time_limit_s,
            token_limit=agent.token_limit,
        )
        protocol = tools.protocols[agent.id][0]
        agent_tools = AgentTools(
            protocol,  # type: ignore[arg-type]
            limits,
            sandbox,
            files_dir=files_dir,
        )
    return Target(
        Caller(api, rpm=rpm, breaker=breakers.for_api(api)),
        overrides=dict(agent.parameters),
        system_prompt=agent.system_prompt,
        tools=agent_tools,
        max_turns=agent.max_turns,
    )


def run_sandbox(tools: RunTools) -> RunSandbox | None:
    """The run's sandbox, when some agent runs code."""
    return RunSandbox.create(tools.sandbox) if tools.protocols else None


def lanes(
    plan: RunPlan,
    resolved: dict[str, Use],
    pending: list[EntryKey],
    breakers: Breakers,
    tools: RunTools,
    run_dir: RunDirectory | None = None,
    *,
    remote: bool = False,
) -> list[Lane]:
    """One lane per agent, each holding its share of ``pending`` in run order. ``remote``:
    the tests run elsewhere (:mod:`llmbench.executors.ray`), so the lanes' callers only
    carry the agents' APIs, without rate limit, tools or sandbox."""
    work = {a.id: AgentWork(plan.tests, pending) for a in plan.agents}
    for position, (agent_id, _, _) in enumerate(pending):
        work[agent_id].positions.append(position)
    sandbox = None if remote else run_sandbox(tools)
    made = []
    for a in plan.agents:
        if remote:  # the executor's workers send the requests: the lane only admits tests
            lane_target = Target(
                Caller(resolved[a.id].api, breaker=breakers.for_api(resolved[a.id].api))
            )
        else:
            lane_target = target(
                a,
                resolved[a.id].api,
                breakers,
                tools,
                sandbox,
                rpm=a.rpm,
                files_dir=None if run_dir is None else partial(run_dir.files_dir, a.id),
            )
        workers = plan.base.benchmark.max_workers
        auto = AutoConcurrency(ceiling=workers) if a.max_concurrency == "auto" else None
        bound = workers if a.max_concurrency == "auto" else a.max_concurrency
        made.append(Lane(a.id, lane_target, bound, work[a.id], plan.base.benchmark.seed, auto=auto))
    return made


@dataclass
class AgentWork:
    """One agent's pending tests: positions in the run's pending keys, each test made when the
    scheduler reaches it (so a lane holds 8 bytes a test, not the test)."""

    tests: Tests
    pending: list[EntryKey]
    positions: array[int] = field(default_factory=lambda: array("l"))

    def __len__(self) -> int:
        return len(self.positions)

    def __iter__(self) -> Iterator[Item]:
        for position in self.positions:
            _, test_id, repeat = self.pending[position]
            test = self.tests.get(test_id)
            assert test is not None  # the pending keys come from these tests' ids
            yield test, repeat


def concurrency(made: list[Lane]) -> dict[str, dict[str, Any]]:
    """Each agent's bound on tests in flight, as chosen (for the summary and the manifest)."""
    return {
        lane.agent_id: lane.auto.report()
        if lane.auto is not None
        else {"mode": "fixed", "limit": lane.max_concurrency}
        for lane in made
    }
