"""The end of a run, and ``llmbench score`` / ``llmbench report``: score, analyse, report.

:func:`finish` scores every final result of a run directory (the judge's replies come from its
cache when nothing changed), appends the scores to ``scores.jsonl`` and the per-test files,
writes ``summary.json``, ``report.md`` and ``report.html``, and returns the summary for the
terminal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from llmbench.config.api import APIConfiguration
from llmbench.config.base_config import HelperSection
from llmbench.engine.calls import Caller
from llmbench.report.write import write_reports
from llmbench.scoring.analysis import analyse
from llmbench.scoring.judge import Judge, JudgeSettings
from llmbench.scoring.run_scoring import RunScorer, record
from llmbench.scoring.specs import judge_spec
from llmbench.store.cache import CACHE_FILE, ReplyCache
from llmbench.store.files import dumps, write_atomic
from llmbench.store.run_dir import SUMMARY, EntryKey, JournalEntry, RunDirectory, run_keys
from llmbench.suite.models import TestCase


@dataclass(frozen=True)
class AgentInfo:
    """What the summary says about an agent besides its results."""

    agent_id: str
    model: str | None
    endpoint: str


def needs_judge(tests: Sequence[TestCase]) -> bool:
    """True when some test is scored by the judge."""
    return any(judge_spec(t) is not None for t in tests)


def cache_path(run_dir: RunDirectory) -> Path:
    """The reply cache shared by the runs of one results directory."""
    return run_dir.path.parent / ".cache" / CACHE_FILE


async def _score(
    entries: list[JournalEntry],
    tests: dict[str, TestCase],
    judge_api: APIConfiguration | None,
    supervisor: HelperSection,
    cache: ReplyCache,
) -> dict[EntryKey, dict[str, Any] | None]:
    judge = None
    if judge_api is not None:
        settings = JudgeSettings(
            max_tokens=min(supervisor.max_tokens, 512),
            structured_output=supervisor.structured_output,
        )
        judge = Judge(Caller(judge_api), settings, cache)
    async with aiohttp.ClientSession() as session:
        return await RunScorer(judge).score_all(entries, tests, session)


def finish(
    run_dir: RunDirectory,
    *,
    tests: Sequence[TestCase],
    agents: Sequence[AgentInfo],
    repeats: int,
    status: str,
    judge_api: APIConfiguration | None,
    supervisor: HelperSection,
    rescore: bool = True,
) -> dict[str, Any]:
    """Score (all, or only what has no score yet), analyse, write the reports."""
    by_id = {t.id: t for t in tests}
    keys = run_keys((a.agent_id for a in agents), by_id, repeats)
    final = run_dir.final_entries()
    scores = run_dir.read_scores()
    todo = [final[k] for k in keys if k in final and (rescore or k not in scores)]
    if todo:
        cache = ReplyCache(cache_path(run_dir))
        try:
            fresh = asyncio.run(_score(todo, by_id, judge_api, supervisor, cache))
        finally:
            cache.close()
        run_dir.write_scores(fresh.items())
        scores.update(fresh)
    records = [record(final[k], by_id.get(k[1]), scores.get(k)) for k in keys if k in final]
    summary = summarize_records(run_dir.run_id, status, repeats, agents, keys, final, records)
    write_atomic(run_dir.path / SUMMARY, dumps(summary, pretty=True) + "\n")
    write_reports(run_dir.path, summary, records)
    return summary


def summarize_records(
    run_id: str,
    status: str,
    repeats: int,
    agents: Sequence[AgentInfo],
    keys: Sequence[EntryKey],
    final: dict[EntryKey, JournalEntry],
    records: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    """``summary.json`` for these agents, keys and records."""
    infos = []
    results_by_agent = {}
    for a in agents:
        mine = [k for k in keys if k[0] == a.agent_id]
        infos.append(
            {
                "agent_id": a.agent_id,
                "model": a.model,
                "endpoint": a.endpoint,
                "planned": len(mine),
                "not_run": sum(k not in final for k in mine),
            }
        )
        results_by_agent[a.agent_id] = [final[k].result for k in mine if k in final]
    return analyse(
        records,
        infos,
        run_id=run_id,
        status=status,
        repeats=repeats,
        results_by_agent=results_by_agent,
    )
