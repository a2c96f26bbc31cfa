"""One extraction path for every source: bytes in, an Article with per-field provenance out."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import unicodedata
from dataclasses import replace
from pathlib import Path

import trafilatura
from lxml.html import HtmlElement
from trafilatura import load_html

from ingest import bodies
from ingest.bodies import extract_body
from ingest.dates import choose_date, gather_candidates, reference_time
from ingest.encoding import decode_html
from ingest.identity import choose_identity
from ingest.languageprior import choose_language
from ingest.pagemeta import PageMeta, declared_language, read_tree_meta
from ingest.records import SourceItem
from ingest.textfile import parse_text_fixture, render_fixture_html
from ingest.titles import TitleChoice, normalise_title, select_title
from ingest.truncation import assess_truncation
from ingest.urls import article_id_for
from ingest.wordcount import count_words
from transforms.minhash import compute_signature
from transforms.objectstore import is_remote, read_bytes
from transforms.records import Article, to_dict

# Below this many words a page is navigation or an error page, not an article.
MIN_WORDS = 5
# What we ask trafilatura for and when we ask again (ingest/bodies.py); part of
# extractor_version(), so changing any of it marks rows stale for `tradewire reextract`.
EXTRACTION_SETTINGS: dict[str, object] = {
    **bodies.BASE_SETTINGS,
    "passes": bodies.PASSES,
    "short_words": bodies.SHORT_WORDS,
    "container_share": bodies.CONTAINER_SHARE,
    "jsonld_margin": bodies.JSONLD_MARGIN,
    "jsonld_overlap": bodies.JSONLD_OVERLAP,
}
# Bump when our own rules (dates, language, truncation, identity, shingles, titles) change
# meaning. quality-2: MinHash signatures by rensa; fields-1: titles from candidates
# (ingest/titles.py), bodies from precision-first passes (ingest/bodies.py).
RULES_VERSION = "fields-1"
# Characters of text the language is classified on: py3langid's cost grows with the length and
# the opening paragraphs settle it (1,500 and 5,000 agree on all 181 benchmark pages).
LANGUAGE_SAMPLE = 1500
_TAG = re.compile(r"<[^>]+>")


def read_source_bytes(location: str) -> bytes:
    """Raw bytes of a document (local, or a raw page in object storage), un-gzipped for .gz."""
    data = read_bytes(location) if is_remote(location) else Path(location).read_bytes()
    return gzip.decompress(data) if location.endswith(".gz") else data


def hash_bytes(data: bytes) -> str:
    """Content address of raw bytes; unchanged documents are recognised by it."""
    return hashlib.sha256(data).hexdigest()


def hash_content(title: str | None, text: str) -> str:
    """Hash of the normalised title and text: changes only when what readers see changes."""
    normalised = unicodedata.normalize("NFKC", f"{title or ''}\n{text}")
    normalised = re.sub(r"\s+", " ", normalised).strip().lower()
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's language, or None when there is too little text to say."""
    if len(text.strip()) < 20:
        return None
    import py3langid  # loaded lazily: its model takes a moment and only extraction needs it

    lang, _score = py3langid.classify(text[:LANGUAGE_SAMPLE])
    return str(lang)


def strip_leading_title(text: str, *titles: str | None) -> str:
    """Why: trafilatura keeps the headline (an <h1>, or a "- " item of a <dl>) as the first line."""
    wanted = {normalise_title(t) for t in titles if t}
    if not wanted:
        return text
    first, _, rest = text.partition("\n")
    return rest.lstrip("\n") if normalise_title(first.lstrip("-*• ")) in wanted else text


def extractor_version() -> str:
    """trafilatura's version plus a hash of our settings: what `tradewire reextract` compares."""
    settings = f"{sorted(EXTRACTION_SETTINGS.items())}|{RULES_VERSION}"
    digest = hashlib.sha256(settings.encode("utf-8")).hexdigest()[:10]
    return f"trafilatura-{trafilatura.__version__}+{digest}"


def feed_summary_words(item: SourceItem) -> int | None:
    """Words in the feed entry's summary (tags stripped), the yardstick for a cut-short body."""
    summary = (item.feed_entry or {}).get("summary")
    if not summary:
        return None
    return count_words(_TAG.sub(" ", str(summary))) or None


# provenance["language"] of an article extracted with language=False, until add_language runs.
LANGUAGE_DEFERRED = "deferred"


