"""The one door to DuckDB: connections that wait for the file lock, and forward-only migrations."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import duckdb
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_delay,
    wait_random_exponential,
)

from transforms.settings import get_settings

logger = logging.getLogger(__name__)

MIGRATIONS_PACKAGE = "transforms.migrations"
# A migration that builds on tables another migration has not delivered yet names them on a
# `-- requires: table, table.column` line; it waits, unrecorded, until they all exist.
_REQUIRES = re.compile(r"^--\s*requires:\s*(.+)$", re.MULTILINE)


class DatabaseMissingError(RuntimeError):
    """Raised when a reader asks for a database file that no run has created yet."""


class DatabaseBusyError(RuntimeError):
    """Raised when the file lock stayed taken for longer than the configured wait."""


def _is_lock_conflict(exc: BaseException) -> bool:
    """DuckDB reports another process's lock as an IOException mentioning the lock."""
    if not isinstance(exc, duckdb.IOException):
        return False
    message = str(exc)
    return "Could not set lock" in message or "Conflicting lock" in message


def open_connection(
    db_path: Path, *, read_only: bool, wait_seconds: float | None = None
) -> duckdb.DuckDBPyConnection:
    """Open the file, retrying with jittered backoff while another process holds the lock."""
    if read_only and not db_path.exists():
        raise DatabaseMissingError(
            f"no database at {db_path}: create it with `make run` or `tradewire run --source seeds`"
        )
    if not read_only:
        db_path.parent.mkdir(parents=True, exist_ok=True)
    budget = get_settings().lock_wait_seconds if wait_seconds is None else wait_seconds
    waits = Retrying(
        retry=retry_if_exception(_is_lock_conflict),
        stop=stop_after_delay(budget),
        wait=wait_random_exponential(multiplier=0.02, max=0.5),
        before_sleep=LockWaitLog(db_path, budget, read_only),
        reraise=True,
    )
    try:
        return waits(duckdb.connect, str(db_path), read_only=read_only)
    except duckdb.IOException as exc:
        if not _is_lock_conflict(exc):
            raise
        raise DatabaseBusyError(
            f"{db_path} stayed locked by {lock_holder(exc)} for {budget:.0f}s; "
            "retry later or raise TRADEWIRE_LOCK_WAIT_SECONDS"
        ) from exc


_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")


def lock_holder(exc: BaseException | None) -> str:
    """Who holds the file lock, from DuckDB's message: "PID 4875 (/usr/bin/python3.11)"."""
    match = _HOLDER.search(str(exc or ""))
    if match is None:
        return "another process"
    return f"PID {match['pid']} ({match['program']})"


class LockWaitLog:
    """Say, as a warning a user sees, that this process waits for the lock and who holds it:
    once the wait passes a second (a landing holds the lock for less), then every ~10 s, so a
    writer stalled by a reader is never silent."""

    AFTER = 1.0
    EVERY = 10.0

    def __init__(self, db_path: Path, budget: float, read_only: bool) -> None:
        self.db_path = db_path
        self.budget = budget
        self.role = "reader" if read_only else "writer"
        self.last: float | None = None

    def __call__(self, state: RetryCallState) -> None:
        waited = state.seconds_since_start or 0.0
        if waited < self.AFTER or (self.last is not None and waited - self.last < self.EVERY):
            return
        self.last = waited
        exc = state.outcome.exception() if state.outcome else None
        logger.warning(
            "%s waiting for the DuckDB file lock on %s, held by %s (waited %.0fs of up to %.0fs)",
            self.role,
            self.db_path,
            lock_holder(exc),
            waited,
            self.budget,
        )


@contextmanager
def connect(
    db_path: Path,
    *,
    read_only: bool = True,
    wait_seconds: float | None = None,
    checkpoint_on_close: bool = True,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Scoped connection; writers get the schema migrated before use.

    checkpoint_on_close=False leaves committed work in the write-ahead log when the connection
    closes (durable: the next open replays it) instead of checkpointing, which rewrites the
    primary-key indexes of whole tables; DuckDB still checkpoints once the log passes its
    `checkpoint_threshold`, and any later connection that closes normally checkpoints it all.
    """
    con = open_connection(db_path, read_only=read_only, wait_seconds=wait_seconds)
    try:
        if not read_only:
            if not checkpoint_on_close:
                con.execute("PRAGMA disable_checkpoint_on_shutdown")
            migrate(con)
        yield con
    finally:
        con.close()


def list_migrations() -> list[tuple[str, str]]:
    """(name, sql) of every migration file, in the order their names sort."""
    folder = resources.files(MIGRATIONS_PACKAGE)
    found = [
        (entry.name.removesuffix(".sql"), entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    ]
    return sorted(found)


def missing_requirements(con: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    """Tables and columns a migration's `-- requires:` lines name that the database lacks."""
    wanted = [
        item.strip() for line in _REQUIRES.findall(sql) for item in line.split(",") if item.strip()
    ]
    if not wanted:
        return []
    rows = con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = 'main'"
    ).fetchall()
    present = {str(t) for t, _ in rows} | {f"{t}.{c}" for t, c in rows}
    return [item for item in wanted if item not in present]


def migrate(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply migrations not yet recorded in schema_migrations, each in its own transaction."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " name VARCHAR PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
    )
    done = {row[0] for row in con.execute("SELECT name FROM schema_migrations").fetchall()}
    applied = []
    for name, sql in list_migrations():
        if name in done or missing_requirements(con, sql):
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations (name) VALUES (?)", [name])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied
