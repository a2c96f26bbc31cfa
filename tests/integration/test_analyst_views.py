"""The analyst views agree with the base tables, and 0007 waits for the tables it builds on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.integration.analyst_db import (
    ANALYST_FIXTURES,
    add_assumed_tables,
    build_analyst_db,
    copy_db,
)
from transforms.database import connect, list_migrations, migrate, missing_requirements

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
        "SELECT topics, topic_scores FROM us_china_articles WHERE title LIKE 'Gallium prices%'"
    ).fetchone() or (None, None)
    stored = reader.execute(
        "SELECT topic, score FROM article_topics JOIN articles USING (article_id) "
        "WHERE title LIKE 'Gallium prices%' ORDER BY score DESC"
    ).fetchall()
    assert len(stored) >= 2 and stored[0][1] > stored[-1][1]  # distinct scores to order by
    assert topics == [t for t, _ in stored]  # best first
    assert dict(scores) == dict(stored)
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
    # The two .txt fixtures carry no date; the view counts their US–China flags as stored.
    flagged = one(
        reader,
        "SELECT count(*) FILTER (WHERE a.us_china) FROM articles a JOIN article_topics t "
        "USING (article_id) WHERE a.published_at IS NULL AND t.topic = 'rare_earths'",
    )
    assert undated == [(2, flagged)]


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
    applied_0007 = "SELECT count(*) FROM schema_migrations WHERE name = '0007_analyst_sources'"
    views = (
        "SELECT view_name FROM duckdb_views() "
        "WHERE view_name IN ('source_health', 'duplicate_clusters') ORDER BY 1"
    )
    health_sql = (
        "SELECT source, articles, new_articles_7d, fetch_failures_7d, "
        "last_success_at IS NOT NULL FROM source_health"
    )
    with connect(db, read_only=False) as con:
        # Every table 0007 builds on exists, so the first landing applied it.
        assert missing_requirements(con, sql) == []
        assert one(con, applied_0007) == 1
        health = con.execute(health_sql).fetchall()
        # One folder source, all 12 articles new this week, nothing fetched, so no failure.
        assert health == [(str(ANALYST_FIXTURES), 12, 12, 0, True)]
        # No two analyst fixtures are copies of one story.
        assert con.execute("SELECT * FROM duplicate_clusters").fetchall() == []

        # A database where one of those tables is missing (the issue adding it not landed yet):
        con.execute("DROP VIEW source_health")
        con.execute("DROP VIEW duplicate_clusters")
        con.execute("DROP TABLE article_sightings")
        con.execute("DELETE FROM schema_migrations WHERE name = '0007_analyst_sources'")
        assert missing_requirements(con, sql) == ["article_sightings.article_id"]
        assert "0007_analyst_sources" not in migrate(con)  # it waits, unrecorded
        assert one(con, applied_0007) == 0
        assert con.execute(views).fetchall() == []

        # The table arrives: the next migrate applies 0007, and its views answer as before.
        assert add_assumed_tables(con) == ["article_sightings"]
        assert missing_requirements(con, sql) == []
        assert one(con, applied_0007) == 1
        assert con.execute(views).fetchall() == [("duplicate_clusters",), ("source_health",)]
        assert con.execute(health_sql).fetchall() == health


def test_requires_line_lists_what_is_missing() -> None:
    with duckdb.connect() as con:
        con.execute("CREATE TABLE present (a INTEGER)")
        sql = "-- requires: present, present.a, present.b, absent\nSELECT 1;"
        assert missing_requirements(con, sql) == ["present.b", "absent"]
        assert missing_requirements(con, "SELECT 1;") == []
