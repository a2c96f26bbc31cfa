"""Settings-aware entry points for orchestrators, so DAG files hold no configuration logic."""

from __future__ import annotations

from datetime import UTC, datetime

from ingest.settings import Settings
from ingest.stages import discover_to_staging, load_staged


def configured_sources(settings: Settings) -> list[str]:
    """The folder sources the scheduled DAG ingests."""
    return [str(settings.seeds_dir)]


def discover_for_run(run_id: str) -> list[str]:
    """Discover for one orchestrated run, using the configured sources and staging root."""
    settings = Settings()
    return discover_to_staging(
        configured_sources(settings),
        settings.db,
        settings.staging_root,
        run_id,
        settings.batch_size,
    )


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
