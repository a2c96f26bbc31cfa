"""The article record and its tags: what extraction produces and tagging, landing and staging read."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

# Field metadata read by transforms/schema.py: `column=False` keeps a field out of the
# `articles` table (it lands elsewhere, or only in staging); `duckdb` names a column type that
# the Python type alone does not say (a timestamp or JSON carried as a string).
_TRANSIENT: dict[str, Any] = {"column": False}
_TIMESTAMP: dict[str, Any] = {"duckdb": "TIMESTAMPTZ"}
_JSON: dict[str, Any] = {"duckdb": "JSON"}


@dataclass(frozen=True)
class Article:
    """An extracted article: text and metadata, each metadata field with where it came from.

    The one declaration of the record: the `articles` columns, the Arrow schema of a landing,
    the staging JSON and the JSON the CLI prints are all derived from these fields.
    """

    article_id: str
    source: str
    location: str
    url: str | None
    title: str | None
    text: str
    author: str | None
    published_at: str | None = field(metadata=_TIMESTAMP)  # ISO 8601 or None
    language: str | None
    word_count: int
    content_hash: str
    raw_hash: str
    provenance: dict[str, str] = field(default_factory=dict)  # field name -> rule that set it
    discovered_at: str | None = field(default=None, metadata=_TIMESTAMP)
    # Set when extraction failed; the row lands in ingest_errors instead.
    error: str | None = field(default=None, metadata=_TRANSIENT)
    # Live sources: the feed entry behind the article (lands in feed_entries), and whether only
    # it was usable.
    feed_entry: dict[str, Any] | None = field(default=None, metadata=_TRANSIENT)
    is_summary_only: bool = False  # text is the feed's summary: the page failed or was skipped
    # "<error_class>: <detail>" of why the page was not used (lands in discovered_urls).
    page_error: str | None = field(default=None, metadata=_TRANSIENT)
    # Quality fields: defaults keep older staged rows and hand-built records valid.
    canonical_url: str | None = None  # the URL article_id is derived from, canonicalised
    canonical_ignored: str | None = None  # a rel=canonical/og:url on another domain, not used
    published_at_source: str | None = None  # which candidate won, e.g. "jsonld", "url"
    published_at_conflict: bool = False  # valid candidates more than a day apart
    language_declared: str | None = None  # what the page says: <html lang>, og:locale, ...
    language_conflict: bool = False  # declared and detected language differ
    encoding: str | None = None  # codec the raw bytes were decoded with
    encoding_rule: str | None = None  # bom, http-header, meta-charset, detected or default
    is_truncated: bool = False  # paywalled teaser or otherwise cut-short body
    truncation_reason: str | None = None  # ";"-joined signals that set is_truncated
    raw_location: str | None = None  # where the raw bytes can be read again for reextract
    extractor_version: str | None = None  # trafilatura version + hash of our settings
    # Hex MinHash signature of the text (lands in article_minhash, for near-duplicate clusters).
    minhash: str | None = field(default=None, metadata=_TRANSIENT)
    # JSON of the SourceItem, so reextract rebuilds the input.
    source_item: str | None = field(default=None, metadata=_JSON)
    # Every title the page offered, source -> text ("h1", "og:title", ...); provenance["title"]
    # names the chosen one (ingest/titles.py).
    title_candidates: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Evidence:
    """A matched span: offsets are into the article's `field` ("title" or "text")."""

    text: str
    start: int
    end: int
    field: str = "text"


@dataclass(frozen=True)
class TopicTag:
    """One topic assigned to an article, with a score in [0, 1] and the spans that justify it."""

    topic: str
    score: float
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class EntityMention:
    """An entity from the gazetteer found in an article, with how often it was mentioned."""

    entity_id: str
    name: str
    kind: str
    mentions: int


@dataclass(frozen=True)
class TagResult:
    """Everything the tagger says about one article."""

    us_china: bool
    us_china_score: float
    us_china_evidence: tuple[Evidence, ...]
    topics: tuple[TopicTag, ...]
    entities: tuple[EntityMention, ...]
    taxonomy_version: str
    # The learned scorer's version when it decided the tags; None when the rules alone did.
    model_version: str | None = None


@dataclass(frozen=True)
class TaggedArticle:
    """An article with its tags: what the load stage writes."""

    article: Article
    tags: TagResult


def to_dict(record: Any) -> dict[str, Any]:
    """Turn a record into plain JSON-ready data: staging files and the CLI's JSON output."""
    return asdict(record)


def article_from_dict(data: dict[str, Any]) -> Article:
    """Rebuild an Article from staged JSON, ignoring unknown keys from newer writers."""
    names = {f.name for f in fields(Article)}
    return Article(**{k: v for k, v in data.items() if k in names})


def evidence_from_dict(data: dict[str, Any]) -> Evidence:
    """Rebuild Evidence from staged JSON."""
    return Evidence(
        text=data["text"], start=data["start"], end=data["end"], field=data.get("field", "text")
    )


def tag_result_from_dict(data: dict[str, Any]) -> TagResult:
    """Rebuild a TagResult from staged JSON."""
    return TagResult(
        us_china=bool(data["us_china"]),
        us_china_score=float(data["us_china_score"]),
        us_china_evidence=tuple(evidence_from_dict(e) for e in data["us_china_evidence"]),
        topics=tuple(
            TopicTag(
                topic=t["topic"],
                score=float(t["score"]),
                evidence=tuple(evidence_from_dict(e) for e in t["evidence"]),
            )
            for t in data["topics"]
        ),
        entities=tuple(EntityMention(**e) for e in data["entities"]),
        taxonomy_version=data["taxonomy_version"],
        model_version=data.get("model_version"),
    )


def tagged_article_from_dict(data: dict[str, Any]) -> TaggedArticle:
    """Rebuild a TaggedArticle from staged JSON."""
    return TaggedArticle(
        article=article_from_dict(data["article"]), tags=tag_result_from_dict(data["tags"])
    )
