"""`Store`: typed reads and writes over one store file.

One writer (the run) and many readers (`runs`, `report`, each with its own `Store`) may use
the same file at once: WAL lets readers see the last committed state without blocking the
writer. Inside one process a `Store` may be shared between threads: a lock serializes its
calls on its single connection. Every write is one transaction, committed before the call
returns; inserts are idempotent, so a resumed run that redoes the sample in flight stores it once.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from codebudget import __version__
from codebudget.backends.base import Generation
from codebudget.errors import UserError
from codebudget.sandbox.verdict import Status, Verdict
from codebudget.store import schema
from codebudget.store.records import (
    GeneratedProgram, RunRecord, RunStatus, RunSummary, SampleResult, StoredGeneration, Unjudged,
    canonical_json, descriptive_json, pack_token_ids, pack_token_times, parse_time,
    unpack_token_ids, unpack_token_times, utc_now,
)

DEFAULT_PATH = Path("codebudget.db")

_GENERATION_COLUMNS = (
    "run_id, task_id, sample, text, prompt_tokens, completion_tokens, token_ids, token_times, "
    "ttft_s, seconds, finish_reason, peak_rss_bytes, peak_gpu_bytes, energy_j, extra_json, "
    "flops, program, program_sha256, created_at")
_INSERT_GENERATION = (
    f"INSERT INTO generations ({_GENERATION_COLUMNS}) VALUES ({', '.join('?' * 19)}) "
    "ON CONFLICT (run_id, task_id, sample) DO NOTHING")
_INSERT_VERDICT = (
    "INSERT INTO verdicts (program_sha256, status, error_type, detail, seconds, cpu_s, judge_version, "
    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (program_sha256) DO NOTHING")
_VERDICT_COLUMNS = ("v.program_sha256 AS v_hash, v.status AS v_status, v.error_type AS v_error_type, "
                    "v.detail AS v_detail, v.seconds AS v_seconds, v.cpu_s AS v_cpu_s")
_SUMMARY = """
    SELECT r.*,
        (SELECT COUNT(*) FROM generations g WHERE g.run_id = r.run_id) AS generated,
        (SELECT COUNT(*) FROM generations g JOIN verdicts v ON v.program_sha256 = g.program_sha256
         WHERE g.run_id = r.run_id) AS judged
    FROM runs r"""
_CHUNK = 500  # host parameters per IN (...) list, well under SQLite's limit


class Store:
    """The SQLite store of runs, generations and verdicts. Use as a context manager, or close()."""

    def __init__(self, path: str | os.PathLike[str] = DEFAULT_PATH, *, readonly: bool = False,
                 busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._lock = threading.RLock()
        self._conn = schema.connect(self.path, readonly=readonly, busy_timeout_s=busy_timeout_s)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, committed (fsynced) when the block ends, rolled back on error."""
        if self.readonly:
            raise PermissionError(f"the store {self.path} was opened read-only")
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            try:
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, tuple(params)).fetchall()

    # runs

    def ensure_run(self, run_id: str, config: Mapping[str, Any], planned: int,
                   backend: Mapping[str, Any], machine: Mapping[str, Any],
                   label: str | None = None) -> RunRecord:
        """Create the run, or resume it: same config, same row. Either way it is marked 'running'.

        The backend and machine the run was created with are kept: its samples were measured
        there. A resume under a different description (another thread count, another host) is
        added to that description's `resumed_with` list instead of replacing it, so a report can
        say that a run's seconds come from more than one setting. A label of None keeps the
        stored label.
        """
        config_json = canonical_json(dict(config))
        now = utc_now()
        with self._write() as conn:
            row = conn.execute("SELECT config_json, backend_json, machine_json FROM runs WHERE run_id = ?",
                               (run_id,)).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO runs (run_id, label, config_json, planned, backend_json, machine_json, "
                    "status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (run_id, label, config_json, planned, descriptive_json(dict(backend)),
                     descriptive_json(dict(machine)), RunStatus.RUNNING.value, now, now))
            elif row["config_json"] != config_json:
                raise ValueError(f"run {run_id} is stored with a different configuration")
            else:
                conn.execute(
                    "UPDATE runs SET label = COALESCE(?, label), planned = ?, backend_json = ?, "
                    "machine_json = ?, status = ?, updated_at = ? WHERE run_id = ?",
                    (label, planned, _with_resume(row["backend_json"], backend),
                     _with_resume(row["machine_json"], machine), RunStatus.RUNNING.value, now, run_id))
        return self.run(run_id)

    def run(self, run_id: str) -> RunRecord:
        rows = self._query("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        if not rows:
            raise UserError(f"no run {run_id} in {self.path}", hint="`codebudget runs` lists the runs")
        return _run_record(rows[0])

    def set_status(self, run_id: str, status: RunStatus | str) -> None:
        status = RunStatus(status)
        with self._write() as conn:
            cursor = conn.execute("UPDATE runs SET status = ?, updated_at = ? WHERE run_id = ?",
                                  (status.value, utc_now(), run_id))
            if cursor.rowcount == 0:
                raise UserError(f"no run {run_id} in {self.path}")

    def runs(self) -> list[RunSummary]:
        """Every run, oldest first, with how many samples are generated and judged."""
        rows = self._query(f"{_SUMMARY} ORDER BY r.created_at, r.run_id")
        return [_run_summary(row) for row in rows]

    def find_run(self, prefix: str) -> RunRecord:
        """The run whose id starts with `prefix` (or, failing that, whose label is `prefix`)."""
        prefix = prefix.strip()
        if not prefix:
            raise UserError("no run id given", hint="`codebudget runs` lists the runs")
        rows = self._query(f"{_SUMMARY} WHERE substr(r.run_id, 1, ?) = ? ORDER BY r.created_at",
                           (len(prefix), prefix))
        if not rows:
            rows = self._query(f"{_SUMMARY} WHERE r.label = ? ORDER BY r.created_at", (prefix,))
        if len(rows) == 1:
            return self.run(rows[0]["run_id"])
        if not rows:
            known = ", ".join(row["run_id"] for row in self._query("SELECT run_id FROM runs LIMIT 10"))
            raise UserError(f"no run matches {prefix!r} in {self.path}",
                            hint=f"known runs: {known}" if known else "this store has no runs yet")
        candidates = "; ".join(f"{row['run_id']} ({row['label'] or 'no label'}, {row['created_at'][:19]})"
                               for row in rows[:10])
        more = f" and {len(rows) - 10} more" if len(rows) > 10 else ""
        raise UserError(f"{prefix!r} matches {len(rows)} runs: {candidates}{more}",
                        hint="give more characters of the run id")

    # generations

    def done_samples(self, run_id: str) -> set[tuple[str, int]]:
        """(task_id, sample) of every stored sample of the run: what a resumed run skips."""
        rows = self._query("SELECT task_id, sample FROM generations WHERE run_id = ?", (run_id,))
        return {(row["task_id"], row["sample"]) for row in rows}

    def add_generation(self, run_id: str, generation: Generation, program: str, program_sha256: str,
                       flops: float | None = None) -> bool:
        """Store one sample, committed before returning. False if the sample was already stored."""
        return self.add_generations(run_id, [GeneratedProgram(generation, program, program_sha256, flops)]) == 1

    def add_generations(self, run_id: str, samples: Iterable[GeneratedProgram]) -> int:
        """Store many samples in one transaction (imports); returns how many were new."""
        now = utc_now()
        rows = [_generation_row(run_id, sample, now) for sample in samples]
        with self._write() as conn:
            before = conn.total_changes
            conn.executemany(_INSERT_GENERATION, rows)
            return conn.total_changes - before

    def generations(self, run_id: str) -> list[StoredGeneration]:
        rows = self._query("SELECT * FROM generations WHERE run_id = ? ORDER BY task_id, sample", (run_id,))
        return [_stored_generation(row) for row in rows]

    def missing_verdicts(self, run_id: str) -> list[Unjudged]:
        """The run's samples whose program has no verdict yet, in (task_id, sample) order."""
        rows = self._query(
            "SELECT g.task_id, g.sample, g.program, g.program_sha256 FROM generations g "
            "LEFT JOIN verdicts v ON v.program_sha256 = g.program_sha256 "
            "WHERE g.run_id = ? AND v.program_sha256 IS NULL ORDER BY g.task_id, g.sample", (run_id,))
        return [Unjudged(row["task_id"], row["sample"], row["program"], row["program_sha256"])
                for row in rows]

    # verdicts

    def add_verdicts(self, verdicts: Iterable[Verdict], judge_version: str = __version__) -> int:
        """Store verdicts in one transaction; a program already judged keeps its first verdict."""
        now = utc_now()
        rows = [(v.program_hash, Status(v.status).value, v.error_type, v.detail, v.seconds, v.cpu_s,
                 judge_version, now) for v in verdicts]
        with self._write() as conn:
            before = conn.total_changes
            conn.executemany(_INSERT_VERDICT, rows)
            return conn.total_changes - before

    def verdicts_for(self, hashes: Iterable[str]) -> dict[str, Verdict]:
        wanted = sorted(set(hashes))
        found: dict[str, Verdict] = {}
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start:start + _CHUNK]
            rows = self._query(f"SELECT {_VERDICT_COLUMNS} FROM verdicts v WHERE v.program_sha256 IN "
                               f"({', '.join('?' * len(chunk))})", chunk)
            found.update((row["v_hash"], _verdict(row)) for row in rows)
        return found

    def results(self, run_id: str) -> list[SampleResult]:
        """Every stored sample of the run with its verdict (None while unjudged)."""
        rows = self._query(
            f"SELECT g.*, {_VERDICT_COLUMNS} FROM generations g "
            "LEFT JOIN verdicts v ON v.program_sha256 = g.program_sha256 "
            "WHERE g.run_id = ? ORDER BY g.task_id, g.sample", (run_id,))
        return [SampleResult(_stored_generation(row), _verdict(row) if row["v_hash"] is not None else None)
                for row in rows]


