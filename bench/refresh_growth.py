"""The refresh after a load, at database sizes of 1k, 10k and 50k articles, side by side.

Each database is landed through the real landing code from the corpus's tagged articles under
distinct ids and spread over two years of publication days, refreshed once in full (untimed: the state a running installation is in), then
100 new articles of the latest two days land and `refresh_after_load` (what `tradewire run` and the transforms DAG
run: derived tables, search index, snapshot) is timed; then 100 existing articles change
their text and it is timed again. A refresh that costs what the database holds grows with the
size; one that costs what the load landed does not.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

DEFAULT_SIZES = (1_000, 10_000, 50_000)
LOAD = 100
# The database holds two years of articles; a load lands the latest days' news, as a scheduled
# run does (copies of the corpus would otherwise all share its few publication days, and every
# load would touch every day the database holds).
HISTORY_START, HISTORY_DAYS = datetime(2024, 12, 1, tzinfo=UTC), 730
LOAD_START, LOAD_DAYS = HISTORY_START + timedelta(days=HISTORY_DAYS), 2
MB = 1024 * 1024


def copies_of(
    tagged: Sequence[Any], prefix: str, start: int, count: int, first_day: datetime, days: int
) -> list[Any]:
    """`count` tagged articles under ids prefix-<n>, each with its own near-duplicate signature,
    published over `days` days from `first_day` (copy n on day n mod days)."""
    out = []
    for i in range(start, start + count):
        source = tagged[i % len(tagged)]
        article = replace(
            source.article,
            article_id=f"{prefix}-{i:07d}",
            published_at=(first_day + timedelta(days=i % days, hours=i % 24)).isoformat(),
        )
        signature = getattr(article, "minhash", None)
        if signature:
            article = replace(article, minhash=os.urandom(len(signature) // 2).hex())
        out.append(replace(source, article=article))
    return out


def land_as_a_run(db: Path, batches: list[list[Any]], run_id: str) -> None:
    """Land, then checkpoint as a run's closing `finish_run` connection does: the checkpoint
    (which rewrites primary-key indexes, so grows with the tables) is the load's cost, not the
    refresh's, in `tradewire run` and the DAG's load task alike."""
    from transforms.database import connect
    from transforms.load import land_batches

    land_batches(db, batches, run_id)
    with connect(db, read_only=False) as con:
        con.execute("CHECKPOINT")


def timed_refresh(db: Path, snapshot: str | bool) -> tuple[float, dict[str, int]]:
    """One refresh_after_load, as the CLI runs it, and its wall time."""
    from transforms.derived import refresh_after_load

    start = time.perf_counter()
    out = refresh_after_load(db, snapshot=snapshot)
    return time.perf_counter() - start, out


def measure_refresh_growth(
    tagged: Sequence[Any], tmp: Path, sizes: Sequence[int] = DEFAULT_SIZES
) -> list[dict[str, Any]]:
    """Refresh cost after landing 100 new and after changing 100 articles, per database size."""
    from transforms.settings import Settings

    snapshot = Settings().snapshot
    rows = []
    for size in sizes:
        db = tmp / f"refresh-{size}.duckdb"
        base = copies_of(tagged, "bench", 0, size, HISTORY_START, HISTORY_DAYS)
        land_as_a_run(db, [base[i : i + 500] for i in range(0, size, 500)], "bench-base")
        del base
        full, _ = timed_refresh(db, snapshot)
        new = copies_of(tagged, "bench-new", 0, LOAD, LOAD_START, LOAD_DAYS)
        land_as_a_run(db, [new], "bench-new")
        added, _ = timed_refresh(db, snapshot)
        changed_articles = [
            replace(
                t,
                article=replace(
                    t.article,
                    text=t.article.text + " Revised: tariffs.",
                    content_hash=f"revised-{t.article.content_hash}",
                ),
            )
            for t in copies_of(tagged, "bench", 1, LOAD, HISTORY_START, HISTORY_DAYS)
        ]
        land_as_a_run(db, [changed_articles], "bench-change")
        changed, _ = timed_refresh(db, snapshot)
        rows.append(
            {
                "articles": size,
                "full_refresh_s": round(full, 3),
                "refresh_after_100_new_s": round(added, 3),
                "refresh_after_100_changed_s": round(changed, 3),
                "db_mb": round(db.stat().st_size / MB, 1),
            }
        )
    smallest = rows[0]["refresh_after_100_new_s"] or 1e-9
    for row in rows:
        row["new_vs_smallest"] = round(row["refresh_after_100_new_s"] / smallest, 2)
    return rows


def main() -> int:
    """Print the rows for the corpus pages (python -m bench.refresh_growth [SIZE ...])."""
    import json
    import sys
    import tempfile

    from bench.run_bench import DEFAULT_CORPUS, sample_articles

    sizes = tuple(int(a) for a in sys.argv[1:]) or DEFAULT_SIZES
    if not DEFAULT_CORPUS.is_dir():
        print(f"skipped: no corpus at {DEFAULT_CORPUS}")
        return 0
    tagged = sample_articles(DEFAULT_CORPUS, os.cpu_count() or 1)
    with tempfile.TemporaryDirectory(prefix="tradewire-refresh-") as tmp:
        for row in measure_refresh_growth(tagged, Path(tmp), sizes):
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
