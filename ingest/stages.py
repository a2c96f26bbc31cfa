"""The pipeline's stages cut at their staging boundaries, for orchestrators such as Airflow.

Each function calls the stage of `ingest/pipeline.py` that `tradewire run` calls, reads and
writes batch files under the staging root and returns only their URLs and counts, so task
hand-offs (XCom) never carry article bodies. Extraction, between poll and load, runs in a
process of its own: ingest/extractjob.py.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from datetime import datetime
from functools import reduce
from pathlib import Path
from urllib.parse import urlsplit

from ingest.localfiles import DEFAULT_MAX_DOCUMENT_BYTES
from ingest.pipeline import (
    RunSummary,
    Tally,
    finish_pipeline,
    land,
    land_pending,
    open_discovery,
)
from ingest.polling import PollConfig, due_specs, read_source_states, utc_now
from ingest.pool import batched
from ingest.sources_registry import SourceSpec, is_web_kind
from ingest.staging import batch_url, read_jsonl, remove_run, run_files, write_jsonl
from ingest.urls import registrable_domain
from transforms.load import RunInfo
from transforms.records import TaggedArticle, tagged_article_from_dict

logger = logging.getLogger(__name__)


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
    # Always one group at least, so a run with nothing due still stages a tally.
    ordered = [groups[key] for key in sorted(groups)] or [[]]
    logger.info("%d sources due in %d groups", len(due), len(ordered))
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
    max_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
) -> list[str]:
    """Discover one host group's new documents as batches; its tally (counts and poll records)
    is staged beside them for the load task, the only one that writes DuckDB."""
    group = int(group_url.rsplit("-", 1)[1].split(".", 1)[0])
    specs = [
        SourceSpec(**{**row, "allowed_hosts": tuple(row.get("allowed_hosts") or ())})
        for row in read_jsonl(group_url)
    ]
    folders = [s.location for s in specs if s.kind == "folder"]
    feeds = [s for s in specs if is_web_kind(s.kind)]
    with open_discovery(folders, feeds, db_path, config, max_bytes) as discovery:
        stage = f"discovered-g{group:04d}"
        urls = [
            write_jsonl(batch_url(staging_root, run_id, stage, i), (asdict(x) for x in batch))
            for i, batch in enumerate(batched(discovery, batch_size))
        ]
    tally = discovery.tally()
    write_jsonl(batch_url(staging_root, run_id, f"tally-g{group:04d}", 0), tally.to_rows())
    logger.info(
        "group %d: %d documents seen, %d staged in %d batches",
        group,
        tally.seen,
        discovery.fresh,
        len(urls),
    )
    return urls


def read_tagged(urls: Sequence[str]) -> Iterator[list[TaggedArticle]]:
    """Staged tagged batches, one at a time, so a run's articles are never all in memory."""
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
) -> RunSummary:
    """Land every tagged batch of a run, close the run and clean its staging files.

    Landings earlier runs could not make (the file was locked) land first; if the file is
    locked now, what this run staged is kept the same way for the next run.
    """
    tallies = [
        Tally.from_rows(list(read_jsonl(url))) for url in run_files(staging_root, run_id, "tally")
    ]
    run = RunInfo(run_id, started_at, trigger)
    land_pending(db_path, staging_root)
    counts = land(db_path, read_tagged(urls), run, keep_root=staging_root, keep_rest=True)
    summary = finish_pipeline(db_path, run, reduce(Tally.__add__, tallies, Tally()), counts)
    remove_run(staging_root, run_id)
    return summary
