from pathlib import Path

from transforms.database import connect
from transforms.load import land_batch, land_batches
from transforms.records import Article, EntityMention, Evidence, TaggedArticle, TagResult, TopicTag


def _tagged(
    article_id: str, text: str, topics: tuple[str, ...] = ("tariffs",), error: str | None = None
) -> TaggedArticle:
    article = Article(
        article_id=article_id,
        source="test",
        location=f"/x/{article_id}.txt",
        url=None,
        title=f"Title {article_id}",
        text=text,
        author=None,
        published_at="2025-06-01T00:00:00+00:00",
        language="en",
        word_count=len(text.split()),
        content_hash=f"h-{text}",
        raw_hash=f"r-{text}",
        provenance={"title": "test"},
        error=error,
    )
    tags = TagResult(
        us_china=True,
        us_china_score=0.9,
        us_china_evidence=(Evidence("US", 0, 2),),
        topics=tuple(TopicTag(t, 0.8, (Evidence(t, 0, len(t)),)) for t in topics),
        entities=(EntityMention("scott_bessent", "Scott Bessent", "person", 2),),
        taxonomy_version="test-1",
    )
    return TaggedArticle(article, tags)


def _counts(db_path: Path) -> tuple[int, ...]:
    with connect(db_path) as con:
        row = con.execute(
            "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM article_topics),"
            " (SELECT count(*) FROM article_entities), (SELECT count(*) FROM ingest_errors)"
        ).fetchone()
    assert row is not None
    return tuple(row)


def test_landing_the_same_batch_twice_changes_nothing(db_path: Path) -> None:
    batch = [_tagged("a", "one text"), _tagged("b", "two text", ("tariffs", "currency"))]
    first = land_batches(db_path, [batch], "run-1")
    assert (first.new, first.updated, first.unchanged) == (2, 0, 0)
    assert _counts(db_path) == (2, 3, 2, 0)
    second = land_batches(db_path, [batch], "run-2")
    assert (second.new, second.updated, second.unchanged) == (0, 0, 2)
    assert _counts(db_path) == (2, 3, 2, 0)
    with connect(db_path) as con:
        assert con.execute("SELECT DISTINCT run_id FROM articles").fetchall() == [("run-1",)]


def test_changed_article_replaces_its_row_and_topics(db_path: Path) -> None:
    land_batches(db_path, [[_tagged("a", "old text", ("tariffs", "currency"))]], "run-1")
    counts = land_batches(db_path, [[_tagged("a", "new text", ("sanctions",))]], "run-2")
    assert (counts.new, counts.updated) == (0, 1)
    with connect(db_path) as con:
        assert con.execute("SELECT text, run_id FROM articles").fetchall() == [
            ("new text", "run-2")
        ]
        assert con.execute("SELECT topic FROM article_topics").fetchall() == [("sanctions",)]
        first, last = con.execute(
            "SELECT first_ingested_at, ingested_at FROM articles"
        ).fetchone() or (None, None)
        assert first is not None and last is not None and first <= last


def test_error_rows_land_in_ingest_errors_and_keep_the_old_article(db_path: Path) -> None:
    land_batches(db_path, [[_tagged("a", "good text")]], "run-1")
    counts = land_batches(db_path, [[_tagged("a", "", error="no text extracted")]], "run-2")
    assert counts.failed == 1
    assert _counts(db_path) == (1, 1, 1, 1)


def test_duplicate_ids_within_one_batch_land_once(db_path: Path) -> None:
    counts = land_batches(db_path, [[_tagged("a", "x text"), _tagged("a", "x text")]], "run-1")
    assert counts.new == 1 and _counts(db_path)[0] == 1


def test_failed_transaction_leaves_nothing_half_written(db_path: Path) -> None:
    land_batches(db_path, [[_tagged("a", "text a")]], "run-1")
    bad = _tagged("b", "text b")
    with connect(db_path, read_only=False) as con:
        con.execute("DROP TABLE article_entities")  # make the load fail after articles/topics
        try:
            land_batch(con, [bad], "run-2")
        except Exception:
            pass
        else:
            raise AssertionError("load should have failed")
        assert con.execute("SELECT count(*) FROM articles").fetchone() == (1,)
        assert con.execute("SELECT count(*) FROM article_topics").fetchone() == (1,)
