"""Landing tagged articles in DuckDB: bulk, idempotent on article_id, one short transaction."""

from __future__ import annotations

import json
import logging
import os
import socket
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from transforms.database import connect
from transforms.dedup import cluster_articles
from transforms.derived import mark_stale_days
from transforms.heap import trim_heap
from transforms.live_sources import land_entry_rows, split_feed_duplicates
from transforms.records import Article, Evidence, TaggedArticle
from transforms.schema import (
    ARTICLE_SCHEMA,
    RECORD_COLUMNS,
    UPDATABLE_COLUMNS,
    insert_columns,
    insert_select,
)
from transforms.storable import find_unencodable, scrub

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadCounts:
    """What one load did, for ingest_runs and the run summary."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0

    def __add__(self, other: LoadCounts) -> LoadCounts:
        return LoadCounts(
            self.new + other.new,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
            self.failed + other.failed,
        )


@dataclass(frozen=True)
class RunInfo:
    """Identity of the run a load belongs to."""

    run_id: str
    started_at: datetime
    trigger: str = "cli"


# ingest_runs.status: a row is "running" from the run's first landing until it finishes;
# a later run marks the rows of dead processes on this host "interrupted".
RUNNING, FINISHED, FAILED, INTERRUPTED = "running", "finished", "failed", "interrupted"
HOST = socket.gethostname()


def storable(tagged: TaggedArticle) -> TaggedArticle:
    """The article, or an error row in its place when one of its strings cannot be stored.

    Sources clean what they read (feeds replace lone surrogates, folders refuse undecodable
    file names); this is the landing's own guard, so one bad string never fails a batch.
    """
    article = tagged.article
    field_name = next(
        (name for name in _ARTICLE_FIELDS if find_unencodable(getattr(article, name), name)),
        None,
    )
    if field_name is None:
        return tagged
    logger.warning("%s: %s holds text that cannot be stored", scrub(article.location), field_name)
    failed = replace(
        article,
        source=scrub(article.source),
        location=scrub(article.location),
        url=scrub(article.url) if article.url else None,
        raw_hash=scrub(article.raw_hash),
        feed_entry=scrub(article.feed_entry) if article.feed_entry is not None else None,
        page_error=None,
        error=f"unstorable_text: {field_name} holds a lone surrogate (not valid Unicode)",
    )
    return TaggedArticle(failed, tagged.tags)


_INSERT_COLUMNS = insert_columns()
_INSERT_SELECT = insert_select()
_SET_CLAUSE = ", ".join(f"{c} = excluded.{c}" for c in UPDATABLE_COLUMNS)
_EVIDENCE_FIELDS = tuple(f.name for f in fields(Evidence))
_ARTICLE_FIELDS = tuple(f.name for f in fields(Article))


def _evidence_json(evidence: Sequence[Evidence]) -> str:
    """Evidence spans as JSON; field by field because asdict's deep copy was half the build time."""
    return json.dumps(
        [{name: getattr(e, name) for name in _EVIDENCE_FIELDS} for e in evidence],
        ensure_ascii=False,
    )


_S = pa.string()


def _provenance_array(arts: Sequence[Article]) -> pa.Array:
    """Provenance maps from flat keys, values and offsets: 4x faster than a list of pair lists."""
    keys: list[str] = []
    values: list[str] = []
    offsets = [0]
    for a in arts:
        keys.extend(a.provenance)
        values.extend(a.provenance.values())
        offsets.append(len(keys))
    return pa.MapArray.from_arrays(
        pa.array(offsets, pa.int32()), pa.array(keys, _S), pa.array(values, _S)
    )


def build_article_table(batch: Sequence[TaggedArticle], run_id: str, now: datetime) -> pa.Table:
    """Columnar copy of the batch, so DuckDB ingests it in one scan instead of row by row."""
    arts = [t.article for t in batch]
    tags = [t.tags for t in batch]
    data: dict[str, pa.Array] = {
        c.name: _provenance_array(arts)
        if c.name == "provenance"
        else pa.array([getattr(a, c.name) for a in arts], c.arrow)
        for c in RECORD_COLUMNS
    }
    data["us_china"] = pa.array([t.us_china for t in tags], pa.bool_())
    data["us_china_score"] = pa.array([t.us_china_score for t in tags], pa.float64())
    data["us_china_evidence"] = pa.array([_evidence_json(t.us_china_evidence) for t in tags], _S)
    data["taxonomy_version"] = pa.array([t.taxonomy_version for t in tags], _S)
    data["model_version"] = pa.array([t.model_version for t in tags], _S)
    data["ingested_at"] = pa.array([now] * len(arts), pa.timestamp("us", tz="UTC"))
    data["run_id"] = pa.array([run_id] * len(arts), _S)
    return pa.Table.from_pydict(data, schema=ARTICLE_SCHEMA)


