"""The repeats table every report can show: pass@k, pass^k and agreement per agent.

Built from each agent's ``repeats`` block of ``summary.json`` (present when a run has more than
one repeat; docs/summary-format.md), best mean score first, one column per k that any agent
reports (1, the powers of 2 below the repeats, and the repeats).
"""

from __future__ import annotations

from llmbench.report.terminal import Summary, number, ranked_agents

REPEATS_NOTE = (
    "pass@k: the chance that at least one of k samples passes (the unbiased estimator of Chen "
    "et al. 2021, averaged over tests); pass^k: that all k pass; agreement: the share of "
    "repeats agreeing with the majority verdict."
)


def repeats_table(summary: Summary) -> tuple[list[str], list[list[str]]]:
    """The header and one row per agent that has a ``repeats`` block; no rows when none has."""
    agents = [a for a in ranked_agents(summary) if a.get("repeats")]
    ks = sorted({int(k) for a in agents for k in a["repeats"]["pass_at_k"]})
    header = ["Agent", *(f"pass@{k}" for k in ks), *(f"pass^{k}" for k in ks), "Agreement"]
    rows = [
        [
            str(a["agent_id"]),
            *(number(a["repeats"]["pass_at_k"].get(str(k))) for k in ks),
            *(number(a["repeats"]["pass_hat_k"].get(str(k))) for k in ks),
            number(a["repeats"]["agreement"]),
        ]
        for a in agents
    ]
    return header, rows
