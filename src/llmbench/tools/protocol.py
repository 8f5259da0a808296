"""How an agent asks to run code and how the outputs go back to it: the two tool protocols.

``function`` (the OpenAI tools API): the request offers one function, ``python(code: string)``
(:data:`PYTHON_TOOL`); the model answers with ``tool_calls``; the loop runs each call in order
and sends its output back as a ``role: "tool"`` message with the call's ``tool_call_id``.

``text`` (any server, any model): the system message says to write code in a fenced block
tagged ``python``; every such block of a reply runs, in order, and the outputs go back in one
user message::

    Output of your code:
    ```output
    4
    ```

(with several blocks, one such section each, headed ``Output of block 1 of 2:``). A reply
without a block is the agent's answer. A block left open at the end of a reply (the model was
cut off) runs too: its error, if any, tells the model.

Everything here is pure: it builds messages and reads replies; running code is the agent loop's
(:mod:`llmbench.engine.agent_loop`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from llmbench.providers.openai_compatible import Completion

ToolProtocol = Literal["function", "text"]
TOOL_NAME = "python"
MAX_LISTED_FILES = 50
"""Files of ``/data`` the system message names; the rest are counted."""

PYTHON_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": TOOL_NAME,
        "description": (
            "Run Python code in a persistent session (variables, imports and files are kept "
            "between calls) and return what it printed, or its traceback."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "The Python code to run."},
            },
            "required": ["code"],
        },
    },
}
"""The OpenAI ``tools`` entry of the ``python`` tool."""

_FENCE = re.compile(
    r"^[ \t]*```[ \t]*(?:python3?|py)[ \t]*\n(.*?)(?:^[ \t]*```[ \t]*$|\Z)", re.M | re.S
)


@dataclass(frozen=True)
class CodeRequest:
    """One piece of code the agent asked to run."""

    code: str
    """The code ("" when the call could not be read)."""
    call_id: str | None = None
    """The function call's id (function protocol); None in the text protocol."""
    problem: str | None = None
    """Why the call cannot run (arguments that are not JSON, another tool's name): sent back
    to the model as the call's output instead of running anything."""
    arguments: str | None = None
    """The call's arguments as the server sent them (function protocol)."""

    @property
    def shown(self) -> str:
        """What a transcript shows of the request: its code, or the arguments that could not
        be read."""
        return self.code if self.problem is None else (self.arguments or "")


def system_message(
    protocol: ToolProtocol, *, home: str, data: str | None, files: Sequence[str] = ()
) -> str:
    """What the agent is told about its tool: how to run code, where it runs, what it can read."""
    if protocol == "function":
        how = (
            f"You have a tool, `{TOOL_NAME}`, that runs Python code. Call it as often as you "
            "need: each call runs in the same persistent Python session (variables, imports and "
            "files are kept from one call to the next) and returns what the code printed, or its "
            "traceback. Print what you want to see. When you have the answer, reply in text "
            "without calling the tool: that reply is your answer."
        )
    else:
        how = (
            "You can run Python code. To run code, put it in a fenced block tagged python:\n"
            "```python\nprint(6 * 7)\n```\n"
            "Every python block of your reply runs, in order, in the same persistent Python "
            "session (variables, imports and files are kept from one run to the next), and the "
            "next message gives you what the code printed, or its traceback. Print what you want "
            "to see. When you have the answer, reply without a python block: that reply is your "
            "answer."
        )
    where = [f"The code's working directory is {home} (writable, empty at first)."]
    if data is not None:
        listed = ", ".join(files[:MAX_LISTED_FILES])
        more = len(files) - MAX_LISTED_FILES
        if more > 0:
            listed += f" and {more} more"
        where.append(
            f"The task's files are under {data} (read-only)" + (f": {listed}." if listed else ".")
        )
    where.append("The code has no network access.")
    return how + "\n\n" + " ".join(where)


def with_system_message(messages: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """``messages`` with ``text`` first in the system message: before the one the messages open
    with (the agent's or the test's own, kept whole), or as a new one."""
    if messages and messages[0].get("role") in ("system", "developer"):
        first = messages[0]
        content = first.get("content")
        if isinstance(content, str):
            return [{**first, "content": f"{text}\n\n{content}"}, *messages[1:]]
    return [{"role": "system", "content": text}, *messages]


def code_requests(completion: Completion, protocol: ToolProtocol) -> list[CodeRequest]:
    """The code the reply asks to run, in order; empty when the reply is an answer."""
    if protocol == "text":
        return [CodeRequest(block) for block in fenced_code(completion.text)]
    out = []
    for call in completion.tool_calls:
        out.append(_function_request(call.id, call.name, call.arguments))
    return out


def fenced_code(text: str) -> list[str]:
    """The ``python`` fenced blocks of ``text`` (a last one left open included), in order;
    blocks with nothing but space are left out."""
    return [m.group(1) for m in _FENCE.finditer(text) if m.group(1).strip()]


def _function_request(call_id: str | None, name: str, arguments: str) -> CodeRequest:
    if name != TOOL_NAME:
        return CodeRequest(
            "",
            call_id,
            f"error: there is no tool named {name!r}; the only tool is {TOOL_NAME!r}",
            arguments,
        )
    try:
        parsed = json.loads(arguments) if arguments.strip() else {}
    except ValueError as exc:
        return CodeRequest(
            "",
            call_id,
            f'error: the arguments are not JSON ({exc}); send {{"code": "..."}}',
            arguments,
        )
    code = parsed.get("code") if isinstance(parsed, dict) else None
    if not isinstance(code, str):
        return CodeRequest(
            "", call_id, 'error: the arguments need "code", a string of Python code', arguments
        )
    return CodeRequest(code, call_id, None, arguments)


def assistant_message(
    completion: Completion, requests: Sequence[CodeRequest], protocol: ToolProtocol
) -> dict[str, Any]:
    """The reply as the next request sends it back (function calls included)."""
    if protocol == "text" or not requests:
        return {"role": "assistant", "content": completion.text}
    return {
        "role": "assistant",
        "content": completion.text or None,
        "tool_calls": [
            {
                "id": r.call_id or f"call_{i}",
                "type": "function",
                "function": {"name": TOOL_NAME, "arguments": r.arguments or "{}"},
            }
            for i, r in enumerate(requests)
        ],
    }


def output_messages(
    protocol: ToolProtocol, requests: Sequence[CodeRequest], outputs: Sequence[str]
) -> list[dict[str, Any]]:
    """The messages that give the agent the outputs of ``requests`` (one output each)."""
    if protocol == "function":
        return [
            {"role": "tool", "tool_call_id": r.call_id or f"call_{i}", "content": out}
            for i, (r, out) in enumerate(zip(requests, outputs, strict=True))
        ]
    return [{"role": "user", "content": output_text(outputs)}]


def output_text(outputs: Sequence[str]) -> str:
    """The text protocol's message with the outputs of a reply's blocks (module docstring)."""
    if len(outputs) == 1:
        return f"Output of your code:\n```output\n{_fenced(outputs[0])}\n```"
    return "\n\n".join(
        f"Output of block {i} of {len(outputs)}:\n```output\n{_fenced(out)}\n```"
        for i, out in enumerate(outputs, 1)
    )


def _fenced(output: str) -> str:
    """Output to put between fences: a line of three backticks in it would close them."""
    text = output.rstrip("\n") or "(no output)"
    return text.replace("```", "`\u200b``")
