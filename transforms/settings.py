"""The one home of configuration: typed settings read from TRADEWIRE_* environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Runtime settings; every field can be set as TRADEWIRE_<NAME> or in a .env file."""

    model_config = SettingsConfigDict(
        env_prefix="TRADEWIRE_", env_file=".env", extra="ignore", frozen=True
    )

    db: Path = REPO_ROOT / "data" / "tradewire.duckdb"
    # A local folder by default; any fsspec URL (s3://bucket/prefix, gs://…) once workers
    # run on several machines.
    staging_root: str = str(REPO_ROOT / "data" / "staging")
    # The S3-compatible server for s3:// roots (MinIO, Ceph, a loopback test server); None is
    # AWS itself. Credentials come the standard way (AWS_ACCESS_KEY_ID, …).
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    sources_file: Path = REPO_ROOT / "seeds" / "sources.toml"
    # Real US-China trade sources shipped disabled; `tradewire sources enable --starter` copies
    # them into the sources file.
    starter_sources_file: Path = REPO_ROOT / "seeds" / "starter-sources.toml"
    seeds_dir: Path = REPO_ROOT / "seeds"
    state_dir: Path = REPO_ROOT / "data" / "state"
    user_agent: str = "tradewire/0.1 (+https://github.com/tradewire/tradewire)"
    contact_url: str = "https://github.com/tradewire/tradewire"
    # Live sources: fetched pages, gzip'd and named by their hash (ingest/rawstore.py).
    raw_dir: Path = REPO_ROOT / "data" / "raw"
    # Hosts every feed may fetch although they resolve to private addresses (comma-separated);
    # a registry source can add its own with `allowed_hosts`.
    allowed_hosts: str = ""
    # Seconds between request starts to one host, across processes (robots Crawl-delay may ask more).
    fetch_min_interval: float = 5.0
    # Minutes before a summary-only entry's page (failed with a timeout, 5xx or 429) is asked
    # again; the wait doubles after each failed attempt (ingest/pageretries.py).
    page_retry_minutes: float = 15.0
    # Hard limit on one URL's fetch: robots.txt, redirects, retries, headers and body together
    # (time queued for a politeness slot comes on top).
    fetch_total_timeout: float = 60.0
    # Largest document extraction reads, in bytes once decompressed (folder files, fetched
    # pages); larger ones become error rows (ingest/localfiles.py).
    max_document_bytes: int = 5 * 1024 * 1024
    # Readers and writers wait this long for DuckDB's file lock instead of failing at once.
    lock_wait_seconds: float = 60.0
    # What loads publish for analysts: "lake" (the DuckLake below, only what changed), "file"
    # (data/<db>.snapshot.duckdb, a whole copy each time) or "off". true/false from older
    # .env files mean "file"/"off": what they did before.
    snapshot: Literal["lake", "file", "off"] = "lake"
    # The tagging model file, when not the shipped transforms/tagging/model.json (try one out);
    # "rules" tags by the taxonomy's rules alone.
    tag_model: str | None = None
    # The fts extension binary to install, when not the duckdb-extension-fts package's copy.
    fts_extension: Path | None = None
    batch_size: int = 100
    # Documents per staged batch, so per mapped extract task of the ingest DAG: each task pays
    # ~1-2 s to start (process, imports, models), which a batch of this size amortises to a few
    # percent; a retry redoes one batch.
    extract_batch_size: int = 500
    # Mapped extract tasks of one DAG run at once. DAG files read it from the environment only
    # (parsing does no I/O), so set it there, not in .env, for the scheduler.
    extract_concurrency: int = 1
    workers: int = 0  # 0 = one extraction process per core
    # Object storage and politeness across machines (issue 15).
    # Fetched pages' root: s3://bucket/prefix when workers run on several machines; empty =
    # the raw_dir folder (ingest/rawstore.py).
    raw_root: str = ""
    # Where per-host politeness state lives: empty = flock files under state_dir (one
    # machine); redis://host:6379/0 = shared by every worker on every machine.
    politeness_url: str = ""
    # Lake (transforms/lake.py): the DuckLake catalog, "sqlite:<file>" or "postgres:<libpq
    # dsn>"; None is data/<db>.lake.sqlite beside the database.
    lake_catalog: str | None = None
    # Where the lake's Parquet files go: a folder or s3://bucket/prefix; None is data/lake/.
    lake_data_path: str | None = None
    # Time travel reaches this far back; older snapshots expire at housekeeping.
    lake_retention_days: float = 7.0
    # Publishes between housekeeping runs (merge small files, expire snapshots, delete files).
    lake_maintenance_every: int = 20

    # Search index (transforms/searchindex.py): DuckDB's memory limit while a refresh runs, so a
    # full rebuild spills its sort to disk instead of growing; empty = DuckDB's own (80% of RAM).
    search_memory_limit: str = "1GB"

    @field_validator("snapshot", mode="before")
    @classmethod
    def _snapshot_from_boolean(cls, value: Any) -> Any:
        """Older .env files say TRADEWIRE_SNAPSHOT=true/false; keep them meaning what they did."""
        if isinstance(value, bool):
            return "file" if value else "off"
        text = str(value).strip().lower()
        if text in {"true", "1", "yes", "on"}:
            return "file"
        if text in {"false", "0", "no", "off"}:
            return "off"
        return text

    # Distributed profile (`make airflow-distributed`: CeleryExecutor, ingest/airflow_profile.py).
    # Airflow's metadata database; every component on every machine must reach it.
    airflow_metadata_url: str = "postgresql+psycopg2://postgres@127.0.0.1:5432/tradewire_airflow"
    celery_broker_url: str = "redis://127.0.0.1:6379/0"
    # Where Celery keeps task results; empty = the metadata database (db+postgresql://…).
    celery_result_backend: str = ""
    # Celery workers `make airflow-distributed` starts on this machine, and task slots in each.
    celery_workers: int = 2
    celery_concurrency: int = 2
    # The queue of the machine that owns the DuckDB file: only its worker serves it, so every
    # task that reads or writes the file (or the seeds folder) runs there.
    writer_queue: str = "writer"
    # The execution API as workers reach it; empty = http://127.0.0.1:<port>/execution/ (one
    # machine). Workers elsewhere need the owner's address, and its API server listening there.
    airflow_execution_api_url: str = ""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings are read once per process; tests build their own Settings instead."""
    return Settings()


def resolve_db_path(cli_value: str | Path | None) -> Path:
    """DB path precedence: --db, else TRADEWIRE_DB, else data/tradewire.duckdb."""
    if cli_value:
        return Path(cli_value)
    return Settings().db
