"""The ``submission`` scorer: the file an agent wrote (``/home/agent/submission.csv``), judged
by the task's metric against a baseline.

A test of a data-analysis task says, for example::

    {"type": "submission", "reference": "tasks/houses/reference.csv", "id_column": "id",
     "target_column": "price", "metric": "rmse", "baseline": 30000}

The scorer reads the saved copy of what the agent left in ``/home/agent``
(:attr:`~llmbench.scoring.base.ScoreInput.files_dir`), never the agent's session, and the
reference on the host, outside any sandbox (the agent never sees it).

**Valid**: the file exists, is at most ``max_bytes`` (told from its size, without reading it)
and was saved whole; it is UTF-8 CSV (a byte-order mark allowed) with a header holding
``id_column`` and ``target_column`` and one row per id of the reference: no id missing, none
extra, none twice; where the metric needs numbers (``rmse``, ``mae``, ``r2``, ``auc``), every
target is a finite number. Blank lines are skipped; the order of the rows does not matter
(rows are matched by id). An invalid submission scores 0 with the reason (the line of a parse
error, the columns found, the count and first few ids), never a sentinel number.

**Metrics** (scikit-learn's ``sklearn.metrics``, imported only when a metric is computed):
``accuracy`` (``accuracy_score``) and ``f1`` (``f1_score(average="macro")``, ``zero_division=0``)
compare labels as strings, stripped of surrounding spaces (``1`` is not ``1.0``); ``rmse``
(``root_mean_squared_error``, the square root of ``mean_squared_error`` on older versions),
``mae`` (``mean_absolute_error``) and ``r2`` (``r2_score``) compare numbers; ``auc``
(``roc_auc_score``) takes the submission's target as the score (a probability, or any number
that ranks) of the positive class, the reference's target being one of two classes: the
positive one is the larger (``1`` of ``0``/``1``; of two labels that are not numbers, the later
in sort order, ``yes`` of ``no``/``yes``). Or an ``evaluator``: the task's own
``evaluate(reference_path, submission_path) -> float``, run in the sandbox
(:mod:`llmbench.scoring.submission_evaluator`); with ``id_column`` and ``target_column`` the
checks above run first, without them only the file's presence and size are checked.

**Skill** = (metric - baseline) / (best - baseline): 0 at the baseline, 1 at the best, for
lower-is-better metrics too (their best is below the baseline). **Baseline achieved** = skill
>= 0. The Score's value is the skill clipped to [0, 1] and it passes when the baseline was
achieved; its ``details`` keep the raw metric, the baseline, the best, the skill, validity and
the row count (:meth:`SubmissionScorer.details`).

A problem that is not the agent's (scikit-learn missing, a reference that does not parse, an
evaluator that raised or returned no finite number) is a Score with ``error`` set: counted as
an error, never as a zero.
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from llmbench.scoring.base import Score, ScoreInput
from llmbench.scoring.normalize import shorten
from llmbench.scoring.submission_table import (
    Invalid,
    Table,
    decode,
    id_problems,
    parse_table,
    read_saved,
)

if TYPE_CHECKING:
    from llmbench.sandbox.settings import SandboxSettings

NAME = "submission"
DEFAULT_FILE = "submission.csv"
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
NEEDS_SKLEARN = "the submission scorer needs scikit-learn: pip install 'llmbench[tasks]'"


@dataclass(frozen=True)
class Metric:
    """What llmbench knows of one built-in metric."""

    higher_is_better: bool
    best: float
    """Its ideal value, the default ``best``."""
    numeric: bool
    """The submission's targets must be numbers."""
    numeric_reference: bool
    """The reference's targets must be numbers (``auc``'s are classes)."""


METRICS: dict[str, Metric] = {
    "accuracy": Metric(True, 1.0, False, False),
    "f1": Metric(True, 1.0, False, False),
    "rmse": Metric(False, 0.0, True, True),
    "mae": Metric(False, 0.0, True, True),
    "r2": Metric(True, 1.0, True, True),
    "auc": Metric(True, 1.0, True, False),
}


class TaskError(Exception):
    """The task, not the agent, is at fault (its reference, its metric, its evaluator)."""


