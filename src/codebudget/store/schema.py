"""The store's schema, its migrations by version, and opening a store file safely.

Durability: WAL journal with `synchronous=FULL`, so every commit is fsynced to the WAL before
it returns. A killed process loses nothing committed under either FULL or NORMAL (the WAL is
written before COMMIT returns); FULL also keeps every committed sample through a power loss or a
kernel crash (a hung GPU driver is a real way for a run to end), where NORMAL could lose the last
few hundred commits. One fsync per sample costs a few milliseconds against seconds of generation;
bulk imports use one transaction for many samples.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from urllib.parse import quote

from codebudget.errors import UserError
from codebudget.store.records import utc_now

APPLICATION_ID = 0x63626467  # "cbdg" in the SQLite header: this file is a codebudget store

# MIGRATIONS[i] brings a store from version i to version i + 1; each runs in one transaction.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        f"PRAGMA application_id = {APPLICATION_ID}",
        """CREATE TABLE schema_version (
            version    INTEGER PRIMARY KEY,
            applied_at TEXT NOT NULL
        )""",
        """CREATE TABLE runs (
            run_id       TEXT PRIMARY KEY,
            label        TEXT,
            config_json  TEXT NOT NULL,
            planned      INTEGER NOT NULL CHECK (planned >= 0),
            backend_json TEXT NOT NULL,
            machine_json TEXT NOT NULL,
            status       TEXT NOT NULL
                         CHECK (status IN ('running', 'generated', 'complete', 'interrupted')),
            created_at   TEXT NOT NULL,
            updated_at   TEXT NOT NULL
        )""",
        """CREATE TABLE generations (
            run_id            TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            task_id           TEXT NOT NULL,
            sample            INTEGER NOT NULL CHECK (sample >= 0),
            text              TEXT NOT NULL,
            prompt_tokens     INTEGER,
            completion_tokens INTEGER,
            token_ids         BLOB,
            token_times       BLOB,
            ttft_s            REAL,
            seconds           REAL,
            finish_reason     TEXT,
            peak_rss_bytes    INTEGER,
            peak_gpu_bytes    INTEGER,
            energy_j          REAL,
            extra_json        TEXT NOT NULL,
            flops             REAL,
            program           TEXT NOT NULL,
            program_sha256    TEXT NOT NULL,
            created_at        TEXT NOT NULL,
            PRIMARY KEY (run_id, task_id, sample)
        )""",
        "CREATE INDEX generations_by_program ON generations (program_sha256)",
        """CREATE TABLE verdicts (
            program_sha256 TEXT PRIMARY KEY,
            status         TEXT NOT NULL,
            error_type     TEXT,
            detail         TEXT NOT NULL,
            seconds        REAL NOT NULL,
            cpu_s          REAL NOT NULL,
            judge_version  TEXT NOT NULL,
            created_at     TEXT NOT NULL
        )""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


def connect(path: Path, *, readonly: bool, busy_timeout_s: float) -> sqlite3.Connection:
    """Open (or, unless read-only, create) the store at `path`, migrated to SCHEMA_VERSION."""
    if path.is_dir():
        raise UserError(f"{path} is a directory, not a codebudget store", hint="name a .db file")
    if readonly and not path.exists():
        raise UserError(f"no codebudget store at {path}", hint="start a run first, or pass --db")
    if not readonly:
        path.parent.mkdir(parents=True, exist_ok=True)
    uri = f"file:{quote(str(path.resolve()))}?mode={'ro' if readonly else 'rwc'}"
    conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout_s, isolation_level=None,
                           check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        if not readonly:
            _enable_wal(conn, busy_timeout_s)
            conn.execute("PRAGMA synchronous = FULL")
        _migrate(conn, path, readonly)
    except sqlite3.DatabaseError as error:
        conn.close()
        user_error = _user_error(path, error)
        if user_error is None:
            raise
        raise user_error from error
    except BaseException:
        conn.close()
        raise
    conn.row_factory = sqlite3.Row
    return conn


def _enable_wal(conn: sqlite3.Connection, busy_timeout_s: float) -> None:
    """Switch to WAL (a no-op once the file is WAL). Switching needs the file to itself, and SQLite
    answers "locked" at once, without its busy handler, while another process holds it: so retry."""
    deadline = time.monotonic() + busy_timeout_s
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if getattr(error, "sqlite_errorname", "") not in ("SQLITE_BUSY", "SQLITE_LOCKED") \
                    or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _user_error(path: Path, error: sqlite3.DatabaseError) -> UserError | None:
    name = getattr(error, "sqlite_errorname", "")
    if name == "SQLITE_NOTADB":
        return UserError(f"{path} is not a codebudget store (not an SQLite database)",
                         hint="pass the path of a store written by codebudget, or a new file name")
    if name == "SQLITE_CORRUPT":
        return UserError(f"the store {path} is damaged: {error}",
                         hint="restore it from a copy, or start a new store")
    if name in ("SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_PERM"):
        return UserError(f"cannot open the store {path}: {error}",
                         hint="check that the file and its folder exist and are writable")
    return None


def stored_version(conn: sqlite3.Connection) -> int:
    if not _has_table(conn, "schema_version"):
        return 0
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
    return row.fetchone() is not None


def _check(conn: sqlite3.Connection, path: Path) -> int:
    """The store's schema version; UserError if the file is another program's or from the future."""
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = stored_version(conn)
    tables = conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
    if app_id not in (0, APPLICATION_ID) or (version == 0 and tables):
        raise UserError(f"{path} is an SQLite database but not a codebudget store",
                        hint="pass the path of a store written by codebudget, or a new file name")
    if version > SCHEMA_VERSION:
        raise UserError(
            f"the store {path} has schema version {version}; this codebudget reads up to {SCHEMA_VERSION}",
            hint="upgrade codebudget (pip install -U codebudget) to open this store")
    return int(version)


def _migrate(conn: sqlite3.Connection, path: Path, readonly: bool) -> None:
    conn.execute("BEGIN")  # one snapshot: another process may be creating the store right now
    try:
        version = _check(conn, path)
    finally:
        conn.execute("ROLLBACK")
    if version == SCHEMA_VERSION:
        return
    if readonly:
        raise UserError(f"the store {path} is empty or from an older codebudget and needs upgrading",
                        hint="open it once with a command that writes (e.g. resume a run)")
    conn.execute("BEGIN IMMEDIATE")  # the write lock, then look again: someone may have migrated
    try:
        for version in range(_check(conn, path), SCHEMA_VERSION):
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                         (version + 1, utc_now()))
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
