"""A run with a process pool lands exactly what a run in one process lands."""

from __future__ import annotations

import shutil
from pathlib import Path

from ingest.pipeline import batched, group_batches, run_pipeline
from transforms.database import connect

# Columns that differ between any two runs by design: when and under which run id.
_VOLATILE = {"ingested_at", "first_ingested_at", "run_id", "occurred_at"}


def _corpus(fixtures_dir: Path, folder: Path) -> Path:
    """Every fixture page and text twice under distinct names, an unextractable page included."""
    folder.mkdir()
    for sub in ("articles", "pages", "bench"):
        for path in sorted((fixtures_dir / sub).iterdir()):
            for copy in range(2):
                shutil.copy(path, folder / f"{copy}-{path.name}")
    return folder


def _rows(db_path: Path) -> dict[str, list[tuple[object, ...]]]:
    out = {}
    with connect(db_path) as con:
        for table in ("articles", "article_topics", "article_entities", "ingest_errors"):
            columns = [
                str(r[0])
                for r in con.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE table_name = ? "
                    "ORDER BY column_index",
                    [table],
                ).fetchall()
                if str(r[0]) not in _VOLATILE
            ]
            out[table] = con.execute(
                f"SELECT {', '.join(columns)} FROM {table} ORDER BY ALL"
            ).fetchall()
    return out


def test_two_workers_land_the_same_rows_as_one(fixtures_dir: Path, tmp_path: Path) -> None:
    folder = _corpus(fixtures_dir, tmp_path / "docs")
    documents = len(list(folder.iterdir()))
    one, two = tmp_path / "one.duckdb", tmp_path / "two.duckdb"
    # Small batches and landings, so the pool's chunking and regrouping are both exercised.
    s1 = run_pipeline([str(folder)], one, batch_size=3, workers=1, land_size=5)
    s2 = run_pipeline([str(folder)], two, batch_size=3, workers=2, land_size=5)
    assert s1.counts == s2.counts
    assert s1.counts.new + s1.counts.failed == documents
    assert s1.counts.failed >= 2  # the empty page, twice
    rows1, rows2 = _rows(one), _rows(two)
    assert len(rows1["articles"]) == s1.counts.new
    assert rows1["article_topics"]  # the trade fixtures get topics, so tags are compared too
    assert rows1 == rows2


def test_progress_reports_every_document(fixtures_dir: Path, tmp_path: Path) -> None:
    folder = _corpus(fixtures_dir, tmp_path / "docs")
    calls: list[tuple[int, int]] = []
    run_pipeline(
        [str(folder)],
        tmp_path / "db.duckdb",
        batch_size=4,
        workers=2,
        progress=lambda done, total: calls.append((done, total)),
    )
    total = len(list(folder.iterdir()))
    assert calls[-1] == (total, total)
    assert [done for done, _ in calls] == sorted({done for done, _ in calls})


def test_batches_regroup_without_losing_or_reordering() -> None:
    items = list(range(23))
    batches = list(batched(items, 4))
    assert [len(b) for b in batches] == [4, 4, 4, 4, 4, 3]
    groups = list(group_batches(batches, 10))  # type: ignore[arg-type]
    assert [len(g) for g in groups] == [12, 11]
    assert [x for g in groups for x in g] == items
