"""Records a poll hands to the load stage: source state, HTTP attempts and URL outcomes.

Kept apart from the poller so the loader can read them without importing the HTTP stack.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

# Terminal states of a discovered URL; exactly one per (run, source, entry).
LANDED = "landed"
DUPLICATE = "duplicate"
FAILED = "failed"
SKIPPED = "skipped"
# Fetch error classes that mean "we chose not to fetch" rather than "the fetch went wrong".
SKIP_ERROR_CLASSES = frozenset(
    {"robots_disallowed", "guard_refused", "bad_scheme", "bad_url", "too_large", "no_link"}
)
# Cap on how far backoff pushes a failing source out: still retried daily.
MAX_BACKOFF_MINUTES = 24 * 60


@dataclass(frozen=True)
class SourceState:
    """A `sources` row: what the last poll learned, and when the source is next due."""

    name: str
    kind: str
    location: str
    poll_interval_minutes: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    validators_trusted: bool = True
    last_status: str | None = None  # ok, not_modified, unchanged or failed
    last_http_status: int | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    last_polled_at: str | None = None  # ISO 8601, UTC
    next_due_at: str | None = None  # ISO 8601, UTC
    last_new_entries: int = 0


@dataclass(frozen=True)
class FetchLogRow:
    """A `fetch_log` row: one HTTP request, attributed to the source it was made for."""

    source: str
    url: str
    status: int | None
    bytes: int
    elapsed_ms: int
    error_class: str | None
    retry: int
    started_at: str


@dataclass(frozen=True)
class EntryOutcome:
    """A discovered feed entry that never became an article (a duplicate, or nothing to land)."""

    source: str
    entry_key: str
    url: str | None
    canonical_url: str | None
    article_id: str | None  # for duplicates: the article it duplicates
    state: str
    reason: str | None
    decided_at: str
    feed_entry: dict[str, Any]


@dataclass
class PollRecords:
    """Everything a poll found besides articles, landed in one transaction by the load."""

    sources: list[SourceState] = field(default_factory=list)
    fetch_log: list[FetchLogRow] = field(default_factory=list)
    outcomes: list[EntryOutcome] = field(default_factory=list)

    def extend(self, other: PollRecords) -> None:
        """Merge another poll's records (the DAG polls host groups in separate tasks)."""
        self.sources.extend(other.sources)
        self.fetch_log.extend(other.fetch_log)
        self.outcomes.extend(other.outcomes)

    def to_rows(self) -> list[dict[str, Any]]:
        """Tagged JSON rows for a staging file."""
        rows: list[dict[str, Any]] = []
        for tag, items in (
            ("source", self.sources),
            ("fetch", self.fetch_log),
            ("outcome", self.outcomes),
        ):
            rows.extend({"record": tag, **asdict(x)} for x in items)
        return rows

    @classmethod
    def from_rows(cls, rows: Any) -> PollRecords:
        """Rebuild from staged rows, ignoring keys a newer writer may have added."""
        records = cls()
        kinds: dict[str, tuple[type[Any], list[Any]]] = {
            "source": (SourceState, records.sources),
            "fetch": (FetchLogRow, records.fetch_log),
            "outcome": (EntryOutcome, records.outcomes),
        }
        for row in rows:
            kind, target = kinds[row["record"]]
            names = {f.name for f in fields(kind)}
            target.append(kind(**{k: v for k, v in row.items() if k in names}))
        return records


def terminal_state(
    error: str | None, is_summary_only: bool, page_error: str | None
) -> tuple[str, str | None]:
    """The one terminal state of a feed article's URL, and why: the page's fate decides it."""
    if error is not None:
        return FAILED, error
    if not is_summary_only:
        return LANDED, None
    reason = f"{page_error or 'page not used'} (landed from the feed summary)"
    error_class = (page_error or "").split(":", 1)[0].strip()
    return (SKIPPED if error_class in SKIP_ERROR_CLASSES else FAILED), reason
