"""A source's `language` as the prior for detection, and provenance saying who decided."""

from __future__ import annotations

from dataclasses import replace

from ingest.entries import summary_only_article
from ingest.extraction import LANGUAGE_DEFERRED, add_language
from ingest.languageprior import choose_language
from ingest.records import SourceItem

ENGLISH = (
    "The Commerce Department added twelve Chinese companies to the Entity List on Tuesday, "
    "citing support for military modernisation, and tightened export controls on chips."
)


def test_the_prior_decides_short_or_uncertain_text() -> None:
    assert choose_language("Huawei", "zh") == ("zh", "source:zh")
    assert choose_language("Huawei 5G chips Nvidia", "zh-CN") == ("zh", "source:zh")


def test_confident_detection_overrides_the_prior() -> None:
    assert choose_language(ENGLISH, "zh") == ("en", "detected:py3langid")
    assert choose_language(ENGLISH, "en") == ("en", "detected:py3langid+source:en")


def test_summary_only_entry_uses_and_records_the_prior() -> None:
    item = SourceItem(
        source="wire",
        location="https://news.example.com/a",
        kind="feed-entry",
        raw_hash="x",
        url="https://news.example.com/a",
        feed_entry={"title": "Huawei 5G", "summary": "Nvidia H20"},
        source_language="zh",
    )
    article = summary_only_article(item, "http_error: 503")
    assert article is not None
    assert (article.language, article.provenance["language"]) == ("zh", "source:zh")


def test_add_language_reads_the_prior_from_provenance() -> None:
    item = SourceItem(
        source="wire",
        location="https://news.example.com/a",
        kind="feed-entry",
        raw_hash="x",
        feed_entry={"title": "Huawei 5G", "summary": "Nvidia H20"},
    )
    base = summary_only_article(item, "http_error: 503")
    assert base is not None
    deferred = replace(
        base, provenance={**base.provenance, "language": LANGUAGE_DEFERRED, "language_prior": "zh"}
    )
    assert add_language(deferred).provenance["language"] == "source:zh"
    plain = replace(
        base, text=ENGLISH, provenance={**base.provenance, "language": LANGUAGE_DEFERRED}
    )
    assert add_language(plain).provenance["language"] == "detected:py3langid"
