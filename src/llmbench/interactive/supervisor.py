"""The supervisor: the LLM that checks each instructor message before the agent sees it.

The supervisor sees the whole hidden reference (the steps, the context and the expected answer),
the conversation so far and the instructor's proposed message, and answers with one JSON object,
``{"ok": bool, "corrected_message": str, "reason": str}``. When ``ok`` is false the corrected
message is sent instead of the proposed one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from llmbench.interactive.instructor import numbered_steps, render_history, scripted_step
from llmbench.suite.models import TestCase

REPLY_NAME = "supervisor_review"
"""The schema's name in an OpenAI ``json_schema`` response format."""
REPLY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "ok": {"type": "boolean"},
        "corrected_message": {"type": "string"},
        "reason": {"type": "string"},
    },
    "required": ["ok", "corrected_message", "reason"],
    "additionalProperties": False,
}
"""The JSON schema of a supervisor reply (strict-mode compatible: every field required)."""
REPLY_SHAPE = '{"ok": true, "corrected_message": "", "reason": "<one sentence>"}'
"""The reply's shape as shown to the model in prompts."""


class SupervisorReply(BaseModel):
    """One supervisor verdict, as parsed from its JSON; unknown keys are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    ok: bool
    """True when the proposed message may be sent as it is."""
    corrected_message: str = ""
    """The message to send instead; required when ``ok`` is false."""
    reason: str = ""
    """Why the message was (not) ok, in one sentence."""

    @model_validator(mode="after")
    def _correction_unless_ok(self) -> SupervisorReply:
        if not self.ok and not self.corrected_message.strip():
            raise ValueError(
                "'ok' is false but 'corrected_message' is empty: write the message to send "
                "instead, or set 'ok' to true"
            )
        return self


def parse_supervisor_reply(data: Any) -> SupervisorReply:
    """Validate a reply's JSON object; ``ValueError`` with a message meant for the model."""
    return SupervisorReply.model_validate(data)


def _expected_text(expected: Any) -> str:
    if expected is None:
        return "(not given)"
    return expected if isinstance(expected, str) else json.dumps(expected, ensure_ascii=False)


def supervisor_system_prompt(test: TestCase) -> str:
    """The supervisor's role, the whole reference, and the reply format."""
    steps = test.instructions or []
    return f"""\
You check the messages of a simulated user before they are sent to an AI assistant that is \
being tested. The simulated user must follow the steps below and must not give away what the \
assistant is supposed to work out itself.

The steps, in order, one per user message:
{numbered_steps(steps)}

Background, hidden from the assistant:
{test.context or "(none)"}

Expected answer, hidden from the assistant:
{_expected_text(test.expected)}

A message is ok when it follows the current step (in its own words is fine) and reveals nothing \
beyond what the steps themselves say: not the expected answer, not background facts the \
assistant should work out, not the steps, and not that this is a test.
If it is not ok, set "ok" to false and write in "corrected_message" the message the user should \
send instead: it follows the current step and reveals nothing more than the step does. Give the \
reason in one sentence either way.

Reply with only a JSON object, no other text:
{REPLY_SHAPE}"""


def supervisor_messages(
    test: TestCase,
    transcript: Sequence[dict[str, Any]],
    proposed: str,
    *,
    turn: int,
) -> list[dict[str, Any]]:
    """The request reviewing ``proposed`` as user message ``turn``: the system prompt, then the
    conversation so far, the current step and the proposed message in one user message."""
    steps = test.instructions or []
    step = scripted_step(test, turn)
    current = (
        f"The current step is step {turn} of {len(steps)}: {step}"
        if step is not None
        else f"All {len(steps)} steps have had a message; only a short follow-up is expected."
    )
    user = (
        f"The conversation so far:\n\n{render_history(transcript)}\n\n{current}\n\n"
        f"The proposed user message:\n<<<\n{proposed}\n>>>\n\n"
        "Is it ok? Reply with the JSON object only."
    )
    return [
        {"role": "system", "content": supervisor_system_prompt(test)},
        {"role": "user", "content": user},
    ]
