"""One test of one agent, from start to result: a single request or an interactive conversation.

Used by the single-API :class:`~llmbench.engine.executor.Engine` (``TestRunner``) and by the
multi-agent :class:`~llmbench.engine.scheduler.Scheduler`, so both record results the same way.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmbench import redact
from llmbench.config.base_config import StructuredOutput
from llmbench.engine.agent_loop import AgentTools, Episode, RunSandbox, ToolLimits
from llmbench.engine.calls import Caller, CallLog
from llmbench.errors import RequestFailure, SandboxError
from llmbench.interactive.conversation import Conversation, ConversationSettings, run_conversation
from llmbench.providers.http1 import HttpClient
from llmbench.providers.openai_compatible import (
    Completion,
    build_request,
    resolve_api_type,
    test_parameters,
)
from llmbench.result import TestResult
from llmbench.store.run_dir import FILES_LEFT_OUT
from llmbench.suite.models import TestCase
from llmbench.tools.protocol import system_message, with_system_message

if TYPE_CHECKING:
    from llmbench.sandbox import PythonSession

Transcript = list[dict[str, Any]]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """Where and how tests are sent: one agent, or the one API of a ``TestRunner``."""

    caller: Caller
    overrides: dict[str, Any] = field(default_factory=dict)
    """Request parameters that win over the test's (an agent's ``[parameters]``)."""
    system_prompt: str | None = None
    save_raw_responses: bool = True
    tools: AgentTools | None = None
    """How this agent runs code in tests with tools; None: the ``text`` protocol with the
    default limits and sandbox (:func:`default_tools`)."""
    max_turns: int | None = None
    """Interactive tests: the agent's own ``max_turns``, where the test sets none."""


@dataclass(frozen=True)
class Helpers:
    """The instructor and supervisor of interactive tests.

    ``instructor`` None means scripted mode: the test's steps are sent as they are.
    ``supervisor`` None means instructor messages are not reviewed.
    """

    instructor: Caller | None = None
    supervisor: Caller | None = None
    max_turns: int = 6
    instructor_parameters: dict[str, Any] = field(default_factory=dict)
    instructor_format: StructuredOutput = "json_object"
    supervisor_parameters: dict[str, Any] = field(default_factory=dict)
    supervisor_format: StructuredOutput = "json_object"

    def callers(self) -> list[Caller]:
        """The instructor's and the supervisor's callers, where set."""
        return [c for c in (self.instructor, self.supervisor) if c is not None]


SCRIPTED = Helpers()
"""Interactive tests with the steps sent verbatim and no supervisor (``TestRunner``'s way)."""
CANCEL_GRACE_S = 2.0
"""Seconds a cancelled run gives its tests in flight to end; one still running after that is
recorded as cancelled without waiting for it, so nothing a test does can hold a cancellation."""


@dataclass(frozen=True)
class Outcome:
    """What a test ended with: its result and, for an interactive test, its transcript."""

    result: TestResult
    transcript: Transcript | None = None


