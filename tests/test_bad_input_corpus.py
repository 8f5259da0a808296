"""The bad input corpus (``tests/bad_inputs/``): every mistake is one line naming the file, the
place and what was expected, exit code 2, no traceback, and nothing written.

Every case runs in-process through :func:`llmbench.cli.run.main` (what ``runner.py`` calls);
a representative set, and the generated cases that matter most, also run ``runner.py`` as a
subprocess. Ids with ``/``, ``\\`` and ``..`` are accepted and sanitised: a real run against the
scripted server shows that every file it writes stays inside the run directory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from llmbench.cli.run import main as runner_main
from llmbench.runs.plan import load_plan
from tests.conftest import RUNNER
from tests.scripted_server import Answer, ScriptedServer

CORPUS = Path(__file__).resolve().parent / "bad_inputs"
VALID = CORPUS / "_valid"
UNSET = "LLMBENCH_BAD_INPUT_UNSET"
ARGS = ("--base_config", "base_config.toml", "--agent_config", "agents")
CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir() and not p.name.startswith("_"))

# run as a subprocess too: the seven cases test_runner_e2e.py used to run, and one of each
# other kind of mistake (syntax, schema, id, endpoint)
SUBPROCESS_CASES = [
    "base-malformed-toml",
    "base-unknown-key",
    "agent-duplicate-id",
    "agent-api-key-env-unset",
    "agent-dir-empty",
    "agent-dir-only-sample",
    "agent-unknown-key",
    "suite-malformed-json",
    "suite-missing-name",
    "test-id-nul",
    "agent-endpoint-broken-ipv6",
    "dataset-template-missing-field",
]


@dataclass(frozen=True)
class Outcome:
    """What a run of the runner left: exit code and output."""

    code: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Case:
    """One corpus directory: the files laid over ``_valid``, those removed, and the line."""

    name: str
    files: tuple[Path, ...]
    remove: tuple[str, ...]
    stderr: str

    @classmethod
    def read(cls, name: str) -> Case:
        directory = CORPUS / name
        meta = tomllib.loads((directory / "case.toml").read_text(encoding="utf-8"))
        files = tuple(
            p.relative_to(directory)
            for p in sorted(directory.rglob("*"))
            if p.is_file() and p.name != "case.toml"
        )
        return cls(name, files, tuple(meta.get("remove", ())), meta["stderr"])

    def lay_out(self, target: Path) -> None:
        """``_valid`` with this case's files over it, in ``target``."""
        shutil.copytree(VALID, target, dirs_exist_ok=True)
        for rel in self.files:
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(CORPUS / self.name / rel, target / rel)
        for rel in self.remove:
            (target / rel).unlink()

    def touched(self) -> set[str]:
        """The paths (and the folders of removed files) that the message may name."""
        names = {rel.as_posix() for rel in self.files}
        return names | {str(Path(rel).parent) for rel in self.remove}


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and directory (None) under ``root``."""
    return {
        p.relative_to(root).as_posix(): (None if p.is_dir() else p.read_bytes())
        for p in sorted(root.rglob("*"))
    }


def in_process(
    root: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *extra: str,
) -> Outcome:
    """``runner.py`` run through its ``main()`` in ``root``, ``LLMBENCH_BAD_INPUT_UNSET`` unset."""
    monkeypatch.chdir(root)
    monkeypatch.delenv(UNSET, raising=False)
    code = runner_main([*ARGS, *extra])
    out = capsys.readouterr()
    return Outcome(code, out.out, out.err)


def as_subprocess(root: Path, *args: str, timeout: float = 60) -> Outcome:
    env = {k: v for k, v in os.environ.items() if k != UNSET}
    done = subprocess.run(
        [sys.executable, str(RUNNER), *(args or ARGS)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    return Outcome(done.returncode, done.stdout, done.stderr)


def assert_refused(
    outcome: Outcome, expected: str, before: dict[str, bytes | None], root: Path
) -> None:
    """Exit 2, ``expected`` as the only line on stderr, no traceback, nothing written."""
    assert "Traceback" not in outcome.stdout + outcome.stderr
    assert outcome.stderr == expected + "\n"
    assert outcome.code == 2
    assert outcome.stdout == ""
    assert snapshot(root) == before
    assert not (root / "results").exists() and not (root / "logs").exists()


Runner = Callable[..., Outcome]


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Runner:
    """Call with the run's directory and any extra arguments (``"--dry-run"``)."""
    return lambda root, *extra: in_process(root, monkeypatch, capsys, *extra)


