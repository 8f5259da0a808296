"""The ``judge`` scorer: the supervisor LLM grades an answer against ``expected`` and a rubric.

The judge is asked at temperature 0 for structured output ``{"score": 0-10, "reason": str}``;
the value is ``score / 10`` and the answer passes at ``pass_score`` or more (default 7). For an
interactive test the judge reads the whole transcript, not only the last reply. A reply that
does not parse is asked for once more with the parse error; if that fails too, or the request
fails, the Score carries ``error`` (counted as an error, never as a zero).

Judgements are cached on disk (:mod:`llmbench.store.cache`) by endpoint, model and the exact
request, so re-scoring a run (``llmbench score``) costs nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llmbench.config.api import APIConfiguration
from llmbench.config.base_config import HelperSection, StructuredOutput
from llmbench.engine.calls import Caller, CallLog
from llmbench.errors import RequestFailure
from llmbench.interactive.conversation import describe, extract_json_object, response_format
from llmbench.providers.http1 import HttpClient
from llmbench.scoring.base import Score, ScoreInput
from llmbench.store.cache import ReplyCache, cache_key

NAME = "judge"
REPLY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "score": {"type": "integer", "minimum": 0, "maximum": 10},
        "reason": {"type": "string"},
    },
    "required": ["score", "reason"],
    "additionalProperties": False,
}
_SYSTEM = """\
You grade one answer of an AI assistant. Compare it with the reference answer and the rubric; \
judge correctness, not style or length. A short answer that is right deserves full marks; a \
long answer that is wrong deserves none.

Reply with only a JSON object, no other text: {"score": <integer 0-10>, "reason": "<one \
sentence>"} where 10 means fully correct and 0 means wrong or missing."""


class Judgement(BaseModel):
    """The judge's reply."""

    model_config = ConfigDict(extra="ignore")

    score: int = Field(ge=0, le=10)
    reason: str


@dataclass(frozen=True)
class JudgeSettings:
    """How to ask the judge (from ``[supervisor]``)."""

    max_tokens: int = 256
    structured_output: StructuredOutput = "json_object"
    pass_score: int = 7


def _parse(text: str) -> Judgement:
    try:
        return Judgement.model_validate(extract_json_object(text))
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"]) or "reply"
        raise ValueError(f"{where}: {err['msg']}") from None


def _question(item: ScoreInput) -> str:
    test = item.test
    if item.transcript:
        lines = [f"{t.get('role', '?')}: {t.get('content', '')}" for t in item.transcript]
        return "A conversation (the user's turns were written to a script):\n" + "\n".join(lines)
    if test.messages is not None:
        return "\n".join(f"{m.role}: {m.content}" for m in test.messages)
    return test.prompt or ""


def judge_messages(item: ScoreInput, rubric: str | None) -> list[dict[str, Any]]:
    """The judge's request for ``item``."""
    expected = item.test.expected
    reference = expected if isinstance(expected, str) else json.dumps(expected, ensure_ascii=False)
    parts = [
        f"Question:\n{_question(item)}",
        f"Reference answer:\n{reference if expected is not None else '(none given)'}",
        f"Rubric:\n{rubric or 'The answer must agree with the reference answer.'}",
        f"Answer to grade:\n{item.answer}",
        "Reply with the JSON object only.",
    ]
    if item.reasoning:
        parts.insert(
            3,
            "The assistant's thinking before its answer (for context only: grade the answer "
            f"below, not the thinking):\n{item.reasoning}",
        )
    return [
        {"role": "system", "content": _SYSTEM},
        {"role": "user", "content": "\n\n".join(parts)},
    ]


class Judge:
    """Grades answers with one judge endpoint; see the module docstring."""

    def __init__(
        self, caller: Caller, settings: JudgeSettings, cache: ReplyCache | None = None
    ) -> None:
        self.caller = caller
        self.settings = settings
        self.cache = cache
        self.calls = 0
        """Requests actually sent (cache hits excluded)."""

    @classmethod
    def for_supervisor(
        cls, api: APIConfiguration, supervisor: HelperSection, cache: ReplyCache | None = None
    ) -> Judge:
        """The judge a run scores with: ``api`` (the ``[supervisor]``'s endpoint, resolved),
        asked as ``supervisor`` says (its ``structured_output``, at most 512 tokens)."""
        settings = JudgeSettings(
            max_tokens=min(supervisor.max_tokens, 512),
            structured_output=supervisor.structured_output,
        )
        return cls(Caller(api), settings, cache)

    async def score(
        self,
        session: HttpClient,
        item: ScoreInput,
        rubric: str | None = None,
        pass_score: int | None = None,
    ) -> Score:
        """The judge's Score for ``item``."""
        threshold = self.settings.pass_score if pass_score is None else pass_score
        messages = judge_messages(item, rubric)
        params: dict[str, Any] = {
            "temperature": 0.0,
            "max_tokens": self.settings.max_tokens,
            **response_format(self.settings.structured_output, "judgement", REPLY_SCHEMA),
        }
        api = self.caller.api
        key = cache_key(NAME, api.base_and_type()[0], api.model, {"messages": messages, **params})
        cached = self.cache.get(key) if self.cache is not None else None
        if isinstance(cached, dict):
            try:
                return self._score(Judgement.model_validate(cached), threshold, cached=True)
            except ValidationError:
                pass  # an entry from an older format: ask again
        chat = self.caller.chat_fn(session, calls=CallLog(), label=f"judge for {item.test.id}")
        try:
            self.calls += 1
            first = await chat(messages, params)
            try:
                judgement = _parse(first.text)
            except ValueError as exc:
                problem = describe(exc)
                retry = [
                    *messages,
                    {"role": "assistant", "content": first.text},
                    {
                        "role": "user",
                        "content": f"Your reply could not be used: {problem}. Reply again with "
                        'only {"score": <integer 0-10>, "reason": "<one sentence>"}.',
                    },
                ]
                self.calls += 1
                second = await chat(retry, params)
                try:
                    judgement = _parse(second.text)
                except ValueError as exc2:
                    return _error(f"unparsable judgement twice ({describe(exc2)})")
        except RequestFailure as failure:
            return _error(f"judge request failed: {failure.message}")
        if self.cache is not None:
            self.cache.put(key, judgement.model_dump())
        return self._score(judgement, threshold, cached=False)

    @staticmethod
    def _score(j: Judgement, threshold: int, *, cached: bool) -> Score:
        note = " (cached)" if cached else ""
        return Score(
            scorer=NAME,
            value=j.score / 10,
            passed=j.score >= threshold,
            reason=f"judge {j.score}/10{note}: {j.reason.strip()}",
        )


def _error(message: str) -> Score:
    return Score(scorer=NAME, value=0.0, passed=False, reason=message, error=message)
