"""``analyse``: scored results in, the ``summary.json`` dict of docs/summary-format.md out.

Per agent: quality over all its results and per category, consistency over repeats, speed, how
its tests ended, its code calls (tests with tools), its conversations (interactive tests), the
helpers' tokens spent on it and its data-analysis submissions (:mod:`llmbench.scoring.
submissions`); then a paired comparison of every two agents. A result that
could not be scored (the request failed, or a scorer could not reach a verdict) is counted under
``errors`` and left out of every mean, never counted as a zero. A result whose test has nothing
to score (``"scoring": null``) is left out of quality, repeats and comparisons but still counts
for speed. Everything is deterministic: the bootstrap is seeded and pairs are taken in (test,
repeat) order, so the same results give the same summary.

The results are :class:`~llmbench.scoring.scored.ScoredResult` (a few hundred bytes each, no
texts), so that a run of many tests is analysed without holding its answers.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from llmbench.result import END_REASONS
from llmbench.scoring.scored import ScoredResult
from llmbench.scoring.statistics import (
    agreement,
    bootstrap_mean_interval,
    mcnemar_exact,
    mean_se,
    min_detectable_difference,
    paired_bootstrap_diff,
    pass_at_k,
    pass_hat_k,
    percentile,
    wilson_interval,
)
from llmbench.scoring.submissions import compare_submissions, submissions
from llmbench.store.results import summarize


def _interval(bounds: tuple[float, float] | None) -> list[float] | None:
    return None if bounds is None else [bounds[0], bounds[1]]


def _mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _quality(outcomes: Sequence[ScoredResult]) -> dict[str, Any]:
    """The QUALITY block over ``outcomes`` (one agent's results with a scoring block, or one
    category's)."""
    scored = [o for o in outcomes if o.score is not None]
    scores = [o.score for o in scored if o.score is not None]
    passes = sum(o.passes for o in scored)
    # an answer whose test has only secondary scorers (a suite's reasoning indicators) has
    # no verdict, and no error either
    unscored = sum(
        o.score is None and o.status == "ok" and o.scoring_error is None for o in outcomes
    )
    return {
        "n": len(outcomes),
        "scored": len(scored),
        "unscored": unscored,
        "errors": len(outcomes) - len(scored) - unscored,
        "scorer_errors": sum(
            o.score is None and o.status == "ok" and o.scoring_error is not None for o in outcomes
        ),
        "mean_score": _mean(scores),
        "score_se": mean_se(scores),
        "score_ci": _interval(bootstrap_mean_interval(scores)),
        "pass_rate": passes / len(scored) if scored else None,
        "pass_ci": _interval(wilson_interval(passes, len(scored))),
        "reasoning_mean": _mean([o.reasoning for o in outcomes if o.reasoning is not None]),
    }


def k_values(repeats: int) -> list[int]:
    """The k of pass@k and pass^k for ``repeats`` samples per test: 1, the powers of 2 below
    ``repeats``, and ``repeats`` (1, 2, 4, 8, 10 for 10), as HumanEval reports pass@1, @10, @100
    on a log scale without a figure per k."""
    ks = [1]
    while ks[-1] * 2 < repeats:
        ks.append(ks[-1] * 2)
    return [*ks, repeats] if repeats > 1 else ks


def _repeats(outcomes: Sequence[ScoredResult], repeats: int) -> dict[str, Any] | None:
    """The ``repeats`` block: pass@k, pass^k and agreement per test, averaged over tests.

    Only tests with at least ``repeats`` scored repeats take part, so that pass@1 and
    pass@``repeats`` are averaged over the same tests and an error is never read as a fail;
    ``tests`` and ``excluded_tests`` say how many were used and left out.
    """
    if repeats <= 1:
        return None
    by_test: dict[str, dict[int, bool]] = {}
    for o in outcomes:
        verdicts = by_test.setdefault(o.test_id, {})
        if o.score is not None:
            verdicts[o.repeat] = o.passes
    complete = [list(v.values()) for v in by_test.values() if len(v) >= repeats]
    block: dict[str, Any] = {
        "k": repeats,
        "tests": len(complete),
        "excluded_tests": len(by_test) - len(complete),
        "pass_at_k": {},
        "pass_hat_k": {},
    }
    for k in k_values(repeats):
        at = [pass_at_k(len(v), sum(v), k) for v in complete]
        hat = [pass_hat_k(len(v), sum(v), k) for v in complete]
        block["pass_at_k"][str(k)] = _mean(at)
        block["pass_hat_k"][str(k)] = _mean(hat)
    shares = [agreement(v) for v in complete]
    block["agreement"] = _mean([s for s in shares if s is not None])
    return block


def _speed(results: Sequence[ScoredResult]) -> dict[str, Any]:
    """The ``speed`` block: figures over requests that succeeded and were not served from cache."""
    timed = [r for r in results if r.status == "ok" and not r.cached]
    latency = [r.execution_time for r in timed]
    ttft = [r.time_to_first_token for r in timed if r.time_to_first_token is not None]
    ttfat = [
        r.time_to_first_answer_token for r in timed if r.time_to_first_answer_token is not None
    ]
    tps = [r.tokens_per_second for r in timed if r.tokens_per_second is not None]
    kinds = Counter(r.error_kind for r in results if r.error_kind)
    ok = [r for r in results if r.status == "ok"]
    thinking = [r.reasoning_tokens for r in ok if r.reasoning_tokens is not None]
    return {
        "n": len(timed),
        # a streamed answer always has a first token; an agent with stream = false has none
        "streamed": any(r.time_to_first_token is not None for r in timed) if timed else None,
        "cached": sum(1 for r in results if r.status == "ok" and r.cached),
        "latency_s": {f"p{q}": percentile(latency, q) for q in (50, 95, 99)},
        "time_to_first_token_s": {f"p{q}": percentile(ttft, q) for q in (50, 95)},
        "time_to_first_answer_token_s": {f"p{q}": percentile(ttfat, q) for q in (50, 95)},
        "tokens_per_second": {"p50": percentile(tps, 50)},
        "prompt_tokens": sum(r.prompt_tokens or 0 for r in timed),
        "completion_tokens": sum(r.completion_tokens or 0 for r in timed),
        "reasoning_tokens": {
            "p50": percentile([float(n) for n in thinking], 50),
            "total": sum(thinking),
        },
        "reasoning_truncated": (sum(r.reasoning_truncated for r in ok) / len(ok) if ok else None),
        "errors_by_kind": dict(sorted(kinds.items())),
    }


_REASON_ORDER = {reason: n for n, reason in enumerate(END_REASONS)}


def _end_reasons(results: Iterable[ScoredResult]) -> dict[str, int]:
    """How many of ``results`` ended for each reason, in :data:`END_REASONS` order (a reason
    llmbench does not know last); results without an end reason (older ones) are left out."""
    counts = Counter(r.end_reason for r in results if r.end_reason is not None)
    ordered = sorted(counts, key=lambda r: (_REASON_ORDER.get(r, len(_REASON_ORDER)), r))
    return {reason: counts[reason] for reason in ordered}


def _per_test(values: Sequence[int]) -> dict[str, Any]:
    return {"mean": _mean(values), "max": max(values, default=None)}


def _tools(results: Sequence[ScoredResult], agent: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ``tools`` block over the agent's tests with tools; None when it ran none. The
    protocol is the one chosen at preflight (``agent["tool_protocol"]``), else the one its
    results name when they agree."""
    used = [r for r in results if r.tool_protocol is not None]
    if not used:
        return None
    protocol = agent.get("tool_protocol")
    reason = agent.get("tool_protocol_reason") if protocol else None
    if not protocol:
        seen = {r.tool_protocol for r in used}
        protocol = seen.pop() if len(seen) == 1 else None
    calls = [r.tool_calls for r in used]
    return {
        "tests": len(used),
        "tool_calls": sum(calls),
        "code_errors": sum(r.code_errors for r in used),
        "code_timeouts": sum(r.code_timeouts for r in used),
        "session_restarts": sum(r.session_restarts for r in used),
        "tool_calls_per_test": _per_test(calls),
        "end_reasons": _end_reasons(used),
        "protocol": protocol,
        "protocol_reason": reason,
    }


def _interactive(results: Sequence[ScoredResult]) -> dict[str, Any] | None:
    """The ``interactive`` block over the agent's interactive tests; None when it ran none."""
    talks = [r for r in results if r.interactive]
    if not talks:
        return None
    turns = [r.turns for r in talks if r.turns is not None]
    return {
        "tests": len(talks),
        "turns_per_test": _per_test(turns),
        "end_reasons": _end_reasons(talks),
    }


def _helper_tokens(results: Sequence[ScoredResult]) -> dict[str, int] | None:
    """The instructor's and the supervisor's tokens over the agent's tests (never part of the
    agent's own counts); None when no result recorded either."""
    instructor = [r.instructor_tokens for r in results if r.instructor_tokens is not None]
    supervisor = [r.supervisor_tokens for r in results if r.supervisor_tokens is not None]
    if not instructor and not supervisor:
        return None
    return {"instructor": sum(instructor), "supervisor": sum(supervisor)}


def _compare(
    a_id: str, a: Sequence[ScoredResult], b_id: str, b: Sequence[ScoredResult]
) -> dict[str, Any]:
    """One entry of ``comparisons``: agent ``a`` against ``b`` on the keys both scored."""
    a_by_key = {o.key: o for o in a if o.score is not None}
    b_by_key = {o.key: o for o in b if o.score is not None}
    keys = sorted(a_by_key.keys() & b_by_key.keys())
    pairs = [(a_by_key[k], b_by_key[k]) for k in keys]
    entry = paired_comparison(
        a_id,
        [x.score for x, _ in pairs if x.score is not None],
        [x.passes for x, _ in pairs],
        b_id,
        [y.score for _, y in pairs if y.score is not None],
        [y.passes for _, y in pairs],
    )
    entry["submissions"] = compare_submissions(a, b)
    return entry


def paired_comparison(
    a_id: str,
    a: Sequence[float],
    a_pass: Sequence[bool],
    b_id: str,
    b: Sequence[float],
    b_pass: Sequence[bool],
) -> dict[str, Any]:
    """``a`` against ``b`` over their paired scores and verdicts (``a[i]`` and ``b[i]`` are
    the same test and repeat): the fields of a ``comparisons`` entry (docs/summary-format.md)
    but ``submissions``. The summary and ``llmbench view``'s comparison both use it."""
    a_only = sum(x and not y for x, y in zip(a_pass, b_pass, strict=True))
    b_only = sum(y and not x for x, y in zip(a_pass, b_pass, strict=True))
    entry: dict[str, Any] = {
        "a": a_id,
        "b": b_id,
        "n_pairs": len(a),
        "mean_a": None,
        "mean_b": None,
        "mean_diff": None,
        "diff_ci": None,
        "mcnemar": {"a_only": a_only, "b_only": b_only, "p_value": mcnemar_exact(a_only, b_only)},
        "significant": False,
        "min_detectable_diff": None,
    }
    if not a:
        return entry
    diff, ci = paired_bootstrap_diff(a, b)
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    sd_diff = statistics.stdev(diffs) if len(diffs) >= 2 else None
    excludes_zero = ci is not None and (ci[0] > 0 or ci[1] < 0)
    # a percentile bootstrap is too optimistic on a handful of pass/fail pairs (two pairs that
    # differ the same way give [1, 1]); for 0/1 scores the exact McNemar test must agree too
    binary = all(v in (0.0, 1.0) for v in (*a, *b))
    p_value = entry["mcnemar"]["p_value"]
    entry.update(
        mean_a=statistics.fmean(a),
        mean_b=statistics.fmean(b),
        mean_diff=diff,
        diff_ci=_interval(ci),
        significant=excludes_zero and (not binary or p_value < 0.05),
        min_detectable_diff=min_detectable_difference(len(a), sd_diff),
    )
    return entry


def _agent(
    agent: Mapping[str, Any],
    results: Sequence[ScoredResult],
    outcomes: Sequence[ScoredResult],
    repeats: int,
) -> dict[str, Any]:
    categories = sorted({o.category for o in outcomes})
    return {
        "agent_id": agent["agent_id"],
        "run_id": agent.get("run_id"),
        "model": agent.get("model"),
        "endpoint": agent.get("endpoint"),
        "concurrency": agent.get("concurrency"),
        "planned": agent.get("planned"),
        "not_run": agent.get("not_run"),
        "summary": summarize(results),
        "quality": _quality(outcomes),
        "categories": {c: _quality([o for o in outcomes if o.category == c]) for c in categories},
        "repeats": _repeats(outcomes, repeats),
        "speed": _speed(results),
        "end_reasons": _end_reasons(results),
        "tools": _tools(results, agent),
        "interactive": _interactive(results),
        "helper_tokens": _helper_tokens(results),
        "submissions": submissions(outcomes, repeats),
    }


def analyse(
    results: Sequence[ScoredResult],
    agents: Sequence[Mapping[str, Any]],
    *,
    run_id: str,
    status: str,
    repeats: int,
    generated_at: datetime | None = None,
    sandbox: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the ``summary.json`` dict (docs/summary-format.md) of one run.

    ``results`` are the scored results of every agent (one per agent, test and repeat, in run
    order); ``agents`` gives each agent's ``agent_id``, ``model``, ``endpoint``, ``planned`` and
    ``not_run`` (and, optionally, ``concurrency``, ``tool_protocol``, ``tool_protocol_reason``
    and, in a comparison of runs, the ``run_id`` it comes from), in the order the summary lists
    them and compares them (a before b). ``sandbox`` describes the code sandbox of a run with
    tools (null without). An agent's ``summary`` field is
    :func:`~llmbench.store.results.summarize` of its results.
    ``generated_at`` (timezone-aware) defaults to now in UTC. Results of agents not in
    ``agents`` are ignored; an ``agent_id`` listed twice is a ``ValueError``.
    """
    ids = [str(a["agent_id"]) for a in agents]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ValueError(f"analyse: agent_id listed more than once: {', '.join(repeated)}")
    stamp = (generated_at or datetime.now(UTC)).isoformat(timespec="milliseconds")
    own: dict[str, list[ScoredResult]] = {i: [] for i in ids}
    for result in results:
        mine = own.get(result.agent_id)
        if mine is not None:
            mine.append(result)
    outcomes = {i: [r for r in rs if r.has_scoring] for i, rs in own.items()}
    return {
        "run_id": run_id,
        "status": status,
        "repeats": repeats,
        "generated_at": stamp,
        "sandbox": None if sandbox is None else dict(sandbox),
        "agents": [
            _agent(a, own[i], outcomes[i], repeats) for a, i in zip(agents, ids, strict=True)
        ],
        "comparisons": [
            _compare(a, outcomes[a], b, outcomes[b])
            for n, a in enumerate(ids)
            for b in ids[n + 1 :]
        ],
    }