# -- the corpus ------------------------------------------------------------------------------


def test_the_valid_skeleton_loads() -> None:
    """Each case fails because of its own files, not because of the skeleton."""
    plan = load_plan(VALID / "base_config.toml", VALID / "agents")
    assert [t.id for t in plan.tests] == ["a", "b"]
    assert [a.id for a in plan.agents] == ["alpha"]


def test_the_corpus_covers_the_issue() -> None:
    assert len(CASES) >= 70
    for name in CASES:
        case = Case.read(name)
        assert case.stderr.startswith("error: ") and "\n" not in case.stderr, name
        # the message names the file (or the agent folder) the case broke
        assert any(path in case.stderr for path in case.touched()), name


@pytest.mark.parametrize("name", CASES)
def test_corpus_case_in_process(name: str, tmp_path: Path, runner: Runner) -> None:
    case = Case.read(name)
    case.lay_out(tmp_path)
    before = snapshot(tmp_path)
    assert_refused(runner(tmp_path), case.stderr, before, tmp_path)


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_corpus_case_as_a_subprocess(name: str, tmp_path: Path) -> None:
    case = Case.read(name)
    case.lay_out(tmp_path)
    before = snapshot(tmp_path)
    assert_refused(as_subprocess(tmp_path), case.stderr, before, tmp_path)


def test_an_api_key_in_place_of_its_name_is_not_echoed(tmp_path: Path, runner: Runner) -> None:
    Case.read("agent-api-key-env-holds-a-key").lay_out(tmp_path)
    outcome = runner(tmp_path)
    assert outcome.code == 2
    assert "sk-live-0123456789abcdef" not in outcome.stderr


# -- generated cases: bytes that are not text, sizes and shapes no one should commit ---------

PREFIX = '{"tests": [{"id": "a", "name": "A", "category": "c", "prompt": "p", "expected": '
"""A suite opening of 80 characters (10 + 2 + 11 + 13 + 17 + 15 + 12): the next is column 81."""


def _write(root: Path, rel: str, data: bytes) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_bytes(data)


