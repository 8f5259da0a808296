"""The runs of a results directory, read and never written: :class:`Runs`.

A run is a directory right under the results directory holding a ``manifest.json``; its id is
the directory's name. :meth:`Runs.path` is the only way from an id in a URL to a directory: the
id must be one name (no ``/``, ``\\``, NUL, ``.`` or ``..``), name a directory with a manifest,
and resolve (symlinks followed) to a directory right inside the results directory, so no id
reaches anything outside it.

The manifest and ``summary.json`` are parsed by lenient pydantic models (:class:`Manifest`,
:class:`SummaryHead`): llmbench wrote them, older and newer versions write more or fewer keys,
and a damaged one must not hide the other runs. A manifest that cannot be read lists its run
as ``damaged`` with the reason, naming the file and the field. Parsed files are kept until
their size or modification time changes, so listing a hundred runs reads only what changed.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from llmbench import jsonio
from llmbench.store.run_dir import JOURNAL, MANIFEST, SUMMARY


class _Lenient(BaseModel):
    # written by llmbench, not by a person: keys this version does not know are a newer
    # llmbench's, not a typo to report
    model_config = ConfigDict(extra="ignore", frozen=True)


class Session(_Lenient):
    """One start or resume of a run."""

    started_at: str | None = None
    executor: dict[str, Any] | None = None


class Selection(_Lenient):
    """What the run is meant to run."""

    agents: list[str] = []
    tests: list[str] = []
    repeats: int = 1


class ManifestAgent(_Lenient):
    """An agent as the manifest records it (the fields the viewer shows)."""

    id: str
    model: str | None = None
    max_concurrency: int | str | None = None
    """A number, or ``"auto"``."""


class Manifest(_Lenient):
    """``manifest.json`` (:mod:`llmbench.runs.manifest`), the parts the viewer reads."""

    run_id: str | None = None
    status: str = "unknown"
    started_at: str | None = None
    ended_at: str | None = None
    sessions: list[Session] = []
    selection: Selection | None = None
    agents: list[ManifestAgent] = []
    config: dict[str, Any] = {}
    concurrency: dict[str, Any] | None = None
    """Each agent's concurrency as the run chose it, written when the run ends."""
    inputs: dict[str, Any] | None = None


class SummaryHead(_Lenient):
    """``summary.json``, the parts the runs list shows (the run page reads all of it)."""

    status: str | None = None
    generated_at: str | None = None
    repeats: int | None = None
    agents: list[dict[str, Any]] = []


class RunInfo(BaseModel):
    """One line of the runs list (``GET /api/runs``)."""

    id: str
    status: str
    """running, completed, interrupted, failed, or damaged (the manifest cannot be read)."""
    problem: str | None = None
    """Why the run is damaged: the file, the field and what was found."""
    started_at: str | None = None
    ended_at: str | None = None
    agents: list[str] = []
    models: dict[str, str | None] = {}
    tests: int | None = None
    repeats: int | None = None
    planned: int | None = None
    """Results the run is meant to have: agents x tests x repeats."""
    done: int | None = None
    """Results journaled (ended, whatever their status)."""
    scores: dict[str, float | None] = {}
    """Each agent's mean score, from summary.json; {} before the run is scored."""
    pass_rates: dict[str, float | None] = {}
    has_summary: bool = False
    has_report: bool = False


