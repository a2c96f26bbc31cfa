"""The real DAG, run by Airflow's dag.test() into a temporary DuckDB file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from transforms.database import connect

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def airflow_db() -> Iterator[None]:
    """A migrated Airflow metadata DB (the throw-away one tests/conftest.py points at)."""
    from airflow.models.pool import Pool
    from airflow.utils.db import initdb

    initdb()
    Pool.create_or_update_pool("duckdb_writer", 1, "one DuckDB writer", include_deferred=False)
    yield


@pytest.fixture
def ingest_dag(  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
    seed_folder: Path,
    seed_registry: Path,
    db_path: Path,
    tmp_path: Path,
):
    """The DAG with its settings pointed at a private seeds copy, registry and DuckDB file."""
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("TRADEWIRE_SEEDS_DIR", str(seed_folder))
    monkeypatch.setenv("TRADEWIRE_SOURCES_FILE", str(seed_registry))
    monkeypatch.setenv("TRADEWIRE_DB", str(db_path))
    monkeypatch.setenv("TRADEWIRE_STAGING_ROOT", str(tmp_path / "staging"))
    monkeypatch.setenv("TRADEWIRE_WORKERS", "2")
    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert bag.import_errors == {}
    return bag.dags["trade_news_ingest"]


def _snapshot(db_path: Path) -> list[tuple[object, ...]]:
    with connect(db_path) as con:
        return con.execute(
            "SELECT a.article_id, a.title, a.content_hash, a.run_id, t.topic, t.score "
            "FROM articles a LEFT JOIN article_topics t USING (article_id) ORDER BY 1, 5"
        ).fetchall()


def test_dag_lands_the_seed_then_is_idempotent_then_picks_up_changes(
    airflow_db: None,
    ingest_dag,
    seed_folder: Path,
    db_path: Path,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    from airflow.utils.state import DagRunState

    first = ingest_dag.test()
    assert first.state == DagRunState.SUCCESS
    with connect(db_path) as con:
        titles = con.execute("SELECT title, us_china FROM articles").fetchall()
        topics = {r[0] for r in con.execute("SELECT topic FROM article_topics").fetchall()}
        run = con.execute("SELECT seen, new, updated, failed FROM ingest_runs").fetchall()
    assert titles == [
        ("U.S.-China Trade Talks Progress at Lancaster House Amid Ongoing Tensions", True)
    ]
    assert {"rare_earths", "trade_talks"} <= topics
    assert run == [(1, 1, 0, 0)]
    assert not any((tmp_path / "staging").rglob("*.jsonl")), "staging files are cleaned up"

    before = _snapshot(db_path)
    second = ingest_dag.test()
    assert second.state == DagRunState.SUCCESS
    assert _snapshot(db_path) == before
    with connect(db_path) as con:
        runs = con.execute(
            "SELECT seen, new, updated, unchanged FROM ingest_runs ORDER BY started_at"
        ).fetchall()
    assert runs[-1] == (1, 0, 0, 1)

    seed = next(seed_folder.glob("*.txt"))
    seed.write_text(
        seed.read_text(encoding="utf-8").replace(
            "Lancaster House, located near", "Lancaster House in London, located near"
        ),
        encoding="utf-8",
    )
    (seed_folder / "new_article.txt").write_text(
        "Soybean Purchases Resume After Trade Truce\n\nChinese importers booked several cargoes "
        "of US soybeans this week after the tariff truce.\n\nTraders expect more farm purchases.\n",
        encoding="utf-8",
    )
    third = ingest_dag.test()
    assert third.state == DagRunState.SUCCESS
    with connect(db_path) as con:
        assert con.execute("SELECT count(*) FROM articles").fetchone() == (2,)
        changed = con.execute(
            "SELECT count(*) FROM articles WHERE text LIKE '%Lancaster House in London%'"
        ).fetchone()
        last = con.execute(
            "SELECT seen, new, updated FROM ingest_runs ORDER BY started_at DESC LIMIT 1"
        ).fetchone()
    assert changed == (1,)
    assert last == (2, 1, 1)


_RUN_DAG = r"""
import sys
from airflow.models.pool import Pool
from airflow.utils.db import initdb
from airflow.dag_processing.dagbag import DagBag
from airflow.utils.state import DagRunState

