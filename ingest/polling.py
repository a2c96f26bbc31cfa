"""Polling feed sources: conditional GETs, new-entry selection, page fetches into the raw store.

Discovery only reads DuckDB (briefly, between requests); everything learned here goes back as
PollRecords for the load stage, which is the only writer.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from ingest.entries import FEED_ENTRY_KIND
from ingest.feeds import FeedEntry, entry_identity, parse_feed
from ingest.fetch import Fetcher, FetchPolicy, FetchResult, validators_trustworthy
from ingest.pageretries import read_pending_pages, retry_due
from ingest.rawstore import configured_raw_root, put_raw, raw_url
from ingest.records import SourceItem
from ingest.sitemaps import entry_from_sitemap_url, is_newer, parse_sitemap
from ingest.sources_registry import DEFAULT_POLL_INTERVAL_MINUTES, SourceSpec, is_web_kind
from ingest.urls import article_id_for
from transforms.database import DatabaseMissingError, connect
from transforms.pollrecords import (
    DUPLICATE,
    MAX_BACKOFF_MINUTES,
    SKIPPED,
    EntryOutcome,
    FetchLogRow,
    PollRecords,
    SourceState,
)
from transforms.settings import Settings

logger = logging.getLogger(__name__)

SITEMAP_KINDS = frozenset({"sitemap", "news-sitemap"})
# A sitemap index can list thousands of sitemaps; one poll reads at most this many of them.
MAX_CHILD_SITEMAPS = 20


@dataclass(frozen=True)
class PollConfig:
    """How to fetch: identity, politeness and where fetched pages go."""

    user_agent: str
    contact_url: str
    state_dir: Path
    raw_root: str  # a local folder or s3://bucket/prefix (ingest/rawstore.py)
    policy: FetchPolicy = field(default_factory=FetchPolicy)
    allowed_hosts: tuple[str, ...] = ()
    page_retry_minutes: float = 15.0  # first wait before a summary-only page is asked again
    politeness_url: str = ""  # "" = flock files under state_dir; redis://… = across machines


def split_hosts(value: str | Iterable[str]) -> tuple[str, ...]:
    """Host names from a comma-separated setting or a list, lower-cased, blanks dropped."""
    parts = value.split(",") if isinstance(value, str) else list(value)
    return tuple(dict.fromkeys(p.strip().lower() for p in parts if p.strip()))


def poll_config(settings: Settings, extra_hosts: Iterable[str] = ()) -> PollConfig:
    """The poll configuration from settings, plus hosts a CLI run allows (--allow-host)."""
    return PollConfig(
        user_agent=settings.user_agent,
        contact_url=settings.contact_url,
        state_dir=settings.state_dir / "fetch",
        raw_root=configured_raw_root(settings),
        policy=FetchPolicy(
            min_interval=settings.fetch_min_interval, total_timeout=settings.fetch_total_timeout
        ),
        allowed_hosts=split_hosts([*split_hosts(settings.allowed_hosts), *extra_hosts]),
        page_retry_minutes=settings.page_retry_minutes,
        politeness_url=settings.politeness_url,
    )


def utc_now() -> datetime:
    """Now, in UTC: every timestamp the poller writes is comparable across hosts."""
    return datetime.now(UTC)


def next_due(interval_minutes: int, failures: int, now: datetime) -> datetime:
    """When a source may be polled again: its interval, doubled per consecutive failure, capped."""
    if failures <= 0:
        return now + timedelta(minutes=interval_minutes)
    cap = max(MAX_BACKOFF_MINUTES, interval_minutes)
    # min() on the exponent first: 2**failures for a long-dead source would be a huge int.
    return now + timedelta(minutes=min(cap, interval_minutes * 2 ** min(failures, 20)))


def is_due(state: SourceState | None, now: datetime) -> bool:
    """Say whether a source should be polled now; never-polled sources always are."""
    if state is None or not state.next_due_at:
        return True
    return datetime.fromisoformat(state.next_due_at) <= now


def due_specs(
    specs: Iterable[SourceSpec], states: dict[str, SourceState], now: datetime
) -> list[SourceSpec]:
    """The feed sources whose next due time has come (folders are always due)."""
    return [s for s in specs if s.kind == "folder" or is_due(states.get(s.name), now)]


def _read(db_path: Path, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Rows from a short read-only connection; no database or no table yet reads as empty."""
    try:
        with connect(db_path, read_only=True) as con:
            return con.execute(sql, list(params)).fetchall()
    except (DatabaseMissingError, duckdb.CatalogException):
        return []


