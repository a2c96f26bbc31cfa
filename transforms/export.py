"""Parquet exports for other engines (DuckDB, Spark, Trino): hive-partitioned by month."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import duckdb

# UTC month of publication; undated articles get their own partition instead of a guess.
_MONTH = "coalesce(strftime(a.published_at AT TIME ZONE 'UTC', '%Y-%m'), 'unknown')"
# JSON columns go out as plain strings: Spark rejects Parquet's JSON logical type.
EXPORT_QUERIES = {
    "articles": (
        "SELECT a.* REPLACE (CAST(a.us_china_evidence AS VARCHAR) AS us_china_evidence), "
        f"{_MONTH} AS month FROM articles AS a"
    ),
    "article_topics": (
        "SELECT t.* REPLACE (CAST(t.evidence AS VARCHAR) AS evidence), "
        f"{_MONTH} AS month FROM article_topics AS t LEFT JOIN articles AS a USING (article_id)"
    ),
    "article_entities": (
        f"SELECT e.*, {_MONTH} AS month "
        "FROM article_entities AS e LEFT JOIN articles AS a USING (article_id)"
    ),
}
PARTITION_PREFIX = "month="
_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


def export_parquet(con: duckdb.DuckDBPyConnection, out_dir: Path) -> dict[str, int]:
    """Write every table under out_dir/<table>/month=YYYY-MM/; returns rows written per table.

    Each table is written whole into a hidden staging folder inside out_dir (same filesystem),
    then each partition is swapped in by rename, so readers never see a half-written partition.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=out_dir))
    try:
        counts: dict[str, int] = {}
        for table, query in EXPORT_QUERIES.items():
            row = con.execute(f"SELECT count(*) FROM ({query})").fetchone()
            counts[table] = int(row[0]) if row else 0
            con.sql(query).write_parquet(str(staging / table), partition_by=["month"])
        for table in EXPORT_QUERIES:
            publish_partitions(staging / table, out_dir / table, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return counts


def publish_partitions(new_table: Path, target_table: Path, scratch: Path) -> None:
    """Swap each new partition into place and retire partitions the database no longer has."""
    target_table.mkdir(parents=True, exist_ok=True)
    fresh = sorted(p.name for p in new_table.iterdir()) if new_table.is_dir() else []
    for name in fresh:
        swap_in(new_table / name, target_table / name, scratch)
    for old in sorted(target_table.iterdir()):
        if old.name.startswith(PARTITION_PREFIX) and old.name not in fresh:
            retired = scratch / f"retired-{uuid.uuid4().hex}"
            old.rename(retired)  # one atomic step: the partition is there, then it is gone
            shutil.rmtree(retired, ignore_errors=True)


def swap_in(new: Path, target: Path, scratch: Path) -> None:
    """Put `new` at `target` atomically; whatever was at `target` ends up deleted."""
    if not target.exists():
        new.rename(target)
        return
    if _exchange(new, target):
        shutil.rmtree(new, ignore_errors=True)  # `new` now holds the old partition
        return
    # No atomic exchange (not Linux, or the filesystem refuses): two renames, so for a moment
    # the partition is absent, but never half-written.
    retired = scratch / f"retired-{uuid.uuid4().hex}"
    target.rename(retired)
    new.rename(target)
    shutil.rmtree(retired, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories with renameat2(RENAME_EXCHANGE) where Linux offers it."""
    name = ctypes.util.find_library("c")
    if name is None or not hasattr(os, "uname") or os.uname().sysname != "Linux":
        return False
    libc = ctypes.CDLL(name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    result = renameat2(
        _AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), ctypes.c_uint(_RENAME_EXCHANGE)
    )
    return bool(result == 0)
