"""The time to first token counts from the moment the request is written to the connection,
not from the call: time the client spends before the send (waiting for a free connection,
setting one up) is not the server's. The end-to-end time still counts from the call."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from llmbench import TestRunner
from llmbench.cli.run import main as runner_main
from llmbench.providers.http1 import HttpClient
from llmbench.providers.openai_compatible import (
    Completion,
    build_request,
    request_completion,
)
from llmbench.suite.models import TestCase
from tests.conftest import make_test
from tests.scripted_server import Answer, ScriptedServer
from tests.test_runner_e2e import _agent, _base_config, _suite

SERVER_TTFT_S = 0.3
CLIENT_DELAY_S = 0.4


async def _two_over_one_connection(server: ScriptedServer) -> list[Completion]:
    """Two requests at once over a pool of one connection: the second one waits in the client
    until the first is answered, then is sent."""
    body = build_request(
        TestCase.model_validate(make_test("t")), model="m", api_type="chat", stream=True
    )
    async with HttpClient(limit=1) as session:
        return await asyncio.gather(
            *(
                request_completion(
                    session,
                    server.chat_url,
                    {},
                    body,
                    api_type="chat",
                    read_timeout_s=10,
                    connect_timeout_s=10,
                )
                for _ in range(2)
            )
        )


def test_the_clock_starts_when_the_request_is_sent(server: ScriptedServer) -> None:
    server.set_default(Answer(ttft_s=SERVER_TTFT_S))
    first, second = asyncio.run(_two_over_one_connection(server))
    for completion in (first, second):
        assert completion.time_to_first_token is not None
        assert SERVER_TTFT_S <= completion.time_to_first_token < SERVER_TTFT_S + 0.1
    assert second.total_time >= 2 * SERVER_TTFT_S  # the wait for the connection included


@pytest.fixture
def slow_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every request waits ``CLIENT_DELAY_S`` in the client before its connection is handed
    out: a slow connection set-up, or an event loop busy with other work."""
    original: Callable[..., Awaitable[Any]] = HttpClient._connection

    async def connection(self: HttpClient, *args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(CLIENT_DELAY_S)
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(HttpClient, "_connection", connection)


@pytest.mark.usefixtures("slow_connect")
def test_the_library_engine_starts_the_clock_at_the_send(
    server: ScriptedServer, runner: TestRunner
) -> None:
    server.set_default(Answer(ttft_s=SERVER_TTFT_S))
    result = runner.execute_single_test("t1")
    assert result.status == "ok" and result.time_to_first_token is not None
    assert SERVER_TTFT_S <= result.time_to_first_token < SERVER_TTFT_S + 0.1
    assert result.execution_time >= SERVER_TTFT_S + CLIENT_DELAY_S


@pytest.mark.usefixtures("slow_connect")
def test_the_runner_starts_the_clock_at_the_send(
    server: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.set_default(Answer(ttft_s=SERVER_TTFT_S))
    _suite(tmp_path, [make_test("q1"), make_test("q2")])
    _base_config(tmp_path, server.url + "/v1", server.url + "/v1", max_workers=2)
    _agent(tmp_path, "a", server.url + "/v1", "max_concurrency = 2")
    monkeypatch.chdir(tmp_path)
    assert runner_main(["--base_config", "base_config.toml", "--agent_config", "agents"]) == 0
    [journal] = (tmp_path / "results").glob("*/results.jsonl")
    results = [json.loads(line) for line in journal.read_text(encoding="utf-8").splitlines()]
    assert len(results) == 2
    for result in results:
        assert SERVER_TTFT_S <= result["time_to_first_token"] < SERVER_TTFT_S + 0.1
        assert result["execution_time"] >= SERVER_TTFT_S + CLIENT_DELAY_S
