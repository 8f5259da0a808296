"""The suite file format: ``{"suite_info": {...}, "tests": [TestCase, ...]}``.

Unknown keys on a test are kept (other tools write extra keys; later stages may read them).
Known keys are type-checked strictly: ``"max_tokens": "64"`` is an error, not a silent cast.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    model_validator,
)

from llmbench.config.validation import MAX_ID_LENGTH, check_id

ApiType = Literal["chat", "completions"]


class Message(BaseModel):
    """One chat turn."""

    model_config = ConfigDict(extra="allow", frozen=True)

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: StrictStr | list[dict[str, Any]]
    """Text, or a list of content parts (OpenAI multimodal form)."""


class Parameters(BaseModel):
    """``parameters``: sent to the API as they are; the common ones are type-checked.

    ``stream`` and ``stream_options`` are llmbench's to set (see ``APIConfiguration.stream``)
    and are ignored here.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    max_tokens: StrictInt | None = Field(None, gt=0)
    temperature: StrictFloat | None = Field(None, ge=0, le=2)
    top_p: StrictFloat | None = Field(None, gt=0, le=1)
    stop: StrictStr | list[StrictStr] | None = None
    seed: StrictInt | None = None


class TestMetadata(BaseModel):
    """``metadata``: free form; ``timeout_seconds`` overrides the read timeout for this test."""

    model_config = ConfigDict(extra="allow", frozen=True)

    timeout_seconds: StrictFloat | None = Field(None, gt=0)


class TestCase(BaseModel):
    """One test: a prompt or a conversation, the parameters to send, and the reference answer."""

    __test__ = False
    model_config = ConfigDict(extra="allow", frozen=True)

    id: Annotated[StrictStr, AfterValidator(check_id)] = Field(
        min_length=1, max_length=MAX_ID_LENGTH
    )
    """Unique within the suite; 1 to 100 printable characters (see
    :func:`~llmbench.config.validation.check_id`)."""
    name: StrictStr
    category: StrictStr = Field(min_length=1)
    description: StrictStr | None = None
    reasoning_type: StrictStr | None = None
    prompt: StrictStr | None = None
    """Completion text; sent as one user message to a chat endpoint."""
    messages: list[Message] | None = None
    """Chat turns; needs a chat endpoint."""
    api_type: ApiType | None = None
    """Overrides the API type of the endpoint for this test."""
    type: Literal["single", "interactive"] = "single"
    """``interactive``: a conversation in which the instructor plays the user (needs a chat
    endpoint); the user turns come from ``instructions``, not from ``prompt`` or ``messages``."""
    instructions: list[StrictStr] | None = None
    """Interactive tests: the steps of the conversation, one user turn each, in order. Hidden
    from the agent; the instructor phrases them (or, in ``scripted`` mode, sends them as they
    are)."""
    context: StrictStr | None = None
    """Interactive tests: background only the instructor and supervisor see (the facts of the
    scenario, the answer the agent should reach)."""
    parameters: Parameters = Parameters()
    metadata: TestMetadata = TestMetadata()
    evaluation_config: dict[str, Any] | None = None
    expected: Any = None
    """The reference answer, for scoring."""

    @model_validator(mode="after")
    def _prompt_or_messages(self) -> TestCase:
        if self.type == "interactive":
            return self._check_interactive()
        if self.instructions is not None:
            raise ValueError('has \'instructions\' but is not "type": "interactive"')
        if self.prompt is None and self.messages is None:
            raise ValueError("needs either 'prompt' (text) or 'messages' (chat turns)")
        if self.prompt is not None and self.messages is not None:
            raise ValueError("has both 'prompt' and 'messages'; keep one")
        if self.messages is not None and not self.messages:
            raise ValueError("'messages' is empty")
        if self.messages is not None and self.api_type == "completions":
            raise ValueError("'messages' needs api_type 'chat', got 'completions'")
        return self

    def _check_interactive(self) -> TestCase:
        if not self.instructions or not all(step.strip() for step in self.instructions):
            raise ValueError(
                "an interactive test needs 'instructions': a non-empty list of non-empty steps"
            )
        if self.prompt is not None or self.messages is not None:
            raise ValueError(
                "an interactive test takes its user turns from 'instructions'; "
                "remove 'prompt' / 'messages'"
            )
        if self.api_type == "completions":
            raise ValueError("an interactive test needs api_type 'chat', got 'completions'")
        return self

    @property
    def is_interactive(self) -> bool:
        """True for ``"type": "interactive"``."""
        return self.type == "interactive"

    @property
    def timeout_s(self) -> float | None:
        """``metadata.timeout_seconds`` as a float, or None."""
        t = self.metadata.timeout_seconds
        return float(t) if t is not None else None


class Category(BaseModel):
    """One entry of ``categories.json``."""

    model_config = ConfigDict(extra="allow", frozen=True)

    description: StrictStr = ""
    test_ids: list[StrictStr]


class Suite(BaseModel):
    """A loaded suite: tests in file order, unique ids."""

    model_config = ConfigDict(extra="allow", frozen=True)

    suite_info: dict[str, Any] = Field(default_factory=dict)
    tests: list[TestCase]

    def by_id(self) -> dict[str, TestCase]:
        """Tests keyed by id."""
        return {t.id: t for t in self.tests}