def skill(metric_value: float, baseline: float, best: float) -> float:
    """(metric - baseline) / (best - baseline): 0 at the baseline, 1 at the best."""
    return (metric_value - baseline) / (best - baseline)


def compute_metric(name: str, truth: list[str], predicted: list[str]) -> float:
    """The metric ``name`` of ``predicted`` against ``truth`` (aligned, as written), by
    scikit-learn; TaskError without it or when the data does not suit the metric."""
    try:
        from sklearn import metrics
    except ImportError:
        raise TaskError(NEEDS_SKLEARN) from None

    if name in ("accuracy", "f1"):
        if name == "accuracy":
            return float(metrics.accuracy_score(truth, predicted))
        return float(metrics.f1_score(truth, predicted, average="macro", zero_division=0))
    scores = [float(v) for v in predicted]
    if name == "auc":
        return float(metrics.roc_auc_score(_positive(truth), scores))
    values = [float(v) for v in truth]
    if name == "rmse":
        rmse = getattr(metrics, "root_mean_squared_error", None)  # scikit-learn >= 1.4
        if rmse is not None:
            return float(rmse(values, scores))
        return math.sqrt(float(metrics.mean_squared_error(values, scores)))
    if name == "mae":
        return float(metrics.mean_absolute_error(values, scores))
    if name == "r2":
        return float(metrics.r2_score(values, scores))
    raise TaskError(f"unknown metric {name!r}")


def _positive(labels: list[str]) -> list[int]:
    """1 for the positive class (the larger of the two: by value when every label is a number,
    else in sort order), 0 for the other."""
    try:
        values = [float(label) for label in labels]
    except ValueError:
        return _positive_of(labels)
    return _positive_of(values)


Label = TypeVar("Label", float, str)


def _positive_of(keys: list[Label]) -> list[int]:
    classes = sorted(set(keys))
    if len(classes) != 2:
        raise TaskError(f"auc needs a reference of two classes, found {len(classes)}")
    return [int(key == classes[1]) for key in keys]


def _fmt(value: float) -> str:
    """``20,512``, ``0.8333``, ``0``, ``1.2e-05``: short for a reason line."""
    if value != 0 and (abs(value) >= 1e15 or abs(value) < 1e-4):
        return f"{value:.4g}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