GENERATED: list[tuple[str, str, bytes, str]] = [
    (
        "suite-latin-1",
        "suite.json",
        '{"tests": [{"id": "caf\xe9", "name": "A", "category": "c", "prompt": "p"}]}'.encode(
            "latin-1"
        ),
        "error: suite.json: not UTF-8 text: byte 22 is 0xe9; save the file as UTF-8",
    ),
    (
        "suite-utf-16-with-bom",
        "suite.json",
        (VALID / "suite.json").read_text(encoding="utf-8").encode("utf-16"),
        "error: suite.json: not UTF-8 text: the file is UTF-16; save it as UTF-8",
    ),
    (
        "agent-latin-1",
        "agents/alpha.toml",
        'id = "caf\xe9"\n'.encode("latin-1"),
        "error: agents/alpha.toml: not UTF-8 text: byte 9 is 0xe9; save the file as UTF-8",
    ),
    (
        "base-nul-byte",
        "base_config.toml",
        b'[benchmark]\ntest_suite = "suite.json"\x00\n',
        "error: base_config.toml: line 2, column 26: malformed TOML: Expected newline or end of "
        "document after a statement; found the control character '\\x00'",
    ),
    (
        "suite-nested-too-deeply",
        "suite.json",
        b'{"tests": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        # the deepest bracket is the 100000th "[", after the 10 characters of '{"tests": '
        "error: suite.json: line 1 column 100010: malformed JSON: arrays and objects nested "
        "too deeply",
    ),
    (
        "agent-nested-too-deeply",
        "agents/alpha.toml",
        b'id = "alpha"\nstop = ' + b"[" * 5_000 + b"]" * 5_000 + b"\n",
        "error: agents/alpha.toml: line 2, column 5007: malformed TOML: arrays and tables "
        "nested too deeply",
    ),
    (
        "suite-number-with-5000-digits",
        "suite.json",
        PREFIX.encode() + b"9" * 5_000 + b"}]}",
        "error: suite.json: line 1 column 81: malformed JSON: a number with thousands of digits",
    ),
    (
        "agent-number-with-5000-digits",
        "agents/alpha.toml",
        b'id = "alpha"\nretry_attempts = ' + b"9" * 5_000 + b"\n",
        "error: agents/alpha.toml: line 2, column 18: malformed TOML: a number with thousands "
        "of digits",
    ),
]


@pytest.mark.parametrize(
    ("rel", "data", "expected"), [g[1:] for g in GENERATED], ids=[g[0] for g in GENERATED]
)
def test_generated_case_in_process(
    tmp_path: Path, runner: Runner, rel: str, data: bytes, expected: str
) -> None:
    shutil.copytree(VALID, tmp_path, dirs_exist_ok=True)
    _write(tmp_path, rel, data)
    before = snapshot(tmp_path)
    assert_refused(runner(tmp_path), expected, before, tmp_path)


def test_a_suite_that_is_not_utf8_as_a_subprocess(tmp_path: Path) -> None:
    shutil.copytree(VALID, tmp_path, dirs_exist_ok=True)
    _, rel, data, expected = GENERATED[0]
    _write(tmp_path, rel, data)
    before = snapshot(tmp_path)
    assert_refused(as_subprocess(tmp_path), expected, before, tmp_path)


def test_an_agent_file_name_that_is_not_utf8_is_escaped_in_one_line(
    tmp_path: Path, runner: Runner
) -> None:
    shutil.copytree(VALID, tmp_path, dirs_exist_ok=True)
    (tmp_path / "agents" / "alpha.toml").unlink()
    with open(os.path.join(os.fsencode(tmp_path / "agents"), b"\xff.toml"), "wb") as fh:
        fh.write(b'id = "alpha"\ntimeout = "ten"\n')
    before = snapshot(tmp_path)
    expected = (
        "error: agents/\\udcff.toml: field 'timeout': input should be a valid number, got 'ten'"
    )
    assert_refused(runner(tmp_path), expected, before, tmp_path)


def test_a_suite_over_the_size_limit_is_refused_with_its_size(
    tmp_path: Path, runner: Runner
) -> None:
    shutil.copytree(VALID, tmp_path, dirs_exist_ok=True)
    with open(tmp_path / "suite.json", "wb") as fh:
        fh.truncate(70_000_000)  # sparse: the size is refused before a byte is read
    before = {k: v for k, v in snapshot(tmp_path).items() if k != "suite.json"}
    outcome = runner(tmp_path)
    assert outcome.code == 2
    assert outcome.stderr == (
        "error: suite.json: file is 70.0 MB; llmbench reads input files up to 67 MB\n"
    )
    assert {k: v for k, v in snapshot(tmp_path).items() if k != "suite.json"} == before


RSS_PROBE = """
import resource, runpy, sys
sys.argv = sys.argv[1:]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
finally:
    with open("peak_rss_kib", "w") as fh:
        fh.write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
"""


def _fifty_megabytes(root: Path, duplicate_last: bool) -> int:
    """A 50 MB suite of 110,000 tests; the last reuses the first id when ``duplicate_last``."""
    tests = [
        {"id": f"t{i:06d}", "name": "N", "category": "c", "prompt": "x" * 400}
        for i in range(110_000)
    ]
    if duplicate_last:
        tests[-1]["id"] = "t000000"
    (root / "suite.json").write_text(json.dumps({"tests": tests}), encoding="utf-8")
    return (root / "suite.json").stat().st_size


def _run_measured(root: Path, *args: str) -> tuple[Outcome, float, int]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", RSS_PROBE, str(RUNNER), *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    elapsed = time.monotonic() - started
    peak_mib = int((root / "peak_rss_kib").read_text()) // 1024
    (root / "peak_rss_kib").unlink()
    return Outcome(done.returncode, done.stdout, done.stderr), elapsed, peak_mib


def test_a_50_mb_suite_with_a_mistake_is_refused_in_bounded_time_and_memory(
    tmp_path: Path,
) -> None:
    shutil.copytree(VALID, tmp_path, dirs_exist_ok=True)
    size = _fifty_megabytes(tmp_path, duplicate_last=True)
    assert size > 50_000_000
    before = snapshot(tmp_path)
    outcome, elapsed, peak_mib = _run_measured(tmp_path, *ARGS)
    assert_refused(
        outcome,
        "error: suite.json: duplicate test id 't000000' at tests[0] and tests[109999]",
        before,
        tmp_path,
    )
    # measured: about 1.5 s and 250 MiB; the bounds leave room for a slow, shared machine
    assert elapsed < 60
    assert peak_mib < 800


def test_a_valid_50_mb_suite_loads_in_bounded_time_and_memory(tmp_path: Path) -> None:
    shutil.copytree(VALID, tmp_path, dirs_exist_ok=True)
    _fifty_megabytes(tmp_path, duplicate_last=False)
    outcome, elapsed, peak_mib = _run_measured(tmp_path, *ARGS, "--dry-run")
    assert outcome.code == 0, outcome.stderr
    assert "110000 tests x 1 agents x 1 repeats = 110000 tests" in outcome.stdout
    assert elapsed < 60
    assert peak_mib < 800


def test_byte_order_marks_on_every_file_are_accepted(tmp_path: Path, runner: Runner) -> None:
    shutil.copytree(VALID, tmp_path, dirs_exist_ok=True)
    for rel in ("base_config.toml", "agents/alpha.toml", "suite.json"):
        path = tmp_path / rel
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    outcome = runner(tmp_path, "--dry-run")
    assert outcome.code == 0, outcome.stderr
    assert "2 tests x 1 agents x 1 repeats = 2 tests" in outcome.stdout


# -- ids that are not file names: accepted, and sanitised inside the run directory ------------

HOSTILE_TEST_IDS = [
    "../../../escape",
    "a/b",
    "a_b",
    "..",
    ".",
    "\\..\\windows",
    ".hidden",
    "manifest.json",
    "a_b-c14cddc033",  # what "a/b" is cleaned to: it must not take a/b's file
    "z" * 100,
    "ünï/cødé",
]
HOSTILE_AGENT_IDS = ["../../outside", "results.jsonl"]


def test_ids_with_slashes_and_dots_run_and_write_only_inside_the_run_directory(
    tmp_path: Path, server: ScriptedServer
) -> None:
    # the run sits three folders down, so a path that climbed out of it would land in tmp_path
    root = tmp_path / "up" / "up" / "run"
    shutil.copytree(VALID, root)
    tests = [
        {"id": t, "name": f"T{n}", "category": "c", "prompt": f"q{n}", "expected": "4"}
        for n, t in enumerate(HOSTILE_TEST_IDS)
    ]
    (root / "suite.json").write_text(json.dumps({"tests": tests}), encoding="utf-8")
    base = root / "base_config.toml"  # per-test files too: their paths are what is checked
    base.write_text(
        base.read_text().replace("[benchmark]\n", "[benchmark]\nresult_files = true\n", 1)
    )
    (root / "agents" / "alpha.toml").unlink()
    for n, agent_id in enumerate(HOSTILE_AGENT_IDS):
        (root / "agents" / f"agent{n}.toml").write_text(
            f'id = {json.dumps(agent_id)}\nendpoint = "{server.url}/v1"\n'
            'model = "scripted-model"\nretry_attempts = 0\n',
            encoding="utf-8",
        )
    server.set_default(Answer("4"))
    inputs = snapshot(root)
    around = set(snapshot(tmp_path)) - {f"up/up/run/{k}" for k in inputs}

    outcome = as_subprocess(root)

    assert outcome.code == 0, outcome.stderr
    assert "Traceback" not in outcome.stdout + outcome.stderr
    # the inputs are untouched, and nothing new appears but results/ and logs/
    after = snapshot(root)
    assert {k: v for k, v in after.items() if k in inputs} == inputs
    new = [k for k in after if k not in inputs]
    assert new and all(k.split("/")[0] in ("results", "logs") for k in new), new
    assert set(snapshot(tmp_path)) - {f"up/up/run/{k}" for k in after} == around
    (run_dir,) = (root / "results").iterdir()
    for path in run_dir.rglob("*"):
        assert path.resolve().is_relative_to(run_dir.resolve())
        assert len(path.name) <= 120
    # one result file per agent and test, one folder per agent, each holding its own ids
    saved = set()
    for agent_dir in (p for p in run_dir.iterdir() if p.is_dir()):
        files = sorted(agent_dir.glob("*-r0.json"))
        assert len(files) == len(HOSTILE_TEST_IDS), agent_dir
        for f in files:
            data = json.loads(f.read_text(encoding="utf-8"))
            saved.add((data["agent_id"], data["test_id"]))
    assert saved == {(a, t) for a in HOSTILE_AGENT_IDS for t in HOSTILE_TEST_IDS}
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "completed"
