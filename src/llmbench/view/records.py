"""One record in full, as the run page opens it: the journal entry, its scoring, the test's
prompt and expected answer, and the files the agent left.

The journal holds no prompt: it is the suite's. :class:`SuiteLookup` reads the suite the run
was made from (its base config, as the manifest records it) the first time a record is opened,
and says why when it cannot (the file moved, the run was started from an object): the record
then shows the prompt its transcript opens with (a test with tools), or none and why.
``api_response`` stays out, as in the reports (the per-test files and ``llmbench show`` have it).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from llmbench.config.base_config import load_base_config
from llmbench.errors import LlmbenchError
from llmbench.report.submissions import submission_preview
from llmbench.runs.plan import load_tests
from llmbench.scoring.run_scoring import prompt_text
from llmbench.suite.tests import Tests
from llmbench.view.files import folder_of, left_out, list_saved
from llmbench.view.index import RunIndex
from llmbench.view.runs import Manifest

log = logging.getLogger(__name__)


class SuiteLookup:
    """The tests of a run's suite, loaded once on first use."""

    def __init__(self, manifest: Manifest | str) -> None:
        self._manifest = manifest
        self._lock = threading.Lock()
        self._tests: Tests | None = None
        self.problem: str | None = None
        """Why the suite could not be read; None until tried, or when it was."""
        self._tried = False

    def tests(self) -> Tests | None:
        with self._lock:
            if not self._tried:
                self._tried = True
                self._tests, self.problem = _load(self._manifest)
            return self._tests


def _load(manifest: Manifest | str) -> tuple[Tests | None, str | None]:
    if isinstance(manifest, str):
        return None, manifest
    base = (manifest.inputs or {}).get("base_config")
    if not isinstance(base, str):
        return None, "the manifest names no base config file (a run started from an object)"
    try:
        config = load_base_config(base)
        return load_tests(config.benchmark, base), None
    except (LlmbenchError, OSError, ValueError) as exc:
        return None, f"the suite of this run cannot be read: {exc}"


def _opening(data: dict[str, Any]) -> str | None:
    """The prompt a transcript opens with (a test with tools: ``source`` ``test``), if any."""
    transcript = data.get("transcript")
    first = transcript[0] if isinstance(transcript, list) and transcript else None
    if isinstance(first, dict) and first.get("source") == "test":
        content = first.get("content")
        return content if isinstance(content, str) else None
    return None


def full_record(
    index: RunIndex, i: int, run_path: Path, suite: SuiteLookup
) -> dict[str, Any] | None:
    """Result ``i`` of ``index`` as a scored record (docs/summary-format.md) plus
    ``position``, ``files`` (``[{"name", "size"}]``), ``files_total``, ``files_cut`` (the
    files left out as too big) and ``prompt_note`` (why there is no prompt); None when its line
    cannot be read back."""
    data = index.entry(i)
    if data is None:
        return None
    data.pop("api_response", None)
    data["position"] = i
    data["scoring"] = index.scoring(i)
    tests = suite.tests()
    test = tests.get(str(data.get("test_id"))) if tests is not None else None
    data["prompt"] = prompt_text(test) if test is not None else _opening(data)
    data["expected"] = test.expected if test is not None else None
    data["prompt_note"] = (
        None
        if data["prompt"] is not None
        else suite.problem or "the test is no longer in the run's suite"
    )
    folder = folder_of(run_path, data)
    files, total, cut = [], 0, []
    if folder is not None:
        listed, total = list_saved(folder)
        files = [{"name": f.name, "size": f.size} for f in listed]
        cut = left_out(folder)
        preview = submission_preview(run_path, data)
        if preview is not None:
            data["submission_preview"] = preview
    data["files"] = files
    data["files_total"] = total
    data["files_cut"] = cut
    return data
