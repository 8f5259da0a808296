"""``llmbench``: ``run`` a suite against several agents; ``validate`` and ``list`` check a run's
files without calling any model; ``convert`` writes the suite a data set becomes; ``view``
serves a local web page over every run.

Exit codes: 0 ok, 1 some tests could not run, 2 bad input, 130 interrupted. A mistake in the
user's input is printed as one line, never as a traceback. Every long option takes ``_`` or
``-`` between its words (:mod:`llmbench.cli.command_line`); bare ``llmbench`` prints the help
and exits 0, as ``llmbench --help`` does.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from llmbench.cli.command_line import Parser, add_version
from llmbench.cli.convert import add_convert_arguments, convert_command
from llmbench.cli.exits import EXIT_OK, run_reporting_errors
from llmbench.cli.run import add_run_arguments, run_command
from llmbench.cli.score import add_score_arguments, run_scoring_command
from llmbench.cli.show import add_show_arguments, show_command
from llmbench.cli.view import add_view_arguments, view_command
from llmbench.runs.plan import RunPlan, load_plan


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--base_config", default="base_config.toml", help="base config TOML (default: %(default)s)"
    )
    parser.add_argument(
        "--agent_config",
        default="agent_configs/",
        help="an agent TOML file or a directory of them (default: %(default)s)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="llmbench", description="Benchmark LLMs over OpenAI-compatible APIs.")
    add_version(parser)
    sub = parser.add_subparsers(dest="command")  # every subcommand's parser is a Parser too
    run = sub.add_parser(
        "run",
        help="run the suite against every agent (the same as runner.py)",
        epilog="exit codes: 0 all tests ran, 1 some could not run, 2 bad input, 130 interrupted",
    )
    add_run_arguments(run)
    score = sub.add_parser(
        "score", help="score a finished run again (after its scoring spec changed); no agent calls"
    )
    report = sub.add_parser(
        "report", help="rebuild the reports of a run, or compare several runs in one report"
    )
    add_score_arguments(score, report)
    show = sub.add_parser(
        "show",
        help="print stored results of a run as JSON: entry, prompt, expected and scoring",
        epilog="exit codes: 0 every selected result shown, 1 some were not run, 2 bad input",
    )
    add_show_arguments(show)
    validate = sub.add_parser(
        "validate", help="check every file of a run without calling any model"
    )
    _common(validate)
    listing = sub.add_parser("list", help="list the tests, categories or agents of a run")
    listing.add_argument("what", choices=("tests", "categories", "agents"))
    _common(listing)
    convert = sub.add_parser(
        "convert", help="write the suite JSON that the base config's [benchmark.dataset] becomes"
    )
    add_convert_arguments(convert)
    view = sub.add_parser(
        "view",
        help="a local web page over every run of a results directory, live while a run goes",
        epilog="exit codes: 0 stopped with Ctrl-C, 1 cannot listen, 2 no such directory",
    )
    add_view_arguments(view)
    return parser


def _validate(plan: RunPlan) -> int:
    agents = ", ".join(a.id for a in plan.agents)
    endpoints = sorted({a.endpoint for a in plan.agents})
    print(
        f"ok: {len(plan.tests)} tests x {len(plan.agents)} agents ({agents}) x "
        f"{plan.base.benchmark.repeats} repeats = {plan.request_count} tests to run, "
        f"against {', '.join(endpoints)}"
    )
    return EXIT_OK


def _list(plan: RunPlan, what: str) -> int:
    if what == "tests":
        for t in plan.tests:
            kind = "interactive" if t.is_interactive else "messages" if t.messages else "prompt"
            if t.has_tools:
                kind += "+" + "+".join(t.tools or ())
            print(f"{t.id}\t{t.category}\t{kind}\t{t.name}")
    elif what == "categories":
        counts: dict[str, int] = {}
        for test_id in plan.tests.ids:
            category = plan.tests.category_of(test_id)
            counts[category] = counts.get(category, 0) + 1
        for name, cat in plan.categories.items():
            print(f"{name}\t{len(cat.test_ids)} tests\t{cat.description}")
        for name, n in counts.items():
            if name not in plan.categories:
                print(f"{name}\t{n} tests")
    else:
        for a in plan.agents:
            limit = f"max_concurrency={a.max_concurrency}"
            print(f"{a.id}\t{a.endpoint}\t{a.model or '-'}\t{limit}\t{a.source}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command is None and not extra:  # bare `llmbench`: what it can do, as --help
        parser.print_help()
        return EXIT_OK
    if extra and args.command == "show" and not any(e.startswith("-") for e in extra):
        args.test_ids = [*args.test_ids, *extra]  # `show RUN --agent a q1`: see show.py
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "run":
        return run_command(args)
    if args.command in ("score", "report"):
        return run_scoring_command(args)
    if args.command == "show":
        return run_reporting_errors(lambda: show_command(args))
    if args.command == "convert":
        return convert_command(args)
    if args.command == "view":
        return view_command(args)
    return run_reporting_errors(lambda: _check(args))


def _check(args: argparse.Namespace) -> int:
    plan = load_plan(args.base_config, args.agent_config)
    if args.command == "validate":
        return _validate(plan)
    return _list(plan, args.what)


if __name__ == "__main__":
    sys.exit(main())
