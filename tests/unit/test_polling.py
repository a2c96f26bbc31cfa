"""Pure pieces of live sources: raw store, backoff, due times, terminal states, summaries."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest.entries import FEED_ENTRY_KIND, extract_document, summary_text
from ingest.polling import is_due, next_due, split_hosts
from ingest.rawstore import put_raw, raw_path
from ingest.records import SourceItem
from transforms.pollrecords import PollRecords, SourceState, terminal_state

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def test_raw_store_is_content_addressed_and_gzipped(tmp_path: Path) -> None:
    sha = put_raw(tmp_path, b"<html>page</html>")
    path = raw_path(tmp_path, sha)
    assert path == tmp_path / sha[:2] / f"{sha}.html.gz"
    assert gzip.decompress(path.read_bytes()) == b"<html>page</html>"
    before = path.stat().st_mtime_ns
    assert put_raw(tmp_path, b"<html>page</html>") == sha  # stored once
    assert path.stat().st_mtime_ns == before
    assert gzip.decompress(raw_path(tmp_path, sha).read_bytes()) == b"<html>page</html>"


@pytest.mark.parametrize("bad", ["../../etc/passwd", "ab", "A" * 64, "0" * 63 + "/"])
def test_raw_path_accepts_only_hashes(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError):
        raw_path(tmp_path, bad)


def test_backoff_doubles_per_failure_and_is_capped() -> None:
    waits = [next_due(30, n, NOW) - NOW for n in range(0, 8)]
    assert waits[:4] == [timedelta(minutes=m) for m in (30, 60, 120, 240)]
    assert max(waits) == timedelta(hours=24)
    assert next_due(30, 10_000, NOW) - NOW == timedelta(hours=24)
    # A source polled less often than daily is never polled more often because it failed.
    assert next_due(3000, 3, NOW) - NOW == timedelta(minutes=3000)


def test_due_when_never_polled_or_past_due() -> None:
    state = SourceState("f", "feed", "https://x.example/feed")
    assert is_due(None, NOW) and is_due(state, NOW)
    later = SourceState("f", "feed", "u", next_due_at=(NOW + timedelta(minutes=1)).isoformat())
    assert not is_due(later, NOW) and is_due(later, NOW + timedelta(minutes=2))


def test_terminal_states() -> None:
    assert terminal_state(None, False, None) == ("landed", None)
    assert terminal_state("boom", False, None) == ("failed", "boom")
    state, reason = terminal_state(None, True, "robots_disallowed: disallowed by robots.txt")
    assert state == "skipped" and reason is not None and "feed summary" in reason
    assert terminal_state(None, True, "http_error: HTTP 404")[0] == "failed"
    assert terminal_state(None, True, "no text extracted")[0] == "failed"


def test_poll_records_round_trip_through_rows() -> None:
    records = PollRecords(sources=[SourceState("f", "feed", "u", etag='"x"')])
    again = PollRecords.from_rows(records.to_rows())
    assert again.sources == records.sources and again.fetch_log == [] == again.outcomes


def test_split_hosts() -> None:
    assert split_hosts(" 127.0.0.1, Intranet.Local ,,127.0.0.1") == ("127.0.0.1", "intranet.local")


def test_summary_text_strips_markup() -> None:
    html = "<p>The <b>twelve</b> firms &amp; more.</p><p>Second</p>"
    assert summary_text(html) == "The twelve firms & more.\nSecond"
    assert summary_text(None) == ""


def test_unfetched_entry_lands_from_its_summary() -> None:
    entry = {
        "guid": "g",
        "link": "https://x.example/a",
        "canonical_link": "https://x.example/a",
        "title": "Tariffs rise",
        "summary": "<p>Washington raised tariffs on Chinese steel again this week.</p>",
        "published_at": "2026-10-01T00:00:00+00:00",
        "author": None,
        "entry_key": "g",
    }
    item = SourceItem(
        source="feed",
        location="https://x.example/a",
        kind=FEED_ENTRY_KIND,
        raw_hash="0" * 64,
        url="https://x.example/a",
        feed_entry=entry,
        fetch_error="http_error: HTTP 404",
    )
    article = extract_document(item)
    assert article.error is None and article.is_summary_only
    assert article.title == "Tariffs rise" and article.text.startswith("Washington raised")
    assert article.page_error == "http_error: HTTP 404" and article.feed_entry == entry
    bare = extract_document(
        SourceItem(**{**item.__dict__, "feed_entry": {**entry, "title": None, "summary": None}})
    )
    assert bare.error is not None and bare.feed_entry is not None
