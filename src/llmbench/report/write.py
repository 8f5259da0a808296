"""``write_reports``: ``report.md`` and ``report.html`` into a run directory, atomically."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from llmbench import redact
from llmbench.report.html import render_html
from llmbench.report.markdown import render_markdown
from llmbench.store.files import write_atomic


def _scrubbed(value: Any) -> Any:
    """``value`` with every string in it scrubbed of registered secrets."""
    if isinstance(value, str):
        return redact.scrub(value)
    if isinstance(value, Mapping):
        return {_scrubbed(k): _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrubbed(v) for v in value]
    return value


def write_reports(
    run_dir: Path, summary: Mapping[str, Any], records: Sequence[Mapping[str, Any]]
) -> dict[str, Path]:
    """Write ``report.md`` and ``report.html`` into ``run_dir``; return their paths by format
    (``"markdown"``, ``"html"``).

    Registered secrets are scrubbed twice: from every string of the data before rendering (an
    escaped form in the page, ``\\u003c`` or ``&amp;``, would not match afterwards) and from
    each final text.
    """
    summary, records = _scrubbed(summary), _scrubbed(records)
    texts = {
        "markdown": ("report.md", render_markdown(summary, records)),
        "html": ("report.html", render_html(summary, records)),
    }
    paths: dict[str, Path] = {}
    for kind, (name, text) in texts.items():
        path = Path(run_dir) / name
        write_atomic(path, redact.scrub(text))
        paths[kind] = path
    return paths
