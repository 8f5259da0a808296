"""The outcome of one test (:class:`TestResult`) and the state of a run
(:class:`ExecutionProgress`).

These are the words the result files, the journal and the reports use; a field added here shows
up in every saved file under the same name.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["ok", "error", "cancelled"]
STATUSES: tuple[Status, ...] = ("ok", "error", "cancelled")
END_REASONS: tuple[str, ...] = (
    "answered",
    "instructor_done",
    "max_turns",
    "tool_limit",
    "time_limit",
    "token_limit",
    "agent_error",
    "sandbox_error",
    "helper_error",
    "cancelled",
    "internal",
    "worker_lost",
)
"""Every ``TestResult.end_reason``, in the order reports list them."""


@dataclass(frozen=True)
class TestResult:
    """What happened when one test was sent to one model.

    A test that was started always ends as a ``TestResult``: ``status="ok"`` when the server
    answered, ``"error"`` when it could not (``error_message`` says why and ``http_status`` holds
    the server's status, if any), ``"cancelled"`` when the run was cancelled while it was in flight.
    ``success`` means "the server produced an answer"; whether the answer is *right* is scoring's
    business, not this class's.
    """

    __test__ = False  # not a pytest test class

    test_id: str
    """The test's ``id`` in the suite."""
    test_name: str
    """The test's ``name`` in the suite."""
    success: bool
    """True when ``status == "ok"``."""
    response_text: str
    """The model's answer (message content or completion text) without its thinking; empty on
    error. This is what scorers see."""
    execution_time: float
    """End-to-end seconds from the first request sent to the last byte received, retries
    included."""
    prompt_tokens: int | None = None
    """Prompt tokens from the server's ``usage``, else an estimate (``tokens_estimated``)."""
    completion_tokens: int | None = None
    """Every generated token, thinking included: from the server's ``usage``, else an estimate
    (``tokens_estimated``)."""
    tokens_per_second: float | None = None
    """Generation speed over every generated token, thinking included: completion tokens after
    the first, over the seconds from the first token of any kind to the last (streaming);
    completion tokens over ``execution_time`` when not streaming."""
    error_message: str | None = None
    """Why the test failed; quotes the server's own message or the first bytes it sent."""
    timestamp: str = ""
    """When the test started, ISO 8601 in UTC."""
    api_response: dict[str, Any] | None = None
    """The server's response in non-streaming shape (streams are reassembled); None when
    ``execution_defaults.save_raw_responses`` is off or nothing parsable came back."""
    category: str = ""
    """The test's ``category``."""
    status: Status = "ok"
    """``ok``, ``error`` or ``cancelled``."""
    time_to_first_token: float | None = None
    """Seconds from sending the successful attempt's request to the first token of any kind,
    thinking or answer (streaming only)."""
    attempts: int = 0
    """HTTP requests made for this test (1 + retries)."""
    http_status: int | None = None
    """Status code of the last HTTP response, None when none arrived."""
    model: str = ""
    """Model name sent to the server."""
    endpoint: str = ""
    """URL the request went to (query string removed)."""
    error_kind: str | None = None
    """``connection``, ``timeout``, ``http``, ``protocol`` or ``cancelled``; None when ok."""
    finish_reason: str | None = None
    """The server's ``finish_reason`` (``stop``, ``length``, ...)."""
    tokens_estimated: bool = False
    """True when the server's ``usage`` lacked a count and it was estimated: prompt or
    completion tokens, or the reasoning tokens of an answer with thinking."""
    cached: bool = False
    """True when the answer came from the response cache (``[benchmark] cache``): nothing was
    sent, so it has no timings and never counts in speed figures."""
    reasoning_text: str = ""
    """The model's thinking before its answer (a ``reasoning_content`` or ``reasoning`` field,
    or inline between ``reasoning_tags``); "" for none. Of an interactive test: its last
    turn's (every turn's is in the transcript). Scorers never see it (a judge may)."""
    reasoning_tokens: int | None = None
    """Thinking tokens (part of ``completion_tokens``): the server's
    ``usage.completion_tokens_details.reasoning_tokens``, else counted (``tokens_estimated``);
    None when neither thinking nor a count came back."""
    time_to_first_answer_token: float | None = None
    """Seconds from sending the request to the first token of the answer, after the thinking
    (streaming only)."""
    reasoning_truncated: bool = False
    """Generation stopped (``max_tokens``) while the model was still thinking: the answer is
    empty because the model ran out of tokens, not because it answered wrong."""
    end_reason: str | None = None
    """How the test ended (:data:`END_REASONS`): ``answered``, ``instructor_done``,
    ``max_turns``, ``tool_limit``, ``time_limit``, ``token_limit``, ``agent_error`` (a model
    call failed after its retries), ``sandbox_error`` (the code sandbox could not start or died
    repeatedly), ``helper_error`` (the instructor's or the supervisor's call failed),
    ``cancelled``, ``internal`` or ``worker_lost`` (under the Ray executor, every worker that
    ran it died). A test that hit a limit is still scored; an
    ``agent_error`` or ``sandbox_error`` is an error result. None in results saved before this
    field existed."""
    turns: int | None = None
    """User turns the agent answered (1 for a single test); None in older results."""
    tool_protocol: str | None = None
    """How the agent ran code in a test with tools: ``function`` (the OpenAI tools API) or
    ``text`` (fenced ``python`` blocks); None for a test without tools."""
    tool_calls: int = 0
    """Code calls the agent made (each fenced block or function call run in the sandbox)."""
    code_errors: int = 0
    """Code calls that raised (a timeout counts in ``code_timeouts`` instead)."""
    code_timeouts: int = 0
    """Code calls stopped at ``[sandbox] call_timeout_s`` or at the test's time limit."""
    session_restarts: int = 0
    """Times the agent's Python session was killed and started again (state lost)."""
    files_saved: list[str] | None = None
    """Tests with tools, in a run directory: the files the agent left in ``/home/agent``,
    saved under ``<agent_id>/<test_id>-r<N>/files/`` (relative names); None when none were
    saved."""
    files_left_out: int = 0
    """Files not saved because the total passed ``[sandbox] save_files_mb`` (listed with their
    sizes in that folder's ``.llmbench-cut.json``)."""
    instructor_tokens: int | None = None
    """Prompt plus completion tokens of the instructor's requests for this test (never counted
    in the agent's tokens); None when it had none."""
    supervisor_tokens: int | None = None
    """Prompt plus completion tokens of the supervisor's reviews for this test; None when it
    had none."""

    def to_dict(self) -> dict[str, Any]:
        """All fields as a JSON-ready dict, in declaration order (``api_response`` is shared,
        not copied)."""
        return {name: getattr(self, name) for name in _FIELD_NAMES}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TestResult:
        """Rebuild a result from :meth:`to_dict` output; unknown keys are ignored.

        TypeError naming the fields when a required one is missing, as the constructor's."""
        values = dict(_DEFAULTS)
        values.update({k: v for k, v in data.items() if k in _FIELD_SET})
        if len(values) < len(_FIELD_NAMES):
            missing = [name for name in _FIELD_NAMES if name not in values]
            raise TypeError(f"missing required fields: {', '.join(missing)}")
        # what the generated __init__ does (it has no __post_init__), in one dict update
        # instead of a frozen setattr per field: 3 us a result read back instead of 7
        result = object.__new__(cls)
        result.__dict__.update(values)
        return result


_FIELD_NAMES = tuple(f.name for f in dataclasses.fields(TestResult))
_DEFAULTS = {
    f.name: f.default
    for f in dataclasses.fields(TestResult)
    if f.default is not dataclasses.MISSING
}
_FIELD_SET = frozenset(_FIELD_NAMES)


@dataclass(frozen=True)
class ExecutionProgress:
    """A snapshot of a run, safe to read from any thread (see ``TestRunner.get_progress``)."""

    __test__ = False

    total_tests: int = 0
    """Tests this run will start unless cancelled."""
    completed_tests: int = 0
    """Tests that ended, whatever their status."""
    successful_tests: int = 0
    """Tests that ended with ``status="ok"``."""
    failed_tests: int = 0
    """Tests that ended with ``status="error"``."""
    current_test: str | None = None
    """The most recently started test still in flight, None when none is."""
    estimated_remaining_time: float | None = None
    """Seconds until the run ends at the pace so far; None before the first test ends."""
    average_execution_time: float = 0.0
    """Mean ``execution_time`` of the tests that ended."""
    cancelled_tests: int = 0
    """Tests that ended with ``status="cancelled"``."""
    in_flight: tuple[str, ...] = field(default_factory=tuple)
    """Ids of the tests in flight now."""
    elapsed_time: float = 0.0
    """Seconds since the run started."""
    is_running: bool = False
    """True between the start and the end of an ``execute_*`` call."""
