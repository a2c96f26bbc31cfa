"""Freshness, derived tables, snapshots, readers during ingestion and crash safety."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from ingest.cli import main
from ingest.pipeline import run_pipeline
from transforms.database import connect
from transforms.derived import measure_freshness, refresh_derived
from transforms.snapshot import publish_snapshot, snapshot_path_for

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]

TOPICS = [
    ("Rare earth export curbs", "China tightened export licensing for gallium and germanium."),
    ("Tariff truce extended", "Washington and Beijing extended their tariff truce by 90 days."),
    ("Soybean purchases", "Chinese buyers booked US soybean cargoes after the trade talks."),
    ("Chip export rules", "The Commerce Department widened export controls on chipmaking tools."),
]


def write_articles(folder: Path, count: int, start: int = 0) -> list[Path]:
    """Small distinct .txt articles: title line, then a few sentences."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + count):
        title, sentence = TOPICS[i % len(TOPICS)]
        path = folder / f"article_{i:04d}.txt"
        path.write_text(
            f"{title} ({i})\n\n{sentence} Officials in both capitals commented on case {i}.\n\n"
            f"{sentence} Analysts expect further moves in the dispute number {i}.\n",
            encoding="utf-8",
        )
        paths.append(path)
    return paths


def run_command(folder: Path, db_path: Path, batch_size: int) -> list[str]:
    """`tradewire run` as its own process, as cron or an analyst's shell would start it."""
    return [
        sys.executable,
        "-m",
        "ingest.cli",
        "run",
        "--source",
        str(folder),
        "--db",
        str(db_path),
        "--batch-size",
        str(batch_size),
        "--workers",
        "1",
    ]


def test_derived_tables_match_their_views_and_refresh_only_touched_days(
    tmp_path: Path, db_path: Path
) -> None:
    folder = tmp_path / "in"
    write_articles(folder, 6)
    run_pipeline([str(folder)], db_path, workers=1)
    first = refresh_derived(db_path)
    assert first["topic_daily_counts_articles"] == 6
    with connect(db_path) as con:
        for table, view in (
            ("topic_daily_counts", "topic_daily"),
            ("entity_daily_counts", "entity_mentions"),
        ):
            diff = con.execute(
                f"SELECT count(*) FROM ((SELECT * FROM {table} EXCEPT ALL SELECT * FROM {view}) "
                f"UNION ALL (SELECT * FROM {view} EXCEPT ALL SELECT * FROM {table}))"
            ).fetchone()
            assert diff == (0,), table
        assert con.execute("SELECT count(*) FROM topic_daily_counts").fetchone() != (0,)
    assert refresh_derived(db_path)["topic_daily_counts_articles"] == 0  # nothing new
    write_articles(folder, 1, start=6)
    assert refresh_derived(db_path)["topic_daily_counts_articles"] == 0  # not landed yet
    run_pipeline([str(folder)], db_path, workers=1)
    assert refresh_derived(db_path)["topic_daily_counts_articles"] == 1
    # A retag rewrites tags without relanding: its articles' days are refreshed as well.
    with connect(db_path, read_only=False) as con:
        con.execute(
            "UPDATE articles SET retagged_at = now() + INTERVAL 1 SECOND "
            "WHERE article_id = (SELECT min(article_id) FROM articles)"
        )
    assert refresh_derived(db_path)["topic_daily_counts_articles"] == 1


def test_freshness_reports_lag_from_discovery_to_landing(
    tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "in"
    for path in write_articles(folder, 3):
        old = time.time() - 120
        os.utime(path, (old, old))
    run_pipeline([str(folder)], db_path, workers=1)
    stats = measure_freshness(db_path, timedelta(hours=1))
    assert stats.articles == 3
    assert stats.p50 is not None and 100 < stats.p50 < 3600
    assert main(["freshness", "--db", str(db_path), "--window", "1h"]) == 0
    assert "articles 3" in capsys.readouterr().out
    assert main(["freshness", "--db", str(db_path), "--window", "soon"]) == 2


def test_snapshot_is_a_consistent_copy_that_does_not_block_the_writer(
    tmp_path: Path, db_path: Path
) -> None:
    folder = tmp_path / "in"
    write_articles(folder, 4)
    run_pipeline([str(folder)], db_path, workers=1)
    snap = publish_snapshot(db_path)
    assert snap == snapshot_path_for(db_path) and snap.exists()
    # An analyst keeps the snapshot open in another process while ingestion goes on.
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time\n"
            f"con = duckdb.connect({str(snap)!r}, read_only=True)\n"
            "print(con.execute('select count(*) from articles').fetchone()[0], flush=True)\n"
            "time.sleep(5)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout is not None and reader.stdout.readline().strip() == "4"
        write_articles(folder, 2, start=4)
        summary = run_pipeline([str(folder)], db_path, workers=1)
        assert summary.counts.new == 2
        publish_snapshot(db_path)  # replaced by rename while the old copy is still open
    finally:
        reader.kill()
        reader.wait()
    con = duckdb.connect(str(snap), read_only=True)
    assert con.execute("SELECT count(*) FROM articles").fetchone() == (6,)
    con.close()


def test_reader_loop_never_errors_during_back_to_back_runs(tmp_path: Path, db_path: Path) -> None:
    folder = tmp_path / "in"
    write_articles(folder, 5)
    run_pipeline([str(folder)], db_path, workers=1)  # the database exists before readers start
    errors: list[str] = []
    answers = 0
    done = threading.Event()

    def ingest() -> None:
        try:
            for round_ in range(3):
                write_articles(folder, 30, start=100 + 30 * round_)
                result = subprocess.run(
                    run_command(folder, db_path, 10),
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
                if result.returncode != 0:
                    errors.append(result.stderr[-2000:])
        finally:
            done.set()

    worker = threading.Thread(target=ingest)
    worker.start()
    while not done.is_set():
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "ingest.cli",
                "sql",
                "select count(*) from articles",
                "--db",
                str(db_path),
                "--format",
                "csv",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            errors.append(result.stderr)
        else:
            answers += 1
    worker.join()
    assert errors == []
    assert answers >= 3
    with connect(db_path) as con:
        assert con.execute("SELECT count(*) FROM articles").fetchone() == (95,)


def test_load_killed_mid_run_then_rerun_leaves_exactly_the_expected_rows(
    tmp_path: Path, db_path: Path
) -> None:
    folder = tmp_path / "in"
    write_articles(folder, 120)
    command = run_command(folder, db_path, 5)
    killed = 0
    for delay in (2.0, 3.0, 4.0):
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.wait()
    assert killed >= 1, "every run finished before the kill; the test proved nothing"
    assert subprocess.run(command, capture_output=True, timeout=600).returncode == 0
    with connect(db_path) as con:
        assert con.execute(
            "SELECT count(*), count(DISTINCT article_id) FROM articles"
        ).fetchone() == (120, 120)
        orphans = con.execute(
            "SELECT count(*) FROM article_topics WHERE article_id NOT IN "
            "(SELECT article_id FROM articles)"
        ).fetchone()
        untagged = con.execute(
            "SELECT count(*) FROM articles a WHERE NOT EXISTS "
            "(SELECT 1 FROM article_topics t WHERE t.article_id = a.article_id)"
        ).fetchone()
    assert orphans == (0,)
    assert untagged == (0,)  # every fixture article carries topics: none was half-written
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert "new 0, updated 0" in rerun.stdout
