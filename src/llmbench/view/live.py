"""A run's progress as the viewer sees it from its files, while it runs and after.

Nothing but the run directory is read: the manifest says what the run is meant to run (agents x
tests x repeats), when the current session started and each agent's concurrency setting; the
journal index says what has ended. From them, per agent:

- ``done`` (ended ok or with an error; a cancelled result runs again on resume), ``ok``,
  ``errors``, ``cancelled`` out of ``total``;
- ``rate_per_s``: results of the current session over the seconds since it started (to the
  last result's end once the run is over), and ``eta_s`` = what is left over that rate;
- ``in_flight``: the concurrency in use, by Little's law: the latencies of the results that
  ended in the last :data:`WINDOW_S` seconds, summed, over the window (a run of 4 requests at
  a time, each 2 s long, ends 2 a second: 2 x 2 s / 1 s = 4). ``concurrency`` is what the run
  was set to (``{"mode": "fixed", "limit": 4}`` or ``{"mode": "auto"}``), and, once the run
  is over, what it chose (the manifest's ``concurrency``).

A run whose manifest says running but whose journal has not grown for :data:`STALE_S` seconds
is flagged ``stale``: the process may have died without saying so (``--resume`` continues it).
"""

from __future__ import annotations

import math
import time
from datetime import datetime
from typing import Any

from llmbench.store.run_dir import JOURNAL
from llmbench.view.index import AgentFigures, RunIndex
from llmbench.view.runs import Manifest

WINDOW_S = 30.0
"""The trailing window of the in-flight estimate."""
STALE_S = 600.0
"""A running run whose journal is older than this is flagged stale."""


def _epoch(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp).timestamp()
    except ValueError:
        return None


def _configured(manifest: Manifest, agent_id: str) -> dict[str, Any] | None:
    chosen = (manifest.concurrency or {}).get(agent_id)
    if isinstance(chosen, dict):
        return chosen
    for agent in manifest.agents:
        if agent.id == agent_id and agent.max_concurrency is not None:
            if agent.max_concurrency == "auto":
                return {"mode": "auto"}
            return {"mode": "fixed", "limit": agent.max_concurrency}
    return None


def progress(index: RunIndex, manifest: Manifest, now: float | None = None) -> dict[str, Any]:
    """``{"status", "running", "stale", "updated_at", "session_started_at", "max_workers",
    "agents": [...], "total": {...}}``; see the module docstring for each agent's figures."""
    now = time.time() if now is None else now
    running = manifest.status == "running"
    selection = manifest.selection
    planned = list(selection.agents) if selection else []
    per_agent = (len(selection.tests) * selection.repeats) if selection else None
    session = manifest.sessions[-1].started_at if manifest.sessions else manifest.started_at
    start = _epoch(session)
    figures = index.figures(-math.inf if start is None else start, now - WINDOW_S)
    agents = list(dict.fromkeys([*planned, *figures]))
    last_end = max((f.last_end for f in figures.values() if f.last_end is not None), default=None)
    until = now if running else (last_end or now)
    elapsed = max(until - start, 1e-9) if start is not None else None
    window = min(WINDOW_S, elapsed) if elapsed is not None else WINDOW_S
    rows = []
    for agent_id in agents:
        f = figures.get(agent_id) or AgentFigures()
        done = f.ok + f.errors
        total = per_agent if agent_id in planned else None
        rate = f.since / elapsed if elapsed else None
        left = None if total is None else max(total - done, 0)
        eta = None
        if left == 0:
            eta = 0.0
        elif running and left is not None and rate:
            eta = left / rate
        rows.append(
            {
                "agent_id": agent_id,
                "done": done,
                "total": total,
                "ok": f.ok,
                "errors": f.errors,
                "cancelled": f.cancelled,
                "rate_per_s": rate,
                "eta_s": eta,
                "in_flight": f.busy_s / window if running else None,
                "concurrency": _configured(manifest, agent_id),
            }
        )
    journal = index.path / JOURNAL
    try:
        updated: float | None = journal.stat().st_mtime
    except OSError:
        updated = None
    stale = running and now - (updated if updated is not None else (start or now)) > STALE_S
    return {
        "status": manifest.status,
        "running": running,
        "stale": stale,
        "updated_at": updated,
        "session_started_at": session,
        "max_workers": (manifest.config.get("benchmark") or {}).get("max_workers"),
        "agents": rows,
        "total": _total(rows),
    }


def _total(rows: list[dict[str, Any]]) -> dict[str, Any]:
    totals = [r["total"] for r in rows]
    etas = [r["eta_s"] for r in rows if r["eta_s"] is not None]
    flights = [r["in_flight"] for r in rows if r["in_flight"] is not None]
    return {
        "done": sum(r["done"] for r in rows),
        "total": sum(totals) if rows and all(t is not None for t in totals) else None,
        "errors": sum(r["errors"] for r in rows),
        "eta_s": max(etas) if etas and len(etas) == len(rows) else None,
        "in_flight": sum(flights) if flights else None,
    }
