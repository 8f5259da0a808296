"""Serving the viewer until told to stop: :func:`serve`."""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import socket
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from llmbench.errors import InputError, LlmbenchError
from llmbench.view.app import POLL_S, VIEWER, host_names, loopback, make_app

SHUTDOWN_S = 2.0
"""Seconds a request still running (an event stream) is given once the server stops."""


class ServeError(LlmbenchError):
    """The viewer cannot listen where it was asked to (the port is taken, say)."""


async def serve(
    root: Path,
    host: str,
    port: int,
    on_ready: Callable[[str], None],
    stop: asyncio.Event | None = None,
    *,
    poll_s: float = POLL_S,
) -> None:
    """Serve the viewer of ``root`` on ``host``:``port`` (0: a free port) until ``stop`` is
    set, SIGTERM arrives or the task is cancelled (Ctrl-C); ``on_ready(url)`` once listening;
    ``poll_s``: how often event streams look at a journal.

    Raises :class:`InputError` when ``root`` is not a directory and :class:`ServeError` when
    the address cannot be listened on."""
    if not root.is_dir():
        raise InputError(
            "no such directory; give the results directory of your runs "
            "(llmbench view RESULTS_DIR)",
            path=root,
        )
    stop = stop or asyncio.Event()
    local = loopback(host)
    app = make_app(root, poll_s=poll_s)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_S)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                why = "the port is in use; choose another --port, or leave it out for a free one"
            else:
                # asyncio's message repeats the address; the system's own is enough
                plain = exc.strerror if isinstance(exc, socket.gaierror) else None
                if plain is None:
                    plain = os.strerror(exc.errno) if exc.errno else str(exc)
                why = f"{plain}; give --host an address of this machine"
            raise ServeError(f"cannot listen on {host}:{port}: {why}") from None
        bound = runner.addresses[0][1]
        if local:  # answer only requests made for this address (no DNS rebinding)
            app[VIEWER].hosts = frozenset(h.lower() for h in host_names(host, bound))
        shown = f"[{host}]" if ":" in host else host
        on_ready(f"http://{shown}:{bound}/")
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGTERM, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
        await stop.wait()
    finally:
        await runner.cleanup()
