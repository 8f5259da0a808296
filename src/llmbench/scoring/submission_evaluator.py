"""A task's own evaluator (``"evaluator": "evaluate.py"``), run in the sandbox, never here.

:func:`run_evaluator` starts a :class:`~llmbench.sandbox.PythonSession` (the agents' jail, with
the run's ``[sandbox]`` settings: bubblewrap unless ``isolation = "process"``) whose ``/data``
holds, read-only, only the reference, the submission and the evaluator (each in a folder of its
own: ``/data/reference/<name>``, ``/data/submission/<name>``, ``/data/evaluator/<name>``). One
cell loads the evaluator and calls ``evaluate(reference_path, submission_path)`` (what it prints
is dropped), a second one reports the value. Nothing else of the host is visible to it.

The outcome is a float, or :class:`EvaluatorFailed` saying why not: the session did not start,
the evaluator raised, timed out (``[sandbox] call_timeout_s``), killed its session, or returned
something that is not a finite number. The scorer makes that a Score with ``error``: a failed
evaluation is the task's problem, not the agent's, and is never a zero.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import math
import os
import secrets
import shutil
import tempfile
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from llmbench.sandbox import PythonSession, SandboxError, SandboxSettings

T = TypeVar("T")

_EVALUATE = """\
import contextlib as _contextlib, os as _os, runpy as _runpy
with open(_os.devnull, "w") as _quiet, _contextlib.redirect_stdout(_quiet):
    _evaluate = _runpy.run_path({evaluator!r}, run_name="evaluator").get("evaluate")
    if not callable(_evaluate):
        raise TypeError({name!r} + " defines no function evaluate(reference_path, submission_path)")
    _llmbench_value = _evaluate({reference!r}, {submission!r})
"""
_REPORT = """\
import json as _json, numbers as _numbers
_v = _llmbench_value
_number = isinstance(_v, _numbers.Real) and not isinstance(_v, bool)
_out = {{"type": type(_v).__name__, "value": float(_v) if _number else None}}
print({nonce!r} + _json.dumps(_out))
"""


class EvaluatorFailed(Exception):
    """The evaluator gave no usable value; the message says why, in one line."""


def run_evaluator(
    evaluator: Path, reference: Path, submission: Path, settings: SandboxSettings
) -> float:
    """``evaluate(reference, submission)`` of ``evaluator``, run in the sandbox; see the module
    docstring. Raises :class:`EvaluatorFailed`."""
    stage = Path(tempfile.mkdtemp(prefix="llmbench-evaluator-"))
    try:
        inside = {}
        for role, path in (
            ("evaluator", evaluator),
            ("reference", reference),
            ("submission", submission),
        ):
            (stage / role).mkdir()
            _link_or_copy(path, stage / role / path.name)
            inside[role] = f"{role}/{path.name}"
        return _run_sync(_evaluate(stage, inside, evaluator.name, settings))
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system
        shutil.copyfile(source, target)


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to its end from synchronous code, on a thread of its own when this thread
    already runs an event loop (the scorer is normally called from a worker thread)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _evaluate(
    stage: Path, inside: dict[str, str], name: str, settings: SandboxSettings
) -> float:
    try:
        session = await PythonSession.start(settings, files=[stage])
    except SandboxError as exc:
        raise EvaluatorFailed(f"the sandbox did not start: {exc}") from None
    async with session:
        data = session.data or ""
        code = _EVALUATE.format(
            evaluator=f"{data}/{inside['evaluator']}",
            reference=f"{data}/{inside['reference']}",
            submission=f"{data}/{inside['submission']}",
            name=name,
        )
        try:
            cell = await session.run(code)
        except SandboxError as exc:
            raise EvaluatorFailed(f"the sandbox failed: {exc}") from None
        if cell.timed_out:
            raise EvaluatorFailed(f"timed out after {settings.call_timeout_s:g} s")
        if cell.restarted:
            raise EvaluatorFailed("its session ended during the call (killed, or it exited)")
        if cell.raised:
            raise EvaluatorFailed(f"raised {cell.error}")
        nonce = secrets.token_hex(8)
        report = await session.run(_REPORT.format(nonce=nonce))
    if report.raised:
        raise EvaluatorFailed(f"its value could not be read: {report.error}")
    line = next((x for x in report.output.splitlines() if x.startswith(nonce)), None)
    if line is None:
        raise EvaluatorFailed("its value could not be read")
    result = json.loads(line.removeprefix(nonce))
    value = result.get("value")
    if not isinstance(value, float):
        raise EvaluatorFailed(f"returned {result.get('type')}, expected a number")
    if not math.isfinite(value):
        raise EvaluatorFailed(f"returned {value}, expected a finite number")
    return value
