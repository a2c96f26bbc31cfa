"""The distributed profile end to end: the ingest DAG under Airflow's CeleryExecutor with two
Celery workers, PostgreSQL as the metadata database and Redis as the broker, over a news site
served on loopback.

Each test runs its own stack (a fresh PostgreSQL database, its own Redis key prefix, the
components started by the launcher's code, staging and raw pages in a bucket of the loopback
S3 server) and stops every process of it afterwards. Both skip,
saying why, on a machine without PostgreSQL or Redis on loopback.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.celerystack import (
    REDIS,
    Stack,
    Workload,
    fresh_database,
    redis_prefix,
    run_stack,
    stack_settings,
    wait_for,
    why_not_runnable,
)
from tests.integration.feedsite import (
    page_entries,
    serve_feed,
    serve_pages,
    write_site_registry,
)
from tests.integration.loopback import LocalServer
from transforms.database import connect
from transforms.settings import Settings

REASON = why_not_runnable()
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(REASON is not None, reason=REASON or ""),
    pytest.mark.timeout(900),
]

INGEST = "trade_news_ingest"
TRANSFORMS = "trade_news_transforms"
PAGES = 12
MIN_INTERVAL = 0.3
# Tasks of the writer queue (dags/tradewire_wiring.py): only worker1 serves it.
WRITER_TASKS = {"plan", "poll", "load", "refresh_derived", "refresh_search", "publish_snapshot"}
# Start-up (~1 min here), a run, and a retry after a lost worker, on a shared 2-core machine.
DEADLINE = 600.0


@pytest.fixture
def site(server: LocalServer, seed_folder: Path, tmp_path: Path) -> dict[str, Any]:
    """A loopback news site (a feed of PAGES entries) and a registry naming it and a folder."""
    entries = page_entries(PAGES)
    serve_pages(server, entries)
    serve_feed(server, entries, etag='"v1"')
    registry = write_site_registry(
        tmp_path / "conf" / "sources.toml", server.url("/feed.xml"), seed_folder
    )
    return {
        "registry": registry,
        "pages": [e.path for e in entries],
        "urls": {server.url(e.path) for e in entries},
    }


def tradewire_env(
    tmp_path: Path, bucket: str, seed_folder: Path, registry: Path, batch: int, lake: str
) -> dict[str, str]:
    """Where the tasks on both workers read and write: as on several machines, every hand-off
    (staging batches, fetched pages) in object storage and the politeness state in Redis; the
    DuckDB file and the seeds folder belong to the owner, worker1; the lake's catalog is in
    PostgreSQL and its Parquet files in the bucket, for readers on any machine."""
    return {
        "TRADEWIRE_SNAPSHOT": "lake",
        "TRADEWIRE_LAKE_CATALOG": lake,
        "TRADEWIRE_LAKE_DATA_PATH": f"{bucket}/lake",
        "TRADEWIRE_DB": str(tmp_path / "db" / "tradewire.duckdb"),
        "TRADEWIRE_STAGING_ROOT": f"{bucket}/staging",
        "TRADEWIRE_RAW_ROOT": f"{bucket}/raw",
        "TRADEWIRE_RAW_DIR": str(tmp_path / "local-raw"),  # must stay unused
        "TRADEWIRE_POLITENESS_URL": REDIS,
        "TRADEWIRE_STATE_DIR": str(tmp_path / "state"),
        "TRADEWIRE_SEEDS_DIR": str(seed_folder),
        "TRADEWIRE_SOURCES_FILE": str(registry),
        "TRADEWIRE_ALLOWED_HOSTS": "127.0.0.1",
        "TRADEWIRE_FETCH_MIN_INTERVAL": str(MIN_INTERVAL),
        "TRADEWIRE_EXTRACT_BATCH_SIZE": str(batch),
        "TRADEWIRE_WORKERS": "1",
    }


def bucket_keys(bucket: str, prefix: str) -> list[str]:
    """Keys under a prefix of the test bucket, listed by boto3 (not by the code under test)."""
    import boto3

    client = boto3.client(
        "s3", endpoint_url=Settings().s3_endpoint_url, region_name=Settings().s3_region
    )
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket.removeprefix("s3://"), Prefix=prefix
    )
    return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))


def assert_hand_offs_in_the_bucket(bucket: str, db: Path, tmp_path: Path) -> None:
    """Fetched pages are in object storage, none on local disk; staging was cleaned up."""
    with connect(db, read_only=True) as con:
        rows = con.execute(
            "SELECT raw_location FROM articles WHERE source = 'loopback-wire'"
        ).fetchall()
    stored = set(bucket_keys(bucket, "raw/"))
    locations = [str(r[0]) for r in rows]
    assert len(locations) == PAGES
    assert all(loc.startswith(f"{bucket}/raw/") for loc in locations), locations
    assert {loc.removeprefix(f"{bucket}/") for loc in locations} <= stored
    assert not (tmp_path / "local-raw").exists() or not any((tmp_path / "local-raw").iterdir())
    assert not [k for k in bucket_keys(bucket, "staging/") if "/pending/" not in k]


@pytest.fixture
def stack_factory(tmp_path: Path) -> Iterator[Any]:
    """Start one distributed stack for a test (its database and Redis keys gone afterwards)."""
    with contextlib.ExitStack() as cleanup:
        metadata_url = cleanup.enter_context(fresh_database())
        prefix = cleanup.enter_context(redis_prefix())

        def start(tradewire: dict[str, str], extra: dict[str, str] | None = None) -> Stack:
            settings = stack_settings(metadata_url)
            home = tmp_path / "airflow"
            return cleanup.enter_context(run_stack(home, tradewire, settings, prefix, extra))

        yield start


def landed(db: Path) -> dict[str, Any]:
    """What the DuckDB file holds: articles by id and url, and the runs' counts of new ones."""
    with connect(db, read_only=True) as con:
        articles = con.execute("SELECT article_id, url, source FROM articles ORDER BY 1").fetchall()
        runs = con.execute("SELECT coalesce(sum(new), 0) FROM ingest_runs").fetchone()
        states = con.execute("SELECT state, count(*) FROM discovered_urls GROUP BY 1").fetchall()
    return {"articles": articles, "new": runs[0] if runs else 0, "states": dict(states)}


