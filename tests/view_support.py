"""What the viewer's tests share: results directories written by hand, and a real viewer
server on a free port in a background thread.

``write_results(root)`` writes three runs (ids sort by start time, newest first in the list):

- ``REPORT_RUN`` (completed): the report tests' 24 records (3 agents x 4 tests x 2 repeats, a
  request error, a scorer error, an interactive transcript, ``INJECTION`` in an answer) plus
  one record whose test id and answer are ``INJECTION``, with their summary;
- ``TOOLS_RUN`` (completed): the tool-run of tests/test_report_tools.py (code cells, an
  injected cell), finished by :func:`llmbench.runs.finish.finish`, and files that coder left
  for ``fib``: ``fib.py``, ``out/notes.txt``, a file named like markup holding a script, a
  symlink to a file outside the run and a symlinked folder;
- ``LIVE_RUN`` (running): 2 agents x 5 tests planned, 3 results of ``fast`` and 1 of ``slow``.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from llmbench.config.base_config import HelperSection
from llmbench.runs.finish import finish
from llmbench.store.run_dir import JOURNAL, RunDirectory
from llmbench.view.serve import serve
from tests.test_report_tools import AGENTS as TOOL_AGENTS
from tests.test_report_tools import PROCESS, TESTS
from tests.test_report_tools import entries as tool_entries
from tests.test_reports import INJECTION, make_record, make_records, make_summary
from tests.test_reports import TESTS as TESTS_OF_REPORT

REPORT_RUN = "20260103T000000Z-report"
TOOLS_RUN = "20260102T000000Z-tools"
LIVE_RUN = "20260101T000000Z-live"
HOSTILE_FILE = "<img src=x onerror=alert(1)>.html"
HOSTILE_TEXT = "<script>window.__pwned = 7</script>"
NOTES = "a note\nin two lines\n"
START = datetime(2026, 1, 3, tzinfo=UTC)


def manifest(
    run_id: str,
    status: str,
    agents: list[str],
    tests: list[str],
    repeats: int,
    started_at: datetime = START,
    **extra: Any,
) -> dict[str, Any]:
    """A manifest as llmbench.runs.manifest writes one (the parts the viewer reads)."""
    return {
        "run_id": run_id,
        "status": status,
        "started_at": started_at.isoformat(),
        "ended_at": None if status == "running" else (started_at + timedelta(hours=1)).isoformat(),
        "sessions": [{"started_at": started_at.isoformat(), "argv": [], "executor": {}}],
        "selection": {"agents": agents, "tests": tests, "repeats": repeats},
        "agents": [{"id": a, "model": f"model-of-{a}", "max_concurrency": 2} for a in agents],
        "config": {"benchmark": {"max_workers": 4}},
        **extra,
    }


def journal_line(record: dict[str, Any], at: datetime) -> dict[str, Any]:
    """The journal's line of a scored record: the record without prompt, expected, scoring."""
    line = {k: v for k, v in record.items() if k not in ("prompt", "expected", "scoring")}
    line["timestamp"] = at.isoformat()
    line.setdefault("test_name", f"Test {record['test_id']}")
    return line


def write_lines(path: Path, lines: list[dict[str, Any]]) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        for line in lines:
            fh.write(json.dumps(line) + "\n")


def report_records() -> list[dict[str, Any]]:
    hostile = make_record("qwen-7b", "arith_01", 1, "P")
    hostile.update(test_id=INJECTION, response_text=INJECTION, test_name=INJECTION)
    return [*make_records(), hostile]


def write_suite(folder: Path) -> Path:
    """The report tests' suite and a base config naming it; the config's path."""
    folder.mkdir(parents=True, exist_ok=True)
    tests = [
        {"id": t, "name": name, "category": category, "prompt": prompt, "expected": expected}
        for t, (category, name, prompt, expected, _) in TESTS_OF_REPORT.items()
    ]
    suite = {"suite_info": {"name": "report"}, "tests": tests}
    (folder / "suite.json").write_text(json.dumps(suite), encoding="utf-8")
    config = folder / "base_config.toml"
    config.write_text('[benchmark]\ntest_suite = "suite.json"\n', encoding="utf-8")
    return config


