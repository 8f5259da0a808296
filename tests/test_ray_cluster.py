"""The Ray executor on a cluster of two nodes (``ray.cluster_utils.Cluster``: two raylets on this
machine, each with a resource of its own), with agents on ``endpoint = "embedded"``: the work
of each agent runs on its node and calls that node's embedded model (the driver's own server on
the head, one an EmbeddedHost actor starts on the other), and no server outlives the run.

The cluster runs in a child process of its own: Ray keeps one connection per process, and the
other Ray tests hold theirs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from tests.conftest import make_test
from tests.test_ray_executor import _processes
from tests.test_runner_e2e import _journal, _suite

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from ray.cluster_utils import Cluster
    import llmbench

    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "resources": {"node_a": 1}, "include_dashboard": False},
    )
    try:
        cluster.add_node(num_cpus=1, resources={"node_b": 1})
        cluster.wait_for_nodes()
        base = open("base_config.toml").read().replace("ADDRESS", cluster.address)
        open("base_config.toml", "w").write(base)
        run = llmbench.run("base_config.toml", "agents")
        print(json.dumps({"directory": str(run.directory)}))
    finally:
        cluster.shutdown()
    """
)


def _llama_servers() -> list[int]:
    return _processes(lambda cmd: b"llama_cpp.server" in cmd)


def test_embedded_agents_on_two_nodes_call_their_own_nodes_model(tmp_path: Path) -> None:
    before = _llama_servers()
    tests = [
        make_test(f"q{i}", prompt=f"What is {i} + {i}? Answer with a number.", expected=2 * i)
        for i in range(1, 4)
    ]
    _suite(tmp_path, tests)
    (tmp_path / "base_config.toml").write_text(
        textwrap.dedent(
            """
            [benchmark]
            test_suite = "suite.json"
            results_dir = "results"
            max_workers = 2
            executor = "ray"
            ray_address = "ADDRESS"
            ray_actors = 1
            """
        ),
        encoding="utf-8",
    )
    agents = tmp_path / "agents"
    agents.mkdir()
    for agent_id, node in (("on-a", "node_a"), ("on-b", "node_b")):
        (agents / f"{agent_id}.toml").write_text(
            f'id = "{agent_id}"\nendpoint = "embedded"\n[ray_resources]\n{node} = 0.001\n',
            encoding="utf-8",
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    seen: set[int] = set()
    stop = threading.Event()

    def watch() -> None:  # every embedded server the run starts
        while not stop.is_set():
            seen.update(set(_llama_servers()) - set(before))
            time.sleep(0.1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        stop.set()
        watcher.join()
    assert done.returncode == 0, done.stderr[-3000:]
    directory = Path(json.loads(done.stdout.strip().splitlines()[-1])["directory"])
    if not directory.is_absolute():
        directory = tmp_path / directory
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    executor = manifest["sessions"][0]["executor"]
    assert executor["actors"] == 2
    assert executor["embedded_servers"] == 2  # the head's (the driver's) and node b's
    assert len(seen) == 2  # the workers on the head called the driver's: none started there
    entries = _journal(directory)
    assert sorted((e["agent_id"], e["test_id"]) for e in entries) == sorted(
        (a, f"q{i}") for a in ("on-a", "on-b") for i in range(1, 4)
    )
    assert {e["status"] for e in entries} == {"ok"}, [e.get("error") for e in entries]
    deadline = time.monotonic() + 20
    while set(_llama_servers()) - set(before) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert set(_llama_servers()) - set(before) == set()
