"""The distributed profile on loopback for tests and benchmarks: its own PostgreSQL database,
its own Redis key prefix, Airflow's components and Celery workers started by the launcher's
code (ingest/airflow_launch.py), and a client of the API server's REST API."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import socket
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from ingest.airflow_launch import (
    Component,
    Supervisor,
    component_env,
    default_components,
    distributed_components,
    migrate_metadata,
    prepare_metadata,
    running,
    with_session,
)
from ingest.airflow_profile import Endpoint, profile_env, unreachable
from transforms.settings import Settings

REPO = Path(__file__).resolve().parents[2]
REDIS = "redis://127.0.0.1:6379/0"
SERVICES = [
    Endpoint("PostgreSQL", "127.0.0.1", 5432, "trust auth for user postgres expected"),
    Endpoint("Redis", "127.0.0.1", 6379, "no password expected"),
]
# What a worker prints as a task instance reaches it (the Celery provider's execute_workload).
WORKLOAD = re.compile(
    r"Executing workload in Celery: .*?task_id='(?P<task>[^']+)', dag_id='(?P<dag>[^']+)', "
    r"run_id='(?P<run>[^']+)', try_number=(?P<try>\d+), .*?map_index=(?P<index>-?\d+)"
)
# Airflow's start-up on a busy 2-core machine: the API server alone takes ~20 s.
START_WAIT = 240.0


def why_not_runnable() -> str | None:
    """Why the distributed profile cannot run here, or None: the services and driver it needs."""
    down = unreachable(SERVICES, timeout=1.0)
    if down:
        return "distributed profile needs PostgreSQL and Redis on loopback: " + "; ".join(down)
    if importlib.util.find_spec("asyncpg") is None:
        return "asyncpg is not installed (Airflow's async PostgreSQL driver; `make setup`)"
    try:
        from celery.backends.database import retry  # noqa: F401  (the Celery provider needs it)
    except ImportError:
        return "this Celery lacks what the Celery provider imports (uv.lock pins celery<5.7; `make setup`)"
    return None


def free_port() -> int:
    """An ephemeral loopback port nobody holds right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_admin() -> Any:
    import psycopg2

    con = psycopg2.connect(
        host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=2
    )
    con.autocommit = True
    return con


@contextlib.contextmanager
def fresh_database(prefix: str = "tradewire_it") -> Iterator[str]:
    """A new PostgreSQL database for one stack, dropped (its sessions ended) afterwards."""
    from psycopg2 import sql

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    con = _pg_admin()
    try:
        with con.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        with con.cursor() as cur:
            cur.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        con.close()


@contextlib.contextmanager
def redis_prefix() -> Iterator[str]:
    """A key prefix of one stack's own on the shared Redis; its keys are deleted afterwards (a
    killed worker's unacknowledged messages would otherwise stay for the visibility timeout)."""
    import redis

    prefix = f"tradewire_it_{uuid.uuid4().hex[:10]}:"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(REDIS, socket_timeout=5)
        try:
            keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


@dataclass(frozen=True)
class Workload:
    """One task instance try as a worker received it."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int


@dataclass
class Output:
    """Every line the components printed, by component, collected from the supervisor."""

    lines: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)
    echo: Callable[[str], None] | None = None

    def write(self, line: str) -> None:
        """The supervisor's output callback: '<name> | <line>'."""
        name, _, text = line.partition(" | ")
        with self.lock:
            self.lines[name.strip()].append(text)
        if self.echo is not None:
            self.echo(line)

    def of(self, name: str) -> list[str]:
        """A copy of one component's lines so far."""
        with self.lock:
            return list(self.lines.get(name, []))

    def workloads(self, name: str) -> list[Workload]:
        """Every task instance try the worker was handed, in order."""
        found = []
        for line in self.of(name):
            match = WORKLOAD.search(line)
            if match:
                found.append(
                    Workload(
                        match["dag"],
                        match["run"],
                        match["task"],
                        int(match["index"]),
                        int(match["try"]),
                    )
                )
        return found


def wait_for(what: str, check: Callable[[], Any], deadline: float, interval: float = 0.25) -> Any:
    """Poll `check` until it returns something truthy; fail with `what` at the deadline."""
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(interval)


