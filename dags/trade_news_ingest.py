"""Wiring only: every task body is one call into ingest/ or transforms/."""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import (
    Asset,
    AssetOrTimeSchedule,
    AssetWatcher,
    CronTriggerTimetable,
    dag,
    get_current_context,
    task,
)
from tradewire_wiring import ARTICLES, DEFAULT_ARGS, EXTRACT_CONCURRENCY, WRITER_POOL

from ingest.inbox import InboxTrigger

# Path arithmetic and an environment lookup only: DAG parsing must not touch the disk.
INBOX_DIR = os.environ.get("TRADEWIRE_SEEDS_DIR") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "seeds"
)
INBOX = Asset(
    name="tradewire_inbox",
    uri="tradewire://inbox/seeds",
    watchers=[AssetWatcher(name="seeds_inbox", trigger=InboxTrigger(directory=INBOX_DIR))],
)

DOC_MD = """
### trade_news_ingest
Discovers new or changed trade articles in the sources of the registry
(`TRADEWIRE_SOURCES_FILE`, default `seeds/sources.toml`: the offline `seeds/` folder; a file
dropped there starts a run within seconds through the `tradewire_inbox` asset watcher, and the
15-minute schedule is the safety net and polls the feeds that are due), extracts them with
trafilatura, tags them for US–China topics with evidence, and lands them in DuckDB (`articles`,
`article_topics`, `article_entities`, `ingest_runs`, and for feeds `sources`, `fetch_log`,
`discovered_urls`, `feed_entries`).

* **plan** picks the sources that are due (a failing feed is backed off exponentially) and
  stages them in one group per site (folders together).
* **poll** is mapped over the groups: conditional GETs of each feed, then each new entry's
  page, politely (`ingest/fetch.py`), into the raw store; it stages batches of documents plus
  the group's fetch log and source state. Neither it nor discover writes DuckDB.
* **collect** flattens the groups' batch lists for the mapping below.
* **extract** is mapped over those batches (`TRADEWIRE_EXTRACT_BATCH_SIZE` documents each): it
  extracts and tags each batch in a lean child process on `TRADEWIRE_WORKERS` processes (every
  core by default), the same stage `tradewire run` uses, one batch at a time per run
  (`TRADEWIRE_EXTRACT_CONCURRENCY`); XCom carries only batch URLs.
* **load** is the only task that writes the DuckDB file; it runs in the one-slot
  `duckdb_writer` pool and commits one short transaction per batch (each URL's terminal state
  with its article), then the polls' records, then emits the `tradewire_articles` asset.

Re-running over unchanged sources adds and changes nothing.
"""


@dag(
    dag_id="trade_news_ingest",
    # A file dropped into the inbox starts a run within seconds; the 15-minute schedule is
    # the safety net for feeds that became due and anything an event missed.
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("*/15 * * * *", timezone="UTC"), assets=INBOX
    ),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    doc_md=DOC_MD,
    tags=["tradewire", "ingest"],
)
def trade_news_ingest() -> None:
    @task
    def plan() -> list[str]:
        from ingest.orchestration import plan_for_run

        return plan_for_run(get_current_context()["run_id"])

    @task
    def poll(group: str) -> list[str]:
        from ingest.orchestration import poll_for_run

        return poll_for_run(group, get_current_context()["run_id"])

    @task
    def collect(groups: list[list[str]]) -> list[str]:
        return [batch for group in groups for batch in group]

    @task(max_active_tis_per_dagrun=EXTRACT_CONCURRENCY)
    def extract(batch: str) -> str:
        from ingest.orchestration import extract_for_run

        return extract_for_run(batch)

    @task(pool=WRITER_POOL, outlets=[ARTICLES], trigger_rule="none_failed")
    def load(batches: list[str]) -> dict[str, int]:
        from ingest.orchestration import load_for_run

        context = get_current_context()
        dag_run = context["dag_run"]
        return load_for_run(
            list(batches), context["run_id"], dag_run.start_date, str(dag_run.run_type)
        )

    batches = collect(poll.expand(group=plan()))  # type: ignore[arg-type]
    load(extract.expand(batch=batches))  # type: ignore[arg-type]


trade_news_ingest()
