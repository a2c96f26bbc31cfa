"""Derived tables kept current incrementally: only the days touched by newly landed articles."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from transforms.database import connect

logger = logging.getLogger(__name__)

# (derived table, the view it materialises; migration 0031 gives each view a table macro
# <view>_on(days, undated) over chosen days only)
DERIVED = (("topic_daily_counts", "topic_daily"), ("entity_daily_counts", "entity_mentions"))
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# An article's tags change when it lands and when it is retagged.
_CHANGED_AT = "greatest(ingested_at, coalesce(retagged_at, ingested_at))"
# The same, for the lake's publisher (transforms/lake.py).
CHANGED_AT = _CHANGED_AT


@dataclass(frozen=True)
class RefreshCounts:
    """How much one refresh recomputed."""

    articles: int
    days: int


def mark_stale_days(
    con: duckdb.DuckDBPyConnection, ids_sql: str, params: Sequence[object] = ()
) -> None:
    """Record the current days of the articles `ids_sql` selects before they move or vanish,
    so every derived table recounts them; call inside the transaction that changes them."""
    con.execute(
        "INSERT INTO derived_stale_days SELECT d.name, "
        "CAST(a.published_at AT TIME ZONE 'UTC' AS DATE) FROM articles a "
        "CROSS JOIN (SELECT unnest(CAST(? AS VARCHAR[])) AS name) d "
        f"WHERE a.article_id IN ({ids_sql})",
        [[table for table, _ in DERIVED], *params],
    )


def refresh_table(con: duckdb.DuckDBPyConnection, table: str, view: str) -> RefreshCounts:
    """Recompute the rows of `table` for days with articles landed since its watermark, and the
    days articles left (mark_stale_days)."""
    row = con.execute("SELECT watermark FROM derived_state WHERE name = ?", [table]).fetchone()
    since = row[0] if row else _EPOCH
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE touched AS SELECT DISTINCT "
            "CAST(published_at AT TIME ZONE 'UTC' AS DATE) AS day FROM articles "
            f"WHERE {_CHANGED_AT} > ? "
            "UNION SELECT day FROM derived_stale_days WHERE name = ?",
            [since, table],
        )
        con.execute("DELETE FROM derived_stale_days WHERE name = ?", [table])
        (articles, high) = con.execute(
            f"SELECT count(*), max({_CHANGED_AT}) FROM articles WHERE {_CHANGED_AT} > ?", [since]
        ).fetchone() or (0, None)
        rows = con.execute("SELECT day FROM touched").fetchall()
        dated = [r[0] for r in rows if r[0] is not None]
        undated = len(dated) < len(rows)
        days = len(rows)
        # Undated articles count under day NULL and must refresh too. The view's macro form
        # (migration 0031) reads only these days' articles, so the cost follows the load.
        con.execute(
            f"DELETE FROM {table} WHERE list_contains(CAST(? AS DATE[]), day) OR (? AND day IS NULL)",
            [dated, undated],
        )
        con.execute(
            f"INSERT INTO {table} SELECT * FROM {view}_on(CAST(? AS DATE[]), ?)", [dated, undated]
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


# derived_state names of the search index and the snapshot. Their watermark is the latest
# article change they include, so a refresh killed or failed part-way is simply behind, and the
# next one (any run, `tradewire refresh`) redoes it.
SEARCH_INDEX = "search_index"
SNAPSHOT = "snapshot"
# The lake keeps its own watermark, committed with its rows; this row mirrors it.
LAKE = "lake"


def latest_change(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """The latest articles.ingested_at / retagged_at: what a refresh must have caught up with."""
    row = con.execute(f"SELECT max({_CHANGED_AT}) FROM articles").fetchone()
    return row[0] if row else None


def watermark(con: duckdb.DuckDBPyConnection, name: str) -> datetime | None:
    """How far the named refresh has caught up; None if it never completed."""
    row = con.execute("SELECT watermark FROM derived_state WHERE name = ?", [name]).fetchone()
    return row[0] if row else None


def set_watermark(con: duckdb.DuckDBPyConnection, name: str, value: datetime) -> None:
    """Record that the named refresh completed up to `value`."""
    con.execute(
        "INSERT INTO derived_state VALUES (?, ?, now()) ON CONFLICT (name) DO UPDATE "
        "SET watermark = excluded.watermark, refreshed_at = excluded.refreshed_at",
        [name, value],
    )


def is_behind(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Say whether articles changed after the named refresh last completed."""
    latest = latest_change(con)
    done = watermark(con, name)
    return latest is not None and (done is None or done < latest)


