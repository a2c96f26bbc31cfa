"""Re-tagging stored articles after the taxonomy or gazetteer changed (`tradewire retag`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from transforms.database import connect
from transforms.records import Evidence, TagResult
from transforms.tagging import Tagger, evidence_to_dict, load_tagger

DEFAULT_BATCH_SIZE = 500


@dataclass(frozen=True)
class RetagCounts:
    """What one retag pass did: articles looked at, rewritten, and whose tags really changed."""

    checked: int = 0  # stored articles when the pass started
    retagged: int = 0  # articles with an older tagger version, now rewritten
    changed: int = 0  # of those, articles whose us_china flag, topics or entities differ

    def __add__(self, other: RetagCounts) -> RetagCounts:
        return RetagCounts(
            self.checked + other.checked,
            self.retagged + other.retagged,
            self.changed + other.changed,
        )

    def describe(self) -> str:
        """One line for the CLI and task logs."""
        return f"checked {self.checked}, retagged {self.retagged}, tags changed {self.changed}"


@dataclass(frozen=True)
class _Stored:
    """An article as stored: what the tagger reads and what a changed tag is compared with."""

    article_id: str
    title: str | None
    text: str
    version: str
    model_version: str | None
    content_hash: str
    us_china: bool
    topics: frozenset[str]
    entities: frozenset[str]


def _evidence_json(evidence: Sequence[Evidence]) -> str:
    """Evidence spans as stored by the loader: a JSON list of {text, start, end, field}."""
    return json.dumps([evidence_to_dict(e) for e in evidence], ensure_ascii=False)


def count_articles(db_path: Path) -> int:
    """Stored articles; a missing database has none, rather than being created by a reader."""
    if not db_path.exists():
        return 0
    with connect(db_path, read_only=True) as con:
        row = con.execute("SELECT count(*) FROM articles").fetchone()
    return int(row[0]) if row else 0


def read_stale_batch(
    db_path: Path, version: str, model_version: str | None, after: str | None, limit: int
) -> list[_Stored]:
    """The next page (by article_id) of articles tagged by another taxonomy or model version."""
    with connect(db_path, read_only=True) as con:
        rows = con.execute(
            "SELECT a.article_id, a.title, a.text, a.taxonomy_version, a.model_version, "
            "a.content_hash, a.us_china, "
            "(SELECT list(t.topic) FROM article_topics t WHERE t.article_id = a.article_id), "
            "(SELECT list(e.entity_id) FROM article_entities e WHERE e.article_id = a.article_id) "
            "FROM articles a WHERE (a.taxonomy_version <> ? OR a.model_version IS DISTINCT FROM ?) "
            "AND (? IS NULL OR a.article_id > ?) ORDER BY a.article_id LIMIT ?",
            [version, model_version, after, after, limit],
        ).fetchall()
    return [
        _Stored(
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            bool(r[6]),
            frozenset(r[7] or ()),
            frozenset(r[8] or ()),
        )
        for r in rows
    ]


def _tables(
    batch: Sequence[tuple[_Stored, TagResult]],
) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Arrow tables of the new article fields, topic rows and entity rows of one batch."""
    s = pa.string()
    updates = pa.table(
        {
            "article_id": [a.article_id for a, _ in batch],
            "old_version": [a.version for a, _ in batch],
            "old_model": [a.model_version for a, _ in batch],
            "content_hash": [a.content_hash for a, _ in batch],
            "us_china": pa.array([r.us_china for _, r in batch], pa.bool_()),
            "us_china_score": pa.array([r.us_china_score for _, r in batch], pa.float64()),
            "us_china_evidence": [_evidence_json(r.us_china_evidence) for _, r in batch],
            "taxonomy_version": [r.taxonomy_version for _, r in batch],
            "model_version": [r.model_version for _, r in batch],
        },
        schema=pa.schema(
            [
                ("article_id", s),
                ("old_version", s),
                ("old_model", s),
                ("content_hash", s),
                ("us_china", pa.bool_()),
                ("us_china_score", pa.float64()),
                ("us_china_evidence", s),
                ("taxonomy_version", s),
                ("model_version", s),
            ]
        ),
    )
    topic_rows = [
        (
            a.article_id,
            t.topic,
            t.score,
            _evidence_json(t.evidence),
            r.taxonomy_version,
            r.model_version,
        )
        for a, r in batch
        for t in r.topics
    ]
    topics = pa.table(
        {
            "article_id": pa.array([x[0] for x in topic_rows], s),
            "topic": pa.array([x[1] for x in topic_rows], s),
            "score": pa.array([x[2] for x in topic_rows], pa.float64()),
            "evidence": pa.array([x[3] for x in topic_rows], s),
            "taxonomy_version": pa.array([x[4] for x in topic_rows], s),
            "model_version": pa.array([x[5] for x in topic_rows], s),
        }
    )
    entity_rows = [
        (a.article_id, e.entity_id, e.name, e.kind, e.mentions)
        for a, r in batch
        for e in r.entities
    ]
    entities = pa.table(
        {
            "article_id": pa.array([x[0] for x in entity_rows], s),
            "entity_id": pa.array([x[1] for x in entity_rows], s),
            "name": pa.array([x[2] for x in entity_rows], s),
            "kind": pa.array([x[3] for x in entity_rows], s),
            "mentions": pa.array([x[4] for x in entity_rows], pa.int32()),
        }
    )
    return updates, topics, entities


