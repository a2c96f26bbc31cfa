"""The headline a reader sees: candidates, agreement with the h1, and site names cut."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.extraction import extract_item, hash_bytes
from ingest.pagemeta import read_page_meta
from ingest.records import SourceItem
from ingest.titles import agrees, select_title, site_names, strip_site_name

NAMES = {"harbourledger", "examplecom", "example"}


def _extract(path: Path, url: str | None = None) -> tuple[str | None, str, dict[str, str]]:
    item = SourceItem(
        source="t", location=str(path), kind="html", raw_hash=hash_bytes(path.read_bytes()), url=url
    )
    article = extract_item(item, language=False)
    assert article.error is None
    return article.title, article.provenance["title"], article.title_candidates


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Magnet exports slump | Harbour Ledger", "Magnet exports slump"),
        ("Magnet exports slump - Harbour Ledger", "Magnet exports slump"),
        ("Magnet exports slump – HARBOUR LEDGER", "Magnet exports slump"),
        ("Harbour Ledger: Magnet exports slump", "Magnet exports slump"),
        ("Harbour Ledger | Magnet exports slump | example.com", "Magnet exports slump"),
        ("Magnet exports slump - World | example.com", "Magnet exports slump - World"),
        # Not the site's name: a colon inside the headline stays.
        ("Tariffs: what comes next", "Tariffs: what comes next"),
        ("Ledger entries rise - Markets", "Ledger entries rise - Markets"),
        # Nothing is left but the site name: kept, so the rule can skip it as a candidate.
        ("Harbour Ledger", "Harbour Ledger"),
    ],
)
def test_site_name_suffix_or_prefix_is_cut(title: str, expected: str) -> None:
    assert strip_site_name(title, NAMES) == expected


def test_site_names_come_from_markup_and_host() -> None:
    meta = read_page_meta(
        '<html><head><meta property="og:site_name" content="Harbour Ledger">'
        '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "x",'
        ' "publisher": {"@type": "Organization", "name": "HL Media"}}</script>'
        "</head><body></body></html>"
    )
    names = site_names(meta, url="https://www.spacenews.com/a/b")
    assert {"harbourledger", "hlmedia", "spacenews", "spacenewscom"} <= names


def test_a_site_name_equal_to_the_headline_is_not_a_site_name() -> None:
    # Some CMSs put the headline in application-name; cutting it would empty every title.
    meta = read_page_meta(
        '<html><head><meta name="application-name" content="Doctors offer flu shots">'
        '<meta property="og:title" content="Doctors offer flu shots"></head>'
        "<body><h1>Doctors offer flu shots</h1></body></html>"
    )
    choice = select_title(meta, url="https://www.msn.com/x")
    assert choice.title == "Doctors offer flu shots"
    assert choice.rule == "h1"


def test_agreement_allows_an_affix_or_a_cut_but_not_another_headline() -> None:
    assert agrees("Sweden drops inquiry", "Sweden drops inquiry | Al Bawaba")
    assert agrees("Republicans follow Trump", "Opinion | Republicans follow Trump")
    assert agrees("Sweden drops ‘inquiry’", "sweden drops 'inquiry'")
    # JSON-LD headlines are often cut at a word boundary.
    assert agrees(
        "Hunter diagnosed with plague after eating a rabbit in Inner Mongolia",
        "Hunter diagnosed with plague after eating a rabbit",
    )
    assert not agrees("Opinion", "Opinion | Republicans follow Trump")  # the affix is longer
    assert not agrees("Sweden drops inquiry", "Sweden drops inquiry into Assange")


def test_site_suffix_is_cut_from_og_title(fixtures_dir: Path) -> None:
    title, rule, candidates = _extract(fixtures_dir / "extraction" / "site_suffix.html")
    assert title == "Rare earth magnet exports slump for a second month"
    assert rule == "og:title+site"
    assert candidates["og:title"].endswith("| Harbour Ledger")  # kept as the page wrote it


def test_the_h1_wins_over_a_different_social_title(fixtures_dir: Path) -> None:
    # og:title says something else; <title> is the h1 plus "- World | example.com".
    path = fixtures_dir / "extraction" / "h1_over_social_title.html"
    title, rule, candidates = _extract(path, url="https://www.example.com/world/geneva")
    assert title == "Geneva talks end with a tariff timetable"
    assert rule == "h1"
    assert candidates["og:title"] == "US and China agree to keep talking"
    assert set(candidates) >= {"og:title", "twitter:title", "html:title", "h1", "trafilatura"}


def test_a_jsonld_only_headline_is_chosen(fixtures_dir: Path) -> None:
    # No h1, no og:title, and <title> is only the site's name.
    title, rule, candidates = _extract(fixtures_dir / "extraction" / "jsonld_headline.html")
    assert title == "Chip tool export rules widen to cover “servicing”"  # entities decoded
    assert rule == "jsonld:headline"
    assert candidates["html:title"] == "Harbour Ledger"


def test_a_marked_h1_needs_words_in_common_with_the_declared_titles() -> None:
    page = (
        '<html><head><meta property="og:title" content="Early Stadia reviews are not great">'
        "</head><body>"
        '<h1 itemprop="headline">Why the reindeer will not fight</h1>'
        "<h2>Early Stadia reviews are not great</h2></body></html>"
    )
    choice = select_title(read_page_meta(page))
    assert (choice.title, choice.rule) == ("Early Stadia reviews are not great", "og:title")
    marked = page.replace("Why the reindeer will not fight", "Stadia reviews: early verdicts")
    choice = select_title(read_page_meta(marked))
    assert (choice.title, choice.rule) == ("Stadia reviews: early verdicts", "h1:marked")


def test_the_feed_title_is_a_candidate_of_last_resort() -> None:
    choice = select_title(read_page_meta("<html><body><p>x</p></body></html>"), feed_title="Feed")
    assert (choice.title, choice.rule, choice.candidates) == ("Feed", "feed", {"feed": "Feed"})
    empty = select_title(read_page_meta("<html><body><p>x</p></body></html>"))
    assert (empty.title, empty.rule) == (None, "none")


def test_the_feed_entry_title_is_recorded_as_a_candidate(fixtures_dir: Path) -> None:
    from ingest.entries import FEED_ENTRY_KIND, extract_document

    entry = {"title": "Magnet exports slump", "summary": "<p>Exports of magnets fell again.</p>"}
    summary_only = extract_document(
        SourceItem(
            source="feed",
            location="https://x.example/a",
            kind=FEED_ENTRY_KIND,
            raw_hash="0" * 64,
            url="https://x.example/a",
            feed_entry=entry,
            fetch_error="http_error: HTTP 404",
        )
    )
    assert summary_only.title_candidates == {"feed": "Magnet exports slump"}
    path = fixtures_dir / "extraction" / "site_suffix.html"
    page = extract_document(
        SourceItem(
            source="feed",
            location=str(path),
            kind="html",
            raw_hash=hash_bytes(path.read_bytes()),
            feed_entry=entry,
        ),
        language=False,
    )
    assert page.title_candidates["feed"] == "Magnet exports slump"
    assert page.provenance["title"] == "og:title+site"  # the page's own title still leads
