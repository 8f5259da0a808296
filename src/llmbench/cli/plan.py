"""Loading everything a multi-agent run needs from its files, without calling any model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from llmbench.config.agent_config import AgentConfig, check_environment, load_agents
from llmbench.config.base_config import BaseConfig, load_base_config
from llmbench.config.metadata import SuiteMetadata, load_metadata
from llmbench.config.validation import did_you_mean
from llmbench.errors import ConfigError
from llmbench.suite.loader import load_categories, load_suite, unknown_id_message
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

    @property
    def request_count(self) -> int:
        """Agent requests the run makes (interactive tests make more, one per turn)."""
        return len(self.tests) * len(self.agents) * self.base.benchmark.repeats


def _select(
    base: BaseConfig, base_path: Path, suite: Suite, cats: dict[str, Category]
) -> list[TestCase]:
    by_id = suite.by_id()
    chosen: list[str] | None = None
    b = base.benchmark
    if b.test_cases is not None:
        for test_id in b.test_cases:
            if test_id not in by_id:
                raise ConfigError(
                    f"[benchmark].test_cases: {unknown_id_message(test_id, by_id)}", path=base_path
                )
        chosen = list(b.test_cases)
    if b.categories is not None:
        names = set(cats) | {t.category for t in suite.tests}
        in_categories: set[str] = set()
        for name in b.categories:
            if name not in names:
                raise ConfigError(
                    f"[benchmark].categories: unknown category {name!r}{did_you_mean(name, names)}",
                    path=base_path,
                )
            ids = (
                cats[name].test_ids
                if name in cats
                else [t.id for t in suite.tests if t.category == name]
            )
            in_categories.update(ids)
        chosen = [t for t in (chosen or [t.id for t in suite.tests]) if t in in_categories]
    if chosen is None:
        return list(suite.tests)
    return [by_id[t] for t in dict.fromkeys(chosen)]


def load_plan(base_path: str | Path, agent_path: str | Path) -> RunPlan:
    """Load and cross-check the base config, the agents, the suite and its companions."""
    bp = Path(base_path)
    base = load_base_config(bp)
    agents = load_agents(agent_path)
    b = base.benchmark
    suite = load_suite(b.test_suite)
    metadata = load_metadata(b.test_metadata) if b.test_metadata else None
    cats = load_categories(b.categories_file, suite.by_id()) if b.categories_file else {}
    tests = _select(base, bp, suite, cats)
    if not tests:
        raise ConfigError("[benchmark]: the selection of tests and categories is empty", path=bp)
    check_environment(
        [(a.api_key_env, a.source, "api_key_env") for a in agents]
        + [
            (base.instructor.api_key_env, bp, "[instructor].api_key_env"),
            (base.supervisor.api_key_env, bp, "[supervisor].api_key_env"),
        ]
    )
    return RunPlan(bp, base, tuple(agents), suite, metadata, cats, tuple(tests))
