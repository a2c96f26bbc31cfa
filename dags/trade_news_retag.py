"""Wiring only: re-tag stored articles after the taxonomy or gazetteer changed."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task
from tradewire_wiring import ARTICLES, DEFAULT_ARGS, WRITER_POOL, WRITER_QUEUE

DOC_MD = """
### trade_news_retag
Trigger by hand after editing `transforms/taxonomy.toml` or `transforms/gazetteer.toml`.

* **retag** selects articles whose `taxonomy_version` differs from the current tagger's, re-tags
  their stored title and text (nothing is refetched) and rewrites their `us_china` fields,
  `article_topics` and `article_entities` rows, one short transaction per batch of 500.
  It writes the DuckDB file, so it runs in the one-slot `duckdb_writer` pool (and on the writer
  queue under the CeleryExecutor); it updates the
  `tradewire_articles` asset so the search index and snapshot are refreshed.

A second run with unchanged data files finds nothing to do.
"""


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
    @task(pool=WRITER_POOL, queue=WRITER_QUEUE, outlets=[ARTICLES])
    def retag() -> dict[str, int]:
        from ingest.orchestration import retag_stored

        return retag_stored()

    retag()


trade_news_retag()
