"""Paywall and truncation signals."""

from __future__ import annotations

from ingest.pagemeta import PageMeta, read_page_meta
from ingest.truncation import assess_truncation, ends_mid_sentence

LONG = " ".join(["Trade officials met again this week."] * 80)


def _assess(meta: PageMeta, text: str, **kw: object) -> tuple[bool, str | None]:
    result = assess_truncation(
        meta,
        text=text,
        word_count=len(text.split()),
        http_status=kw.get("http_status"),  # type: ignore[arg-type]
        summary_words=kw.get("summary_words"),  # type: ignore[arg-type]
    )
    return result.is_truncated, result.reason


def test_a_full_free_article_is_not_truncated() -> None:
    assert _assess(PageMeta(), LONG) == (False, None)


def test_gated_http_status_truncates() -> None:
    assert _assess(PageMeta(), LONG, http_status=402) == (True, "http-status:402")
    assert _assess(PageMeta(), LONG, http_status=200) == (False, None)


def test_jsonld_not_free_truncates_unless_the_full_text_came_anyway() -> None:
    gated = read_page_meta(
        '<script type="application/ld+json">{"@type": "NewsArticle", '
        '"isAccessibleForFree": "False", "wordCount": 480}</script><p>x</p>'
    )
    assert _assess(gated, "Only the first paragraph is shown here today.")[0]
    # 480 words declared, 480 delivered: the publisher served the whole story.
    assert _assess(gated, LONG) == (False, None)


def test_paywall_class_needs_a_short_or_cut_body() -> None:
    meta = read_page_meta('<div class="article-paywall"><p>x</p></div>')
    assert meta.paywall_markers == ("article-paywall",)
    truncated, reason = _assess(meta, "Automakers have tested motors without magnets, hoping to")
    assert truncated and reason is not None and "paywall-class:article-paywall" in reason
    assert _assess(meta, LONG) == (False, None)


def test_paywall_words_inside_scripts_are_not_markup() -> None:
    meta = read_page_meta("<script>var c = 'paywall';</script><p>text</p>")
    assert meta.paywall_markers == ()


def test_body_much_shorter_than_declared_word_count_or_feed_summary() -> None:
    meta = read_page_meta(
        '<script type="application/ld+json">{"@type": "Article", "wordCount": "1,200"}</script>'
    )
    assert _assess(meta, LONG) == (True, "short-vs-wordcount:480/1200")
    assert _assess(PageMeta(), "A short body of six words.", summary_words=40) == (
        True,
        "short-vs-feed-summary:6/40",
    )


def test_teaser_that_stops_mid_sentence() -> None:
    truncated, reason = _assess(
        PageMeta(), "Officials said the new rules on chip exports would apply to firms that"
    )
    assert truncated and reason == "teaser-ends-mid-sentence"


def test_subscribe_prompt_at_the_end() -> None:
    text = LONG + "\nSubscribe now to continue reading."
    assert _assess(PageMeta(), text) == (True, "paywall-prompt")


def test_credit_lines_and_full_stops_are_not_cut_sentences() -> None:
    assert not ends_mid_sentence("The talks ended.\nReporting by Jane Doe; Editing by Tom Lee")
    assert not ends_mid_sentence("He said “it is done.”")
    assert ends_mid_sentence("The ministry said that exports of gallium would be…")
    assert ends_mid_sentence("出口管制将加速产能转移，部分企业已计划在日本和美国增加投资以分散风险")
