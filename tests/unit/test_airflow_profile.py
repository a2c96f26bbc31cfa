"""The distributed profile's options, worker roles and service checks (ingest/airflow_profile.py)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from ingest.airflow_launch import component_env, distributed_components
from ingest.airflow_profile import (
    DEFAULT_QUEUE,
    LOG_SERVER_PORT,
    TRIGGERER_LOG_SERVER_PORT,
    Endpoint,
    ProfileError,
    endpoint,
    profile_env,
    result_backend,
    unreachable,
    worker_argv,
    worker_roles,
)
from transforms.settings import Settings

PG = "postgresql+psycopg2://airflow@db.example:5433/meta"


def settings(**values: object) -> Settings:
    return Settings(airflow_metadata_url=PG, celery_broker_url="redis://q.example:6380/3", **values)


def test_profile_env_is_the_celery_executor_on_the_settings_services() -> None:
    env = profile_env(settings(writer_queue="owner"), 8091)
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == PG
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://q.example:6380/3"
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == f"db+{PG}"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:8091/execution/"
    # The DAG files read the queue from the environment the components get.
    assert env["TRADEWIRE_WRITER_QUEUE"] == "owner"
    assert all(k.startswith(("AIRFLOW__", "TRADEWIRE_")) for k in env)


def test_extract_tasks_of_a_run_spread_over_the_workers_unless_the_setting_says_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TRADEWIRE_EXTRACT_CONCURRENCY", raising=False)
    assert profile_env(settings(celery_workers=3), 8080)["TRADEWIRE_EXTRACT_CONCURRENCY"] == "3"
    chosen = settings(celery_workers=3, extract_concurrency=5)
    assert profile_env(chosen, 8080)["TRADEWIRE_EXTRACT_CONCURRENCY"] == "5"
    monkeypatch.setenv("TRADEWIRE_EXTRACT_CONCURRENCY", "1")
    assert profile_env(settings(celery_workers=3), 8080)["TRADEWIRE_EXTRACT_CONCURRENCY"] == "1"


def test_profile_overrides_win_over_the_local_port_defaults() -> None:
    remote = settings(airflow_execution_api_url="http://owner.example:8080/execution/")
    env = component_env(8080, base={}, profile=profile_env(remote, 8080))
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://owner.example:8080/execution/"
    assert env["AIRFLOW__API__PORT"] == "8080"


def test_result_backend_setting_wins_over_the_metadata_database() -> None:
    assert result_backend(settings(celery_result_backend="redis://r/1")) == "redis://r/1"


def test_only_the_owners_first_worker_serves_the_writer_queue() -> None:
    owner = worker_roles(settings(celery_workers=3, writer_queue="w"))
    assert [r.queues for r in owner] == [(DEFAULT_QUEUE, "w"), (DEFAULT_QUEUE,), (DEFAULT_QUEUE,)]
    elsewhere = worker_roles(settings(celery_workers=2, writer_queue="w"), owner=False)
    assert all("w" not in r.queues for r in elsewhere)
    ports = [r.log_port for r in owner]
    assert ports[0] == LOG_SERVER_PORT and len(set(ports)) == 3
    assert TRIGGERER_LOG_SERVER_PORT not in ports


@pytest.mark.parametrize("values", [{"celery_workers": 0}, {"writer_queue": DEFAULT_QUEUE}])
def test_a_profile_that_cannot_route_is_refused(values: dict[str, object]) -> None:
    with pytest.raises(ProfileError):
        worker_roles(settings(**values))


def test_workers_on_one_machine_get_their_own_names_and_pid_files(tmp_path: Path) -> None:
    roles = worker_roles(settings(celery_workers=2))
    argvs = [worker_argv("airflow", r, 2, tmp_path, "-x") for r in roles]
    assert argvs[0][:3] == ["airflow", "celery", "worker"]
    names = [a[a.index("--celery-hostname") + 1] for a in argvs]
    pids = [a[a.index("--pid") + 1] for a in argvs]
    assert names == ["worker1-x@%h", "worker2-x@%h"]
    assert len(set(pids)) == 2
    assert argvs[0][argvs[0].index("--queues") + 1] == "default,writer"


def test_distributed_components_add_the_workers_and_workers_only_drops_the_rest(
    tmp_path: Path,
) -> None:
    first, then = distributed_components(settings(), tmp_path)
    assert first is not None and first.name == "api-server"
    assert [c.name for c in then] == [
        "scheduler",
        "dag-processor",
        "triggerer",
        "worker1",
        "worker2",
    ]
    assert (
        then[-1].env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"]
        != then[-2].env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"]
    )
    none, workers = distributed_components(settings(celery_workers=1), tmp_path, owner=False)
    assert none is None and [c.name for c in workers] == ["worker1"]
    assert "writer" not in workers[0].argv[workers[0].argv.index("--queues") + 1]


def test_endpoints_from_urls() -> None:
    assert endpoint(PG, "pg", "S", 5432) == Endpoint("pg", "db.example", 5433, "start it, or set S")
    assert endpoint("redis://cache/0", "r", "S", 6379).port == 6379
    assert endpoint("db+postgresql://u@h:1/x", "b", "S", 5432).host == "h"


def test_unreachable_names_the_service_and_its_setting() -> None:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        up = Endpoint("up", "127.0.0.1", listening.getsockname()[1], "TRADEWIRE_UP")
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            down = Endpoint("PostgreSQL", "127.0.0.1", closed.getsockname()[1], "TRADEWIRE_X")
        found = unreachable([up, down], timeout=1.0)
    assert len(found) == 1
    assert "PostgreSQL" in found[0] and "TRADEWIRE_X" in found[0]
