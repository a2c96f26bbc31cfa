"""Live feeds end to end: `tradewire run --source URL` against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ingest.cli import main
from tests.integration.feedsite import Entry, page_entries, rss, serve_feed, serve_pages
from tests.integration.loopback import LocalServer, send, static
from transforms.database import connect

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

TERMINAL = {"landed", "duplicate", "failed", "skipped"}


@pytest.fixture(autouse=True)
def live_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fetch state and raw pages in tmp_path, a short politeness interval, the default registry."""
    monkeypatch.setenv("TRADEWIRE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("TRADEWIRE_RAW_DIR", str(tmp_path / "raw"))
    monkeypatch.setenv("TRADEWIRE_FETCH_MIN_INTERVAL", "0.01")
    monkeypatch.setenv("TRADEWIRE_SNAPSHOT", "false")


def run(server: LocalServer, db_path: Path, path: str = "/feed.xml") -> int:
    return main(
        [
            "run",
            "--source",
            server.url(path),
            "--allow-host",
            "127.0.0.1",
            "--db",
            str(db_path),
            "--workers",
            "1",
        ]
    )


def query(db_path: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with connect(db_path) as con:
        return con.execute(sql, params or []).fetchall()


def assert_one_terminal_state_each(db_path: Path) -> None:
    rows = query(
        db_path,
        "SELECT run_id, source, entry_key, count(*), list(state) FROM discovered_urls GROUP BY ALL",
    )
    assert rows, "something was discovered"
    for *_key, count, states in rows:
        assert count == 1 and set(states) <= TERMINAL
    # Every new entry's URL either landed an article, or says why not.
    assert not query(
        db_path,
        "SELECT * FROM discovered_urls WHERE state <> 'landed' AND reason IS NULL",
    )


def test_feed_lands_each_entry_once_then_a_second_run_gets_a_304(
    server: LocalServer, db_path: Path
) -> None:
    entries = page_entries(3)
    serve_pages(server, entries)
    serve_feed(server, entries, etag='"v1"')

    assert run(server, db_path) == 0
    articles = query(
        db_path,
        "SELECT a.title, a.source, a.is_summary_only, a.location, e.guid, e.title, "
        "e.published_at IS NOT NULL FROM articles a JOIN feed_entries e USING (article_id) "
        "ORDER BY e.guid",
    )
    assert [(a[0], a[1], a[2], a[4]) for a in articles] == [
        (
            "China tightens rare earth export curbs on gallium and germanium",
            server.url("/feed.xml"),
            False,
            "urn:loopback:0",
        ),
        (
            "US adds Chinese chipmakers to the Entity List",
            server.url("/feed.xml"),
            False,
            "urn:loopback:1",
        ),
        (
            "Washington raises tariffs on Chinese steel and electric vehicles",
            server.url("/feed.xml"),
            False,
            "urn:loopback:2",
        ),
    ]
    # Pages are stored content-addressed and gzip'd; feed metadata is kept beside the article.
    assert all(a[3].endswith(".html.gz") and "/raw/" in a[3] for a in articles)
    assert all(a[5].startswith("Feed title") and a[6] for a in articles)
    (source,) = query(
        db_path,
        "SELECT kind, etag, body_hash IS NOT NULL, validators_trusted, last_status, "
        "consecutive_failures, last_new_entries, next_due_at > last_polled_at FROM sources",
    )
    assert source == ("feed", '"v1"', True, True, "ok", 0, 3, True)

    assert run(server, db_path) == 0
    assert query(db_path, "SELECT count(*) FROM articles") == [(3,)]
    assert server.hits_for("/feed.xml")[-1].headers.get("If-None-Match") == '"v1"'
    statuses = query(
        db_path,
        "SELECT f.status FROM fetch_log f JOIN ingest_runs r USING (run_id) "
        "WHERE f.url = ? ORDER BY r.started_at",
        [server.url("/feed.xml")],
    )
    assert statuses == [(200,), (304,)]
    assert query(db_path, "SELECT last_status, last_new_entries FROM sources") == [
        ("not_modified", 0)
    ]
    last_run = query(db_path, "SELECT new FROM ingest_runs ORDER BY started_at DESC LIMIT 1")
    assert last_run == [(0,)]
    assert_one_terminal_state_each(db_path)


def test_lying_etag_marks_validators_untrusted_and_new_entries_still_land(
    server: LocalServer, db_path: Path
) -> None:
    first = page_entries(2)
    serve_pages(server, page_entries(4))
    # This server ignores If-None-Match and keeps one ETag while its content changes.
    server.routes["/feed.xml"] = static(rss(server, first), headers={"ETag": '"same"'})
    assert run(server, db_path) == 0
    server.routes["/feed.xml"] = static(rss(server, page_entries(4)), headers={"ETag": '"same"'})
    assert run(server, db_path) == 0

    assert query(db_path, "SELECT count(*) FROM articles") == [(4,)]
    assert query(db_path, "SELECT validators_trusted, last_new_entries FROM sources") == [
        (False, 2)
    ]
    assert run(server, db_path) == 0
    # Once untrusted, validators are not sent: the body hash decides instead.
    assert "If-None-Match" not in server.hits_for("/feed.xml")[-1].headers
    assert query(db_path, "SELECT last_status FROM sources") == [("unchanged",)]
    assert query(db_path, "SELECT count(*) FROM articles") == [(4,)]


def test_page_404_lands_summary_only_and_robots_refusal_is_skipped(
    server: LocalServer, db_path: Path
) -> None:
    entries = [
        *page_entries(1),
        Entry(
            "urn:loopback:gone", "/news/gone.html", "Gone story", "Tariff summary that survives."
        ),
        Entry("urn:loopback:private", "/private/p.html", "Private story", "Robots say no."),
    ]
    serve_pages(server, entries[:1])
    server.routes["/private/p.html"] = static(b"<html><body>secret</body></html>")
    server.routes["/robots.txt"] = static(b"User-agent: *\nDisallow: /private/\n")
    serve_feed(server, entries)

    assert run(server, db_path) == 0
    rows = query(
        db_path,
        "SELECT d.state, d.reason, a.title, a.text, a.is_summary_only FROM discovered_urls d "
        "LEFT JOIN articles a USING (article_id) ORDER BY d.entry_key",
    )
    by_title = {r[2]: r for r in rows}
    assert by_title["Gone story"][:1] == ("failed",)
    assert "HTTP 404" in by_title["Gone story"][1]
    assert by_title["Gone story"][3:] == ("Tariff summary that survives.", True)
    assert by_title["Private story"][0] == "skipped"
    assert by_title["Private story"][1].startswith("robots_disallowed")
    assert not server.hits_for("/private/p.html"), "robots.txt was obeyed"
    assert query(
        db_path, "SELECT count(*) FROM fetch_log WHERE status = 404 AND url LIKE '%gone.html'"
    ) == [(1,)]
    assert query(db_path, "SELECT count(*) FROM ingest_errors") == [(0,)]
    assert_one_terminal_state_each(db_path)


def test_two_entries_with_one_canonical_link_make_one_article(
    server: LocalServer, db_path: Path
) -> None:
    entries = [
        Entry("urn:a", "/news/0.html", "Story A", "First link."),
        Entry("urn:b", "/news/0.html?utm_source=rss&utm_medium=feed", "Story A again", "Again."),
    ]
    serve_pages(server, entries[:1])
    serve_feed(server, entries)
    assert run(server, db_path) == 0
    assert query(db_path, "SELECT count(*) FROM articles") == [(1,)]
    assert query(db_path, "SELECT state FROM discovered_urls ORDER BY entry_key") == [
        ("landed",),
        ("duplicate",),
    ]
    assert len(server.hits_for("/news/0.html")) == 1
    assert_one_terminal_state_each(db_path)
    # Both entries are remembered, so the next poll discovers nothing.
    server.routes["/feed.xml"] = static(rss(server, entries) + b" ")
    assert run(server, db_path) == 0
    assert query(db_path, "SELECT count(*) FROM discovered_urls") == [(2,)]


def test_failing_feed_backs_off(server: LocalServer, db_path: Path) -> None:
    server.routes["/feed.xml"] = lambda h: send(h, 410, b"gone")
    due = []
    for attempt in range(1, 4):
        assert run(server, db_path) == 1  # the feed asked for failed: said, and exit status 1
        ((failures, status, error, minutes),) = query(
            db_path,
            "SELECT consecutive_failures, last_http_status, last_error, "
            "epoch(next_due_at - last_polled_at) / 60 FROM sources",
        )
        assert (failures, status) == (attempt, 410) and error.startswith("http_error")
        due.append(minutes)
    assert due[0] < due[1] < due[2], due  # 60 -> 120 -> 240 minutes
    assert query(db_path, "SELECT count(*) FROM fetch_log WHERE status = 410") == [(3,)]


def test_sources_schema_lets_the_analyst_views_apply(server: LocalServer, db_path: Path) -> None:
    entries = page_entries(1)
    serve_pages(server, entries)
    serve_feed(server, entries)
    assert run(server, db_path) == 0
    names = {r[0] for r in query(db_path, "SELECT name FROM schema_migrations")}
    assert {"0002_sources", "0007_analyst_sources"} <= names
    health = query(
        db_path,
        "SELECT kind, fetches_7d, articles FROM source_health WHERE source = ?",
        [server.url("/feed.xml")],
    )
    assert health[0][0] == "feed" and health[0][1] >= 2 and health[0][2] == 1
