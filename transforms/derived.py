"""Derived tables kept current incrementally: only the days touched by newly landed articles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from transforms.database import connect

# (derived table, the view it materialises)
DERIVED = (("topic_daily_counts", "topic_daily"), ("entity_daily_counts", "entity_mentions"))
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# An article's tags change when it lands and when it is retagged.
_CHANGED_AT = "greatest(ingested_at, coalesce(retagged_at, ingested_at))"


@dataclass(frozen=True)
class RefreshCounts:
    """How much one refresh recomputed."""

    articles: int
    days: int


def refresh_table(con: duckdb.DuckDBPyConnection, table: str, view: str) -> RefreshCounts:
    """Recompute the rows of `table` for days with articles landed since its watermark."""
    row = con.execute("SELECT watermark FROM derived_state WHERE name = ?", [table]).fetchone()
    since = row[0] if row else _EPOCH
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE touched AS SELECT DISTINCT "
            "CAST(published_at AT TIME ZONE 'UTC' AS DATE) AS day FROM articles "
            f"WHERE {_CHANGED_AT} > ?",
            [since],
        )
        (articles, high) = con.execute(
            f"SELECT count(*), max({_CHANGED_AT}) FROM articles WHERE {_CHANGED_AT} > ?", [since]
        ).fetchone() or (0, None)
        (days,) = con.execute("SELECT count(*) FROM touched").fetchone() or (0,)
        # IS NOT DISTINCT FROM: undated articles count under day NULL and must refresh too.
        con.execute(
            f"DELETE FROM {table} t WHERE EXISTS "
            "(SELECT 1 FROM touched d WHERE d.day IS NOT DISTINCT FROM t.day)"
        )
        con.execute(
            f"INSERT INTO {table} SELECT v.* FROM {view} v WHERE EXISTS "
            "(SELECT 1 FROM touched d WHERE d.day IS NOT DISTINCT FROM v.day)"
        )
        if high is not None:
            con.execute(
                "INSERT INTO derived_state VALUES (?, ?, now()) ON CONFLICT (name) DO UPDATE "
                "SET watermark = excluded.watermark, refreshed_at = excluded.refreshed_at",
                [table, high],
            )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return RefreshCounts(articles=int(articles), days=int(days))


def refresh_derived(db_path: Path) -> dict[str, int]:
    """Refresh every derived table; each in its own short transaction."""
    out: dict[str, int] = {}
    with connect(db_path, read_only=False) as con:
        for table, view in DERIVED:
            counts = refresh_table(con, table, view)
            out[f"{table}_days"] = counts.days
            out[f"{table}_articles"] = counts.articles
    return out


@dataclass(frozen=True)
class Freshness:
    """Lag from discovery to first landing over a window, in seconds."""

    articles: int
    p50: float | None
    p95: float | None
    max: float | None


def measure_freshness(db_path: Path, window: timedelta) -> Freshness:
    """p50/p95/max of article lag for articles first landed within the window."""
    with connect(db_path) as con:
        row = con.execute(
            "SELECT count(*), quantile_cont(lag_seconds, 0.5), quantile_cont(lag_seconds, 0.95), "
            "max(lag_seconds) FROM article_freshness WHERE first_ingested_at >= ?",
            [datetime.now(UTC) - window],
        ).fetchone()
    assert row is not None
    count, p50, p95, worst = row
    return Freshness(int(count), p50, p95, worst)


def refresh_search(db_path: Path) -> int:
    """Rebuild the full-text index (DuckDB's fts has no incremental update); 0 if unavailable."""
    from transforms.search import SearchUnavailableError, refresh_search_index

    with connect(db_path, read_only=False) as con:
        try:
            return refresh_search_index(con)
        except SearchUnavailableError:
            return 0


def refresh_after_load(db_path: Path, *, snapshot: bool) -> dict[str, int]:
    """Everything downstream of a load, for runs outside Airflow (the transforms DAG splits it)."""
    from transforms.snapshot import publish_snapshot

    out = refresh_derived(db_path)
    out["search_index_rows"] = refresh_search(db_path)
    if snapshot:
        publish_snapshot(db_path)
    return out