def build_topic_table(batch: Sequence[TaggedArticle]) -> pa.Table:
    """One row per (article, topic) with its evidence as JSON."""
    rows = [
        (
            t.article.article_id,
            tag.topic,
            tag.score,
            _evidence_json(tag.evidence),
            t.tags.taxonomy_version,
            t.tags.model_version,
        )
        for t in batch
        for tag in t.tags.topics
    ]
    names = ["article_id", "topic", "score", "evidence", "taxonomy_version", "model_version"]
    return pa.table(
        {n: [r[i] for r in rows] for i, n in enumerate(names)},
        schema=pa.schema([(n, pa.float64() if n == "score" else pa.string()) for n in names]),
    )


def build_entity_table(batch: Sequence[TaggedArticle]) -> pa.Table:
    """One row per (article, entity) with its mention count."""
    rows = [
        (t.article.article_id, e.entity_id, e.name, e.kind, e.mentions)
        for t in batch
        for e in t.tags.entities
    ]
    names = ["article_id", "entity_id", "name", "kind", "mentions"]
    schema = pa.schema([(n, pa.int32() if n == "mentions" else pa.string()) for n in names])
    return pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)}, schema=schema)


def build_error_table(errors: Sequence[Article], run_id: str, now: datetime) -> pa.Table:
    """Error rows for documents that could not be extracted."""
    return pa.Table.from_pydict(
        {
            "run_id": [run_id] * len(errors),
            "source": [a.source for a in errors],
            "location": [a.location for a in errors],
            # None, not "", when the bytes could not even be read: nothing to compare next run.
            "raw_hash": [a.raw_hash or None for a in errors],
            "stage": ["extract"] * len(errors),
            "error": [a.error or "unknown" for a in errors],
            "occurred_at": pa.array([now] * len(errors), pa.timestamp("us", tz="UTC")),
        },
        schema=pa.schema(
            [
                ("run_id", _S),
                ("source", _S),
                ("location", _S),
                ("raw_hash", _S),
                ("stage", _S),
                ("error", _S),
                ("occurred_at", pa.timestamp("us", tz="UTC")),
            ]
        ),
    )


def build_sighting_table(arts: Sequence[Article], now: datetime) -> pa.Table:
    """Every (article, source, URL) in the batch, duplicates included: each is a sighting."""
    return pa.table(
        {
            "article_id": pa.array([a.article_id for a in arts], _S),
            "source": pa.array([a.source for a in arts], _S),
            "url": pa.array([a.url or a.location for a in arts], _S),
            "seen_at": pa.array(
                [_parse_ts(a.discovered_at) or now for a in arts], pa.timestamp("us", tz="UTC")
            ),
        }
    )


