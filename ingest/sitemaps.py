"""Sitemaps as sources: the sitemaps.org protocol (urlset, sitemapindex) and Google News sitemaps.

Written against the published formats: https://www.sitemaps.org/protocol.html and
https://developers.google.com/search/docs/crawling-indexing/sitemaps/news-sitemap
(`news:news` > `news:publication` (`news:name`, `news:language`), `news:publication_date`,
`news:title`). Entities and DTDs are never resolved.
"""

from __future__ import annotations

import gzip
import io
import logging
from dataclasses import dataclass

from lxml import etree

from ingest.feeds import FeedEntry, canonical_or_none, iso_to_utc
from ingest.sources_registry import is_web_url

logger = logging.getLogger(__name__)

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
GZIP_MAGIC = b"\x1f\x8b"
MAX_SITEMAP_BYTES = 50 * 1024 * 1024  # the protocol's own limit, uncompressed


@dataclass(frozen=True)
class SitemapUrl:
    """One <url> of a urlset, with the news fields when the sitemap is a news sitemap."""

    loc: str
    lastmod: str | None  # ISO 8601 in UTC
    title: str | None = None
    published_at: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class ParsedSitemap:
    """A parsed sitemap: either child sitemaps (an index) or URLs, plus what went wrong."""

    children: tuple[SitemapUrl, ...]
    urls: tuple[SitemapUrl, ...]
    is_news: bool
    error: str | None


def gunzip_capped(body: bytes) -> bytes:
    """Sitemaps may be served gzipped as files (sitemap.xml.gz); inflate them within the cap."""
    if not body.startswith(GZIP_MAGIC):
        return body
    with gzip.GzipFile(fileobj=io.BytesIO(body)) as fh:
        data = fh.read(MAX_SITEMAP_BYTES + 1)
    if len(data) > MAX_SITEMAP_BYTES:
        raise ValueError("sitemap larger than 50 MB uncompressed")
    return data


def local_name(tag: object) -> str:
    """The element name without its namespace."""
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def child_text(element: etree._Element, namespace: str, name: str) -> str | None:
    """The stripped text of a direct child in a namespace, or None."""
    found = element.find(f"{{{namespace}}}{name}")
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def parse_sitemap(body: bytes) -> ParsedSitemap:
    """Parse a urlset or a sitemapindex; problems come back in `error`, never as exceptions."""
    try:
        data = gunzip_capped(body)
        parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, recover=True
        )
        root = etree.fromstring(data, parser=parser)
    except (ValueError, OSError, etree.XMLSyntaxError) as exc:
        return ParsedSitemap((), (), False, f"{type(exc).__name__}: {exc}")
    if root is None:
        return ParsedSitemap((), (), False, "empty document")
    kind = local_name(root.tag)
    if kind == "sitemapindex":
        children = tuple(
            SitemapUrl(loc=loc, lastmod=iso_to_utc(child_text(s, SITEMAP_NS, "lastmod")))
            for s in root.iter(f"{{{SITEMAP_NS}}}sitemap")
            if (loc := child_text(s, SITEMAP_NS, "loc")) and is_web_url(loc)
        )
        return ParsedSitemap(children, (), False, None)
    if kind != "urlset":
        return ParsedSitemap((), (), False, f"not a sitemap: root element <{kind}>")
    urls = tuple(url for u in root.iter(f"{{{SITEMAP_NS}}}url") if (url := read_url(u)) is not None)
    is_news = any(u.published_at or u.title for u in urls)
    return ParsedSitemap((), urls, is_news, None)


def read_url(element: etree._Element) -> SitemapUrl | None:
    """One <url>: its loc and lastmod, and the news:news block when there is one."""
    loc = child_text(element, SITEMAP_NS, "loc")
    if not loc or not is_web_url(loc):
        return None
    lastmod = iso_to_utc(child_text(element, SITEMAP_NS, "lastmod"))
    news = element.find(f"{{{NEWS_NS}}}news")
    if news is None:
        return SitemapUrl(loc=loc, lastmod=lastmod)
    publication = news.find(f"{{{NEWS_NS}}}publication")
    language = child_text(publication, NEWS_NS, "language") if publication is not None else None
    return SitemapUrl(
        loc=loc,
        lastmod=lastmod,
        title=child_text(news, NEWS_NS, "title"),
        published_at=iso_to_utc(child_text(news, NEWS_NS, "publication_date")),
        language=language,
    )


def entry_from_sitemap_url(url: SitemapUrl) -> FeedEntry:
    """A sitemap URL as a feed entry, keyed by its canonical link (sitemaps have no GUIDs)."""
    return FeedEntry(
        guid=None,
        link=url.loc,
        canonical_link=canonical_or_none(url.loc),
        title=url.title,
        summary=None,
        published_at=url.published_at or url.lastmod,
        author=None,
    )


def is_newer(lastmod: str | None, since: str | None) -> bool:
    """Say whether a sitemap or URL changed after the last successful poll (unknown: yes)."""
    if lastmod is None or since is None:
        return True
    return lastmod > (iso_to_utc(since) or since)
