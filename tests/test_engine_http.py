"""The engine against a real scripted server: answers, speed figures, retries and errors."""

from __future__ import annotations

import time
from email.utils import formatdate

import pytest

from llmbench import TestRunner
from tests.scripted_server import (
    Answer,
    Drop,
    DropMidStream,
    Echo,
    Malformed,
    NoDone,
    ScriptedServer,
    Stall,
    Status,
)


def test_streamed_answer_has_text_tokens_and_speed(
    server: ScriptedServer, runner: TestRunner
) -> None:
    server.script(
        Answer(
            chunks=["The", " answer", " is", " 42"],
            prompt_tokens=9,
            ttft_s=0.2,
            token_interval_s=0.05,
        )
    )
    result = runner.execute_single_test("t1")
    assert result.status == "ok" and result.success
    assert result.response_text == "The answer is 42"
    assert (result.prompt_tokens, result.completion_tokens) == (9, 4)
    assert not result.tokens_estimated
    assert result.attempts == 1 and result.http_status == 200
    assert result.finish_reason == "stop"
    assert result.time_to_first_token is not None and result.time_to_first_token >= 0.2
    # 3 tokens after the first, 0.05 s apart: about 20 tokens/s (the server's timer is coarse)
    assert result.tokens_per_second is not None and 8 < result.tokens_per_second <= 21
    assert result.execution_time >= result.time_to_first_token
    body = server.requests[-1].body
    assert body is not None
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["model"] == "scripted-model"
    assert body["messages"] == [{"role": "user", "content": "question t1"}]
    assert body["max_tokens"] == 16


def test_missing_usage_is_estimated_and_marked(server: ScriptedServer, runner: TestRunner) -> None:
    server.script(Answer(chunks=["a", "b", "c"], usage=False))
    result = runner.execute_single_test("t1")
    assert result.status == "ok"
    assert result.completion_tokens == 3  # one token per content event
    assert result.tokens_estimated


def test_completions_endpoint_sends_prompt(server: ScriptedServer, runner: TestRunner) -> None:
    runner.configure_api(server.completions_url, "scripted-model")
    server.script(Echo(prefix=">"))
    result = runner.execute_single_test("t2")
    assert server.requests[-1].path == "/v1/completions"
    assert (
        server.requests[-1].body is not None and server.requests[-1].body["prompt"] == "question t2"
    )
    assert result.response_text.startswith(">")


def test_non_streaming_mode(server: ScriptedServer, runner: TestRunner) -> None:
    runner.configure_api(server.chat_url, "scripted-model", stream=False)
    server.script(Answer(text="plain answer", prompt_tokens=3, completion_tokens=2))
    result = runner.execute_single_test("t1")
    assert result.response_text == "plain answer"
    assert (result.prompt_tokens, result.completion_tokens) == (3, 2)
    assert result.time_to_first_token is None
    assert server.requests[-1].body is not None and server.requests[-1].body["stream"] is False


def test_429_retry_after_seconds_is_honoured(server: ScriptedServer, runner: TestRunner) -> None:
    server.script(Status(429, "slow down", headers={"Retry-After": "1"}), Answer(text="ok"))
    result = runner.execute_single_test("t1")
    assert result.status == "ok" and result.attempts == 2
    gap = server.requests[1].received_at - server.requests[0].received_at
    assert gap >= 0.95  # retry_delay is 0.01 s; only Retry-After explains the wait


def test_503_retry_after_http_date_is_honoured(server: ScriptedServer, runner: TestRunner) -> None:
    when = formatdate(time.time() + 2, usegmt=True)  # whole seconds: wait is 1-2 s
    server.script(Status(503, headers={"Retry-After": when}), Answer(text="ok"))
    result = runner.execute_single_test("t1")
    assert result.status == "ok" and result.attempts == 2
    assert server.requests[1].received_at - server.requests[0].received_at >= 0.9


@pytest.mark.parametrize("code", [408, 409, 425, 500, 502, 504])
def test_transient_status_is_retried(server: ScriptedServer, runner: TestRunner, code: int) -> None:
    server.script(Status(code), Answer(text="recovered"))
    result = runner.execute_single_test("t1")
    assert result.status == "ok" and result.response_text == "recovered"
    assert result.attempts == 2


def test_persistent_500_stops_after_the_configured_retries(
    server: ScriptedServer, runner: TestRunner
) -> None:
    server.set_default(Status(500, "model crashed"))
    result = runner.execute_single_test("t1")
    assert result.status == "error" and not result.success
    assert result.attempts == 3  # first attempt + retry_attempts=2
    assert server.request_count() == 3
    assert result.http_status == 500
    assert result.error_kind == "http"
    assert result.error_message is not None
    assert "HTTP 500" in result.error_message and "model crashed" in result.error_message
    assert "gave up after 3 attempts" in result.error_message


