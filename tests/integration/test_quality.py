"""Article quality end to end: real DuckDB files, the real pipeline, loader and reextract."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.extraction import extract_item, hash_bytes, read_source_bytes
from ingest.pipeline import run_pipeline
from ingest.records import SourceItem
from ingest.reextraction import reextract_articles
from ingest.workers import tag_articles
from transforms.database import connect
from transforms.load import land_batches

pytestmark = pytest.mark.integration

QUALITY = Path(__file__).resolve().parents[1] / "fixtures" / "quality"
PAGES = QUALITY / "pages"
WIRE = QUALITY / "wire"


def _item(path: Path, url: str | None, source: str = "test-feed", **kw: object) -> SourceItem:
    return SourceItem(
        source=source,
        location=str(path),
        kind="html",
        raw_hash=hash_bytes(read_source_bytes(str(path))),
        url=url,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def pages_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("quality") / "pages.duckdb"
    summary = run_pipeline([str(PAGES)], db, workers=1)
    assert summary.counts.failed == 0, summary.describe()
    return db


def _row(db: Path, name: str, columns: str) -> tuple[object, ...]:
    with connect(db) as con:
        row = con.execute(
            f"SELECT {columns} FROM articles WHERE location LIKE ?", [f"%/{name}"]
        ).fetchone()
    assert row is not None, name
    return tuple(row)


def test_conflicting_dates_pick_the_meta_tag_and_flag_the_conflict(pages_db: Path) -> None:
    published, source, conflict, evidence = _row(
        pages_db,
        "dates_conflict.html",
        "CAST(published_at AS VARCHAR), published_at_source, published_at_conflict, "
        "provenance['published_at_candidates']",
    )
    assert str(published).startswith("2025-06-10 08:00:00")
    assert source == "meta:article:published_time"
    assert conflict is True
    assert "time=2025-06-14T09:00:00Z" in str(evidence)


def test_a_future_date_is_rejected_for_the_next_candidate(pages_db: Path) -> None:
    published, source, evidence = _row(
        pages_db,
        "future_date.html",
        "CAST(published_at AS VARCHAR), published_at_source, provenance['published_at_candidates']",
    )
    assert str(published).startswith("2025-03-02")
    assert source == "time"
    assert "2099-01-01T00:00:00Z(rejected:future)" in str(evidence)


def test_gb18030_page_labelled_utf8_is_decoded(pages_db: Path) -> None:
    title, encoding, rule, language, declared, conflict = _row(
        pages_db,
        "gb18030_labelled_utf8.html",
        "title, encoding, encoding_rule, language, language_declared, language_conflict",
    )
    assert title == "中美贸易谈判在日内瓦重启"
    assert (encoding, rule) == ("gb18030", "detected")
    assert (language, declared, conflict) == ("zh", "zh", False)


def test_big5_page_is_decoded_by_its_declaration(pages_db: Path) -> None:
    title, encoding, rule, text = _row(
        pages_db, "big5.html", "title, encoding, encoding_rule, text"
    )
    assert title == "台灣晶片出口管制引發關注"
    assert (encoding, rule) == ("big5hkscs", "meta-charset")
    assert "半導體" in str(text)


def test_paywalled_teaser_is_flagged_with_its_reasons(pages_db: Path) -> None:
    truncated, reason = _row(pages_db, "paywall_teaser.html", "is_truncated, truncation_reason")
    assert truncated is True
    assert "jsonld:isAccessibleForFree=false" in str(reason)
    assert "short-vs-wordcount" in str(reason)
    assert _row(pages_db, "shared_story.html", "is_truncated") == (False,)


def test_every_article_records_raw_bytes_and_extractor(pages_db: Path) -> None:
    with connect(pages_db) as con:
        rows = con.execute(
            "SELECT raw_location, raw_hash, extractor_version, source_item IS NOT NULL, "
            "cluster_id IS NOT NULL FROM articles"
        ).fetchall()
    assert len(rows) == 7
    for raw_location, raw_hash, version, has_item, clustered in rows:
        assert hash_bytes(read_source_bytes(str(raw_location))) == raw_hash
        assert str(version).startswith("trafilatura-")
        assert has_item and clustered


def test_one_article_under_three_tracking_urls_has_three_sightings(tmp_path: Path) -> None:
    page = PAGES / "shared_story.html"
    base = "https://news.example.com/2025/06/12/soybean-shipments"
    items = [
        _item(page, f"{base}?utm_source=rss&utm_medium=feed", source="feed-a"),
        _item(page, f"{base}?fbclid=abc123", source="feed-b"),
        _item(page, f"{base}/?utm_campaign=x#top".replace("/?", "?"), source="feed-c"),
    ]
    articles = [extract_item(i) for i in items]
    assert len({a.article_id for a in articles}) == 1
    db = tmp_path / "t.duckdb"
    counts = land_batches(db, [tag_articles(articles)], "run-1")
    assert counts.new == 1
    # A later run sighting it again at a known URL adds nothing and rewrites nothing.
    again = land_batches(db, [tag_articles([extract_item(items[0])])], "run-2")
    assert again.updated == 0
    with connect(db) as con:
        assert con.execute(
            "SELECT count(*), any_value(canonical_url) FROM articles"
        ).fetchone() == (
            1,
            base,
        )
        sightings = con.execute(
            "SELECT source, url FROM article_sightings ORDER BY source"
        ).fetchall()
    assert [s for s, _ in sightings] == ["feed-a", "feed-b", "feed-c"]
    assert len({u for _, u in sightings}) == 3


def test_cross_domain_canonical_is_ignored_and_recorded(tmp_path: Path) -> None:
    fetched = "https://www.news.example.com/markets/steel-tariffs?utm_source=x"
    article = extract_item(_item(PAGES / "canonical_other_domain.html", fetched))
    assert article.canonical_ignored == (
        "https://aggregator.example.net/stories/steel-tariffs-appliances"
    )
    assert article.canonical_url == "https://www.news.example.com/markets/steel-tariffs"
    assert article.provenance["article_id"] == "fetched-url"
    assert article.provenance["canonical_ignored"] == "cross-domain"


def test_same_domain_canonical_link_is_preferred(tmp_path: Path) -> None:
    html = (
        (PAGES / "shared_story.html")
        .read_text(encoding="utf-8")
        .replace("<title>", '<link rel="canonical" href="/2025/06/12/soybean-shipments"><title>', 1)
    )
    page = tmp_path / "story.html"
    page.write_text(html, encoding="utf-8")
    a = extract_item(_item(page, "https://m.news.example.com/amp/story-1?ref=home"))
    assert a.canonical_url == "https://m.news.example.com/2025/06/12/soybean-shipments"
    assert a.provenance["article_id"] == "rel-canonical"
    assert a.canonical_ignored is None


def test_wire_copies_with_different_boilerplate_share_a_cluster(tmp_path: Path) -> None:
    db = tmp_path / "wire.duckdb"
    run_pipeline([str(WIRE)], db, workers=1)
    with connect(db) as con:
        clusters = dict(
            con.execute(
                "SELECT regexp_extract(location, '[^/]+$'), cluster_id FROM articles"
            ).fetchall()
        )
        ids = dict(
            con.execute(
                "SELECT regexp_extract(location, '[^/]+$'), article_id FROM articles"
            ).fetchall()
        )
        dup = con.execute("SELECT articles, article_ids FROM duplicate_clusters").fetchall()
    assert clusters["outlet_a_truce.html"] == clusters["outlet_b_truce.html"]
    assert clusters["outlet_a_truce.html"] in (
        ids["outlet_a_truce.html"],
        ids["outlet_b_truce.html"],
    )
    assert clusters["unrelated_yuan.html"] == ids["unrelated_yuan.html"]
    truce = sorted([ids["outlet_a_truce.html"], ids["outlet_b_truce.html"]])
    assert [(n, sorted(members)) for n, members in dup] == [(2, truce)]


def test_reextract_only_touches_stale_rows(tmp_path: Path) -> None:
    db = tmp_path / "re.duckdb"
    run_pipeline([str(WIRE)], db, workers=1, run_id="first")
    with connect(db, read_only=False) as con:
        con.execute(
            "UPDATE articles SET extractor_version = 'trafilatura-0.0+old', title = 'stale' "
            "WHERE location LIKE '%unrelated_yuan.html'"
        )
    counts = reextract_articles(db, run_id="re-1")
    assert (counts.stale, counts.reextracted, counts.missing_raw, counts.failed) == (1, 1, 0, 0)
    with connect(db) as con:
        rows = con.execute(
            "SELECT regexp_extract(location, '[^/]+$'), run_id, title FROM articles ORDER BY 1"
        ).fetchall()
    assert [(name, run) for name, run, _ in rows] == [
        ("outlet_a_truce.html", "first"),
        ("outlet_b_truce.html", "first"),
        ("unrelated_yuan.html", "re-1"),
    ]
    assert rows[2][2] == "Yuan weakens as exporters hold back dollar sales"
    assert reextract_articles(db, run_id="re-2").stale == 0
