"""The ingest pipeline's stages, shared by `tradewire run` and the Airflow DAG."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ingest.extraction import extract_item
from ingest.folder import scan_folder
from ingest.records import Article, SourceItem, TaggedArticle, TagResult
from transforms.database import DatabaseMissingError, connect
from transforms.load import LoadCounts, RunInfo, finish_run, land_batches
from transforms.tagging import load_tagger


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


def discover_items(sources: Sequence[str], db_path: Path) -> tuple[list[SourceItem], int]:
    """New or changed documents across the sources, and how many documents were seen in all."""
    known = load_known_hashes(db_path)
    seen = 0
    fresh: list[SourceItem] = []
    for source in sources:
        for item in scan_folder(Path(source)):
            seen += 1
            if known.get(item.location) != item.raw_hash:
                fresh.append(item)
    return fresh, seen


def chunk(items: Sequence[SourceItem], size: int) -> list[list[SourceItem]]:
    """Fixed-size batches: the unit of extraction, staging and landing."""
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def worker_count(configured: int) -> int:
    """Processes for extraction: all cores unless configured otherwise."""
    return configured if configured > 0 else (os.cpu_count() or 1)


def extract_items(items: Sequence[SourceItem], workers: int = 1) -> list[Article]:
    """Extract a batch, in a process pool when it is worth the start-up cost."""
    if workers <= 1 or len(items) < 4:
        return [extract_item(item) for item in items]
    with ProcessPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(extract_item, items, chunksize=4))


def tag_articles(articles: Iterable[Article]) -> list[TaggedArticle]:
    """Tag extracted articles; error rows pass through with an empty tag set."""
    tagger = load_tagger()
    empty = TagResult(False, 0.0, (), (), (), tagger.version)
    return [
        TaggedArticle(
            article=article,
            tags=tagger.tag(article.title, article.text) if article.error is None else empty,
        )
        for article in articles
    ]


def iter_tagged_batches(
    items: Sequence[SourceItem], batch_size: int, workers: int
) -> Iterator[list[TaggedArticle]]:
    """Extract and tag batch by batch so memory stays bounded by one batch."""
    for batch in chunk(items, batch_size):
        yield tag_articles(extract_items(batch, workers))


def run_pipeline(
    sources: Sequence[str],
    db_path: Path,
    *,
    batch_size: int = 100,
    workers: int = 0,
    run_id: str | None = None,
) -> RunSummary:
    """One full pass without Airflow: discover, extract, tag and land, batch by batch."""
    run = RunInfo(run_id=run_id or new_run_id(), started_at=datetime.now(UTC), trigger="cli")
    items, seen = discover_items(sources, db_path)
    batches = iter_tagged_batches(items, batch_size, worker_count(workers))
    counts = land_batches(db_path, batches, run.run_id)
    # Documents skipped at discovery are unchanged too; the load only counts what it compared.
    counts = counts + LoadCounts(unchanged=seen - len(items))
    finish_run(db_path, run, seen, counts)
    return RunSummary(run_id=run.run_id, seen=seen, counts=counts)
