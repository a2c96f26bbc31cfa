"""Settings-aware entry points for orchestrators, so DAG files hold no configuration logic."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from ingest.polling import poll_config
from ingest.sources_registry import SourceSpec, load_sources
from ingest.stages import load_staged, plan_to_staging, poll_to_staging
from transforms.settings import Settings


def configured_sources(settings: Settings) -> list[SourceSpec]:
    """The registry's sources (TRADEWIRE_SOURCES_FILE), which the scheduled DAG ingests.

    The registry's folder at the default seeds location follows TRADEWIRE_SEEDS_DIR, so the
    inbox watcher and the ingest read the same folder.
    """
    default_seeds = Settings.model_fields["seeds_dir"].default
    return [
        replace(spec, location=str(settings.seeds_dir))
        if spec.kind == "folder" and Path(spec.location) == Path(default_seeds).resolve()
        else spec
        for spec in load_sources(settings.sources_file)
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
        settings.batch_size,
        poll_config(settings),
    )


def discover_for_run(run_id: str) -> list[str]:
    """Plan and poll every group in this process: discovery for callers without task mapping."""
    return [batch for group in plan_for_run(run_id) for batch in poll_for_run(group, run_id)]


def load_for_run(
    batches: list[str], run_id: str, started_at: datetime | None, trigger: str
) -> dict[str, int]:
    """Land one orchestrated run's tagged batches and clean its staging files."""
    settings = Settings()
    return load_staged(
        batches,
        settings.db,
        run_id=run_id,
        started_at=started_at or datetime.now(UTC),
        trigger=trigger,
        staging_root=settings.staging_root,
    )
