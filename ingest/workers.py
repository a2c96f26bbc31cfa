"""What runs inside extraction processes: extract and tag a chunk, and keep memory flat."""

from __future__ import annotations

import gc
from collections.abc import Iterable, Sequence
from dataclasses import replace

from trafilatura.meta import reset_caches

from ingest.entries import FEED_ENTRY_KIND, extract_document
from ingest.extraction import detect_language, error_article
from ingest.localfiles import (
    DEFAULT_MAX_DOCUMENT_BYTES,
    DocumentUnreadable,
    read_document_bytes,
    stat_fingerprint,
)
from ingest.records import SourceItem
from transforms.heap import trim_heap
from transforms.minhash import compute_signature
from transforms.records import Article, TaggedArticle, TagResult
from transforms.tagging import load_tagger

# trafilatura's module-level LRU caches grow about 1 MB per page unless cleared (trafilatura#216).
CACHE_RESET_EVERY = 100

_processed_since_reset = 0


def release_caches(processed: int) -> None:
    """Count processed pages and clear trafilatura's caches every CACHE_RESET_EVERY of them."""
    global _processed_since_reset
    _processed_since_reset += processed
    if _processed_since_reset >= CACHE_RESET_EVERY:
        _processed_since_reset = 0
        reset_caches()
        trim_heap()  # glibc would keep ~10 MB of parse trees per process


def warm_worker(language: bool = True) -> None:
    """Load the tagger (and the language model) once per worker, not inside the first task."""
    load_tagger()
    if language:
        detect_language("warm-up text for the language model, long enough to classify")
    compute_signature("warm-up", "warm-up text for the near-duplicate signature, long enough")
    # Models and tables live for the whole process: out of the collector's sight, the full
    # collection in every cache reset costs ~0 ms instead of ~40 ms.
    gc.collect()
    gc.freeze()


def tag_articles(articles: Iterable[Article]) -> list[TaggedArticle]:
    """Tag extracted articles; error rows pass through with an empty tag set."""
    tagger = load_tagger()
    empty = TagResult(False, 0.0, (), (), (), tagger.version)
    return [
        TaggedArticle(
            article=article,
            tags=tagger.tag(article.title, article.text) if article.error is None else empty,
        )
        for article in articles
    ]


def guarded_extract(
    item: SourceItem, *, language: bool = True, max_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES
) -> Article:
    """Extract one item, unless its document cannot be read within the limits.

    Such a document becomes an error row naming why (too large, a decompression bomb, not
    gzip, unreadable; or an error discovery already found), fingerprinted so the next run
    skips it until it changes. A fetched page over the limit lands from its feed entry instead.
    """
    if item.kind == FEED_ENTRY_KIND:
        return extract_document(item, language=language)
    problem = item.fetch_error if item.feed_entry is None else None
    data: bytes | None = None
    if problem is None:
        # Read once, within the limits, and extract from those bytes: a page in object
        # storage then costs one request, a local .gz one inflation.
        try:
            data = read_document_bytes(item.location, max_bytes)
        except DocumentUnreadable as exc:
            problem = str(exc)
    if problem is None:
        return extract_document(item, language=language, data=data)
    if item.feed_entry is not None:
        return extract_document(replace(item, kind=FEED_ENTRY_KIND, fetch_error=problem))
    fingerprint = item.raw_hash or stat_fingerprint(item.location)
    return error_article(replace(item, raw_hash=fingerprint), problem)


def process_chunk(
    items: Sequence[SourceItem],
    language: bool = True,
    max_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
) -> list[TaggedArticle]:
    """Pool task: extract and tag where the page is, so only finished rows return to the parent.

    language=False leaves language detection to the process that lands the rows; max_bytes is
    the document limit (TRADEWIRE_MAX_DOCUMENT_BYTES).
    """
    articles = [guarded_extract(i, language=language, max_bytes=max_bytes) for i in items]
    tagged = tag_articles(articles)
    release_caches(len(items))
    return tagged