def read_source_states(db_path: Path) -> dict[str, SourceState]:
    """Every source's last known state, by name."""
    names = [f.name for f in fields(SourceState)]
    rows = _read(db_path, f"SELECT {', '.join(names)} FROM sources")
    states = {}
    for row in rows:
        values = dict(zip(names, row, strict=True))
        for key in ("last_polled_at", "next_due_at"):
            if isinstance(values[key], datetime):
                values[key] = values[key].astimezone(UTC).isoformat()
        states[str(values["name"])] = SourceState(**values)
    return states


def known_entry_keys(db_path: Path, source: str) -> set[str]:
    """Entries of this feed already taken on: the GUID is scoped to the feed that issued it."""
    rows = _read(db_path, "SELECT entry_key FROM feed_entries WHERE source = ?", [source])
    return {str(r[0]) for r in rows}


def known_canonicals(db_path: Path, canonicals: Iterable[str]) -> set[str]:
    """Canonical links already landed as an article or taken on from any feed."""
    wanted = sorted(set(canonicals))
    if not wanted:
        return set()
    by_id = {article_id_for(c): c for c in wanted}
    rows = _read(
        db_path,
        "SELECT canonical_url FROM feed_entries WHERE canonical_url IN (SELECT unnest(?)) "
        "UNION SELECT article_id FROM articles WHERE article_id IN (SELECT unnest(?))",
        [wanted, list(by_id)],
    )
    found = {str(r[0]) for r in rows}
    return {c for c in wanted if c in found} | {by_id[i] for i in found if i in by_id}


def log_rows(source: str, result: FetchResult) -> list[FetchLogRow]:
    """fetch_log rows for every request a fetch made (robots.txt, redirects and retries too)."""
    return [
        FetchLogRow(
            source=source,
            url=a.url,
            status=a.status,
            bytes=a.bytes,
            elapsed_ms=a.elapsed_ms,
            error_class=a.error_class,
            retry=a.retry,
            started_at=a.started_at,
        )
        for a in result.attempts
    ]


def failure_reason(result: FetchResult) -> str:
    """One line saying why a fetch gave no usable body: "<error_class>: <detail>"."""
    return f"{result.error_class}: {result.error or 'no detail'}"


