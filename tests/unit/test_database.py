import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from transforms.database import (
    DatabaseBusyError,
    DatabaseMissingError,
    connect,
    list_migrations,
    migrate,
    missing_requirements,
)


def _applicable(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Migrations a fresh database gets: those whose `-- requires:` tables exist (all, once the
    issues they wait for have landed)."""
    return [n for n, sql in list_migrations() if not missing_requirements(con, sql)]


def test_migrations_create_the_contract_tables(db_path: Path) -> None:
    with connect(db_path, read_only=False) as con:
        tables = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        assert {"articles", "article_topics", "article_entities", "ingest_runs"} <= tables
        cols = {
            r[0]
            for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'article_topics'"
            ).fetchall()
        }
        assert {"article_id", "topic", "score", "evidence", "taxonomy_version"} <= cols
        (newest,) = con.execute("SELECT max(name) FROM schema_migrations").fetchone() or (None,)
        assert newest == _applicable(con)[-1]


def test_migrate_twice_applies_nothing_the_second_time(db_path: Path) -> None:
    with connect(db_path, read_only=False) as con:
        assert migrate(con) == []
        count = con.execute("SELECT count(*) FROM schema_migrations").fetchone()
        assert count == (len(_applicable(con)),)


def test_reader_on_missing_file_names_the_command_that_creates_it(tmp_path: Path) -> None:
    with (
        pytest.raises(DatabaseMissingError, match="tradewire run"),
        connect(tmp_path / "no.duckdb"),
    ):
        pass


def _hold_write_lock(db_path: Path, seconds: float) -> subprocess.Popen[bytes]:
    code = (
        "import duckdb, sys, time\n"
        f"con = duckdb.connect({str(db_path)!r})\n"
        "print('locked', flush=True)\n"
        f"time.sleep({seconds})\n"
        "con.close()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"locked"
    return proc


def test_reader_waits_for_the_writer_instead_of_failing(db_path: Path) -> None:
    with connect(db_path, read_only=False):
        pass
    proc = _hold_write_lock(db_path, 1.0)
    start = time.monotonic()
    with connect(db_path, read_only=True, wait_seconds=20) as con:
        assert con.execute("SELECT count(*) FROM articles").fetchone() == (0,)
    assert time.monotonic() - start > 0.3  # it really waited for the other process
    proc.wait(timeout=10)


def test_reader_gives_up_with_a_clear_error_after_its_budget(db_path: Path) -> None:
    with connect(db_path, read_only=False):
        pass
    proc = _hold_write_lock(db_path, 3.0)
    try:
        with (
            pytest.raises(DatabaseBusyError, match="TRADEWIRE_LOCK_WAIT_SECONDS"),
            connect(db_path, read_only=True, wait_seconds=0.3),
        ):
            pass
    finally:
        proc.kill()
        proc.wait(timeout=10)