def _generation_row(run_id: str, sample: GeneratedProgram, now: str) -> tuple[Any, ...]:
    g = sample.generation
    return (run_id, g.task_id, g.sample, g.text, g.prompt_tokens, g.completion_tokens,
            pack_token_ids(g.token_ids), pack_token_times(g.token_times), g.ttft_s, g.seconds,
            g.finish_reason, g.peak_rss_bytes, g.peak_gpu_bytes, g.energy_j,
            descriptive_json(g.extra), sample.flops, sample.program, sample.program_sha256, now)


def _stored_generation(row: sqlite3.Row) -> StoredGeneration:
    generation = Generation(
        task_id=row["task_id"], sample=row["sample"], text=row["text"],
        prompt_tokens=row["prompt_tokens"], completion_tokens=row["completion_tokens"],
        token_ids=unpack_token_ids(row["token_ids"]), token_times=unpack_token_times(row["token_times"]),
        ttft_s=row["ttft_s"], seconds=row["seconds"], finish_reason=row["finish_reason"],
        peak_rss_bytes=row["peak_rss_bytes"], peak_gpu_bytes=row["peak_gpu_bytes"],
        energy_j=row["energy_j"], extra=json.loads(row["extra_json"]))
    return StoredGeneration(run_id=row["run_id"], generation=generation, program=row["program"],
                            program_sha256=row["program_sha256"], flops=row["flops"],
                            created_at=parse_time(row["created_at"]))


