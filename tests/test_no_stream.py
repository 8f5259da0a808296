"""Agents that do not stream (``stream = false`` or ``--no-stream``): whole JSON answers, and
time to first token and tokens/s reported as not measured, never as zeros or as a made-up rate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmbench.cli.run import main as runner_main
from llmbench.report.terminal import NOT_MEASURED
from tests.conftest import make_test
from tests.scripted_server import Answer, ScriptedServer
from tests.test_runner_e2e import _agent, _base_config, _journal, _run_dir, _suite


def _setup(tmp_path: Path, server: ScriptedServer, beta_extra: str = "") -> None:
    server.set_default(Answer(chunks=["4", "2"], ttft_s=0.02))
    _suite(tmp_path, [make_test("a", expected=42), make_test("b", expected=42)])
    _base_config(tmp_path, server.url + "/v1", server.url + "/v1")
    _agent(tmp_path, "alpha", server.url + "/v1")
    _agent(tmp_path, "beta", server.url + "/v1", beta_extra)


def _streamed_requests(server: ScriptedServer) -> dict[str, list[bool]]:
    sent: dict[str, list[bool]] = {}
    for request in server.requests:
        if request.body is not None and request.path.endswith("completions"):
            sent.setdefault(request.body["model"], []).append(request.body["stream"])
            assert request.body["stream"] or "stream_options" not in request.body
    return sent


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> Path:
    monkeypatch.chdir(tmp_path)
    code = runner_main(["--base_config", "base_config.toml", "--agent_config", "agents", *args])
    assert code == 0
    return _run_dir(tmp_path)


def test_an_agent_with_stream_false_gets_whole_answers_and_no_streaming_figures(
    tmp_path: Path,
    server: ScriptedServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _setup(tmp_path, server, "stream = false")
    run_dir = _run(tmp_path, monkeypatch)
    assert sorted(_streamed_requests(server)["scripted-model"]) == [False, False, True, True]
    by_agent = {(e["agent_id"], e["test_id"]): e for e in _journal(run_dir)}
    beta = by_agent["beta", "a"]
    assert beta["status"] == "ok" and beta["response_text"] == "42"
    assert beta["time_to_first_token"] is None and beta["tokens_per_second"] is None
    alpha = by_agent["alpha", "a"]
    assert alpha["time_to_first_token"] is not None and alpha["tokens_per_second"] is not None

    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    speed = {a["agent_id"]: a["speed"] for a in summary["agents"]}
    assert speed["beta"]["streamed"] is False and speed["alpha"]["streamed"] is True
    assert speed["beta"]["tokens_per_second"]["p50"] is None
    assert speed["beta"]["latency_s"]["p50"] is not None  # end to end is still measured
    beta_row = next(line for line in capsys.readouterr().out.splitlines() if "| beta " in line)
    assert NOT_MEASURED.split()[0] in beta_row
    report = (run_dir / "report.md").read_text(encoding="utf-8")
    beta_speed = [line for line in report.splitlines() if line.startswith("| beta |")]
    assert [line.count(NOT_MEASURED) for line in beta_speed] == [3]  # TTFT p50, p95, tokens/s


def test_no_stream_on_the_command_line_turns_streaming_off_for_every_agent(
    tmp_path: Path, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _setup(tmp_path, server)
    run_dir = _run(tmp_path, monkeypatch, "--no-stream")
    assert _streamed_requests(server) == {"scripted-model": [False] * 4}
    assert all(e["time_to_first_token"] is None for e in _journal(run_dir))
    assert all(e["response_text"] == "42" for e in _journal(run_dir))
