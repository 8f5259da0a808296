"""A reasoning model's thinking, kept apart from its answer.

Servers send the thinking in one of three ways: in a ``reasoning_content`` field (vLLM with a
reasoning parser, llama.cpp's ``--reasoning-format``, DeepSeek's API), in a ``reasoning`` field
(newer vLLM, OpenRouter, Ollama), both on stream deltas and on a non-streamed ``message``; or
inline at the start of ``content`` between two tags (``<think>`` and ``</think>`` unless an
agent's ``reasoning_tags`` says otherwise) when the server does not split it. The fields are read
by :mod:`llmbench.providers.openai_compatible`; this module splits the inline form.

Only *leading* thinking is split: content that does not begin (after white space) with the
opening tag is answer, and is looked at no further while it streams, so a stream without
thinking costs one check of its first content. Once, at the end, the whole content of an answer
that had no thinking is searched for the closing tag alone (:func:`split_unopened`): DeepSeek-R1
and its distills have the opening tag written by their chat template, into the prompt, so their
content is thinking, ``</think>``, then the answer.
"""

from __future__ import annotations

from typing import Any

ReasoningTags = tuple[str, str]
"""The opening and closing tag of inline thinking."""
DEFAULT_REASONING_TAGS: ReasoningTags = ("<think>", "</think>")
REASONING_FIELDS = ("reasoning_content", "reasoning")
"""Where servers put the thinking on a delta or a message, in the order they are read."""


def reasoning_field(holder: dict[str, Any]) -> str | None:
    """The thinking on a stream delta or a message, or None (the first non-empty field)."""
    for name in REASONING_FIELDS:
        value = holder.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def usage_reasoning_tokens(usage: dict[str, Any] | None) -> int | None:
    """``usage.completion_tokens_details.reasoning_tokens``, when the server gives it."""
    details = usage.get("completion_tokens_details") if usage else None
    n = details.get("reasoning_tokens") if isinstance(details, dict) else None
    return n if isinstance(n, int) and not isinstance(n, bool) and n >= 0 else None


def split_leading(text: str, tags: ReasoningTags | None) -> tuple[str, str, bool]:
    """``(thinking, answer, truncated)`` of a whole content: thinking that opens ``text`` is
    split off; thinking that never closed leaves an empty answer and ``truncated`` True."""
    if tags is None:
        return "", text, False
    opening, closing = tags
    lead = text.lstrip()
    if not lead.startswith(opening):
        thinking, answer = split_unopened(text, tags)
        return thinking, answer, False
    rest = lead[len(opening) :]
    at = rest.find(closing)
    if at < 0:
        return rest.strip(), "", True
    return rest[:at].strip(), rest[at + len(closing) :].lstrip(), False


def split_unopened(text: str, tags: ReasoningTags | None) -> tuple[str, str]:
    """``(thinking, answer)`` of content whose thinking was opened by the chat template: the
    closing tag with no opening tag before it splits the two; ``("", text)`` otherwise."""
    if tags is None:
        return "", text
    opening, closing = tags
    at = text.find(closing)
    if at < 0 or opening in text[:at]:
        return "", text
    return text[:at].strip(), text[at + len(closing) :].lstrip()


class InlineThinking:
    """Splits streamed content into leading thinking and the answer, piece by piece.

    :meth:`feed` takes each content piece until :attr:`answering` is True; after that the
    caller keeps the pieces itself (the answer needs no more looking at).
    """

    __slots__ = ("_closing", "_opening", "_pieces", "_tail", "_undecided", "answering", "events")

    def __init__(self, tags: ReasoningTags) -> None:
        self._opening, self._closing = tags
        self._undecided = ""
        """Content so far while it could still be the opening tag (white space, ``<thi``)."""
        self._pieces: list[str] | None = None
        """The thinking so far, once the opening tag was seen."""
        self._tail = ""
        """The end of the thinking so far that could be the start of the closing tag."""
        self.answering = False
        """True once the answer began (or the content turned out to have no thinking)."""
        self.events = 0
        """Content pieces taken while thinking (an estimate of the thinking tokens)."""

    @property
    def thinking(self) -> bool:
        """True while inside the tags: the opening tag came and the closing one has not."""
        return self._pieces is not None and not self.answering

    def text(self) -> str:
        """The thinking so far, without the tags."""
        return "".join(self._pieces or ()).strip()

    def feed(self, piece: str) -> str:
        """Take the next content piece; return the part of it that is answer ("" for none)."""
        if self._pieces is None:
            self._undecided += piece
            lead = self._undecided.lstrip()
            if lead.startswith(self._opening):
                self._pieces = []
                self._undecided = ""
                return self._think(lead[len(self._opening) :])
            if self._opening.startswith(lead):
                return ""  # still could be the opening tag
            self.answering = True
            answer, self._undecided = self._undecided, ""
            return answer
        return self._think(piece)

    def _think(self, piece: str) -> str:
        self.events += 1
        assert self._pieces is not None
        window = self._tail + piece
        at = window.find(self._closing)
        if at < 0:
            self._pieces.append(piece)
            keep = len(self._closing) - 1
            self._tail = window[-keep:] if keep else ""
            return ""
        cut = at - len(self._tail)  # where the tag starts in ``piece``; < 0: in earlier pieces
        if cut >= 0:
            self._pieces.append(piece[:cut])
        else:
            joined = "".join(self._pieces)
            self._pieces = [joined[: len(joined) + cut]]
        self.answering = True
        return window[at + len(self._closing) :]

    def leftover(self) -> str:
        """Content held back at the end of the stream: it never became the opening tag, so it
        is answer."""
        return self._undecided if self._pieces is None else ""
