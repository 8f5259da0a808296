"""Helpers of the sandbox tests: start sessions, run cells, and find what a sandbox left behind.

Leftovers are looked for in /proc (psutil is not a dependency): children of the test process,
and processes whose command line names this worktree's REPL script (the bwrap processes bind it,
a ``process`` session runs it) or a marker a test put in a command line.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from llmbench.sandbox import CellResult, PythonSession, SandboxSettings
from llmbench.sandbox.session import REPL

T = TypeVar("T")
ISOLATIONS = ["bwrap", "process"]


def settings(isolation: str, **fields: object) -> SandboxSettings:
    """Short limits, so a test that times out does so in a second or two."""
    base: dict[str, object] = {"call_timeout_s": 5.0, "interrupt_grace_s": 1.0}
    base.update(fields)
    return SandboxSettings(isolation=isolation, **base)  # type: ignore[arg-type]


def with_session(
    isolation: str,
    body: Callable[[PythonSession], Awaitable[T]],
    files: tuple[Path, ...] = (),
    **fields: object,
) -> T:
    """Run ``body`` on a started session (closed afterwards) in a fresh event loop."""

    async def go() -> T:
        async with await PythonSession.start(settings(isolation, **fields), files=files) as s:
            return await body(s)

    return asyncio.run(go())


def run_cells(isolation: str, *cells: str, **fields: object) -> list[CellResult]:
    """Run ``cells`` in order in one session; their results."""

    async def body(session: PythonSession) -> list[CellResult]:
        return [await session.run(cell) for cell in cells]

    return with_session(isolation, body, **fields)


def cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline")
            .read_bytes()
            .replace(b"\0", b" ")
            .decode("utf-8", "replace")
        )
    except OSError:
        return ""


def live(pid: int) -> bool:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return text[text.rindex(")") + 2] != "Z"


def processes_with(marker: str) -> list[int]:
    """Live processes whose command line contains ``marker``."""
    me = os.getpid()
    return [
        int(p)
        for p in os.listdir("/proc")
        if p.isdigit() and int(p) != me and marker in cmdline(int(p)) and live(int(p))
    ]


def own_children() -> list[int]:
    out: list[int] = []
    for tid in os.listdir(f"/proc/{os.getpid()}/task"):
        try:
            text = Path(f"/proc/{os.getpid()}/task/{tid}/children").read_text()
        except OSError:
            continue
        out += [int(p) for p in text.split() if live(int(p))]
    return out


def leftovers(*markers: str, wait_s: float = 2.0) -> list[str]:
    """What of a sandbox is still running (after waiting up to ``wait_s`` for it to exit)."""
    deadline = time.monotonic() + wait_s
    while True:
        found = [p for m in (str(REPL), *markers) for p in processes_with(m)]
        found += [p for p in own_children() if p not in found]
        if not found or time.monotonic() > deadline:
            return [f"{p}: {cmdline(p)[:200]}" for p in sorted(set(found))]
        time.sleep(0.02)