def _stamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class TestRun:
    """One test of one target in flight: when it started and what its requests did."""

    __test__ = False

    def __init__(self, test: TestCase, target: Target) -> None:
        self.test = test
        self.target = target
        api = target.caller.api
        self.api_type = (
            "chat"
            if test.is_interactive or test.has_tools
            else resolve_api_type(test, api.default_api_type())
        )
        self.url = target.caller.url_for(self.api_type)
        self.started = time.perf_counter()
        self.stamp = _stamp()
        self.calls = CallLog()

    async def execute(
        self,
        session: HttpClient,
        helpers: Helpers,
        seed: int | None = None,
        repeat: int = 0,
    ) -> Outcome:
        """Run the test; a failed request becomes an error result (cancellation propagates).

        ``seed`` is sent when neither the test nor the target sets one. ``repeat`` keeps the
        repeats of a test apart in the response cache.
        """
        self.calls.cache_salt = f"repeat {repeat}"
        overrides = dict(self.target.overrides)
        if seed is not None and "seed" not in overrides and self.test.parameters.seed is None:
            overrides["seed"] = seed
        if self.test.has_tools:
            return await self._act(session, helpers, overrides, repeat)
        if self.test.is_interactive:
            return await self._converse(session, helpers, overrides)
        api = self.target.caller.api
        body = build_request(
            self.test,
            model=api.model,
            api_type=self.api_type,
            stream=api.stream,
            overrides=overrides,
            system_prompt=self.target.system_prompt,
        )
        try:
            completion = await self.target.caller.send(
                session,
                body,
                api_type=self.api_type,
                read_timeout_s=self.test.timeout_s,
                calls=self.calls,
                label=f"test {self.test.id}",
            )
        except RequestFailure as failure:
            return self.failed(failure.kind, failure.message, end_reason="agent_error", turns=1)
        return Outcome(
            self._succeeded([completion], completion.text, end_reason="answered", turns=1)
        )

    def _max_turns(self, helpers: Helpers) -> int:
        return self.test.max_turns or self.target.max_turns or helpers.max_turns

    async def _converse(
        self,
        session: HttpClient,
        helpers: Helpers,
        overrides: dict[str, Any],
        episode: Episode | None = None,
    ) -> Outcome:
        test = self.test
        params = test_parameters(test)
        params.update(overrides)
        helper_log = CallLog(cache_salt=self.calls.cache_salt)  # not the agent's attempts
        settings = ConversationSettings(
            max_turns=self._max_turns(helpers),
            mode="scripted" if helpers.instructor is None else "llm",
            instructor_parameters=dict(helpers.instructor_parameters),
            instructor_format=helpers.instructor_format,
            supervisor_parameters=dict(helpers.supervisor_parameters),
            supervisor_format=helpers.supervisor_format,
            agent_system_prompt=self.target.system_prompt,
            agent_parameters=params,
        )
        agent = self.target.caller.chat_fn(
            session, calls=self.calls, label=f"test {test.id}", read_timeout_s=test.timeout_s
        )
        instructor = (
            helpers.instructor.chat_fn(session, calls=helper_log, label=f"instructor for {test.id}")
            if helpers.instructor is not None
            else None
        )
        supervisor = (
            helpers.supervisor.chat_fn(session, calls=helper_log, label=f"supervisor for {test.id}")
            if helpers.supervisor is not None and helpers.instructor is not None
            else None
        )
        conv = await run_conversation(
            test,
            agent=agent,
            instructor=instructor,
            supervisor=supervisor,
            settings=settings,
            episode=episode,
        )
        return self._conversation_outcome(conv, episode)

    def _conversation_outcome(self, conv: Conversation, episode: Episode | None) -> Outcome:
        transcript = [dict(turn) for turn in conv.transcript]
        facts = {
            "end_reason": conv.end_reason,
            "turns": conv.turns,
            "instructor_tokens": _tokens(conv.instructor_completions),
            "supervisor_tokens": _tokens(conv.supervisor_completions),
            **_tool_facts(episode),
        }
        if conv.error is not None:
            party = conv.failed_party or "agent"
            msg = conv.error.message if party == "agent" else f"{party}: {conv.error.message}"
            failed = self.failed(conv.error.kind, msg, **facts)
            return Outcome(failed.result, transcript)
        if conv.end_reason == "sandbox_error":
            failed = self.failed("sandbox", f"sandbox: {conv.sandbox_error}", **facts)
            return Outcome(failed.result, transcript)
        result = self._succeeded(conv.agent_completions, conv.final_answer, **facts)
        return Outcome(result, transcript)

    async def _act(
        self,
        session: HttpClient,
        helpers: Helpers,
        overrides: dict[str, Any],
        repeat: int,
    ) -> Outcome:
        """A test with tools: the agent gets a Python session for the whole test; what it left
        in ``/home/agent`` is saved with the result when the run keeps files."""
        from llmbench.sandbox import PythonSession as Session

        tools = self.target.tools or default_tools()
        test = self.test
        try:
            python = await Session.start(
                tools.sandbox.settings,
                files=[Path(f) for f in test.file_paths],
                limiter=tools.sandbox.limiter,
            )
        except SandboxError as exc:
            return self.failed(
                "sandbox",
                f"sandbox: {exc}",
                end_reason="sandbox_error",
                tool_protocol=tools.protocol,
            )
        try:
            outcome = await self._with_session(session, helpers, overrides, python, tools)
            if tools.files_dir is not None and outcome.result.status != "cancelled":
                outcome = await self._keep_files(python, tools, outcome, repeat)
            return outcome
        finally:
            await python.close()

    async def _with_session(
        self,
        session: HttpClient,
        helpers: Helpers,
        overrides: dict[str, Any],
        python: PythonSession,
        tools: AgentTools,
    ) -> Outcome:
        test = self.test
        text = system_message(
            tools.protocol, home=python.home, data=python.data, files=data_listing(test)
        )
        params = test_parameters(test)
        params.update(overrides)
        agent = self.target.caller.chat_fn(
            session, calls=self.calls, label=f"test {test.id}", read_timeout_s=test.timeout_s
        )
        if test.is_interactive:
            own = self.target.system_prompt
            messages = [{"role": "system", "content": own}] if own else []
        else:
            messages = build_request(
                test,
                model="",
                api_type="chat",
                stream=False,
                system_prompt=self.target.system_prompt,
            )["messages"]
        first = messages[-1] if messages and messages[-1]["role"] == "user" else None
        episode = Episode(
            agent,
            python,
            protocol=tools.protocol,
            limits=tools.limits.for_test(test),
            parameters=params,
            history=with_system_message(messages[:-1] if first else messages, text),
            required_file=test.submission_file,
        )
        if test.is_interactive:
            return await self._converse(session, helpers, overrides, episode)
        return await self._single_episode(episode, first, messages)

    async def _keep_files(
        self, python: PythonSession, tools: AgentTools, outcome: Outcome, repeat: int
    ) -> Outcome:
        """``outcome`` with the files of ``/home/agent`` saved (at most ``save_files_mb``)."""
        assert tools.files_dir is not None
        dest = tools.files_dir(self.test.id, repeat)
        cap = tools.sandbox.settings.save_files_mb << 20
        left_out: list[tuple[str, int]] = []
        try:
            if dest.exists():  # an earlier, interrupted try of this test
                await asyncio.to_thread(shutil.rmtree, dest)
            saved = await python.copy_out(dest, max_bytes=cap, left_out=left_out) if cap else []
            if left_out:
                listing = {
                    "cap_bytes": cap,
                    "left_out": [{"file": name, "bytes": size} for name, size in left_out],
                }
                (dest / FILES_LEFT_OUT).write_text(json.dumps(listing, indent=2) + "\n")
        except OSError as exc:  # the result matters more than its files: keep it, say so
            log.warning("test %s: the agent's files could not be saved: %s", self.test.id, exc)
            return outcome
        result = dataclasses.replace(
            outcome.result, files_saved=saved or None, files_left_out=len(left_out)
        )
        return Outcome(result, outcome.transcript)

    async def _single_episode(
        self,
        episode: Episode,
        first: dict[str, Any] | None,
        messages: list[dict[str, Any]],
    ) -> Outcome:
        """A single test with tools: one turn, which may run code before it answers."""
        transcript: Transcript = [
            {"role": m["role"], "content": m["content"], "source": "test", "turn": 1}
            for m in messages
            if m["role"] not in ("system", "developer")
        ]
        try:
            turn = await episode.turn(first, 1, transcript)
        except RequestFailure as failure:
            failed = self.failed(
                failure.kind,
                failure.message,
                end_reason="agent_error",
                turns=1,
                **_tool_facts(episode),
            )
            return Outcome(failed.result, transcript)
        facts = {"end_reason": turn.stop or "answered", "turns": 1, **_tool_facts(episode)}
        if turn.stop == "sandbox_error":
            failed = self.failed("sandbox", f"sandbox: {turn.error}", **facts)
            return Outcome(failed.result, transcript)
        return Outcome(self._succeeded(turn.completions, turn.text, **facts), transcript)

    # results

    def _base(self) -> dict[str, Any]:
        api = self.target.caller.api
        return {
            "test_id": self.test.id,
            "test_name": self.test.name,
            "category": self.test.category,
            "execution_time": time.perf_counter() - self.started,
            "timestamp": self.stamp,
            "attempts": self.calls.attempts,
            "http_status": self.calls.status,
            "model": api.model,
            "endpoint": redact.strip_url(self.url),
        }

    def _succeeded(self, completions: list[Completion], text: str, **facts: Any) -> TestResult:
        if not completions:  # a limit reached before the agent's first reply
            return TestResult(**self._base(), **facts, success=True, status="ok", response_text="")
        first, last = completions[0], completions[-1]
        return TestResult(
            **self._base(),
            **facts,
            success=True,
            status="ok",
            response_text=text,
            prompt_tokens=_total(c.prompt_tokens for c in completions),
            completion_tokens=_total(c.completion_tokens for c in completions),
            tokens_per_second=_tokens_per_second(completions),
            time_to_first_token=first.time_to_first_token,
            time_to_first_answer_token=first.time_to_first_answer_token,
            reasoning_text=last.reasoning_text,
            reasoning_tokens=_total(c.reasoning_tokens for c in completions),
            reasoning_truncated=last.reasoning_truncated,
            finish_reason=last.finish_reason,
            tokens_estimated=any(c.tokens_estimated for c in completions),
            cached=all(c.cached for c in completions),
            api_response=(
                last.response if self.target.save_raw_responses and len(completions) == 1 else None
            ),
        )

    def failed(self, kind: str, msg: str, **facts: Any) -> Outcome:
        """An error result (``kind`` ``cancelled`` makes a cancelled one); ``facts`` are more
        result fields (``end_reason`` defaults to ``agent_error``, ``cancelled`` or
        ``internal``, as ``kind`` says)."""
        facts.setdefault("end_reason", _END_OF_FAILURE.get(kind, "agent_error"))
        return Outcome(
            TestResult(
                **self._base(),
                **facts,
                success=False,
                status="cancelled" if kind == "cancelled" else "error",
                response_text="",
                error_message=redact.scrub(msg),
                error_kind=kind,
            )
        )

    def internal_error(self, exc: BaseException) -> Outcome:
        """The result of a bug in llmbench while this test ran (the test is not lost)."""
        return self.failed(
            "internal", f"internal error: {type(exc).__name__}: {redact.scrub(str(exc))}"
        )

    def cancelled(self) -> Outcome:
        """The result of a test cancelled in flight."""
        return self.failed("cancelled", "the run was cancelled")


