"""Loading everything a multi-agent run needs from its files, without calling any model."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from llmbench.config.agent_config import AgentConfig, check_environment, load_agents
from llmbench.config.base_config import (
    BaseConfig,
    BenchmarkSection,
    checked_base_config,
    load_base_config,
)
from llmbench.config.metadata import SuiteMetadata, load_metadata
from llmbench.config.validation import did_you_mean
from llmbench.errors import ConfigError, SuiteError
from llmbench.scoring.specs import check_scoring, is_judged, parse_spec, runs_code
from llmbench.suite.dataset import iter_tests, locate, source_file
from llmbench.suite.loader import load_categories, load_suite, unknown_id_message
from llmbench.suite.models import Category, TestCase
from llmbench.suite.tests import Tests

BaseConfigInput = str | os.PathLike[str] | BaseConfig
"""A base config: the path of its TOML file, or the model itself (relative paths in it are
relative to the working directory)."""
AgentConfigInput = str | os.PathLike[str] | AgentConfig | Sequence[AgentConfig]
"""The agents: an agent TOML file or a directory of them, or the models themselves."""

BASE_OBJECT = "base_config (a BaseConfig object)"
"""How errors name a base config given as an object."""


@dataclass(frozen=True)
class RunPlan:
    """A validated run: configs, agents and the tests selected."""

    base_path: Path
    """The base config's file; for a config given as an object, :data:`BASE_OBJECT` in the
    working directory (what relative paths are relative to)."""
    base: BaseConfig
    agents: tuple[AgentConfig, ...]
    metadata: SuiteMetadata | None
    categories: dict[str, Category]
    tests: Tests
    """The tests selected, in order; each :class:`TestCase` is made when it is asked for."""
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
        return self.tests.interactive_count


def _select(
    tests: Tests,
    cats: dict[str, Category],
    test_cases: Sequence[str] | None,
    categories: Sequence[str] | None,
    where: tuple[str, str],
    path: Path | None,
) -> Tests:
    """``tests`` narrowed to ``test_cases`` and to ``categories``; ``where`` names the two
    settings in errors (``[benchmark].test_cases`` or ``--tests``)."""
    chosen: list[str] | None = None
    if test_cases is not None:
        for test_id in test_cases:
            if test_id not in tests:
                raise ConfigError(
                    f"{where[0]}: {unknown_id_message(test_id, tests.ids)}", path=path
                )
        chosen = list(test_cases)
    if categories is not None:
        names = set(cats) | tests.categories
        in_categories: set[str] = set()
        for name in categories:
            if name not in names:
                raise ConfigError(
                    f"{where[1]}: unknown category {name!r}{did_you_mean(name, names)}", path=path
                )
            in_categories.update(cats[name].test_ids if name in cats else tests.ids_in(name))
        base = chosen if chosen is not None else tests.ids
        chosen = [t for t in base if t in in_categories and t in tests]
    return tests if chosen is None else tests.select(chosen)


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


def load_tests(benchmark: BenchmarkSection, base_path: str | Path) -> Tests:
    """The tests ``[benchmark]`` names, each test's scorers checked: a suite file's held as
    they are (the file is parsed whole), a data set's spilled to a temporary file as its rows
    are read (:meth:`Tests.spill`), so that no more than one of its tests is held at a time.

    Raises SuiteError naming the file for a bad test, a bad scorer or a repeated id."""
    source = source_file(benchmark, base_path)
    if benchmark.dataset is None:
        return Tests.of(
            _checked(load_suite(source).tests, source), judged=is_judged, sandboxed=runs_code
        )
    data = locate(benchmark.dataset, base_path)
    seen: dict[str, int] = {}
    rows = iter_tests(benchmark.dataset, data, share=False, seen=seen)
    tests = Tests.spill(_checked(rows, source), judged=is_judged, sandboxed=runs_code, slot_of=seen)
    if not tests:
        raise SuiteError("the data set has no rows; it needs at least one", path=data.path)
    return tests


def _checked(tests: Iterable[TestCase], source: Path) -> Iterator[TestCase]:
    """``tests``, each once its scorers are known to build."""
    for test in tests:
        check_scoring(test, source)
        yield test


def _base(base_config: BaseConfigInput) -> tuple[Path, BaseConfig]:
    if isinstance(base_config, BaseConfig):
        origin = Path.cwd() / BASE_OBJECT
        return origin, checked_base_config(base_config, Path(BASE_OBJECT), Path.cwd())
    if not isinstance(base_config, str | os.PathLike):
        raise ConfigError(
            f"base_config: expected a path or a BaseConfig, got {type(base_config).__name__}"
        )
    return Path(base_config), load_base_config(Path(base_config))


def _agents(agent_config: AgentConfigInput) -> list[AgentConfig]:
    if isinstance(agent_config, str | os.PathLike):
        return load_agents(Path(agent_config))
    given = [agent_config] if isinstance(agent_config, AgentConfig) else list(agent_config)
    seen: set[str] = set()
    for index, agent in enumerate(given):
        if not isinstance(agent, AgentConfig):
            raise ConfigError(
                f"agent_config[{index}]: expected an AgentConfig, got {type(agent).__name__}"
            )
        if agent.id in seen:
            raise ConfigError(f"agent_config: agent id {agent.id!r} is given twice")
        seen.add(agent.id)
    if not given:
        raise ConfigError("agent_config: no agents given; give at least one AgentConfig")
    return given


def load_plan(base_config: BaseConfigInput, agent_config: AgentConfigInput) -> RunPlan:
    """Load and cross-check the base config, the agents, the suite and its companions; each
    config is a file's path or the pydantic model itself."""
    bp, base = _base(base_config)
    b = base.benchmark
    for setting in ("test_suite", "test_metadata", "categories_file"):
        _check_referenced(bp, setting, getattr(b, setting))
    agents = _agents(agent_config)
    check_dataset_scoring(base, bp)
    all_tests = load_tests(b, bp)
    metadata = load_metadata(b.test_metadata) if b.test_metadata else None
    cats = load_categories(b.categories_file, all_tests.ids) if b.categories_file else {}
    if metadata is not None:
        agents = [_with_defaults(a, metadata) for a in agents]
    tests = _select(
        all_tests,
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
    return RunPlan(bp, base, tuple(agents), metadata, cats, tests, b.repeats)


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
        tests=chosen_tests,
        repeats=plan.repeats if repeats is None else repeats,
    )
