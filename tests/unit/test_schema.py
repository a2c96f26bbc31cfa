"""The Article record, the landing's Arrow schema and the migrated `articles` table agree."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import duckdb

from transforms.database import migrate
from transforms.records import Article, article_from_dict, to_dict
from transforms.schema import (
    ARTICLE_SCHEMA,
    FIRST_INGESTED_AT,
    LANDED_COLUMNS,
    MAINTAINED_COLUMNS,
    RECORD_COLUMNS,
)

# DuckDB spells some types differently in its catalogue than in CREATE TABLE.
_CATALOGUE_NAME = {"TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE"}


def migrated_columns(db: Path) -> dict[str, str]:
    """Column name -> DuckDB type of `articles` after every migration."""
    with duckdb.connect(str(db)) as con:
        migrate(con)
        rows = con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'articles'"
        ).fetchall()
    return {str(name): str(kind) for name, kind in rows}


def test_every_landed_column_exists_with_the_declared_type(tmp_path: Path) -> None:
    table = migrated_columns(tmp_path / "t.duckdb")
    for column in LANDED_COLUMNS:
        assert column.name in table, f"no migration adds articles.{column.name}"
        assert table[column.name] == _CATALOGUE_NAME.get(column.duckdb, column.duckdb), column


def test_the_table_has_no_column_the_record_does_not_account_for(tmp_path: Path) -> None:
    table = migrated_columns(tmp_path / "t.duckdb")
    accounted = {c.name for c in LANDED_COLUMNS} | {FIRST_INGESTED_AT, *MAINTAINED_COLUMNS}
    assert set(table) == accounted


def test_record_columns_follow_the_article_fields() -> None:
    stored = [f.name for f in fields(Article) if f.metadata.get("column", True)]
    assert [c.name for c in RECORD_COLUMNS] == stored
    # Transient fields (errors, feed entries, signatures) land in other tables.
    assert {"error", "feed_entry", "page_error", "minhash"}.isdisjoint(stored)
    assert ARTICLE_SCHEMA.names == [c.name for c in LANDED_COLUMNS]


def test_staging_json_round_trips_every_field() -> None:
    article = Article(
        article_id="a1",
        source="s",
        location="/x.html",
        url="https://example.com/x",
        title="T",
        text="Body",
        author=None,
        published_at="2026-01-02T00:00:00+00:00",
        language="en",
        word_count=1,
        content_hash="c",
        raw_hash="r",
        provenance={"title": "h1"},
        feed_entry={"title": "T"},
        is_truncated=True,
        source_item='{"kind": "html"}',
    )
    assert article_from_dict(json.loads(json.dumps(to_dict(article)))) == article
