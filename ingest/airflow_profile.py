"""The distributed profile as data: the Airflow options it changes, built from our settings.

airflow.cfg stays the one configuration file. The distributed profile (`make
airflow-distributed`) is only what differs from it: the CeleryExecutor, PostgreSQL as the
metadata database, Redis as the broker, the Celery workers and their queues. These are given to
every component as AIRFLOW__SECTION__KEY environment variables (which Airflow reads before
airflow.cfg), built here from `transforms/settings.py`, so the launcher and the tests run the
same profile and a user changes it through TRADEWIRE_* settings like any other.

Routing: the worker on the machine that owns the DuckDB file serves the writer queue as well as
the default one; every task that reads or writes the file or the seeds folder runs on that
queue (dags/tradewire_wiring.py), the others (extraction) on whichever worker is free.

No Airflow import: this runs in the launcher, before any component exists.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from transforms.settings import Settings

logger = logging.getLogger(__name__)

# Airflow's [operators] default_queue: where tasks without a queue of their own go.
DEFAULT_QUEUE = "default"
# Airflow's [logging] worker_log_server_port, which the API server fetches remote logs from: the
# first worker of each machine keeps it; further ones on that machine take the ports after the
# triggerer's (8794), and their logs are read from the shared local log folder anyway.
LOG_SERVER_PORT = 8793
TRIGGERER_LOG_SERVER_PORT = 8794
# Celery's redelivery of a message whose worker died without acknowledging it. Airflow finds a
# killed task sooner, by its missing heartbeat, and retries it; a shorter timeout would only
# redeliver long tasks still running (which Airflow then ignores). Airflow's own default, set
# so that its warning about the option being unset does not greet every start.
VISIBILITY_TIMEOUT = 86400


class ProfileError(Exception):
    """Why the distributed profile cannot start (a service down, a bad URL)."""


@dataclass(frozen=True)
class WorkerRole:
    """One Celery worker: its name (unique per machine), the queues it serves, its log port."""

    name: str
    queues: tuple[str, ...]
    log_port: int


@dataclass(frozen=True)
class Endpoint:
    """Where a service listens, for probing, and what to do when it does not answer."""

    what: str
    host: str
    port: int
    hint: str


def result_backend(settings: Settings) -> str:
    """Celery's result store: the setting, else the metadata database (Celery's db+ form)."""
    return settings.celery_result_backend or f"db+{settings.airflow_metadata_url}"


def extract_concurrency(settings: Settings) -> int:
    """Extract tasks of one run at once: the setting when given, else one per worker started
    here (the local profile's default of one would leave every other worker idle)."""
    if "extract_concurrency" in settings.model_fields_set:
        return settings.extract_concurrency
    return max(settings.extract_concurrency, settings.celery_workers)


def profile_env(settings: Settings, port: int) -> dict[str, str]:
    """The AIRFLOW__* overrides of the distributed profile, plus the settings DAG files read.

    The DAG files read TRADEWIRE_WRITER_QUEUE and TRADEWIRE_EXTRACT_CONCURRENCY from the
    environment (no .env read at parse time); passed on here, they see the values the workers
    were started with, wherever the user set them.
    """
    execution_api = settings.airflow_execution_api_url or f"http://127.0.0.1:{port}/execution/"
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": settings.airflow_metadata_url,
        "AIRFLOW__CELERY__BROKER_URL": settings.celery_broker_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": result_backend(settings),
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(settings.celery_concurrency),
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": DEFAULT_QUEUE,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": execution_api,
        "TRADEWIRE_WRITER_QUEUE": settings.writer_queue,
        "TRADEWIRE_EXTRACT_CONCURRENCY": str(extract_concurrency(settings)),
    }


