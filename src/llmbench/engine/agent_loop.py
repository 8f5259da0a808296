"""The agent's side of a test with tools: turns in which it runs code before it answers.

An :class:`Episode` holds what lasts for the whole test: the agent's message history, its
Python session in the sandbox (:mod:`llmbench.sandbox`), its budgets and its counters. Each
user turn (one for a single test, one per instructor message for an interactive test) goes:

1. ask the model (with the ``python`` tool offered in the ``function`` protocol);
2. read the code it asks to run (:func:`llmbench.tools.protocol.code_requests`); none: that
   reply is the turn's answer;
3. run each piece in order in the session, send the outputs back, and ask again.

Limits (the test's keys, else the agent's, else the defaults of :class:`ToolLimits`):
``max_tool_calls`` per turn and ``max_tool_calls_total`` per test (code asked for past either is
not run: the test ends with ``tool_limit``); ``time_limit_s``, the test's working time, counting
each model call's own time (:attr:`Completion.total_time`, so waits for a rate limit or before a
retry do not count) and each code call's (a code call gets at most the time left, and a model
call is not started when none is left: ``time_limit``); ``token_limit``, prompt plus completion
tokens over the agent's requests (``token_limit`` once reached). A test that ends on a limit is
an answered test whose answer is the agent's last text: running out of budget is the agent's
failure, and it is scored.

Transcript entries this adds (besides the user and assistant entries of
:mod:`llmbench.interactive.conversation`): an assistant entry carries ``tool_calls`` (``[{"id",
"code"}]``) when it asked to run code; each code call is ``{"role": "tool", "source":
"sandbox", "turn", "call_id", "code", "content" (the output as the model saw it),
"duration_s", "raised", "timed_out", "restarted", "error"}``; a limit adds ``{"role": "note",
"source": "runner", "turn", "content"}``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmbench.errors import SandboxError
from llmbench.providers.openai_compatible import Completion
from llmbench.suite.models import TestCase
from llmbench.tools.protocol import (
    PYTHON_TOOL,
    CodeRequest,
    ToolProtocol,
    assistant_message,
    code_requests,
    output_messages,
)

if TYPE_CHECKING:
    from llmbench.sandbox import CallLimiter, CellResult, PythonSession, SandboxSettings

ChatFn = Callable[[list[dict[str, Any]], dict[str, Any]], Awaitable[Completion]]


@dataclass(frozen=True)
class ToolLimits:
    """How much an agent may do in one test with tools (see the module docstring)."""

    max_tool_calls: int = 8
    """Code calls in one turn."""
    max_tool_calls_total: int = 64
    """Code calls in the whole test."""
    time_limit_s: float | None = None
    """Working seconds of the test; None: no limit."""
    token_limit: int | None = None
    """Prompt plus completion tokens over the agent's requests; None: no limit."""

    def for_test(self, test: TestCase) -> ToolLimits:
        """These limits with the test's own keys winning."""
        return ToolLimits(
            max_tool_calls=test.max_tool_calls or self.max_tool_calls,
            max_tool_calls_total=test.max_tool_calls_total or self.max_tool_calls_total,
            time_limit_s=float(test.time_limit_s)
            if test.time_limit_s is not None
            else self.time_limit_s,
            token_limit=test.token_limit if test.token_limit is not None else self.token_limit,
        )


@dataclass(frozen=True)
class RunSandbox:
    """What every test with tools of a run shares: the sandbox's settings and the bound on
    code calls running at once (``[sandbox] max_parallel``)."""

    settings: SandboxSettings
    limiter: CallLimiter

    @classmethod
    def create(cls, settings: SandboxSettings | None = None) -> RunSandbox:
        """A run's sandbox with ``settings`` (default: :class:`SandboxSettings`'s defaults)."""
        from llmbench.sandbox import CallLimiter, SandboxSettings

        settings = settings if settings is not None else SandboxSettings()
        return cls(settings, CallLimiter(settings.parallel_calls))


