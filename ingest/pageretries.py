"""Summary-only articles whose page failed for a passing reason, fetched again with backoff.

An entry lands from its feed summary when its page fails. A timeout, a dropped connection, a
5xx or a 429 says "later", so later polls of the source ask again, waiting twice as long
after each failed attempt; a 404, 410, robots refusal or guard refusal says "never", and the
summary stays. The attempts are the page's rows in `fetch_log`, so no new state is kept.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from ingest.feeds import FeedEntry
from transforms.database import DatabaseMissingError, connect

logger = logging.getLogger(__name__)

TEMPORARY_CLASSES = frozenset({"timeout", "connection_error", "politeness_timeout"})
TEMPORARY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_PAGE_ATTEMPTS = 6  # the first fetch and five retries; then the summary is what we keep
MAX_RETRY_WAIT = timedelta(hours=24)
_STATUS = re.compile(r"\bHTTP (\d{3})\b")


@dataclass(frozen=True)
class PendingPage:
    """A summary-only article of a source whose page may be fetched again."""

    entry_key: str
    entry: FeedEntry
    page_error: str
    attempts: int
    last_attempt_at: datetime | None


def is_temporary(page_error: str | None) -> bool:
    """Say whether a page failure is worth retrying: timeouts, connections, 5xx, 429."""
    if not page_error:
        return False
    error_class, _, detail = page_error.partition(":")
    error_class = error_class.strip()
    if error_class in TEMPORARY_CLASSES:
        return True
    if error_class != "http_error":
        return False
    match = _STATUS.search(detail)
    return match is not None and int(match.group(1)) in TEMPORARY_STATUSES


def retry_due(page: PendingPage, base: timedelta, now: datetime) -> bool:
    """Due once `base` doubled per earlier attempt has passed since the last one (capped)."""
    if page.attempts >= MAX_PAGE_ATTEMPTS:
        return False
    if page.last_attempt_at is None:
        return True
    wait = min(MAX_RETRY_WAIT, base * 2 ** max(page.attempts - 1, 0))
    return page.last_attempt_at + wait <= now


def read_pending_pages(db_path: Path, source: str) -> list[PendingPage]:
    """The source's summary-only articles whose page last failed for a passing reason (the
    URL's latest `discovered_urls.reason`), oldest first."""
    sql = """
        SELECT e.entry_key, e.guid, e.link, e.canonical_url, e.title, e.summary,
               e.published_at, e.author,
               (SELECT d.reason FROM discovered_urls d
                 WHERE d.source = e.source AND d.entry_key = e.entry_key
                 ORDER BY d.decided_at DESC LIMIT 1) AS page_error,
               (SELECT count(*) FROM fetch_log f
                 WHERE f.source = e.source AND f.url = e.link AND f.retry = 0) AS attempts,
               (SELECT max(f.started_at) FROM fetch_log f
                 WHERE f.source = e.source AND f.url = e.link) AS last_attempt_at
        FROM articles a
        JOIN feed_entries e ON e.article_id = a.article_id AND e.source = a.source
        WHERE a.source = ? AND a.is_summary_only AND e.link IS NOT NULL
        ORDER BY e.first_seen_at
    """
    try:
        with connect(db_path, read_only=True) as con:
            rows = con.execute(sql, [source]).fetchall()
    except (DatabaseMissingError, duckdb.CatalogException):
        return []
    return [page for page in map(pending_from_row, rows) if is_temporary(page.page_error)]


def pending_from_row(row: Sequence[Any]) -> PendingPage:
    """One query row as a PendingPage, its feed entry rebuilt as the poll first saw it."""
    key, guid, link, canonical, title, summary, published, author, error, attempts, last = row
    entry = FeedEntry(
        guid=guid,
        link=link,
        canonical_link=canonical,
        title=title,
        summary=summary,
        published_at=published.astimezone(UTC).isoformat()
        if isinstance(published, datetime)
        else published,
        author=author,
    )
    last_at = last.astimezone(UTC) if isinstance(last, datetime) else None
    return PendingPage(str(key), entry, str(error or ""), int(attempts or 0), last_at)
