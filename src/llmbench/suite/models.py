"""The suite file format: ``{"suite_info": {...}, "tests": [TestCase, ...]}``.

Unknown keys on a test are kept (other tools write extra keys; later stages may read them).
Known keys are type-checked strictly: ``"max_tokens": "64"`` is an error, not a silent cast.

A run keeps every test of its suite in memory to the end (100,000 tests is a normal size), so
the models here share what is the same in all of them: see :class:`SuiteModel`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NoReturn, Self

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
Tool = Literal["python"]
"""What a test may give its agent: ``python``, a persistent Python session in a sandbox."""
_TOOL_KEYS = ("files",)
_TOOL_LIMITS = ("max_tool_calls", "max_tool_calls_total")

MAX_SHARED_KEY_SETS = 1024
"""The most distinct sets of keys whose ``model_fields_set`` is shared; models with yet other
keys (a suite where unknown keys differ from test to test) keep a set of their own."""


def _refuse(self: object, *args: object, **kwargs: object) -> NoReturn:
    raise TypeError(
        f"this {type(self).__name__} is shared by many suite models and cannot be changed; "
        "change a copy (copy.copy gives an ordinary one)"
    )


class SharedFieldsSet(set[str]):
    """A read-only ``model_fields_set``, one for every suite model with the same keys; its copy
    (``copy.copy``, ``model_copy``, pickling) is an ordinary set."""

    __slots__ = ()
    add = discard = remove = pop = clear = update = _refuse
    difference_update = intersection_update = symmetric_difference_update = _refuse
    __ior__ = __iand__ = __isub__ = __ixor__ = _refuse

    def __copy__(self) -> set[str]:
        return set(self)

    def __deepcopy__(self, memo: object) -> set[str]:
        return set(self)

    def __reduce__(self) -> tuple[type[set[str]], tuple[list[str]]]:
        return set, (list(self),)


class NoExtra(dict[str, Any]):
    """The read-only, empty ``model_extra`` of every suite model without unknown keys; its copy
    (``copy.copy``, ``model_copy``, pickling) is an ordinary dict."""

    __slots__ = ()
    __setitem__ = __delitem__ = setdefault = pop = popitem = clear = update = _refuse
    __ior__ = _refuse

    def __copy__(self) -> dict[str, Any]:
        return {}

    def __deepcopy__(self, memo: object) -> dict[str, Any]:
        return {}

    def __reduce__(self) -> tuple[type[dict[str, Any]], tuple[()]]:
        return dict, ()


_FIELDS_SETS: dict[frozenset[str], SharedFieldsSet] = {}
_NO_EXTRA = NoExtra()


class SuiteModel(BaseModel):
    """The base of the suite's models: frozen, unknown keys kept, and light in memory.

    pydantic gives each model a set of the keys it was given (``model_fields_set``) and a dict
    of its unknown keys (``model_extra``); for a test such as ``{"id", "name", "category",
    "prompt", "expected"}`` the set alone takes 728 bytes, half of the whole test. Here every
    model with the same keys shares one read-only set (up to :data:`MAX_SHARED_KEY_SETS` sets of
    keys), and every model without unknown keys one read-only empty dict. pydantic changes
    neither on a frozen model (``model_copy`` changes a copy).
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    @model_validator(mode="after")
    def _share_bookkeeping(self) -> Self:
        own = self.__pydantic_fields_set__
        if type(own) is not SharedFieldsSet:
            key = frozenset(own)
            shared = _FIELDS_SETS.get(key)
            if shared is None and len(_FIELDS_SETS) < MAX_SHARED_KEY_SETS:
                shared = _FIELDS_SETS[key] = SharedFieldsSet(own)
            if shared is not None:
                object.__setattr__(self, "__pydantic_fields_set__", shared)
        if self.__pydantic_extra__ == {}:
            object.__setattr__(self, "__pydantic_extra__", _NO_EXTRA)
        return self


class Message(SuiteModel):
    """One chat turn."""

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: StrictStr | list[dict[str, Any]]
    """Text, or a list of content parts (OpenAI multimodal form)."""


class Parameters(SuiteModel):
    """``parameters``: sent to the API as they are; the common ones are type-checked.

    ``stream`` and ``stream_options`` are llmbench's to set (see ``APIConfiguration.stream``)
    and are ignored here.
    """

    max_tokens: StrictInt | None = Field(None, gt=0)
    temperature: StrictFloat | None = Field(None, ge=0, le=2)
    top_p: StrictFloat | None = Field(None, gt=0, le=1)
    stop: StrictStr | list[StrictStr] | None = None
    seed: StrictInt | None = None


class TestMetadata(SuiteModel):
    """``metadata``: free form; ``timeout_seconds`` overrides the read timeout for this test."""

    timeout_seconds: StrictFloat | None = Field(None, gt=0)


class TestLimits(SuiteModel):
    """How much a test lets its agent do (keys of the test itself; the agent's keys of the same
    names are the defaults)."""

    __test__ = False

    max_turns: StrictInt | None = Field(None, gt=0)
    """Interactive tests: the most user turns (default: the agent's ``max_turns``, else
    ``[instructor] max_turns``)."""
    max_tool_calls: StrictInt | None = Field(None, gt=0)
    """Tests with tools: the most code calls in one turn of the agent (default: the agent's,
    else 8)."""
    max_tool_calls_total: StrictInt | None = Field(None, gt=0)
    """Tests with tools: the most code calls in the whole test (default: the agent's, else
    64)."""
    time_limit_s: StrictFloat | StrictInt | None = Field(None, gt=0)
    """Tests with tools: the test's working time in seconds, model calls and code (not the waits
    for retries or rate limits); default: the agent's, else none."""
    token_limit: StrictInt | None = Field(None, gt=0)
    """Tests with tools: the most tokens (prompt plus completion, summed over the agent's
    requests) the test may use; default: the agent's, else none."""