def worker_roles(settings: Settings, owner: bool = True) -> list[WorkerRole]:
    """The workers to start on this machine; on the owner of the DuckDB file the first one also
    serves the writer queue. A machine that does not own it serves the default queue only."""
    if settings.celery_workers < 1:
        raise ProfileError("TRADEWIRE_CELERY_WORKERS must be at least 1")
    if settings.writer_queue == DEFAULT_QUEUE:
        raise ProfileError(
            f"TRADEWIRE_WRITER_QUEUE must differ from Airflow's default queue {DEFAULT_QUEUE!r}: "
            "the writer tasks would run on any worker"
        )
    return [
        WorkerRole(
            name=f"worker{i + 1}",
            queues=(DEFAULT_QUEUE, settings.writer_queue) if owner and i == 0 else (DEFAULT_QUEUE,),
            log_port=LOG_SERVER_PORT if i == 0 else TRIGGERER_LOG_SERVER_PORT + i,
        )
        for i in range(settings.celery_workers)
    ]


def worker_argv(
    airflow: str, role: WorkerRole, concurrency: int, state_dir: Path, suffix: str = ""
) -> list[str]:
    """`airflow celery worker` for one role: its own Celery name and PID file, so several run on
    one machine (the suffix keeps names unique when several profiles share a broker)."""
    return [
        airflow,
        "celery",
        "worker",
        "--queues",
        ",".join(role.queues),
        "--concurrency",
        str(concurrency),
        "--celery-hostname",
        f"{role.name}{suffix}@%h",
        "--pid",
        str(state_dir / f"{role.name}.pid"),
    ]


def worker_env(role: WorkerRole) -> dict[str, str]:
    """What differs between workers on one machine: the port their logs are served on."""
    return {"AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(role.log_port)}


def endpoint(url: str, what: str, setting: str, default_port: int) -> Endpoint:
    """Host and port of a service URL (postgresql+psycopg2://…, redis://…)."""
    parts = urlsplit(url.removeprefix("db+"))
    try:
        port = parts.port or default_port
    except ValueError as exc:
        raise ProfileError(f"{setting}: {exc} in {url!r}") from None
    return Endpoint(what, parts.hostname or "127.0.0.1", port, f"start it, or set {setting}")


def service_endpoints(settings: Settings) -> list[Endpoint]:
    """The services every component needs: the metadata database and the broker."""
    return [
        endpoint(
            settings.airflow_metadata_url,
            "PostgreSQL (Airflow's metadata database)",
            "TRADEWIRE_AIRFLOW_METADATA_URL",
            5432,
        ),
        endpoint(
            settings.celery_broker_url,
            "Redis (the Celery broker)",
            "TRADEWIRE_CELERY_BROKER_URL",
            6379,
        ),
    ]


def unreachable(endpoints: list[Endpoint], timeout: float = 1.0) -> list[str]:
    """One sentence per service that does not accept a TCP connection within the timeout."""
    down = []
    for e in endpoints:
        try:
            with socket.create_connection((e.host, e.port), timeout=timeout):
                pass
        except OSError as exc:
            down.append(f"{e.what} at {e.host}:{e.port} is unreachable ({exc}); {e.hint}")
    return down


def ensure_database(url: str, timeout: float = 5.0) -> bool:
    """Create the metadata database when missing (`airflow db migrate` needs it to exist);
    True when it was created."""
    import psycopg2
    from psycopg2 import sql

    parts = urlsplit(url)
    name = unquote(parts.path.lstrip("/"))
    if not parts.scheme.startswith("postgresql") or not name:
        raise ProfileError(
            f"TRADEWIRE_AIRFLOW_METADATA_URL must be postgresql+psycopg2://user@host:port/db, "
            f"not {url!r}"
        )
    try:
        con = psycopg2.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            dbname="postgres",
            connect_timeout=max(1, int(timeout)),
        )
        try:
            con.autocommit = True  # CREATE DATABASE refuses to run in a transaction
            with con.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
                if cur.fetchone():
                    return False
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                logger.info("created the metadata database %s", name)
                return True
        finally:
            con.close()
    except psycopg2.Error as exc:
        raise ProfileError(
            f"could not check or create the metadata database {name!r} "
            f"(TRADEWIRE_AIRFLOW_METADATA_URL): {str(exc).strip()}"
        ) from None
