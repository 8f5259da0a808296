"""``llmbench.load_results(run_dir)``: a run's scored results as a pandas DataFrame.

pandas is imported only here, when this is called (``pip install 'llmbench[notebook]'``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

COLUMNS = (
    "run_id",
    "agent_id",
    "test_id",
    "repeat",
    "category",
    "status",
    "error_kind",
    "error_message",
    "score",
    "passed",
    "reasoning",
    "scoring_error",
    "execution_time",
    "time_to_first_token",
    "time_to_first_answer_token",
    "tokens_per_second",
    "prompt_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "reasoning_truncated",
    "end_reason",
    "turns",
    "tool_protocol",
    "tool_calls",
    "code_errors",
    "code_timeouts",
    "session_restarts",
    "instructor_tokens",
    "supervisor_tokens",
    "model",
    "prompt",
    "expected",
    "response_text",
    "reasoning_text",
)


def load_results(run_dir: str | Path) -> Any:
    """One row per agent, test and repeat of the run at ``run_dir`` (its final result), with
    its score; columns in :data:`COLUMNS`. Raises InputError when ``run_dir`` is not a run."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "load_results needs pandas: pip install 'llmbench[notebook]' (or pip install pandas)"
        ) from None
    from llmbench.runs.stored import open_run
    from llmbench.scoring.run_scoring import record
    from llmbench.store.journal_index import JournalIndex

    stored = open_run(str(run_dir))
    rows = []
    try:
        with JournalIndex.build(stored.run_dir, stored.keys) as index:
            for i, key in enumerate(index.keys):
                if not index.has_entry(i):
                    continue
                rec = record(index.entry(i), stored.tests.get(key[1]), index.scoring(i))
                scoring = rec.get("scoring") or {}
                rec["run_id"] = stored.run_dir.run_id
                rec["score"] = scoring.get("score")
                rec["passed"] = scoring.get("passed")
                rec["reasoning"] = scoring.get("reasoning")
                rec["scoring_error"] = scoring.get("error")
                rows.append({c: rec.get(c) for c in COLUMNS})
    finally:
        stored.run_dir.close()
    return pd.DataFrame(rows, columns=list(COLUMNS))
