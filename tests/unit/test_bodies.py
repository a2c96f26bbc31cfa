"""More of the body: the precise pass first, fuller passes and JSON-LD only where it is short."""

from __future__ import annotations

from pathlib import Path

from trafilatura import load_html

from ingest.bodies import (
    JSONLD_SOURCE,
    PASSES,
    SHORT_WORDS,
    container_words,
    extract_body,
    is_plausible,
    is_short,
    jsonld_body,
)
from ingest.extraction import extract_item, hash_bytes
from ingest.pagemeta import read_page_meta, read_tree_meta
from ingest.records import SourceItem

FIRST, SECOND = PASSES[0][0], PASSES[1][0]


def _item(path: Path) -> SourceItem:
    return SourceItem(
        source="t", location=str(path), kind="html", raw_hash=hash_bytes(path.read_bytes())
    )


def test_a_full_page_takes_one_precise_pass(fixtures_dir: Path) -> None:
    html = (fixtures_dir / "articles" / "gallium_curbs.html").read_text(encoding="utf-8")
    tree = load_html(html)
    body = extract_body(tree, url=None, meta=read_tree_meta(tree, html))
    assert (body.source, body.passes) == (FIRST, 1)
    assert "Analysts said the licensing regime" in body.text
    assert body.metadata["author"] == "Jane Fixture"  # the first pass also reads metadata
    assert tree.find(".//nav") is not None  # trafilatura copied the tree, never pruned ours


def test_the_second_extractor_is_chosen_when_the_precise_pass_finds_nothing(
    fixtures_dir: Path,
) -> None:
    # The story is <br>-separated text in a <div>: the precise pass without trafilatura's
    # fallback extractors finds no paragraph; the pass with them (readability, jusText) does.
    article = extract_item(_item(fixtures_dir / "extraction" / "br_paragraphs.html"))
    assert article.error is None
    assert article.provenance["text"] == SECOND
    assert "Gulf Coast terminals" in article.text
    assert "weekly export report" in article.text
    assert not article.text.startswith("- Soybean")  # the <dt> headline line is not repeated
    assert article.title == "Soybean cargoes resume as tariff truce holds"


def test_a_long_jsonld_article_body_replaces_a_teaser(fixtures_dir: Path) -> None:
    article = extract_item(_item(fixtures_dir / "extraction" / "jsonld_body_teaser.html"))
    assert article.provenance["text"] == JSONLD_SOURCE
    assert "Shares of rare earth miners in Australia" in article.text
    assert "<p>" not in article.text and len(article.text.split("\n")) == 6
    assert article.word_count > 150


def test_short_means_a_stub_or_far_below_the_main_container() -> None:
    assert is_short(SHORT_WORDS - 1, 0)
    assert not is_short(SHORT_WORDS, 0)
    assert is_short(120, 400)  # under half of the words the page's paragraphs hold
    assert not is_short(250, 400)


def test_container_words_count_the_richest_parent() -> None:
    tree = load_html(
        "<html><body><div><p>one two three</p><p>four five</p></div>"
        "<aside><p>six</p></aside></body></html>"
    )
    assert container_words(tree) == 5
    assert container_words(None) == 0


def test_jsonld_body_is_plain_text() -> None:
    meta = read_page_meta(
        '<html><head><script type="application/ld+json">'
        '{"@type": "NewsArticle", "articleBody": "<p>First &amp; foremost.</p><p>Second.</p>"}'
        "</script></head><body></body></html>"
    )
    assert jsonld_body(meta) == "First & foremost.\nSecond."
    escaped = read_page_meta(
        '<html><head><script type="application/ld+json">'
        '{"@type": "Article", "articleBody": "Europa&apos;s plumes are real."}'
        "</script></head><body></body></html>"
    )
    assert jsonld_body(escaped) == "Europa's plumes are real."
    assert jsonld_body(read_page_meta("<html><body><p>x</p></body></html>")) is None


def test_an_unrelated_or_short_article_body_is_not_plausible() -> None:
    extracted = "Gallium and germanium exporters must apply for licences from the ministry"
    related = " ".join([extracted] * 6)
    unrelated = " ".join(["Football results from the weekend league round were mixed"] * 8)
    assert is_plausible(related, 66, extracted)
    assert not is_plausible(unrelated, 72, extracted)
    assert not is_plausible(related, SHORT_WORDS - 1, extracted)
