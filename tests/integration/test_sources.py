"""`tradewire sources` and sitemap sources against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from ingest.cli import main
from tests.integration.feedsite import page_entries, serve_feed, serve_pages
from tests.integration.loopback import LocalServer, static
from tests.integration.sitemapsite import XML, serve_sitemap, sitemap_index, urlset
from transforms.database import connect

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

REGISTRY = """# my registry: this comment must survive every edit
[[source]]
name = "seeds"  # the bundled folder
kind = "folder"
path = "seeds"
"""
HTML = {"Content-Type": "text/html; charset=utf-8"}


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A registry file in tmp_path, fetch state there too, a short politeness interval."""
    path = tmp_path / "seeds" / "sources.toml"
    path.parent.mkdir()
    path.write_text(REGISTRY, encoding="utf-8")
    monkeypatch.setenv("TRADEWIRE_SOURCES_FILE", str(path))
    monkeypatch.setenv("TRADEWIRE_STARTER_SOURCES_FILE", str(tmp_path / "no-starter.toml"))
    monkeypatch.setenv("TRADEWIRE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("TRADEWIRE_RAW_DIR", str(tmp_path / "raw"))
    monkeypatch.setenv("TRADEWIRE_FETCH_MIN_INTERVAL", "0.01")
    monkeypatch.setenv("TRADEWIRE_SNAPSHOT", "false")
    return path


def sources_in(path: Path) -> list[dict[str, Any]]:
    return list(tomllib.loads(path.read_text(encoding="utf-8"))["source"])


def add(server: LocalServer, path: str, *extra: str) -> int:
    return main(["sources", "add", server.url(path), "--allow-host", "127.0.0.1", *extra])


def query(db_path: Path, sql: str) -> list[tuple[Any, ...]]:
    with connect(db_path) as con:
        return con.execute(sql).fetchall()


def test_add_finds_a_link_alternate_feed_and_keeps_comments(
    server: LocalServer, registry: Path
) -> None:
    entries = page_entries(2)
    serve_feed(server, entries, path="/news/rss.xml")
    server.routes["/"] = static(
        b'<html><head><title>Wire</title><link rel="alternate" type="application/rss+xml" '
        b'href="/news/rss.xml"></head><body><p>home</p></body></html>',
        headers=HTML,
    )
    assert add(server, "/", "--name", "wire", "--language", "en") == 0
    text = registry.read_text(encoding="utf-8")
    assert "# my registry: this comment must survive every edit" in text
    assert 'name = "seeds"  # the bundled folder' in text
    added = sources_in(registry)[-1]
    assert added == {
        "name": "wire",
        "kind": "feed",
        "url": server.url("/news/rss.xml"),
        "language": "en",
        "allowed_hosts": ["127.0.0.1"],
    }


def test_add_falls_back_to_the_robots_txt_sitemap(server: LocalServer, registry: Path) -> None:
    entries = page_entries(3)
    server.routes["/"] = static(b"<html><body><p>no feeds here</p></body></html>", headers=HTML)
    server.routes["/robots.txt"] = static(
        f"User-agent: *\nAllow: /\nSitemap: {server.url('/maps/index.xml')}\n".encode(),
        headers={"Content-Type": "text/plain"},
    )
    server.routes["/maps/index.xml"] = static(sitemap_index(server, ["/maps/a.xml"]), headers=XML)
    serve_sitemap(server, entries, "/maps/a.xml")
    assert add(server, "/") == 0
    added = sources_in(registry)[-1]
    assert (added["kind"], added["url"], added["name"]) == (
        "sitemap",
        server.url("/maps/index.xml"),
        "127.0.0.1",
    )


def test_add_prefers_the_news_sitemap(server: LocalServer, registry: Path) -> None:
    entries = page_entries(3)
    server.routes["/"] = static(b"<html><body><p>no feeds</p></body></html>", headers=HTML)
    server.routes["/robots.txt"] = static(
        f"User-agent: *\nSitemap: {server.url('/sitemap.xml')}\n"
        f"Sitemap: {server.url('/news.xml')}\n".encode()
    )
    serve_sitemap(server, entries, "/sitemap.xml")
    serve_sitemap(server, entries, "/news.xml", news=True)
    assert add(server, "/", "--name", "news") == 0
    added = sources_in(registry)[-1]
    assert (added["kind"], added["url"]) == ("news-sitemap", server.url("/news.xml"))


def test_add_of_a_feed_url_adds_it_as_is(server: LocalServer, registry: Path) -> None:
    serve_feed(server, page_entries(1))
    assert add(server, "/feed.xml", "--name", "direct", "--poll-minutes", "15") == 0
    added = sources_in(registry)[-1]
    assert (added["kind"], added["poll_interval_minutes"]) == ("feed", 15)
    # only the feed itself (and robots.txt) was asked for: no discovery on a feed URL
    assert {h.path for h in server.hits} == {"/feed.xml", "/robots.txt"}


def test_check_writes_nothing(
    server: LocalServer, registry: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entries = page_entries(3)
    serve_pages(server, entries)
    serve_feed(server, entries)
    before = registry.read_text(encoding="utf-8")
    db = tmp_path / "check.duckdb"
    code = main(
        ["sources", "check", server.url("/feed.xml"), "--allow-host", "127.0.0.1", "--db", str(db)]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "3 entries, 3 new, 3 would land" in out and "Feed title 0" in out
    assert not db.exists() and not (tmp_path / "raw").exists()
    assert registry.read_text(encoding="utf-8") == before
    assert not [h for h in server.hits if h.path.startswith("/news/")]  # no page fetched


def sitemap_registry(registry: Path, server: LocalServer, kind: str, path: str, cap: int) -> None:
    registry.write_text(
        REGISTRY
        + f'\n[[source]]\nname = "maps"\nkind = "{kind}"\nurl = "{server.url(path)}"\n'
        + f'max_new_per_poll = {cap}\nlanguage = "en"\n',
        encoding="utf-8",
    )


def run_source(db: Path, name: str = "maps") -> int:
    return main(
        ["run", "--source", name, "--allow-host", "127.0.0.1", "--db", str(db), "--workers", "1"]
    )


def test_sitemap_source_lands_once_and_a_rerun_adds_nothing(
    server: LocalServer, registry: Path, db_path: Path
) -> None:
    entries = page_entries(3)
    serve_pages(server, entries)
    server.routes["/index.xml"] = static(sitemap_index(server, ["/a.xml"]), headers=XML)
    serve_sitemap(server, entries, "/a.xml")
    sitemap_registry(registry, server, "sitemap", "/index.xml", 100)
    assert run_source(db_path) == 0
    first = query(db_path, "SELECT article_id, source FROM articles ORDER BY 1")
    assert len(first) == 3 and {r[1] for r in first} == {"maps"}
    # The registry's language is the detection prior, and provenance says it agreed.
    rules = query(
        db_path, "SELECT DISTINCT json_extract_string(provenance, '$.language') FROM articles"
    )
    assert rules == [("detected:py3langid+source:en",)]
    page_hits = len([h for h in server.hits if h.path.startswith("/news/")])
    assert run_source(db_path) == 0
    assert query(db_path, "SELECT article_id, source FROM articles ORDER BY 1") == first
    assert len([h for h in server.hits if h.path.startswith("/news/")]) == page_hits
    assert len(server.hits_for("/a.xml")) == 1  # unchanged since the last poll: not read again


def test_check_of_a_news_sitemap_source(
    server: LocalServer, registry: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entries = page_entries(4)
    server.routes["/news.xml"] = static(urlset(server, entries, news=True), headers=XML)
    sitemap_registry(registry, server, "news-sitemap", "/news.xml", 3)
    db = tmp_path / "check.duckdb"
    assert main(["sources", "check", "maps", "--allow-host", "127.0.0.1", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "4 entries, 4 new, 3 would land" in out and "Feed title 3" in out
    assert not db.exists()


def test_news_sitemap_titles_and_the_per_poll_cap(
    server: LocalServer, registry: Path, db_path: Path
) -> None:
    entries = page_entries(5)
    serve_pages(server, entries)
    server.routes["/news.xml"] = static(urlset(server, entries, news=True), headers=XML)
    sitemap_registry(registry, server, "news-sitemap", "/news.xml", 2)
    assert run_source(db_path) == 0
    assert query(db_path, "SELECT count(*) FROM articles")[0][0] == 2
    kinds = query(db_path, "SELECT kind, last_new_entries FROM sources WHERE name = 'maps'")
    assert kinds == [("news-sitemap", 2)]
    # The rest comes on later polls, two at a time, newest first.
    ((first_two,),) = query(db_path, "SELECT list(title ORDER BY title) FROM feed_entries")
    assert sorted(first_two) == ["Feed title 3", "Feed title 4"]


def test_feed_cap_holds_and_the_rest_comes_next_poll(
    server: LocalServer, registry: Path, db_path: Path
) -> None:
    entries = page_entries(5)
    serve_pages(server, entries)
    serve_feed(server, entries)
    registry.write_text(
        REGISTRY
        + f'\n[[source]]\nname = "wire"\nkind = "feed"\nurl = "{server.url("/feed.xml")}"\n'
        + "max_new_per_poll = 3\n",
        encoding="utf-8",
    )
    assert run_source(db_path, "wire") == 0
    assert query(db_path, "SELECT count(*) FROM articles")[0][0] == 3
    assert run_source(db_path, "wire") == 0  # `run --source` polls now, due or not
    assert query(db_path, "SELECT count(*) FROM articles")[0][0] == 5


def test_list_remove_disable_enable(
    server: LocalServer, registry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    serve_feed(server, page_entries(1))
    assert add(server, "/feed.xml", "--name", "wire") == 0
    assert main(["sources", "disable", "wire"]) == 0
    assert sources_in(registry)[-1]["enabled"] is False
    assert main(["sources", "enable", "wire"]) == 0
    assert sources_in(registry)[-1]["enabled"] is True
    capsys.readouterr()
    assert main(["sources", "list", "--db", str(registry.parent / "none.duckdb")]) == 0
    out = capsys.readouterr().out
    assert "wire" in out and "feed" in out and "enabled" in out
    assert main(["sources", "remove", "wire"]) == 0
    assert registry.read_text(encoding="utf-8") == REGISTRY
    assert main(["sources", "remove", "wire"]) == 2


def test_summary_only_entry_is_upgraded_in_place_when_its_page_comes_back(
    server: LocalServer, registry: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADEWIRE_PAGE_RETRY_MINUTES", "0")
    entries = page_entries(2)
    serve_pages(server, entries)
    serve_feed(server, entries)
    down, gone = entries[0].path, entries[1].path
    page = server.routes[down]
    server.routes[down] = static(b"busy", status=503)
    server.routes[gone] = static(b"gone", status=404)
    registry.write_text(
        REGISTRY
        + f'\n[[source]]\nname = "wire"\nkind = "feed"\nurl = "{server.url("/feed.xml")}"\n',
        encoding="utf-8",
    )
    assert run_source(db_path, "wire") == 0
    before = query(db_path, "SELECT article_id, is_summary_only FROM articles ORDER BY url")
    assert [r[1] for r in before] == [True, True]
    gone_hits = len(server.hits_for(gone))

    server.routes[down] = page  # the server is back; the 404 stays gone
    assert run_source(db_path, "wire") == 0
    after = query(
        db_path,
        "SELECT article_id, is_summary_only, json_extract_string(provenance, '$.text') "
        "FROM articles ORDER BY url",
    )
    assert [r[0] for r in after] == [r[0] for r in before]  # same article_id: upgraded in place
    upgraded, summary = after
    assert upgraded[1] is False and upgraded[2] != "feed-summary"
    assert summary[1] is True and summary[2] == "feed-summary"
    states = query(
        db_path,
        "SELECT list(state ORDER BY decided_at) FROM discovered_urls GROUP BY entry_key "
        "ORDER BY entry_key",
    )
    assert states == [(["failed", "landed"],), (["failed"],)]
    assert len(server.hits_for(gone)) == gone_hits  # a 404 is not asked again


def test_add_tries_common_feed_paths_and_says_when_nothing_is_found(
    server: LocalServer, registry: Path
) -> None:
    server.routes["/"] = static(b"<html><body><p>plain</p></body></html>", headers=HTML)
    assert add(server, "/") == 2  # nothing anywhere: a one-line error, the file untouched
    assert registry.read_text(encoding="utf-8") == REGISTRY
    serve_feed(server, page_entries(1), path="/rss.xml")
    assert add(server, "/", "--name", "common") == 0
    assert sources_in(registry)[-1]["url"] == server.url("/rss.xml")