def published_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """The rows readers see, table by table, comparable between the file and the lake."""
    with connect(path, read_only=True) as con:
        return published_rows_from(con)


def published_rows_from(con: Any) -> dict[str, list[tuple[Any, ...]]]:
    """The published tables' rows through one connection (the file's or the lake's)."""
    return {
        "articles": con.execute(
            "SELECT article_id, content_hash, title FROM articles ORDER BY 1"
        ).fetchall(),
        "article_topics": con.execute(
            "SELECT article_id, topic, score FROM article_topics ORDER BY 1, 2"
        ).fetchall(),
        "article_entities": con.execute("SELECT * FROM article_entities ORDER BY ALL").fetchall(),
        "topic_daily_counts": con.execute(
            "SELECT * FROM topic_daily_counts ORDER BY ALL"
        ).fetchall(),
    }


def assert_every_page_landed_once(db: Path, site: dict[str, Any], server: LocalServer) -> None:
    """Each feed page is one article, counted new once, fetched once; plus the one seed file."""
    got = landed(db)
    feed = [a for a in got["articles"] if a[2] == "loopback-wire"]
    assert len(got["articles"]) == PAGES + 1
    assert len({a[0] for a in got["articles"]}) == PAGES + 1  # no article_id twice
    assert {a[1] for a in feed} == site["urls"] and len(feed) == PAGES  # each url once
    assert got["new"] == PAGES + 1  # every page was new in exactly one run
    assert got["states"] == {"landed": PAGES}
    for path in site["pages"]:
        assert len(server.hits_for(path)) == 1, f"{path} fetched {len(server.hits_for(path))}x"


def assert_polite(server: LocalServer, db: Path) -> None:
    """No two requests to the host (robots.txt, feed, pages) started closer than the interval:
    exactly so by the fetchers' own logged starts, within scheduling jitter as the server saw
    them arrive (as tests/integration/test_fetch.py checks a single fetcher)."""
    with connect(db, read_only=True) as con:
        rows = con.execute("SELECT epoch(started_at) FROM fetch_log ORDER BY 1").fetchall()
    starts = [float(r[0]) for r in rows]
    assert len(starts) >= PAGES + 1
    assert min(gaps(starts)) >= MIN_INTERVAL - 1e-3
    arrivals = sorted(h.at for h in server.hits)
    assert min(gaps(arrivals)) >= MIN_INTERVAL / 2
    assert arrivals[-1] - arrivals[0] >= MIN_INTERVAL * (len(arrivals) - 1) - 0.1


def gaps(times: list[float]) -> list[float]:
    """Differences between consecutive times."""
    return [b - a for a, b in zip(times, times[1:], strict=False)]


def assert_published_matches(db: Path, env: dict[str, str]) -> None:
    """The lake the transforms DAG publishes has the DuckDB file's rows, read as an analyst on
    another machine would: the PostgreSQL catalog and the bucket, never the file."""
    from transforms.lake import lake_location, open_lake

    settings = Settings(
        lake_catalog=env["TRADEWIRE_LAKE_CATALOG"], lake_data_path=env["TRADEWIRE_LAKE_DATA_PATH"]
    )
    with open_lake(lake_location(db, settings)) as lake:
        assert published_rows_from(lake) == published_rows(db)


