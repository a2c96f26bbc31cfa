"""Sitemap parsing, on documents written from the sitemaps.org and Google News protocols."""

from __future__ import annotations

import gzip

from ingest.sitemaps import entry_from_sitemap_url, is_newer, parse_sitemap

URLSET = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>https://news.example.com/a?utm_source=x</loc><lastmod>2026-10-14</lastmod></url>
  <url><loc>mailto:someone@example.com</loc></url>
  <url><lastmod>2026-10-14</lastmod></url>
</urlset>"""
NEWS = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <url><loc>https://news.example.com/tariffs</loc>
    <news:news>
      <news:publication><news:name>Example Wire</news:name>
        <news:language>zh-cn</news:language></news:publication>
      <news:publication_date>2026-10-14T08:30:00+08:00</news:publication_date>
      <news:title>Tariff truce extended</news:title>
    </news:news></url>
</urlset>"""
INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>https://news.example.com/s1.xml</loc><lastmod>2026-10-14T10:00:00Z</lastmod></sitemap>
  <sitemap><loc>https://news.example.com/s2.xml.gz</loc></sitemap>
</sitemapindex>"""


def test_urlset_keeps_web_locs_with_lastmod() -> None:
    parsed = parse_sitemap(URLSET)
    assert parsed.error is None and not parsed.is_news and not parsed.children
    (url,) = parsed.urls
    assert url.loc == "https://news.example.com/a?utm_source=x"
    assert url.lastmod == "2026-10-14T00:00:00+00:00"
    entry = entry_from_sitemap_url(url)
    assert entry.canonical_link == "https://news.example.com/a" and entry.guid is None


def test_news_sitemap_fields() -> None:
    parsed = parse_sitemap(NEWS)
    assert parsed.is_news
    (url,) = parsed.urls
    assert (url.title, url.language) == ("Tariff truce extended", "zh-cn")
    assert url.published_at == "2026-10-14T00:30:00+00:00"
    assert entry_from_sitemap_url(url).published_at == url.published_at


def test_index_and_gzip() -> None:
    parsed = parse_sitemap(gzip.compress(INDEX))
    assert [c.loc for c in parsed.children] == [
        "https://news.example.com/s1.xml",
        "https://news.example.com/s2.xml.gz",
    ]
    assert parsed.children[0].lastmod == "2026-10-14T10:00:00+00:00"


def test_not_a_sitemap_is_an_error_not_an_exception() -> None:
    assert parse_sitemap(b"<html><body>hi</body></html>").error
    assert parse_sitemap(b"\x00\x01 not xml").error
    assert (
        parse_sitemap(b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><urlset/>').urls == ()
    )


def test_is_newer() -> None:
    assert is_newer(None, "2026-10-14T00:00:00+00:00")
    assert is_newer("2026-10-15T00:00:00+00:00", None)
    assert not is_newer("2026-10-13T00:00:00+00:00", "2026-10-14T00:00:00+00:00")
