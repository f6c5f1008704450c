"""The store: exact round trips, idempotence, resumability after kill -9, readers beside a writer."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Callable, cast

import pytest

from codebudget.backends.base import Generation
from codebudget.errors import UserError
from codebudget.sandbox.verdict import Status, Verdict
from codebudget.store import (
    SCHEMA_VERSION, GeneratedProgram, RunStatus, Store, Unjudged, run_id_for,
)

CONFIG = {"model": "tiny", "benchmark": "humaneval", "decoding": {"temperature": 0.2, "n": 10}}

# Shared by the test process and the writer subprocesses it starts (and kills).
CHILD_DEFS = r'''
from codebudget.backends.base import Generation

def make_generation(i):
    return Generation(
        task_id=f"Task/{i}", sample=i % 7, text=f"def f():\n    return {i}  # é🙂\n" * 50,
        prompt_tokens=100 + i, completion_tokens=4000,
        token_ids=tuple((i * 7919 + k) % 2**32 for k in range(4000)),
        token_times=tuple(0.001 * k + i for k in range(4000)),
        ttft_s=0.5, seconds=4.0, finish_reason="stop", peak_rss_bytes=2**33, extra={"i": i})
'''

CHILD_MAIN = r'''
import sys
from codebudget.store import Store
path, mode, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
store = Store(path)
store.ensure_run("crashrun", {"k": 1}, 10**6, {"engine": "test"}, {})
for i in range(limit):
    if mode == "die-at-commit" and i == limit - 1:
        # the last sample is in flight: the INSERT has run, the process dies as COMMIT starts
        import os, signal
        store._conn.set_trace_callback(
            lambda sql: os.kill(os.getpid(), signal.SIGKILL) if sql.startswith("COMMIT") else None)
    g = make_generation(i)
    store.add_generation("crashrun", g, g.text, f"sha-{i}", flops=1e12)
    print(i, flush=True)
'''

namespace: dict[str, object] = {}
exec(CHILD_DEFS, namespace)
make_generation = cast(Callable[[int], Generation], namespace["make_generation"])


def start_writer(path: Path, mode: str, limit: int) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", CHILD_DEFS + CHILD_MAIN, str(path), mode, str(limit)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def expected_done(k: int) -> set[tuple[str, int]]:
    return {(f"Task/{i}", i % 7) for i in range(k)}


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "codebudget.db") as s:
        yield s


def full_generation(task_id: str = "HumanEval/0", sample: int = 0) -> Generation:
    return Generation(
        task_id=task_id, sample=sample, text="def f():\n\treturn 'ü日本🙂\x00'\n",
        prompt_tokens=123, completion_tokens=100_000,
        token_ids=tuple(range(99_999)) + (2**32 - 1,),
        token_times=tuple(k * 0.000123 for k in range(100_000)),
        ttft_s=0.25, seconds=12.5, finish_reason="length", peak_rss_bytes=3 * 2**30,
        peak_gpu_bytes=70 * 2**30, energy_j=1234.5, extra={"model": "x", "nested": [1, "ü"]})


def verdict(h: str, status: Status = Status.PASS) -> Verdict:
    return Verdict(status=status, error_type=None if status is Status.PASS else "AssertionError",
                   detail="ok" if status is Status.PASS else "assert f(1) == 2 ✗",
                   seconds=0.02, cpu_s=0.01, program_hash=h)


def new_run(store: Store, config: dict = CONFIG, **kw) -> str:
    run_id = run_id_for(config)
    store.ensure_run(run_id, config, planned=10, backend={"engine": "fake"}, machine={"cpus": 4}, **kw)
    return run_id


# round trips


def test_every_field_round_trips(store: Store) -> None:
    run_id = new_run(store)
    g = full_generation()
    assert store.add_generation(run_id, g, "def f(): pass", "h" * 64, flops=3.5e14)
    (stored,) = store.generations(run_id)
    assert stored.generation == g
    assert (stored.run_id, stored.program, stored.program_sha256, stored.flops) == (
        run_id, "def f(): pass", "h" * 64, 3.5e14)
    assert (stored.task_id, stored.sample) == ("HumanEval/0", 0)
    assert stored.created_at.tzinfo is not None


def test_none_and_empty_fields_round_trip(store: Store) -> None:
    run_id = new_run(store)
    bare = Generation(task_id="t", sample=0, text="", prompt_tokens=None, completion_tokens=None)
    empty = Generation(task_id="t", sample=1, text="x", prompt_tokens=0, completion_tokens=0,
                       token_ids=(), token_times=())
    store.add_generation(run_id, bare, "", "a", flops=None)
    store.add_generation(run_id, empty, "x", "b")
    got = {s.sample: s for s in store.generations(run_id)}
    assert got[0].generation == bare and got[0].flops is None
    assert got[1].generation == empty
    assert got[0].generation.token_ids is None and got[1].generation.token_ids == ()


def test_run_record_round_trips(store: Store) -> None:
    record = store.ensure_run("r1", CONFIG, planned=1640, backend={"engine": "llamacpp", "v": "b1"},
                              machine={"gpu": "H100"}, label="first ü")
    assert (record.run_id, record.config, record.planned, record.label) == ("r1", CONFIG, 1640, "first ü")
    assert (record.backend, record.machine, record.status) == (
        {"engine": "llamacpp", "v": "b1"}, {"gpu": "H100"}, RunStatus.RUNNING)
    assert store.run("r1") == record


# identity and idempotence


def test_run_id_is_stable_and_sensitive() -> None:
    reordered = {"decoding": {"n": 10, "temperature": 0.2}, "benchmark": "humaneval", "model": "tiny"}
    assert run_id_for(CONFIG) == run_id_for(reordered)
    assert len(run_id_for(CONFIG)) == 16 and int(run_id_for(CONFIG), 16) >= 0
    changed = json.loads(json.dumps(CONFIG))
    changed["decoding"]["temperature"] = 0.3
    assert run_id_for(changed) != run_id_for(CONFIG)
    assert run_id_for({**CONFIG, "label": None}) != run_id_for(CONFIG)


def test_ensure_run_is_idempotent_and_keeps_where_it_was_measured(store: Store) -> None:
    first = store.ensure_run("r", CONFIG, 10, {"engine": "a", "n_threads": 1, "load_seconds": 0.3},
                             {"host": "x"}, label="keep")
    store.set_status("r", RunStatus.INTERRUPTED)
    # the same setting again (only the load time differs): nothing to add
    same = store.ensure_run("r", CONFIG, 10, {"engine": "a", "n_threads": 1, "load_seconds": 0.9}, {"host": "x"})
    assert (same.backend, same.machine) == (first.backend, first.machine)
    again = store.ensure_run("r", dict(reversed(list(CONFIG.items()))), 10, {"engine": "a", "n_threads": 2},
                             {"host": "y"})
    store.ensure_run("r", CONFIG, 10, {"engine": "a", "n_threads": 2}, {"host": "y"})  # seen before
    assert [r.run_id for r in store.runs()] == ["r"]
    assert again.created_at == first.created_at and again.updated_at >= first.updated_at
    # the first description stays (its samples were measured there); the resume is recorded beside it
    assert store.run("r").backend == {"engine": "a", "n_threads": 1, "load_seconds": 0.3,
                                      "resumed_with": [{"engine": "a", "n_threads": 2}]}
    assert store.run("r").machine == {"host": "x", "resumed_with": [{"host": "y"}]}
    assert (again.label, again.status) == ("keep", RunStatus.RUNNING)
    with pytest.raises(ValueError, match="different configuration"):
        store.ensure_run("r", {"other": 1}, 10, {}, {})


def test_add_generation_is_idempotent(store: Store) -> None:
    run_id = new_run(store)
    g = full_generation()
    assert store.add_generation(run_id, g, "p1", "h1") is True
    redone = Generation(task_id=g.task_id, sample=g.sample, text="different", prompt_tokens=1,
                        completion_tokens=1)
    assert store.add_generation(run_id, redone, "p2", "h2") is False
    (stored,) = store.generations(run_id)
    assert stored.generation == g and stored.program == "p1"
    batch = [GeneratedProgram(Generation("t", i, "x", 1, 1), "x", "hx") for i in range(5)]
    assert store.add_generations(run_id, batch) == 5
    assert store.add_generations(run_id, batch + [GeneratedProgram(Generation("t", 5, "x", 1, 1), "x", "hx")]) == 1
    assert len(store.done_samples(run_id)) == 7


def test_generation_for_unknown_run_is_refused(store: Store) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        store.add_generation("nope", full_generation(), "p", "h")
    assert store.generations("nope") == []


def test_done_samples_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store(path) as store:
        run_id = new_run(store)
        for i in range(3):
            store.add_generation(run_id, Generation("HumanEval/1", i, "x", 1, 1), "x", f"h{i}")
    with Store(path) as store:
        assert store.ensure_run(run_id, CONFIG, 10, {}, {}).run_id == run_id
        assert store.done_samples(run_id) == {("HumanEval/1", 0), ("HumanEval/1", 1), ("HumanEval/1", 2)}
        assert store.done_samples("other") == set()


# verdicts


def test_verdicts_are_shared_across_runs(store: Store) -> None:
    a = new_run(store, CONFIG)
    b = new_run(store, {**CONFIG, "model": "other"})
    for run_id in (a, b):
        store.add_generation(run_id, Generation("T/0", 0, "same", 1, 1), "same", "shared")
        store.add_generation(run_id, Generation("T/1", 0, run_id, 1, 1), run_id, f"own-{run_id}")
    assert store.missing_verdicts(a) == [Unjudged("T/0", 0, "same", "shared"), Unjudged("T/1", 0, a, f"own-{a}")]
    assert store.add_verdicts([verdict("shared")]) == 1
    assert store.missing_verdicts(a) == [Unjudged("T/1", 0, a, f"own-{a}")]
    assert [u.program_sha256 for u in store.missing_verdicts(b)] == [f"own-{b}"]
    assert store.add_verdicts([verdict("shared", Status.FAIL), verdict(f"own-{a}", Status.FAIL)]) == 1
    assert store.verdicts_for(["shared", f"own-{a}", "unknown"]) == {
        "shared": verdict("shared"), f"own-{a}": verdict(f"own-{a}", Status.FAIL)}
    summary = {r.run_id: (r.generated, r.judged) for r in store.runs()}
    assert summary == {a: (2, 2), b: (2, 1)}


def test_results_join_generations_and_verdicts(store: Store) -> None:
    run_id = new_run(store)
    store.add_generation(run_id, Generation("T/0", 0, "a", 1, 1), "a", "ha")
    store.add_generation(run_id, Generation("T/0", 1, "b", 1, 1), "b", "hb")
    store.add_verdicts([verdict("ha", Status.TIMEOUT)])
    first, second = store.results(run_id)
    assert first.verdict == verdict("ha", Status.TIMEOUT) and not first.passed
    assert first.generation.program == "a"
    assert second.verdict is None and not second.passed


def test_verdicts_for_many_hashes(store: Store) -> None:
    hashes = [f"{i:064x}" for i in range(1200)]
    store.add_verdicts(verdict(h) for h in hashes)
    assert store.verdicts_for(hashes + ["missing"]).keys() == set(hashes)


# runs: status, listing, lookup


def test_status_and_find_run(store: Store) -> None:
    store.ensure_run("abc123", {"a": 1}, 1, {}, {}, label="alpha")
    store.ensure_run("abd456", {"a": 2}, 1, {}, {})
    store.set_status("abc123", RunStatus.COMPLETE)
    assert store.find_run("abc").status is RunStatus.COMPLETE
    assert store.find_run("abd456").run_id == "abd456"
    assert store.find_run("alpha").run_id == "abc123"
    with pytest.raises(UserError, match="matches 2 runs") as ambiguous:
        store.find_run("ab")
    assert "abc123" in str(ambiguous.value) and "abd456" in str(ambiguous.value)
    with pytest.raises(UserError, match="no run matches"):
        store.find_run("zzz")
    with pytest.raises(UserError):
        store.find_run("")
    with pytest.raises(UserError):
        store.set_status("zzz", RunStatus.COMPLETE)
    with pytest.raises(ValueError):
        store.set_status("abc123", "finished")
    assert [(r.run_id, r.status) for r in store.runs()] == [
        ("abc123", RunStatus.COMPLETE), ("abd456", RunStatus.RUNNING)]


# opening files


def test_new_store_is_wal_full_sync_version_1(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "dir" / "new.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)] == [(1,)]
    conn.close()


def test_newer_schema_is_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_version VALUES (99, 'future')")
    conn.commit()
    conn.close()
    with pytest.raises(UserError, match="schema version 99"):
        Store(path)
    with pytest.raises(UserError, match="schema version 99"):
        Store(path, readonly=True)


def test_non_sqlite_file_is_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(UserError, match="not a codebudget store"):
        Store(path)
    assert path.read_text().startswith("these are my notes")


def test_other_sqlite_database_is_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE people (name TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(UserError, match="not a codebudget store"):
        Store(path)


def test_read_only_store(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no codebudget store"):
        Store(tmp_path / "missing.db", readonly=True)
    assert not (tmp_path / "missing.db").exists()
    with pytest.raises(UserError, match="directory"):
        Store(tmp_path)
    with Store(tmp_path / "s.db") as writer:
        run_id = new_run(writer)
    with Store(tmp_path / "s.db", readonly=True) as reader:
        assert reader.run(run_id).config == CONFIG
        with pytest.raises(PermissionError):
            reader.set_status(run_id, RunStatus.COMPLETE)


# crashes and concurrency


def test_kill_9_loses_at_most_the_sample_in_flight(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    child = start_writer(path, "loop", 100_000)
    assert child.stdout is not None
    printed = [int(child.stdout.readline()) for _ in range(25)]
    child.send_signal(signal.SIGKILL)
    rest, _ = child.communicate()
    assert child.returncode == -signal.SIGKILL
    printed += [int(line) for line in rest.split()]
    assert printed == list(range(len(printed)))
    with Store(path) as store:
        assert store._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        done = store.done_samples("crashrun")
        k = len(done)
        assert len(printed) <= k <= len(printed) + 1  # the print after the last commit may be lost
        assert done == expected_done(k)
        for stored in store.generations("crashrun"):
            i = int(stored.task_id.split("/")[1])
            assert stored.generation == make_generation(i) and stored.program_sha256 == f"sha-{i}"


def test_kill_during_commit_loses_only_that_sample_and_resumes(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    child = start_writer(path, "die-at-commit", 6)
    out, err = child.communicate()
    assert child.returncode == -signal.SIGKILL, err
    assert out.split() == ["0", "1", "2", "3", "4"]
    with Store(path) as store:
        assert store._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert store.done_samples("crashrun") == expected_done(5)
        store.ensure_run("crashrun", {"k": 1}, 10**6, {"engine": "test"}, {})
        g = make_generation(5)
        assert store.add_generation("crashrun", g, g.text, "sha-5")
        assert store.done_samples("crashrun") == expected_done(6)


def test_reader_sees_committed_prefixes_while_writer_writes(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    Store(path).close()
    child = start_writer(path, "loop", 150)
    seen: list[int] = []
    with Store(path, readonly=True) as reader:
        while True:
            finished = child.poll() is not None
            done = reader.done_samples("crashrun")
            assert done == expected_done(len(done))  # whole samples, in commit order
            seen.append(len(done))
            if finished:
                break
    _, err = child.communicate()
    assert child.returncode == 0, err
    assert seen == sorted(seen) and seen[-1] == 150


def test_open_read_transaction_does_not_block_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    with Store(path, busy_timeout_s=0.0) as writer:
        run_id = new_run(writer)
        writer.add_generation(run_id, Generation("T", 0, "x", 1, 1), "x", "h0")
        reader = sqlite3.connect(path, isolation_level=None)
        reader.execute("BEGIN")
        assert reader.execute("SELECT COUNT(*) FROM generations").fetchone()[0] == 1
        writer.add_generation(run_id, Generation("T", 1, "x", 1, 1), "x", "h1")  # no "database is locked"
        assert reader.execute("SELECT COUNT(*) FROM generations").fetchone()[0] == 1  # its snapshot
        reader.execute("COMMIT")
        assert reader.execute("SELECT COUNT(*) FROM generations").fetchone()[0] == 2
        reader.close()


def test_one_store_shared_by_threads(store: Store) -> None:
    run_id = new_run(store)
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(30):
                store.add_generation(run_id, Generation(f"T/{t}", i, "x", 1, 1), "x", f"h{t}-{i}")
                store.add_verdicts([verdict(f"h{t}-{i}")])
                store.done_samples(run_id)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(store.done_samples(run_id)) == 120 and store.missing_verdicts(run_id) == []


def test_processes_creating_one_store_at_once(tmp_path: Path) -> None:
    path = tmp_path / "race.db"
    code = ("import sys; from codebudget.store import Store\n"
            "with Store(sys.argv[1]) as s: s.ensure_run('r', {'a': 1}, 1, {}, {})")
    children = [subprocess.Popen([sys.executable, "-c", code, str(path)], stderr=subprocess.PIPE, text=True)
                for _ in range(4)]
    for child in children:
        _, err = child.communicate()
        assert child.returncode == 0, err
    with Store(path) as store:
        assert [r.run_id for r in store.runs()] == ["r"]
        assert store._conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == 1
