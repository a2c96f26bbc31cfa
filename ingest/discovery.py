"""Finding a site's feeds and sitemaps, so a user can add a site by its home page URL.

The order is the cheap, explicit one first: the page's own `<link rel="alternate">` feeds
(trafilatura's feed finder), then common feed paths, then the `Sitemap:` lines of robots.txt
(trafilatura's reader) and the usual sitemap paths. Every request goes through the polite,
guarded Fetcher; each candidate is fetched and parsed before it is proposed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from courlan import get_base_url
from trafilatura.feeds import FeedParameters, determine_feed, is_potential_feed
from trafilatura.sitemaps import extract_robots_sitemaps

from ingest.feeds import parse_feed
from ingest.fetch import Fetcher, FetchResult
from ingest.sitemaps import parse_sitemap

logger = logging.getLogger(__name__)

COMMON_FEED_PATHS = ("/feed", "/rss", "/rss.xml", "/feed.xml", "/atom.xml", "/index.xml")
COMMON_SITEMAP_PATHS = ("/news-sitemap.xml", "/sitemap_news.xml", "/sitemap.xml")
MAX_CANDIDATES = 10  # a page listing dozens of feeds is not worth fetching them all


@dataclass(frozen=True)
class Candidate:
    """A source the site offers: its kind, URL, how it was found and what it holds."""

    kind: str  # "feed", "sitemap" or "news-sitemap"
    url: str
    found_by: str  # "given", "link-alternate", "common-path", "robots.txt", "sitemap-path"
    title: str | None
    entries: int


def classify_body(result: FetchResult, found_by: str) -> Candidate | None:
    """What a fetched document is as a source: a feed, a (news) sitemap, or nothing usable."""
    if not result.ok or not result.body:
        return None
    body, url = result.body, result.final_url
    sitemap = parse_sitemap(body)
    if sitemap.error is None and (sitemap.urls or sitemap.children):
        kind = "news-sitemap" if sitemap.is_news else "sitemap"
        count = len(sitemap.urls) or len(sitemap.children)
        return Candidate(kind, url, found_by, None, count)
    text = body[:4096].decode("utf-8", "replace")
    content_type = result.headers.get("content-type")
    looks_like_feed = is_potential_feed(text) or "json" in (content_type or "")
    if not looks_like_feed:
        return None
    feed = parse_feed(body, url, content_type)
    if feed.error and not feed.entries:
        return None
    return Candidate("feed", url, found_by, feed.title, len(feed.entries))


def probe(fetcher: Fetcher, url: str, found_by: str) -> Candidate | None:
    """Fetch one candidate URL and keep it only if it parses as a feed or a sitemap."""
    candidate = classify_body(fetcher.fetch(url), found_by)
    logger.info("probed %s (%s): %s", url, found_by, candidate.kind if candidate else "nothing")
    return candidate


def alternate_feed_urls(result: FetchResult) -> list[str]:
    """Feed URLs an HTML page declares (`<link rel="alternate">`, else feed-looking links)."""
    if not result.ok or not result.body:
        return []
    html = result.body.decode("utf-8", "replace")
    base = get_base_url(result.final_url)
    params = FeedParameters(base, urlsplit(base).hostname or "", result.final_url)
    return determine_feed(html, params)[:MAX_CANDIDATES]


def robots_sitemap_urls(fetcher: Fetcher, base: str) -> list[str]:
    """The `Sitemap:` lines of the site's robots.txt, resolved against the site."""
    result = fetcher.fetch(urljoin(base, "/robots.txt"))
    if not result.ok or not result.body:
        return []
    return extract_robots_sitemaps(result.body.decode("utf-8", "replace"), base)


def discover_sources(fetcher: Fetcher, url: str) -> list[Candidate]:
    """Every feed or sitemap found for a URL, best first; a feed or sitemap URL is itself."""
    first = fetcher.fetch(url)
    given = classify_body(first, "given")
    if given is not None:
        return [given]
    base = get_base_url(first.final_url or url)
    found: dict[str, Candidate] = {}

    def keep(candidate: Candidate | None) -> None:
        if candidate is not None and candidate.url not in found:
            found[candidate.url] = candidate

    for feed_url in alternate_feed_urls(first):
        keep(probe(fetcher, feed_url, "link-alternate"))
    if not found:
        for path in COMMON_FEED_PATHS:
            keep(probe(fetcher, urljoin(base, path), "common-path"))
            if found:
                break
    if found:
        return list(found.values())
    for sitemap_url in robots_sitemap_urls(fetcher, base)[:MAX_CANDIDATES]:
        keep(probe(fetcher, sitemap_url, "robots.txt"))
    if not found:
        for path in COMMON_SITEMAP_PATHS:
            keep(probe(fetcher, urljoin(base, path), "sitemap-path"))
    # News sitemaps first: dated, titled and limited to recent articles.
    order = {"news-sitemap": 0, "feed": 1, "sitemap": 2}
    return sorted(found.values(), key=lambda c: order[c.kind])
