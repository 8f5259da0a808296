"""No secret leaks: a run with an API key (``api_key_env``), an ``Authorization`` header and a
custom credential header, at DEBUG log level, where the servers echo the credentials back in
answers, in error bodies and in a judge's reason. Every byte of every file the run, ``llmbench
score`` and ``llmbench report`` wrote (results, journal, manifest, logs, reports, the judge
cache) and everything they printed holds none of the secrets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import Run, make_test
from tests.scripted_server import Answer, Echo, ScriptedServer, Status
from tests.test_runner_e2e import JUDGE, _agent, _base_config, _run_dir, _suite

KEY = "sk-live-0123456789abcdef"  # api_key_env of agent alpha and of the supervisor (judge)
BEARER = "sk-bearer-fedcba9876543210"  # beta's Authorization header, written in its TOML
CUSTOM = "custom-credential-55aa55aa"  # beta's X-Api-Key header
SECRETS = (KEY, BEARER, CUSTOM)


def test_no_secret_in_any_file_written_or_anything_printed(
    tmp_path: Path, server: ScriptedServer, server2: ScriptedServer, run: Run
) -> None:
    _suite(
        tmp_path,
        [
            make_test("q1", expected="question", scoring=[{"type": "contains"}]),
            make_test("q2"),
            make_test("q3", expected="x", scoring=[{"type": "judge", "rubric": "be kind"}]),
        ],
    )
    _base_config(
        tmp_path,
        server.url + "/v1",
        server.url + "/v1",
        extra='log_dir = "logs"',
    )
    base = tmp_path / "base_config.toml"
    base.write_text(
        base.read_text().replace(
            "[supervisor]\n", '[supervisor]\napi_key_env = "LLMBENCH_TEST_KEY"\n'
        ),
        encoding="utf-8",
    )
    _agent(tmp_path, "alpha", server.url + "/v1", 'api_key_env = "LLMBENCH_TEST_KEY"')
    _agent(
        tmp_path,
        "beta",
        server2.url + "/v1",
        f'[headers]\nAuthorization = "Bearer {BEARER}"\nX-Api-Key = "{CUSTOM}"',
    )
    # servers that quote the credentials back: in answers, in error bodies, in the judge
    server.set_default(Echo(prefix=f"my key is {KEY}: "))
    server.script(Status(401, f"invalid key {KEY} (Authorization: Bearer {KEY})"), marker="q2")
    server.script(
        *[Answer(json.dumps({"score": 9, "reason": f"fine, and your key is {KEY}"}))] * 2,
        marker=JUDGE,
    )
    server2.set_default(Echo(prefix=f"headers {BEARER} and {CUSTOM}: "))
    server2.script(Status(400, f"bad header X-Api-Key: {CUSTOM}; {BEARER}"), marker="q2")

    env = {"LLMBENCH_TEST_KEY": KEY}
    outputs = []
    first = run(
        "--base_config", "base_config.toml", "--agent_config", "agents", "-l", "DEBUG", env=env
    )
    outputs.append(first.stdout + first.stderr)
    assert first.returncode == 1, first.stderr  # q2 fails for both agents
    run_dir = _run_dir(tmp_path)
    entries = [json.loads(x) for x in (run_dir / "results.jsonl").read_text().splitlines()]
    errors = {e["agent_id"]: e["error_message"] for e in entries if e["status"] == "error"}
    assert "HTTP 401" in errors["alpha"] and "invalid key" in errors["alpha"]  # still useful
    assert "HTTP 400" in errors["beta"] and "bad header X-Api-Key" in errors["beta"]
    assert server.requests[0].headers.get("Authorization") == f"Bearer {KEY}"  # it was sent

    for command in ("score", "report"):
        done = subprocess.run(
            [sys.executable, "-m", "llmbench.cli.main", command, str(run_dir)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **env},
        )
        assert done.returncode in (0, 1), done.stderr
        outputs.append(done.stdout + done.stderr)

    written = [p for p in (tmp_path / "results").rglob("*") if p.is_file()]
    written += [p for p in (tmp_path / "logs").rglob("*") if p.is_file()]
    names = {p.name for p in written}
    assert {"results.jsonl", "manifest.json", "run.log", "report.html", "report.md"} <= names
    assert any(p.suffix == ".sqlite" for p in written)  # the judge cache
    for path in written:
        data = path.read_bytes()
        for secret in SECRETS:
            assert secret.encode() not in data, f"{secret} in {path}"
    for text in outputs:
        for secret in SECRETS:
            assert secret not in text
