"""The ingest pipeline cut at its staging boundaries, for orchestrators such as Airflow.

Each function reads and writes batch files under the staging root and returns only their
URLs and counts, so task hand-offs (XCom) never carry article bodies.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from ingest.pipeline import (
    LAND_SIZE,
    Discovery,
    chunk,
    discover_items,
    extract_items,
    group_batches,
    load_known_hashes,
    tag_articles,
    worker_count,
)
from ingest.polling import (
    FeedPoller,
    PollConfig,
    due_specs,
    folder_state,
    read_source_states,
    utc_now,
)
from ingest.records import SourceItem
from ingest.sources_registry import SourceSpec
from ingest.staging import batch_url, read_jsonl, remove_run, run_files, write_jsonl
from ingest.urls import registrable_domain
from transforms.live_sources import record_poll
from transforms.load import LoadCounts, RunInfo, finish_run, land_batches
from transforms.pollrecords import PollRecords
from transforms.records import TaggedArticle, article_from_dict, tagged_article_from_dict


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


def host_group(spec: SourceSpec) -> str:
    """Feeds of one site share a group (and so a task): politeness is per host anyway."""
    if spec.kind == "folder":
        return ""
    return registrable_domain(urlsplit(spec.location).hostname or "")


def plan_to_staging(
    specs: Sequence[SourceSpec], db_path: Path, staging_root: str, run_id: str
) -> list[str]:
    """Stage the sources that are due, one file per host group (folders together, first)."""
    due = due_specs(specs, read_source_states(db_path), utc_now())
    groups: dict[str, list[SourceSpec]] = defaultdict(list)
    for spec in due:
        groups[host_group(spec)].append(spec)
    # Always one group at least, so a run with nothing due still stages a manifest.
    ordered = [groups[key] for key in sorted(groups)] or [[]]
    return [
        write_jsonl(batch_url(staging_root, run_id, "plan", i), (asdict(s) for s in group))
        for i, group in enumerate(ordered)
    ]


def poll_to_staging(
    group_url: str,
    db_path: Path,
    staging_root: str,
    run_id: str,
    batch_size: int,
    config: PollConfig,
) -> list[str]:
    """Discover one host group's new documents as batches; its poll records and counts are
    staged beside them for the load task, the only one that writes DuckDB."""
    group = int(group_url.rsplit("-", 1)[1].split(".", 1)[0])
    specs = [
        SourceSpec(**{**row, "allowed_hosts": tuple(row.get("allowed_hosts") or ())})
        for row in read_jsonl(group_url)
    ]
    folders = [s.location for s in specs if s.kind == "folder"]
    with FeedPoller(specs, db_path, config) as poller:
        discovery = Discovery(folders, load_known_hashes(db_path), feeds=poller)
        items = list(discovery)
    records = poller.records
    records.sources.extend(folder_state(f, n) for f, n in discovery.fresh_by_folder.items())
    stage = f"discovered-g{group:04d}"
    urls = [
        write_jsonl(batch_url(staging_root, run_id, stage, i), (asdict(x) for x in batch))
        for i, batch in enumerate(chunk(items, batch_size))
    ]
    write_jsonl(batch_url(staging_root, run_id, f"polled-g{group:04d}", 0), records.to_rows())
    write_jsonl(
        batch_url(staging_root, run_id, f"manifest-g{group:04d}", 0),
        [{"seen": discovery.seen + poller.duplicates, "fresh": len(items)}],
    )
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
    # One manifest per discover or poll task (one per host group).
    manifests = [
        row for url in run_files(staging_root, run_id, "manifest") for row in read_jsonl(url)
    ]
    seen = sum(int(m["seen"]) for m in manifests)
    fresh = sum(int(m["fresh"]) for m in manifests)
    # Staged batches are small; landing them in groups saves a checkpoint per batch.
    counts = land_batches(db_path, group_batches(_iter_tagged(urls), LAND_SIZE), run_id)
    records = PollRecords()
    for url in run_files(staging_root, run_id, "polled"):
        records.extend(PollRecords.from_rows(read_jsonl(url)))
    # Source state lands after the articles, so a failed load leaves the entries to rediscover.
    record_poll(db_path, records, run_id)
    counts = counts + LoadCounts(unchanged=seen - fresh)
    finish_run(db_path, RunInfo(run_id, started_at, trigger), seen, counts)
    remove_run(staging_root, run_id)
    return {"seen": seen, **asdict(counts)}
