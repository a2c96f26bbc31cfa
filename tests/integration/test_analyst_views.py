"""The analyst views agree with the base tables, and 0007 waits for the tables it builds on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.integration.analyst_db import add_assumed_tables, build_analyst_db, copy_db
from transforms.database import connect, list_migrations, missing_requirements

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def built_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_analyst_db(tmp_path_factory.mktemp("views") / "built.duckdb")


@pytest.fixture
def reader(built_db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(built_db), read_only=True)
    yield con
    con.close()


def one(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    row = con.execute(sql).fetchone()
    assert row is not None
    return row[0]


def test_us_china_articles_lists_topics_best_first(reader: duckdb.DuckDBPyConnection) -> None:
    assert one(reader, "SELECT count(*) FROM us_china_articles") == one(
        reader, "SELECT count(*) FROM articles WHERE us_china"
    )
    topics, scores = reader.execute(
        "SELECT topics, topic_scores FROM us_china_articles WHERE title LIKE 'China tightens%'"
    ).fetchone() or (None, None)
    assert topics == ["rare_earths", "export_controls", "semiconductors"]
    assert scores["rare_earths"] > scores["semiconductors"]
    # An article the tagger found no topic for is still listed, with an empty list.
    assert (
        one(
            reader,
            "SELECT topics FROM us_china_articles WHERE title = 'Carmakers warn of magnet shortage'",
        )
        == []
    )


def test_topic_daily_adds_up(reader: duckdb.DuckDBPyConnection) -> None:
    assert one(reader, "SELECT sum(articles) FROM topic_daily") == one(
        reader, "SELECT count(*) FROM article_topics"
    )
    assert one(reader, "SELECT sum(us_china_articles) FROM topic_daily") == one(
        reader,
        "SELECT count(*) FROM article_topics JOIN articles USING (article_id) WHERE us_china",
    )
    undated = reader.execute(
        "SELECT articles, us_china_articles FROM topic_daily "
        "WHERE day IS NULL AND topic = 'rare_earths'"
    ).fetchall()
    assert undated == [(2, 0)]  # the two .txt fixtures carry no date


def test_entity_mentions_adds_up(reader: duckdb.DuckDBPyConnection) -> None:
    assert one(reader, "SELECT sum(mentions) FROM entity_mentions") == one(
        reader, "SELECT sum(mentions) FROM article_entities"
    )
    days = reader.execute(
        "SELECT day::VARCHAR FROM entity_mentions WHERE entity_id = 'us.bessent' ORDER BY day"
    ).fetchall()
    assert days == [("2026-10-27",), ("2026-11-17",), ("2026-11-24",)]


def test_sources_views_wait_for_their_tables(built_db: Path, tmp_path: Path) -> None:
    db = copy_db(built_db, tmp_path / "views.duckdb")
    sql = dict(list_migrations())["0007_analyst_sources"]
    with connect(db, read_only=False) as con:
        applied = {r[0] for r in con.execute("SELECT name FROM schema_migrations").fetchall()}
        if missing_requirements(con, sql):
            assert "0007_analyst_sources" not in applied
            assert not con.execute(
                "SELECT 1 FROM duckdb_views() WHERE view_name = 'source_health'"
            ).fetchall()
        created = add_assumed_tables(con)
        assert missing_requirements(con, sql) == []
        assert one(
            con, "SELECT count(*) FROM schema_migrations WHERE name = '0007_analyst_sources'"
        )
        health = {
            r[0]: r[1:]
            for r in con.execute(
                "SELECT source, articles, new_articles_7d, fetch_failures_7d, "
                "last_success_at IS NOT NULL FROM source_health"
            ).fetchall()
        }
        assert sum(v[0] for v in health.values()) == 12
        assert all(v[3] for v in health.values())  # every source has a last success
        if "example-wire" in health:  # the stand-in fetch_log: one good fetch, one 503
            assert health["example-wire"][:3] == (0, 0, 1)
        clusters = con.execute("SELECT cluster_id, articles FROM duplicate_clusters").fetchall()
        if "articles.cluster_id" in created:  # the stand-in: the two gallium stories
            assert clusters == [("gallium", 2)]


def test_requires_line_lists_what_is_missing() -> None:
    with duckdb.connect() as con:
        con.execute("CREATE TABLE present (a INTEGER)")
        sql = "-- requires: present, present.a, present.b, absent\nSELECT 1;"
        assert missing_requirements(con, sql) == ["present.b", "absent"]
        assert missing_requirements(con, "SELECT 1;") == []
