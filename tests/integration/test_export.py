"""Parquet exports: hive partitions by month, readable back, replaced whole on re-run."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from ingest.cli import main
from tests.integration.analyst_db import build_analyst_db
from transforms.export import EXPORT_QUERIES, export_parquet, swap_in

pytestmark = pytest.mark.integration

TABLES = tuple(EXPORT_QUERIES)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_analyst_db(tmp_path_factory.mktemp("export") / "built.duckdb")


def read_back(out: Path, table: str) -> list[tuple[str, int]]:
    """(month, rows) as another engine would see the export, through hive partitioning."""
    with duckdb.connect() as con:
        rows = con.execute(
            "SELECT month, count(*) FROM read_parquet(?, hive_partitioning = true) "
            "GROUP BY month ORDER BY month",
            [str(out / table / "*" / "*.parquet")],
        ).fetchall()
    return [(str(m), int(n)) for m, n in rows]


def db_counts(db: Path, table: str) -> list[tuple[str, int]]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            f"SELECT month, count(*) FROM ({EXPORT_QUERIES[table]}) GROUP BY month ORDER BY month"
        ).fetchall()
    return [(str(m), int(n)) for m, n in rows]


def test_export_partitions_by_month_and_reads_back(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "exports"
    assert main(["export", "--format", "parquet", str(out), "--db", str(db)]) == 0
    assert "articles: 12 rows" in capsys.readouterr().out
    for table in TABLES:
        months = sorted(p.name for p in (out / table).iterdir())
        assert months == ["month=2026-10", "month=2026-11", "month=unknown"], table
        assert read_back(out, table) == db_counts(db, table)
    assert dict(read_back(out, "articles")) == {"2026-10": 5, "2026-11": 5, "unknown": 2}
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_columns_survive_for_other_engines(db: Path, tmp_path: Path) -> None:
    with duckdb.connect(str(db), read_only=True) as con:
        export_parquet(con, tmp_path)
    with duckdb.connect() as con:
        types = dict(
            con.execute(
                "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "
                "read_parquet(?, hive_partitioning = true))",
                [str(tmp_path / "article_topics" / "*" / "*.parquet")],
            ).fetchall()
        )
        title = con.execute(
            "SELECT title FROM read_parquet(?, hive_partitioning = true) "
            "WHERE month = '2026-10' ORDER BY published_at LIMIT 1",
            [str(tmp_path / "articles" / "*" / "*.parquet")],
        ).fetchone()
    assert types["evidence"] == "VARCHAR" and types["score"] == "DOUBLE"
    assert title == ("China tightens rare earth export curbs on gallium and germanium",)


def test_rerun_replaces_partitions_without_duplicates(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "exports"
    with duckdb.connect(str(db), read_only=True) as con:
        first = export_parquet(con, out)
        # Debris a previous export might have left: a month the database no longer has, and a
        # stray file inside a live partition. Both must be gone after the re-run.
        (out / "articles" / "month=1999-01").mkdir()
        (out / "articles" / "month=1999-01" / "data_0.parquet").write_bytes(b"old")
        (out / "articles" / "month=2026-10" / "stale.parquet").write_bytes(b"old")
        second = export_parquet(con, out)
    assert first == second
    assert sorted(p.name for p in (out / "articles").iterdir()) == [
        "month=2026-10",
        "month=2026-11",
        "month=unknown",
    ]
    assert [p.name for p in (out / "articles" / "month=2026-10").iterdir()] == ["data_0.parquet"]
    for table in TABLES:
        assert read_back(out, table) == db_counts(db, table)


def test_swap_in_replaces_a_directory_whole(tmp_path: Path) -> None:
    target, new, scratch = tmp_path / "month=2026-10", tmp_path / "new", tmp_path / "scratch"
    for folder, marker in ((target, "old"), (new, "new")):
        folder.mkdir()
        (folder / f"{marker}.parquet").write_text(marker)
    scratch.mkdir()
    swap_in(new, target, scratch)
    assert [p.name for p in target.iterdir()] == ["new.parquet"]
    assert not new.exists() and list(scratch.iterdir()) == []


def test_export_into_a_file_is_a_clear_error(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "exports.txt"
    target.write_text("not a folder")
    assert main(["export", str(target), "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert "is a file" in err and "Traceback" not in err
