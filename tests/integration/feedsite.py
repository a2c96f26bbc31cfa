"""A small news site on the loopback server: an RSS feed whose entries link to fixture pages."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from tests.integration.loopback import LocalServer, static

PAGES = sorted((Path(__file__).resolve().parents[1] / "fixtures" / "analyst").glob("*.html"))


@dataclass(frozen=True)
class Entry:
    """One feed item: its GUID, the path it links to on the server, and the feed's own words."""

    guid: str | None
    path: str
    title: str
    summary: str


def rss(server: LocalServer, entries: list[Entry]) -> bytes:
    """An RSS 2.0 document for the entries, links absolute on the server."""
    items = []
    for e in entries:
        guid = f'<guid isPermaLink="false">{escape(e.guid)}</guid>' if e.guid else ""
        items.append(
            f"<item><title>{escape(e.title)}</title><link>{escape(server.url(e.path))}</link>"
            f"{guid}<pubDate>Tue, 14 Oct 2026 10:15:00 GMT</pubDate>"
            f"<description>{escape(e.summary)}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        "<title>Loopback Trade Wire</title><link>http://127.0.0.1/</link>"
        f"<description>test</description>{''.join(items)}</channel></rss>"
    ).encode()


def page_entries(count: int, start: int = 0) -> list[Entry]:
    """Entries for the analyst fixture pages, served at /news/<n>.html."""
    return [
        Entry(
            guid=f"urn:loopback:{i}",
            path=f"/news/{i}.html",
            title=f"Feed title {i}",
            summary=f"Feed summary for story {i} about US and China trade policy and tariffs.",
        )
        for i in range(start, start + count)
    ]


def serve_pages(server: LocalServer, entries: list[Entry]) -> None:
    """Route each entry's path to a fixture page (cycling through them)."""
    for i, entry in enumerate(entries):
        page = PAGES[i % len(PAGES)].read_bytes()
        server.routes[entry.path.split("?")[0]] = static(
            page, headers={"Content-Type": "text/html; charset=utf-8"}
        )


def serve_feed(
    server: LocalServer, entries: list[Entry], path: str = "/feed.xml", etag: str | None = None
) -> None:
    """Route the feed; with an ETag it answers 304 to a matching If-None-Match, like a real server."""
    body = rss(server, entries)
    headers = {"Content-Type": "application/rss+xml"}
    if etag:
        headers["ETag"] = etag

    def handler(h):  # type: ignore[no-untyped-def]
        from tests.integration.loopback import send

        if etag and h.headers.get("If-None-Match") == etag:
            send(h, 304, b"", {"ETag": etag})
        else:
            send(h, 200, body, headers)

    server.routes[path] = handler


def write_site_registry(path: Path, feed_url: str, folder: Path) -> Path:
    """A sources.toml naming the loopback feed and a seeds folder, as the DAG tests use."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'[[source]]\nname = "loopback-wire"\nkind = "feed"\nurl = "{feed_url}"\n'
        f'poll_interval_minutes = 30\n\n[[source]]\nname = "local"\nkind = "folder"\n'
        f'path = "{folder}"\n',
        encoding="utf-8",
    )
    return path
