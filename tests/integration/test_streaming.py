"""Freshness, derived tables, snapshots, readers during ingestion and crash safety."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial
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
    assert derived_differs_from_views(db_path) == {
        "topic_daily_counts": 0,
        "entity_daily_counts": 0,
    }
    with connect(db_path) as con:
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
    # An analyst keeps the snapshot open in another process while ingestion goes on: it counts,
    # waits for a line on stdin (however long the ingestion takes), then counts again.
    count = "print(con.execute('select count(*) from articles').fetchone()[0], flush=True)\n"
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys\n"
            f"con = duckdb.connect({str(snap)!r}, read_only=True)\n"
            f"{count}sys.stdin.readline()\n{count}",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdin is not None and reader.stdout is not None
        assert reader.stdout.readline().strip() == "4"
        write_articles(folder, 2, start=4)
        summary = run_pipeline([str(folder)], db_path, workers=1)
        assert summary.counts.new == 2
        publish_snapshot(db_path)  # replaced by rename while the old copy is still open
        assert reader.poll() is None, "the reader closed the snapshot before it was replaced"
        reader.stdin.write("go\n")
        reader.stdin.flush()
        # Its open copy is the one it opened, whole: not the new file, not an error.
        assert reader.stdout.readline().strip() == "4"
        assert reader.wait(timeout=60) == 0
    finally:
        if reader.poll() is None:
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


def wal_path(db_path: Path) -> Path:
    """DuckDB's write-ahead log: committed work not yet checkpointed into the file."""
    return db_path.with_name(db_path.name + ".wal")


