"""The README says what the code does: its options, its agent keys and its example output.

A renamed option or key, or a table the run no longer prints, fails here rather than in a new
user's first hour.
"""

from __future__ import annotations

import argparse
import re

from llmbench.cli.main import build_parser
from llmbench.cli.run import build_runner_parser
from llmbench.config.agent_config import AgentConfig
from llmbench.report.terminal import LEADERBOARD_COLUMNS
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
OTHER_PROGRAMS = {
    "--only": "benchmarks/run.py",
    "--endpoint": "examples/quickstart.py",
    "--model": "examples/quickstart.py",
    "--resources": "ray start",
}
"""Options the README gives to programs other than llmbench and runner.py."""


def _options(parser: argparse.ArgumentParser) -> set[str]:
    found = {name for action in parser._actions for name in action.option_strings}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= _options(sub)
    return found


def _spelling_free(option: str) -> str:
    return option.replace("_", "-")


def test_every_option_the_readme_names_exists() -> None:
    known = {_spelling_free(o) for o in _options(build_parser()) | _options(build_runner_parser())}
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z_-]*", README))
    for option in sorted(named):
        if OTHER_PROGRAMS.get(option) == "ray start":  # Ray's own command
            continue
        if option in OTHER_PROGRAMS:
            program = (REPO / OTHER_PROGRAMS[option]).read_text(encoding="utf-8")
            assert f'"{option}"' in program, (
                f"{option} is not an option of {OTHER_PROGRAMS[option]}"
            )
            continue
        assert _spelling_free(option) in known, f"README names {option}, which no command has"


def test_every_agent_key_the_readme_lists_exists() -> None:
    paragraph = README[README.index("An agent\n  has") : README.index("(sent to the API")]
    keys = set(re.findall(r"`([a-z_]+)`", paragraph)) - {"true", "false"} | {"parameters"}
    assert len(keys) >= 15, keys
    assert keys <= set(AgentConfig.model_fields), keys - set(AgentConfig.model_fields)


def test_the_first_example_table_has_the_leaderboard_s_columns() -> None:
    start = README.index("Command 1 runs")
    table = README[start : README.index("```\n\n", README.index("```", start) + 3)]
    # a long header wraps over two lines; a column left out at the width is named under it
    for column in LEADERBOARD_COLUMNS:
        assert column.split()[0] in table, f"the README's first table lacks {column!r}"
    for agent in ("smollm2-greedy", "smollm2-warm"):  # boxed, or plain (`` | `` between cells)
        assert re.search(rf"[│|] {agent} ", table), f"the README's first table lacks {agent}"
