"""Tool calls in OpenAI's chat format: the :class:`ToolCall` of a :class:`Completion`, read from
a whole message or put together from the pieces of a stream.

A streamed call arrives in pieces (``choices[0].delta.tool_calls``), each naming the call it
belongs to by ``index``: the first piece of a call usually has its ``id``, ``type`` and
``function.name``, the following ones pieces of ``function.arguments`` (vLLM, llama.cpp's
server, Ollama and OpenAI all send them so). Some servers send a whole call in one piece, some
leave out ``index``: a piece without one continues the last call, unless it brings an ``id``
or a name of a call already named, which starts the next one.

``arguments`` stays the string the server sent (JSON, if the model wrote it well): whoever runs
the call parses it and tells the model when it is not JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ToolCall:
    """One call of a tool (a function) the model asked for."""

    id: str | None
    """The server's id for the call (``call_...``), which the tool's result message names in
    ``tool_call_id``; None when the server sent none."""
    name: str
    """The function's name ("" when the server sent none)."""
    arguments: str
    """The arguments as the server sent them: a JSON object as text, or whatever the model
    wrote instead."""

    def to_openai(self) -> dict[str, Any]:
        """The call as an assistant message's ``tool_calls`` entry (to send it back)."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }

    @classmethod
    def from_openai(cls, entry: object) -> ToolCall | None:
        """A ``tool_calls`` entry of a whole message; None when it is not an object."""
        if not isinstance(entry, dict):
            return None
        function = entry.get("function")
        function = function if isinstance(function, dict) else {}
        ident = entry.get("id")
        return cls(
            id=ident if isinstance(ident, str) and ident else None,
            name=_text(function.get("name")),
            arguments=_arguments(function.get("arguments")),
        )


def message_tool_calls(message: dict[str, Any]) -> tuple[ToolCall, ...]:
    """The tool calls of a whole (non-streamed) assistant message, in order."""
    entries = message.get("tool_calls")
    if not isinstance(entries, list):
        return ()
    calls = (ToolCall.from_openai(entry) for entry in entries)
    return tuple(call for call in calls if call is not None)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _arguments(value: object) -> str:
    """Arguments as text: a few servers send an object rather than its JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False)


class _Pieces:
    """One call being put together."""

    __slots__ = ("arguments", "id", "name")

    def __init__(self) -> None:
        self.id: str | None = None
        self.name = ""
        self.arguments: list[str] = []


class StreamedToolCalls:
    """Puts the tool calls of a stream together from its deltas' ``tool_calls`` pieces."""

    def __init__(self) -> None:
        self._calls: dict[int, _Pieces] = {}
        self._last: int | None = None
        """The index of the call the last piece went to (for pieces without an index)."""

    def add(self, pieces: object) -> bool:
        """Take a delta's ``tool_calls``; True when it held at least one piece of a call."""
        if isinstance(pieces, dict):  # a server that sends one call rather than a list
            pieces = [pieces]
        if not isinstance(pieces, list):
            return False
        took = False
        for piece in pieces:
            if isinstance(piece, dict):
                self._add(piece)
                took = True
        return took

    def _add(self, piece: dict[str, Any]) -> None:
        function = piece.get("function")
        function = function if isinstance(function, dict) else {}
        ident = piece.get("id")
        ident = ident if isinstance(ident, str) and ident else None
        name = _text(function.get("name"))
        index = piece.get("index")
        if not isinstance(index, int) or isinstance(index, bool):
            index = self._unindexed(ident, name)
        call = self._calls.get(index)
        if call is None:
            call = self._calls[index] = _Pieces()
        self._last = index
        if ident is not None and call.id is None:
            call.id = ident
        if name and not call.name:  # some servers repeat the name in every piece
            call.name = name
        arguments = function.get("arguments")
        if arguments is not None:
            call.arguments.append(_arguments(arguments))

    def _unindexed(self, ident: str | None, name: str) -> int:
        """The index of a piece that has none: the last call's, or the next one when the
        piece starts a call of its own."""
        if self._last is None:
            return 0
        last = self._calls[self._last]
        if ident is not None:
            starts_another = last.id is not None and ident != last.id
        else:
            starts_another = bool(name and last.name)
        return max(self._calls) + 1 if starts_another else self._last

    def __bool__(self) -> bool:
        return bool(self._calls)

    def calls(self) -> tuple[ToolCall, ...]:
        """The calls so far, in the order of their indices."""
        return tuple(
            ToolCall(id=c.id, name=c.name, arguments="".join(c.arguments))
            for _, c in sorted(self._calls.items())
        )
