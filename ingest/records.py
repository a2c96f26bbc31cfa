"""The discovery record: one document found by a source, before extraction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SourceItem:
    """One discovered document, before extraction: where it lives and what its bytes hash to."""

    source: str  # the source it came from: a folder path or a feed URL
    location: str  # file path or URL of the document itself
    kind: str  # "txt", "html", "html.gz" or "feed-entry"
    raw_hash: str  # sha256 of the raw bytes; "" for a new document until extraction reads it
    url: str | None = None  # the article's public URL when known
    discovered_at: str | None = None  # ISO 8601, when the source first showed it
    feed_entry: dict[str, Any] | None = None  # title/summary/published/author/guid from a feed
    # Live sources (issue 3): what the page fetch answered; defaults keep folder items valid.
    content_type: str | None = None  # the page's Content-Type, for charset detection
    http_status: int | None = None
    final_url: str | None = None  # where redirects ended
    fetch_error: str | None = None  # "<error_class>: <detail>" when the page was not fetched
    source_language: str | None = None  # the registry's `language`: the detection prior