LIMIT_KEYS = tuple(TestLimits.model_fields)
"""The test keys gathered into :attr:`TestCase.limits`."""


class TestCase(SuiteModel):
    """One test: a prompt or a conversation, the parameters to send, and the reference answer."""

    __test__ = False

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
    """Completion text; sent as one user message to a chat endpoint when the test has no
    ``messages``."""
    messages: list[Message] | None = None
    """Chat turns; needs a chat endpoint. A test may have both: the chat API sends
    ``messages``, the completions API ``prompt``."""
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
    tools: list[Tool] | None = None
    """``["python"]``: the agent has a persistent Python session in a sandbox for the whole
    test (see :mod:`llmbench.engine.agent_loop`)."""
    files: StrictStr | list[StrictStr] | None = None
    """Tests with tools: a folder, or a list of files, shown read-only to the agent's code under
    ``/data``. Relative to the suite file; the loader makes them absolute and checks they
    exist."""
    limits: TestLimits = TestLimits()
    """The test's limits, written as keys of the test itself (``"max_tool_calls": 4``; see
    :class:`TestLimits`): one field here, so that a test without them is no bigger."""

    @model_validator(mode="before")
    @classmethod
    def _gather_limits(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not any(key in data for key in LIMIT_KEYS):
            return data
        if "limits" in data:
            raise ValueError(f"give the limits as keys of the test ({', '.join(LIMIT_KEYS)})")
        out = {k: v for k, v in data.items() if k not in LIMIT_KEYS}
        out["limits"] = {k: data[k] for k in LIMIT_KEYS if k in data}
        return out

    @model_validator(mode="after")
    def _prompt_or_messages(self) -> TestCase:
        self._check_tools()
        if self.type == "interactive":
            return self._check_interactive()
        if self.instructions is not None:
            raise ValueError('has \'instructions\' but is not "type": "interactive"')
        if self.prompt is None and self.messages is None:
            raise ValueError("needs either 'prompt' (text) or 'messages' (chat turns)")
        if self.messages is not None and not self.messages:
            raise ValueError("'messages' is empty")
        if self.prompt is None and self.api_type == "completions":
            raise ValueError("'messages' needs api_type 'chat', got 'completions'")
        return self

    def _check_tools(self) -> None:
        if not self.tools:
            given = [key for key in _TOOL_KEYS if getattr(self, key) is not None]
            given += [key for key in _TOOL_LIMITS if getattr(self.limits, key) is not None]
            if given:
                raise ValueError(
                    f'has \'{given[0]}\' but no tools; add "tools": ["python"] or remove it'
                )
            return
        if self.api_type == "completions":
            raise ValueError("a test with tools needs api_type 'chat', got 'completions'")
        if self.type == "single" and self.prompt is None and self.messages is None:
            return  # the general check says what is missing
        if isinstance(self.files, list) and not self.files:
            raise ValueError("'files' is an empty list; list files, name a folder, or remove it")

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
    def max_turns(self) -> int | None:
        """``max_turns``, or None."""
        return self.limits.max_turns

    @property
    def max_tool_calls(self) -> int | None:
        """``max_tool_calls``, or None."""
        return self.limits.max_tool_calls

    @property
    def max_tool_calls_total(self) -> int | None:
        """``max_tool_calls_total``, or None."""
        return self.limits.max_tool_calls_total

    @property
    def time_limit_s(self) -> float | None:
        """``time_limit_s`` in seconds, or None."""
        t = self.limits.time_limit_s
        return float(t) if t is not None else None

    @property
    def token_limit(self) -> int | None:
        """``token_limit``, or None."""
        return self.limits.token_limit

    @property
    def submission_file(self) -> str | None:
        """The file in ``/home/agent`` that a ``submission`` scorer of the test judges, or
        None."""
        for spec in (self.model_extra or {}).get("scoring") or []:
            if isinstance(spec, dict) and spec.get("type") == "submission":
                name = spec.get("file", "submission.csv")
                return name if isinstance(name, str) else None
        return None

    @property
    def has_tools(self) -> bool:
        """True when the test gives its agent a tool."""
        return bool(self.tools)

    @property
    def file_paths(self) -> list[str]:
        """``files`` as a list (empty when none)."""
        if self.files is None:
            return []
        return [self.files] if isinstance(self.files, str) else list(self.files)

    @property
    def timeout_s(self) -> float | None:
        """``metadata.timeout_seconds`` as a float, or None."""
        t = self.metadata.timeout_seconds
        return float(t) if t is not None else None


class Category(SuiteModel):
    """One entry of ``categories.json``."""

    description: StrictStr = ""
    test_ids: list[StrictStr]


class Suite(SuiteModel):
    """A loaded suite: tests in file order, unique ids."""

    suite_info: dict[str, Any] = Field(default_factory=dict)
    tests: list[TestCase]

    def by_id(self) -> dict[str, TestCase]:
        """Tests keyed by id."""
        return {t.id: t for t in self.tests}
