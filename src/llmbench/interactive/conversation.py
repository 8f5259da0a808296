"""The conversation of one interactive test: instructor (or script), supervisor, agent, repeat.

Each user turn: the instructor proposes a message (``llm`` mode) or the next step is taken
verbatim (``scripted`` mode); the supervisor, when there is one, reviews an instructor message and
may replace it; the agent answers. The loop ends when the instructor says ``done``, the script runs
out of steps, ``max_turns`` user turns have been sent, or a request fails for good. The agent only
ever sees its system prompt and the user/assistant turns, never the reference.

Structured replies (instructor, supervisor) are parsed leniently: the first JSON object in the
text, code fences and prose around it ignored. A reply that does not parse or validate is asked
for once more, with the problem appended as a user message; if the second reply is unusable too,
the instructor falls back to plain text (see :func:`.instructor.fallback_message`) and the
supervisor's review is skipped (the message is sent unchanged). Every retry, fallback and
correction is noted in the transcript entry it concerns and in :attr:`Conversation.events`.

Transcript entries (saved with the result)::

    {"role": "user" | "assistant", "content": str, "turn": int,
     "source": "scripted" | "instructor" | "supervisor" | "fallback" | "agent",
     "proposed": str,       # source "supervisor": the instructor's message it replaced
     "reason": str,         # source "supervisor": why
     "note": str,           # retries and fallbacks of this turn, "; "-joined
     "finish_reason": str,  # assistant entries, when the server gave one
     "reasoning": str,      # assistant entries: the agent's thinking, when it sent any
     "reasoning_truncated": true}  # assistant entries cut off while still thinking

The agent's thinking stays in the transcript for people to read; the next turn's request sends
only the answers, as reasoning models expect.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from pydantic import ValidationError

from llmbench.config.base_config import HelperSection, InstructorSection, StructuredOutput
from llmbench.engine.agent_loop import Episode
from llmbench.engine.calls import ChatFn
from llmbench.errors import RequestFailure
from llmbench.interactive import instructor as inst
from llmbench.interactive import supervisor as sup
from llmbench.providers.openai_compatible import Completion
from llmbench.suite.models import TestCase

Party = Literal["agent", "instructor", "supervisor"]
T = TypeVar("T")


@dataclass(frozen=True)
class ConversationSettings:
    """How to hold the conversations of a run."""

    max_turns: int
    """The most user turns sent to the agent."""
    mode: Literal["llm", "scripted"]
    """``llm``: an instructor LLM writes the user turns; ``scripted``: the steps verbatim."""
    instructor_parameters: dict[str, Any]
    """Request parameters of the instructor (temperature, max_tokens)."""
    instructor_format: StructuredOutput
    """How to ask the instructor for JSON; see :func:`response_format`."""
    supervisor_parameters: dict[str, Any]
    """Request parameters of the supervisor (temperature, max_tokens)."""
    supervisor_format: StructuredOutput
    """How to ask the supervisor for JSON; see :func:`response_format`."""
    agent_system_prompt: str | None = None
    """Sent to the agent first, as a system message (the agent config's ``system_prompt``)."""
    agent_parameters: dict[str, Any] = field(default_factory=dict)
    """Agent request parameters: the test's, overridden by the agent config's."""

    def __post_init__(self) -> None:
        if self.max_turns < 1:
            raise ValueError(f"max_turns: expected an integer >= 1, got {self.max_turns!r}")

    @classmethod
    def from_sections(
        cls,
        instructor: InstructorSection,
        supervisor: HelperSection,
        *,
        agent_system_prompt: str | None,
        agent_parameters: dict[str, Any],
    ) -> ConversationSettings:
        """Settings from ``base_config.toml``'s ``[instructor]`` and ``[supervisor]``."""
        return cls(
            max_turns=instructor.max_turns,
            mode=instructor.mode,
            instructor_parameters={
                "temperature": instructor.temperature,
                "max_tokens": instructor.max_tokens,
            },
            instructor_format=instructor.structured_output,
            supervisor_parameters={
                "temperature": supervisor.temperature,
                "max_tokens": supervisor.max_tokens,
            },
            supervisor_format=supervisor.structured_output,
            agent_system_prompt=agent_system_prompt,
            agent_parameters=dict(agent_parameters),
        )


@dataclass
class Conversation:
    """What happened in one interactive test; see the module docstring for the transcript."""

    transcript: list[dict[str, Any]] = field(default_factory=list)
    """User and assistant turns in order, with where each user message came from."""
    final_answer: str = ""
    """The agent's last reply ("" when it never replied)."""
    agent_completions: list[Completion] = field(default_factory=list)
    """The agent's completions, one per user turn it answered."""
    instructor_completions: list[Completion] = field(default_factory=list)
    """Every instructor completion, parse retries included."""
    supervisor_completions: list[Completion] = field(default_factory=list)
    """Every supervisor completion, parse retries included."""
    events: list[str] = field(default_factory=list)
    """Human-readable notes: retries, fallbacks, corrections, why the conversation ended."""
    error: RequestFailure | None = None
    """The request that failed for good; the conversation stopped there."""
    end_reason: str = "instructor_done"
    """Why it ended (``TestResult.end_reason``): ``instructor_done`` (the instructor said so,
    or the script ran out), ``max_turns``, a limit of a test with tools (``tool_limit``,
    ``time_limit``, ``token_limit``), ``agent_error`` or ``helper_error``."""
    failed_party: Party | None = None
    """Whose request failed."""
    sandbox_error: str | None = None
    """With ``end_reason`` ``sandbox_error``: why the agent's code sandbox could not go on."""

    @property
    def turns(self) -> int:
        """User turns sent to the agent."""
        return sum(1 for entry in self.transcript if entry["role"] == "user")


def response_format(kind: StructuredOutput, name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The request parameters that ask for JSON matching ``schema``: ``{"response_format": ...}``
    in llama.cpp/vLLM/Ollama (``json_object``) or OpenAI (``json_schema``) form; ``{}`` for
    ``none`` (the prompt alone asks for JSON)."""
    if kind == "json_object":
        return {"response_format": {"type": "json_object", "schema": schema}}
    if kind == "json_schema":
        spec = {"name": name, "schema": schema, "strict": True}
        return {"response_format": {"type": "json_schema", "json_schema": spec}}
    return {}


def extract_json_object(text: str) -> dict[str, Any]:
    """The first JSON object in ``text`` (code fences and prose around it are skipped).

    Raises ``ValueError`` when there is none.
    """
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
        except ValueError:
            pass
        else:
            if isinstance(value, dict):
                return value
        start = text.find("{", start + 1)
    shown = text.strip()
    shown = repr(shown[:80] + ("..." if len(shown) > 80 else "")) if shown else "an empty reply"
    raise ValueError(f"no JSON object found in {shown}")


def describe(error: ValueError) -> str:
    """A parse or validation error in one line, for the model and for the transcript."""
    if not isinstance(error, ValidationError):
        return str(error)
    parts = []
    for item in error.errors(include_url=False):
        where = ".".join(str(x) for x in item["loc"])
        what = item["msg"].removeprefix("Value error, ")
        if item["type"] not in ("missing", "value_error"):
            what += f", got {json.dumps(item['input'])[:40]}"
        parts.append(f"'{where}': {what}" if where else what)
    return "; ".join(parts)


@dataclass(frozen=True)
class _Asked(Generic[T]):
    """A structured reply (None when neither attempt was usable), the last raw text, notes."""

    reply: T | None
    text: str
    notes: list[str]


class _PartyFailure(Exception):
    """A RequestFailure tagged with whose request it was."""

    def __init__(self, party: Party, failure: RequestFailure) -> None:
        super().__init__(party, failure)
        self.party, self.failure = party, failure


class _Dialogue:
    """One conversation while it runs; :func:`run_conversation` is its public face."""

    def __init__(
        self,
        test: TestCase,
        agent: ChatFn,
        instructor: ChatFn | None,
        supervisor: ChatFn | None,
        settings: ConversationSettings,
        episode: Episode | None = None,
    ) -> None:
        self.test, self.settings = test, settings
        self.agent, self.instructor, self.supervisor = agent, instructor, supervisor
        self.episode = episode
        self.out = Conversation()
        self.turn = 0

    def note(self, text: str) -> None:
        self.out.events.append(f"turn {self.turn}: {text}")

    async def run(self) -> Conversation:
        max_turns = self.settings.max_turns
        try:
            for turn in range(1, max_turns + 1):
                self.turn = turn
                user = await self._user_entry()
                if user is None:
                    return self.out
                self.out.transcript.append(user)
                if not await self._agent_turn():
                    return self.out
        except _PartyFailure as failed:
            self.out.error, self.out.failed_party = failed.failure, failed.party
            self.out.end_reason = "agent_error" if failed.party == "agent" else "helper_error"
            self.note(f"the {failed.party} request failed: {failed.failure.message}")
            return self.out
        steps = len(self.test.instructions or [])
        if self.settings.mode == "llm":
            self.out.end_reason = "max_turns"
            self.note(f"stopped at max_turns={max_turns}; the instructor was not done")
        elif steps > max_turns:
            self.out.end_reason = "max_turns"
            self.note(f"stopped at max_turns={max_turns}; {steps - max_turns} step(s) not sent")
        else:
            self.note(f"all {steps} scripted steps sent")
        return self.out

    async def _call(
        self, party: Party, chat: ChatFn, messages: list[dict[str, Any]], params: dict[str, Any]
    ) -> Completion:
        try:
            return await chat(messages, dict(params))
        except RequestFailure as failure:
            raise _PartyFailure(party, failure) from failure

    async def _ask(
        self,
        party: Literal["instructor", "supervisor"],
        chat: ChatFn,
        messages: list[dict[str, Any]],
        params: dict[str, Any],
        parse: Callable[[str], T],
        shape: str,
    ) -> _Asked[T]:
        """One structured request, asked once more (told what was wrong) if unusable."""
        out = self.out
        log = out.instructor_completions if party == "instructor" else out.supervisor_completions
        first = await self._call(party, chat, messages, params)
        log.append(first)
        try:
            return _Asked(parse(first.text), first.text, [])
        except ValueError as exc:
            problem = describe(exc)
        again = (
            f"Your reply could not be used: {problem}. "
            f"Reply again with only a JSON object of this form, nothing else: {shape}"
        )
        retry = [*messages, {"role": "assistant", "content": first.text}]
        second = await self._call(party, chat, [*retry, {"role": "user", "content": again}], params)
        log.append(second)
        note = f"{party} reply unusable ({problem}); asked again"
        try:
            return _Asked(parse(second.text), second.text, [f"{note}: the retry was usable"])
        except ValueError as exc:
            return _Asked(None, second.text, [f"{note}: still unusable ({describe(exc)})"])

    async def _user_entry(self) -> dict[str, Any] | None:
        """The next user turn's transcript entry, or None when the conversation is over."""
        turn = self.turn
        if self.settings.mode == "scripted":
            step = inst.scripted_step(self.test, turn)
            if step is None:
                self.note(f"all {turn - 1} scripted steps sent")
                return None
            return _entry("user", step, "scripted", turn)
        proposal = await self._propose()
        if proposal is None:
            return None
        message, source, notes, review = proposal
        entry = _entry("user", message, source, turn)
        if self.supervisor is not None and review:
            entry = await self._review(entry, self.supervisor, notes)
        for text in notes:
            self.note(text)
        if notes:
            entry["note"] = "; ".join(notes)
        return entry

    async def _propose(self) -> tuple[str, str, list[str], bool] | None:
        """The instructor's message, its source, notes, and whether to review it; None: done."""
        s, turn = self.settings, self.turn
        assert self.instructor is not None  # checked by run_conversation
        asked = await self._ask(
            "instructor",
            self.instructor,
            inst.instructor_messages(
                self.test, self.out.transcript, turn=turn, max_turns=s.max_turns
            ),
            {
                **s.instructor_parameters,
                **response_format(s.instructor_format, inst.REPLY_NAME, inst.REPLY_SCHEMA),
            },
            lambda text: inst.parse_instructor_reply(extract_json_object(text), turn=turn),
            inst.REPLY_SHAPE,
        )
        if asked.reply is not None:
            if asked.reply.done:
                instead = self._instead_of_early_stop()
                if instead is None:
                    self.note("the instructor is done")
                    return None
                step, why = instead
                return step, "supervisor", [*asked.notes, why], False
            return asked.reply.message.strip(), "instructor", asked.notes, True
        try:
            data: dict[str, Any] | None = extract_json_object(asked.text)
        except ValueError:
            data = None
        fallback = inst.fallback_message(asked.text, data, self.test, turn)
        if fallback is None:
            self.note(f"{asked.notes[-1]}; nothing to fall back on after the last step: done")
            return None
        message, how = fallback
        step_verbatim = message == inst.scripted_step(self.test, turn)
        return message, "fallback", [*asked.notes, f"fell back to {how}"], not step_verbatim

    def _instead_of_early_stop(self) -> tuple[str, str] | None:
        """The step to send, and why, when the instructor wants to stop before the agent has
        written the file the test judges and before the steps are exhausted; None: it may
        stop."""
        episode = self.episode
        if episode is None or episode.has_required_file():
            return None
        step = inst.scripted_step(self.test, self.turn)
        if step is None:
            return None
        return step, (
            f"the supervisor rejected an early stop: /home/agent/{episode.required_file} is not "
            f"written yet and step {self.turn} is not sent; sent it as it is"
        )

    async def _review(
        self, entry: dict[str, Any], chat: ChatFn, notes: list[str]
    ) -> dict[str, Any]:
        """``entry`` as the supervisor let it through or corrected it; appends to ``notes``."""
        s, proposed = self.settings, entry["content"]
        asked = await self._ask(
            "supervisor",
            chat,
            sup.supervisor_messages(self.test, self.out.transcript, proposed, turn=self.turn),
            {
                **s.supervisor_parameters,
                **response_format(s.supervisor_format, sup.REPLY_NAME, sup.REPLY_SCHEMA),
            },
            lambda text: sup.parse_supervisor_reply(extract_json_object(text)),
            sup.REPLY_SHAPE,
        )
        notes.extend(asked.notes)
        review = asked.reply
        if review is None:
            notes.append("the message was sent unchanged, unreviewed")
            return entry
        corrected = review.corrected_message.strip()
        if review.ok or corrected == proposed:
            return entry
        self.note(f"the supervisor corrected the message ({review.reason})")
        return _entry(
            "user", corrected, "supervisor", self.turn, proposed=proposed, reason=review.reason
        )

    async def _agent_turn(self) -> bool:
        """The agent's answer to the last user turn; False when a limit ended the test."""
        if self.episode is not None:
            return await self._episode_turn(self.episode)
        prompt = self.settings.agent_system_prompt
        messages = [{"role": "system", "content": prompt}] if prompt else []
        messages += [{"role": e["role"], "content": e["content"]} for e in self.out.transcript]
        completion = await self._call("agent", self.agent, messages, self.settings.agent_parameters)
        self.out.agent_completions.append(completion)
        self.out.final_answer = completion.text
        entry = _entry("assistant", completion.text, "agent", self.turn)
        if completion.finish_reason:
            entry["finish_reason"] = completion.finish_reason
        if completion.reasoning_text:  # kept for people to read; never sent back to the agent
            entry["reasoning"] = completion.reasoning_text
        if completion.reasoning_truncated:
            entry["reasoning_truncated"] = True
        self.out.transcript.append(entry)
        return True

    async def _episode_turn(self, episode: Episode) -> bool:
        """A turn of an agent with tools: it may run code before it answers."""
        user = {"role": "user", "content": self.out.transcript[-1]["content"]}
        try:
            result = await episode.turn(user, self.turn, self.out.transcript)
        except RequestFailure as failure:
            raise _PartyFailure("agent", failure) from failure
        self.out.agent_completions.extend(result.completions)
        self.out.final_answer = result.text
        if result.stop is not None:
            self.out.end_reason = result.stop
            self.out.sandbox_error = result.error
            self.note(result.entries[-1]["content"])
            return False
        return True


def _entry(role: str, content: str, source: str, turn: int, **extra: str) -> dict[str, Any]:
    return {"role": role, "content": content, "source": source, "turn": turn, **extra}


async def run_conversation(
    test: TestCase,
    *,
    agent: ChatFn,
    instructor: ChatFn | None,
    supervisor: ChatFn | None,
    settings: ConversationSettings,
    episode: Episode | None = None,
) -> Conversation:
    """Hold the conversation of the interactive ``test`` with ``agent``.

    With ``episode`` (a test with tools) the agent's turns go through it: the agent may run
    code before it answers, and a limit of the episode ends the conversation.

    ``instructor`` writes the user turns in ``llm`` mode (unused in ``scripted`` mode, may be
    None there); ``supervisor`` reviews them (None: no review; unused in ``scripted`` mode, whose
    messages are the reference). A request that fails for good (:class:`RequestFailure`) stops
    the conversation: the transcript so far is kept and ``error`` / ``failed_party`` say what
    failed. Cancellation propagates.

    Raises ``ValueError`` when ``test`` is not interactive, or in ``llm`` mode without an
    instructor.
    """
    if not test.is_interactive or not test.instructions:
        raise ValueError(f"test {test.id!r} is not an interactive test with instructions")
    if settings.mode == "llm" and instructor is None:
        raise ValueError("llm mode needs an instructor ChatFn; got None")
    return await _Dialogue(test, agent, instructor, supervisor, settings, episode).run()
