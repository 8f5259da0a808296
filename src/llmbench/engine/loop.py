"""The event loop a run's requests go through: uvloop where it is installed, else asyncio's own.

uvloop (a dependency on Linux) does the loop's work of reading sockets and waking tasks in C,
which leaves more of the client's CPU for the requests themselves: it shows when hundreds of
requests are in flight (benchmarks/README.md measures both loops side by side).
``LLMBENCH_LOOP=asyncio`` forces the standard loop, ``LLMBENCH_LOOP=uvloop`` requires uvloop.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from llmbench.errors import ConfigError

ENV = "LLMBENCH_LOOP"
LOOPS = ("uvloop", "asyncio")
T = TypeVar("T")


def loop_name() -> str:
    """The loop runs use: ``LLMBENCH_LOOP`` if set, else ``uvloop`` when it can be imported,
    else ``asyncio``. ConfigError for an unknown value, or ``uvloop`` asked for and missing."""
    asked = os.environ.get(ENV, "").strip().lower()
    if asked and asked not in LOOPS:
        raise ConfigError(f"{ENV}={asked!r}: expected one of {', '.join(LOOPS)}")
    if asked == "asyncio":
        return "asyncio"
    try:
        import uvloop  # noqa: F401
    except ImportError:
        if asked == "uvloop":
            raise ConfigError(
                f"{ENV}=uvloop: uvloop is not installed (pip install uvloop)"
            ) from None
        return "asyncio"
    return "uvloop"


def _factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return None


def run(coro: Coroutine[Any, Any, T], name: str | None = None) -> T:
    """``asyncio.run(coro)`` on the loop :func:`loop_name` chooses (or ``name``)."""
    try:
        factory = _factory(name or loop_name())
    except BaseException:
        coro.close()  # never started: no "never awaited" warning on top of the error
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coro)


def running_loop_name() -> str:
    """``uvloop`` or ``asyncio``: the loop this coroutine runs in (a caller's own loop, when
    llmbench runs inside it)."""
    module = type(asyncio.get_running_loop()).__module__
    return "uvloop" if module.startswith("uvloop") else "asyncio"