def write_report_run(root: Path, config: Path) -> Path:
    records = report_records()
    path = root / REPORT_RUN
    path.mkdir(parents=True)
    tests = list(dict.fromkeys(r["test_id"] for r in records))
    agents = list(dict.fromkeys(r["agent_id"] for r in records))
    data = manifest(REPORT_RUN, "completed", agents, tests, 2, inputs={"base_config": str(config)})
    (path / "manifest.json").write_text(json.dumps(data), encoding="utf-8")
    write_lines(
        path / JOURNAL,
        [journal_line(r, START + timedelta(seconds=n)) for n, r in enumerate(records)],
    )
    write_lines(
        path / "scores.jsonl",
        [{k: r[k] for k in ("agent_id", "test_id", "repeat", "scoring")} for r in records],
    )
    summary = {**make_summary(), "run_id": REPORT_RUN}
    (path / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return path


def write_tools_run(root: Path, outside: Path) -> Path:
    run = RunDirectory.create(root, TOOLS_RUN)
    journal = tool_entries()
    ids = [t.id for t in TESTS]
    run.write_manifest(
        manifest(TOOLS_RUN, "completed", ["coder", "texter"], ids, 1, START - timedelta(days=1))
    )
    (run.path / JOURNAL).write_text(
        "".join(e.to_json_line() + "\n" for e in journal), encoding="utf-8"
    )
    finish(
        run,
        tests=TESTS,
        agents=TOOL_AGENTS,
        repeats=1,
        status="completed",
        judge_api=None,
        supervisor=HelperSection(),
        cache_dir=None,
        sandbox=PROCESS,
    )
    folder = run.files_dir("coder", "fib", 0)
    (folder / "out").mkdir(parents=True)
    (folder / "fib.py").write_text("print(102334155)\n", encoding="utf-8")
    (folder / "out" / "notes.txt").write_text(NOTES, encoding="utf-8")
    (folder / HOSTILE_FILE).write_text(HOSTILE_TEXT, encoding="utf-8")
    secret = outside / "secret.txt"
    secret.write_text("outside the run\n", encoding="utf-8")
    (folder / "escape.txt").symlink_to(secret)
    (folder / "linked").symlink_to(outside, target_is_directory=True)
    run.close()
    return run.path


LIVE_TESTS = [f"t{n}" for n in range(1, 6)]


def live_line(agent: str, test_id: str, at: datetime, seconds: float = 2.0) -> dict[str, Any]:
    return {
        "agent_id": agent,
        "test_id": test_id,
        "repeat": 0,
        "transcript": None,
        "test_name": f"Test {test_id}",
        "success": True,
        "response_text": f"answer of {agent} to {test_id}",
        "execution_time": seconds,
        "timestamp": (at - timedelta(seconds=seconds)).isoformat(),
        "category": "general",
        "status": "ok",
    }


def write_live_run(root: Path, now: datetime) -> Path:
    path = root / LIVE_RUN
    path.mkdir(parents=True)
    started = now - timedelta(seconds=20)
    data = manifest(LIVE_RUN, "running", ["fast", "slow"], LIVE_TESTS, 1, started)
    (path / "manifest.json").write_text(json.dumps(data), encoding="utf-8")
    lines = [
        live_line("fast", t, now - timedelta(seconds=10 - n)) for n, t in enumerate(LIVE_TESTS[:3])
    ]
    lines.append(live_line("slow", "t1", now - timedelta(seconds=5)))
    write_lines(path / JOURNAL, lines)
    return path


def write_results(root: Path, outside: Path, now: datetime | None = None) -> Path:
    """The three runs of the module docstring under ``root``; ``outside`` is a folder beside
    it that the tools run's symlinks point into; the report run's suite goes beside both."""
    root.mkdir(parents=True, exist_ok=True)
    outside.mkdir(parents=True, exist_ok=True)
    write_report_run(root, write_suite(outside.parent / "config"))
    write_tools_run(root, outside)
    write_live_run(root, now or datetime.now(UTC))
    return root


class ViewerServer:
    """``llmbench view``'s server on 127.0.0.1 and a free port, in a background thread."""

    def __init__(self, root: Path, poll_s: float = 0.2) -> None:
        self.root = root
        self.poll_s = poll_s
        self.url = ""
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="viewer", daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()

            def ready(url: str) -> None:
                self.url = url.rstrip("/")
                self._ready.set()

            await serve(self.root, "127.0.0.1", 0, ready, self._stop, poll_s=self.poll_s)

        try:
            asyncio.run(main())
        except BaseException as exc:
            self._error = exc
        finally:
            self._ready.set()

    def __enter__(self) -> ViewerServer:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        assert not self._thread.is_alive(), "the viewer did not stop"


def viewer(root: Path) -> Iterator[ViewerServer]:
    with ViewerServer(root) as server:
        yield server