@pytest.fixture
def lake_catalog() -> Iterator[str]:
    """A fresh PostgreSQL database for the lake's catalog, dropped afterwards."""
    with fresh_database("tradewire_lake") as url:
        name = url.rsplit("/", 1)[1]
        yield f"postgres:dbname={name} host=127.0.0.1 port=5432 user=postgres"


def extracts_on(stack: Stack, worker: str) -> list[Workload]:
    """Extract task instances a worker was handed."""
    return [w for w in stack.output.workloads(worker) if w.task_id == "extract"]


def test_ingest_runs_on_two_celery_workers_and_lands_every_page_once(
    stack_factory: Any,
    site: dict[str, Any],
    server: LocalServer,
    seed_folder: Path,
    tmp_path: Path,
    s3_env: str,
    lake_catalog: str,
) -> None:
    env = tradewire_env(tmp_path, s3_env, seed_folder, site["registry"], batch=3, lake=lake_catalog)
    stack = stack_factory(env)
    deadline = time.monotonic() + DEADLINE
    stack.wait_dag(INGEST, deadline)
    run_id = stack.trigger(INGEST)
    assert stack.wait_run(INGEST, run_id, deadline) == "success"
    # The cron timetable may have started a scheduled run too; the asset starts the transforms.
    stack.wait_settled(INGEST, TRANSFORMS, deadline)
    assert {r["state"] for r in stack.runs(INGEST) + stack.runs(TRANSFORMS)} == {"success"}

    db = Path(env["TRADEWIRE_DB"])
    assert_every_page_landed_once(db, site, server)
    assert_polite(server, db)
    assert_published_matches(db, env)
    assert_hand_offs_in_the_bucket(s3_env, db, tmp_path)

    # Extraction spread over both workers; what touches the DuckDB file ran only on its owner.
    assert extracts_on(stack, "worker1") and extracts_on(stack, "worker2")
    assert not {w.task_id for w in stack.output.workloads("worker2")} & WRITER_TASKS
    for run in stack.runs(INGEST):
        for ti in stack.task_instances(INGEST, run["dag_run_id"]):
            expected = "writer" if ti["task_id"] in WRITER_TASKS else "default"
            assert ti["queue"] == expected, ti


def test_a_worker_killed_mid_extract_loses_and_duplicates_nothing(
    stack_factory: Any,
    site: dict[str, Any],
    server: LocalServer,
    seed_folder: Path,
    tmp_path: Path,
    s3_env: str,
    lake_catalog: str,
) -> None:
    env = tradewire_env(tmp_path, s3_env, seed_folder, site["registry"], batch=3, lake=lake_catalog)
    # A lost task is found by its missing heartbeat: 20 s here instead of Airflow's 300.
    stack = stack_factory(
        env,
        {
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
        },
    )
    deadline = time.monotonic() + DEADLINE
    stack.wait_dag(INGEST, deadline)
    stack.trigger(INGEST)

    def extract_running_on_worker2() -> Workload | None:
        stack.check_alive()
        for w in extracts_on(stack, "worker2"):
            ti = stack.api(
                "GET", f"/dags/{w.dag_id}/dagRuns/{w.run_id}/taskInstances/extract/{w.map_index}"
            )
            if ti["state"] == "running" and ti["try_number"] == w.try_number:
                return w
        return None

    victim = wait_for("an extract running on worker2", extract_running_on_worker2, deadline, 0.1)
    stack.kill("worker2")

    stack.wait_settled(INGEST, TRANSFORMS, deadline)
    assert {r["state"] for r in stack.runs(INGEST)} == {"success"}
    tries = stack.tries(INGEST, victim.run_id, "extract", victim.map_index)
    # The try worker2 was running was lost (not finished), and the next one succeeded.
    assert [t["state"] for t in tries][-1] == "success"
    assert len(tries) >= 2 and tries[0]["state"] != "success", tries
    retried = [
        w
        for w in extracts_on(stack, "worker1")
        if (w.run_id, w.map_index) == (victim.run_id, victim.map_index)
    ]
    assert retried and retried[-1].try_number > victim.try_number

    db = Path(env["TRADEWIRE_DB"])
    assert_every_page_landed_once(db, site, server)
    assert_polite(server, db)
    assert_published_matches(db, env)
    assert_hand_offs_in_the_bucket(s3_env, db, tmp_path)
