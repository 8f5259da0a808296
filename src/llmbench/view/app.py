"""The viewer's web application: :func:`make_app` builds the aiohttp ``Application``.

Pages (static HTML; their scripts fetch the API and set every text with ``textContent``)::

    GET /                                   every run, newest first
    GET /runs/{run}                         one run: leaderboard, charts, records, live progress
    GET /compare?c=RUN/AGENT&c=...          the same tests side by side
    GET /assets/{name}                      the pages' scripts and styles (a fixed list)

The JSON API::

    GET /api/runs                           the runs list (RunInfo each)
    GET /api/runs/{run}                     its info, the summary's sections, progress, agents
    GET /api/runs/{run}/records             a page: offset, limit, agent (repeatable),
                                            category, status, text, test, sort, desc
    GET /api/runs/{run}/records/{n}         record n in full (prompt, scoring, transcript, files)
    GET /api/runs/{run}/files/{n}/{name}    a file the agent of record n wrote: text/plain, or
                                            an attachment (?download=1, or not text)
    GET /api/runs/{run}/charts              report.html's charts: [{"id", "title", "caption",
                                            "spec"}] (llmbench.report.charts), [] unscored
    GET /api/runs/{run}/events?offset=N     server-sent events from byte N of the journal:
                                            "records" (new rows, journal_end), "progress",
                                            "status" (the run's status or summary changed)
    GET /api/compare?c=RUN/AGENT&c=...      rows of cells and the paired differences

It only reads: nothing under the results directory is created, changed or removed. A run id is
a name the results directory lists (:meth:`llmbench.view.runs.Runs.path`); a file is reached as
:mod:`llmbench.view.files` says. Every response carries a strict Content-Security-Policy (scripts
and connections to this origin only, no inline script, no eval) and ``nosniff``; served on a
loopback address, a request naming another host (DNS rebinding) is refused.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from datetime import datetime
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from aiohttp import web

from llmbench import jsonio
from llmbench.report import charts
from llmbench.scoring.scored import ScoredResult
from llmbench.view.compare import Column, compare
from llmbench.view.files import folder_of, looks_like_text, open_saved
from llmbench.view.index import SORT_KEYS, STATUS_FILTERS, RecordFilter, RunIndex
from llmbench.view.live import progress
from llmbench.view.records import SuiteLookup, full_record
from llmbench.view.runs import Manifest, Runs
from llmbench.view.summary import sections

log = logging.getLogger(__name__)

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
FILE_CSP = "default-src 'none'; sandbox"
"""A file an agent wrote: nothing in it may run, even if a browser took it for a page."""
MAX_LIMIT = 500
"""Records per page at most."""
MAX_COLUMNS = 12
POLL_S = 0.5
"""How often an event stream looks at the journal."""
HEARTBEAT_S = 15.0
MAX_EVENT_ROWS = 200
"""Rows sent in one "records" event at most (the rest are counted)."""
FILE_CHUNK = 256 * 1024

PAGES = {"index": "index.html", "run": "run.html", "compare": "compare.html"}
ASSETS: dict[str, tuple[str, str]] = {
    "view.css": ("llmbench.view", "text/css"),
    "view.js": ("llmbench.view", "text/javascript"),
    "runs.js": ("llmbench.view", "text/javascript"),
    "run.js": ("llmbench.view", "text/javascript"),
    "compare.js": ("llmbench.view", "text/javascript"),
    "report.css": ("llmbench.report", "text/css"),
    "records.js": ("llmbench.report", "text/javascript"),
}
"""The files under ``/assets/``: name -> (package whose ``assets/`` holds it, content type)."""

T = TypeVar("T")


def _asset(package: str, name: str) -> bytes | None:
    try:
        return resources.files(package).joinpath("assets", name).read_bytes()
    except (FileNotFoundError, ModuleNotFoundError, OSError):
        return None


class _Run:
    """What the viewer keeps of one run it has opened: its index and its suite."""

    def __init__(self, path: Path, manifest: Manifest | str) -> None:
        self.path = path
        self.index = RunIndex(path)
        self.suite = SuiteLookup(manifest)
        self.charts: tuple[int, list[Any]] | None = None


class Viewer:
    """The state behind the routes: the results directory and the runs opened so far."""

    def __init__(self, root: Path, *, poll_s: float = POLL_S) -> None:
        self.root = root.resolve()
        self.runs = Runs(self.root)
        self.poll_s = poll_s
        self._opened: dict[str, _Run] = {}
        self._lock = threading.Lock()
        self.stopping = asyncio.Event()
        self.hosts: frozenset[str] = frozenset()
        """The ``Host`` values answered (lower case); empty: any. Set once the port is
        known (:func:`llmbench.view.serve.serve`)."""

    def run_path(self, run_id: str) -> Path:
        path = self.runs.path(run_id)
        if path is None:
            raise web.HTTPNotFound(
                text=jsonio.dumps({"error": f"no run {run_id!r} in {self.root}"}),
                content_type="application/json",
            )
        return path

    def opened(self, run_id: str) -> _Run:
        """Run ``run_id``'s index (built on first use, refreshed by the caller)."""
        path = self.run_path(run_id)
        with self._lock:
            run = self._opened.get(run_id)
            if run is None or run.path != path:
                run = self._opened[run_id] = _Run(path, self.runs.manifest(path))
            return run

    def refreshed(self, run_id: str) -> _Run:
        run = self.opened(run_id)
        run.index.refresh()
        return run


