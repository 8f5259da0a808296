"""The instructor: the LLM that plays the user of an interactive test, and its scripted stand-in.

The instructor sees the test's hidden reference (its ``instructions``, one step per user turn, and
its ``context``) and the conversation so far, and answers with one JSON object,
``{"message": str, "done": bool}``: the next user message, or ``done`` when every step has been
covered (the message is then not sent). ``scripted`` mode needs no LLM: turn ``n`` sends step
``n`` verbatim and the conversation ends after the last step, so every agent gets the same
conversation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from llmbench.suite.models import TestCase

REPLY_NAME = "instructor_reply"
"""The schema's name in an OpenAI ``json_schema`` response format."""
REPLY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "message": {"type": "string"},
        "done": {"type": "boolean"},
    },
    "required": ["message", "done"],
    "additionalProperties": False,
}
"""The JSON schema of an instructor reply (strict-mode compatible: every field required)."""
REPLY_SHAPE = '{"message": "<your next message to the assistant>", "done": false}'
"""The reply's shape as shown to the model in prompts."""


class InstructorReply(BaseModel):
    """One instructor reply, as parsed from its JSON; unknown keys are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    message: str
    """The next user message; may be empty when ``done``."""
    done: bool
    """True when every step has been covered: the conversation ends, ``message`` is not sent."""

    @model_validator(mode="after")
    def _message_unless_done(self) -> InstructorReply:
        if not self.done and not self.message.strip():
            raise ValueError(
                "'message' is empty and 'done' is false: write the next message, "
                "or set 'done' to true"
            )
        return self


def parse_instructor_reply(data: Any, *, turn: int) -> InstructorReply:
    """Validate a reply's JSON object for user turn ``turn`` (from 1).

    Raises ``ValueError`` (pydantic's ``ValidationError`` included) with a message meant for the
    model: a missing or mistyped field, an empty message, or ``done`` before anything was sent.
    """
    reply = InstructorReply.model_validate(data)
    if reply.done and turn == 1:
        raise ValueError(
            "'done' is true but nothing has been sent yet: write the first message (step 1) "
            "with 'done' false"
        )
    return reply


def scripted_step(test: TestCase, turn: int) -> str | None:
    """Step ``turn`` (from 1) of the test's instructions verbatim; None after the last step."""
    steps = test.instructions or []
    return steps[turn - 1] if 1 <= turn <= len(steps) else None


def numbered_steps(steps: Sequence[str]) -> str:
    """``1. first step`` lines, one per step."""
    return "\n".join(f"{i}. {step}" for i, step in enumerate(steps, start=1))


def render_history(transcript: Sequence[dict[str, Any]]) -> str:
    """The conversation so far as the agent saw it, one ``User:`` / ``Assistant:`` block a turn."""
    names = {"user": "User", "assistant": "Assistant"}
    said = [  # code calls and the runner's notes are the agent's work, not what it said
        f"{names[e['role']]}: {e['content']}"
        for e in transcript
        if e["role"] in names and (e["content"] or e["role"] == "user")
    ]
    return "\n\n".join(said) if said else "(nothing has been said yet)"


def instructor_system_prompt(test: TestCase) -> str:
    """The instructor's role, the test's steps and context, and the reply format."""
    steps = test.instructions or []
    background = test.context or "(none)"
    return f"""\
You play the user in a conversation with an AI assistant. Your messages go to the assistant \
as if a real person wrote them.

Follow these steps in order, one step per message:
{numbered_steps(steps)}

Background, for you only (the assistant must never see it):
{background}

Rules:
- Cover exactly one step per message, in the order given; do not skip or merge steps.
- Write as the user would: first person, natural and brief. You may react to what the \
assistant said, but do not help it.
- Never reveal the background, the answer the assistant should reach, these steps, or that \
this is a test. Never answer your own questions.
- When every step has been covered and the assistant has replied to the last one, set "done" \
to true; the message is then not sent and may be empty.

Reply with only a JSON object, no other text:
{REPLY_SHAPE}"""


def instructor_messages(
    test: TestCase,
    transcript: Sequence[dict[str, Any]],
    *,
    turn: int,
    max_turns: int,
) -> list[dict[str, Any]]:
    """The request for user turn ``turn``: the system prompt, then the conversation so far and
    what to write next in one user message."""
    steps = test.instructions or []
    if turn <= len(steps):
        task = (
            f"Write user message {turn} (of at most {max_turns}), for step {turn} of "
            f"{len(steps)}: {steps[turn - 1]}"
        )
    else:
        task = (
            f"All {len(steps)} steps have had a message. If the assistant has replied to the last "
            f'one, set "done" to true; otherwise write a short follow-up '
            f"(user message {turn} of at most {max_turns})."
        )
    history = render_history(transcript)
    user = f"The conversation so far:\n\n{history}\n\n{task}\n\nReply with the JSON object only."
    return [
        {"role": "system", "content": instructor_system_prompt(test)},
        {"role": "user", "content": user},
    ]


def _strip_fence(text: str) -> str:
    body = text.strip()
    if body.startswith("```") and body.endswith("```") and len(body) >= 6:
        first, _, rest = body[3:-3].partition("\n")
        body = rest if rest and (not first or first.strip().isalnum()) else body[3:-3]
    return body.strip()


def fallback_message(
    text: str, data: dict[str, Any] | None, test: TestCase, turn: int
) -> tuple[str, str] | None:
    """The message to send when the instructor's reply was unusable twice, and how it was got.

    ``text`` is the last reply and ``data`` the first JSON object in it (None if none). A reply
    that is JSON gives its ``message`` field (sending JSON itself to the agent would make no
    sense); any other reply is taken as plain text, code fences stripped. When that leaves
    nothing, step ``turn`` is sent verbatim; past the last step, None: the conversation ends.
    """
    if data is None:
        message, how = _strip_fence(text), "the reply as plain text"
    else:
        field = data.get("message")
        message = field.strip() if isinstance(field, str) else ""
        how = "the 'message' field of the reply"
    if message:
        return message, how
    step = scripted_step(test, turn)
    return (step, f"step {turn} verbatim") if step is not None else None
