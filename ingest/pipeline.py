"""The one pipeline: discover -> extract and tag -> land -> finish, for the CLI and the DAG alike.

`tradewire run` composes the stages in one process (`run_pipeline`); the Airflow DAG calls the
same stages one task each, with staged batches between them (`ingest/stages.py`). Either way the
same settings apply, the same code extracts, tags and lands, and `finish_pipeline` closes the run.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from ingest.folder import FolderScan, document_kind, scan_folder
from ingest.localfiles import DEFAULT_MAX_DOCUMENT_BYTES
from ingest.polling import FeedPoller, PollConfig, folder_state
from ingest.pool import batched, worker_count
from ingest.records import SourceItem
from ingest.staging import keep_pending, pending_batches, read_pending, remove_pending
from ingest.tagstream import tag_stream
from transforms.database import DatabaseBusyError, DatabaseMissingError, connect
from transforms.live_sources import record_poll
from transforms.load import (
    FAILED,
    INTERRUPTED,
    LoadCounts,
    RunInfo,
    end_run,
    finish_run,
    land_group,
)
from transforms.pollrecords import PollRecords
from transforms.records import TaggedArticle, tagged_article_from_dict

if TYPE_CHECKING:
    from ingest.sources_registry import SourceSpec

logger = logging.getLogger(__name__)

# Called with (documents extracted and tagged, documents to do) as each batch completes.
ProgressCallback = Callable[[int, int], None]

# Articles per DuckDB transaction in a run. Each landing has ~0.3 s of fixed cost (opening the
# file replays the write-ahead log the last one left, then the commit), so not a hundred per
# 10,000 pages; but the landing is the memory peak of a run (DuckDB's insert buffers and the
# automatic checkpoints inside its commits), so not thousands at once either.
LAND_SIZE = 500


@dataclass(frozen=True)
class RunSummary:
    """What a run saw and did; printed by the CLI and returned by the DAG's load task."""

    run_id: str
    seen: int
    counts: LoadCounts
    # (source, "<error_class>: <detail>") for every source that failed as a whole: a feed
    # that could not be fetched or parsed, a folder that could not be read or held no documents.
    failed_sources: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        c = self.counts
        line = (
            f"run {self.run_id}: seen {self.seen}, new {c.new}, updated {c.updated}, "
            f"unchanged {c.unchanged}, failed {c.failed}"
        )
        if self.failed_sources:
            line += f"; {len(self.failed_sources)} of the sources failed"
        return line

    def problems(self) -> list[str]:
        """One line per failed source, saying why."""
        return [f"source {name} failed: {error}" for name, error in self.failed_sources]

    def to_dict(self) -> dict[str, int]:
        """The run's counts as the DAG's load task returns them (XCom: numbers only)."""
        c = self.counts
        return {
            "seen": self.seen,
            "new": c.new,
            "updated": c.updated,
            "unchanged": c.unchanged,
            "failed": c.failed,
            "failed_sources": len(self.failed_sources),
        }


@dataclass(frozen=True)
class Tally:
    """What discovery saw beyond the documents it handed on: counts and the polls' records."""

    seen: int = 0
    unchanged: int = 0  # skipped at discovery: same bytes as landed, or a duplicate entry
    records: PollRecords = field(default_factory=PollRecords)

    def __add__(self, other: Tally) -> Tally:
        records = PollRecords()
        records.extend(self.records)
        records.extend(other.records)
        return Tally(self.seen + other.seen, self.unchanged + other.unchanged, records)

    def to_rows(self) -> list[dict[str, Any]]:
        """Staged form: a counts row, then the poll records' rows."""
        return [{"seen": self.seen, "unchanged": self.unchanged}, *self.records.to_rows()]

    @classmethod
    def from_rows(cls, rows: Iterable[dict[str, Any]]) -> Tally:
        """Rebuild a staged tally."""
        head, *rest = list(rows)
        return cls(int(head["seen"]), int(head["unchanged"]), PollRecords.from_rows(rest))


def new_run_id(prefix: str = "cli") -> str:
    """Sortable, unique run id for runs outside Airflow."""
    return f"{prefix}__{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}_{uuid.uuid4().hex[:6]}"


def load_known_hashes(db_path: Path) -> dict[str, str]:
    """Location -> raw hash of what is landed or already failed, so unchanged files are skipped."""
    try:
        with connect(db_path, read_only=True) as con:
            rows = con.execute(
                "SELECT location, raw_hash FROM articles "
                "UNION ALL SELECT location, raw_hash FROM ingest_errors WHERE raw_hash IS NOT NULL"
            ).fetchall()
    except (DatabaseMissingError, duckdb.CatalogException):
        # No file yet, or a first run was killed before its migrations: nothing has landed.
        return {}
    return {str(location): str(raw_hash) for location, raw_hash in rows}


