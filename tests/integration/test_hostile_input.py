"""Issue 14: nothing crashes a run, exhausts memory, hangs or vanishes.

One test (or a few) per item of the issue, each reproducing it over a real loopback HTTP
server or with real files in a temporary folder. Memory and time figures are the sweep's
business (bench/sweep_hostile.py); these tests check behaviour only.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from bench.hostile_inputs import (
    HTML,
    PAGE,
    REPO,
    big_text,
    drop_privileges_prefix,
    gzip_bomb,
    held_route,
    item,
    json_feed_with_surrogate,
    quadratic_entity_feed,
    rss,
    tradewire,
    trickle_body,
    trickle_headers,
    write_bad_name,
    xml_feed_with_surrogate_reference,
)
from ingest.cli import main
from ingest.feeds import MAX_ENTITY_EXPANSION, parse_feed
from ingest.fetch import Fetcher
from tests.integration.feedsite import page_entries, serve_feed, serve_pages
from tests.integration.loopback import LocalServer, static
from transforms.database import connect

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


@pytest.fixture(autouse=True)
def hostile_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Private state, raw and staging folders; quick politeness; no snapshot unless asked."""
    monkeypatch.setenv("TRADEWIRE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("TRADEWIRE_RAW_DIR", str(tmp_path / "raw"))
    monkeypatch.setenv("TRADEWIRE_STAGING_ROOT", str(tmp_path / "staging"))
    monkeypatch.setenv("TRADEWIRE_FETCH_MIN_INTERVAL", "0.01")
    monkeypatch.setenv("TRADEWIRE_SNAPSHOT", "false")


def run(db_path: Path, *sources: str, workers: int = 1) -> int:
    argv = ["run", "--db", str(db_path), "--workers", str(workers), "--allow-host", "127.0.0.1"]
    for source in sources:
        argv += ["--source", source]
    return main(argv)


def query(db_path: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with connect(db_path) as con:
        return con.execute(sql, params or []).fetchall()


def one(db_path: Path, sql: str, params: list[Any] | None = None) -> Any:
    (row,) = query(db_path, sql, params)
    return row[0] if len(row) == 1 else row


# 1. One bad string crashes the whole run -------------------------------------------------


def test_json_feed_with_a_lone_surrogate_lands_and_keeps_the_source_state(
    server: LocalServer, db_path: Path
) -> None:
    server.routes["/story.html"] = static(PAGE, headers=HTML)
    feed = json_feed_with_surrogate(server.url("/story.html"))
    server.routes["/feed.json"] = static(feed, headers={"Content-Type": "application/feed+json"})
    assert run(db_path, server.url("/feed.json")) == 0
    assert one(db_path, "SELECT count(*) FROM articles") == 1
    assert one(db_path, "SELECT title FROM feed_entries") == "Rare earth curbs \ufffd widen"
    assert one(db_path, "SELECT last_status FROM sources") == "ok"
    assert one(db_path, "SELECT count(*) FROM fetch_log") >= 2
    assert one(db_path, "SELECT status, new FROM ingest_runs") == ("finished", 1)


def test_xml_feed_with_a_surrogate_character_reference_keeps_every_entry(
    server: LocalServer, db_path: Path
) -> None:
    for path in ("/a.html", "/b.html"):
        server.routes[path] = static(PAGE.replace(b"gallium", path.encode()), headers=HTML)
    body = xml_feed_with_surrogate_reference(server.url("/a.html"), server.url("/b.html"))
    server.routes["/feed.xml"] = static(body, headers={"Content-Type": "application/rss+xml"})
    assert run(db_path, server.url("/feed.xml")) == 0
    titles = [r[0] for r in query(db_path, "SELECT title FROM feed_entries ORDER BY guid")]
    assert titles == ["Export curbs \ufffd widen", "Tariff truce holds"]
    assert one(db_path, "SELECT count(*) FROM articles") == 2


def test_file_name_that_is_not_utf8_is_an_error_row_beside_the_good_file(
    tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "ok.html").write_bytes(PAGE)
    write_bad_name(folder)
    assert run(db_path, str(folder)) == 0
    assert "seen 2, new 1," in capsys.readouterr().out
    location, error = one(db_path, "SELECT location, error FROM ingest_errors")
    assert location == str(folder / "bad-\\xff.html")
    assert error.startswith("bad_file_name:")
    # Recorded once: the next run skips it as unchanged.
    assert run(db_path, str(folder)) == 0
    assert "new 0, updated 0, unchanged 2, failed 0" in capsys.readouterr().out
    assert one(db_path, "SELECT count(*) FROM ingest_errors") == 1


def test_an_unstorable_string_costs_its_article_not_the_batch(db_path: Path) -> None:
    from transforms.load import land_batches
    from transforms.records import Article, TaggedArticle, TagResult

    def tagged(article_id: str, title: str) -> TaggedArticle:
        article = Article(
            article_id=article_id,
            source="/in",
            location=f"/in/{article_id}.html",
            url=None,
            title=title,
            text="Tariffs on rare earths.",
            author=None,
            published_at=None,
            language="en",
            word_count=4,
            content_hash=article_id,
            raw_hash=article_id,
        )
        return TaggedArticle(article, TagResult(False, 0.0, (), (), (), "t1"))

    counts = land_batches(db_path, [[tagged("good", "Fine"), tagged("bad", "Bad \udcff")]], "r1")
    assert (counts.new, counts.failed) == (1, 1)
    assert one(db_path, "SELECT error FROM ingest_errors").startswith("unstorable_text: title")


# 2. Quadratic entity expansion -------------------------------------------------------------


def test_quadratic_entity_expansion_is_refused_with_its_reason(
    server: LocalServer, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = quadratic_entity_feed()
    assert len(body) < 50_000  # under 50 kB that would expand to 20 million characters
    parsed = parse_feed(body, "http://127.0.0.1/feed.xml", "application/rss+xml")
    assert parsed.entries == () and parsed.error and "EntityExpansionError" in parsed.error
    server.routes["/quad.xml"] = static(body, headers={"Content-Type": "application/rss+xml"})
    assert run(db_path, server.url("/quad.xml")) == 1
    assert "expand to more than" in capsys.readouterr().err
    assert one(db_path, "SELECT count(*) FROM articles") == 0
    status, error = one(db_path, "SELECT last_status, last_error FROM sources")
    assert status == "failed" and f"{MAX_ENTITY_EXPANSION:,}" in error


def test_a_few_small_entities_still_expand(server: LocalServer) -> None:
    body = rss(
        [item("Curbs &co; widen", "http://127.0.0.1/a", "e-1")],
        '<!DOCTYPE rss [<!ENTITY co "and controls">]>',
    )
    parsed = parse_feed(body, "http://127.0.0.1/feed.xml", "application/rss+xml")
    assert [e.title for e in parsed.entries] == ["Curbs and controls widen"]


# 3. The total timeout is a hard limit --------------------------------------------------------


def test_trickled_headers_end_at_the_total_timeout_without_a_retry(
    server: LocalServer, make_fetcher: Any
) -> None:
    server.routes["/slow"] = trickle_headers
    fetcher: Fetcher = make_fetcher()  # TEST_POLICY: total 1 s, reads 0.5 s, 3 attempts
    result = fetcher.fetch(server.url("/slow"))
    assert result.error_class == "timeout"
    assert result.error == "total time exceeded 1s"
    # Before: every header byte restarted the 0.5 s read timeout, and timeouts were retried.
    assert [a.url for a in result.attempts if a.url.endswith("/slow")] == [server.url("/slow")]


def test_trickled_body_ends_at_the_total_timeout_without_a_retry(
    server: LocalServer, make_fetcher: Any
) -> None:
    server.routes["/slow-body"] = trickle_body
    result = make_fetcher().fetch(server.url("/slow-body"))
    assert (result.error_class, result.error) == ("timeout", "total time exceeded 1s")
    assert len([a for a in result.attempts if a.url.endswith("/slow-body")]) == 1


# 4. Local .html.gz decompressed without a cap -------------------------------------------------


def test_gzip_bomb_on_disk_is_an_error_row(
    tmp_path: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADEWIRE_MAX_DOCUMENT_BYTES", str(1024 * 1024))
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "bomb.html.gz").write_bytes(gzip_bomb(64 * 1024 * 1024))  # 64 KB -> 64 MB
    (folder / "fine.html.gz").write_bytes(gzip.compress(PAGE))
    assert run(db_path, str(folder)) == 0
    assert one(db_path, "SELECT count(*) FROM articles") == 1
    error = one(db_path, "SELECT error FROM ingest_errors")
    assert error.startswith("decompression_bomb:") and "1,048,576-byte" in error
    assert run(db_path, str(folder)) == 0
    assert one(db_path, "SELECT count(*) FROM ingest_errors") == 1


# 5. No size limit for local documents ----------------------------------------------------------


def test_oversized_local_document_is_an_error_row_naming_the_limit(
    tmp_path: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADEWIRE_MAX_DOCUMENT_BYTES", "100000")
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "huge.txt").write_bytes(big_text(250_000))
    (folder / "ok.html").write_bytes(PAGE)
    assert run(db_path, str(folder)) == 0
    error = one(db_path, "SELECT error FROM ingest_errors")
    assert error == (
        "too_large: 250,000 bytes exceed the 100,000-byte document limit "
        "(TRADEWIRE_MAX_DOCUMENT_BYTES)"
    )
    assert one(db_path, "SELECT count(*) FROM articles") == 1
    assert run(db_path, str(folder)) == 0
    assert one(db_path, "SELECT count(*) FROM ingest_errors") == 1


# 6. A killed or failed post-load refresh is redone ---------------------------------------------


def test_refresh_killed_after_the_landing_is_redone_by_the_next_run(
    seed_folder: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transforms import derived
    from transforms.snapshot import snapshot_path_for

    monkeypatch.setenv("TRADEWIRE_SNAPSHOT", "true")
    original = derived.refresh_search

    def killed(*args: Any, **kwargs: Any) -> int:
        raise KeyboardInterrupt  # Ctrl-C (or a kill) during the search-index rebuild

    monkeypatch.setattr(derived, "refresh_search", killed)
    with pytest.raises(KeyboardInterrupt):
        run(db_path, str(seed_folder))
    assert one(db_path, "SELECT count(*) FROM articles") == 1
    assert not snapshot_path_for(db_path).exists()
    monkeypatch.setattr(derived, "refresh_search", original)
    # Nothing new to land; the refresh is behind, so the next run does it.
    assert run(db_path, str(seed_folder)) == 0
    assert one(db_path, "SELECT count(*) FROM topic_daily_counts") > 0
    assert one(db_path, "SELECT count(*) FROM search_docs") == 1
    assert snapshot_path_for(db_path).exists()
    # And once current, later runs leave them alone.
    stamp = one(db_path, "SELECT refreshed_at FROM derived_state WHERE name = 'search_index'")
    assert run(db_path, str(seed_folder)) == 0
    assert (
        one(db_path, "SELECT refreshed_at FROM derived_state WHERE name = 'search_index'") == stamp
    )


# 7. Broken feeds look healthy -----------------------------------------------------------------


def health(db_path: Path, source: str) -> dict[str, Any]:
    with connect(db_path) as con:
        cursor = con.execute("SELECT * FROM source_health WHERE source = ?", [source])
        columns = [d[0] for d in cursor.description or []]
        (row,) = cursor.fetchall()
    return dict(zip(columns, row, strict=True))


def test_feed_that_answers_200_but_cannot_be_parsed_is_failing(
    server: LocalServer, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.routes["/junk.xml"] = static(b"<html><p>not a feed</p></html>", headers=HTML)
    assert run(db_path, server.url("/junk.xml")) == 1
    err = capsys.readouterr().err
    assert f"source {server.url('/junk.xml')} failed: feed_error:" in err
    row = health(db_path, server.url("/junk.xml"))
    assert row["status"] == "failing" and row["last_error"].startswith("feed_error:")
    assert row["last_failure_at"] > row["last_success_at"]  # the 200 is not the last word
    assert one(db_path, "SELECT failed_sources FROM ingest_runs") == 1


def test_feed_robots_forbids_is_failing(server: LocalServer, db_path: Path) -> None:
    server.routes["/robots.txt"] = static(b"User-agent: *\nDisallow: /\n")
    server.routes["/feed.xml"] = static(rss([]), headers={"Content-Type": "application/rss+xml"})
    assert run(db_path, server.url("/feed.xml")) == 1
    row = health(db_path, server.url("/feed.xml"))
    assert (row["status"], row["last_error"]) == (
        "failing",
        "robots_disallowed: disallowed by robots.txt",
    )


def test_unreachable_feed_exits_non_zero_and_says_why(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/rss"
    assert run(db_path, url) == 1
    out, err = capsys.readouterr()
    assert "seen 0," in out and "1 of the sources failed" in out
    assert f"tradewire run: source {url} failed: connection_error" in err


def test_healthy_feed_is_ok(server: LocalServer, db_path: Path) -> None:
    entries = page_entries(1)
    serve_pages(server, entries)
    serve_feed(server, entries)
    assert run(db_path, server.url("/feed.xml")) == 0
    row = health(db_path, server.url("/feed.xml"))
    assert (row["status"], row["last_error"], row["consecutive_failures"]) == ("ok", None, 0)


# 8. Entries vanish without a trace -------------------------------------------------------------


def test_entry_without_guid_or_link_lands_summary_only(
    server: LocalServer, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = rss(
        [
            item("Soybean purchases resume", None, None, "China booked US soybean cargoes."),
            item("", None, None, ""),  # says nothing at all
        ]
    )
    server.routes["/feed.xml"] = static(body, headers={"Content-Type": "application/rss+xml"})
    assert run(db_path, server.url("/feed.xml")) == 0
    assert "seen 2, new 1," in capsys.readouterr().out
    title, summary_only, location = one(
        db_path, "SELECT title, is_summary_only, location FROM articles"
    )
    assert (title, summary_only) == ("Soybean purchases resume", True)
    assert location.startswith("urn:tradewire:feed-entry:")
    states = query(db_path, "SELECT state, reason FROM discovered_urls ORDER BY entry_key")
    assert [s for s, _ in states] == ["skipped", "skipped"]
    assert all(reason for _, reason in states)  # each names why
    assert {r.split(":")[0] for _, r in states} == {"no_link", "empty_entry"}
    # Taken on once: the next poll finds nothing new.
    assert run(db_path, server.url("/feed.xml")) == 0
    assert one(db_path, "SELECT count(*) FROM articles") == 1


# 9. Unreadable documents are re-recorded every run ---------------------------------------------


def test_documents_that_cannot_be_read_are_recorded_once(
    tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "fake.html.gz").write_bytes(b"<html>not gzip at all</html>")
    (folder / "cut.html.gz").write_bytes(gzip.compress(PAGE)[:200])
    assert run(db_path, str(folder)) == 0
    assert "failed 2" in capsys.readouterr().out
    errors = sorted(r[0] for r in query(db_path, "SELECT error FROM ingest_errors"))
    assert [e.split(":")[0] for e in errors] == ["bad_gzip", "bad_gzip"]
    for _ in range(2):
        assert run(db_path, str(folder)) == 0
        assert "unchanged 2, failed 0" in capsys.readouterr().out
    assert one(db_path, "SELECT count(*) FROM ingest_errors") == 2
    # Fixed, it is retried and lands.
    (folder / "fake.html.gz").write_bytes(gzip.compress(PAGE))
    assert run(db_path, str(folder)) == 0
    assert one(db_path, "SELECT count(*) FROM articles") == 1


def test_unreadable_file_is_recorded_once(tmp_path: Path, db_path: Path) -> None:
    prefix = drop_privileges_prefix()
    if prefix is None:
        pytest.skip("running as root without setpriv: file permissions cannot apply")
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "ok.html").write_bytes(PAGE)
    locked = folder / "locked.html"
    locked.write_bytes(PAGE)
    locked.chmod(0)
    args = ["run", "--source", str(folder), "--db", str(db_path), "--workers", "1"]
    try:
        first = tradewire(args, {}, prefix)
        assert first.returncode == 0, first.stderr
        assert "seen 2, new 1, updated 0, unchanged 0, failed 1" in first.stdout
        second = tradewire(args, {}, prefix)
        assert "unchanged 2, failed 0" in second.stdout, second.stderr
    finally:
        locked.chmod(0o644)
    assert one(db_path, "SELECT error FROM ingest_errors").startswith("unreadable:")


# 10. A folder source skips silently ----------------------------------------------------------


def test_folder_of_feed_files_fails_and_says_so(
    tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "feeds"
    folder.mkdir()
    for i in range(3):
        (folder / f"feed{i}.xml").write_bytes(rss([item("x", "http://127.0.0.1/x", f"g{i}")]))
    assert run(db_path, str(folder)) == 1
    err = capsys.readouterr().err
    assert "no_documents: 3 files, none of them .txt, .html, .htm or .html.gz (3 .xml)" in err
    assert one(db_path, "SELECT kind, last_status FROM sources") == ("folder", "failed")


def test_empty_folder_is_not_a_failure(tmp_path: Path, db_path: Path) -> None:
    (tmp_path / "inbox").mkdir()
    assert run(db_path, str(tmp_path / "inbox")) == 0


def test_unreadable_subfolder_is_an_error_row(tmp_path: Path, db_path: Path) -> None:
    prefix = drop_privileges_prefix()
    if prefix is None:
        pytest.skip("running as root without setpriv: folder permissions cannot apply")
    folder = tmp_path / "in"
    (folder / "closed").mkdir(parents=True)
    (folder / "closed" / "hidden.html").write_bytes(PAGE)
    (folder / "ok.html").write_bytes(PAGE)
    (folder / "closed").chmod(0)
    args = ["run", "--source", str(folder), "--db", str(db_path), "--workers", "1"]
    try:
        first = tradewire(args, {}, prefix)
        assert first.returncode == 0, first.stderr
        assert "new 1, updated 0, unchanged 0, failed 1" in first.stdout
        second = tradewire(args, {}, prefix)
        assert "failed 0" in second.stdout, second.stderr
    finally:
        (folder / "closed").chmod(0o755)
    location, error = one(db_path, "SELECT location, error FROM ingest_errors")
    assert location == str(folder / "closed")
    assert error.startswith("unreadable_directory: Permission denied")


# 11. A killed run leaves no ingest_runs row ----------------------------------------------------


def test_killed_run_leaves_its_row_with_what_it_committed(
    server: LocalServer, tmp_path: Path, db_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(12):
        text = PAGE.replace(b"gallium", f"gallium-{i}".encode())
        (folder / f"story{i:02d}.html").write_bytes(text)
    release = threading.Event()
    # After the folder, the run polls this feed, which holds its answer: the run is alive,
    # its first landings committed, when it is killed.
    server.routes["/held.xml"] = held_route(release, rss([]))
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from ingest.pipeline import run_pipeline
        from ingest.polling import poll_config
        from ingest.sources_registry import source_spec_for
        from transforms.settings import Settings
        feed = source_spec_for({server.url("/held.xml")!r}, ())
        run_pipeline([{str(folder)!r}], Path({str(db_path)!r}), batch_size=4, workers=1,
                     land_size=4, run_id="killed-run", feeds=[feed],
                     poll=poll_config(Settings(), ["127.0.0.1"]))
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, env=dict(os.environ))
    try:
        deadline = time.monotonic() + 240
        while not server.hits_for("/held.xml"):  # the event: it is waiting on the feed
            assert proc.poll() is None, "the run ended before it was killed"
            assert time.monotonic() < deadline, "the run never reached the feed"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        release.set()
    landed = one(db_path, "SELECT count(*) FROM articles WHERE run_id = 'killed-run'")
    assert landed >= 4
    status, new, finished = one(
        db_path, "SELECT status, new, finished_at FROM ingest_runs WHERE run_id = 'killed-run'"
    )
    assert (status, new, finished) == ("running", landed, None)
    # The next run to finish marks it: its process is gone.
    assert run(db_path, str(folder)) == 0
    status = one(db_path, "SELECT status FROM ingest_runs WHERE run_id = 'killed-run'")
    assert status == "interrupted"
    assert one(db_path, "SELECT count(*) FROM articles") == 12


# 12. Invented publication dates -----------------------------------------------------------------


def test_body_sentence_date_is_not_a_publication_date(tmp_path: Path, db_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "undated.txt").write_text(
        "New tariff schedule announced\n\n"
        "The United States and China said the new tariff schedule applies starting January 1, "
        "2026, with exemptions for rare earth magnets and some semiconductors.\n\n"
        "Officials in Beijing said talks on soybeans would continue next month.\n",
        encoding="utf-8",
    )
    assert run(db_path, str(folder)) == 0
    published, source, candidates = one(
        db_path,
        "SELECT published_at, published_at_source, provenance['published_at_candidates'] "
        "FROM articles",
    )
    assert (published, source) == (None, None)
    assert "trafilatura=" in candidates and "(rejected:no-date-line)" in candidates


def test_a_byline_date_is_still_used(tmp_path: Path, db_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "dated.html").write_text(
        "<html><head><title>Chip controls widen</title></head><body><article>"
        "<h1>Chip controls widen</h1><p class='byline'>By Jane Doe | March 4, 2025</p>"
        "<p>Washington widened export controls on chips to China, officials said on Tuesday, "
        "adding more firms to the entity list and tightening licence rules.</p>"
        "<p>Beijing said it would respond to the new controls with measures of its own.</p>"
        "</article></body></html>",
        encoding="utf-8",
    )
    assert run(db_path, str(folder)) == 0
    published = one(db_path, "SELECT CAST(published_at AS DATE) FROM articles")
    assert str(published) == "2025-03-04"


# 13. CLI rough edges ----------------------------------------------------------------------


@pytest.fixture
def seeded_db(seed_folder: Path, db_path: Path) -> Path:
    assert run(db_path, str(seed_folder)) == 0
    return db_path


def test_sql_rough_edges_are_one_line_errors(
    seeded_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    db = ["--db", str(seeded_db)]
    for query_text, message in (
        ("", "give a query"),
        ("   ", "give a query"),
        ("select 1; select 2", "one statement at a time"),
    ):
        assert main(["sql", query_text, *db]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err and "Traceback" not in err
    out = tmp_path / "missing_dir" / "o.parquet"
    assert main(["sql", "select 1 AS n", "--format", "parquet", "--out", str(out), *db]) == 0
    assert duckdb.sql(f"SELECT n FROM '{out}'").fetchall() == [(1,)]
    blocked = tmp_path / "file"
    blocked.write_text("x")
    bad = blocked / "o.parquet"  # a "folder" that is a file
    assert main(["sql", "select 1", "--format", "parquet", "--out", str(bad), *db]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_extract_pipes_into_tag(fixtures_dir: Path) -> None:
    page = fixtures_dir / "articles" / "gallium_curbs.html"
    extract = subprocess.run(
        [sys.executable, "-m", "ingest.cli", "extract", str(page)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    assert extract.stdout.count("\n") == 1  # one JSON line in a pipe
    tag = subprocess.run(
        [sys.executable, "-m", "ingest.cli", "tag"],
        input=extract.stdout,
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert tag.returncode == 0, tag.stderr
    (tagged,) = [json.loads(line) for line in tag.stdout.splitlines()]
    assert tagged["id"] == json.loads(extract.stdout)["id"]
    assert {t["topic"] for t in tagged["topics"]} >= {"rare_earths"}


def test_tag_exits_non_zero_on_invalid_lines(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO('{"id": 1, "text": "Tariffs."}\n{oops\n'))
    assert main(["tag"]) == 1
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 1 and "line 2" in captured.err


def test_version_and_run_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith("tradewire ")
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    help_text = capsys.readouterr().out
    assert "example-wire" not in help_text  # commented out in seeds/sources.toml
    assert "--source seeds" in help_text and "exit status" in help_text


# 14. Start-up and set-up -------------------------------------------------------------------


def test_make_run_leaves_search_derived_tables_and_snapshot_ready(
    seed_folder: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest.pipeline import run_pipeline
    from transforms.snapshot import snapshot_path_for

    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\nrun: setup\n", 1)[1].split("\n\n", 1)[0]
    assert "tradewire refresh --db data/tradewire.duckdb" in recipe
    # What `make run` leaves: the DAG's landing and nothing after it ...
    run_pipeline([str(seed_folder)], db_path, workers=1)
    monkeypatch.setenv("TRADEWIRE_SNAPSHOT", "true")
    # ... then its refresh step.
    assert main(["refresh", "--db", str(db_path)]) == 0
    assert main(["search", "trade talks", "--db", str(db_path), "--format", "json"]) == 0
    assert snapshot_path_for(db_path).exists()
    assert one(db_path, "SELECT count(*) FROM topic_daily_counts") > 0


def test_airflow_fails_fast_when_its_port_is_taken() -> None:
    from ingest.airflow_launch import LaunchError, check_port

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(LaunchError) as failed:
            check_port(port)
    assert f"port {port}" in str(failed.value)
    assert f"make airflow AIRFLOW_PORT={port + 1}" in str(failed.value)


def test_airflow_components_start_only_once_the_api_server_answers(tmp_path: Path) -> None:
    from ingest.airflow_launch import Component, launch

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    answered = tmp_path / "answered"
    # A stand-in API server: /execution/health fails three times, then answers 200 (and
    # says so in a file); a stand-in scheduler records whether that had happened at its start.
    api = textwrap.dedent(
        f"""
        import os
        from http.server import BaseHTTPRequestHandler, HTTPServer
        calls = 0
        class H(BaseHTTPRequestHandler):
            def do_GET(self):
                global calls
                calls += 1
                ok = calls > 3 and self.path == "/execution/health"
                if ok:
                    open({str(answered)!r}, "w").close()
                self.send_response(200 if ok else 503)
                self.send_header("Content-Length", "0")
                self.end_headers()
            def log_message(self, *a):
                pass
        HTTPServer(("127.0.0.1", int(os.environ["AIRFLOW__API__PORT"])), H).serve_forever()
        """
    )
    scheduler = (
        f"import os; print('api answered first' if os.path.exists({str(answered)!r}) "
        f"else 'started too early', os.environ['AIRFLOW__CORE__EXECUTION_API_SERVER_URL'], "
        "flush=True)"
    )
    lines: list[str] = []

    def scheduler_spoke() -> bool:
        return any("api answered" in line or "too early" in line for line in lines)

    status = launch(
        port,
        60,
        Component("api-server", [sys.executable, "-c", api]),
        [
            Component(
                "scheduler", [sys.executable, "-c", scheduler + "; import time; time.sleep(60)"]
            )
        ],
        out=lines.append,
        until=scheduler_spoke,
    )
    assert status == 0
    (said,) = [line for line in lines if "answered first" in line or "too early" in line]
    assert said.endswith(f"api answered first http://127.0.0.1:{port}/execution/")


# 15. A writer blocked by a reader --------------------------------------------------------


def test_blocked_writer_names_the_reader_and_keeps_the_extracted_batch(
    tmp_path: Path,
    db_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from transforms.settings import get_settings

    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        (folder / f"story{i}.html").write_bytes(PAGE.replace(b"gallium", f"gallium-{i}".encode()))
    db_path.parent.mkdir(parents=True, exist_ok=True)
    duckdb.connect(str(db_path)).close()  # the file exists, so a reader can hold it
    monkeypatch.setenv("TRADEWIRE_LOCK_WAIT_SECONDS", "3")
    get_settings.cache_clear()
    try:
        with reader_holding_ctx(db_path) as reader:
            assert run(db_path, str(folder)) == 2
            err = capsys.readouterr().err
            assert f"PID {reader.pid}" in err and "the next run lands them" in err
            assert any(
                f"held by PID {reader.pid}" in r.getMessage()
                for r in caplog.records
                if r.levelname == "WARNING"
            )
        kept = list((tmp_path / "staging" / "pending").glob("*/*.jsonl"))
        assert len(kept) == 1
        first_run = json.loads(kept[0].read_text().splitlines()[0])["run"]["run_id"]
        # Kept for this database only: a run into another one neither lands nor drops it.
        assert run(tmp_path / "other.duckdb", str(folder)) == 0
        assert list((tmp_path / "staging" / "pending").glob("*/*.jsonl")) == kept
        # The reader is gone: the next run lands the kept batch and extracts nothing again.
        assert run(db_path, str(folder)) == 0
        assert "seen 3, new 0, updated 0, unchanged 3" in capsys.readouterr().out
    finally:
        get_settings.cache_clear()
    assert query(db_path, "SELECT DISTINCT run_id FROM articles") == [(first_run,)]
    assert one(db_path, "SELECT new FROM ingest_runs WHERE run_id = ?", [first_run]) == 3
    assert not list((tmp_path / "staging" / "pending").glob("*/*.jsonl"))


class reader_holding_ctx:  # noqa: N801 - used like a function
    """`with reader_holding_ctx(db) as proc:` -- the fixture's body, scoped to a block."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> subprocess.Popen[str]:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import duckdb, sys\n"
                f"con = duckdb.connect({str(self.db_path)!r}, read_only=True)\n"
                "print('open', flush=True)\nsys.stdin.readline()\ncon.close()\n",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "open"
        return self.proc

    def __exit__(self, *exc_info: object) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        if self.proc.poll() is None:
            self.proc.stdin.write("close\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=30)
