"""Wiring only: refresh what is derived from the articles table each time a load lands."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Asset, dag, task

ARTICLES = Asset(name="tradewire_articles", uri="tradewire://duckdb/articles")

DOC_MD = """
### trade_news_transforms
Runs whenever `trade_news_ingest` updates the `tradewire_articles` asset.

* **refresh_derived** recomputes `topic_daily_counts` and `entity_daily_counts` only for the days
  touched by articles landed since the last refresh (watermarks in `derived_state`).
* **refresh_search** rebuilds the BM25 full-text index over titles and texts.
* **publish_snapshot** copies the database to `<db>.snapshot.duckdb` atomically, for analysts who
  want to keep the DuckDB CLI or a notebook open while ingestion goes on.

Every task writes the DuckDB file, so each runs in the one-slot `duckdb_writer` pool.
"""


@dag(
    dag_id="trade_news_transforms",
    schedule=[ARTICLES],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
    doc_md=DOC_MD,
    tags=["tradewire", "transforms"],
)
def trade_news_transforms() -> None:
    @task(pool="duckdb_writer")
    def refresh_derived() -> dict[str, int]:
        from transforms.derived import refresh_derived as refresh
        from transforms.settings import Settings

        return refresh(Settings().db)

    @task(pool="duckdb_writer")
    def refresh_search() -> int:
        from transforms.derived import refresh_search as refresh
        from transforms.settings import Settings

        return refresh(Settings().db)

    @task(pool="duckdb_writer")
    def publish_snapshot() -> str | None:
        from transforms.settings import Settings
        from transforms.snapshot import publish_snapshot as publish

        settings = Settings()
        return str(publish(settings.db)) if settings.snapshot else None

    derived: Any = refresh_derived()
    derived >> refresh_search() >> publish_snapshot()


trade_news_transforms()
