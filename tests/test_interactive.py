"""Interactive tests: the conversation of agent, instructor (or script) and supervisor.

HTTP tests run the loop against the real scripted server through :class:`Caller` ChatFns; the
instructor's and the supervisor's requests are told apart by their system prompts (the server's
marker queues). Tests about the loop's logic use :class:`FakeChat`.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Sequence
from typing import Any

import pytest

from llmbench.config.api import APIConfiguration
from llmbench.config.base_config import HelperSection, InstructorSection
from llmbench.engine.calls import Caller, CallLog, ChatFn
from llmbench.errors import RequestFailure
from llmbench.interactive import Conversation, ConversationSettings, run_conversation
from llmbench.interactive.conversation import describe, extract_json_object, response_format
from llmbench.interactive.instructor import REPLY_SCHEMA, parse_instructor_reply
from llmbench.interactive.supervisor import parse_supervisor_reply
from llmbench.providers.http1 import HttpClient
from llmbench.providers.openai_compatible import Completion
from llmbench.suite.models import TestCase
from tests.scripted_server import Answer, Echo, ScriptedServer, Status

INSTRUCTOR = "You play the user"  # opens the instructor's system prompt
SUPERVISOR = "You check the messages"  # opens the supervisor's system prompt
STEP_1 = "Ask the agent to help plan a 3-day budget of 90 euros."
STEP_2 = "Ask how much that is per day."
CONTEXT = "90 euros over 3 days is thirty euros a day."


def make_case(**fields: Any) -> TestCase:
    data: dict[str, Any] = {
        "id": "chat_01",
        "name": "budget",
        "category": "dialogue",
        "type": "interactive",
        "instructions": [STEP_1, STEP_2],
        "context": CONTEXT,
        "expected": "thirty",
        "parameters": {"max_tokens": 64},
    }
    data.update(fields)
    return TestCase.model_validate(data)


def make_settings(**fields: Any) -> ConversationSettings:
    values: dict[str, Any] = {
        "max_turns": 6,
        "mode": "llm",
        "instructor_parameters": {"temperature": 0.0, "max_tokens": 128},
        "instructor_format": "json_object",
        "supervisor_parameters": {"temperature": 0.0, "max_tokens": 96},
        "supervisor_format": "json_object",
    }
    values.update(fields)
    return ConversationSettings(**values)


def say(message: str, done: bool = False) -> str:
    return json.dumps({"message": message, "done": done})


def verdict(ok: bool, corrected: str = "", reason: str = "fine") -> str:
    return json.dumps({"ok": ok, "corrected_message": corrected, "reason": reason})


class FakeChat:
    """A ChatFn that records its calls and answers with the next reply (text or failure);
    with ``echo``, answers every call with ``echo`` + the last user message."""

    def __init__(self, *replies: str | RequestFailure, echo: str | None = None) -> None:
        self.replies = list(replies)
        self.echo = echo
        self.calls: list[tuple[list[dict[str, Any]], dict[str, Any]]] = []

    async def __call__(
        self, messages: list[dict[str, Any]], parameters: dict[str, Any]
    ) -> Completion:
        self.calls.append((copy.deepcopy(messages), dict(parameters)))
        if self.echo is not None:
            reply: str | RequestFailure = self.echo + messages[-1]["content"]
        elif self.replies:
            reply = self.replies.pop(0)
        else:
            raise AssertionError(f"unexpected call with {messages!r}")
        if isinstance(reply, RequestFailure):
            raise reply
        return Completion(
            text=reply,
            prompt_tokens=1,
            completion_tokens=1,
            tokens_estimated=False,
            time_to_first_token=None,
            generation_time=None,
            total_time=0.01,
            finish_reason="stop",
            http_status=200,
        )


def converse(
    case: TestCase,
    settings: ConversationSettings,
    *,
    agent: FakeChat,
    instructor: FakeChat | None = None,
    supervisor: FakeChat | None = None,
) -> Conversation:
    return asyncio.run(
        run_conversation(
            case, agent=agent, instructor=instructor, supervisor=supervisor, settings=settings
        )
    )


def converse_over_http(
    server: ScriptedServer,
    case: TestCase,
    settings: ConversationSettings,
    *,
    supervised: bool = False,
) -> Conversation:
    """The conversation with agent, instructor (llm mode) and supervisor all on ``server``."""

    async def main() -> Conversation:
        api = APIConfiguration(
            endpoint=server.url, model="scripted-model", retry_attempts=0, timeout=5.0
        )
        caller = Caller(api)
        async with HttpClient() as session:

            def chat(label: str) -> ChatFn:
                return caller.chat_fn(session, calls=CallLog(), label=label)

            return await run_conversation(
                case,
                agent=chat("agent"),
                instructor=chat("instructor") if settings.mode == "llm" else None,
                supervisor=chat("supervisor") if supervised else None,
                settings=settings,
            )

    return asyncio.run(main())


def bodies(server: ScriptedServer, party: str) -> list[dict[str, Any]]:
    """The request bodies of ``party``: agent, instructor or supervisor."""
    out = []
    for request in server.requests:
        assert request.body is not None
        system = request.body["messages"][0]["content"]
        kind = "instructor" if system.startswith(INSTRUCTOR) else "agent"
        kind = "supervisor" if system.startswith(SUPERVISOR) else kind
        if kind == party:
            out.append(request.body)
    return out


def user(content: str, source: str, turn: int, **extra: str) -> dict[str, Any]:
    return {"role": "user", "content": content, "source": source, "turn": turn, **extra}


def agent_reply(content: str, turn: int) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": content,
        "source": "agent",
        "turn": turn,
        "finish_reason": "stop",
    }


# -- scripted mode ---------------------------------------------------------------------------


def test_scripted_mode_sends_the_steps_verbatim_and_hides_the_reference(
    server: ScriptedServer,
) -> None:
    server.set_default(Echo("agent: "))
    conversation = converse_over_http(server, make_case(), make_settings(mode="scripted"))
    assert conversation.transcript == [
        user(STEP_1, "scripted", 1),
        agent_reply(f"agent: {STEP_1}", 1),
        user(STEP_2, "scripted", 2),
        agent_reply(f"agent: {STEP_2}", 2),
    ]
    assert [r.body["messages"] for r in server.requests if r.body] == [
        [{"role": "user", "content": STEP_1}],
        [
            {"role": "user", "content": STEP_1},
            {"role": "assistant", "content": f"agent: {STEP_1}"},
            {"role": "user", "content": STEP_2},
        ],
    ]
    assert all("thirty" not in r.prompt_text for r in server.requests)
    assert conversation.final_answer == f"agent: {STEP_2}"
    assert conversation.turns == 2 and conversation.error is None
    assert conversation.events == ["turn 3: all 2 scripted steps sent"]


def test_scripted_mode_calls_neither_instructor_nor_supervisor() -> None:
    instructor, supervisor = FakeChat(), FakeChat()  # both fail the test if called
    conversation = converse(
        make_case(),
        make_settings(mode="scripted"),
        agent=FakeChat(echo=""),
        instructor=instructor,
        supervisor=supervisor,
    )
    assert conversation.turns == 2
    assert instructor.calls == [] and supervisor.calls == []


def test_scripted_mode_stops_at_max_turns() -> None:
    conversation = converse(
        make_case(), make_settings(mode="scripted", max_turns=1), agent=FakeChat(echo="")
    )
    assert [e["content"] for e in conversation.transcript] == [STEP_1, STEP_1]
    assert conversation.events == ["turn 1: stopped at max_turns=1; 1 step(s) not sent"]


# -- llm mode ----------------------------------------------------------------------------------


def test_llm_mode_ends_when_the_instructor_is_done(server: ScriptedServer) -> None:
    server.script(
        Answer(say("Can you help me plan 90 euros for 3 days?")),
        Answer('Here it is:\n```json\n{"message": "And per day?", "done": false}\n```'),
        Answer(say("", done=True)),
        marker=INSTRUCTOR,
    )
    server.set_default(Echo("agent: "))
    conversation = converse_over_http(server, make_case(), make_settings())
    assert conversation.transcript == [
        user("Can you help me plan 90 euros for 3 days?", "instructor", 1),
        agent_reply("agent: Can you help me plan 90 euros for 3 days?", 1),
        user("And per day?", "instructor", 2),
        agent_reply("agent: And per day?", 2),
    ]
    assert conversation.final_answer == "agent: And per day?"
    assert conversation.events == ["turn 3: the instructor is done"]
    assert len(bodies(server, "instructor")) == 3 and len(bodies(server, "agent")) == 2
    assert len(conversation.instructor_completions) == 3


def test_instructor_gets_the_reference_and_the_conversation_so_far(server: ScriptedServer) -> None:
    server.script(Answer(say("Help me budget?")), Answer(say("", done=True)), marker=INSTRUCTOR)
    server.set_default(Answer("Sure, 90 euros it is."))
    converse_over_http(server, make_case(), make_settings())
    second = bodies(server, "instructor")[1]["messages"]
    assert f"1. {STEP_1}\n2. {STEP_2}" in second[0]["content"]
    assert CONTEXT in second[0]["content"]
    assert "User: Help me budget?\n\nAssistant: Sure, 90 euros it is." in second[1]["content"]
    assert "step 2 of 2" in second[1]["content"]


@pytest.mark.parametrize(
    ("structured_output", "expected"),
    [
        ("json_object", {"type": "json_object", "schema": REPLY_SCHEMA}),
        (
            "json_schema",
            {
                "type": "json_schema",
                "json_schema": {"name": "instructor_reply", "schema": REPLY_SCHEMA, "strict": True},
            },
        ),
        ("none", None),
    ],
)
def test_instructor_request_carries_its_parameters_and_response_format(
    server: ScriptedServer, structured_output: str, expected: dict[str, Any] | None
) -> None:
    server.script(Answer(say("hi")), Answer(say("", done=True)), marker=INSTRUCTOR)
    converse_over_http(server, make_case(), make_settings(instructor_format=structured_output))
    body = bodies(server, "instructor")[0]
    assert body.get("response_format") == expected
    assert (body["temperature"], body["max_tokens"]) == (0.0, 128)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("json_object", {"response_format": {"type": "json_object", "schema": {"type": "object"}}}),
        (
            "json_schema",
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "n", "schema": {"type": "object"}, "strict": True},
                }
            },
        ),
        ("none", {}),
    ],
)
def test_response_format_shapes(kind: Any, expected: dict[str, Any]) -> None:
    assert response_format(kind, "n", {"type": "object"}) == expected


def test_llm_mode_stops_at_max_turns() -> None:
    instructor = FakeChat(say("one"), say("two"), say("three"))
    conversation = converse(
        make_case(), make_settings(max_turns=3), agent=FakeChat(echo=""), instructor=instructor
    )
    assert conversation.turns == 3 and len(instructor.calls) == 3
    assert conversation.events == ["turn 3: stopped at max_turns=3; the instructor was not done"]


def test_agent_gets_its_system_prompt_and_parameters_but_no_response_format(
    server: ScriptedServer,
) -> None:
    server.script(Answer(say("Plan my budget?")), Answer(say("", done=True)), marker=INSTRUCTOR)
    settings = make_settings(
        agent_system_prompt="You are terse.",
        agent_parameters={"max_tokens": 64, "temperature": 0.3},
    )
    converse_over_http(server, make_case(), settings)
    [body] = bodies(server, "agent")
    assert body["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Plan my budget?"},
    ]
    assert (body["max_tokens"], body["temperature"]) == (64, 0.3)
    assert "response_format" not in body


# -- supervisor ------------------------------------------------------------------------------


def test_supervisor_corrects_a_leaked_answer_before_the_agent_sees_it(
    server: ScriptedServer,
) -> None:
    leak, fixed = "It's thirty euros a day, right?", "How much is that per day?"
    server.script(Answer(say(leak)), Answer(say("", done=True)), marker=INSTRUCTOR)
    server.script(Answer(verdict(False, fixed, "gives the answer away")), marker=SUPERVISOR)
    server.set_default(Echo("agent: "))
    conversation = converse_over_http(server, make_case(), make_settings(), supervised=True)
    assert bodies(server, "agent")[0]["messages"] == [{"role": "user", "content": fixed}]
    assert conversation.transcript[0] == user(
        fixed, "supervisor", 1, proposed=leak, reason="gives the answer away"
    )
    assert "thirty" not in "".join(json.dumps(b) for b in bodies(server, "agent"))


def test_supervisor_is_told_the_reference_and_the_proposed_message(server: ScriptedServer) -> None:
    server.script(
        Answer(say("Can you help with a budget?")), Answer(say("", done=True)), marker=INSTRUCTOR
    )
    server.script(Answer(verdict(True)), marker=SUPERVISOR)
    conversation = converse_over_http(server, make_case(), make_settings(), supervised=True)
    [body] = bodies(server, "supervisor")
    system, request = body["messages"][0]["content"], body["messages"][1]["content"]
    assert f"1. {STEP_1}\n2. {STEP_2}" in system and CONTEXT in system
    assert "Expected answer, hidden from the assistant:\nthirty" in system
    assert f"step 1 of 2: {STEP_1}" in request
    assert "<<<\nCan you help with a budget?\n>>>" in request
    assert body["response_format"]["type"] == "json_object"
    assert (body["temperature"], body["max_tokens"]) == (0.0, 96)
    assert conversation.transcript[0] == user("Can you help with a budget?", "instructor", 1)


def test_supervisor_correction_replaces_a_message_that_skips_a_step() -> None:
    instructor = FakeChat(say("How much per day?"), say("", done=True))
    supervisor = FakeChat(
        verdict(False, "Can you help me plan 90 euros over 3 days?", "skips step 1")
    )
    agent = FakeChat(echo="")
    conversation = converse(
        make_case(), make_settings(), agent=agent, instructor=instructor, supervisor=supervisor
    )
    assert agent.calls[0][0] == [
        {"role": "user", "content": "Can you help me plan 90 euros over 3 days?"}
    ]
    assert conversation.transcript[0] == user(
        "Can you help me plan 90 euros over 3 days?",
        "supervisor",
        1,
        proposed="How much per day?",
        reason="skips step 1",
    )
    assert conversation.events[0] == "turn 1: the supervisor corrected the message (skips step 1)"


def test_unparsable_supervisor_reply_is_retried_once_then_the_message_is_sent_unchanged() -> None:
    instructor = FakeChat(say("Help me budget?"), say("", done=True))
    supervisor = FakeChat("Looks fine to me.", "Still fine!")
    conversation = converse(
        make_case(),
        make_settings(),
        agent=FakeChat(echo=""),
        instructor=instructor,
        supervisor=supervisor,
    )
    assert len(supervisor.calls) == 2
    first, retry = supervisor.calls[0][0], supervisor.calls[1][0]
    assert retry[:-2] == first and retry[-2] == {
        "role": "assistant",
        "content": "Looks fine to me.",
    }
    assert retry[-1]["role"] == "user"
    assert retry[-1]["content"].startswith(
        "Your reply could not be used: no JSON object found in 'Looks fine to me.'"
    )
    note = (
        "supervisor reply unusable (no JSON object found in 'Looks fine to me.'); asked again: "
        "still unusable (no JSON object found in 'Still fine!'); the message was sent unchanged, unreviewed"
    )
    assert conversation.transcript[0] == user("Help me budget?", "instructor", 1, note=note)
    assert conversation.events == [
        "turn 1: supervisor reply unusable (no JSON object found in 'Looks fine to me.'); asked again: "
        "still unusable (no JSON object found in 'Still fine!')",
        "turn 1: the message was sent unchanged, unreviewed",
        "turn 2: the instructor is done",
    ]


# -- instructor replies that do not parse ---------------------------------------------------------


def test_unparsable_instructor_reply_is_retried_once_with_the_parse_error() -> None:
    instructor = FakeChat(
        '{"message": "Help me budget?"}', say("Help me budget?"), say("", done=True)
    )
    conversation = converse(
        make_case(), make_settings(), agent=FakeChat(echo=""), instructor=instructor
    )
    first, retry = instructor.calls[0], instructor.calls[1]
    assert retry[0][:-2] == first[0] and retry[1] == first[1]
    assert retry[0][-1]["content"].startswith(
        "Your reply could not be used: 'done': Field required."
    )
    assert conversation.transcript[0] == user(
        "Help me budget?",
        "instructor",
        1,
        note="instructor reply unusable ('done': Field required); asked again: the retry was usable",
    )


@pytest.mark.parametrize(
    ("reply", "message", "how"),
    [
        (
            "  Could you help me plan a budget?  ",
            "Could you help me plan a budget?",
            "the reply as plain text",
        ),
        ("```\nCould you help?\n```", "Could you help?", "the reply as plain text"),
        (
            '{"message": "Could you help?", "done": "maybe"}',
            "Could you help?",
            "the 'message' field of the reply",
        ),
        ('{"text": "Could you help?"}', STEP_1, "step 1 verbatim"),
        ("   ", STEP_1, "step 1 verbatim"),
    ],
)
def test_instructor_falls_back_to_plain_text_after_a_second_unusable_reply(
    reply: str, message: str, how: str
) -> None:
    instructor = FakeChat(reply, reply, say("", done=True))
    conversation = converse(
        make_case(), make_settings(), agent=FakeChat(echo=""), instructor=instructor
    )
    entry = conversation.transcript[0]
    assert (entry["content"], entry["source"]) == (message, "fallback")
    assert f"fell back to {how}" in entry["note"] and "still unusable" in entry["note"]
    assert f"turn 1: fell back to {how}" in conversation.events


def test_plain_text_fallback_is_reviewed_but_a_verbatim_step_is_not() -> None:
    supervisor = FakeChat(verdict(True))
    instructor = FakeChat("Plain words.", "Plain words.", "", "", say("", done=True))
    conversation = converse(
        make_case(),
        make_settings(),
        agent=FakeChat(echo=""),
        instructor=instructor,
        supervisor=supervisor,
    )
    assert [e["content"] for e in conversation.transcript if e["role"] == "user"] == [
        "Plain words.",
        STEP_2,
    ]
    assert len(supervisor.calls) == 1


@pytest.mark.parametrize(
    ("reply", "turn", "problem"),
    [
        ("Sure thing!", 2, "no JSON object found in 'Sure thing!'"),
        ("", 2, "no JSON object found in an empty reply"),
        ('{"message": "hi"}', 2, "'done': Field required"),
        ('{"message": 3, "done": false}', 2, "'message': Input should be a valid string, got 3"),
        (
            '{"message": "hi", "done": "perhaps"}',
            2,
            "'done': Input should be a valid boolean, unable to interpret input, got \"perhaps\"",
        ),
        (
            '{"message": " ", "done": false}',
            2,
            "'message' is empty and 'done' is false: write the next message, or set 'done' to true",
        ),
        (
            '{"message": "", "done": true}',
            1,
            "'done' is true but nothing has been sent yet: write the first message (step 1) with 'done' false",
        ),
    ],
)
def test_instructor_parse_errors_tell_the_model_what_was_wrong(
    reply: str, turn: int, problem: str
) -> None:
    with pytest.raises(ValueError) as caught:
        parse_instructor_reply(extract_json_object(reply), turn=turn)
    assert describe(caught.value) == problem


def test_supervisor_parse_error_asks_for_the_missing_correction() -> None:
    with pytest.raises(ValueError) as caught:
        parse_supervisor_reply(extract_json_object('Verdict: {"ok": false, "reason": "leak"}'))
    assert describe(caught.value) == (
        "'ok' is false but 'corrected_message' is empty: write the message to send instead, or set 'ok' to true"
    )


def test_first_json_object_is_taken_from_prose_and_fences() -> None:
    text = 'I think {this} is it:\n```json\n{"ok": true, "reason": "fine"}\n```\n{"ok": false}'
    assert extract_json_object(text) == {"ok": True, "reason": "fine"}


# -- failures and cancellation ----------------------------------------------------------------


def test_agent_failure_keeps_the_transcript_so_far(server: ScriptedServer) -> None:
    server.script(Answer("A plan: 30 a day."), Status(400, "context length exceeded"))
    conversation = converse_over_http(server, make_case(), make_settings(mode="scripted"))
    assert conversation.transcript == [
        user(STEP_1, "scripted", 1),
        agent_reply("A plan: 30 a day.", 1),
        user(STEP_2, "scripted", 2),
    ]
    assert conversation.failed_party == "agent" and conversation.error is not None
    assert conversation.error.status == 400
    assert conversation.final_answer == "A plan: 30 a day."
    assert conversation.events == [
        "turn 2: the agent request failed: HTTP 400 from server: context length exceeded"
    ]


def test_instructor_failure_keeps_the_transcript_so_far(server: ScriptedServer) -> None:
    server.script(Answer(say("Help me budget?")), Status(401, "bad key"), marker=INSTRUCTOR)
    server.set_default(Answer("Gladly."))
    conversation = converse_over_http(server, make_case(), make_settings())
    assert conversation.transcript == [
        user("Help me budget?", "instructor", 1),
        agent_reply("Gladly.", 1),
    ]
    assert conversation.failed_party == "instructor"
    assert conversation.error is not None and conversation.error.status == 401
    assert conversation.events == [
        "turn 2: the instructor request failed: HTTP 401 from server: bad key"
    ]


def test_supervisor_failure_stops_before_the_message_is_sent() -> None:
    failure = RequestFailure("timeout", "timed out: no response within 5s")
    agent = FakeChat(echo="")
    conversation = converse(
        make_case(),
        make_settings(),
        agent=agent,
        instructor=FakeChat(say("hi")),
        supervisor=FakeChat(failure),
    )
    assert conversation.transcript == [] and agent.calls == []
    assert (conversation.failed_party, conversation.error) == ("supervisor", failure)


def test_cancellation_propagates() -> None:
    async def main() -> None:
        started = asyncio.Event()

        async def agent(
            messages: Sequence[dict[str, Any]], parameters: dict[str, Any]
        ) -> Completion:
            started.set()
            await asyncio.sleep(3600)
            raise AssertionError("not cancelled")

        task = asyncio.create_task(
            run_conversation(
                make_case(),
                agent=agent,
                instructor=None,
                supervisor=None,
                settings=make_settings(mode="scripted"),
            )
        )
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())


# -- setup errors and settings ------------------------------------------------------------------


def test_llm_mode_without_an_instructor_is_a_bug_in_the_caller() -> None:
    with pytest.raises(ValueError, match="llm mode needs an instructor ChatFn"):
        converse(make_case(), make_settings(), agent=FakeChat(echo=""))


def test_a_single_test_is_refused() -> None:
    single = TestCase.model_validate({"id": "s1", "name": "s", "category": "c", "prompt": "hi"})
    with pytest.raises(ValueError, match="'s1' is not an interactive test"):
        converse(single, make_settings(mode="scripted"), agent=FakeChat(echo=""))


def test_settings_from_the_base_config_sections() -> None:
    settings = ConversationSettings.from_sections(
        InstructorSection(
            temperature=0.7, max_tokens=200, max_turns=4, mode="scripted", structured_output="none"
        ),
        HelperSection(temperature=0.1, max_tokens=300, structured_output="json_schema"),
        agent_system_prompt="Be brief.",
        agent_parameters={"max_tokens": 64},
    )
    assert settings == ConversationSettings(
        max_turns=4,
        mode="scripted",
        instructor_parameters={"temperature": 0.7, "max_tokens": 200},
        instructor_format="none",
        supervisor_parameters={"temperature": 0.1, "max_tokens": 300},
        supervisor_format="json_schema",
        agent_system_prompt="Be brief.",
        agent_parameters={"max_tokens": 64},
    )