@dataclass
class Stack:
    """A running distributed profile: its components, their output and the REST API."""

    supervisor: Supervisor
    output: Output
    port: int
    env: dict[str, str]
    client: httpx.Client
    # Components a test killed on purpose: their exit does not end a wait.
    expected_dead: set[str] = field(default_factory=set)

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """One REST API call (all-admins auth on this loopback-only instance); the JSON body."""
        response = self.client.request(method, f"/api/v2{path}", **kwargs)
        response.raise_for_status()
        return response.json()

    def wait_dag(self, dag_id: str, deadline: float) -> None:
        """Until the DAG processor has parsed the DAG and it is active."""

        def parsed() -> bool:
            response = self.client.get(f"/api/v2/dags/{dag_id}")
            return response.status_code == 200 and not response.json().get("is_paused")

        wait_for(f"DAG {dag_id} to be parsed", parsed, deadline, interval=1.0)

    def trigger(self, dag_id: str) -> str:
        """Start a manual run now; its run id."""
        run = self.api("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None})
        return str(run["dag_run_id"])

    def run_state(self, dag_id: str, run_id: str) -> str:
        """The run's state as the scheduler sees it."""
        return str(self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"])

    def wait_run(self, dag_id: str, run_id: str, deadline: float) -> str:
        """Until the run has finished (success or failed); a component exiting ends the wait."""

        def finished() -> str | None:
            self.check_alive()
            state = self.run_state(dag_id, run_id)
            return state if state in ("success", "failed") else None

        return str(wait_for(f"{dag_id} run {run_id} to finish", finished, deadline, interval=1.0))

    def check_alive(self) -> None:
        """Fail at once when a component the test did not kill has exited."""
        exited = self.supervisor.first_exited()
        if exited is not None and exited.name not in self.expected_dead:
            tail = "\n".join(self.output.of(exited.name)[-30:])
            raise RuntimeError(f"{exited.name} exited:\n{tail}")

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        """Every run of a DAG."""
        return list(self.api("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100})["dag_runs"])

    def wait_settled(self, ingest: str, after: str, deadline: float) -> None:
        """Until no run of either DAG is queued or running, and `after` (the DAG the ingest's
        asset triggers) has started a run since the last load of any ingest run ended."""

        def settled() -> bool:
            self.check_alive()
            runs = self.runs(ingest) + self.runs(after)
            if not runs or any(r["state"] not in ("success", "failed") for r in runs):
                return False
            loads = [
                ti["end_date"]
                for r in self.runs(ingest)
                for ti in self.task_instances(ingest, r["dag_run_id"])
                if ti["task_id"] == "load" and ti["end_date"]
            ]
            starts = [r["start_date"] for r in self.runs(after) if r["start_date"]]
            return bool(starts) and (not loads or parse_time(max(starts)) > parse_time(max(loads)))

        wait_for(f"{ingest} and {after} to settle", settled, deadline, interval=1.0)

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every task instance of a run (mapped ones one per index)."""
        body = self.api(
            "GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000}
        )
        return list(body["task_instances"])

    def tries(self, dag_id: str, run_id: str, task_id: str, map_index: int) -> list[dict[str, Any]]:
        """Every try of one task instance, the current one included."""
        body = self.api(
            "GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/{map_index}/tries"
        )
        return list(body["task_instances"])

    def kill(self, name: str) -> None:
        """SIGKILL a component and everything it started, as if its machine went down."""
        import signal

        component = next(c for c in self.supervisor.running if c.name == name)
        assert component.process is not None
        self.expected_dead.add(name)
        with_session(component.process.pid, signal.SIGKILL)
        component.process.wait(timeout=30)


def parse_time(text: str) -> datetime:
    """A timestamp of the REST API (ISO 8601, Z for UTC)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def stack_settings(
    metadata_url: str, workers: int = 2, concurrency: int = 1, **tradewire: Any
) -> Settings:
    """Settings of a test stack: its database, the shared Redis, its workers."""
    return Settings(
        airflow_metadata_url=metadata_url,
        celery_broker_url=REDIS,
        celery_workers=workers,
        celery_concurrency=concurrency,
        **tradewire,
    )


@contextlib.contextmanager
def run_stack(
    home: Path,
    tradewire_env: Mapping[str, str],
    settings: Settings | None = None,
    key_prefix: str = "",
    extra_env: Mapping[str, str] | None = None,
    echo: Callable[[str], None] | None = None,
) -> Iterator[Stack]:
    """Airflow under `home` (logs, PID files, secrets), started by the launcher's code and
    stopped, every process of it, on leaving: the distributed profile with `settings` (its own
    database, Redis keys under `key_prefix`), else the local one (LocalExecutor, SQLite)."""
    import secrets

    from cryptography.fernet import Fernet

    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    profile = profile_env(settings, port) if settings is not None else {}
    env = component_env(port, profile=profile)
    env.update(
        {
            "AIRFLOW_HOME": str(REPO),
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p
            ),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            # Secrets of this stack alone (the repository's .airflow/ may not exist in a clone).
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(48),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(48),
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            # A second between the scheduler's loops, not Airflow's production pacing.
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            **tradewire_env,
            **(extra_env or {}),
        }
    )
    first: Component | None
    if settings is None:
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{home}/airflow.db"
        migrate_metadata(env, home)
        first, then = default_components()
    else:
        env["AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX"] = key_prefix
        prepare_metadata(env, settings, home)
        suffix = "-" + key_prefix.split("_")[-1].rstrip(":")
        first, then = distributed_components(settings, home / "pids", suffix=suffix)
        # Every worker serves its logs on a port of its own, free now.
        then = [
            replace(c, env={**c.env, "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())})
            if "celery" in c.argv
            else c
            for c in then
        ]
    output = Output(echo=echo)
    with (
        running(port, START_WAIT, first, then, env, output.write) as supervisor,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client,
    ):
        yield Stack(supervisor, output, port, env, client)