def _verdict(row: sqlite3.Row) -> Verdict:
    return Verdict(status=Status(row["v_status"]), error_type=row["v_error_type"], detail=row["v_detail"],
                   seconds=row["v_seconds"], cpu_s=row["v_cpu_s"], program_hash=row["v_hash"])


def _run_record(row: sqlite3.Row) -> RunRecord:
    return RunRecord(run_id=row["run_id"], label=row["label"], config=json.loads(row["config_json"]),
                     planned=row["planned"], backend=json.loads(row["backend_json"]),
                     machine=json.loads(row["machine_json"]), status=RunStatus(row["status"]),
                     created_at=parse_time(row["created_at"]), updated_at=parse_time(row["updated_at"]))


def _run_summary(row: sqlite3.Row) -> RunSummary:
    return RunSummary(run_id=row["run_id"], label=row["label"], config=json.loads(row["config_json"]),
                      backend=json.loads(row["backend_json"]), planned=row["planned"], generated=row["generated"], judged=row["judged"],
                      status=RunStatus(row["status"]), created_at=parse_time(row["created_at"]),
                      updated_at=parse_time(row["updated_at"]))


# Keys that differ between any two sessions (timings of the load itself): not a different setting.
_VOLATILE = frozenset({"load_seconds", "resumed_with"})


def _with_resume(stored_json: str, current: Mapping[str, Any]) -> str:
    """The stored description, with `current` added to `resumed_with` if it is a new setting."""
    stored = json.loads(stored_json)
    now = _setting(json.loads(descriptive_json(dict(current))))
    if now not in [_setting(stored), *(_setting(d) for d in stored.get("resumed_with", []))]:
        stored["resumed_with"] = [*stored.get("resumed_with", []), now]
    return descriptive_json(stored)


def _setting(description: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in description.items() if k not in _VOLATILE}

