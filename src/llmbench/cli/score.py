"""``llmbench score RUN_DIR`` and ``llmbench report RUN_DIR [RUN_DIR ...]``.

``score`` re-scores a finished run without calling any agent (after a scoring spec changed): it
re-reads the suite the run was made from (or the one ``--base_config`` names), scores every
final result (the judge's cached replies make an unchanged judgement free), and rebuilds the
summary and the reports. ``report`` rebuilds the reports from the scores already stored; with
several run directories it compares them in one report (an agent that appears in more than one
run is shown as ``agent@run_id``, and each agent of the summary names its ``run_id``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

from llmbench.cli.exits import run_reporting_errors
from llmbench.providers.embedded import EmbeddedServer
from llmbench.report.terminal import print_report, stdout_console
from llmbench.report.write import write_reports
from llmbench.runs.finish import RunResults, agent_info, finish
from llmbench.runs.preflight import Use, check_endpoints, resolve_embedded
from llmbench.runs.stored import open_run
from llmbench.scoring.analysis import analyse
from llmbench.store.files import dumps, ensure_directory, write_atomic
from llmbench.store.journal_index import JournalIndex
from llmbench.store.run_dir import (
    SUMMARY,
    new_run_id,
)


def score_command(args: argparse.Namespace) -> int:
    """``llmbench score RUN_DIR``."""
    stored = open_run(args.run_dir, args.base_config)
    server: EmbeddedServer | None = None
    judge_api = None
    try:
        if stored.tests.needs_judge:
            uses, server = resolve_embedded(
                [Use("supervisor", stored.base.supervisor.api_configuration())]
            )
            asyncio.run(check_endpoints(uses))
            judge_api = uses[0].api
        gc.freeze()  # the suite and the index live to the end: the collector need not walk them
        summary = finish(
            stored.run_dir,
            tests=stored.tests,
            agents=stored.agents,
            repeats=stored.repeats,
            status=stored.status,
            judge_api=judge_api,
            supervisor=stored.base.supervisor,
            rescore=True,
            served_models=True,
            result_files=stored.base.benchmark.result_files,
            sandbox=stored.sandbox,
            code_sandbox=stored.base.sandbox.settings() if stored.tests.needs_sandbox else None,
            cache_dir=(
                Path(stored.base.benchmark.cache_dir)
                if stored.base.benchmark.cache_dir
                else stored.run_dir.path.parent / ".cache"
            ),
        )
    finally:
        stored.run_dir.close()
        if server is not None:
            server.stop()
    print_report(summary, stdout_console())
    print(f"scored: {stored.run_dir.path}")
    return 0


def report_command(args: argparse.Namespace) -> int:
    """``llmbench report RUN_DIR [RUN_DIR ...]``."""
    paths = list(dict.fromkeys(str(Path(p).resolve()) for p in args.run_dirs))  # each once
    runs = [open_run(p) for p in paths]
    seen: dict[str, int] = {}
    for run in runs:
        for a in run.agents:
            seen[a.agent_id] = seen.get(a.agent_id, 0) + 1
    repeats = max(run.repeats for run in runs)
    if len(runs) == 1:
        out_dir = runs[0].run_dir.path
        run_id, status = runs[0].run_dir.run_id, runs[0].status
    else:
        out_dir = (
            Path(args.out) if args.out else runs[0].run_dir.path.parent / f"compare-{new_run_id()}"
        )
        ensure_directory(out_dir)
        run_id, status = f"compare of {', '.join(r.run_dir.run_id for r in runs)}", "compare"
    with ExitStack() as stack:
        for run in runs:
            stack.callback(run.run_dir.close)
        results = RunResults()
        infos: list[dict[str, Any]] = []
        for run in runs:
            rename = {
                a.agent_id: f"{a.agent_id}@{run.run_dir.run_id}"
                for a in run.agents
                if seen[a.agent_id] > 1
            }
            index = stack.enter_context(JournalIndex.build(run.run_dir, run.keys))
            asyncio.run(results.read(index, run.tests, rename=rename, run_id=run.run_dir.run_id))
            for a in run.agents:
                served = replace(a, model=index.models.get(a.agent_id) or a.model)
                shown = rename.get(a.agent_id, a.agent_id)
                compared = run.run_dir.run_id if len(runs) > 1 else None
                infos.append(agent_info(index, served, shown, compared))
        sandboxes = [run.sandbox for run in runs]
        summary = analyse(
            results.results,
            infos,
            run_id=run_id,
            status=status,
            repeats=repeats,
            # a comparison of runs whose sandboxes differ has no one sandbox to name
            sandbox=sandboxes[0] if all(s == sandboxes[0] for s in sandboxes) else None,
        )
        write_atomic(out_dir / SUMMARY, dumps(summary, pretty=True) + "\n")
        write_reports(out_dir, summary, results.results, results.record)
    print_report(summary, stdout_console())
    print(f"reports: {out_dir / 'report.html'}, {out_dir / 'report.md'}")
    return 0


def add_score_arguments(score: argparse.ArgumentParser, report: argparse.ArgumentParser) -> None:
    """The options of ``score`` and ``report``."""
    score.add_argument("run_dir", metavar="RUN_DIR", help="a run directory (results/<run_id>)")
    score.add_argument(
        "--base_config",
        help="read the suite and [supervisor] from this config instead of the run's",
    )
    report.add_argument(
        "run_dirs", nargs="+", metavar="RUN_DIR", help="one or more run directories"
    )
    report.add_argument("--out", help="where a comparison of several runs goes")


def run_scoring_command(args: argparse.Namespace) -> int:
    """Dispatch ``score`` / ``report`` with the CLI's error handling."""
    command = score_command if args.command == "score" else report_command
    return run_reporting_errors(lambda: command(args))
