"""What a run is asked to do, and the plan it becomes: the configs loaded and cross-checked,
the selection narrowed, and for a resumed run the directory it continues and what is left."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from llmbench.errors import ConfigError, ResultsError
from llmbench.runs import manifest as manifest_mod
from llmbench.runs.logs import LEVELS
from llmbench.runs.plan import AgentConfigInput, BaseConfigInput, RunPlan, load_plan, narrow
from llmbench.store.run_dir import EntryKey, RunDirectory, run_keys

DEFAULT_BASE_CONFIG = "base_config.toml"
DEFAULT_AGENT_CONFIG = "agent_configs/"
EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class RunOptions:
    """Everything :func:`llmbench.run` takes, as the command line's options name it."""

    base_config: BaseConfigInput | None = None
    """The base config (a path or a ``BaseConfig``); None: ``base_config.toml``, or when
    resuming the one the run recorded."""
    agent_config: AgentConfigInput | None = None
    """The agents (a file, a directory, or ``AgentConfig`` objects); None: ``agent_configs/``,
    or when resuming what the run recorded."""
    agents: Sequence[str] | None = None
    """Only these agent ids."""
    tests: Sequence[str] | None = None
    """Only these test ids."""
    categories: Sequence[str] | None = None
    """Only the tests of these categories."""
    repeats: int | None = None
    """Run each test this many times per agent (None: ``[benchmark] repeats``)."""
    resume: str | os.PathLike[str] | None = None
    """A run directory to continue: only what has no result yet runs."""
    retry_errors: bool = False
    """With ``resume``, also run again the tests that ended in error."""
    no_stream: bool = False
    """Ask every agent for whole answers (TTFT and tokens/s are then not measured)."""
    no_cache: bool = False
    """Send every request even with ``[benchmark] cache = true``."""
    log_level: str = "INFO"
    """The least level written to ``run.log`` (INFO at least)."""
    executor: str | None = None
    """``local`` or ``ray``: overrides ``[benchmark] executor`` for this run; None when
    resuming: the executor the run last ran on."""

    def __post_init__(self) -> None:
        level = str(self.log_level).upper()
        if level not in LEVELS:
            raise ConfigError(f"log_level: expected one of {', '.join(LEVELS)}, got {level!r}")
        object.__setattr__(self, "log_level", level)
        if self.executor is not None and self.executor not in EXECUTORS:
            raise ConfigError(
                f"executor: expected one of {', '.join(EXECUTORS)}, got {self.executor!r}"
            )
        for name in ("agents", "tests", "categories"):
            value = getattr(self, name)
            if isinstance(value, str):  # one id given bare: ["q1"], not ["q", "1"]
                object.__setattr__(self, name, [value])
        if self.repeats is not None and (
            isinstance(self.repeats, bool) or not isinstance(self.repeats, int) or self.repeats < 1
        ):
            raise ConfigError(f"repeats: expected a whole number >= 1, got {self.repeats!r}")

    @property
    def narrows(self) -> bool:
        """True when agents, tests, categories or repeats are chosen here."""
        return bool(self.agents or self.tests or self.categories or self.repeats)


@dataclass
class Prepared:
    """A loaded plan and, when resuming, the run directory it continues."""

    plan: RunPlan
    run_dir: RunDirectory | None
    manifest: dict[str, Any] | None
    options: RunOptions

    @property
    def base_config(self) -> BaseConfigInput:
        """The base config as given (or recorded), for the manifest."""
        given = self.options.base_config
        return self.plan.base_path if given is None else given

    @property
    def agent_config(self) -> AgentConfigInput:
        """The agents as given, for the manifest."""
        given = self.options.agent_config
        return DEFAULT_AGENT_CONFIG if given is None else given


def prepare(options: RunOptions) -> Prepared:
    """Load and check everything ``options`` names; InputError for any mistake, before
    anything is written."""
    if options.retry_errors and not options.resume:
        raise ConfigError("--retry-errors: only with --resume RUN_DIR")
    if not options.resume:
        plan = load_plan(
            options.base_config if options.base_config is not None else DEFAULT_BASE_CONFIG,
            options.agent_config if options.agent_config is not None else DEFAULT_AGENT_CONFIG,
        )
        if options.narrows:
            plan = narrow(
                plan,
                agents=options.agents,
                tests=options.tests,
                categories=options.categories,
                repeats=options.repeats,
            )
        return Prepared(_chosen(plan, options), None, None, options)
    if options.narrows:
        raise ConfigError(
            "--resume: a resumed run keeps its own selection; "
            "drop --agents / --tests / --categories / --repeats"
        )
    try:
        run_dir = RunDirectory.open(Path(options.resume))
        manifest = run_dir.read_manifest()
    except ResultsError as exc:
        raise ConfigError(f"--resume: {exc}") from None
    inputs = manifest_mod.recorded_inputs(manifest, run_dir.manifest_path)
    base = options.base_config if options.base_config is not None else inputs.base_config
    agents = options.agent_config if options.agent_config is not None else inputs.agent_config
    if base is None or agents is None:
        missing = "base_config" if base is None else "agent_config"
        raise ConfigError(
            f"--resume: the run was started with {missing} given as an object, not a file; "
            f"give it again ({missing}=... or --{missing})",
            path=run_dir.manifest_path,
        )
    plan = load_plan(base, agents)
    plan = narrow(
        plan,
        agents=inputs.agents,
        tests=inputs.tests,
        repeats=inputs.repeats,
        source=f"{run_dir.manifest_path}",
    )
    manifest_mod.warn_on_drift(plan, manifest)
    if options.executor is None:  # the executor the run last ran on (an --executor is kept)
        sessions = manifest.get("sessions") or [{}]
        last = (sessions[-1].get("executor") or {}).get("name")
        if last in EXECUTORS:
            options = replace(options, executor=last)
    return Prepared(_chosen(plan, options), run_dir, manifest, options)


def _chosen(plan: RunPlan, options: RunOptions) -> RunPlan:
    """``plan`` with what ``options`` choose for this run: whole answers under ``no_stream``,
    the executor; checked to work with that executor."""
    if options.no_stream:
        agents = tuple(a.model_copy(update={"stream": False}) for a in plan.agents)
        plan = replace(plan, agents=agents)
    if options.executor is not None and options.executor != plan.base.benchmark.executor:
        benchmark = plan.base.benchmark.model_copy(update={"executor": options.executor})
        plan = replace(plan, base=plan.base.model_copy(update={"benchmark": benchmark}))
    if plan.base.benchmark.executor == "ray":
        from llmbench.executors.ray import check_plan

        check_plan(plan, no_cache=options.no_cache)
    return plan


def pending(prep: Prepared) -> list[EntryKey]:
    """The (agent, test, repeat) keys still to run, in run order."""
    plan = prep.plan
    keys = run_keys((a.id for a in plan.agents), plan.tests.ids, plan.repeats)
    if prep.run_dir is None:
        return keys
    return prep.run_dir.pending(keys, prep.options.retry_errors)
