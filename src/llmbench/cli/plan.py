"""Loading everything a multi-agent run needs from its files, without calling any model."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from llmbench.config.agent_config import AgentConfig, check_environment, load_agents
from llmbench.config.base_config import BaseConfig, load_base_config
from llmbench.config.metadata import SuiteMetadata, load_metadata
from llmbench.config.validation import did_you_mean
from llmbench.errors import ConfigError, SuiteError
from llmbench.scoring.specs import check_suite_scoring, parse_spec
from llmbench.suite.dataset import load_benchmark_suite, source_file
from llmbench.suite.loader import load_categories, unknown_id_message
from llmbench.suite.models import Category, Suite, TestCase


@dataclass(frozen=True)
class RunPlan:
    """A validated run: configs, agents, the suite and the tests selected."""

    base_path: Path
    base: BaseConfig
    agents: tuple[AgentConfig, ...]
    suite: Suite
    metadata: SuiteMetadata | None
    categories: dict[str, Category]
    tests: tuple[TestCase, ...]
    repeats: int

    @property
    def request_count(self) -> int:
        """Tests the run holds: tests x agents x repeats (an interactive test makes one agent
        request per turn)."""
        return len(self.tests) * len(self.agents) * self.repeats

    @property
    def source(self) -> Path:
        """The file the tests come from: the suite file, or the data set's file."""
        return source_file(self.base.benchmark, self.base_path)

    @property
    def interactive_count(self) -> int:
        """How many of the selected tests are interactive."""
        return sum(t.is_interactive for t in self.tests)


def _select(
    tests: Sequence[TestCase],
    cats: dict[str, Category],
    test_cases: Sequence[str] | None,
    categories: Sequence[str] | None,
    where: tuple[str, str],
    path: Path | None,
) -> list[TestCase]:
    """``tests`` narrowed to ``test_cases`` and to ``categories``; ``where`` names the two
    settings in errors (``[benchmark].test_cases`` or ``--tests``)."""
    by_id = {t.id: t for t in tests}
    chosen: list[str] | None = None
    if test_cases is not None:
        for test_id in test_cases:
            if test_id not in by_id:
                raise ConfigError(f"{where[0]}: {unknown_id_message(test_id, by_id)}", path=path)
        chosen = list(test_cases)
    if categories is not None:
        names = set(cats) | {t.category for t in tests}
        in_categories: set[str] = set()
        for name in categories:
            if name not in names:
                raise ConfigError(
                    f"{where[1]}: unknown category {name!r}{did_you_mean(name, names)}", path=path
                )
            ids = (
                cats[name].test_ids if name in cats else [t.id for t in tests if t.category == name]
            )
            in_categories.update(ids)
        base = chosen if chosen is not None else [t.id for t in tests]
        chosen = [t for t in base if t in in_categories and t in by_id]
    if chosen is None:
        return list(tests)
    return [by_id[t] for t in dict.fromkeys(chosen)]


def _with_defaults(agent: AgentConfig, metadata: SuiteMetadata) -> AgentConfig:
    """The suite metadata's global settings fill in what the agent file leaves unset."""
    g = metadata.global_settings
    update: dict[str, object] = {}
    if "timeout" not in agent.model_fields_set and g.default_timeout_seconds is not None:
        update["timeout"] = float(g.default_timeout_seconds)
    if "retry_attempts" not in agent.model_fields_set and g.default_retry_attempts is not None:
        update["retry_attempts"] = g.default_retry_attempts
    return agent.model_copy(update=update) if update else agent


def _check_referenced(base_path: Path, setting: str, path: Path | None) -> None:
    """ConfigError naming the base config and ``[benchmark].setting`` when ``path`` is not a
    file (the file's own loader reports anything else about it)."""
    if path is None:
        return
    if os.path.isdir(path):
        problem = "is a directory, expected a file"
    elif not os.path.lexists(path):
        problem = "file not found"
    else:
        return
    raise ConfigError(f"[benchmark].{setting}: {path}: {problem}", path=base_path)


def check_dataset_scoring(base: BaseConfig, base_path: Path) -> None:
    """ConfigError naming ``[benchmark.dataset].scoring[i]`` for a bad entry of the scorers a
    data set gives every test (before any row is read)."""
    dataset = base.benchmark.dataset
    for index, raw in enumerate(dataset.scoring or [] if dataset else []):
        try:
            parse_spec(raw, f"[benchmark.dataset].scoring[{index}]")
        except SuiteError as exc:
            raise ConfigError(exc.detail, path=base_path) from None


def load_plan(base_path: str | Path, agent_path: str | Path) -> RunPlan:
    """Load and cross-check the base config, the agents, the suite and its companions."""
    bp = Path(base_path)
    base = load_base_config(bp)
    b = base.benchmark
    for setting in ("test_suite", "test_metadata", "categories_file"):
        _check_referenced(bp, setting, getattr(b, setting))
    agents = load_agents(agent_path)
    check_dataset_scoring(base, bp)
    suite = load_benchmark_suite(b, bp)
    check_suite_scoring(suite, source_file(b, bp))
    metadata = load_metadata(b.test_metadata) if b.test_metadata else None
    cats = load_categories(b.categories_file, suite.by_id()) if b.categories_file else {}
    if metadata is not None:
        agents = [_with_defaults(a, metadata) for a in agents]
    tests = _select(
        suite.tests,
        cats,
        b.test_cases,
        b.categories,
        ("[benchmark].test_cases", "[benchmark].categories"),
        bp,
    )
    if not tests:
        raise ConfigError("[benchmark]: the selection of tests and categories is empty", path=bp)
    check_environment(
        [(a.api_key_env, a.source, "api_key_env") for a in agents]
        + [
            (base.instructor.api_key_env, bp, "[instructor].api_key_env"),
            (base.supervisor.api_key_env, bp, "[supervisor].api_key_env"),
        ]
    )
    return RunPlan(bp, base, tuple(agents), suite, metadata, cats, tuple(tests), b.repeats)


def narrow(
    plan: RunPlan,
    *,
    agents: Sequence[str] | None = None,
    tests: Sequence[str] | None = None,
    categories: Sequence[str] | None = None,
    repeats: int | None = None,
    source: str = "command line",
) -> RunPlan:
    """``plan`` restricted to these agent ids, test ids and categories (``--agents``,
    ``--tests``, ``--categories``) and with ``repeats`` if given. ``source`` names where the
    restriction comes from in errors."""
    chosen_agents = plan.agents
    if agents is not None:
        by_id = {a.id: a for a in plan.agents}
        for agent_id in agents:
            if agent_id not in by_id:
                raise ConfigError(
                    f"{source}: agents: unknown agent {agent_id!r}{did_you_mean(agent_id, by_id)}"
                    f"; the agents are {', '.join(by_id)}"
                )
        chosen_agents = tuple(by_id[a] for a in dict.fromkeys(agents))
    chosen_tests = _select(
        plan.tests,
        plan.categories,
        tests,
        categories,
        (f"{source}: tests", f"{source}: categories"),
        None,
    )
    if not chosen_tests or not chosen_agents:
        raise ConfigError(f"{source}: the selection of agents, tests and categories is empty")
    return replace(
        plan,
        agents=chosen_agents,
        tests=tuple(chosen_tests),
        repeats=plan.repeats if repeats is None else repeats,
    )
