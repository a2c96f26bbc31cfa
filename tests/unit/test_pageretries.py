"""Which page failures are retried, and when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ingest.feeds import FeedEntry
from ingest.pageretries import MAX_PAGE_ATTEMPTS, PendingPage, is_temporary, retry_due


@pytest.mark.parametrize(
    ("error", "temporary"),
    [
        ("timeout: ReadTimeout (landed from the feed summary)", True),
        ("connection_error: refused", True),
        ("http_error: HTTP 503 (landed from the feed summary)", True),
        ("http_error: HTTP 429 (Retry-After: 30)", True),
        ("http_error: HTTP 404", False),
        ("http_error: HTTP 410", False),
        ("robots_disallowed: /news/ is disallowed", False),
        ("guard_refused: private address", False),
        (None, False),
    ],
)
def test_temporary_errors(error: str | None, temporary: bool) -> None:
    assert is_temporary(error) is temporary


def test_backoff_doubles_and_gives_up() -> None:
    now = datetime(2026, 10, 14, 12, tzinfo=UTC)
    entry = FeedEntry(None, "https://a.example/x", "https://a.example/x", "t", None, None, None)

    def page(attempts: int, minutes_ago: float) -> PendingPage:
        return PendingPage("k", entry, "timeout: x", attempts, now - timedelta(minutes=minutes_ago))

    base = timedelta(minutes=15)
    assert retry_due(page(1, 15), base, now) and not retry_due(page(1, 14), base, now)
    assert retry_due(page(3, 60), base, now) and not retry_due(page(3, 59), base, now)
    assert not retry_due(page(MAX_PAGE_ATTEMPTS, 10_000), base, now)