async def _thread(call: Callable[[], T]) -> T:
    """``call()`` in a worker thread: reading a journal must not stall the other requests."""
    return await asyncio.get_running_loop().run_in_executor(None, call)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        text=jsonio.dumps(data), status=status, content_type="application/json", charset="utf-8"
    )


def _bad(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(
        text=jsonio.dumps({"error": message}), content_type="application/json"
    )


def _int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _bad(f"{name}: expected a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise _bad(f"{name}: expected a number from {low} to {high}, got {value}")
    return value


def _filter(request: web.Request) -> RecordFilter:
    q = request.query
    agents = [a for a in q.getall("agent", []) if a]
    status = q.get("status") or None
    if status is not None and status not in STATUS_FILTERS:
        raise _bad(f"status: expected one of {', '.join(STATUS_FILTERS)}, got {status!r}")
    sort = q.get("sort") or None
    if sort is not None and sort not in SORT_KEYS:
        raise _bad(f"sort: expected one of {', '.join(SORT_KEYS)}, got {sort!r}")
    return RecordFilter(
        agents=frozenset(agents) if agents else None,
        category=q.get("category") if "category" in q else None,
        status=status,
        text=q.get("text", ""),
        test=q.get("test") or None,
        sort=sort,
        descending=q.get("desc", "") in ("1", "true"),
    )


@web.middleware
async def _headers(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    hosts = request.app[VIEWER].hosts
    if hosts and request.host.lower() not in hosts:
        return web.Response(status=421, text="this viewer answers requests for its own address")
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _secure(exc.headers)
        raise
    _secure(response.headers)
    return response


def _secure(headers: MutableMapping[str, str]) -> None:
    headers.setdefault("Content-Security-Policy", CSP)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    headers["X-Frame-Options"] = "DENY"
    headers.setdefault("Cache-Control", "no-store")


VIEWER: web.AppKey[Viewer] = web.AppKey("viewer", Viewer)


def _viewer(request: web.Request) -> Viewer:
    return request.app[VIEWER]


# pages and assets


def _page(name: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def page(request: web.Request) -> web.Response:
        if name == "run" and _viewer(request).runs.path(request.match_info["run_id"]) is None:
            raise web.HTTPNotFound(text="no such run in this results directory")
        body = _asset("llmbench.view", PAGES[name])
        assert body is not None, f"the viewer's {PAGES[name]} is missing from the package"
        return web.Response(body=body, content_type="text/html", charset="utf-8")

    return page


async def _assets(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name == "charts.js":  # the chart libraries and charts.js, as report.html inlines them
        body = "\n;\n".join(charts.vendor_scripts()).encode("utf-8")
        kind = "text/javascript"
    elif name == "charts.css":
        body, kind = charts.chart_css().encode("utf-8"), "text/css"
    elif name in ASSETS:
        package, kind = ASSETS[name]
        found = _asset(package, name)
        if found is None:
            raise web.HTTPNotFound()
        body = found
    else:
        raise web.HTTPNotFound()
    response = web.Response(body=body, content_type=kind, charset="utf-8")
    response.headers["Cache-Control"] = "no-cache"
    return response


# the API


async def _runs(request: web.Request) -> web.Response:
    viewer = _viewer(request)

    def listing() -> list[dict[str, Any]]:
        found = []
        for run_id in viewer.runs.ids():
            path = viewer.runs.path(run_id)
            if path is not None:
                found.append(viewer.runs.info(run_id, path))
        # newest first: by start time, for ids that do not start with it (a run named by hand)
        found.sort(key=lambda r: (_epoch(r.started_at), r.id), reverse=True)
        return [r.model_dump(mode="json") for r in found]

    return _json({"root": str(viewer.root), "runs": await _thread(listing)})


def _epoch(stamp: str | None) -> float:
    try:
        return datetime.fromisoformat(stamp).timestamp() if stamp else 0.0
    except ValueError:
        return 0.0


def _run_data(viewer: Viewer, run_id: str) -> dict[str, Any]:
    run = viewer.refreshed(run_id)
    index = run.index
    manifest = viewer.runs.manifest(run.path)
    summary = viewer.runs.summary(run.path)
    info = viewer.runs.info(run_id, run.path, done=len(index))
    return {
        "run": info.model_dump(mode="json"),
        "summary": summary is not None,
        "generated_at": summary.get("generated_at") if summary else None,
        "sections": sections(summary) if summary is not None else [],
        "agents": list(dict.fromkeys([*info.agents, *index.agents])),
        "categories": sorted(index.categories),
        "progress": progress(index, manifest) if isinstance(manifest, Manifest) else None,
        "records_total": len(index),
        "journal_end": index.journal_end,
        "bad_lines": index.bad_lines,
    }


async def _run(request: web.Request) -> web.Response:
    viewer = _viewer(request)
    run_id = request.match_info["run_id"]
    viewer.run_path(run_id)
    return _json(await _thread(partial(_run_data, viewer, run_id)))


async def _records(request: web.Request) -> web.Response:
    viewer = _viewer(request)
    run_id = request.match_info["run_id"]
    chosen = _filter(request)
    offset = _int(request, "offset", 0, 0, 1 << 40)
    limit = _int(request, "limit", 50, 1, MAX_LIMIT)

    def page() -> dict[str, Any]:
        run = viewer.refreshed(run_id)
        with run.index.lock:
            positions = run.index.select(chosen)
            return {
                "total": len(positions),
                "all": len(run.index),
                "offset": offset,
                "records": [run.index.row(i) for i in positions[offset : offset + limit]],
                "journal_end": run.index.journal_end,
            }

    viewer.run_path(run_id)
    return _json(await _thread(page))


def _position(request: web.Request, run: _Run) -> int:
    raw = request.match_info["n"]
    if not raw.isdigit() or int(raw) >= len(run.index):
        raise web.HTTPNotFound(
            text=jsonio.dumps({"error": f"no record {raw!r} in this run"}),
            content_type="application/json",
        )
    return int(raw)


async def _record(request: web.Request) -> web.Response:
    viewer = _viewer(request)
    run_id = request.match_info["run_id"]

    def read() -> dict[str, Any] | None:
        run = viewer.refreshed(run_id)
        with run.index.lock:
            return full_record(run.index, _position(request, run), run.path, run.suite)

    viewer.run_path(run_id)
    found = await _thread(read)
    if found is None:
        return _json({"error": "the record's journal line cannot be read back"}, status=500)
    return _json(found)


async def _file(request: web.Request) -> web.StreamResponse:
    viewer = _viewer(request)
    run_id = request.match_info["run_id"]
    name = request.match_info["name"]

    def opened() -> int | None:
        run = viewer.refreshed(run_id)
        with run.index.lock:
            entry = run.index.entry(_position(request, run))
        folder = None if entry is None else folder_of(run.path, entry)
        return None if folder is None else open_saved(folder, name)

    viewer.run_path(run_id)
    fd = await _thread(opened)
    if fd is None:
        raise web.HTTPNotFound(text="no such file saved for this record")
    try:
        size = os.fstat(fd).st_size
        head = os.pread(fd, 8192, 0)
        text = looks_like_text(head)
        response = web.StreamResponse()
        response.content_type = "text/plain" if text else "application/octet-stream"
        if text:
            response.charset = "utf-8"
        response.content_length = size
        base = name.rsplit("/", 1)[-1]
        mode = "attachment" if request.query.get("download") or not text else "inline"
        response.headers["Content-Disposition"] = f"{mode}; filename*=UTF-8''{quote(base)}"
        response.headers["Content-Security-Policy"] = FILE_CSP
        _secure(response.headers)  # before prepare(): the middleware comes too late for it
        await response.prepare(request)
        offset = 0
        while offset < size:
            chunk = await _thread(partial(os.pread, fd, min(FILE_CHUNK, size - offset), offset))
            if not chunk:
                break
            await response.write(chunk)
            offset += len(chunk)
        await response.write_eof()
        return response
    finally:
        os.close(fd)


def _scored_results(run: _Run) -> list[ScoredResult]:
    index = run.index
    found = []
    for i in range(len(index)):
        entry = index.entry(i)
        if entry is not None:
            entry["scoring"] = index.scoring(i)
            found.append(ScoredResult.from_record(entry))
    return found


async def _charts(request: web.Request) -> web.Response:
    viewer = _viewer(request)
    run_id = request.match_info["run_id"]

    def specs() -> list[Any]:
        run = viewer.refreshed(run_id)
        summary = viewer.runs.summary(run.path)
        if summary is None:
            return []  # not scored yet
        if run.charts is not None and run.charts[0] == run.index.version:
            return run.charts[1]
        try:
            made = list(charts.chart_specs(summary, _scored_results(run)))
        except Exception:  # a chart's bug must not break the rest of the page
            log.exception("%s: cannot make the charts", run.path)
            made = []
        run.charts = (run.index.version, made)
        return made

    viewer.run_path(run_id)
    return _json(await _thread(specs))


def _columns(request: web.Request) -> list[Column]:
    columns = []
    for value in request.query.getall("c", []):
        run_id, slash, agent_id = value.partition("/")
        if not slash or not agent_id:
            raise _bad(f"c: expected RUN/AGENT, got {value!r}")
        columns.append(Column(run_id, agent_id))
    if not columns:
        raise _bad("c: give at least one column, c=RUN/AGENT")
    if len(columns) > MAX_COLUMNS:
        raise _bad(f"c: at most {MAX_COLUMNS} columns, got {len(columns)}")
    return columns


async def _compare(request: web.Request) -> web.Response:
    viewer = _viewer(request)
    columns = _columns(request)
    for column in columns:
        viewer.run_path(column.run_id)
    offset = _int(request, "offset", 0, 0, 1 << 40)
    limit = _int(request, "limit", 100, 1, MAX_LIMIT)
    category = request.query.get("category") or None

    def compared() -> dict[str, Any]:
        pairs = [(c, viewer.refreshed(c.run_id).index) for c in columns]
        return compare(
            pairs,
            offset=offset,
            limit=limit,
            category=category,
            differ=request.query.get("differ", "") in ("1", "true"),
        )

    return _json(await _thread(compared))


def _event(kind: str, data: Any) -> bytes:
    return f"event: {kind}\ndata: {jsonio.dumps(data)}\n\n".encode()


def _changes(
    viewer: Viewer, run_id: str, offset: int, seen: tuple[Any, ...] | None
) -> tuple[dict[str, Any], dict[str, Any] | None, tuple[Any, ...], bool]:
    """What an event stream sends next: new rows since ``offset``, progress, status."""
    run = viewer.refreshed(run_id)
    index = run.index
    manifest = viewer.runs.manifest(run.path)
    summary = viewer.runs.summary(run.path)
    with index.lock:
        changed = index.changed_since(offset) if offset < index.journal_end else []
        rows = [index.row(i) for i in changed[-MAX_EVENT_ROWS:]]
        records = {
            "rows": rows,
            "more": max(len(changed) - MAX_EVENT_ROWS, 0),
            "journal_end": index.journal_end,
            "total": len(index),
        }
        live = progress(index, manifest) if isinstance(manifest, Manifest) else None
    state = (
        manifest.status if isinstance(manifest, Manifest) else "damaged",
        summary.get("generated_at") if summary else None,
        index.scores_end,
    )
    return records, live, state, state != seen


async def _events(request: web.Request) -> web.StreamResponse:
    viewer = _viewer(request)
    run_id = request.match_info["run_id"]
    viewer.run_path(run_id)
    offset = _int(request, "offset", 0, 0, 1 << 62)
    response = web.StreamResponse()
    response.content_type = "text/event-stream"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"
    _secure(response.headers)
    await response.prepare(request)
    seen: tuple[Any, ...] | None = None
    quiet = 0.0
    loop = asyncio.get_running_loop()
    try:
        await response.write(b"retry: 2000\n\n")
        while not viewer.stopping.is_set():
            records, live, state, moved = await _thread(
                partial(_changes, viewer, run_id, offset, seen)
            )
            sent = False
            if records["rows"] or offset != records["journal_end"]:
                offset = records["journal_end"]
                await response.write(_event("records", records))
                sent = True
            if sent or seen is None or (live is not None and live["running"]):
                await response.write(_event("progress", live))
                sent = True
            if moved:
                if seen is not None:
                    await response.write(_event("status", {"status": state[0]}))
                seen = state
            started = loop.time()
            if sent:
                quiet = 0.0
            elif quiet >= HEARTBEAT_S:
                await response.write(b": ping\n\n")
                quiet = 0.0
            try:
                await asyncio.wait_for(viewer.stopping.wait(), viewer.poll_s)
            except TimeoutError:
                pass
            quiet += loop.time() - started
    except (ConnectionResetError, asyncio.CancelledError):
        pass  # the page went away, or the server is stopping
    except web.HTTPNotFound:
        pass  # the run went away (moved, deleted): the stream ends
    return response


def make_app(
    root: Path, *, allowed_hosts: Sequence[str] | None = None, poll_s: float = POLL_S
) -> web.Application:
    """The viewer of the results directory ``root``. ``allowed_hosts``: the ``Host`` values
    it answers (``127.0.0.1:8000``, ...), None for any; ``poll_s``: how often event streams
    look at the journal."""
    app = web.Application(middlewares=[_headers])
    viewer = Viewer(root, poll_s=poll_s)
    app[VIEWER] = viewer
    viewer.hosts = frozenset(h.lower() for h in allowed_hosts or ())

    async def stop(app: web.Application) -> None:
        viewer.stopping.set()

    app.on_shutdown.append(stop)
    app.router.add_get("/", _page("index"))
    app.router.add_get("/runs/{run_id}", _page("run"))
    app.router.add_get("/compare", _page("compare"))
    app.router.add_get("/assets/{name}", _assets)
    app.router.add_get("/api/runs", _runs)
    app.router.add_get("/api/runs/{run_id}", _run)
    app.router.add_get("/api/runs/{run_id}/records", _records)
    app.router.add_get("/api/runs/{run_id}/records/{n}", _record)
    app.router.add_get("/api/runs/{run_id}/files/{n}/{name:.+}", _file)
    app.router.add_get("/api/runs/{run_id}/charts", _charts)
    app.router.add_get("/api/runs/{run_id}/events", _events)
    app.router.add_get("/api/compare", _compare)
    return app


def loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``)."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_names(host: str, port: int) -> list[str]:
    """The ``Host`` header values of a viewer served on loopback ``host``:``port``."""
    names = {host, "localhost", "127.0.0.1", "[::1]"}
    return [f"{name}:{port}" for name in sorted(names)]
