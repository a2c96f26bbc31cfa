"""Sitemaps on the loopback server, written from the sitemaps.org and Google News protocols."""

from __future__ import annotations

from xml.sax.saxutils import escape

from tests.integration.feedsite import Entry
from tests.integration.loopback import LocalServer, static

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
XML = {"Content-Type": "application/xml"}


def urlset(server: LocalServer, entries: list[Entry], news: bool = False) -> bytes:
    """A urlset for the entries; with news, each <url> carries a news:news block."""
    urls = []
    for i, e in enumerate(entries):
        block = (
            f"<news:news><news:publication><news:name>Loopback Wire</news:name>"
            f"<news:language>en</news:language></news:publication>"
            f"<news:publication_date>2026-10-{10 + i % 15:02d}T08:00:00+00:00"
            f"</news:publication_date><news:title>{escape(e.title)}</news:title></news:news>"
            if news
            else ""
        )
        urls.append(
            f"<url><loc>{escape(server.url(e.path))}</loc>"
            f"<lastmod>2026-10-{10 + i % 15:02d}</lastmod>{block}</url>"
        )
    ns = f' xmlns:news="{NEWS_NS}"' if news else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="{SITEMAP_NS}"{ns}>'
        f"{''.join(urls)}</urlset>"
    ).encode()


def sitemap_index(server: LocalServer, paths: list[str]) -> bytes:
    """A sitemapindex listing the given sitemap paths."""
    items = "".join(
        f"<sitemap><loc>{escape(server.url(p))}</loc><lastmod>2026-10-20</lastmod></sitemap>"
        for p in paths
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="{SITEMAP_NS}">'
        f"{items}</sitemapindex>"
    ).encode()


def serve_sitemap(
    server: LocalServer, entries: list[Entry], path: str = "/sitemap.xml", news: bool = False
) -> None:
    """Route a urlset for the entries."""
    server.routes[path] = static(urlset(server, entries, news), headers=XML)