def _problem(path: Path, exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    return f"{path}: {where}: {first['msg']} (got {first.get('input')!r:.60})"


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


Model = TypeVar("Model", bound=BaseModel)


@dataclass
class _Kept:
    stamp: tuple[int, int]
    value: Any


class Runs:
    """The runs under ``root``, read on demand and kept until their files change."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._kept: dict[tuple[Path, str], _Kept] = {}
        self._lock = threading.Lock()

    def ids(self) -> list[str]:
        """Every run's id, by name, last first (ids start with their start time, see
        :func:`llmbench.store.run_dir.new_run_id`; the runs list sorts by the manifests'
        ``started_at``, for runs named otherwise)."""
        try:
            names = [entry.name for entry in os.scandir(self.root)]
        except OSError:
            return []
        found = [name for name in names if self.path(name) is not None]
        return sorted(found, reverse=True)

    def path(self, run_id: str) -> Path | None:
        """The directory of run ``run_id``, or None when ``run_id`` is not a run of ``root``
        (see the module docstring)."""
        if (
            not run_id
            or run_id in (".", "..")
            or any(c in run_id for c in "/\\\0")
            or run_id.startswith(".")
        ):
            return None
        candidate = self.root / run_id
        try:
            resolved = candidate.resolve(strict=True)
        except (OSError, RuntimeError, ValueError):
            return None
        if resolved.parent != self.root or not resolved.is_dir():
            return None
        if not (resolved / MANIFEST).is_file():
            return None
        return resolved

    def _kept_file(
        self, path: Path, kind: str, parse: Callable[[Path], Any], stamp: tuple[int, int] | None
    ) -> Any:
        if stamp is None:
            return None
        with self._lock:
            kept = self._kept.get((path, kind))
            if kept is not None and kept.stamp == stamp:
                return kept.value
        value = parse(path)
        with self._lock:
            self._kept[(path, kind)] = _Kept(stamp, value)
        return value

    def manifest(self, run_path: Path) -> Manifest | str:
        """The run's manifest, or why it cannot be read (one line naming the file)."""
        path = run_path / MANIFEST
        value: Manifest | str = self._kept_file(path, "manifest", _read_manifest, _stamp(path))
        return value if value is not None else f"{path}: cannot be read"

    def summary(self, run_path: Path) -> dict[str, Any] | None:
        """``summary.json`` as written, or None when there is none (yet) or it is not JSON."""
        path = run_path / SUMMARY
        value: dict[str, Any] | None = self._kept_file(path, "summary", _read_json, _stamp(path))
        return value

    def info(self, run_id: str, run_path: Path, done: int | None = None) -> RunInfo:
        """The runs-list line of a run; ``done`` when the caller already counted its results
        (an index it holds), else counted from the summary or the journal's lines."""
        manifest = self.manifest(run_path)
        if isinstance(manifest, str):
            return RunInfo(id=run_id, status="damaged", problem=manifest)
        summary = self.summary(run_path)
        head = _head(summary)
        selection = manifest.selection
        agents = selection.agents if selection else [a.id for a in manifest.agents]
        if head is not None and not agents:
            agents = [str(a.get("agent_id")) for a in head.agents]
        tests = len(selection.tests) if selection else None
        repeats = selection.repeats if selection else (head.repeats if head else None)
        planned = len(agents) * tests * repeats if tests is not None and repeats else None
        scores, rates = {}, {}
        if head is not None:
            for a in head.agents:
                found = a.get("quality")
                quality: dict[str, Any] = found if isinstance(found, dict) else {}
                scores[str(a.get("agent_id"))] = quality.get("mean_score")
                rates[str(a.get("agent_id"))] = quality.get("pass_rate")
        if done is None:
            done = self._done(run_path, manifest.status, head)
        return RunInfo(
            id=run_id,
            status=manifest.status,
            started_at=manifest.started_at,
            ended_at=manifest.ended_at,
            agents=agents,
            models={a.id: a.model for a in manifest.agents},
            tests=tests,
            repeats=repeats,
            planned=planned,
            done=done,
            scores=scores,
            pass_rates=rates,
            has_summary=head is not None,
            has_report=(run_path / "report.html").is_file(),
        )

    def _done(self, run_path: Path, status: str, head: SummaryHead | None) -> int | None:
        """Results journaled: the summary's count once the run is over, else the journal's
        lines (kept until the journal changes)."""
        if head is not None and status != "running":
            counts = [_total(a) for a in head.agents]
            if all(c is not None for c in counts):
                return sum(c for c in counts if c is not None)
        path = run_path / JOURNAL
        counted: int | None = self._kept_file(path, "lines", _count_lines, _stamp(path))
        return counted if counted is not None else 0


def _total(agent: dict[str, Any]) -> int | None:
    summary = agent.get("summary")
    total = summary.get("total_tests") if isinstance(summary, dict) else None
    return total if isinstance(total, int) else None


def _head(summary: dict[str, Any] | None) -> SummaryHead | None:
    if summary is None:
        return None
    try:
        return SummaryHead.model_validate(summary)
    except ValidationError:
        return None


def _read_json(path: Path) -> Any:
    try:
        return jsonio.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


def _read_manifest(path: Path) -> Manifest | str:
    try:
        data = jsonio.loads(path.read_bytes())
    except OSError as exc:
        return f"{path}: cannot be read: {exc.strerror or exc}"
    except ValueError as exc:
        return f"{path}: not valid JSON: {exc}"
    if not isinstance(data, dict):
        return f"{path}: expected a JSON object, got {type(data).__name__}"
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        return _problem(path, exc)


def _count_lines(path: Path) -> int:
    """The whole lines of ``path``, read a chunk at a time (never whole)."""
    count = 0
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                count += chunk.count(b"\n")
    except OSError:
        return 0
    return count