@dataclass
class Discovery:
    """New or changed documents, found lazily so hashing overlaps extraction; counts as it goes."""

    sources: Sequence[str]
    known: dict[str, str]
    seen: int = 0
    fresh: int = 0
    # New feed entries (ingest/polling.py), after the folders: always fresh, never re-hashed.
    feeds: FeedPoller | None = None
    fresh_by_folder: dict[str, int] = field(default_factory=dict)
    max_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES  # the document limit, for hashing known files
    scans: dict[str, FolderScan] = field(default_factory=dict)  # what each folder held

    def __iter__(self) -> Iterator[SourceItem]:
        for source in self.sources:
            root = str(Path(source).resolve())
            self.fresh_by_folder.setdefault(root, 0)
            scan = self.scans.setdefault(root, FolderScan(root))
            for item in scan_folder(Path(source), self.known, self.max_bytes, scan):
                self.seen += 1
                if not item.raw_hash or self.known.get(item.location) != item.raw_hash:
                    self.fresh += 1
                    self.fresh_by_folder[item.source] = self.fresh_by_folder.get(item.source, 0) + 1
                    yield item
        for item in self.feeds or ():
            self.seen += 1
            self.fresh += 1
            yield item

    @property
    def unchanged(self) -> int:
        """Documents skipped so far because their bytes match what is already landed."""
        return self.seen - self.fresh

    def tally(self) -> Tally:
        """Counts and poll records once the documents are consumed; folders get a state row."""
        duplicates = self.feeds.duplicates if self.feeds is not None else 0
        records = PollRecords()
        if self.feeds is not None:
            records.extend(self.feeds.records)
        records.sources.extend(
            folder_state(f, n, self.scans[f].failure() if f in self.scans else None)
            for f, n in self.fresh_by_folder.items()
        )
        return Tally(self.seen + duplicates, self.unchanged + duplicates, records)


@contextmanager
def open_discovery(
    folders: Sequence[str],
    feeds: Sequence[SourceSpec],
    db_path: Path,
    poll: PollConfig | None,
    max_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
) -> Iterator[Discovery]:
    """Stage 1: folders hashed and feeds polled (now, whether due or not) as items are asked for."""
    if feeds and poll is None:
        raise ValueError("feed sources need a PollConfig")
    with FeedPoller(feeds, db_path, poll) as poller:
        yield Discovery(folders, load_known_hashes(db_path), feeds=poller, max_bytes=max_bytes)


def count_documents(sources: Sequence[str]) -> int:
    """Documents the folder sources hold, without reading them: the total for a progress bar."""
    return sum(
        1
        for source in sources
        for path in Path(source).resolve().rglob("*")
        if document_kind(path) is not None and path.is_file()
    )


def land(
    db_path: Path,
    batches: Iterable[Sequence[TaggedArticle]],
    run: RunInfo,
    land_size: int = LAND_SIZE,
    keep_root: str | None = None,
    keep_rest: bool = False,
) -> LoadCounts:
    """Stage 3: land batches in transactions of at least `land_size` articles each.

    Each landing also adds its counts to the run's ingest_runs row (in its transaction). When
    the file stays locked past TRADEWIRE_LOCK_WAIT_SECONDS, the articles of that landing (and
    with `keep_rest` every batch still to come: staged ones cost nothing to read) are kept
    under `keep_root` (the staging root), and the next run lands them before anything else.
    """
    total = LoadCounts()
    groups = group_batches(batches, land_size)
    for group in groups:
        try:
            total = total + land_group(db_path, group, run)
        except DatabaseBusyError as exc:
            if keep_root is None:
                raise
            database = str(db_path.resolve())
            kept = [keep_pending(keep_root, database, run, group)]
            count = len(group)
            for rest in groups if keep_rest else ():
                kept.append(keep_pending(keep_root, database, run, rest))
                count += len(rest)
            raise DatabaseBusyError(
                f"{exc}. The {count} extracted articles not landed are kept in "
                f"{', '.join(kept)}; the next run lands them without extracting them again"
            ) from exc
    return total


