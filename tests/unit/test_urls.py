"""URL canonicalisation and article identity."""

from __future__ import annotations

import pytest

from ingest.urls import article_id_for, canonicalize_url, registrable_domain


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("HTTP://Example.COM:80/a/b", "http://example.com/a/b"),
        ("https://example.com:443/", "https://example.com/"),
        ("https://example.com:8443/x", "https://example.com:8443/x"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/story#comments", "https://example.com/story"),
        (
            "https://example.com/s?utm_source=tw&b=2&utm_medium=x&a=1&fbclid=Z&gclid=Q",
            "https://example.com/s?a=1&b=2",
        ),
        ("https://example.com/s?mc_cid=1&mc_eid=2&ref=home&id=7", "https://example.com/s?id=7"),
        ("https://example.com/s?UTM_Campaign=x", "https://example.com/s"),
        ("  https://example.com/s?page=2&gallery=1  ", "https://example.com/s?gallery=1&page=2"),
        ("https://example.com/%7euser/a%2fb", "https://example.com/~user/a%2Fb"),
        ("https://example.com/s?q=&x=1", "https://example.com/s?q=&x=1"),
    ],
)
def test_canonicalize_url(raw: str, expected: str) -> None:
    assert canonicalize_url(raw) == expected


def test_canonicalize_is_idempotent() -> None:
    once = canonicalize_url("HTTPS://WWW.Example.com:443/a?z=1&utm_term=x&a=2#f")
    assert canonicalize_url(once) == once


def test_non_web_urls_pass_through() -> None:
    assert canonicalize_url("file:///tmp/a.html") == "file:///tmp/a.html"
    assert canonicalize_url("mailto:desk@example.com") == "mailto:desk@example.com"


def test_article_id_is_short_stable_and_canonical() -> None:
    a = article_id_for("https://Example.com/story?utm_source=rss#top")
    b = article_id_for("https://example.com:443/story")
    assert a == b and len(a) == 16 and int(a, 16) >= 0
    assert article_id_for("https://example.com/other") != a


@pytest.mark.parametrize(
    "host,expected",
    [
        ("www.bbc.co.uk", "bbc.co.uk"),
        ("english.news.cn", "news.cn"),
        ("WWW.Reuters.COM", "reuters.com"),
        ("a.b.example.com.cn", "example.com.cn"),
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]", "::1"),
        ("localhost", "localhost"),
    ],
)
def test_registrable_domain(host: str, expected: str) -> None:
    assert registrable_domain(host) == expected