_END_OF_FAILURE = {
    "cancelled": "cancelled",
    "internal": "internal",
    "sandbox": "sandbox_error",
    "worker": "worker_lost",
}


def default_tools() -> AgentTools:
    """The tools of a target that sets none: the ``text`` protocol (any server), the default
    limits, one sandbox with the default settings for the process."""
    global _DEFAULT_TOOLS
    if _DEFAULT_TOOLS is None:
        _DEFAULT_TOOLS = AgentTools("text", ToolLimits(), RunSandbox.create())
    return _DEFAULT_TOOLS


_DEFAULT_TOOLS: AgentTools | None = None


def data_listing(test: TestCase) -> list[str]:
    """The names of the files the agent finds under ``/data`` (a folder's, recursively,
    sorted; at most a few hundred looked at)."""
    names: list[str] = []
    for name in test.file_paths:
        path = Path(name)
        if path.is_dir():
            for i, found in enumerate(sorted(path.rglob("*"))):
                if i >= 500:
                    break
                if found.is_file():
                    names.append(found.relative_to(path).as_posix())
        else:
            names.append(path.name)
    return names


def _tool_facts(episode: Episode | None) -> dict[str, Any]:
    if episode is None:
        return {}
    c = episode.counters
    return {
        "tool_protocol": episode.protocol,
        "tool_calls": c.tool_calls,
        "code_errors": c.code_errors,
        "code_timeouts": c.code_timeouts,
        "session_restarts": episode.restarts,
    }


def _tokens(completions: list[Completion]) -> int | None:
    """Prompt plus completion tokens of ``completions``; None when there are none."""
    if not completions:
        return None
    return sum((c.prompt_tokens or 0) + (c.completion_tokens or 0) for c in completions)


def _total(counts: Iterable[int | None]) -> int | None:
    """The sum of the known counts; None when none is known."""
    known = [n for n in counts if n is not None]
    return sum(known) if known else None


def _tokens_per_second(completions: list[Completion]) -> float | None:
    """One completion's rate; over several turns, all decoded tokens over all decode time."""
    if len(completions) == 1:
        return completions[0].tokens_per_second
    tokens = 0
    seconds = 0.0
    for c in completions:
        n = c.completion_tokens
        if not n or c.generation_time is None or c.generation_time <= 0 or n < 2:
            continue
        tokens += n - 1
        seconds += c.generation_time
    return tokens / seconds if seconds > 0 else None
