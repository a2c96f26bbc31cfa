"""What the tradewire DAGs share: assets, default args and the writer pool's name.

Not a DAG file (listed in .airflowignore); the DAG files import it from the DAG folder, which
Airflow puts on sys.path. Constants only: parsing must stay free of I/O.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from airflow.sdk import Asset

# Landed articles changed: the transforms DAG refreshes what derives from them.
ARTICLES = Asset(name="tradewire_articles", uri="tradewire://duckdb/articles")

# One slot (dags/pools.json, created by `make setup`): DuckDB allows one writing process per file.
WRITER_POOL = "duckdb_writer"

# Mapped extract tasks of one run at a time (TRADEWIRE_EXTRACT_CONCURRENCY, from the environment
# only: parsing reads no files). Each already extracts on every core of its machine, so on one
# machine a second one only splits the cores and doubles the memory; workers on several
# machines want one each.
EXTRACT_CONCURRENCY = int(os.environ.get("TRADEWIRE_EXTRACT_CONCURRENCY") or 1)

DEFAULT_ARGS: dict[str, Any] = {
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
}