def write_batch(con: duckdb.DuckDBPyConnection, batch: Sequence[tuple[_Stored, TagResult]]) -> int:
    """Rewrite one batch's tags in one transaction; returns the articles actually rewritten.

    Only rows still carrying the version and content read earlier are touched, so an ingest
    that re-landed an article meanwhile is never overwritten with tags of its old text.
    """
    updates, new_topics, new_entities = _tables(batch)  # noqa: F841 - read by DuckDB by name
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE retag_todo AS SELECT u.* FROM updates u "
            "JOIN articles a USING (article_id) "
            "WHERE a.taxonomy_version = u.old_version AND a.content_hash = u.content_hash "
            "AND a.model_version IS NOT DISTINCT FROM u.old_model"
        )
        con.execute(
            "UPDATE articles SET us_china = t.us_china, us_china_score = t.us_china_score, "
            "us_china_evidence = CAST(t.us_china_evidence AS JSON), "
            "taxonomy_version = t.taxonomy_version, model_version = t.model_version, "
            "retagged_at = now() "
            "FROM retag_todo t WHERE articles.article_id = t.article_id"
        )
        for table, source, columns in (
            (
                "article_topics",
                "new_topics",
                "article_id, topic, score, evidence, taxonomy_version, model_version",
            ),
            ("article_entities", "new_entities", "article_id, entity_id, name, kind, mentions"),
        ):
            con.execute(
                f"DELETE FROM {table} WHERE article_id IN (SELECT article_id FROM retag_todo)"
            )
            con.execute(
                f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {source} "
                "WHERE article_id IN (SELECT article_id FROM retag_todo)"
            )
        row = con.execute("SELECT count(*) FROM retag_todo").fetchone()
        con.execute("DROP TABLE retag_todo")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return int(row[0]) if row else 0


def _tags_changed(stored: _Stored, result: TagResult) -> bool:
    """A retag matters to readers when the flag, the topic set or the entity set moved."""
    return (
        stored.us_china != result.us_china
        or stored.topics != {t.topic for t in result.topics}
        or stored.entities != {e.entity_id for e in result.entities}
    )


def retag_articles(
    db_path: Path, batch_size: int = DEFAULT_BATCH_SIZE, tagger: Tagger | None = None
) -> RetagCounts:
    """Re-tag stored articles whose tagger version differs from the current one.

    Titles and texts come from the database (nothing is refetched); tagging happens outside
    any connection, and each batch is written in one short transaction, so the pipeline's
    loads and readers only ever wait for one batch.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    tagger = tagger or load_tagger()
    model_version = tagger.model.version if tagger.model is not None else None
    checked = count_articles(db_path)
    retagged = changed = 0
    after: str | None = None
    while checked:
        stale = read_stale_batch(db_path, tagger.version, model_version, after, batch_size)
        if not stale:
            break
        after = stale[-1].article_id
        batch = [(a, tagger.tag(a.title, a.text)) for a in stale]
        with connect(db_path, read_only=False) as con:
            written = write_batch(con, batch)
        retagged += written
        if written == len(batch):
            changed += sum(_tags_changed(a, r) for a, r in batch)
        else:  # some rows moved on meanwhile; count only what this pass wrote
            changed += _count_changed_written(db_path, batch, tagger.version, model_version)
    return RetagCounts(checked=checked, retagged=retagged, changed=changed)


def _count_changed_written(
    db_path: Path,
    batch: Sequence[tuple[_Stored, TagResult]],
    version: str,
    model_version: str | None,
) -> int:
    """Changed tags among the batch's articles that now carry this pass's version and text."""
    ids = [a.article_id for a, _ in batch]
    with connect(db_path, read_only=True) as con:
        rows = con.execute(
            "SELECT article_id, content_hash FROM articles "
            "WHERE taxonomy_version = ? AND model_version IS NOT DISTINCT FROM ? "
            "AND list_contains(?, article_id)",
            [version, model_version, ids],
        ).fetchall()
    written = dict((r[0], r[1]) for r in rows)
    return sum(_tags_changed(a, r) for a, r in batch if written.get(a.article_id) == a.content_hash)
