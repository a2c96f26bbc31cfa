"""Issue 14's rules, one function at a time (the end-to-end reproductions are in
tests/integration/test_hostile_input.py)."""

from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path

import pytest
import tenacity

from ingest.dates import is_date_line, written_dates
from ingest.feeds import FeedEntry, entry_identity, replace_bad_char_refs, scrub_json
from ingest.folder import FolderScan, printable_path
from ingest.localfiles import (
    DocumentUnreadable,
    check_document,
    document_fingerprint,
    read_document_bytes,
    stat_fingerprint,
)
from ingest.retries import Deadline, send_with_retries
from transforms.database import lock_holder
from transforms.storable import find_unencodable, scrub


def test_bad_character_references_become_replacement_characters() -> None:
    body = b"<t>a &#xD800; b &#55296; c &#x1F600; d &#0; e &#x110000;</t>"
    assert replace_bad_char_refs(body) == (
        b"<t>a &#xFFFD; b &#xFFFD; c &#x1F600; d &#xFFFD; e &#xFFFD;</t>"
    )


def test_json_surrogates_are_replaced_everywhere() -> None:
    assert scrub_json({"a\udcff": ["x\ud800", {"y": "\udfff"}], "n": 1}) == {
        "a\ufffd": ["x\ufffd", {"y": "\ufffd"}],
        "n": 1,
    }


def entry(**fields: str | None) -> FeedEntry:
    base: dict[str, str | None] = dict.fromkeys(
        ("guid", "link", "canonical_link", "title", "summary", "published_at", "author")
    )
    return FeedEntry(**{**base, **fields})


def test_entry_identity_falls_back_to_what_the_entry_says() -> None:
    assert entry_identity(entry(guid="g")) == "g"
    assert entry_identity(entry(canonical_link="https://x/a")) == "https://x/a"
    said = entry_identity(entry(title="Soybeans", summary="China bought."))
    assert said is not None and said.startswith("content:")
    assert said == entry_identity(entry(title="Soybeans", summary="China bought."))
    assert said != entry_identity(entry(title="Soybeans", summary="China sold."))
    assert entry_identity(entry()) is None


@pytest.mark.parametrize(
    ("line", "dated"),
    [
        ("June 3, 2025", True),
        ("By Jane Doe | Jun. 3, 2025, 10:00 AM EDT", True),
        ("Published 2025-06-03T08:00:00Z", True),
        ("Updated: 3 June 2025", True),
        ("2025年6月3日 来源：商务部", True),
        ("06/03/2025", True),
        ("June 4, 2025", True),  # a day off: local date against UTC
        ("June 9, 2025", False),
        (
            "The tariffs take effect starting June 3, 2025, the commerce ministry said in a "
            "statement on its website on Friday.",
            False,
        ),
    ],
)
def test_date_lines_against_dates_in_sentences(line: str, dated: bool) -> None:
    assert is_date_line(line, date(2025, 6, 3)) is dated


def test_written_dates_skip_impossible_days() -> None:
    assert [d for d, _ in written_dates("31/02/2025 and 2025-13-01")] == []


def test_document_limits(tmp_path: Path) -> None:
    plain = tmp_path / "a.txt"
    plain.write_bytes(b"x" * 100)
    assert check_document(str(plain), 100) is None
    assert read_document_bytes(str(plain), 100) == b"x" * 100
    assert (check_document(str(plain), 99) or "").startswith("too_large: 100 bytes exceed")
    bomb = tmp_path / "b.html.gz"
    bomb.write_bytes(gzip.compress(b"\0" * 10_000))
    assert (check_document(str(bomb), 1_000) or "").startswith("decompression_bomb:")
    with pytest.raises(DocumentUnreadable) as raised:
        read_document_bytes(str(bomb), 1_000)
    assert raised.value.error_class == "decompression_bomb"
    assert check_document(str(bomb), 10_000) is None
    fake = tmp_path / "c.html.gz"
    fake.write_bytes(b"plain")
    assert (check_document(str(fake)) or "").startswith("bad_gzip:")
    # What cannot be read within the limits is fingerprinted by stat, the rest by content.
    assert document_fingerprint(str(fake)) == stat_fingerprint(str(fake))
    assert len(document_fingerprint(str(plain))) == 64
    assert (check_document(str(tmp_path / "missing.html")) or "").startswith("unreadable:")


def test_folder_scan_failure_only_when_files_but_no_documents() -> None:
    scan = FolderScan("/in")
    assert scan.failure() is None  # empty: an inbox waiting
    scan.ignored[".xml"] += 2
    assert (scan.failure() or "").startswith("no_documents: 2 files")
    scan.documents = 1
    assert scan.failure() is None


def test_printable_path_escapes_undecodable_bytes() -> None:
    assert printable_path("/in/bad-\udcff.html") == "/in/bad-\\xff.html"
    assert printable_path("/in/Zölle.html") == "/in/Zölle.html"


def test_unencodable_strings_are_found_and_scrubbed() -> None:
    assert find_unencodable({"a": ["ok", "b\udcff"]}, "feed") == "feed.a"
    assert find_unencodable(["ok", "Zölle"]) is None
    assert scrub("b\udcff") == "b\\udcff"


class Answer:
    def __init__(self, status: int, retry_after: str | None = None) -> None:
        self.status = status
        self.error_class = None
        self.headers = {"retry-after": retry_after} if retry_after else {}


def test_retries_stop_at_the_deadline_but_retry_after_is_politeness(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [0.0]
    deadline = Deadline(1.0, clock=lambda: now[0])
    calls: list[int] = []

    def send(retry: int) -> Answer:
        calls.append(retry)
        now[0] += 0.6  # each attempt takes 0.6 s of the 1 s budget
        return Answer(503)

    def sleep(seconds: float) -> None:
        now[0] += seconds

    monkeypatch.setattr(tenacity.nap.time, "sleep", sleep)  # waits pass on the fake clock
    retry = {"backoff_base": 0.1, "backoff_max": 0.1, "max_retry_after": 10.0}
    send_with_retries(send, url="u", max_attempts=5, deadline=deadline, **retry)
    # 0.6 s, 0.1-0.2 s of backoff, a second attempt (which the fetcher cuts at the deadline);
    # then no time is left, so no third attempt starts.
    assert len(calls) == 2
    calls.clear()
    now[0] = 0.0
    deadline = Deadline(1.0, clock=lambda: now[0])

    def polite(retry: int) -> Answer:
        calls.append(retry)
        now[0] += 0.1
        return Answer(503, "2") if retry == 0 else Answer(200)

    answer = send_with_retries(polite, url="u", max_attempts=3, deadline=deadline, **retry)
    assert answer.status == 200 and calls == [0, 1]  # a 2 s Retry-After within a 1 s budget


def test_lock_holder_is_read_from_duckdbs_message() -> None:
    message = (
        'IO Error: Could not set lock on file "/d.duckdb": Conflicting lock is held in '
        "/usr/bin/python3.11 (PID 4875). See also https://duckdb.org/docs"
    )
    assert lock_holder(Exception(message)) == "PID 4875 (/usr/bin/python3.11)"
    assert lock_holder(None) == "another process"
