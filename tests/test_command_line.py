"""The command line as a new user meets it: every option in both spellings, ``--version``, bare
``llmbench``, ``runner.py`` run by a Python without llmbench's dependencies, and a resume hint
that works when pasted (``llmbench run``'s here; ``runner.py``'s is in test_runner_e2e.py)."""

from __future__ import annotations

import argparse
import importlib.metadata
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import llmbench
from llmbench.cli.command_line import shown_path, shown_program
from llmbench.cli.main import build_parser, main
from llmbench.cli.run import build_runner_parser
from tests.conftest import REPO, RUNNER, make_test
from tests.scripted_server import Answer, ScriptedServer
from tests.test_runner_e2e import _agent, _base_config, _journal, _suite, _wait_for_lines

LLMBENCH_SCRIPT = Path(sys.executable).parent / "llmbench"


def _parsers() -> dict[str, tuple[argparse.ArgumentParser, list[str]]]:
    """Each command's parser, and what comes before its options: ``runner.py``, ``llmbench``,
    and every subcommand of ``llmbench`` (parsed through the top parser, as users do)."""
    top = build_parser()
    found = {"runner.py": (build_runner_parser(), []), "llmbench": (top, [])}
    for action in top._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[f"llmbench {name}"] = (sub, [name])
    return found


PARSERS = _parsers()
OPTIONS = [
    (command, option)
    for command, (parser, _) in PARSERS.items()
    for action in parser._actions
    for option in action.option_strings
    if option.startswith("--") and ("_" in option[2:] or "-" in option[2:])
]
"""Every long option with two words or more, of every command: (command, declared spelling)."""


def _other(option: str) -> str:
    """The other spelling: ``--base_config`` <-> ``--base-config``."""
    body = option[2:]
    return "--" + (body.replace("_", "-") if "_" in body else body.replace("-", "_"))


def _value(action: argparse.Action) -> list[str]:
    if action.nargs == 0:
        return []
    return [str(next(iter(action.choices)))] if action.choices else ["1"]


def _parse(command: str, *args: str) -> dict[str, object]:
    """``args`` parsed by ``command``'s top parser, with every required argument filled in."""
    parser, before = PARSERS[command]
    required: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            continue
        if not action.option_strings:  # positionals
            required += _value(action) if action.choices else ["RUN"]
        elif action.required and action.option_strings[0] not in args:
            required += [action.option_strings[0], *_value(action)]
    top = PARSERS["runner.py" if command == "runner.py" else "llmbench"][0]
    return vars(top.parse_args([*before, *args, *required]))


def test_the_options_every_user_types_are_among_those_checked() -> None:
    runner = {option for command, option in OPTIONS if command == "runner.py"}
    assert {
        "--base_config",
        "--agent_config",
        "--log_level",
        "--dry-run",
        "--retry-errors",
        "--no-cache",
    } <= runner
    assert {command for command, _ in OPTIONS} >= {
        "runner.py",
        "llmbench run",
        "llmbench score",
        "llmbench show",
        "llmbench validate",
        "llmbench list",
    }


@pytest.mark.parametrize(("command", "option"), OPTIONS, ids=[" ".join(o) for o in OPTIONS])
def test_every_option_takes_both_spellings(command: str, option: str) -> None:
    parser, _ = PARSERS[command]
    (action,) = [a for a in parser._actions if option in a.option_strings]
    value = _value(action)
    declared = _parse(command, option, *value)
    assert declared != _parse(command), "the option changed nothing: a test that cannot fail"
    assert _parse(command, _other(option), *value) == declared
    if value:
        assert _parse(command, f"{_other(option)}={value[0]}") == declared


@pytest.mark.parametrize(("command", "option"), OPTIONS, ids=[" ".join(o) for o in OPTIONS])
def test_help_shows_the_declared_spelling_only(command: str, option: str) -> None:
    text = PARSERS[command][0].format_help()
    assert option in text
    assert _other(option) not in text


def test_an_abbreviation_of_the_declared_spelling_still_works() -> None:
    # with both spellings registered, argparse would call --base ambiguous
    assert _parse("runner.py", "--base", "b.toml")["base_config"] == "b.toml"


