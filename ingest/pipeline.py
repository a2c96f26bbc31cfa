"""The ingest pipeline's stages, shared by `tradewire run` and the Airflow DAG."""

from __future__ import annotations

import multiprocessing
import os
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from itertools import chain, islice
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from ingest.extraction import add_language
from ingest.folder import document_kind, scan_folder
from ingest.records import SourceItem
from ingest.workers import extract_chunk, process_chunk, warm_worker
from ingest.workers import tag_articles as tag_articles  # re-exported: the DAG's tag stage
from transforms.database import DatabaseMissingError, connect
from transforms.load import LoadCounts, RunInfo, finish_run, land_batches
from transforms.records import Article, TaggedArticle

if TYPE_CHECKING:
    from ingest.polling import PollConfig
    from ingest.sources_registry import SourceSpec

T = TypeVar("T")
R = TypeVar("R")
# Called with (documents extracted and tagged, documents to do) as each batch completes.
ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class RunSummary:
    """What a run saw and did; printed by the CLI and returned by the DAG's load task."""

    run_id: str
    seen: int
    counts: LoadCounts

    def describe(self) -> str:
        c = self.counts
        return (
            f"run {self.run_id}: seen {self.seen}, new {c.new}, updated {c.updated}, "
            f"unchanged {c.unchanged}, failed {c.failed}"
        )


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
    except DatabaseMissingError:
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
    feeds: Iterable[SourceItem] = ()
    fresh_by_folder: dict[str, int] = field(default_factory=dict)

    def __iter__(self) -> Iterator[SourceItem]:
        for source in self.sources:
            self.fresh_by_folder.setdefault(str(Path(source).resolve()), 0)
            for item in scan_folder(Path(source), self.known):
                self.seen += 1
                if not item.raw_hash or self.known.get(item.location) != item.raw_hash:
                    self.fresh += 1
                    self.fresh_by_folder[item.source] = self.fresh_by_folder.get(item.source, 0) + 1
                    yield item
        for item in self.feeds:
            self.seen += 1
            self.fresh += 1
            yield item

    @property
    def unchanged(self) -> int:
        """Documents skipped so far because their bytes match what is already landed."""
        return self.seen - self.fresh


def discover_items(sources: Sequence[str], db_path: Path) -> tuple[list[SourceItem], int]:
    """New or changed documents across the sources, and how many documents were seen in all."""
    discovery = Discovery(sources, load_known_hashes(db_path))
    fresh = list(discovery)
    return fresh, discovery.seen


def count_documents(sources: Sequence[str]) -> int:
    """Documents the folder sources hold, without reading them: the total for a progress bar."""
    return sum(
        1
        for source in sources
        for path in Path(source).resolve().rglob("*")
        if document_kind(path) is not None and path.is_file()
    )


def chunk(items: Sequence[SourceItem], size: int) -> list[list[SourceItem]]:
    """Fixed-size batches: the unit of extraction, staging and landing."""
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def worker_count(configured: int) -> int:
    """Processes for extraction: all cores unless configured otherwise."""
    return configured if configured > 0 else (os.cpu_count() or 1)


# Pages per pool task: small enough that cores finish a run together, large enough that
# pickling and scheduling stay a rounding error next to ~0.06 s of extraction per page.
TASK_SIZE = 8
# Tasks in flight per pool worker: keeps it busy while this process lands a batch (~0.6 s
# against ~2 s of queued work), and caps how many pages are held at once.
LOOKAHEAD_PER_WORKER = 4
# Tasks this process may finish ahead of a pool task still running: it keeps extracting
# instead of waiting, within a bound on results held back to keep the output in order.
LOCAL_AHEAD = 8
# Below this many documents a pool costs more to start than it saves.
MIN_POOL_ITEMS = 4
# Articles per DuckDB transaction in a run. Each landing has ~0.3 s of fixed cost (opening the
# file replays the write-ahead log the last one left, then the commit), so not a hundred per
# 10,000 pages; but the landing is the memory peak of a run (DuckDB's insert buffers and the
# automatic checkpoints inside its commits), so not thousands at once either.
LAND_SIZE = 500
# How pool workers start. "spawn": a fresh interpreter that imports only ingest.workers (no
# duckdb, pyarrow or Airflow), used by `tradewire run`. "fork": for callers, such as an Airflow
# task, whose main module is costly to import again in every worker; the models this process
# loaded are then shared copy-on-write.
START_METHOD = "spawn"


