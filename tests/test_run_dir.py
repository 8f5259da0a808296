"""The run directory: journal round trip, torn lines, supersession, pending keys, safe names,
and no secrets in any file."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from llmbench import redact
from llmbench.errors import ResultsError
from llmbench.result import TestResult
from llmbench.store.run_dir import JournalEntry, RunDirectory, new_run_id


def result(test_id: str = "t1", status: str = "ok", **fields: Any) -> TestResult:
    values: dict[str, Any] = {
        "test_id": test_id,
        "test_name": f"Test {test_id}",
        "success": status == "ok",
        "response_text": "x" if status == "ok" else "",
        "execution_time": 1.0,
        "status": status,
    }
    values.update(fields)
    return TestResult(**values)


def entry(
    agent: str = "a", test_id: str = "t1", repeat: int = 0, status: str = "ok", **fields: Any
) -> JournalEntry:
    return JournalEntry(agent, test_id, repeat, result(test_id, status, **fields))


@pytest.fixture
def run(tmp_path: Path) -> RunDirectory:
    run = RunDirectory.create(tmp_path / "results", "run1")
    run.write_manifest({"status": "running"})
    return run


def test_entries_round_trip_through_the_journal(run: RunDirectory) -> None:
    transcript = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    written = [
        JournalEntry(
            "agent-1",
            "t1",
            0,
            result("t1", prompt_tokens=3, api_response={"id": "x"}, tokens_per_second=2.5),
            transcript,
        ),
        entry("agent-1", "t2", 1, status="error", error_message="boom", http_status=500),
        entry("agent-2", "t1", 0, status="cancelled", error_kind="cancelled"),
    ]
    with run:
        for e in written:
            run.append(e)
    assert run.read_journal() == written
    assert len(run.journal_path.read_text().splitlines()) == 3


def test_json_line_flattens_every_result_field_and_names_test_id_once() -> None:
    e = JournalEntry("ag", "t1", 2, result("t1", model="m"), [{"role": "user", "content": "q"}])
    line = e.to_json_line()
    assert "\n" not in line
    assert line.count('"test_id"') == 1
    data = json.loads(line)
    names = [f.name for f in dataclasses.fields(TestResult)]
    assert list(data) == ["agent_id", "test_id", "repeat", "transcript"] + [
        n for n in names if n != "test_id"
    ]
    assert data["agent_id"] == "ag"
    assert data["repeat"] == 2
    assert data["model"] == "m"
    assert data["transcript"] == [{"role": "user", "content": "q"}]
    assert JournalEntry.from_dict(data) == e


def test_entry_keys_do_not_collide_with_result_fields() -> None:
    names = {f.name for f in dataclasses.fields(TestResult)}
    assert not names & {"agent_id", "repeat", "transcript"}


def test_entry_refuses_a_result_of_another_test() -> None:
    with pytest.raises(ValueError, match="'t2' holds the result of test 't1'"):
        JournalEntry("a", "t2", 0, result("t1"))


def test_key_is_agent_test_repeat() -> None:
    assert entry("a", "t9", 3).key == ("a", "t9", 3)


def test_per_test_file_holds_result_agent_repeat_and_transcript(run: RunDirectory) -> None:
    e = JournalEntry("agent-1", "t1", 4, result("t1"), [{"role": "user", "content": "q"}])
    with run:
        run.append(e)
    path = run.path / "agent-1" / "t1-r4.json"
    assert run.result_file("agent-1", "t1", 4) == path
    data = json.loads(path.read_text())
    assert data == e.to_dict()
    assert {f.name for f in dataclasses.fields(TestResult)} <= set(data)
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".tmp-")]


def test_torn_last_line_is_ignored_with_a_warning(
    run: RunDirectory, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logging.getLogger("llmbench"), "propagate", True)
    with run:
        run.append(entry(test_id="t1"))
        run.append(entry(test_id="t2"))
    whole = entry(test_id="t3").to_json_line()
    with open(run.journal_path, "a", encoding="utf-8") as fh:
        fh.write(whole[: len(whole) // 2])
    with caplog.at_level(logging.WARNING, logger="llmbench.store.run_dir"):
        entries = run.read_journal()
    assert [e.test_id for e in entries] == ["t1", "t2"]
    assert "torn last line 3" in caplog.text
    assert str(run.journal_path) in caplog.text


def test_append_after_a_torn_line_starts_a_fresh_line(run: RunDirectory) -> None:
    with run:
        run.append(entry(test_id="t1"))
    with open(run.journal_path, "a", encoding="utf-8") as fh:
        fh.write('{"agent_id": "a", "test_id": "t2", "rep')
    resumed = RunDirectory.open(run.path)
    with resumed:
        resumed.append(entry(test_id="t2"))
    assert [e.test_id for e in resumed.read_journal()] == ["t1", "t2"]
    assert len(run.journal_path.read_text().splitlines()) == 2


def test_append_after_a_complete_line_without_newline_keeps_it(run: RunDirectory) -> None:
    run.journal_path.write_text(entry(test_id="t1").to_json_line())
    with run:
        run.append(entry(test_id="t2"))
    assert [e.test_id for e in run.read_journal()] == ["t1", "t2"]


def test_torn_middle_line_is_an_error_naming_file_and_line(run: RunDirectory) -> None:
    lines = [entry(test_id=t).to_json_line() for t in ("t1", "t2", "t3")]
    lines[1] = lines[1][:20]
    run.journal_path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ResultsError, match=r"results\.jsonl: line 2: ") as info:
        run.read_journal()
    assert str(run.journal_path) in str(info.value)


def test_missing_journal_reads_as_empty(run: RunDirectory) -> None:
    assert run.read_journal() == []
    assert run.final_entries() == {}


def test_later_entry_supersedes_earlier(run: RunDirectory) -> None:
    with run:
        run.append(entry("a", "t1", 0, status="error", error_message="503"))
        run.append(entry("a", "t2", 0))
        run.append(entry("a", "t1", 0, status="ok"))
    final = run.final_entries()
    assert set(final) == {("a", "t1", 0), ("a", "t2", 0)}
    assert final[("a", "t1", 0)].result.status == "ok"
    # the journal keeps the history; the per-test file holds the latest result
    assert len(run.read_journal()) == 3
    saved = json.loads((run.path / "a" / "t1-r0.json").read_text())
    assert saved["status"] == "ok"
    assert saved["error_message"] is None


def test_pending_with_and_without_retry_errors(run: RunDirectory) -> None:
    keys = [("a", "ok", 0), ("a", "err", 0), ("a", "cancel", 0), ("a", "new", 0), ("b", "ok", 0)]
    with run:
        run.append(entry("a", "ok", 0))
        run.append(entry("a", "err", 0, status="error"))
        run.append(entry("a", "cancel", 0, status="cancelled"))
        run.append(entry("b", "ok", 0, status="error"))
        run.append(entry("b", "ok", 0, status="ok"))
    assert run.pending(keys, retry_errors=False) == [("a", "cancel", 0), ("a", "new", 0)]
    assert run.pending(keys, retry_errors=True) == [
        ("a", "err", 0),
        ("a", "cancel", 0),
        ("a", "new", 0),
    ]
    assert run.pending(reversed(keys), retry_errors=False) == [("a", "new", 0), ("a", "cancel", 0)]


def test_pending_distinguishes_repeats_and_lists_each_key_once(run: RunDirectory) -> None:
    with run:
        run.append(entry("a", "t1", 0))
    keys = [("a", "t1", 0), ("a", "t1", 1), ("a", "t1", 1)]
    assert run.pending(keys, retry_errors=True) == [("a", "t1", 1)]


HOSTILE = ["../../x", "a/b", "a_b", "y" * 300, "nul\0byte", "..", ".", "", "\\..\\w", "\ud800"]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_agent_and_test_ids_stay_inside_the_run_directory(
    tmp_path: Path, hostile: str
) -> None:
    run = RunDirectory.create(tmp_path / "results", "run1")
    run.write_manifest({})
    with run:
        run.append(JournalEntry(hostile, "t", 0, result("t")))
        run.append(JournalEntry("agent", hostile, 0, result(hostile)))
        run.append(JournalEntry(hostile, hostile, 1, result(hostile)))
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 5  # manifest, journal and three result files
    for path in files:
        assert path.resolve().is_relative_to(run.path)
        assert len(path.name) <= 120
    assert [e.key for e in run.read_journal()] == [
        (hostile, "t", 0),
        ("agent", hostile, 0),
        (hostile, hostile, 1),
    ]
    saved = json.loads(run.result_file(hostile, hostile, 1).read_text())
    assert (saved["agent_id"], saved["test_id"]) == (hostile, hostile)


def test_ids_that_clean_up_alike_get_different_files(run: RunDirectory) -> None:
    with run:
        run.append(JournalEntry("a/b", "t", 0, result("t")))
        run.append(JournalEntry("a_b", "t", 0, result("t")))
    assert run.result_file("a/b", "t", 0) != run.result_file("a_b", "t", 0)
    assert len(list(run.path.rglob("t-r0.json"))) == 2


@pytest.mark.parametrize("agent", ["manifest.json", "results.jsonl", "summary.json", "run.log"])
def test_an_agent_named_like_a_run_file_does_not_take_its_place(
    run: RunDirectory, agent: str
) -> None:
    with run:
        run.append(JournalEntry(agent, "t", 0, result("t")))
    assert run.manifest_path.is_file()
    assert run.journal_path.is_file()
    assert not (run.path / agent).is_dir()
    assert run.result_file(agent, "t", 0).is_file()


def test_create_refuses_an_existing_directory(tmp_path: Path) -> None:
    RunDirectory.create(tmp_path, "run1")
    with pytest.raises(ResultsError, match="the run directory already exists") as info:
        RunDirectory.create(tmp_path, "run1")
    assert str(tmp_path / "run1") in str(info.value)


@pytest.mark.parametrize("run_id", ["../escape", "a/b", "..", ""])
def test_create_refuses_an_unsafe_run_id(tmp_path: Path, run_id: str) -> None:
    with pytest.raises(ResultsError, match="unsafe run id"):
        RunDirectory.create(tmp_path / "results", run_id)
    assert not (tmp_path / "escape").exists()


def test_create_makes_results_dir_and_a_fresh_run_id(tmp_path: Path) -> None:
    run = RunDirectory.create(tmp_path / "deep" / "results")
    assert run.path.is_dir()
    assert run.path.parent == (tmp_path / "deep" / "results").resolve()
    assert run.run_id == run.path.name
    assert list(run.path.iterdir()) == []


def test_open_on_a_non_run_directory_names_the_path(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    with pytest.raises(ResultsError, match=r"plain: not a run directory \(no manifest\.json\)"):
        RunDirectory.open(tmp_path / "plain")
    with pytest.raises(ResultsError, match="missing: not a run directory"):
        RunDirectory.open(tmp_path / "missing")


def test_open_resumes_a_run(run: RunDirectory) -> None:
    with run:
        run.append(entry(test_id="t1"))
    resumed = RunDirectory.open(run.path)
    assert resumed.run_id == "run1"
    assert resumed.path == run.path
    assert resumed.read_manifest() == {"status": "running"}
    with resumed:
        resumed.append(entry(test_id="t2"))
    assert [e.test_id for e in resumed.read_journal()] == ["t1", "t2"]


def test_set_status_updates_the_manifest_and_keeps_other_keys(run: RunDirectory) -> None:
    run.write_manifest({"run_id": "run1", "status": "running", "agents": ["a"]})
    run.set_status("completed", ended_at="2026-11-21T10:40:00Z")
    assert run.read_manifest() == {
        "run_id": "run1",
        "status": "completed",
        "agents": ["a"],
        "ended_at": "2026-11-21T10:40:00Z",
    }
    assert not [p for p in run.path.iterdir() if p.name.startswith(".tmp-")]


def test_set_status_refuses_an_unknown_status(run: RunDirectory) -> None:
    with pytest.raises(ValueError, match="unknown run status 'done'"):
        run.set_status("done")  # type: ignore[arg-type]


def test_run_ids_sort_by_time() -> None:
    start = datetime(2026, 11, 21, 10, 30, 0, tzinfo=UTC)
    times = [
        start + timedelta(days=40),
        start,
        start + timedelta(seconds=1),
        # 11:29:59 in UTC+1 is 10:29:59 UTC: one second before start
        datetime(2026, 11, 21, 11, 29, 59, tzinfo=timezone(timedelta(hours=1))),
        start + timedelta(hours=5),
    ]
    ids = [new_run_id(t) for t in times]
    assert ids[1].startswith("20261121T103000Z-")
    assert ids[3].startswith("20261121T102959Z-")
    assert sorted(ids) == [ids[i] for i in sorted(range(len(times)), key=lambda i: times[i])]
    for run_id in [*ids, new_run_id()]:
        assert run_id.replace("-", "").isalnum() and run_id.isascii()
        assert len(run_id.split("-")[1]) == 6
    assert len({new_run_id(start) for _ in range(20)}) > 1


def test_concurrent_appends_each_write_a_whole_line(run: RunDirectory) -> None:
    def work(agent: str) -> None:
        for i in range(25):
            run.append(entry(agent, f"t{i}", 0, response_text="z" * 5000))

    threads = [threading.Thread(target=work, args=(f"agent{n}",)) for n in range(4)]
    with run:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(run.final_entries()) == 100


def test_registered_secret_reaches_no_file(run: RunDirectory) -> None:
    secret = "sk-secret-value-123"
    redact.register([secret])
    run.write_manifest({"status": "running", "note": f"key {secret}"})
    run.set_status("failed", reason=f"server said {secret}")
    with run:
        run.append(
            JournalEntry(
                "a",
                "t1",
                0,
                result("t1", "error", error_message=f"401: invalid key {secret}"),
                [{"role": "user", "content": secret}],
            )
        )
    texts = {p: p.read_text() for p in run.path.rglob("*") if p.is_file()}
    assert set(texts) == {run.manifest_path, run.journal_path, run.result_file("a", "t1", 0)}
    for path, text in texts.items():
        assert secret not in text, path
        assert "***" in text, path
    assert run.read_journal()[0].result.error_message == "401: invalid key ***"