def _parse_ts(value: str | None) -> datetime | None:
    """An ISO timestamp as an aware datetime (UTC when no zone), None when absent or odd."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def land_batch(
    con: duckdb.DuckDBPyConnection,
    batch: Sequence[TaggedArticle],
    run_id: str,
    run: RunInfo | None = None,
) -> LoadCounts:
    """Upsert one batch inside a transaction: new and changed articles replace their tags.

    With `run`, the run's ingest_runs row is upserted in the same transaction and the batch's
    counts added to it: landed articles always have their run's row, however the run ends.
    """
    now = datetime.now(UTC)
    batch = [storable(t) for t in batch]
    # Last copy wins when one batch holds the same article twice (two URLs, one story).
    # A feed entry whose article another entry already landed is a duplicate, not an update.
    kept, feed_duplicates = split_feed_duplicates(con, batch, now)
    good = list({t.article.article_id: t for t in kept if t.article.error is None}.values())
    errors = [t.article for t in kept if t.article.error is not None]
    incoming = build_article_table(good, run_id, now)  # noqa: F841 - read by DuckDB by name
    topics = build_topic_table(good)  # noqa: F841
    entities = build_entity_table(good)  # noqa: F841
    error_rows = build_error_table(errors, run_id, now)  # noqa: F841
    sightings = build_sighting_table(  # noqa: F841
        [t.article for t in batch if t.article.error is None], now
    )
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE changes AS "
            "SELECT i.article_id, a.article_id IS NULL AS is_new FROM incoming i "
            "LEFT JOIN articles a USING (article_id) "
            "WHERE a.article_id IS NULL OR a.content_hash <> i.content_hash "
            "OR a.taxonomy_version <> i.taxonomy_version OR a.raw_hash <> i.raw_hash "
            "OR a.model_version IS DISTINCT FROM i.model_version "
            # Identity, not the URL of the latest sighting: three URLs of one article would
            # otherwise rewrite its row at every sighting (they land in article_sightings).
            "OR a.canonical_url IS DISTINCT FROM i.canonical_url "
            "OR a.extractor_version IS DISTINCT FROM i.extractor_version"
        )
        # An updated article may move to another day; the day it leaves must recount too.
        mark_stale_days(con, "SELECT article_id FROM changes WHERE NOT is_new")
        con.execute(
            f"INSERT INTO articles ({_INSERT_COLUMNS}) SELECT {_INSERT_SELECT} "
            "FROM incoming WHERE article_id IN (SELECT article_id FROM changes) "
            f"ON CONFLICT (article_id) DO UPDATE SET {_SET_CLAUSE}"
        )
        for table, columns in (
            (
                "article_topics",
                "article_id, topic, score, evidence, taxonomy_version, model_version",
            ),
            ("article_entities", "article_id, entity_id, name, kind, mentions"),
        ):
            source = "topics" if table == "article_topics" else "entities"
            con.execute(f"DELETE FROM {table} WHERE article_id IN (SELECT article_id FROM changes)")
            con.execute(
                f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {source} "
                "WHERE article_id IN (SELECT article_id FROM changes)"
            )
        con.execute("INSERT INTO ingest_errors SELECT * FROM error_rows")
        land_entry_rows(con, [t.article for t in kept], feed_duplicates, run_id, now)
        con.execute(
            "INSERT INTO article_sightings (article_id, source, url, seen_at) "
            "SELECT DISTINCT ON (article_id, source, url) article_id, source, url, seen_at "
            "FROM sightings ON CONFLICT DO NOTHING"
        )
        changed = {str(r[0]) for r in con.execute("SELECT article_id FROM changes").fetchall()}
        fresh = [t.article for t in good if t.article.article_id in changed]
        cluster_articles(con, [a.article_id for a in fresh], [a.minhash for a in fresh])
        row = con.execute(
            "SELECT count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE NOT is_new) FROM changes"
        ).fetchone()
        new, updated = (int(row[0]), int(row[1])) if row else (0, 0)
        counts = LoadCounts(
            new=new, updated=updated, unchanged=len(good) - new - updated, failed=len(errors)
        )
        if run is not None:
            add_to_run(con, run, counts)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return counts


def add_to_run(con: duckdb.DuckDBPyConnection, run: RunInfo, counts: LoadCounts) -> None:
    """Upsert the run's row as running and add one landing's counts to it."""
    con.execute(
        "INSERT INTO ingest_runs (run_id, started_at, new, updated, unchanged, failed, trigger,"
        " status, pid, host) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE "
        "SET new = ingest_runs.new + excluded.new, updated = ingest_runs.updated + excluded.updated,"
        " unchanged = ingest_runs.unchanged + excluded.unchanged,"
        " failed = ingest_runs.failed + excluded.failed, pid = excluded.pid,"
        " host = excluded.host, status = CASE WHEN ingest_runs.status = 'finished'"
        " THEN ingest_runs.status ELSE excluded.status END",
        [
            run.run_id,
            run.started_at,
            counts.new,
            counts.updated,
            counts.unchanged,
            counts.failed,
            run.trigger,
            RUNNING,
            os.getpid(),
            HOST,
        ],
    )


def record_run(
    con: duckdb.DuckDBPyConnection,
    run: RunInfo,
    seen: int,
    counts: LoadCounts,
    failed_sources: int = 0,
    status: str = FINISHED,
) -> None:
    """One ingest_runs row per run; a retried load overwrites its own row, never duplicates it."""
    con.execute(
        "INSERT INTO ingest_runs (run_id, started_at, finished_at, seen, new, updated, unchanged,"
        " failed, trigger, status, failed_sources, pid, host)"
        " VALUES (?, ?, now(), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE "
        "SET finished_at = excluded.finished_at, seen = excluded.seen, new = excluded.new, "
        "updated = excluded.updated, unchanged = excluded.unchanged, failed = excluded.failed, "
        "status = excluded.status, failed_sources = excluded.failed_sources, "
        "pid = excluded.pid, host = excluded.host",
        [
            run.run_id,
            run.started_at,
            seen,
            counts.new,
            counts.updated,
            counts.unchanged,
            counts.failed,
            run.trigger,
            status,
            failed_sources,
            os.getpid(),
            HOST,
        ],
    )
    mark_interrupted(con)


def process_alive(pid: int) -> bool:
    """Say whether a process of this host still exists (signal 0 checks without sending)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def mark_interrupted(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Mark the still-running rows of this host whose process is gone as interrupted."""
    rows = con.execute(
        "SELECT run_id, pid FROM ingest_runs WHERE status = ? AND host = ? AND pid IS NOT NULL",
        [RUNNING, HOST],
    ).fetchall()
    dead = [str(run_id) for run_id, pid in rows if not process_alive(int(pid))]
    if dead:
        con.execute(
            "UPDATE ingest_runs SET status = ? WHERE run_id IN (SELECT unnest(?))",
            [INTERRUPTED, dead],
        )
        logger.warning("runs whose process is gone, marked interrupted: %s", ", ".join(dead))
    return dead


def land_group(db_path: Path, batch: Sequence[TaggedArticle], run: str | RunInfo) -> LoadCounts:
    """Land one batch in one transaction under its own short connection, then give memory back.

    A landing does not checkpoint on close (the write-ahead log keeps it durable); the run's
    closing `finish_run` connection, or DuckDB's automatic checkpoint, folds the log in.
    """
    info = run if isinstance(run, RunInfo) else None
    run_id = run.run_id if isinstance(run, RunInfo) else run
    with connect(db_path, read_only=False, checkpoint_on_close=False) as con:
        counts = land_batch(con, batch, run_id, info)
    logger.info(
        "landed %d documents: new %d, updated %d, unchanged %d, failed %d",
        len(batch),
        counts.new,
        counts.updated,
        counts.unchanged,
        counts.failed,
    )
    log_error_classes(batch)
    # glibc keeps the heap Arrow (on the system allocator: transforms/__init__.py) and DuckDB
    # used for the landing; it goes back before the next batch.
    trim_heap()
    return counts


def land_batches(
    db_path: Path, batches: Iterable[Sequence[TaggedArticle]], run: str | RunInfo
) -> LoadCounts:
    """Land each batch under its own short connection, so readers get the file between batches.

    With a RunInfo (not a bare run id), each landing also keeps the run's ingest_runs row.
    """
    total = LoadCounts()
    for batch in batches:
        total = total + land_group(db_path, batch, run)
    return total


def log_error_classes(batch: Sequence[TaggedArticle]) -> None:
    """One warning per error class in a batch, so a failing source shows in the task log."""
    classes = Counter(
        (t.article.error or "").split(":", 1)[0].strip() or "unknown"
        for t in batch
        if t.article.error is not None
    )
    for error_class, count in classes.most_common():
        logger.warning("%d documents failed extraction: %s", count, error_class)


def finish_run(
    db_path: Path,
    run: RunInfo,
    seen: int,
    counts: LoadCounts,
    failed_sources: int = 0,
    status: str = FINISHED,
) -> None:
    """Record the run's totals once everything it found is landed."""
    with connect(db_path, read_only=False) as con:
        record_run(con, run, seen, counts, failed_sources, status)


def end_run(db_path: Path, run_id: str, status: str, wait_seconds: float = 5.0) -> None:
    """Set a running run's status (failed, interrupted) without waiting long for the lock."""
    with connect(db_path, read_only=False, wait_seconds=wait_seconds) as con:
        con.execute(
            "UPDATE ingest_runs SET status = ? WHERE run_id = ? AND status = ?",
            [status, run_id, RUNNING],
        )