def test_a_spelling_after_a_bare_double_dash_is_left_alone() -> None:
    parser = PARSERS["llmbench"][0]
    args = parser.parse_args(["show", "RUN", "--", "--dry_run"])
    assert args.test_ids == ["--dry_run"]


def test_llmbench_version_is_the_installed_package_version(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    installed = importlib.metadata.version("llmbench")
    assert capsys.readouterr().out == f"llmbench {installed}\n"
    assert installed == llmbench.__version__  # pyproject.toml and the package agree


def test_runner_version(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(RUNNER), "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout, done.stderr) == (
        0,
        f"llmbench {llmbench.__version__}\n",
        "",
    )


def test_bare_llmbench_prints_the_help_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out, err = capsys.readouterr()
    assert out == build_parser().format_help()
    assert "{run,score,report,show,validate,list" in out and err == ""


@pytest.mark.parametrize("where", ["repo", "elsewhere"])
def test_runner_without_the_dependencies_says_how_to_install_in_one_line(
    tmp_path: Path, where: str
) -> None:
    # -I -S: no site-packages at all, as a system python3 without aiohttp or pydantic
    cwd = REPO if where == "repo" else tmp_path
    done = subprocess.run(
        [sys.executable, "-I", "-S", str(RUNNER)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    prefix = "" if where == "repo" else f"{REPO}/"
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        f"error: {sys.executable}: llmbench's dependencies are not installed "
        "(no module named 'pydantic'); "
        f"install llmbench with `bash {prefix}scripts/install.sh`, "
        f"then run `{prefix}.venv/bin/python {prefix}runner.py`\n"
    )


def test_an_interrupted_llmbench_run_prints_a_resume_command_that_works(
    tmp_path: Path, server: ScriptedServer
) -> None:
    _suite(tmp_path, [make_test(f"t{i:02d}") for i in range(30)])
    _base_config(tmp_path, server.url + "/v1", server.url + "/v1")
    _agent(tmp_path, "alpha", server.url + "/v1", "max_concurrency = 2")
    server.set_default(Answer(ttft_s=0.05))
    command = [str(LLMBENCH_SCRIPT), "run", "--base-config", "base_config.toml"]
    proc = subprocess.Popen(
        [*command, "--agent-config", "agents"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    run_dir = _wait_for_lines(tmp_path / "results", 4, proc)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    (hint,) = [line for line in err.splitlines() if line.startswith("interrupted; resume")]
    # not on PATH here, so the script as a path; `llmbench run` when it is
    assert hint == (
        f"interrupted; resume with: {LLMBENCH_SCRIPT} run --resume results/{run_dir.name}"
    )
    started = time.monotonic()
    done = subprocess.run(
        hint.removeprefix("interrupted; resume with: "),
        shell=True,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 60
    assert {e["test_id"] for e in _journal(run_dir) if e["status"] == "ok"} == {
        f"t{i:02d}" for i in range(30)
    }


def test_a_program_on_path_is_shown_by_name_and_others_by_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    program = bin_dir / "tool"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    other = tmp_path / "venv" / "bin" / "tool"
    other.parent.mkdir(parents=True)
    other.write_text("#!/bin/sh\n")
    other.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.chdir(tmp_path)
    assert shown_program(program) == "tool"  # the one PATH finds
    assert shown_program(other) == "venv/bin/tool"  # PATH finds another one
    monkeypatch.chdir(other.parent)
    assert shown_program(other) == "./tool"  # a bare name would be looked up on PATH
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert shown_program(other) == str(other)  # outside the current directory: absolute
    assert shown_path(tmp_path / "a b") == f"'{tmp_path / 'a b'}'"  # quoted for a shell


def test_output_cut_short_by_its_reader_is_no_traceback(tmp_path: Path) -> None:
    # enough tests that the listing overflows the pipe's buffer after the reader has gone
    _suite(tmp_path, [make_test(f"t{i:05d}", name="x" * 60) for i in range(3000)])
    _base_config(tmp_path, "http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1")
    _agent(tmp_path, "alpha", "http://127.0.0.1:9/v1")
    proc = subprocess.Popen(
        [str(LLMBENCH_SCRIPT), "list", "tests", "--agent_config", "agents"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().startswith("t00000")
    proc.stdout.close()  # as `| head -1` does
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and err == "", err
