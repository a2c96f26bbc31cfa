"""Feed parsing, including feeds fetched from the loopback server and hostile DTDs."""

from __future__ import annotations

import contextlib
import io
import xml.sax
import xml.sax.handler
from collections.abc import Callable
from pathlib import Path

import pytest

from ingest.feeds import clean_article_html, entry_key, neutralize_doctype, parse_feed
from ingest.fetch import Fetcher
from tests.integration.loopback import LocalServer, static

pytestmark = pytest.mark.timeout(30)

FEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"


def read(name: str) -> bytes:
    return (FEEDS / name).read_bytes()


def test_rss20_fetched_and_parsed(
    server: LocalServer, make_fetcher: Callable[..., Fetcher]
) -> None:
    server.routes["/rss"] = static(
        read("rss20.xml"), headers={"Content-Type": "application/rss+xml"}
    )
    fetched = make_fetcher().fetch(server.url("/rss"))
    assert fetched.body is not None
    feed = parse_feed(fetched.body, fetched.final_url, fetched.headers.get("content-type"))
    assert feed.error is None and not feed.bozo and feed.title == "Tradewire Test Wire"
    first, second, third = feed.entries
    assert first.guid == "urn:example:news:42"
    assert first.canonical_link == "https://news.example.com/world/chips-export-controls?id=42"
    assert first.published_at == "2025-06-03T06:30:00+00:00"
    assert first.author == "Jane Analyst"
    assert (
        first.summary is not None and "<script" not in first.summary and "twelve" in first.summary
    )
    # relative links resolve against the URL the feed came from
    assert second.link == server.url("/markets/soybean-tariffs")
    assert entry_key(second) == second.canonical_link and second.guid is None
    assert entry_key(third) is None


def test_atom() -> None:
    feed = parse_feed(
        read("atom.xml"), "https://trade.example.org/feed.atom", "application/atom+xml"
    )
    assert feed.error is None and feed.title == "Trade Policy Notes"
    first, second = feed.entries
    assert first.link == "https://trade.example.org/notes/section-301-ships?fbclid=abc"
    assert first.canonical_link == "https://trade.example.org/notes/section-301-ships"
    assert first.published_at == "2025-06-04T11:15:00+00:00"
    assert first.author == "Policy Desk"
    assert entry_key(first) == "tag:trade.example.org,2025:301-ships"
    assert second.published_at == "2025-06-01T12:00:00+00:00"  # falls back to <updated>


def test_rss10_and_rss091_with_public_dtd() -> None:
    rdf = parse_feed(read("rss10.rdf"), "https://rdf.example.com/rss", None)
    assert rdf.error is None and rdf.entries[0].published_at == "2025-05-30T06:00:00+00:00"
    old = parse_feed(read("rss091-netscape.xml"), "http://old.example.com/rss", "text/xml")
    assert old.error is None and old.entries[0].title == "Tariff truce extended by 90 days"


def test_json_feed_1_1_and_1_0_fields() -> None:
    feed = parse_feed(
        read("jsonfeed.json"), "https://tracker.example.net/feed.json", "application/feed+json"
    )
    assert feed.title == "Tariff Tracker" and feed.error is None
    assert feed.bozo  # one item was not an object and was skipped
    first, second = feed.entries
    assert first.canonical_link == "https://tracker.example.net/2025/06/section-232-steel"
    assert first.published_at == "2025-06-04T01:00:00+00:00"
    assert first.author == "A. Writer, B. Editor"
    assert second.guid == "1002" and second.link == "https://tracker.example.net/2025/06/de-minimis"
    assert second.summary == "De minimis exemption for Chinese parcels ends."
    assert second.author == "Legacy Author"


def test_json_feed_sniffed_without_content_type() -> None:
    body = b'{"version": "https://jsonfeed.org/version/1", "items": [{"id": "x", "url": "https://a.example/x"}]}'
    feed = parse_feed(body, "https://a.example/feed", None)
    assert [e.guid for e in feed.entries] == ["x"]


def test_json_feed_html_is_sanitised_and_feed_author_inherited() -> None:
    body = (
        b'{"version": "https://jsonfeed.org/version/1.1", "authors": [{"name": "Wire Desk"}],'
        b' "items": [{"id": "h", "content_html": "<p>Hi</p><script>alert(1)</script>"}]}'
    )
    (entry,) = parse_feed(body, "https://a.example/feed.json", None).entries
    assert entry.summary == "<p>Hi</p>" and entry.author == "Wire Desk"


