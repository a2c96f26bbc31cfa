"""Publication dates by evidence: rule order, rejection of impossible dates, conflicts."""

from __future__ import annotations

from datetime import UTC, datetime

from ingest.dates import DateCandidate, choose_date, gather_candidates, parse_date, url_date
from ingest.pagemeta import read_page_meta

NOW = datetime(2025, 6, 20, tzinfo=UTC)


def _c(source: str, raw: str) -> DateCandidate:
    parsed = parse_date(raw)
    assert parsed is not None
    return DateCandidate(source, parsed[0], parsed[1], raw)


def test_url_dates_in_common_permalink_shapes() -> None:
    assert url_date("https://x.com/2025/06/10/story") == "2025-06-10"
    assert url_date("https://x.com/news/20250610/story.html") == "2025-06-10"
    assert url_date("https://x.com/2025-06-10-story") == "2025-06-10"
    assert url_date("https://x.com/story-123456") is None
    assert url_date(None) is None


def test_parse_date_reads_iso_rfc2822_and_loose_forms() -> None:
    assert parse_date("2025-06-10T08:00:00Z") == (datetime(2025, 6, 10, 8, tzinfo=UTC), False)
    assert parse_date("2025-06-10") == (datetime(2025, 6, 10, tzinfo=UTC), True)
    assert parse_date("Tue, 10 Jun 2025 10:00:00 +0200") == (
        datetime(2025, 6, 10, 8, tzinfo=UTC),
        False,
    )
    assert parse_date("2025/06/10 14:30") == (datetime(2025, 6, 10, 14, 30, tzinfo=UTC), False)
    assert parse_date("yesterday") is None


def test_first_valid_candidate_wins_and_disagreement_is_flagged() -> None:
    choice = choose_date([_c("jsonld", "2025-06-10T08:00:00Z"), _c("url", "2025-06-01")], NOW)
    assert choice.published_at == "2025-06-10T08:00:00+00:00"
    assert choice.source == "jsonld"
    assert choice.conflict


def test_a_date_only_candidate_covers_its_day() -> None:
    # 23:30 on the 10th and the URL day 2025-06-11 are within a day of each other.
    choice = choose_date([_c("meta", "2025-06-10T23:30:00Z"), _c("url", "2025-06-11")], NOW)
    assert not choice.conflict


def test_future_and_too_old_dates_are_rejected() -> None:
    choice = choose_date(
        [_c("meta", "2099-01-01T00:00:00Z"), _c("time", "1990-05-01"), _c("url", "2025-06-19")],
        NOW,
    )
    assert choice.source == "url"
    assert choice.published_at == "2025-06-19T00:00:00+00:00"
    assert "(rejected:future)" in choice.evidence and "(rejected:too-old)" in choice.evidence


def test_a_day_of_clock_skew_is_tolerated() -> None:
    choice = choose_date([_c("feed", "2025-06-20T20:00:00Z")], NOW)
    assert choice.source == "feed"


def test_trafilatura_alone_never_raises_a_conflict() -> None:
    choice = choose_date([_c("meta", "2025-06-10"), _c("trafilatura", "2025-01-01")], NOW)
    assert choice.source == "meta" and not choice.conflict


def test_no_candidates_means_no_date() -> None:
    choice = choose_date([], NOW)
    assert (choice.published_at, choice.source, choice.conflict) == (None, None, False)


def test_candidates_come_in_rule_order_from_page_feed_and_url() -> None:
    html = (
        '<html><head><meta property="article:published_time" content="2025-06-10T08:00:00Z">'
        '<script type="application/ld+json">{"@type": "NewsArticle", '
        '"datePublished": "2025-06-09T07:00:00Z"}</script></head>'
        '<body><time datetime="2025-06-08">8 June</time><p>Text.</p></body></html>'
    )
    found = gather_candidates(
        read_page_meta(html),
        html=html,
        url="https://x.com/2025/06/07/a",
        feed_published="2025-06-09T06:00:00+00:00",
        trafilatura_date=None,
    )
    assert [c.source for c in found] == [
        "jsonld",
        "meta:article:published_time",
        "feed",
        "time",
        "url",
        "htmldate",
    ]
