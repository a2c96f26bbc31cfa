"""Wiring only: re-tag stored articles after the taxonomy or gazetteer changed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Asset, dag, task

ARTICLES = Asset(name="tradewire_articles", uri="tradewire://duckdb/articles")

DOC_MD = """
### trade_news_retag
Trigger by hand after editing `transforms/taxonomy.toml` or `transforms/gazetteer.toml`.

* **retag** selects articles whose `taxonomy_version` differs from the current tagger's, re-tags
  their stored title and text (nothing is refetched) and rewrites their `us_china` fields,
  `article_topics` and `article_entities` rows, one short transaction per batch of 500.
  It writes the DuckDB file, so it runs in the one-slot `duckdb_writer` pool; it updates the
  `tradewire_articles` asset so the search index and snapshot are refreshed.

A second run with unchanged data files finds nothing to do.
"""

DEFAULT_ARGS: dict[str, Any] = {
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
}


@dag(
    dag_id="trade_news_retag",
    schedule=None,  # manual: only a change to the data files makes a retag worth running
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    doc_md=DOC_MD,
    tags=["tradewire", "tagging"],
)
def trade_news_retag() -> None:
    @task(pool="duckdb_writer", outlets=[ARTICLES])
    def retag() -> dict[str, int]:
        from dataclasses import asdict

        from transforms.retagging import retag_articles
        from transforms.settings import Settings

        return asdict(retag_articles(Settings().db))

    retag()


trade_news_retag()