@pytest.mark.parametrize("code", [400, 401, 404, 422])
def test_client_error_fails_at_once_with_the_servers_message(
    server: ScriptedServer, runner: TestRunner, code: int
) -> None:
    server.script(Status(code, "max_tokens is too large"))
    result = runner.execute_single_test("t1")
    assert result.status == "error" and result.attempts == 1
    assert server.request_count() == 1
    assert result.http_status == code
    assert result.error_message == f"HTTP {code} from server: max_tokens is too large"


def test_retry_budget_bounds_the_total_time(server: ScriptedServer, runner: TestRunner) -> None:
    runner.configure_api(server.chat_url, retry_attempts=10, retry_budget_s=1.0)
    server.set_default(Status(429, headers={"Retry-After": "5"}))
    started = time.monotonic()
    result = runner.execute_single_test("t1")
    assert time.monotonic() - started < 3
    assert result.status == "error" and result.attempts == 1
    assert result.error_message is not None and "retry budget" in result.error_message


def test_dropped_connection_is_retried(server: ScriptedServer, runner: TestRunner) -> None:
    server.script(Drop(), Answer(text="second time lucky"))
    result = runner.execute_single_test("t1")
    assert result.status == "ok" and result.attempts == 2


def test_connection_dropped_every_time_is_an_error(
    server: ScriptedServer, runner: TestRunner
) -> None:
    server.set_default(Drop())
    result = runner.execute_single_test("t1")
    assert result.status == "error" and result.error_kind == "connection"
    assert result.attempts == 3
    assert result.error_message is not None and "before any response" in result.error_message


def test_connection_refused_is_a_connection_error(runner: TestRunner) -> None:
    from llmbench.providers.embedded import free_port

    runner.configure_api(f"http://127.0.0.1:{free_port()}/v1", retry_attempts=1)
    result = runner.execute_single_test("t1")
    assert result.status == "error" and result.error_kind == "connection"
    assert result.error_message is not None and "cannot connect" in result.error_message
    assert result.attempts == 2


def test_stream_cut_short_quotes_the_first_bytes(
    server: ScriptedServer, runner: TestRunner
) -> None:
    runner.configure_api(server.chat_url, retry_attempts=0)
    server.script(DropMidStream(after_chunks=2))
    result = runner.execute_single_test("t1")
    assert result.status == "error" and result.error_kind == "connection"
    assert result.error_message is not None
    assert "connection lost after" in result.error_message
    assert "data: {" in result.error_message  # the first bytes received are quoted


def test_stream_without_done_is_an_error(server: ScriptedServer, runner: TestRunner) -> None:
    runner.configure_api(server.chat_url, retry_attempts=0)
    server.script(NoDone(after_chunks=2))
    result = runner.execute_single_test("t1")
    assert result.status == "error"
    assert result.error_message is not None and "stream ended before [DONE]" in result.error_message


def test_malformed_json_is_not_retried_and_quoted(
    server: ScriptedServer, runner: TestRunner
) -> None:
    runner.configure_api(server.chat_url, stream=False)
    server.script(Malformed(body=b"<html>oops</html>", content_type="application/json"))
    result = runner.execute_single_test("t1")
    assert result.status == "error" and result.attempts == 1
    assert result.error_kind == "protocol"
    assert result.error_message == "response is not valid JSON: '<html>oops</html>'"


def test_malformed_stream_event(server: ScriptedServer, runner: TestRunner) -> None:
    server.script(Malformed(body=b"data: {broken\n\n", content_type="text/event-stream"))
    result = runner.execute_single_test("t1")
    assert result.status == "error" and result.error_kind == "protocol"
    assert result.error_message is not None and "{broken" in result.error_message


def test_stall_mid_stream_hits_the_per_test_timeout(
    server: ScriptedServer, runner: TestRunner, write_suite
) -> None:
    from tests.conftest import make_test

    runner.load_test_suite(write_suite(make_test("slow", metadata={"timeout_seconds": 0.5})))
    runner.configure_api(server.chat_url, retry_attempts=0)
    server.script(Stall(after_chunks=1, stall_s=10))
    started = time.monotonic()
    result = runner.execute_single_test("slow")
    assert time.monotonic() - started < 3
    assert result.status == "error" and result.error_kind == "timeout"
    assert result.error_message is not None
    assert "stream stalled for 0.5s" in result.error_message
    assert result.http_status == 200


def test_chat_messages_and_parameters_are_sent(
    server: ScriptedServer, runner: TestRunner, write_suite
) -> None:
    from tests.conftest import make_test

    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]
    test = make_test(
        "chat1",
        prompt=None,
        messages=messages,
        parameters={"max_tokens": 8, "stop": ["\n"], "seed": 3, "stream": False, "logprobs": True},
    )
    del test["prompt"]
    runner.load_test_suite(write_suite(test))
    runner.configure_api(server.completions_url)  # messages still go to the chat route
    runner.execute_single_test("chat1")
    request = server.requests[-1]
    assert request.path == "/v1/chat/completions"
    assert request.body is not None
    assert request.body["messages"] == messages
    assert request.body["stop"] == ["\n"] and request.body["seed"] == 3
    assert request.body["logprobs"] is True  # unknown parameters pass through
    assert request.body["stream"] is True  # the test's "stream" is llmbench's to set
