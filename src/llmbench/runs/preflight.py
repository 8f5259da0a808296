"""Before the first test: start the embedded model if anyone uses it, and check every endpoint.

Each distinct endpoint gets one ``GET <base>/v1/models``. An endpoint that cannot be reached, or
that refuses the credentials, stops the run at once with the ids of the agents (or the
instructor / supervisor) that use it, instead of after many timeouts. A server that lists its
models must list the configured one; a server without ``/v1/models`` is only checked for being
reachable.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from difflib import get_close_matches

from llmbench import jsonio, redact
from llmbench.config.api import APIConfiguration
from llmbench.errors import ConfigError, EndpointError
from llmbench.providers.embedded import MODEL_ALIAS, EmbeddedServer
from llmbench.providers.http1 import (
    ConnectionLost,
    ConnectTimeout,
    HttpClient,
    ReadTimeout,
    TransportError,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Use:
    """Who uses an API configuration: an agent id, ``instructor`` or ``supervisor``."""

    who: str
    api: APIConfiguration


def resolve_embedded(uses: list[Use]) -> tuple[list[Use], EmbeddedServer | None]:
    """Point every embedded use at one started embedded server (started only when needed)."""
    if not any(u.api.is_embedded for u in uses):
        return uses, None
    server = EmbeddedServer().start()
    resolved = [
        Use(u.who, replace(u.api, endpoint=server.base_url, model=u.api.model or MODEL_ALIAS))
        if u.api.is_embedded
        else u
        for u in uses
    ]
    return resolved, server


def _models_url(api: APIConfiguration) -> str:
    base, _ = api.base_and_type()
    return base.rstrip("/") + "/models"


MODELS_BYTES = 4 * 1024 * 1024
"""How much of a model list is read (a longer one is not JSON once cut: the check is skipped)."""


def _reason(exc: Exception) -> str:
    """Why an endpoint could not be reached, in a few words."""
    if isinstance(exc, ConnectTimeout | ReadTimeout):
        return "timed out"
    if isinstance(exc, ConnectionLost):
        return f"connection lost ({exc})"
    return str(exc) or type(exc).__name__


async def _check_one(
    session: HttpClient, api: APIConfiguration, users: list[str]
) -> tuple[str | None, str | None]:
    """(problem that stops the run, model-listing problem) for one endpoint."""
    url = _models_url(api)
    who = ", ".join(users)
    shown = redact.strip_url(url)
    try:
        status, raw = await session.get(
            url,
            api.request_headers(),
            max_bytes=MODELS_BYTES,
            connect_timeout_s=api.connect_timeout,
            read_timeout_s=30,
        )
    except (TransportError, ValueError) as exc:
        reason = redact.scrub(_reason(exc))
        return f"{who}: cannot reach {shown}: {reason}", None
    if status in (401, 403):
        return (
            f"{who}: {shown} refused the credentials (HTTP {status}); "
            "check api_key_env and headers",
            None,
        )
    if status != 200:
        log.debug("%s answered HTTP %d; not checking the model name", shown, status)
        return None, None
    try:
        data = jsonio.loads(raw)
    except ValueError:
        return None, None
    listed = [
        m["id"]
        for m in (data.get("data") if isinstance(data, dict) else None) or []
        if isinstance(m, dict) and isinstance(m.get("id"), str)
    ]
    if not api.model or not listed or api.model in listed:
        return None, None
    close = get_close_matches(api.model, listed, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    shown_models = ", ".join(listed[:10]) + (" ..." if len(listed) > 10 else "")
    return None, (
        f"{who}: model {api.model!r} is not served by {redact.strip_url(url)} "
        f"(it lists {shown_models}){hint}"
    )


async def check_endpoints(uses: list[Use]) -> None:
    """Check every distinct (endpoint, model, credentials) once, concurrently.

    Raises :class:`EndpointError` naming every unreachable endpoint and its users, or
    :class:`~llmbench.errors.ConfigError` for a model an endpoint does not list.
    """
    groups: dict[tuple[str, str, str | None, tuple[tuple[str, str], ...]], list[Use]] = {}
    for u in uses:
        key = (
            u.api.base_and_type()[0],
            u.api.model,
            u.api.api_key_env,
            tuple(sorted(u.api.headers.items())),
        )
        groups.setdefault(key, []).append(u)
    async with HttpClient() as session:
        checks = [
            _check_one(session, group[0].api, [u.who for u in group]) for group in groups.values()
        ]
        found = await asyncio.gather(*checks)
    unreachable = [p for p, _ in found if p]
    unlisted = [m for _, m in found if m]
    if unreachable:
        raise EndpointError("; ".join(unreachable))
    if unlisted:
        raise ConfigError("; ".join(unlisted))


async def choose_tool_protocols(
    agents: Sequence[tuple[str, str, APIConfiguration]],
) -> dict[str, tuple[str, str]]:
    """Each agent's tool protocol and why: its ``tool_protocol``, or for ``auto`` what one probe
    request found (:func:`llmbench.tools.probe.probe_tool_protocol`). ``agents`` holds (agent
    id, its ``tool_protocol``, its resolved API). An endpoint that fails the probe after its
    retries is an :class:`EndpointError`."""
    from llmbench.engine.calls import Caller
    from llmbench.errors import RequestFailure
    from llmbench.tools.probe import probe_tool_protocol

    chosen: dict[str, tuple[str, str]] = {}
    async with HttpClient() as session:
        for agent_id, protocol, api in agents:
            if protocol != "auto":
                chosen[agent_id] = (protocol, f'tool_protocol = "{protocol}" in its config')
                continue
            try:
                probe = await probe_tool_protocol(session, Caller(api))
            except RequestFailure as failure:
                raise EndpointError(
                    f"agent {agent_id}: the tool protocol probe failed: {failure.message}; set "
                    'tool_protocol = "text" or "function" in its config to skip the probe'
                ) from None
            log.info("agent %s: tool protocol %s (%s)", agent_id, probe.protocol, probe.reason)
            chosen[agent_id] = (probe.protocol, probe.reason)
    return chosen
