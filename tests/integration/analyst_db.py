"""A DuckDB file built from tests/fixtures/analyst/ for the analyst tests (views, docs, search,
export, report), plus stand-ins for the tables other issues are adding."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from ingest.pipeline import run_pipeline
from transforms.database import connect, migrate

ANALYST_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "analyst"
RARE_EARTH_TITLE = "China tightens rare earth export curbs on gallium and germanium"

# What the analyst views in 0007_analyst_sources.sql assume about the "live sources" (0002) and
# "quality" (0003) migrations. Created only where the real ones are missing, so once those land
# the tests run against the real tables.
ASSUMED_TABLES = {
    "sources": "CREATE TABLE sources (name VARCHAR PRIMARY KEY, kind VARCHAR, location VARCHAR)",
    "fetch_log": (
        "CREATE TABLE fetch_log (source VARCHAR, url VARCHAR, status INTEGER, bytes BIGINT, "
        "elapsed_ms INTEGER, error_class VARCHAR, retry INTEGER, started_at TIMESTAMPTZ)"
    ),
    "article_sightings": (
        "CREATE TABLE article_sightings (article_id VARCHAR, source VARCHAR, url VARCHAR, "
        "seen_at TIMESTAMPTZ)"
    ),
}


def build_analyst_db(db_path: Path) -> Path:
    """Run the real pipeline over the analyst fixtures into db_path (one process, two cores)."""
    summary = run_pipeline([str(ANALYST_FIXTURES)], db_path, batch_size=50, workers=1)
    assert summary.counts.failed == 0, summary.describe()
    return db_path


def copy_db(source: Path, target: Path) -> Path:
    """A private copy, so a test that writes (reindex, stand-in tables) cannot affect another."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)
    return target


def add_assumed_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Create the stand-ins that are missing, with a little data, and migrate; returns created."""
    existing = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    created = []
    for name, ddl in ASSUMED_TABLES.items():
        if name not in existing:
            con.execute(ddl)
            created.append(name)
    columns = con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = 'articles'"
    ).fetchall()
    if ("cluster_id",) not in columns:
        con.execute("ALTER TABLE articles ADD COLUMN cluster_id VARCHAR")
        # The two gallium stories (dated and undated) stand in for a duplicate cluster.
        con.execute(
            "UPDATE articles SET cluster_id = 'gallium' "
            "WHERE title = ? OR title LIKE 'Gallium prices climb%'",
            [RARE_EARTH_TITLE],
        )
        created.append("articles.cluster_id")
    if "sources" in created:
        con.execute(
            "INSERT INTO sources SELECT DISTINCT source, 'folder', source FROM articles "
            "UNION ALL SELECT 'example-wire', 'feed', 'https://news.example.com/rss.xml'"
        )
    if "fetch_log" in created:
        con.execute(
            "INSERT INTO fetch_log VALUES "
            "('example-wire', 'https://news.example.com/rss.xml', 200, 5120, 80, NULL, 0, "
            " now() - INTERVAL 2 HOUR), "
            "('example-wire', 'https://news.example.com/rss.xml', 503, 0, 40, 'http_status', 0, "
            " now() - INTERVAL 1 HOUR)"
        )
    if "article_sightings" in created:
        con.execute(
            "INSERT INTO article_sightings SELECT article_id, source, location, ingested_at "
            "FROM articles"
        )
    migrate(con)
    return created


def prepare_full_db(db_path: Path) -> None:
    """Stand-in tables plus a search index: every view, table and macro the docs mention."""
    from transforms.search import refresh_search_index

    with connect(db_path, read_only=False) as con:
        add_assumed_tables(con)
        refresh_search_index(con)
