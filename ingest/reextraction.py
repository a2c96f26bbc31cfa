"""Re-extraction from stored raw pages after the extractor or its settings changed.

Each article records the bytes it came from (`raw_location`, `raw_hash`), the SourceItem that
described them (`source_item`) and the `extractor_version` that read them. `tradewire reextract`
re-runs extraction and tagging for the articles whose version differs from the current one and
lands the results through the normal loader, so dates, clusters and sightings follow the same
rules as a fresh run. Nothing is refetched: a page whose bytes are gone or changed is skipped
(the next ordinary run picks up changed files).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import duckdb
import pyarrow as pa

from ingest.extraction import extractor_version, hash_bytes, read_source_bytes
from ingest.folder import document_kind
from ingest.records import SourceItem
from ingest.tagstream import tag_stream
from transforms.database import connect
from transforms.derived import mark_stale_days
from transforms.load import land_batch

DEFAULT_BATCH_SIZE = 200
_ITEM_FIELDS = frozenset(f.name for f in fields(SourceItem))


@dataclass(frozen=True)
class ReextractCounts:
    """What one pass did."""

    stale: int = 0  # articles with another extractor_version
    reextracted: int = 0  # landed again through the loader
    changed: int = 0  # of those, articles whose title or text changed
    missing_raw: int = 0  # raw bytes gone or different from raw_hash: skipped
    failed: int = 0  # extraction failed now (the old row is kept)

    def describe(self) -> str:
        """One line for the CLI."""
        return (
            f"stale {self.stale}, reextracted {self.reextracted}, text changed {self.changed}, "
            f"raw missing {self.missing_raw}, failed {self.failed}"
        )


@dataclass(frozen=True)
class _Stale:
    article_id: str
    content_hash: str
    item: SourceItem


def rebuild_item(row: Sequence[object]) -> SourceItem:
    """The SourceItem an article was extracted from: its stored JSON, else its columns."""
    article_id, source, location, url, raw_hash, discovered_at, raw_location, stored = row
    del article_id
    if stored:
        data = json.loads(str(stored))
        return SourceItem(**{k: v for k, v in data.items() if k in _ITEM_FIELDS})
    path = str(raw_location or location)
    return SourceItem(
        source=str(source),
        location=path,
        kind=document_kind(Path(path)) or "html",
        raw_hash=str(raw_hash),
        url=str(url) if url else None,
        discovered_at=str(discovered_at) if discovered_at else None,
    )


def raw_available(item: SourceItem) -> bool:
    """The raw bytes are still where they were, and still the bytes the article came from."""
    try:
        return hash_bytes(read_source_bytes(item.location)) == item.raw_hash
    except OSError:
        return False


def read_stale(db_path: Path, version: str, after: str | None, limit: int) -> list[_Stale]:
    """The next page (by article_id) of articles another extractor version produced."""
    with connect(db_path, read_only=True) as con:
        rows = con.execute(
            "SELECT article_id, content_hash, source, location, url, raw_hash, "
            "CAST(discovered_at AS VARCHAR), raw_location, CAST(source_item AS VARCHAR) "
            "FROM articles WHERE extractor_version IS DISTINCT FROM ? "
            "AND (? IS NULL OR article_id > ?) ORDER BY article_id LIMIT ?",
            [version, after, after, limit],
        ).fetchall()
    return [_Stale(str(r[0]), str(r[1]), rebuild_item((r[0], *r[2:]))) for r in rows]


def reextract_articles(
    db_path: Path, *, batch_size: int = DEFAULT_BATCH_SIZE, workers: int = 1, run_id: str
) -> ReextractCounts:
    """Re-extract, re-tag and re-land every stale article, one transaction per batch."""
    version = extractor_version()
    totals = ReextractCounts()
    after: str | None = None
    while batch := read_stale(db_path, version, after, batch_size):
        after = batch[-1].article_id
        usable = [s for s in batch if raw_available(s.item)]
        done = list(tag_stream([s.item for s in usable], workers))
        tagged = [t for t in done if t.article.error is None]
        good = [
            (s, t.article) for s, t in zip(usable, done, strict=True) if t.article.error is None
        ]
        with connect(db_path, read_only=False) as con:
            land_batch(con, tagged, run_id)
            moved = [(s.article_id, a.article_id) for s, a in good if s.article_id != a.article_id]
            if moved:
                retire_ids(con, moved)
        totals = ReextractCounts(
            stale=totals.stale + len(batch),
            reextracted=totals.reextracted + len(good),
            changed=totals.changed + sum(1 for s, a in good if a.content_hash != s.content_hash),
            missing_raw=totals.missing_raw + len(batch) - len(usable),
            failed=totals.failed + len(usable) - len(good),
        )
    return totals


def retire_ids(con: duckdb.DuckDBPyConnection, moved: Sequence[tuple[str, str]]) -> None:
    """Drop rows left under an old id when a rule change gave the article a new identity."""
    pairs = pa.table(  # noqa: F841 - read by DuckDB by name
        {"old_id": [o for o, _ in moved], "new_id": [n for _, n in moved]}
    )
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "INSERT INTO article_sightings (article_id, source, url, seen_at) "
            "SELECT p.new_id, s.source, s.url, s.seen_at FROM article_sightings s "
            "JOIN pairs p ON s.article_id = p.old_id ON CONFLICT DO NOTHING"
        )
        mark_stale_days(con, "SELECT unnest(CAST(? AS VARCHAR[]))", [[o for o, _ in moved]])
        for table in (
            "article_sightings",
            "article_topics",
            "article_entities",
            "article_minhash",
            "article_lsh_bands",
            # The search index drops the old id with the article (its postings, at the next rewrite).
            "search_docs",
            "articles",
        ):
            con.execute(f"DELETE FROM {table} WHERE article_id IN (SELECT old_id FROM pairs)")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