def test_article_html_keeps_structure_and_drops_active_content() -> None:
    html = (
        '<p style="color:red" onclick="x()">Tariffs <a href="javascript:alert(1)">bad</a>'
        ' <a href="/rel" rel="nofollow">rel</a></p><img src="https://e.com/c.png" alt="chart"'
        ' onerror="x()"><iframe src="https://evil.example/">frame</iframe><form><button>Go'
        '</button></form><table><tr><td colspan="2">cell</td></tr></table><!-- note -->'
    )
    cleaned = clean_article_html(html)
    assert cleaned == (
        '<p>Tariffs <a>bad</a> <a href="/rel" rel="nofollow">rel</a></p>'
        '<img src="https://e.com/c.png" alt="chart">Go'
        '<table><tbody><tr><td colspan="2">cell</td></tr></tbody></table>'
    )


def test_external_entities_and_dtd_are_never_fetched(server: LocalServer) -> None:
    server.routes["/secret"] = static(b"TOP-SECRET-FROM-SERVER")
    body = read("entities-dtd.xml").replace(b"__SECRET_URL__", server.url("/secret").encode())
    feed = parse_feed(body, server.url("/feed"), "application/rss+xml")
    assert [h.path for h in server.hits] == []  # neither /secret nor /secret?param was requested
    assert len(feed.entries) == 1
    entry = feed.entries[0]
    everything = f"{feed.title} {entry.title} {entry.summary}"
    assert "TOP-SECRET" not in everything and "root:" not in everything
    assert "lollollol" not in everything  # nested entities are dropped, not expanded
    assert feed.title == "Entity Test Feed by Trade Desk"  # plain internal entity still works
    assert entry_key(entry) == "https://entities.example.com/item/1"


def test_neutralize_doctype_keeps_only_plain_entities() -> None:
    raw = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "ok"><!ENTITY b SYSTEM "file:///x">]><r>&a;</r>'
    cleaned = neutralize_doctype(raw)
    assert b"SYSTEM" not in cleaned and b'<!ENTITY a "ok">' in cleaned
    utf16 = (
        '<?xml version="1.0" encoding="utf-16"?><!DOCTYPE r SYSTEM "http://127.0.0.1:9/x.dtd"><r/>'
    )
    cleaned16 = neutralize_doctype(b"\xff\xfe" + utf16.encode("utf-16-le"))
    assert b"DOCTYPE" not in cleaned16 and b'encoding="utf-8"' in cleaned16


def test_ill_formed_feed_is_salvaged() -> None:
    feed = parse_feed(read("broken.xml"), "https://broken.example.com/rss", "application/rss+xml")
    assert feed.bozo
    assert feed.entries and feed.entries[0].link == "https://broken.example.com/a"


@pytest.mark.parametrize(
    "body,content_type",
    [
        (b"", None),
        (b"\x00\xff\xfe garbage", None),
        (b"<html><body>Not a feed</body></html>", "text/html"),
        (b'{"version": "1.0", "items": []}', "application/json"),
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/feed+json"),
    ],
)
def test_garbage_returns_error_not_exception(body: bytes, content_type: str | None) -> None:
    feed = parse_feed(body, "https://x.example/feed", content_type)
    assert feed.entries == () and feed.error


def test_neutralized_feed_is_safe_even_for_a_parser_that_resolves_entities(
    server: LocalServer,
) -> None:
    """Positive control: a permissive SAX parser does fetch the secret, until the DOCTYPE is rewritten."""
    server.routes["/secret"] = static(b"TOP-SECRET-FROM-SERVER")
    body = read("entities-dtd.xml").replace(b"__SECRET_URL__", server.url("/secret").encode())
    server.routes["/secret2"] = static(b"TOP-SECRET-TWO")
    body = body.replace(b"file:///etc/passwd", server.url("/secret2").encode())

    def permissive_parse(data: bytes) -> str:
        seen: list[str] = []

        class Collect(xml.sax.handler.ContentHandler):
            def characters(self, content: str) -> None:
                seen.append(content)

        parser = xml.sax.make_parser()
        parser.setFeature(xml.sax.handler.feature_external_ges, True)
        parser.setContentHandler(Collect())
        with contextlib.suppress(xml.sax.SAXException, OSError):
            parser.parse(io.BytesIO(data))
        return "".join(seen)

    leaked = permissive_parse(body)
    assert "TOP-SECRET" in leaked and server.hits  # the fixture really is hostile
    server.hits.clear()
    safe = permissive_parse(neutralize_doctype(body))
    assert "TOP-SECRET" not in safe and server.hits == []
