"""Wiring only: refresh what is derived from the articles table each time a load lands."""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import dag, task
from tradewire_wiring import ARTICLES, DEFAULT_ARGS, WRITER_POOL, WRITER_QUEUE

DOC_MD = """
### trade_news_transforms
Runs whenever `trade_news_ingest` updates the `tradewire_articles` asset.

* **refresh_search** updates the BM25 full-text index for the articles landed, changed or
  removed since it last ran (first, so that new articles are findable soonest).
* **refresh_derived** recomputes `topic_daily_counts` and `entity_daily_counts` only for the days
  touched by articles landed since the last refresh (watermarks in `derived_state`).
* **publish_snapshot** publishes what changed to the lake (`TRADEWIRE_SNAPSHOT=lake`, the default:
  a DuckLake any number of analysts attach read-only, see docs/lake.md), or copies the database
  to `<db>.snapshot.duckdb` atomically (`file`), for analysts who keep the DuckDB CLI or a
  notebook open while ingestion goes on.

Every task writes the DuckDB file, so each runs in the one-slot `duckdb_writer` pool, and on the
writer queue (the machine that owns the file) under the CeleryExecutor.
"""


@dag(
    dag_id="trade_news_transforms",
    schedule=[ARTICLES],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    doc_md=DOC_MD,
    tags=["tradewire", "transforms"],
)
def trade_news_transforms() -> None:
    @task(pool=WRITER_POOL, queue=WRITER_QUEUE)
    def refresh_derived() -> dict[str, int]:
        from ingest.orchestration import refresh_derived_tables

        return refresh_derived_tables()

    @task(pool=WRITER_POOL, queue=WRITER_QUEUE)
    def refresh_search() -> int:
        from ingest.orchestration import refresh_search_index

        return refresh_search_index()

    @task(pool=WRITER_POOL, queue=WRITER_QUEUE)
    def publish_snapshot() -> str | None:
        from ingest.orchestration import publish_snapshot as publish

        return publish()

    # Search first: a new article is findable one task sooner (freshness counts search too).
    search: Any = refresh_search()
    search >> refresh_derived() >> publish_snapshot()


trade_news_transforms()
