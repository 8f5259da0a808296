"""What a code call printed, read from the session's pipe with a bounded memory, and the text
the model is shown.

:class:`Capture` keeps the first bytes of a call's output (enough for ``max_output_chars``) and
only counts the rest, so a call printing a gigabyte costs the parent the time to read it, never
the memory; it ends at the session's end-of-cell token, which may straddle two reads.
"""

from __future__ import annotations

import asyncio

_CONTINUATION = bytes(range(0x80, 0xC0))
"""UTF-8 continuation bytes: a character is one byte that is not one of these."""


class Capture:
    """One call's output, until ``token``."""

    def __init__(self, token: bytes, max_chars: int, loop: asyncio.AbstractEventLoop) -> None:
        self.token = token
        self.limit = max_chars * 4 + 4  # a character is at most 4 bytes of UTF-8
        self.head = bytearray()
        self.dropped_chars = 0
        """Characters read past :attr:`limit` and dropped."""
        self.pending = b""
        """The last bytes read, held back: they may be the start of the token."""
        self.ended: asyncio.Future[None] = loop.create_future()

    def feed(self, data: bytes) -> None:
        """Take one read of the pipe."""
        if self.ended.done():
            return
        keep = len(self.token) - 1
        if len(data) <= keep:
            window = self.pending + data
            at = window.find(self.token)
            if at >= 0:
                self._end(window[:at])
            else:
                self._take(window[:-keep] if len(window) > keep else b"")
                self.pending = window[-keep:]
            return
        joint = self.pending + data[:keep]
        at = joint.find(self.token)
        if at >= 0:
            self._end(joint[:at])
            return
        at = data.find(self.token)
        if at >= 0:
            self._take(self.pending)
            self._end(memoryview(data)[:at])
            return
        self._take(self.pending)
        self._take(memoryview(data)[:-keep])
        self.pending = data[-keep:]

    def _end(self, last: bytes | memoryview) -> None:
        self._take(last)
        self.pending = b""
        self.ended.set_result(None)

    def finish(self) -> None:
        """No token is coming (the session died or was killed): keep what was held back."""
        if not self.ended.done():
            self._take(self.pending)
            self.pending = b""

    def _take(self, data: bytes | memoryview) -> None:
        room = self.limit - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if len(data):
            self.dropped_chars += len(bytes(data).translate(None, _CONTINUATION))

    def text(self) -> tuple[str, int]:
        """(what was kept, decoded; characters dropped)."""
        return self.head.decode("utf-8", "replace"), self.dropped_chars


def compose(
    printed: str, dropped: int, traceback: str, notes: list[str], max_chars: int
) -> tuple[str, int]:
    """The output shown to the model and how many characters were cut from it.

    The traceback (its end, at most half of ``max_chars``) comes after what was printed, which
    gets the rest of ``max_chars``; a marker says how much was cut; ``notes`` (interrupted,
    restarted) end it.
    """
    cut = dropped
    if len(traceback) > max_chars // 2:
        cut += len(traceback) - max_chars // 2
        traceback = traceback[len(traceback) - max_chars // 2 :]
    budget = max(0, max_chars - len(traceback))
    if len(printed) > budget:
        cut += len(printed) - budget
        printed = printed[:budget]
    parts = [printed]
    if cut:
        parts.append(f"... [{cut} characters cut]\n")
    parts.append(traceback)
    parts += [note + "\n" for note in notes]
    out = ""
    for part in parts:
        if part:
            out += part if not out or out.endswith("\n") else "\n" + part
    return out, cut
