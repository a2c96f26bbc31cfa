"""The ingest pipeline cut at its staging boundaries, for orchestrators such as Airflow.

Each function reads and writes batch files under the staging root and returns only their
URLs and counts, so task hand-offs (XCom) never carry article bodies.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from ingest.pipeline import (
    LAND_SIZE,
    chunk,
    discover_items,
    extract_items,
    group_batches,
    tag_articles,
    worker_count,
)
from ingest.records import SourceItem, TaggedArticle, article_from_dict, tagged_article_from_dict
from ingest.staging import batch_url, read_jsonl, remove_run, write_jsonl
from transforms.load import LoadCounts, RunInfo, finish_run, land_batches


def discover_to_staging(
    sources: Sequence[str], db_path: Path, staging_root: str, run_id: str, batch_size: int
) -> list[str]:
    """Stage new or changed documents as batches; the run's counts go to its manifest."""
    items, seen = discover_items(sources, db_path)
    urls = [
        write_jsonl(batch_url(staging_root, run_id, "discovered", i), (asdict(x) for x in batch))
        for i, batch in enumerate(chunk(items, batch_size))
    ]
    write_jsonl(manifest_url(staging_root, run_id), [{"seen": seen, "fresh": len(items)}])
    return urls


def manifest_url(staging_root: str, run_id: str) -> str:
    """Where a run's discovery counts wait for its load task."""
    return batch_url(staging_root, run_id, "manifest", 0)


def extract_staged(url: str, workers: int = 0) -> str:
    """Extract one staged batch with every core; returns the URL of the extracted batch."""
    items = [SourceItem(**row) for row in read_jsonl(url)]
    articles = extract_items(items, worker_count(workers))
    out = url.replace("/discovered-", "/extracted-")
    return write_jsonl(out, (asdict(a) for a in articles))


def tag_staged(url: str) -> str:
    """Tag one extracted batch; returns the URL of the tagged batch."""
    articles = [article_from_dict(row) for row in read_jsonl(url)]
    out = url.replace("/extracted-", "/tagged-")
    return write_jsonl(out, (asdict(t) for t in tag_articles(articles)))


def _iter_tagged(urls: Sequence[str]) -> Iterator[list[TaggedArticle]]:
    for url in urls:
        yield [tagged_article_from_dict(row) for row in read_jsonl(url)]


def load_staged(
    urls: Sequence[str],
    db_path: Path,
    *,
    run_id: str,
    started_at: datetime,
    trigger: str,
    staging_root: str,
) -> dict[str, int]:
    """Land every tagged batch of a run (in short transactions of LAND_SIZE) and record the run."""
    manifest = next(read_jsonl(manifest_url(staging_root, run_id)))
    seen, fresh = int(manifest["seen"]), int(manifest["fresh"])
    # Staged batches are small; landing them in groups saves a checkpoint per batch.
    counts = land_batches(db_path, group_batches(_iter_tagged(urls), LAND_SIZE), run_id)
    counts = counts + LoadCounts(unchanged=seen - fresh)
    finish_run(db_path, RunInfo(run_id, started_at, trigger), seen, counts)
    remove_run(staging_root, run_id)
    return {"seen": seen, **asdict(counts)}
