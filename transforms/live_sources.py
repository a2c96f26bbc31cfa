"""Landing the live-sources tables: sources, fetch_log, discovered_urls and feed_entries.

Called by the load stage inside its own transactions, so a URL's terminal state commits with
the article it describes, and the poll's state commits once its articles are in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from transforms.database import connect
from transforms.pollrecords import (
    DUPLICATE,
    EntryOutcome,
    PollRecords,
    SourceState,
    terminal_state,
)
from transforms.records import Article, TaggedArticle
from transforms.storable import scrub

_S = pa.string()
_TS = pa.timestamp("us", tz="UTC")
_ENTRY_SCHEMA = pa.schema(
    [
        ("source", _S),
        ("entry_key", _S),
        ("guid", _S),
        ("link", _S),
        ("canonical_url", _S),
        ("article_id", _S),
        ("title", _S),
        ("summary", _S),
        ("published_at", _S),
        ("author", _S),
        ("first_seen_at", _S),
        ("run_id", _S),
    ]
)
_URL_SCHEMA = pa.schema(
    [
        ("run_id", _S),
        ("source", _S),
        ("entry_key", _S),
        ("url", _S),
        ("canonical_url", _S),
        ("article_id", _S),
        ("state", _S),
        ("reason", _S),
        ("decided_at", _S),
    ]
)
_FETCH_SCHEMA = pa.schema(
    [
        ("run_id", _S),
        ("source", _S),
        ("url", _S),
        ("status", pa.int32()),
        ("bytes", pa.int64()),
        ("elapsed_ms", pa.int32()),
        ("error_class", _S),
        ("retry", pa.int32()),
        ("started_at", _S),
    ]
)
_SOURCE_COLUMNS = [f.name for f in fields(SourceState)]


def outcome_for_article(article: Article, now: datetime) -> EntryOutcome | None:
    """The discovered-URL outcome a feed article stands for; None for folder articles."""
    entry = article.feed_entry
    if entry is None:
        return None
    state, reason = terminal_state(article.error, article.is_summary_only, article.page_error)
    return EntryOutcome(
        source=article.source,
        entry_key=str(entry["entry_key"]),
        url=entry.get("link"),
        canonical_url=entry.get("canonical_link"),
        article_id=article.article_id,
        state=state,
        reason=reason,
        decided_at=now.isoformat(),
        feed_entry=entry,
    )


def split_feed_duplicates(
    con: duckdb.DuckDBPyConnection, batch: Sequence[TaggedArticle], now: datetime
) -> tuple[list[TaggedArticle], list[EntryOutcome]]:
    """Drop feed articles another entry already landed (parallel host groups can race past
    discovery's check); they become duplicate outcomes instead of overwriting that article."""
    feed = [t for t in batch if t.article.feed_entry is not None and t.article.error is None]
    if not feed:
        return list(batch), []
    ids = sorted({t.article.article_id for t in feed})
    # An article whose own entry is on record is a retried load, not a duplicate.
    rows = con.execute(
        "SELECT a.article_id, list(e.source || chr(0) || e.entry_key) FILTER "
        "(WHERE e.entry_key IS NOT NULL) FROM articles a "
        "LEFT JOIN feed_entries e USING (article_id) "
        "WHERE a.article_id IN (SELECT unnest(?)) GROUP BY a.article_id",
        [ids],
    ).fetchall()
    owners = {str(r[0]): set(r[1] or []) for r in rows}
    kept: list[TaggedArticle] = []
    duplicates: list[EntryOutcome] = []
    for tagged in batch:
        article = tagged.article
        entry = article.feed_entry
        if entry is None or article.error is not None:
            kept.append(tagged)
            continue
        own = f"{article.source}\0{entry['entry_key']}"
        holders = owners.get(article.article_id)
        if holders is None or own in holders:
            owners[article.article_id] = {own}  # later copies in this batch are duplicates
            kept.append(tagged)
            continue
        outcome = outcome_for_article(article, now)
        assert outcome is not None
        duplicates.append(
            replace(outcome, state=DUPLICATE, reason="same canonical URL as a landed article")
        )
    return kept, duplicates


def land_entry_rows(
    con: duckdb.DuckDBPyConnection,
    articles: Sequence[Article],
    extra: Sequence[EntryOutcome],
    run_id: str,
    now: datetime,
) -> None:
    """feed_entries and discovered_urls rows for a batch's feed articles, in its transaction."""
    outcomes = [o for o in (outcome_for_article(a, now) for a in articles) if o is not None]
    land_outcomes(con, [*outcomes, *extra], run_id)


def land_outcomes(
    con: duckdb.DuckDBPyConnection, outcomes: Sequence[EntryOutcome], run_id: str
) -> None:
    """Remember each entry (so later polls skip it) and record its URL's terminal state."""
    if not outcomes:
        return
    # Sources clean what they read; scrubbed again here so no string can fail the landing.
    outcomes = [
        replace(o, feed_entry=scrub(o.feed_entry), reason=scrub(o.reason)) for o in outcomes
    ]
    entries = pa.Table.from_pylist(  # noqa: F841 - read by DuckDB by name
        [
            {
                "source": o.source,
                "entry_key": o.entry_key,
                "guid": o.feed_entry.get("guid"),
                "link": o.feed_entry.get("link"),
                "canonical_url": o.canonical_url,
                "article_id": o.article_id,
                "title": o.feed_entry.get("title"),
                "summary": o.feed_entry.get("summary"),
                "published_at": o.feed_entry.get("published_at"),
                "author": o.feed_entry.get("author"),
                "first_seen_at": o.decided_at,
                "run_id": run_id,
            }
            for o in outcomes
        ],
        schema=_ENTRY_SCHEMA,
    )
    urls = pa.Table.from_pylist(  # noqa: F841
        [
            {
                "run_id": run_id,
                "source": o.source,
                "entry_key": o.entry_key,
                "url": o.url,
                "canonical_url": o.canonical_url,
                "article_id": o.article_id,
                "state": o.state,
                "reason": o.reason,
                "decided_at": o.decided_at,
            }
            for o in outcomes
        ],
        schema=_URL_SCHEMA,
    )
    con.execute(
        "INSERT INTO feed_entries SELECT source, entry_key, guid, link, canonical_url, "
        "article_id, title, summary, CAST(published_at AS TIMESTAMPTZ), author, "
        "CAST(first_seen_at AS TIMESTAMPTZ), run_id FROM entries "
        "ON CONFLICT (source, entry_key) DO NOTHING"
    )
    con.execute(
        "INSERT INTO discovered_urls SELECT run_id, source, entry_key, url, canonical_url, "
        "article_id, state, reason, CAST(decided_at AS TIMESTAMPTZ) FROM urls "
        "ON CONFLICT (run_id, source, entry_key) DO UPDATE SET state = excluded.state, "
        "reason = excluded.reason, article_id = excluded.article_id, "
        "decided_at = excluded.decided_at"
    )


def land_poll_records(con: duckdb.DuckDBPyConnection, records: PollRecords, run_id: str) -> None:
    """Land a poll's source states, requests and non-article outcomes in one transaction."""
    log = pa.Table.from_pylist(  # noqa: F841 - read by DuckDB by name
        [scrub({"run_id": run_id, **asdict(r)}) for r in records.fetch_log], schema=_FETCH_SCHEMA
    )
    con.execute("BEGIN TRANSACTION")
    try:
        for state in records.sources:
            upsert_source(con, state)
        con.execute(
            "INSERT INTO fetch_log SELECT run_id, source, url, status, bytes, elapsed_ms, "
            "error_class, retry, CAST(started_at AS TIMESTAMPTZ) FROM log "
            "ON CONFLICT DO NOTHING"
        )
        land_outcomes(con, records.outcomes, run_id)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def upsert_source(con: duckdb.DuckDBPyConnection, state: SourceState) -> None:
    """One `sources` row per name; the newest poll's state replaces the last."""
    values: dict[str, Any] = scrub(asdict(state))
    columns = ", ".join(_SOURCE_COLUMNS)
    marks = ", ".join("?" for _ in _SOURCE_COLUMNS)
    updates = ", ".join(f"{c} = excluded.{c}" for c in _SOURCE_COLUMNS if c != "name")
    con.execute(
        f"INSERT INTO sources ({columns}) VALUES ({marks}) "
        f"ON CONFLICT (name) DO UPDATE SET {updates}",
        [values[c] for c in _SOURCE_COLUMNS],
    )


def record_poll(db_path: Path, records: PollRecords, run_id: str) -> None:
    """Land a poll's records under their own short connection, after its articles."""
    with connect(db_path, read_only=False) as con:
        land_poll_records(con, records, run_id)


def read_source_activity(db_path: Path) -> dict[str, dict[str, Any]]:
    """Each polled source's state and counts for `tradewire sources list`; no database: empty."""
    from transforms.database import DatabaseMissingError

    sql = """
        SELECT s.name, s.kind, s.last_status, s.last_error, s.consecutive_failures,
               s.next_due_at,
               (SELECT max(f.started_at) FROM fetch_log f
                 WHERE f.source = s.name AND f.url = s.location AND f.error_class IS NULL
                   AND f.status < 400) AS last_success_at,
               (SELECT count(*) FROM feed_entries e WHERE e.source = s.name) AS entries,
               (SELECT count(*) FROM articles a WHERE a.source = s.name) AS articles
        FROM sources s
    """
    try:
        with connect(db_path, read_only=True) as con:
            cursor = con.execute(sql)
            names = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
    except (DatabaseMissingError, duckdb.CatalogException):
        return {}
    return {str(row[0]): dict(zip(names, row, strict=True)) for row in rows}