@dataclass(frozen=True)
class AgentTools:
    """How one agent runs code: its protocol, its default limits, the run's sandbox."""

    protocol: ToolProtocol
    limits: ToolLimits
    sandbox: RunSandbox
    files_dir: Callable[[str, int], Path] | None = None
    """Where the files a test (id, repeat) left in ``/home/agent`` are saved; None: not
    saved."""


@dataclass
class TurnResult:
    """What one turn of the agent gave."""

    text: str
    """The agent's answer: its last reply's text."""
    completions: list[Completion] = field(default_factory=list)
    entries: list[dict[str, Any]] = field(default_factory=list)
    """Transcript entries of this turn: the assistant's replies, code calls, notes."""
    stop: str | None = None
    """The end reason when a limit ended the test in this turn (``tool_limit``,
    ``time_limit``, ``token_limit``), or ``sandbox_error`` when the session could not go on;
    None when the agent answered."""
    error: str | None = None
    """With ``stop`` ``sandbox_error``: what went wrong."""


@dataclass
class Counters:
    """What the agent did with its tool over the test."""

    tool_calls: int = 0
    code_errors: int = 0
    code_timeouts: int = 0
    work_s: float = 0.0
    tokens: int = 0


class Episode:
    """The agent, its history, its session and its budgets over one test with tools."""

    def __init__(
        self,
        chat: ChatFn,
        session: PythonSession,
        *,
        protocol: ToolProtocol,
        limits: ToolLimits,
        parameters: dict[str, Any],
        history: list[dict[str, Any]],
        required_file: str | None = None,
    ) -> None:
        self.chat = chat
        self.session = session
        self.protocol: ToolProtocol = protocol
        self.limits = limits
        self.parameters = dict(parameters)
        if protocol == "function":
            self.parameters["tools"] = [PYTHON_TOOL]
        self.history = history
        """The messages the next request sends: system message first, then every turn."""
        self.counters = Counters()
        self.required_file = required_file
        """The file the test judges (its ``submission`` scorer's), relative to home."""

    def has_required_file(self) -> bool:
        """True when the test judges no file, or the agent has written it."""
        return self.required_file is None or self.session.has_file(self.required_file)

    @property
    def restarts(self) -> int:
        """Times the session was started again."""
        return self.session.restarts

    def _left_s(self) -> float | None:
        limit = self.limits.time_limit_s
        return None if limit is None else limit - self.counters.work_s

    def _time_up(self) -> tuple[str, str] | None:
        """The end reason and note when the test's working time is used up."""
        left = self._left_s()
        if left is not None and left <= 0:
            return "time_limit", f"stopped: time_limit_s={self.limits.time_limit_s:g} reached"
        return None

    def _over_budget(self) -> tuple[str, str] | None:
        """The end reason and note when no budget is left for another model call."""
        time_up = self._time_up()
        if time_up is not None:
            return time_up
        limit = self.limits.token_limit
        if limit is not None and self.counters.tokens >= limit:
            return "token_limit", (
                f"stopped: token_limit={limit} reached ({self.counters.tokens} tokens used)"
            )
        return None

    def _account(self, completion: Completion) -> None:
        if not completion.cached:
            self.counters.work_s += completion.total_time
        self.counters.tokens += (completion.prompt_tokens or 0) + (
            completion.completion_tokens or 0
        )

    async def turn(
        self, user: dict[str, Any] | None, number: int, entries: list[dict[str, Any]] | None = None
    ) -> TurnResult:
        """Send the user message ``user`` and let the agent work until it answers or a limit
        ends the test; transcript entries go to ``entries`` as they happen (so a failure keeps
        what came before it). A failed model request raises :class:`RequestFailure`; a sandbox
        that cannot be started raises :class:`SandboxError`."""
        if user is not None:
            self.history.append(user)
        out = TurnResult(text="", entries=entries if entries is not None else [])
        calls_this_turn = 0
        while True:
            over = self._over_budget()
            if over is not None:
                return _stopped(out, number, *over)
            completion = await self.chat(self.history, dict(self.parameters))
            self._account(completion)
            out.completions.append(completion)
            out.text = completion.text
            requests = code_requests(completion, self.protocol)
            out.entries.append(_assistant_entry(completion, requests, number))
            if not requests:
                self.history.append({"role": "assistant", "content": completion.text})
                return out
            self.history.append(assistant_message(completion, requests, self.protocol))
            outputs: list[str] = []
            for request in requests:
                stop = self._call_limit(calls_this_turn, number)
                if stop is not None:
                    return _stopped(out, number, *stop)
                time_up = self._time_up()
                if time_up is not None:
                    return _stopped(out, number, *time_up)
                calls_this_turn += 1
                try:
                    outputs.append(await self._run(request, number, out, self._left_s()))
                except SandboxError as exc:
                    out.error = str(exc)
                    return _stopped(out, number, "sandbox_error", f"stopped: {exc}")
            self.history.extend(output_messages(self.protocol, requests, outputs))

    def _call_limit(self, calls_this_turn: int, number: int) -> tuple[str, str] | None:
        if calls_this_turn >= self.limits.max_tool_calls:
            return "tool_limit", (
                f"stopped: max_tool_calls={self.limits.max_tool_calls} reached in turn {number}"
            )
        if self.counters.tool_calls >= self.limits.max_tool_calls_total:
            return "tool_limit", (
                f"stopped: max_tool_calls_total={self.limits.max_tool_calls_total} reached"
            )
        return None

    async def _run(
        self, request: CodeRequest, number: int, out: TurnResult, left_s: float | None
    ) -> str:
        """Run one request (or answer its problem) and record it; the output for the model."""
        self.counters.tool_calls += 1
        if request.problem is not None:
            self.counters.code_errors += 1
            out.entries.append(_tool_entry(request, number, request.problem, raised=True))
            return request.problem
        cell: CellResult = await self.session.run(request.code, timeout_s=left_s)
        self.counters.work_s += cell.duration_s
        if cell.timed_out:
            self.counters.code_timeouts += 1
        elif cell.raised:
            self.counters.code_errors += 1
        out.entries.append(
            _tool_entry(
                request,
                number,
                cell.output,
                raised=cell.raised,
                timed_out=cell.timed_out,
                restarted=cell.restarted,
                duration_s=cell.duration_s,
                error=cell.error,
            )
        )
        return cell.output