class FeedPoller:
    """Polls feed sources in order and yields one SourceItem per new entry, page fetched or not.

    Items come out lazily, so extraction overlaps the polite waits between page requests; what
    else the poll learns (source state, requests, duplicates) accumulates in `records`.
    """

    def __init__(
        self, specs: Sequence[SourceSpec], db_path: Path, config: PollConfig | None
    ) -> None:
        self.specs = [s for s in specs if is_web_kind(s.kind)]
        if self.specs and config is None:
            raise ValueError("feed sources need a PollConfig")
        self.db_path = db_path
        self.config = config
        self.records = PollRecords()
        self.states = read_source_states(db_path) if self.specs else {}
        self._fetchers: dict[frozenset[str], Fetcher] = {}
        # Identity within this run, across feeds: the database only knows earlier runs.
        self._run_keys: set[tuple[str, str]] = set()
        self._run_canonicals: set[str] = set()

    def __enter__(self) -> FeedPoller:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release every fetcher's pooled connections."""
        for fetcher in self._fetchers.values():
            fetcher.close()
        self._fetchers.clear()

    @property
    def duplicates(self) -> int:
        """Discovered entries that will not reach extraction (duplicates, nothing to fetch)."""
        return len(self.records.outcomes)

    def __iter__(self) -> Iterator[SourceItem]:
        for spec in self.specs:
            yield from self.poll_source(spec)

    def fetcher_for(self, spec: SourceSpec) -> Fetcher:
        """One fetcher per allow-list, so a source's intranet host is not open to other feeds."""
        config = self.require_config()
        hosts = frozenset((*config.allowed_hosts, *spec.allowed_hosts))
        if hosts not in self._fetchers:
            self._fetchers[hosts] = Fetcher(
                user_agent=config.user_agent,
                contact_url=config.contact_url,
                state_dir=config.state_dir,
                policy=config.policy,
                allowed_hosts=hosts,
                politeness_url=config.politeness_url,
            )
        return self._fetchers[hosts]

    def require_config(self) -> PollConfig:
        """The poll configuration; only a poller without feeds may lack one."""
        if self.config is None:
            raise ValueError("feed sources need a PollConfig")
        return self.config

    def poll_source(self, spec: SourceSpec) -> Iterator[SourceItem]:
        """Poll one source, then ask again for pages that failed for a passing reason, within
        the same per-poll cap."""
        taken = yield from self.poll_entries(spec)
        budget = spec.max_new_per_poll - taken
        if budget > 0:
            yield from self.retry_pages(spec, budget)

    def retry_pages(self, spec: SourceSpec, budget: int) -> Iterator[SourceItem]:
        """Fetch again the pages of summary-only articles that are due; a page that arrives
        lands over its summary (same article_id), one that fails again waits twice as long."""
        base = timedelta(minutes=self.require_config().page_retry_minutes)
        now = utc_now()
        due = [p for p in read_pending_pages(self.db_path, spec.name) if retry_due(p, base, now)]
        if not due:
            return
        logger.info("%s: fetching %d summary-only pages again", spec.name, min(len(due), budget))
        fetcher = self.fetcher_for(spec)
        for page in due[:budget]:
            yield self.fetch_page(spec, fetcher, page.entry_key, page.entry)

    def poll_entries(self, spec: SourceSpec) -> Generator[SourceItem, None, int]:
        """Conditional GET of one feed, then one item per new entry; records the source's state
        and returns how many entries it took on."""
        state = self.states.get(spec.name) or SourceState(
            name=spec.name, kind=spec.kind, location=spec.location
        )
        state = replace(
            state, kind=spec.kind, location=spec.location, poll_interval_minutes=interval_of(spec)
        )
        fetcher = self.fetcher_for(spec)
        # Untrusted validators are not sent: a server that lies with them would hide new entries.
        trusted = state.validators_trusted
        result = fetcher.fetch(
            spec.location,
            etag=state.etag if trusted else None,
            last_modified=state.last_modified if trusted else None,
        )
        self.records.fetch_log.extend(log_rows(spec.name, result))
        if not result.ok:
            self._finish(spec, state, result.status, error=failure_reason(result))
            return 0
        if result.not_modified:
            self._finish(spec, state, result.status, outcome="not_modified")
            return 0
        body = result.body or b""
        body_hash = hashlib.sha256(body).hexdigest()
        trusted = trusted and validators_trustworthy(
            state.etag, state.body_hash, result.etag, body_hash
        )
        validators: dict[str, Any] = {
            "etag": result.etag,
            "last_modified": result.last_modified,
            "validators_trusted": trusted,
        }
        if body_hash == state.body_hash:
            self._finish(spec, state, result.status, outcome="unchanged", **validators)
            return 0
        if spec.kind in SITEMAP_KINDS:
            entries, error = self.sitemap_entries(spec, state, fetcher, body)
        else:
            parsed = parse_feed(body, result.final_url, result.headers.get("content-type"))
            entries, error = list(parsed.entries), parsed.error
        if error and not entries:
            # The hash is not stored, so the same broken body is parsed (and reported) again.
            self._finish(spec, state, result.status, error=f"feed_error: {error}")
            return 0
        new = self.select_new(spec, entries)
        capped = len(new) > spec.max_new_per_poll
        if capped:
            logger.info(
                "%s: %d new entries, taking %d this poll (max_new_per_poll)",
                spec.name,
                len(new),
                spec.max_new_per_poll,
            )
            new = new[: spec.max_new_per_poll]
        for key, entry in new:
            yield self.fetch_page(spec, fetcher, key, entry)
        self._finish(
            spec,
            state,
            result.status,
            outcome="ok",
            new=len(new),
            # A capped poll keeps the old hash, so the next poll reads the rest of this body.
            body_hash=state.body_hash if capped else body_hash,
            **validators,
        )
        return len(new)

    def sitemap_entries(
        self, spec: SourceSpec, state: SourceState, fetcher: Fetcher, body: bytes
    ) -> tuple[list[FeedEntry], str | None]:
        """A sitemap's URLs as entries, newest first; an index is followed one level, reading
        only child sitemaps changed since the last poll (all of them after a capped poll)."""
        parsed = parse_sitemap(body)
        if parsed.error:
            return [], parsed.error
        urls = list(parsed.urls)
        since = None if state.last_new_entries >= spec.max_new_per_poll else state.last_polled_at
        children = [c for c in parsed.children if is_newer(c.lastmod, since)]
        children.sort(key=lambda c: c.lastmod or "", reverse=True)
        for child in children[:MAX_CHILD_SITEMAPS]:
            result = fetcher.fetch(child.loc)
            self.records.fetch_log.extend(log_rows(spec.name, result))
            if not result.ok or result.body is None:
                logger.warning("%s: child sitemap %s: %s", spec.name, child.loc, result.error)
                continue
            sub = parse_sitemap(result.body)
            if sub.error:
                logger.warning("%s: child sitemap %s: %s", spec.name, child.loc, sub.error)
            urls.extend(sub.urls)
        urls.sort(key=lambda u: u.published_at or u.lastmod or "", reverse=True)
        return [entry_from_sitemap_url(u) for u in urls], None

    def preview_source(self, spec: SourceSpec) -> tuple[list[FeedEntry], set[str], str | None]:
        """What a poll would take on, without fetching pages or writing anything: the parsed
        entries, the keys already known, and the error that stopped parsing."""
        state = self.states.get(spec.name) or SourceState(
            name=spec.name, kind=spec.kind, location=spec.location
        )
        fetcher = self.fetcher_for(spec)
        result = fetcher.fetch(spec.location)
        if not result.ok or result.body is None:
            return [], set(), failure_reason(result)
        if spec.kind in SITEMAP_KINDS:
            entries, error = self.sitemap_entries(
                spec, replace(state, last_polled_at=None), fetcher, result.body
            )
        else:
            parsed = parse_feed(result.body, result.final_url, result.headers.get("content-type"))
            entries, error = list(parsed.entries), parsed.error
        known = known_entry_keys(self.db_path, spec.name)
        landed = known_canonicals(
            self.db_path, (e.canonical_link for e in entries if e.canonical_link)
        )
        return entries, known | landed, error

    def select_new(
        self, spec: SourceSpec, entries: Sequence[FeedEntry]
    ) -> list[tuple[str, FeedEntry]]:
        """Entries never taken on (by GUID in this feed, else by link, else by what they say)
        and not duplicates of a known article; duplicates and empty entries are recorded as
        outcomes. Entries without a web link are new too: they land from the feed's words."""
        known = known_entry_keys(self.db_path, spec.name)
        candidates: list[tuple[str, FeedEntry]] = []
        empty = 0
        for entry in entries:
            key = entry_identity(entry)
            if key is None:
                empty += 1
                key = f"empty:{empty}"  # one outcome row per empty item, stable in this feed
            if key in known or (spec.name, key) in self._run_keys:
                continue  # already taken on: not a discovery
            self._run_keys.add((spec.name, key))
            if key.startswith("empty:"):
                reason = "empty_entry: no GUID, link, title or summary"
                self._outcome(spec, key, entry, SKIPPED, reason)
                continue
            candidates.append((key, entry))
        landed = known_canonicals(
            self.db_path, (e.canonical_link for _, e in candidates if e.canonical_link)
        )
        new = []
        for key, entry in candidates:
            canonical = entry.canonical_link
            if canonical is None:
                new.append((key, entry))  # nothing to fetch: lands from the feed's own words
            elif canonical in landed or canonical in self._run_canonicals:
                self._outcome(spec, key, entry, DUPLICATE, "same canonical URL as a known article")
            else:
                self._run_canonicals.add(canonical)
                new.append((key, entry))
        return new

    def fetch_page(
        self, spec: SourceSpec, fetcher: Fetcher, key: str, entry: FeedEntry
    ) -> SourceItem:
        """Fetch an entry's page into the raw store; a failed fetch still yields the entry."""
        if entry.canonical_link is None:
            return self.linkless_item(spec, key, entry)
        assert entry.link is not None
        result = fetcher.fetch(entry.link)
        self.records.fetch_log.extend(log_rows(spec.name, result))
        feed_entry = {**asdict(entry), "entry_key": key}
        common: dict[str, Any] = {
            "source": spec.name,
            "url": entry.canonical_link,
            "discovered_at": utc_now().isoformat(),
            "feed_entry": feed_entry,
            "http_status": result.status,
            "final_url": result.final_url,
            "source_language": spec.language,
        }
        if result.ok and result.body is not None:
            raw_root = self.require_config().raw_root
            sha = put_raw(raw_root, result.body)
            return SourceItem(
                location=raw_url(raw_root, sha),
                kind="html.gz",
                raw_hash=sha,
                content_type=result.headers.get("content-type"),
                **common,
            )
        entry_bytes = json.dumps(feed_entry, sort_keys=True, ensure_ascii=False).encode()
        return SourceItem(
            location=entry.link,
            kind=FEED_ENTRY_KIND,
            raw_hash=hashlib.sha256(entry_bytes).hexdigest(),
            fetch_error=failure_reason(result),
            **common,
        )

    def linkless_item(self, spec: SourceSpec, key: str, entry: FeedEntry) -> SourceItem:
        """An entry without an http(s) link: nothing to fetch, so it lands from its summary.

        Its location is a URN of the feed and the entry's key, so its article id is stable.
        """
        feed_entry = {**asdict(entry), "entry_key": key}
        entry_bytes = json.dumps(feed_entry, sort_keys=True, ensure_ascii=False).encode()
        scope = hashlib.sha256(f"{spec.name}\0{key}".encode()).hexdigest()[:32]
        return SourceItem(
            source=spec.name,
            location=f"urn:tradewire:feed-entry:{scope}",
            kind=FEED_ENTRY_KIND,
            raw_hash=hashlib.sha256(entry_bytes).hexdigest(),
            url=None,
            discovered_at=utc_now().isoformat(),
            feed_entry=feed_entry,
            fetch_error="no_link: entry has no http(s) link",
        )

    def _outcome(
        self, spec: SourceSpec, key: str, entry: FeedEntry, state: str, reason: str
    ) -> None:
        canonical = entry.canonical_link
        self.records.outcomes.append(
            EntryOutcome(
                source=spec.name,
                entry_key=key,
                url=entry.link,
                canonical_url=canonical,
                article_id=article_id_for(canonical) if canonical else None,
                state=state,
                reason=reason,
                decided_at=utc_now().isoformat(),
                feed_entry={**asdict(entry), "entry_key": key},
            )
        )

    def _finish(
        self,
        spec: SourceSpec,
        state: SourceState,
        http_status: int | None,
        *,
        outcome: str = "failed",
        error: str | None = None,
        new: int = 0,
        **changes: Any,
    ) -> None:
        """Record the poll's result; a failure doubles the wait before the next poll."""
        now = utc_now()
        failures = state.consecutive_failures + 1 if error else 0
        final = replace(
            state,
            last_status=outcome,
            last_http_status=http_status,
            last_error=error,
            consecutive_failures=failures,
            last_polled_at=now.isoformat(),
            next_due_at=next_due(interval_of(spec), failures, now).isoformat(),
            last_new_entries=new,
            **changes,
        )
        self.states[spec.name] = final
        self.records.sources.append(final)
        if error:
            logger.warning(
                "polled %s: %s (%d failures in a row; next poll %s)",
                spec.name,
                error,
                failures,
                final.next_due_at,
            )
        else:
            logger.info("polled %s: %s, %d new entries", spec.name, outcome, new)


def interval_of(spec: SourceSpec) -> int:
    """The source's poll interval in minutes."""
    return spec.poll_interval_minutes or DEFAULT_POLL_INTERVAL_MINUTES


def folder_state(folder: str, new: int, error: str | None = None) -> SourceState:
    """A `sources` row for a folder source: always due, nothing fetched; `error` when the folder
    could not be read or held no documents."""
    now = utc_now().isoformat()
    return SourceState(
        name=folder,
        kind="folder",
        location=folder,
        last_status="failed" if error else "ok",
        last_error=error,
        consecutive_failures=1 if error else 0,
        last_polled_at=now,
        next_due_at=now,
        last_new_entries=new,
    )