@dataclass
class SubmissionScorer:
    """Judges the agent's ``file`` against ``reference`` (see the module docstring)."""

    reference: Path
    """The reference file on the host (absolute once the suite is loaded)."""
    baseline: float
    best: float
    higher_is_better: bool
    file: str = DEFAULT_FILE
    """The submission, relative to ``/home/agent``."""
    id_column: str | None = None
    target_column: str | None = None
    metric: str | None = None
    """One of :data:`METRICS`; None with an ``evaluator``."""
    evaluator: Path | None = None
    """The task's ``evaluate(reference_path, submission_path)`` file; None with a metric."""
    max_bytes: int = DEFAULT_MAX_BYTES
    sandbox: SandboxSettings | None = None
    """The run's ``[sandbox]``, where an evaluator runs (None: the default, bubblewrap)."""
    name: str = field(default=NAME, init=False)
    blocking: ClassVar[bool] = True
    """It reads files, computes metrics and may run an evaluator: the run scores it in a
    worker thread."""
    _cache: tuple[tuple[int, int], Table] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    """The reference, parsed, and the (mtime, size) of the file it was parsed from."""
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    @property
    def metric_name(self) -> str:
        """``rmse``..., or ``evaluator``."""
        return self.metric or "evaluator"

    def details(
        self,
        *,
        valid: bool,
        reason: str | None = None,
        metric_value: float | None = None,
        rows: int | None = None,
    ) -> dict[str, Any]:
        """The Score's ``details``: the record of the submission (``docs/summary-format.md``)."""
        value = None if metric_value is None else skill(metric_value, self.baseline, self.best)
        return {
            "file": self.file,
            "valid": valid,
            "reason": reason,
            "metric": self.metric_name,
            "metric_value": metric_value,
            "higher_is_better": self.higher_is_better,
            "baseline": self.baseline,
            "best": self.best,
            "skill": value,
            "achieved": value is not None and value >= 0,
            "rows": rows,
        }

    def __call__(self, item: ScoreInput) -> Score:
        rows: int | None = None
        valid = False
        try:
            data = read_saved(item.files_dir, self.file, self.max_bytes)
            table = None
            if self.id_column is not None and self.target_column is not None:
                numeric = self.metric is not None and METRICS[self.metric].numeric
                text = decode(data, self.file)
                del data
                table = parse_table(
                    text, self.file, self.id_column, self.target_column, numeric=numeric
                )
                rows = len(table)
                problem = id_problems(self._reference(), table)
                if problem is not None:
                    raise Invalid(problem)
            valid = True
            metric_value = self._measure(item, table)
        except Invalid as exc:
            why = shorten(str(exc), 300)
            reason = why if why.startswith("no submission:") else f"invalid submission: {why}"
            details = self.details(valid=False, reason=reason, rows=rows)
            return Score(self.name, 0.0, False, reason, details=details)
        except TaskError as exc:
            why = shorten(str(exc), 300)
            details = self.details(valid=valid, rows=rows)
            return Score(self.name, 0.0, False, why, error=why, details=details)
        return self._verdict(metric_value, rows)

    def _verdict(self, metric_value: float, rows: int | None) -> Score:
        details = self.details(valid=True, metric_value=metric_value, rows=rows)
        value: float = details["skill"]
        achieved = value >= 0
        reason = (
            f"{self.metric_name} {_fmt(metric_value)} (baseline {_fmt(self.baseline)}, best "
            f"{_fmt(self.best)}): skill {value:.2f}, baseline "
            f"{'achieved' if achieved else 'not achieved'}"
        )
        return Score(self.name, min(1.0, max(0.0, value)), achieved, reason, details=details)

    def _measure(self, item: ScoreInput, table: Table | None) -> float:
        """The metric's value; TaskError when it cannot be had."""
        if self.evaluator is not None:
            return self._evaluate(item)
        assert table is not None and self.metric is not None
        reference = self._reference()
        target = dict(zip(table.ids, table.targets, strict=True))
        predicted = [target[key] for key in reference.ids]
        try:
            value = compute_metric(self.metric, reference.targets, predicted)
        except ValueError as exc:
            raise TaskError(f"{self.metric} could not be computed: {exc}") from None
        if not math.isfinite(value):
            raise TaskError(f"{self.metric} is {value} on this submission")
        return value

    def _evaluate(self, item: ScoreInput) -> float:
        from llmbench.sandbox.settings import SandboxSettings
        from llmbench.scoring.submission_evaluator import EvaluatorFailed, run_evaluator

        assert self.evaluator is not None and item.files_dir is not None
        try:
            return run_evaluator(
                self.evaluator,
                self.reference,
                item.files_dir / self.file,
                self.sandbox or SandboxSettings(),
            )
        except (EvaluatorFailed, OSError) as exc:
            raise TaskError(f"the evaluator {self.evaluator.name} failed: {exc}") from None

    def _reference(self) -> Table:
        """The reference, parsed once per version of the file (TaskError when it cannot be)."""
        assert self.id_column is not None and self.target_column is not None
        shown = f"the reference {self.reference}"
        try:
            info = os.stat(self.reference)
        except OSError as exc:
            raise TaskError(f"{shown} cannot be read: {exc.strerror}") from None
        key = (info.st_mtime_ns, info.st_size)
        with self._lock:
            if self._cache is not None and self._cache[0] == key:
                return self._cache[1]
            numeric = self.metric is not None and METRICS[self.metric].numeric_reference
            try:
                text = decode(self.reference.read_bytes(), shown)
                table = parse_table(
                    text, shown, self.id_column, self.target_column, numeric=numeric
                )
            except OSError as exc:
                raise TaskError(f"{shown} cannot be read: {exc.strerror}") from None
            except Invalid as exc:
                raise TaskError(str(exc)) from None
            if len(set(table.ids)) != len(table):
                raise TaskError(f"{shown} repeats an id")
            if not table.ids:
                raise TaskError(f"{shown} has no rows")
            self._cache = (key, table)
            return table
