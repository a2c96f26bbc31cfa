"""Which URL an article is known by: the fetched URL, or the page's own canonical link.

A ``rel=canonical`` (else ``og:url``) link is preferred when it stays on the fetched URL's
registrable domain; one pointing at another site (syndication partners, aggregators, a
misconfigured CMS) is ignored and recorded, because adopting it would let any page claim
another site's identity. Folder documents without a URL are known by their file URI.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from ingest.pagemeta import PageMeta
from ingest.urls import article_id_for, canonicalize_url, registrable_domain


@dataclass(frozen=True)
class Identity:
    """The id an article lands under and the evidence for it."""

    article_id: str
    canonical_url: str | None
    rule: str  # fetched-url, rel-canonical, og:url or file-uri
    ignored: str | None  # a cross-domain canonical link that was not adopted


def _host(url: str) -> str:
    return urlsplit(url).hostname or ""


def choose_identity(meta: PageMeta | None, url: str | None, location: str) -> Identity:
    """Apply the module's rule to the page's links and the URL it was fetched from."""
    if not url:
        return Identity(article_id_for(Path(location).resolve().as_uri()), None, "file-uri", None)
    ignored = None
    for rule, link in (
        ("rel-canonical", meta and meta.canonical),
        ("og:url", meta and meta.og_url),
    ):
        if not link:
            continue
        absolute = urljoin(url, link)
        if urlsplit(absolute).scheme not in ("http", "https"):
            continue
        if registrable_domain(_host(absolute)) == registrable_domain(_host(url)):
            canonical = canonicalize_url(absolute)
            return Identity(article_id_for(canonical), canonical, rule, ignored)
        ignored = ignored or absolute
    canonical = canonicalize_url(url)
    return Identity(article_id_for(canonical), canonical, "fetched-url", ignored)
