"""``llmbench view [RESULTS_DIR] [--port N] [--host H] [--no-open]``: a local web page over every
run of a results directory (:mod:`llmbench.view`), live while a run goes.

Prints one line saying where it serves, opens the page in the browser unless ``--no-open``, and
serves until Ctrl-C (exit 0). A missing directory is one line and exit code 2; a port already in
use is one line and exit code 1. Served on another address than a loopback one (``--host
0.0.0.0``), it says that every result is then open to whoever can reach this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import webbrowser
from pathlib import Path

from llmbench.cli.exits import EXIT_ERRORS, EXIT_OK, run_reporting_errors
from llmbench.cli.run import whole_number

DEFAULT_HOST = "127.0.0.1"


def _port(value: str) -> int:
    port = whole_number(0)(value)
    if port > 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535, got {port}")
    return port


def add_view_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``view``."""
    parser.add_argument(
        "results_dir",
        nargs="?",
        default="results",
        metavar="RESULTS_DIR",
        help="the directory holding the run directories (default: %(default)s)",
    )
    parser.add_argument(
        "--port", type=_port, default=0, help="the port, 1 to 65535 (default: a free one)"
    )
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help="the address to listen on (default: %(default)s, this machine only); another "
        "address shows every result to whoever can reach it",
    )
    parser.add_argument("--no-open", action="store_true", help="do not open the page in a browser")


def _open(url: str) -> None:
    # in a thread: a browser that is slow to start must not hold up the server
    threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()


def view_command(args: argparse.Namespace) -> int:
    """``llmbench view``: serve until Ctrl-C; 0 then, 1 or 2 when it cannot serve at all."""
    try:
        from llmbench.view.app import loopback
        from llmbench.view.serve import ServeError, serve
    except ModuleNotFoundError as exc:
        if exc.name != "aiohttp":
            raise
        print(
            "error: llmbench view needs aiohttp, one of llmbench's dependencies: "
            "pip install aiohttp",
            file=sys.stderr,
        )
        return EXIT_ERRORS
    root = Path(args.results_dir)
    host: str = args.host
    local = loopback(host)

    def ready(url: str) -> None:
        where = "local only" if local else "OPEN TO THE NETWORK"
        print(f"llmbench view: serving {root.resolve()} on {url} ({where}; Ctrl-C to stop)")
        if not local:
            print(
                f"warning: --host {host} exposes every result in {root.resolve()} to anyone "
                "who can reach this machine; leave --host out to serve this machine only",
                file=sys.stderr,
            )
        sys.stdout.flush()
        if not args.no_open:
            _open(url)

    def go() -> int:
        try:
            asyncio.run(serve(root, host, args.port, ready))
        except ServeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_ERRORS
        except KeyboardInterrupt:
            print("llmbench view: stopped")
        return EXIT_OK

    return run_reporting_errors(go)
