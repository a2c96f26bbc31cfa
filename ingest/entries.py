"""Feed entries as articles: the page through the one extraction path, else the feed's own words."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from typing import Any

from ingest.extraction import (
    count_words,
    detect_language,
    error_article,
    extract_item,
    hash_content,
)
from ingest.languageprior import choose_language
from ingest.records import SourceItem
from ingest.urls import article_id_for
from transforms.records import Article

# SourceItem.kind of a feed entry whose page was not fetched (failed, refused or skipped).
FEED_ENTRY_KIND = "feed-entry"
_BLOCK_END = re.compile(r"(?i)<\s*(?:br\s*/?|/p|/div|/li|/h[1-6])\s*>")
_TAG = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"[ \t\r\f\v]+")


def extract_document(
    item: SourceItem, *, language: bool = True, data: bytes | None = None
) -> Article:
    """Extract any discovered item; a feed entry whose page fails still lands from its summary.

    language=False defers the page's language to `add_language` (see `extract_item`); data
    is the document's bytes when the caller already read them.
    """
    if item.kind == FEED_ENTRY_KIND:
        page_error = item.fetch_error or "page not fetched"
        page = None
    else:
        page = extract_item(item, language=language, data=data)
        if item.feed_entry is None:
            return page
        if page.error is None:
            return with_feed_fallbacks(page, item.feed_entry)
        page_error = page.error
    fallback = summary_only_article(item, page_error)
    if fallback is not None:
        return fallback
    failed = page or error_article(item, f"no usable page or feed text: {page_error}")
    return replace(failed, feed_entry=item.feed_entry, page_error=page_error)


def with_feed_fallbacks(article: Article, entry: dict[str, Any]) -> Article:
    """Fill a title or byline the page lacked from the feed entry, saying so in the provenance.

    The feed's date is not filled here: extraction already weighs it among the date evidence.
    """
    provenance = dict(article.provenance)
    title, author = article.title, article.author
    if not title and entry.get("title"):
        title, provenance["title"] = str(entry["title"]), "feed"
    if not author and entry.get("author"):
        author, provenance["author"] = str(entry["author"]), "feed"
    return replace(
        article,
        title=title,
        author=author,
        provenance=provenance,
        content_hash=hash_content(title, article.text),
        feed_entry=entry,
    )


def summary_text(summary: str | None) -> str:
    """Plain text of a feed summary (sanitised HTML from feedparser, or JSON Feed text)."""
    if not summary:
        return ""
    text = _TAG.sub("", _BLOCK_END.sub("\n", summary))
    lines = (_SPACES.sub(" ", line).strip() for line in html.unescape(text).splitlines())
    return "\n".join(line for line in lines if line)


def summary_only_article(item: SourceItem, page_error: str) -> Article | None:
    """The article as the feed describes it, or None when the feed gave no title and no text."""
    entry = item.feed_entry or {}
    title = str(entry["title"]) if entry.get("title") else None
    text = summary_text(entry.get("summary"))
    if not title and not text:
        return None
    prior = getattr(item, "source_language", None)
    if prior:
        language, language_rule = choose_language(f"{title or ''}\n{text}", prior)
    else:
        language = detect_language(f"{title or ''}\n{text}")
        language_rule = "detected:py3langid" if language else "none"
    return Article(
        article_id=article_id_for(item.url or item.location),
        source=item.source,
        location=item.location,
        url=item.url,
        title=title,
        text=text,
        author=str(entry["author"]) if entry.get("author") else None,
        published_at=str(entry["published_at"]) if entry.get("published_at") else None,
        language=language,
        word_count=count_words(text),
        content_hash=hash_content(title, text),
        raw_hash=item.raw_hash,
        provenance={
            "title": "feed" if title else "none",
            "text": "feed-summary",
            "author": "feed" if entry.get("author") else "none",
            "published_at": "feed" if entry.get("published_at") else "none",
            "language": language_rule,
        },
        discovered_at=item.discovered_at,
        canonical_url=item.url,
        published_at_source="feed" if entry.get("published_at") else None,
        feed_entry=entry,
        is_summary_only=True,
        page_error=page_error,
        title_candidates={"feed": title} if title else {},
    )
