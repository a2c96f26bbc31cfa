"""The incremental BM25 index: same hits and scores as DuckDB's fts, kept current per article."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ingest.reextraction import retire_ids
from transforms import searchindex
from transforms.database import connect
from transforms.derived import SEARCH_INDEX, is_behind, refresh_search, watermark
from transforms.load import land_batches
from transforms.records import Article, TaggedArticle, TagResult, TopicTag
from transforms.search import has_search_index, load_fts, refresh_search_index, search_articles
from transforms.settings import Settings

# Titles and texts chosen to exercise fts's tokenizer: stopwords, accents, digits and
# punctuation, curly quotes, hyphens, CJK, a word only in a title, an empty-ish body.
CORPUS: dict[str, tuple[str | None, str]] = {
    "a01": (
        "China tightens rare earth export curbs",
        "Beijing restricted exports of gallium "
        "and germanium, rare earth metals used in chips. Exporters need licences.",
    ),
    "a02": (
        "Soybean purchases resume",
        "China resumed soybean purchases from US farmers after "
        "the truce; soybeans and corn shipments rose 25% in October.",
    ),
    "a03": (
        "Tariffs of 25% on $300 billion",
        "The US raised tariffs to 25 percent on 300 billion "
        "dollars of Chinese goods; the tariff schedule changes on 1 January.",
    ),
    "a04": (
        "Café owners fear résumé of duties",
        "Cafe chains in Zürich and São Paulo import "
        "Chinese espresso machines; a résumé of EU duties worries the café trade.",
    ),
    "a05": ("Xylophone makers", "Musical instrument exporters shipped fewer units this year."),
    "a06": (None, "An article without a title about semiconductor export controls and chips."),
    "a07": ("The of and", "the of and a an is it to in on at by for with"),
    "a08": (
        "Entity list additions",
        "Commerce added 12 Chinese firms to the entity list, "
        "citing military end-use; the entity-list rule takes effect at once.",
    ),
    "a09": (
        "China’s export licences",
        "China’s commerce ministry said export licences for "
        "graphite would be “reviewed case by case” — a slower process.",
    ),
    "a10": ("中国 出口 管制", "中国 宣布 对 镓 和 锗 实施 出口 管制 rare earth"),
    "a11": (
        "Semi-conductor subsidies",
        "Semi-conductor and semiconductor subsidies grew; the "
        "CHIPS Act funds fabs. Chipmakers expand.",
    ),
    "a12": (
        "Rare earth magnets",
        "Magnet makers rely on rare earth elements; rare earths "
        "prices doubled as export curbs tightened.",
    ),
    "a13": ("Shipping rates", "Container shipping rates from Shanghai to Los Angeles fell 12%."),
    "a14": (
        "Currency moves",
        "The yuan weakened against the dollar; currency traders expect intervention by the PBOC.",
    ),
    "a15": (
        "Export controls widen",
        "Export controls on advanced chips widened to cover "
        "Nvidia's H20; exporters scramble for licences.",
    ),
    "a16": ("Farmers wait", "US farmers wait for soybean orders as harvest nears."),
    "a17": (
        "Gallium prices climb",
        "Gallium prices climb as Chinese export licences stall; germanium follows.",
    ),
    "a18": (
        "Tariff truce extended",
        "The tariff truce was extended by 90 days; tariffs stay at 30% while talks continue.",
    ),
    "a19": (
        "Antimony curbs",
        "Antimony and tungsten were added to export curbs aimed at defence suppliers.",
    ),
    "a20": (
        "Ports congested",
        "Ports in Ningbo and Shenzhen are congested; shipping delays ripple through supply chains.",
    ),
    "a21": ("Rare earth rare earth rare earth", "rare"),
    "a22": ("Long analysis", " ".join(["trade policy analysis of tariffs and exports"] * 30)),
    "a23": ("Naïve coöperation", "Naïve coöperation between regulators; naive cooperation."),
    "a24": ("Numbers only", "2024 2025 12.5 3,000 100%"),
    "a25": ("Chips and more chips", "chips chips chips chip chipping"),
    "a26": ("Sanctions", "Treasury sanctions on Chinese refiners buying Iranian oil."),
    "a27": ("Agriculture deal", "An agriculture deal covers soybeans, pork and beef purchases."),
    "a28": ("Steel dumping", "Anti-dumping duties on Chinese steel and aluminium products."),
    "a29": ("Mixed CASE Words", "EXPORT Export export ExPoRt curbs CURBS"),
    "a30": ("Rare-earth refiners", "Refiners of rare-earth oxides outside China seek funding."),
}
QUERIES = (
    "rare earth export",
    "soybean purchases",
    "tariffs 25%",
    "the of and",  # stopwords only: nothing ranks
    "cafe",  # accents stripped in the index and the query
    "résumé café",
    "xylophone",  # only in a title
    "semiconductor chips",
    "China’s export licences",
    "entity-list",
    "出口",
    "changes",  # a stopword whose stem is a real term's
    "EXPORT curbs",
    "zzzunknown",
    "naive cooperation",
    "chips",
)


def tagged(article_id: str, title: str | None, text: str, raw: str = "r") -> TaggedArticle:
    """An article as the load stage gets it (one topic, so the macro's topics join has rows)."""
    article = Article(
        article_id=article_id,
        source="test",
        location=f"/x/{article_id}.txt",
        url=None,
        title=title,
        text=text,
        author=None,
        published_at="2026-10-01T00:00:00+00:00",
        language="en",
        word_count=len(text.split()),
        content_hash=f"h-{title}-{text}",
        raw_hash=f"{raw}-{text}",
    )
    tags = TagResult(
        us_china=True,
        us_china_score=0.9,
        us_china_evidence=(),
        topics=(TopicTag("trade", 0.5, ()),),
        entities=(),
        taxonomy_version="test-1",
    )
    return TaggedArticle(article, tags)


def land(db: Path, articles: Mapping[str, tuple[str | None, str]], raw: str = "r") -> None:
    """Land the articles the way the pipeline does (their ingested_at moves on)."""
    land_batches(db, [[tagged(i, t, x, raw) for i, (t, x) in articles.items()]], "run")


@pytest.fixture
def db(db_path: Path) -> Path:
    """The 30 fixture articles, landed and indexed."""
    land(db_path, CORPUS)
    assert refresh_search(db_path, force=False) == len(CORPUS)
    return db_path


@pytest.fixture
def writer(db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A writer connection with fts loaded."""
    with connect(db, read_only=False) as con:
        load_fts(con)
        yield con


def ours(con: duckdb.DuckDBPyConnection, query: str) -> list[tuple[str, float]]:
    """Our ranking: the search_articles macro."""
    rows = con.execute("SELECT article_id, score FROM search_articles(?)", [query]).fetchall()
    return [(str(a), float(s)) for a, s in rows]


def fts(con: duckdb.DuckDBPyConnection, query: str) -> list[tuple[str, float]]:
    """DuckDB fts's ranking over the same articles, from an index built now."""
    con.execute("PRAGMA create_fts_index('articles', 'article_id', 'title', 'text', overwrite=1)")
    rows = con.execute(
        "SELECT article_id, score FROM (SELECT article_id, "
        "fts_main_articles.match_bm25(article_id, ?) AS score FROM articles) "
        "WHERE score IS NOT NULL ORDER BY score DESC, article_id",
        [query],
    ).fetchall()
    return [(str(a), float(s)) for a, s in rows]


def assert_same_ranking(con: duckdb.DuckDBPyConnection, queries: tuple[str, ...]) -> None:
    """Same articles in the same order with the same scores (up to float rounding)."""
    for query in queries:
        mine, theirs = ours(con, query), fts(con, query)
        assert [a for a, _ in mine] == [a for a, _ in theirs], query
        for (_, x), (_, y) in zip(mine, theirs, strict=True):
            assert math.isclose(x, y, rel_tol=1e-12), (query, x, y)


def hits(con: duckdb.DuckDBPyConnection, query: str) -> list[str]:
    return [a for a, _ in ours(con, query)]


def test_scores_and_order_equal_fts_match_bm25(writer: duckdb.DuckDBPyConnection) -> None:
    assert_same_ranking(writer, QUERIES)
    # The fixture really exercises the rules: these rank, and differently.
    assert hits(writer, "xylophone") == ["a05"]
    assert set(hits(writer, "cafe")) == {"a04"} and hits(writer, "the of and") == []
    assert len(hits(writer, "rare earth export")) > 5


def test_each_change_is_searchable_after_an_incremental_refresh(db: Path) -> None:
    def refreshed() -> searchindex.IndexCounts:
        with connect(db, read_only=False) as con:
            load_fts(con)
            return searchindex.refresh_postings(con)

    land(db, {"n01": ("Vanadium quotas", "Vanadium export quotas were cut.")})
    counts = refreshed()
    assert (counts.full, counts.indexed, counts.documents) == (False, 1, len(CORPUS) + 1)
    land(db, {"a05": ("Marimba makers", "Marimba exporters shipped more units.")})
    counts = refreshed()
    assert (counts.indexed, counts.documents) == (1, len(CORPUS) + 1)
    with connect(db, read_only=False) as con:
        retire_ids(con, [("a12", "a12-new")])  # the reextract path deletes the old id
        assert con.execute(
            "SELECT count(*) FROM search_docs WHERE article_id = 'a12'"
        ).fetchone() == (0,)
    assert refreshed().documents == len(CORPUS)
    with connect(db, read_only=False) as con:
        load_fts(con)
        assert hits(con, "vanadium") == ["n01"]
        assert hits(con, "xylophone") == []  # a05's old title and text no longer match
        assert hits(con, "marimba") == ["a05"]
        assert "a12" not in hits(con, "magnets rare")
        incremental = {q: ours(con, q) for q in QUERIES + ("vanadium", "marimba")}
        assert_same_ranking(con, QUERIES + ("vanadium", "marimba", "magnets"))
        refresh_search_index(con, full=True)
        assert {q: ours(con, q) for q in incremental} == incremental


def test_new_articles_only_append(writer: duckdb.DuckDBPyConnection, db: Path) -> None:
    before = writer.execute("SELECT * FROM search_postings ORDER BY ALL").fetchall()
    land(db, {f"n{i:02d}": (f"New {i}", f"fresh words number {i} tungsten") for i in range(5)})
    counts = searchindex.refresh_postings(writer)
    assert (counts.indexed, counts.rewritten, counts.removed) == (5, False, 0)
    after = writer.execute(
        "SELECT p.* FROM search_postings p JOIN search_docs d USING (docid) "
        "WHERE d.article_id NOT LIKE 'n%' ORDER BY ALL"
    ).fetchall()
    assert after == before  # old postings untouched, nothing dead
    assert len(hits(writer, "tungsten")) == 6


def test_retag_and_relanding_the_same_words_do_not_reindex(
    writer: duckdb.DuckDBPyConnection, db: Path
) -> None:
    writer.execute("UPDATE articles SET retagged_at = now() WHERE article_id < 'a10'")
    assert is_behind(writer, SEARCH_INDEX)
    counts = searchindex.refresh_postings(writer)
    assert counts.indexed == 0 and not is_behind(writer, SEARCH_INDEX)
    land(db, dict(list(CORPUS.items())[:3]), raw="other-bytes")  # same words, new raw page
    assert writer.execute(
        "SELECT count(*) FROM articles WHERE ingested_at > ?", [watermark(writer, SEARCH_INDEX)]
    ).fetchone() == (3,)
    assert searchindex.refresh_postings(writer).indexed == 0


def test_up_to_date_index_is_left_alone(db: Path) -> None:
    assert refresh_search(db, force=False) == -1
    assert refresh_search(db, force=True) == len(CORPUS)


def test_deletes_outside_retire_ids_are_dropped(writer: duckdb.DuckDBPyConnection) -> None:
    writer.execute("DELETE FROM article_topics WHERE article_id = 'a05'")
    writer.execute("DELETE FROM articles WHERE article_id = 'a05'")
    counts = searchindex.refresh_postings(writer)
    assert (counts.removed, counts.indexed, counts.documents) == (1, 0, len(CORPUS) - 1)
    assert hits(writer, "xylophone") == []
    assert_same_ranking(writer, QUERIES)


def test_articles_the_index_lost_are_indexed_again(writer: duckdb.DuckDBPyConnection) -> None:
    writer.execute("DELETE FROM search_docs WHERE article_id = 'a17'")
    assert hits(writer, "gallium") == ["a01"]
    counts = searchindex.refresh_postings(writer)
    assert (counts.removed, counts.indexed, counts.documents) == (0, 1, len(CORPUS))
    assert hits(writer, "gallium")[0] == "a17"
    assert_same_ranking(writer, QUERIES)


def test_postings_are_rewritten_in_term_order_once_a_quarter_is_churn(
    writer: duckdb.DuckDBPyConnection, db: Path
) -> None:
    def postings() -> tuple[int, int, bool]:
        """Dead rows, appended (unsorted) rows, and whether the table is in termid order."""
        row = writer.execute(
            "SELECT (SELECT count(*) FROM search_postings) - (SELECT sum(terms) FROM search_docs), "
            "(SELECT count(*) FROM search_postings) - (SELECT sorted_postings "
            "FROM search_index_state), (SELECT bool_and(termid >= before) FROM (SELECT termid, "
            "lag(termid, 1, 0) OVER (ORDER BY rowid) AS before FROM search_postings))"
        ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1]), bool(row[2])

    assert postings() == (0, 0, True)  # a full build leaves it sorted
    land(db, {"a22": ("Short now", "china")})  # a few dead rows, two appended
    assert not searchindex.refresh_postings(writer).rewritten
    dead, appended, in_order = postings()
    assert dead > 0 and appended > 0 and not in_order
    land(db, {k: (t, f"{x} revised") for k, (t, x) in list(CORPUS.items())[:15]})
    counts = searchindex.refresh_postings(writer)
    assert counts.rewritten and counts.dropped > dead
    assert postings() == (0, 0, True)
    assert_same_ranking(writer, QUERIES)


def test_appended_articles_alone_bring_the_rewrite_too(
    writer: duckdb.DuckDBPyConnection, db: Path
) -> None:
    more = {f"n{i:02d}": (f"Extra {i}", CORPUS[f"a{i + 1:02d}"][1]) for i in range(12)}
    land(db, more)
    counts = searchindex.refresh_postings(writer)
    assert counts.rewritten and counts.dropped == 0  # unsorted rows only, none dead
    assert_same_ranking(writer, QUERIES)


def test_full_rebuild_in_small_chunks_equals_fts(
    writer: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(searchindex, "CHUNK_ARTICLES", 7)
    assert searchindex.refresh_postings(writer, full=True).indexed == len(CORPUS)
    assert_same_ranking(writer, QUERIES)


def test_a_failed_refresh_leaves_the_index_as_it_was(
    writer: duckdb.DuckDBPyConnection, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = ours(writer, "rare earth export")
    mark = watermark(writer, SEARCH_INDEX)
    land(db, {"a01": ("Rewritten", "nothing about metals")})
    calls = 0

    def fail_second(*args: object) -> int:
        nonlocal calls
        calls += 1
        if calls > 1:
            raise RuntimeError("disk full")
        return original(*args)  # type: ignore[arg-type]

    original = searchindex.index_chunk
    monkeypatch.setattr(searchindex, "CHUNK_ARTICLES", 1)
    land(db, {"n01": ("Another", "another new article")})
    monkeypatch.setattr(searchindex, "index_chunk", fail_second)
    with pytest.raises(RuntimeError, match="disk full"):
        searchindex.refresh_postings(writer)
    assert ours(writer, "rare earth export") == before and watermark(writer, SEARCH_INDEX) == mark
    monkeypatch.setattr(searchindex, "index_chunk", original)
    assert searchindex.refresh_postings(writer).indexed == 2
    assert "a01" not in hits(writer, "rare earth export")


def test_readers_search_and_snippets_need_no_writer(db: Path) -> None:
    with connect(db, read_only=True) as con:
        assert has_search_index(con)
        (hit,) = search_articles(con, "xylophone")
    assert hit.article_id == "a05" and hit.title == "Xylophone makers"
    with connect(db, read_only=True) as con:
        (hit,) = search_articles(con, "vanadium OR gallium germanium", limit=1)
    assert hit.article_id == "a17" and "[Gallium]" in hit.marked_snippet()


def test_a_database_with_the_old_fts_index_migrates_and_rebuilds(db_path: Path) -> None:
    land(db_path, CORPUS)
    with connect(db_path, read_only=False) as con:
        # Back to what the fts era left: its index, its macro, a watermark, no search tables.
        load_fts(con)
        for table in (
            "search_docs",
            "search_postings",
            "search_terms",
            "search_stopwords",
            "search_index_state",
        ):
            con.execute(f"DROP TABLE {table}")
        con.execute("DROP SEQUENCE search_docids; DROP SEQUENCE search_termids")
        con.execute("DROP MACRO search_tokenize")
        con.execute("DELETE FROM schema_migrations WHERE name LIKE '005%'")
        con.execute("PRAGMA create_fts_index('articles', 'article_id', 'title', 'text')")
        con.execute(
            "CREATE MACRO search_articles(q, topic := NULL, since := NULL) AS TABLE "
            "SELECT article_id, fts_main_articles.match_bm25(article_id, q) AS score FROM articles"
        )
        con.execute("INSERT INTO derived_state VALUES (?, now(), now())", [SEARCH_INDEX])
    with connect(db_path, read_only=False) as con:  # a writer migrates
        schemas = con.execute("SELECT schema_name FROM duckdb_schemas()").fetchall()
        assert ("fts_main_articles",) not in schemas
        assert not has_search_index(con) and watermark(con, SEARCH_INDEX) is None
    assert refresh_search(db_path, force=False) == len(CORPUS)
    with connect(db_path, read_only=True) as con:
        assert search_articles(con, "xylophone")[0].article_id == "a05"


def test_a_refresh_runs_under_the_memory_limit_setting_and_restores_it(
    writer: duckdb.DuckDBPyConnection, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def limit() -> str:
        row = writer.execute("SELECT current_setting('memory_limit')").fetchone()
        return str(row[0]) if row else ""

    before, seen = limit(), []
    original = searchindex.index_chunk

    def watched(*args: Any) -> int:
        seen.append(limit())
        return original(*args)

    monkeypatch.setattr(searchindex, "get_settings", lambda: Settings(search_memory_limit="300MB"))
    monkeypatch.setattr(searchindex, "index_chunk", watched)
    land(db, {"n01": ("Limited", "memory limited refresh")})
    assert searchindex.refresh_postings(writer).indexed == 1
    assert seen == ["286.1 MiB"] and limit() != seen[0]
    assert abs(float(limit().split()[0]) - float(before.split()[0])) < 0.2  # GiB, as it was
