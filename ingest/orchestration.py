"""Settings-aware entry points for Airflow tasks: each DAG task body is one call here."""

from __future__ import annotations

import logging
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

from ingest.extractjob import run_extract_job
from ingest.polling import poll_config
from ingest.sources_registry import SourceSpec, enabled_sources, load_sources
from ingest.stages import load_staged, plan_to_staging, poll_to_staging
from transforms.settings import Settings

logger = logging.getLogger(__name__)


def configured_sources(settings: Settings) -> list[SourceSpec]:
    """The registry's enabled sources (TRADEWIRE_SOURCES_FILE), which the scheduled DAG ingests.

    The registry's folder at the default seeds location follows TRADEWIRE_SEEDS_DIR, so the
    inbox watcher and the ingest read the same folder.
    """
    default_seeds = Settings.model_fields["seeds_dir"].default
    return [
        replace(spec, location=str(settings.seeds_dir))
        if spec.kind == "folder" and Path(spec.location) == Path(default_seeds).resolve()
        else spec
        for spec in enabled_sources(load_sources(settings.sources_file))
    ]


def plan_for_run(run_id: str) -> list[str]:
    """Stage the due sources of one orchestrated run, one file per host group."""
    settings = Settings()
    return plan_to_staging(configured_sources(settings), settings.db, settings.staging_root, run_id)


def poll_for_run(group_url: str, run_id: str) -> list[str]:
    """Poll one host group and stage its new documents as batches."""
    settings = Settings()
    return poll_to_staging(
        group_url,
        settings.db,
        settings.staging_root,
        run_id,
        settings.extract_batch_size,
        poll_config(settings),
        settings.max_document_bytes,
    )


def extract_for_run(batch_url: str) -> str:
    """Extract and tag one staged batch on TRADEWIRE_WORKERS processes (0: every core), in a
    lean child process (ingest/extractjob.py)."""
    settings = Settings()
    return run_extract_job(batch_url, settings.workers, settings.max_document_bytes)


def load_for_run(
    batches: list[str], run_id: str, started_at: datetime | None, trigger: str
) -> dict[str, int]:
    """Land one orchestrated run's tagged batches and clean its staging files."""
    settings = Settings()
    summary = load_staged(
        batches,
        settings.db,
        run_id=run_id,
        started_at=started_at or datetime.now(UTC),
        trigger=trigger,
        staging_root=settings.staging_root,
    )
    return summary.to_dict()


def refresh_derived_tables() -> dict[str, int]:
    """Daily counts for the days the latest loads touched."""
    from transforms.derived import refresh_derived

    return refresh_derived(Settings().db)


def refresh_search_index() -> int:
    """The BM25 index over titles and texts, updated for the articles changed since it last ran
    (-1: it was current); a refresh an earlier run did not finish is redone here."""
    from transforms.derived import refresh_search

    return refresh_search(Settings().db, force=False)


def publish_snapshot() -> str | None:
    """What analysts read, per TRADEWIRE_SNAPSHOT: "lake" publishes what changed since the
    lake's last publish, "file" copies the database when the copy misses article changes,
    "off" does nothing (None). Returns where analysts find it; a lake that cannot be reached
    fails the task, so Airflow retries it."""
    from transforms.derived import publish_snapshot_if_behind

    settings = Settings()
    if settings.snapshot == "off":
        return None
    published = publish_snapshot_if_behind(settings.db, force=False, mode=settings.snapshot)
    if published is not None:
        return published
    if settings.snapshot == "lake":
        from transforms.lake import lake_location

        return lake_location(settings.db, settings).shown
    from transforms.snapshot import snapshot_path_for

    return str(snapshot_path_for(settings.db))


def retag_stored() -> dict[str, int]:
    """Re-tag stored articles whose taxonomy version is not the current one."""
    from transforms.retagging import retag_articles

    return asdict(retag_articles(Settings().db))