def land_pending(db_path: Path, keep_root: str) -> LoadCounts:
    """Land what earlier runs extracted but could not land (the file was locked), each under
    the run that extracted it, then drop the kept files. A still-locked file raises as usual."""
    total = LoadCounts()
    for url in pending_batches(keep_root, str(db_path.resolve())):
        kept = read_pending(url)
        if kept is None:
            continue
        run_row, rows = kept
        run = RunInfo(
            str(run_row["run_id"]),
            datetime.fromisoformat(str(run_row["started_at"])),
            str(run_row.get("trigger") or "cli"),
        )
        counts = land_group(db_path, [tagged_article_from_dict(r) for r in rows], run)
        remove_pending(url)
        logger.warning(
            "landed %d articles kept by run %s when the database was locked",
            counts.new + counts.updated + counts.unchanged + counts.failed,
            run.run_id,
        )
        total = total + counts
    return total


def failed_sources(tally: Tally) -> tuple[tuple[str, str], ...]:
    """(name, error) of every source whose poll or scan failed in this run."""
    return tuple(
        (state.name, state.last_error or "failed")
        for state in tally.records.sources
        if state.last_status == "failed"
    )


def finish_pipeline(db_path: Path, run: RunInfo, tally: Tally, counts: LoadCounts) -> RunSummary:
    """Stage 4, the end of every run: source state, then the run's totals.

    Source state lands after the articles: if the run dies first, the next poll finds the same
    entries again instead of believing they landed.
    """
    record_poll(db_path, tally.records, run.run_id)
    # Documents skipped at discovery are unchanged too; the load only counts what it compared.
    counts = counts + LoadCounts(unchanged=tally.unchanged)
    failures = failed_sources(tally)
    finish_run(db_path, run, tally.seen, counts, len(failures))
    summary = RunSummary(run_id=run.run_id, seen=tally.seen, counts=counts, failed_sources=failures)
    logger.info("%s", summary.describe())
    for problem in summary.problems():
        logger.warning("%s", problem)
    return summary


@contextmanager
def run_guard(db_path: Path, run: RunInfo) -> Iterator[None]:
    """Mark the run's row failed (or interrupted, on Ctrl-C) when the run dies of an exception.

    Only a row its landings wrote is touched, and only briefly: if the database is what failed,
    the next run marks the row interrupted instead (its process is gone).
    """
    try:
        yield
    except BaseException as exc:
        status = INTERRUPTED if isinstance(exc, KeyboardInterrupt) else FAILED
        if not isinstance(exc, DatabaseBusyError):
            try:
                end_run(db_path, run.run_id, status)
            except Exception as inner:  # the original error is the one to report
                logger.debug("could not mark run %s %s: %s", run.run_id, status, inner)
        raise


def report_progress(
    batches: Iterable[list[TaggedArticle]], total: int, progress: ProgressCallback
) -> Iterator[list[TaggedArticle]]:
    """Pass batches through, calling progress(done, total) as the consumer takes each one."""
    done = 0
    for batch in batches:
        done += len(batch)
        progress(done, total)
        yield batch


def group_batches(
    batches: Iterable[Sequence[TaggedArticle]], size: int
) -> Iterator[list[TaggedArticle]]:
    """Join consecutive batches into groups of at least `size` articles, one transaction each."""
    group: list[TaggedArticle] = []
    for batch in batches:
        group.extend(batch)
        if len(group) >= size:
            yield group
            group = []
    if group:
        yield group


def run_pipeline(
    sources: Sequence[str],
    db_path: Path,
    *,
    batch_size: int = 100,
    workers: int = 0,
    run_id: str | None = None,
    progress: ProgressCallback | None = None,
    land_size: int = LAND_SIZE,
    feeds: Sequence[SourceSpec] = (),
    poll: PollConfig | None = None,
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
    keep_root: str | None = None,
) -> RunSummary:
    """One full pass without Airflow: the four stages streamed in this process and its pool.

    Workers extract and tag while this process lands `land_size` articles per transaction,
    opening the database (and so taking its write lock) only for each landing. With
    `keep_root` (the staging root), articles a locked file kept from landing are kept there
    and landed first by the next run.
    """
    run = RunInfo(run_id=run_id or new_run_id(), started_at=datetime.now(UTC), trigger="cli")
    if keep_root is not None:
        land_pending(db_path, keep_root)
    with (
        run_guard(db_path, run),
        open_discovery(sources, feeds, db_path, poll, max_document_bytes) as discovery,
    ):
        tagged = tag_stream(discovery, worker_count(workers), max_bytes=max_document_bytes)
        batches: Iterable[list[TaggedArticle]] = batched(tagged, batch_size)
        if progress is not None:
            report = progress
            batches = report_progress(
                batches,
                count_documents(sources),
                lambda done, total: report(done + discovery.unchanged, total),
            )
        counts = land(db_path, batches, run, land_size, keep_root)
        return finish_pipeline(db_path, run, discovery.tally(), counts)