def written_since(path: Path, since_ns: int, min_bytes: int) -> bool:
    """Whether `path` was written after since_ns (time.time_ns()) and holds min_bytes."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return False
    return stat.st_mtime_ns >= since_ns and stat.st_size >= min_bytes


def landed_articles(db_path: Path) -> int:
    """Committed articles as a reader sees them now; -1 while the writer holds the file."""
    try:
        con = duckdb.connect(str(db_path), read_only=True)
    except duckdb.Error:  # no file yet, or locked by the writer
        return -1
    try:
        row = con.execute("SELECT count(*) FROM articles").fetchone()
        return int(row[0]) if row else 0
    except duckdb.CatalogException:  # the schema is not there yet
        return 0
    finally:
        con.close()


def kill_when(proc: subprocess.Popen[bytes], moment: str, event: Callable[[], bool]) -> None:
    """SIGKILL proc as soon as event() holds (polled, within 120 s); fail if it never did."""
    deadline = time.monotonic() + 120
    while not event():
        if proc.poll() is not None:
            raise AssertionError(f"the run ended (exit {proc.returncode}) before {moment}")
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise AssertionError(f"no {moment} within 120 s")
        time.sleep(0.005)
    assert proc.poll() is None, f"the run ended before it could be killed at {moment}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def assert_whole_articles(db_path: Path) -> int:
    """Every landed article is there once, with its topics; returns how many landed."""
    if not db_path.exists():
        return 0
    with connect(db_path) as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        if not {"articles", "article_topics"} <= tables:  # killed while migrating
            return 0
        count, distinct = con.execute(
            "SELECT count(*), count(DISTINCT article_id) FROM articles"
        ).fetchone() or (None, None)
        orphans = con.execute(
            "SELECT count(*) FROM article_topics WHERE article_id NOT IN "
            "(SELECT article_id FROM articles)"
        ).fetchone()
        untagged = con.execute(
            "SELECT count(*) FROM articles a WHERE NOT EXISTS "
            "(SELECT 1 FROM article_topics t WHERE t.article_id = a.article_id)"
        ).fetchone()
    assert count == distinct
    assert orphans == (0,)
    assert untagged == (0,)  # every fixture article carries topics: none was half-written
    return int(count or 0)


def test_load_killed_mid_run_then_rerun_leaves_exactly_the_expected_rows(
    tmp_path: Path, db_path: Path
) -> None:
    """Three `tradewire run`s killed at three moments of their landing, then a clean rerun.

    Each killed run is given 40 articles no run has seen, so it has a landing to do; it is
    killed when its moment shows on disk, not after a guessed delay.
    """
    folder = tmp_path / "in"
    command = run_command(folder, db_path, 5)
    wal = wal_path(db_path)
    landed = 0  # articles in the file after the last kill
    seen: list[int] = []  # what the reader of the last moment saw

    def rows_in_the_log(since: int) -> bool:
        # The landing's rows (~3 KB an article; the whole schema is ~25 KB) are being committed
        # to the log, or are committed but not checkpointed: the next open must replay them.
        return written_since(wal, since, 64 * 1024)

    def first_write(since: int) -> bool:
        # On a migrated file the run's first write is its landing (or the replay of the log
        # the last kill left).
        return written_since(wal, since, 1)

    def rows_visible(since: int) -> bool:
        # A reader sees the new rows: the run has landed but not recorded itself or finished.
        seen.append(landed_articles(db_path))
        return seen[-1] > landed

    for i, (moment, event) in enumerate(
        [
            ("its rows reaching the log", rows_in_the_log),
            ("its first write to the log", first_write),
            ("its rows being visible to a reader", rows_visible),
        ]
    ):
        write_articles(folder, 40, start=40 * i)
        since = time.time_ns()
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        kill_when(proc, moment, partial(event, since))
        landed = assert_whole_articles(db_path)
    assert landed >= max(seen), "rows a reader saw committed were lost to the kill"
    assert subprocess.run(command, capture_output=True, timeout=600).returncode == 0
    assert assert_whole_articles(db_path) == 120
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert "seen 120, new 0, updated 0" in rerun.stdout


def test_first_run_killed_while_migrating_then_rerun_lands_everything(
    tmp_path: Path, db_path: Path
) -> None:
    folder = tmp_path / "in"
    write_articles(folder, 40)
    command = run_command(folder, db_path, 5)
    since = time.time_ns()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # On a fresh file the first write is a migration: no article can have landed yet.
    kill_when(proc, "its first commit", partial(written_since, wal_path(db_path), since, 1))
    assert assert_whole_articles(db_path) == 0
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "seen 40, new 40" in rerun.stdout
    assert assert_whole_articles(db_path) == 40


def derived_differs_from_views(db_path: Path) -> dict[str, int]:
    """Rows by which each derived table and the view it materialises differ, both ways."""
    out = {}
    with connect(db_path) as con:
        for table, view in (
            ("topic_daily_counts", "topic_daily"),
            ("entity_daily_counts", "entity_mentions"),
        ):
            row = con.execute(
                f"SELECT count(*) FROM ((SELECT * FROM {table} EXCEPT ALL SELECT * FROM {view}) "
                f"UNION ALL (SELECT * FROM {view} EXCEPT ALL SELECT * FROM {table}))"
            ).fetchone()
            out[table] = int(row[0]) if row else -1
    return out


def write_dated_page(path: Path, day: str, note: str) -> None:
    """A trade story whose page declares its publication day."""
    path.write_text(
        "<html><head><title>Gallium export curbs tighten</title>"
        f'<meta property="article:published_time" content="{day}T08:00:00Z"></head><body>'
        "<article><h1>Gallium export curbs tighten</h1>"
        "<p>China tightened export licensing for gallium and germanium, the commerce ministry "
        "said, widening curbs on rare earth processing technology shipped to the United States."
        f"</p><p>Washington called the export controls a breach of the trade truce. {note}</p>"
        "</article></body></html>",
        encoding="utf-8",
    )


def test_an_article_that_moves_to_another_day_is_recounted_on_both_days(
    tmp_path: Path, db_path: Path
) -> None:
    folder = tmp_path / "in"
    write_articles(folder, 4)
    page = folder / "dated.html"
    write_dated_page(page, "2026-05-01", "First version.")
    run_pipeline([str(folder)], db_path, workers=1)
    refresh_derived(db_path)
    with connect(db_path) as con:
        day = con.execute(
            "SELECT CAST(published_at AT TIME ZONE 'UTC' AS DATE) FROM articles WHERE location = ?",
            [str(page)],
        ).fetchone()
    assert day is not None and str(day[0]) == "2026-05-01"
    assert derived_differs_from_views(db_path) == {
        "topic_daily_counts": 0,
        "entity_daily_counts": 0,
    }

    # The publisher corrects the date: the article leaves May 1st for June 2nd.
    write_dated_page(page, "2026-06-02", "Corrected version.")
    run_pipeline([str(folder)], db_path, workers=1)
    with connect(db_path) as con:
        stale = con.execute(
            "SELECT DISTINCT CAST(day AS VARCHAR) FROM derived_stale_days"
        ).fetchall()
    assert stale == [("2026-05-01",)]
    refresh_derived(db_path)
    assert derived_differs_from_views(db_path) == {
        "topic_daily_counts": 0,
        "entity_daily_counts": 0,
    }
    with connect(db_path) as con:
        may = con.execute(
            "SELECT count(*) FROM topic_daily_counts WHERE day = DATE '2026-05-01'"
        ).fetchone()
        left = con.execute("SELECT count(*) FROM derived_stale_days").fetchone()
    assert may == (0,) and left == (0,)


def test_a_retired_article_leaves_the_derived_tables(tmp_path: Path, db_path: Path) -> None:
    from ingest.reextraction import retire_ids

    folder = tmp_path / "in"
    write_articles(folder, 3)
    page = folder / "dated.html"
    write_dated_page(page, "2026-05-01", "Only version.")
    run_pipeline([str(folder)], db_path, workers=1)
    refresh_derived(db_path)
    with connect(db_path, read_only=False) as con:
        row = con.execute("SELECT article_id FROM articles WHERE location = ?", [str(page)])
        (old_id,) = row.fetchone() or ("",)
        retire_ids(con, [(old_id, "no-longer-this-id")])
    refresh_derived(db_path)
    assert derived_differs_from_views(db_path) == {
        "topic_daily_counts": 0,
        "entity_daily_counts": 0,
    }