def extract_item(item: SourceItem, *, language: bool = True, data: bytes | None = None) -> Article:
    """Extract one discovered document; failures come back as an Article carrying `error`.

    language=False leaves language detection to `add_language` in another process: a run's
    extraction workers then never load py3langid's model (73 MB of Python objects apiece).
    data is the document's bytes when the caller already read them (one read per page).
    """
    provenance: dict[str, str] = {}
    # Optional fields the fetcher sets on fetched pages; folder documents have none of them.
    content_type = getattr(item, "content_type", None)
    http_status = getattr(item, "http_status", None)
    page_url = getattr(item, "final_url", None) or item.url
    raw_location = getattr(item, "raw_location", None) or item.location
    try:
        raw = read_source_bytes(item.location) if data is None else data
        if not item.raw_hash:  # a new document: discovery left hashing to the reader
            item = replace(item, raw_hash=hash_bytes(raw))
        tree: HtmlElement | None = None
        if item.kind == "txt":
            text_raw, encoding, rule = decode_html(raw, content_type)
            html = render_fixture_html(parse_text_fixture(text_raw))
            page_kind = "text-fixture"
            meta = PageMeta()
        else:
            html, encoding, rule = decode_html(raw, content_type)
            page_kind = "html"
            # Parse once: the page metadata, htmldate and trafilatura all read this one tree.
            tree = load_html(html)
            meta = read_tree_meta(tree, html) if tree is not None else PageMeta()
        provenance["encoding"] = rule
        body = extract_body(tree if tree is not None else html, url=page_url, meta=meta)
        fields = body.metadata
        choice = choose_page_title(item, meta, fields, page_url, page_kind)
    except Exception as exc:  # one bad document must not stop the batch
        return error_article(item, f"{type(exc).__name__}: {exc}")
    title_str = choice.title
    text = strip_leading_title(body.text, title_str, *choice.candidates.values())
    word_count = count_words(text)
    if word_count < MIN_WORDS:
        return error_article(item, "no text extracted")
    provenance["title"] = choice.rule
    provenance["text"] = body.source
    author = fields.get("author")
    provenance["author"] = "trafilatura" if author else "none"
    trafilatura_date = fields.get("date")
    date = choose_date(
        gather_candidates(
            meta,
            html=tree,
            url=page_url,
            feed_published=(item.feed_entry or {}).get("published_at"),
            trafilatura_date=str(trafilatura_date) if trafilatura_date else None,
            text=text,
        ),
        reference_time(item.discovered_at),
    )
    provenance["published_at"] = date.source or "none"
    if date.evidence:
        provenance["published_at_candidates"] = date.evidence
    provenance["language"] = LANGUAGE_DEFERRED  # here, so every path keeps the same key order
    prior = getattr(item, "source_language", None)
    if prior:
        provenance["language_prior"] = prior  # the source's `language`, for add_language
    declared, declared_rule = declared_language(meta)
    provenance["language_declared"] = declared_rule
    identity = choose_identity(meta, page_url, item.location)
    provenance["article_id"] = identity.rule
    if identity.ignored:
        provenance["canonical_ignored"] = "cross-domain"
    truncation = assess_truncation(
        meta,
        text=text,
        word_count=word_count,
        http_status=http_status,
        summary_words=feed_summary_words(item),
    )
    provenance["is_truncated"] = truncation.reason or "none"
    article = Article(
        article_id=identity.article_id,
        source=item.source,
        location=item.location,
        url=item.url,
        title=title_str,
        text=text,
        author=str(author) if author else None,
        published_at=date.published_at,
        language=None,
        word_count=word_count,
        content_hash=hash_content(title_str, text),
        raw_hash=item.raw_hash,
        provenance=provenance,
        discovered_at=item.discovered_at,
        canonical_url=identity.canonical_url,
        canonical_ignored=identity.ignored,
        published_at_source=date.source,
        published_at_conflict=date.conflict,
        language_declared=declared,
        encoding=encoding,
        encoding_rule=rule,
        is_truncated=truncation.is_truncated,
        truncation_reason=truncation.reason,
        raw_location=raw_location,
        extractor_version=extractor_version(),
        minhash=compute_signature(title_str, text),
        source_item=json.dumps(to_dict(item), ensure_ascii=False, default=str),
        title_candidates=choice.candidates,
    )
    return add_language(article) if language else article


def choose_page_title(
    item: SourceItem,
    meta: PageMeta,
    fields: dict[str, object],
    page_url: str | None,
    page_kind: str,
) -> TitleChoice:
    """The headline among the page's candidates; a text fixture's is its first line."""
    trafilatura_title = fields.get("title")
    feed_title = (item.feed_entry or {}).get("title")
    choice = select_title(
        meta,
        trafilatura_title=str(trafilatura_title) if trafilatura_title else None,
        sitename=str(fields["sitename"]) if fields.get("sitename") else None,
        url=page_url,
        feed_title=str(feed_title) if feed_title else None,
    )
    if page_kind == "text-fixture" and choice.rule == "trafilatura":
        return replace(choice, rule="text-fixture:trafilatura")
    return choice


def add_language(article: Article) -> Article:
    """Detect the language of an article extracted with language=False; others pass unchanged."""
    if article.provenance.get("language") != LANGUAGE_DEFERRED:
        return article
    prior = article.provenance.get("language_prior")
    if prior:
        language, rule = choose_language(article.text, prior)
    else:
        language = detect_language(article.text)
        rule = "detected:py3langid" if language else "none"
    declared = article.language_declared
    return replace(
        article,
        language=language,
        language_conflict=bool(declared and language and declared != language),
        provenance={**article.provenance, "language": rule},
    )


def error_article(item: SourceItem, error: str) -> Article:
    """An error row: keeps the document's identity so the failure is visible and retried later."""
    return Article(
        article_id=article_id_for(item.url or Path(item.location).resolve().as_uri()),
        source=item.source,
        location=item.location,
        url=item.url,
        title=None,
        text="",
        author=None,
        published_at=None,
        language=None,
        word_count=0,
        content_hash="",
        raw_hash=item.raw_hash,
        discovered_at=item.discovered_at,
        error=error,
    )