def _stopped(out: TurnResult, number: int, reason: str, note: str) -> TurnResult:
    out.stop = reason
    out.entries.append({"role": "note", "source": "runner", "turn": number, "content": note})
    return out


def _assistant_entry(
    completion: Completion, requests: list[CodeRequest], number: int
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "role": "assistant",
        "content": completion.text,
        "source": "agent",
        "turn": number,
    }
    if requests:
        entry["tool_calls"] = [{"id": r.call_id, "code": r.shown} for r in requests]
    if completion.finish_reason:
        entry["finish_reason"] = completion.finish_reason
    if completion.reasoning_text:
        entry["reasoning"] = completion.reasoning_text
    if completion.reasoning_truncated:
        entry["reasoning_truncated"] = True
    return entry


def _tool_entry(
    request: CodeRequest,
    number: int,
    output: str,
    *,
    raised: bool,
    timed_out: bool = False,
    restarted: bool = False,
    duration_s: float = 0.0,
    error: str | None = None,
) -> dict[str, Any]:
    return {
        "role": "tool",
        "source": "sandbox",
        "turn": number,
        "call_id": request.call_id,
        "code": request.shown,
        "content": output,
        "duration_s": round(duration_s, 6),
        "raised": raised,
        "timed_out": timed_out,
        "restarted": restarted,
        "error": error if request.problem is None else request.problem,
    }