initdb()
Pool.create_or_update_pool("duckdb_writer", 1, "one DuckDB writer", include_deferred=False)
sys.path.append(sys.argv[1])  # as Airflow's DAG bundle does: DAG files import their wiring
dag = DagBag(dag_folder=sys.argv[1]).dags["trade_news_ingest"]
print("READY", flush=True)
sys.stdin.readline()  # start both runs at the same moment
run = dag.test()
print("STATE", run.state, flush=True)
sys.exit(0 if run.state == DagRunState.SUCCESS else 1)
"""


def test_two_overlapping_dag_runs_against_one_duckdb_file_both_succeed(
    seed_folder: Path, seed_registry: Path, db_path: Path, tmp_path: Path
) -> None:
    """Two Airflow runs at once (as a scheduled and a manual run would) share one DuckDB file."""
    import subprocess
    import sys

    for i in range(40):  # enough work that the two runs really overlap
        (seed_folder / f"extra_{i:03d}.txt").write_text(
            f"Tariff talks round {i}\n\nUS and Chinese negotiators met on tariffs, round {i}.\n\n"
            f"Both sides said the tariff talks would continue, round {i}.\n",
            encoding="utf-8",
        )
    procs = []
    for name in ("scheduled", "manual"):
        env = {
            **os.environ,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/{name}-airflow.db",
            "TRADEWIRE_SEEDS_DIR": str(seed_folder),
            "TRADEWIRE_SOURCES_FILE": str(seed_registry),
            "TRADEWIRE_DB": str(db_path),
            "TRADEWIRE_STAGING_ROOT": str(tmp_path / f"staging-{name}"),
            "TRADEWIRE_BATCH_SIZE": "10",
            "TRADEWIRE_WORKERS": "1",
        }
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", _RUN_DAG, str(REPO / "dags")],
                env=env,
                text=True,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        )
    for proc in procs:
        assert proc.stdout is not None
        while (line := proc.stdout.readline()) and not line.startswith("READY"):
            pass
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    outputs = [proc.communicate(timeout=600)[0] for proc in procs]
    for proc, out in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, out[-3000:]
    with connect(db_path) as con:
        assert con.execute(
            "SELECT count(*), count(DISTINCT article_id) FROM articles"
        ).fetchone() == (41, 41)
        runs = con.execute("SELECT count(*), sum(new) FROM ingest_runs").fetchone()
    assert runs == (2, 41)  # each article counted new by exactly one of the runs


def test_dag_polls_a_registered_feed_and_lands_its_entries(
    airflow_db: None,
    monkeypatch: pytest.MonkeyPatch,
    server,  # type: ignore[no-untyped-def]
    seed_folder: Path,
    db_path: Path,
    tmp_path: Path,
) -> None:
    """A registry listing a loopback feed: the DAG polls it, and only the load writes DuckDB."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils.state import DagRunState

    from tests.integration.feedsite import (
        page_entries,
        serve_feed,
        serve_pages,
        write_site_registry,
    )

    entries = page_entries(3)
    serve_pages(server, entries)
    serve_feed(server, entries, etag='"v1"')
    registry = write_site_registry(
        tmp_path / "conf" / "sources.toml", server.url("/feed.xml"), seed_folder
    )
    for name, value in {
        "TRADEWIRE_SOURCES_FILE": str(registry),
        "TRADEWIRE_ALLOWED_HOSTS": "127.0.0.1",
        "TRADEWIRE_FETCH_MIN_INTERVAL": "0.01",
        "TRADEWIRE_STATE_DIR": str(tmp_path / "state"),
        "TRADEWIRE_RAW_DIR": str(tmp_path / "raw"),
        "TRADEWIRE_DB": str(db_path),
        "TRADEWIRE_STAGING_ROOT": str(tmp_path / "staging"),
        "TRADEWIRE_WORKERS": "1",
    }.items():
        monkeypatch.setenv(name, value)
    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert bag.import_errors == {}
    dag = bag.dags["trade_news_ingest"]

    assert dag.test().state == DagRunState.SUCCESS
    with connect(db_path) as con:
        feed = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE NOT is_summary_only) FROM articles "
            "WHERE source = 'loopback-wire'"
        ).fetchone()
        folder = con.execute("SELECT count(*) FROM articles WHERE source <> 'loopback-wire'")
        assert folder.fetchone() == (1,)
        states = con.execute("SELECT DISTINCT state FROM discovered_urls").fetchall()
        sources = con.execute(
            "SELECT name, kind, last_status, last_new_entries FROM sources ORDER BY kind, name"
        ).fetchall()
        fetched = con.execute("SELECT count(*) FROM fetch_log WHERE status = 200").fetchone()
        run = con.execute("SELECT seen, new FROM ingest_runs").fetchall()
    assert feed == (3, 3)
    assert states == [("landed",)]
    assert sources == [
        ("loopback-wire", "feed", "ok", 3),
        (str(seed_folder), "folder", "ok", 1),
    ]
    assert fetched is not None and fetched[0] == 4  # the feed and three pages
    assert run == [(4, 4)]
    assert not any((tmp_path / "staging").rglob("*.jsonl")), "staging files are cleaned up"

    # Not due again for 30 minutes: the next scheduled run leaves the feed alone.
    feed_hits = len(server.hits_for("/feed.xml"))
    assert dag.test().state == DagRunState.SUCCESS
    assert len(server.hits_for("/feed.xml")) == feed_hits