def pool_context(start_method: str = START_METHOD) -> BaseContext:
    """The multiprocessing context for extraction workers; the platform's default otherwise."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context(start_method if start_method in methods else None)


def map_in_pool(
    fn: Callable[[Sequence[SourceItem]], list[R]],
    items: Iterable[SourceItem],
    workers: int,
    task_size: int = TASK_SIZE,
    start_method: str = START_METHOD,
    initializer: Callable[[], None] = warm_worker,
) -> Iterator[R]:
    """Ordered results of fn over chunks of items, using `workers` processes in all.

    The caller is one of them: while the oldest pool task is still running it takes the next
    task itself, so a pool of workers - 1 keeps every core busy without a third process's
    memory (each extraction process holds 100-200 MB of models, libraries and parse heap).
    Unlike Executor.map, which submits every task at once, inputs are read lazily and only a
    few tasks are in flight, so pages and results are never all in memory together.
    """
    tasks = batched(items, task_size)
    if workers <= 1:
        for task in tasks:
            yield from fn(task)
        return
    context = pool_context(start_method)
    forked = context.get_start_method() == "fork"
    if forked:
        # Loaded before forking, the models are shared copy-on-write instead of built per worker.
        warm_worker()
    in_pool_limit = (workers - 1) * LOOKAHEAD_PER_WORKER
    pending: deque[Future[list[R]] | list[R]] = deque()
    in_pool = 0
    exhausted = False
    pool = ProcessPoolExecutor(workers - 1, mp_context=context, initializer=initializer)
    try:
        if not forked:
            warm_worker()  # while the spawned workers start and warm up in parallel
        while True:
            while not exhausted and in_pool < in_pool_limit:
                task = next(tasks, [])  # batched never yields an empty list
                if not task:
                    exhausted = True
                else:
                    pending.append(pool.submit(fn, task))
                    in_pool += 1
            if not pending:
                return
            head = pending[0]
            busy = isinstance(head, Future) and not head.done()
            if busy and not exhausted and len(pending) - in_pool < LOCAL_AHEAD:
                task = next(tasks, [])
                if not task:
                    exhausted = True
                else:
                    pending.append(fn(task))  # results stay in input order
                continue
            pending.popleft()
            if isinstance(head, Future):
                in_pool -= 1
                yield from head.result()
            else:
                yield from head
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of `size` items (the last may be shorter), read lazily."""
    it = iter(items)
    while piece := list(islice(it, size)):
        yield piece


def extract_items(items: Sequence[SourceItem], workers: int = 1) -> list[Article]:
    """Extract a batch, in a process pool when it is worth the start-up cost."""
    if workers <= 1 or len(items) < MIN_POOL_ITEMS:
        return extract_chunk(items)
    task_size = max(1, min(TASK_SIZE, len(items) // (workers * 2)))
    workers = min(workers, len(items))
    return list(map_in_pool(extract_chunk, items, workers, task_size, start_method="fork"))


def iter_tagged_batches(
    items: Iterable[SourceItem], batch_size: int, workers: int
) -> Iterator[list[TaggedArticle]]:
    """Extract and tag in one pool for the whole run, yielding landing batches in input order.

    Items are read lazily, and workers keep extracting the next pages while the caller lands a
    batch; memory stays bounded by one batch plus the tasks in flight.
    """
    stream = iter(items)
    head = list(islice(stream, MIN_POOL_ITEMS))
    if workers <= 1 or len(head) < MIN_POOL_ITEMS:
        for piece in batched(chain(head, stream), batch_size):
            yield process_chunk(piece)
        return
    # Languages are detected here, in the one process that also lands: py3langid's model is the
    # largest thing an extraction process would hold (73 MB), so the pool's workers skip it.
    batch: list[TaggedArticle] = []
    extract = partial(process_chunk, language=False)
    lean = partial(warm_worker, language=False)
    for tagged in map_in_pool(extract, chain(head, stream), workers, initializer=lean):
        batch.append(replace(tagged, article=add_language(tagged.article)))
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


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
    batches: Iterable[list[TaggedArticle]], size: int
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
) -> RunSummary:
    """One full pass without Airflow: discover, extract, tag and land, batch by batch.

    Discovery hashes files (and polls `feeds`, now, whether due or not) as the pool asks for
    items; workers extract and tag; this process lands `land_size` articles per transaction,
    opening the database (and so taking its write lock) only for each landing.
    """
    from ingest.polling import FeedPoller, folder_state
    from transforms.live_sources import record_poll

    if feeds and poll is None:
        raise ValueError("feed sources need a PollConfig")
    run = RunInfo(run_id=run_id or new_run_id(), started_at=datetime.now(UTC), trigger="cli")
    with FeedPoller(feeds, db_path, poll) as poller:
        discovery = Discovery(sources, load_known_hashes(db_path), feeds=poller)
        batches = iter_tagged_batches(discovery, batch_size, worker_count(workers))
        if progress is not None:
            report = progress
            batches = report_progress(
                batches,
                count_documents(sources),
                lambda done, total: report(done + discovery.unchanged, total),
            )
        counts = land_batches(db_path, group_batches(batches, land_size), run.run_id)
    records = poller.records
    records.sources.extend(folder_state(f, n) for f, n in discovery.fresh_by_folder.items())
    # Source state lands after the articles: if the run dies first, the next poll finds the
    # same entries again instead of believing they landed.
    record_poll(db_path, records, run.run_id)
    # Documents skipped at discovery are unchanged too; the load only counts what it compared.
    seen = discovery.seen + poller.duplicates
    counts = counts + LoadCounts(unchanged=discovery.unchanged + poller.duplicates)
    finish_run(db_path, run, seen, counts)
    return RunSummary(run_id=run.run_id, seen=seen, counts=counts)