def refresh_search(db_path: Path, *, force: bool = True) -> int:
    """Update the full-text index for the articles landed since it last caught up (force: rebuild
    it whole); the articles it holds, -1 if it was current, 0 if fts is unavailable.

    The index sets its own watermark in the transaction that updates it (transforms/searchindex.py).
    """
    from transforms.search import SearchUnavailableError, has_search_index, refresh_search_index

    with connect(db_path, read_only=False) as con:
        if not force and has_search_index(con) and not is_behind(con, SEARCH_INDEX):
            return -1
        try:
            return refresh_search_index(con, full=force)
        except SearchUnavailableError:
            return 0


def publish_snapshot_if_behind(
    db_path: Path, *, force: bool = True, mode: str | bool = "file"
) -> str | None:
    """Publish what analysts read (mode "lake" or "file"); None when it was already current.

    The file is copied whole when it misses article changes or is missing (force: always).
    The lake takes only what changed, found by its own watermark and an anti-join, so it is
    always asked; force republishes it whole. Returns the file's path or the lake snapshot.
    """
    mode = snapshot_mode(mode)
    if mode == "off":
        return None
    if mode == "lake":
        from transforms.lake import publish_lake

        counts = publish_lake(db_path, rebuild=force)
        return None if counts.snapshot is None else f"{counts.location}@{counts.snapshot}"
    from transforms.snapshot import publish_snapshot, snapshot_path_for

    with connect(db_path, read_only=False) as con:
        latest = latest_change(con)
        behind = is_behind(con, SNAPSHOT) or not snapshot_path_for(db_path).exists()
    if not force and not behind:
        return None
    path = publish_snapshot(db_path)
    if latest is not None:
        # After the rename: a snapshot killed half-way is never marked done.
        with connect(db_path, read_only=False) as con:
            set_watermark(con, SNAPSHOT, latest)
    return str(path)


def snapshot_mode(value: str | bool) -> str:
    """TRADEWIRE_SNAPSHOT's value; the booleans older callers pass mean file / off."""
    if isinstance(value, bool):
        return "file" if value else "off"
    return value


def refresh_after_load(
    db_path: Path, *, snapshot: str | bool, force: bool = False
) -> dict[str, int]:
    """Everything downstream of a load, for runs outside Airflow (the transforms DAG splits it).

    Each part runs when it is behind the articles (force: always), so a refresh that was killed
    or failed is redone by the next run even when that run lands nothing new. A lake that
    cannot be reached is logged, not raised (snapshot_published -1): the landing and the other
    refreshes stand, and the next run publishes what this one could not.
    """
    from transforms.lake import LakeError

    out = refresh_derived(db_path)
    out["search_index_rows"] = refresh_search(db_path, force=force)
    mode = snapshot_mode(snapshot)
    if mode == "off":
        return out
    try:
        published = publish_snapshot_if_behind(db_path, force=force, mode=mode)
    except LakeError as exc:
        logger.error("%s; the next run publishes it", exc)
        out["snapshot_published"] = -1
        return out
    out["snapshot_published"] = int(published is not None)
    if mode == "lake" and published is not None:
        out["lake_snapshot"] = int(published.rsplit("@", 1)[1])
    return out
