"""The lake: incremental publishes that readers attach read-only, on real files and servers."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from ingest.cli import main
from ingest.pipeline import run_pipeline
from ingest.reextraction import retire_ids
from tests.integration.analyst_db import ANALYST_FIXTURES
from transforms.database import connect
from transforms.derived import DERIVED, LAKE, watermark
from transforms.lake import (
    ARTICLE_TABLES,
    LakeLocation,
    PublishCounts,
    attach_lake,
    lake_location,
    list_snapshots,
    maintain_lake,
    open_lake,
    publish_lake,
)
from transforms.retagging import retag_articles
from transforms.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "lake.md"
NOT_RUN = "-- (not run by the tests"
TARIFFS = "03_tariffs_steel_evs.html"
# Within any one snapshot, the day counts agree with the rows they count.
CONSISTENT = (
    "SELECT (SELECT count(*) FROM articles), "
    "(SELECT coalesce(sum(articles), 0) FROM topic_daily_counts), "
    "(SELECT count(*) FROM article_topics JOIN articles USING (article_id))"
)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A private copy of the analyst fixtures (dated and undated articles), to edit."""
    target = tmp_path / "in"
    shutil.copytree(ANALYST_FIXTURES, target)
    return target


@pytest.fixture
def local_lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LakeLocation:
    """The default lake, beside the test's database, with housekeeping left to the tests."""
    monkeypatch.delenv("TRADEWIRE_LAKE_CATALOG", raising=False)
    monkeypatch.delenv("TRADEWIRE_LAKE_DATA_PATH", raising=False)
    monkeypatch.setenv("TRADEWIRE_LAKE_MAINTENANCE_EVERY", "0")
    return lake_location(tmp_path / "db" / "tradewire.duckdb")


def differences(db_path: Path, location: LakeLocation) -> dict[str, int]:
    """Rows in one side and not the other, per published table: the article tables against
    the database's, the day counts against the views they materialise."""
    pairs = [(t, t) for t in ARTICLE_TABLES] + [(t, v) for t, v in DERIVED]
    with connect(db_path) as con:
        attach_lake(con, location, read_only=True)
        return {
            table: int(
                con.execute(
                    f"SELECT count(*) FROM ((SELECT * FROM {source} EXCEPT ALL "
                    f"SELECT * FROM lake.{table}) UNION ALL (SELECT * FROM lake.{table} "
                    f"EXCEPT ALL SELECT * FROM {source}))"
                ).fetchone()[0]  # type: ignore[index]
            )
            for table, source in pairs
        }


def lake_value(location: LakeLocation, sql: str, version: int | None = None) -> object:
    """One value from the lake, optionally as of an earlier snapshot."""
    with open_lake(location, snapshot_version=version) as con:
        row = con.execute(sql).fetchone()
    assert row is not None
    return row[0] if len(row) == 1 else row


def edit_tariffs_story(folder: Path) -> None:
    """A corrected story: other words and a later publication day (its old day must recount)."""
    path = folder / TARIFFS
    page = path.read_text(encoding="utf-8")
    page = page.replace("2026-10-14T10:15:00Z", "2026-10-21T10:15:00Z")
    page = page.replace("would raise tariffs", "would sharply raise tariffs")
    path.write_text(page, encoding="utf-8")


def test_publish_follows_new_changed_retagged_and_removed_articles(
    folder: Path, db_path: Path, local_lake: LakeLocation
) -> None:
    run_pipeline([str(folder)], db_path, batch_size=50, workers=1)
    first = publish_lake(db_path)
    assert first.snapshot is not None and first.articles == 12 and first.removed == 0
    assert set(first.whole_tables) == {*ARTICLE_TABLES, *(t for t, _ in DERIVED)}
    assert differences(db_path, local_lake) == dict.fromkeys(differences(db_path, local_lake), 0)
    # Nothing changed: no new snapshot.
    assert publish_lake(db_path).snapshot is None
    with connect(db_path) as con:
        (tariffs_id, old_title) = con.execute(
            "SELECT article_id, text FROM articles WHERE location LIKE ?", [f"%{TARIFFS}"]
        ).fetchone() or (None, None)
        ids = [r[0] for r in con.execute("SELECT article_id FROM articles ORDER BY 1").fetchall()]
    retired, keeper, retagged = [i for i in ids if i != tariffs_id][:3]

    # A changed page, a retag, and an article retired under an old id.
    edit_tariffs_story(folder)
    assert run_pipeline([str(folder)], db_path, batch_size=50, workers=1).counts.updated == 1
    with connect(db_path, read_only=False) as con:
        con.execute(
            "UPDATE articles SET taxonomy_version = 'older' WHERE article_id = ?", [retagged]
        )
        retire_ids(con, [(retired, keeper)])
    assert retag_articles(db_path).retagged == 1

    second = publish_lake(db_path)
    assert (second.articles, second.removed) == (2, 1)
    assert second.snapshot is not None and second.snapshot > first.snapshot
    assert second.whole_tables == ()
    assert differences(db_path, local_lake) == dict.fromkeys(differences(db_path, local_lake), 0)
    assert lake_value(local_lake, "SELECT count(*) FROM articles") == 11
    assert (
        lake_value(
            local_lake, f"SELECT count(*) FROM article_topics WHERE article_id = '{retired}'"
        )
        == 0
    )
    with connect(db_path) as con:
        assert watermark(con, LAKE) is not None

    # Time travel: the first publish still shows the old story, the retired article, old days.
    before = first.snapshot
    assert lake_value(local_lake, "SELECT count(*) FROM articles", before) == 12
    assert (
        lake_value(
            local_lake, f"SELECT text FROM articles WHERE article_id = '{tariffs_id}'", before
        )
        == old_title
    )
    assert "sharply" in str(
        lake_value(local_lake, f"SELECT text FROM articles WHERE article_id = '{tariffs_id}'")
    )
    day = "SELECT count(*) FROM topic_daily_counts WHERE day = DATE '2026-10-14'"
    assert lake_value(local_lake, day, before) != 0
    assert lake_value(local_lake, day) == 0


def test_the_lake_gains_a_column_the_database_gained(
    folder: Path, db_path: Path, local_lake: LakeLocation
) -> None:
    run_pipeline([str(folder)], db_path, batch_size=50, workers=1)
    publish_lake(db_path)
    # What a migration adding a column with a backfilled value does to the database.
    with connect(db_path, read_only=False) as con:
        con.execute("ALTER TABLE articles ADD COLUMN desk VARCHAR DEFAULT 'trade'")
        con.execute("ALTER TABLE article_entities ADD COLUMN confidence DOUBLE DEFAULT 0.5")
    counts = publish_lake(db_path)
    assert set(counts.whole_tables) == {"articles", "article_entities"}
    assert (
        lake_value(local_lake, "SELECT count(*) FILTER (WHERE desk = 'trade') FROM articles") == 12
    )
    assert differences(db_path, local_lake)["article_entities"] == 0
    # Time travel before the column existed still works.
    assert "desk" not in {
        r[0]
        for r in duckdb_columns(local_lake, "articles", version=counts.snapshot - 1)  # type: ignore[operator]
    }


def duckdb_columns(
    location: LakeLocation, table: str, version: int | None = None
) -> list[tuple[str]]:
    with open_lake(location, snapshot_version=version) as con:
        return con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = 'lake' "
            "AND table_name = ?",
            [table],
        ).fetchall()


def test_a_type_change_asks_for_a_rebuild_and_the_rebuild_follows(
    folder: Path, db_path: Path, local_lake: LakeLocation, capsys: pytest.CaptureFixture[str]
) -> None:
    run_pipeline([str(folder)], db_path, batch_size=50, workers=1)
    publish_lake(db_path)
    with connect(db_path, read_only=False) as con:
        con.execute("ALTER TABLE article_entities ALTER mentions TYPE BIGINT")
    assert main(["snapshot", "--lake", "--db", str(db_path)]) == 2
    assert "--rebuild" in capsys.readouterr().err
    assert main(["snapshot", "--lake", "--rebuild", "--db", str(db_path)]) == 0
    assert "lake snapshot" in capsys.readouterr().out
    assert differences(db_path, local_lake)["article_entities"] == 0


READER = """
import sys
from transforms.lake import LakeLocation, open_lake

CONSISTENT = {consistent!r}
with open_lake(LakeLocation({catalog!r}, {data_path!r})) as con:
    def show():
        print(*con.execute(CONSISTENT).fetchone(), flush=True)
    con.execute("BEGIN TRANSACTION")
    show()
    sys.stdin.readline()  # the publisher publishes meanwhile
    show()
    con.execute("COMMIT")
    show()
"""


def start_reader(location: LakeLocation) -> subprocess.Popen[str]:
    """An analyst's process holding the lake attached, inside one read transaction."""
    script = READER.format(
        consistent=CONSISTENT, catalog=location.catalog, data_path=location.data_path
    )
    return subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )


def read_counts(reader: subprocess.Popen[str]) -> tuple[int, int, int]:
    assert reader.stdout is not None
    articles, day_total, topic_rows = map(int, reader.stdout.readline().split())
    return articles, day_total, topic_rows


def test_readers_keep_their_snapshot_and_never_hold_up_the_publisher(
    folder: Path, db_path: Path, local_lake: LakeLocation
) -> None:
    run_pipeline([str(folder)], db_path, batch_size=50, workers=1)
    publish_lake(db_path)
    # Two analysts (SQLite catalogs admit many reader processes) hold the lake open.
    readers = [start_reader(local_lake), start_reader(local_lake)]
    try:
        before = [read_counts(r) for r in readers]
        for articles, day_total, topic_rows in before:
            assert articles == 12 and day_total == topic_rows
        # Ingestion goes on (the readers do not touch the database file) and is published
        # while both readers sit in their open transactions.
        (folder / TARIFFS).unlink()
        extra = folder / "13_extra.txt"
        extra.write_text(
            "Beijing adds tariffs on US pork\n\nChina's commerce ministry raised tariffs on "
            "American pork and soybeans in answer to Washington's steel duties.\n",
            encoding="utf-8",
        )
        assert run_pipeline([str(folder)], db_path, batch_size=50, workers=1).counts.new == 1
        published: list[PublishCounts] = []
        publisher = threading.Thread(target=lambda: published.append(publish_lake(db_path)))
        publisher.start()
        publisher.join(timeout=120)
        assert not publisher.is_alive(), "the publisher waited for the readers"
        assert published and published[0].articles == 1
        for reader in readers:
            assert reader.stdin is not None
            reader.stdin.write("go\n")
            reader.stdin.flush()
        for reader, seen in zip(readers, before, strict=True):
            assert read_counts(reader) == seen  # the same snapshot, whole, inside its transaction
            after = read_counts(reader)  # and the new publish once it started a new one
            assert after[0] == 13 and after[1] == after[2]
            assert reader.wait(timeout=60) == 0
    finally:
        for reader in readers:
            if reader.poll() is None:
                reader.kill()
            reader.wait()


def test_sql_lake_time_travel_and_snapshot_listing(
    folder: Path, db_path: Path, local_lake: LakeLocation, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    run_pipeline([str(folder)], db_path, batch_size=50, workers=1)
    assert main(["snapshot", "--lake", "--db", str(db_path)]) == 0
    first = int(capsys.readouterr().out.split("lake snapshot ", 1)[1].split(":", 1)[0])
    with connect(db_path, read_only=False) as con:
        (gone,) = con.execute("SELECT min(article_id) FROM articles").fetchone() or (None,)
        (other,) = con.execute("SELECT max(article_id) FROM articles").fetchone() or (None,)
        retire_ids(con, [(gone, other)])
    assert main(["refresh", "--db", str(db_path)]) == 0
    assert "snapshot: lake snapshot" in capsys.readouterr().out

    def count(*flags: str) -> int:
        sql = ["sql", "--db", str(db_path), "--lake", *flags, "--format", "json"]
        assert main([*sql, "SELECT count(*) AS n FROM articles"]) == 0
        return int(json.loads(capsys.readouterr().out)["n"])

    assert count() == 11
    assert count("--at-snapshot", str(first)) == 12
    assert main(["snapshot", "--list", "--db", str(db_path)]) == 0
    listing = capsys.readouterr().out
    assert "publish 1: 12 articles" in listing and "publish 2: 0 articles, 1 removed" in listing
    # Errors are one line: a snapshot that does not exist, time travel without --lake.
    assert main(["sql", "--db", str(db_path), "--lake", "--at-snapshot", "999", "SELECT 1"]) == 2
    assert "No snapshot found" in capsys.readouterr().err
    assert main(["sql", "--db", str(db_path), "--at-time", "2026-01-01", "SELECT 1"]) == 2
    assert "add --lake" in capsys.readouterr().err
    assert main(["sql", "--lake", "--db", str(db_path / "none"), "SELECT 1"]) == 2
    assert "no lake at" in capsys.readouterr().err


def test_housekeeping_merges_small_files_and_expires_old_snapshots(
    folder: Path, db_path: Path, local_lake: LakeLocation, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_pipeline([str(folder)], db_path, batch_size=50, workers=1)
    monkeypatch.setenv("TRADEWIRE_LAKE_MAINTENANCE_EVERY", "4")
    results = [publish_lake(db_path)]
    seen = [data_files(local_lake)]
    # Each publish of a retag of everything writes new files for every table.
    for _ in range(3):
        with connect(db_path, read_only=False) as con:
            con.execute("UPDATE articles SET retagged_at = now()")
        results.append(publish_lake(db_path))
        seen.append(data_files(local_lake))
    assert [r.maintained for r in results] == [False, False, False, True]
    assert seen[0]["articles"] < seen[1]["articles"] < seen[2]["articles"]
    # With no retention and no grace, what is left is the current snapshot's merged files.
    with connect(db_path, read_only=False) as con:
        attach_lake(con, local_lake, read_only=False)
        maintain_lake(con, retention=timedelta(0), grace=timedelta(0))
        (left,) = list_snapshots(con)  # housekeeping commits its merges as a snapshot too
        assert left.snapshot_id >= (results[-1].snapshot or 0)
        con.execute("DETACH lake")
    assert set(data_files(local_lake).values()) == {1}
    assert differences(db_path, local_lake) == dict.fromkeys(differences(db_path, local_lake), 0)


def data_files(location: LakeLocation) -> dict[str, int]:
    """Parquet files on disk per lake table."""
    root = Path(location.data_path) / "main"
    return {p.name: len(list(p.glob("*.parquet"))) for p in root.iterdir() if p.is_dir()}


def test_an_unreachable_lake_fails_the_refresh_not_the_landing(
    folder: Path,
    db_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from tests.integration.s3server import free_port

    monkeypatch.setenv("TRADEWIRE_LAKE_CATALOG", f"postgres:host=127.0.0.1 port={free_port()}")
    run_pipeline([str(folder)], db_path, batch_size=50, workers=1)
    assert main(["refresh", "--db", str(db_path)]) == 1
    assert "snapshot: failed" in capsys.readouterr().out
    assert "cannot attach the lake" in caplog.text and "Connection refused" in caplog.text
    with connect(db_path) as con:
        assert con.execute("SELECT count(*) FROM articles").fetchone() == (12,)
        assert watermark(con, LAKE) is None


def test_the_transforms_dag_task_publishes_what_the_setting_says(
    folder: Path, db_path: Path, local_lake: LakeLocation, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest.orchestration import publish_snapshot
    from transforms.snapshot import snapshot_path_for

    monkeypatch.setenv("TRADEWIRE_DB", str(db_path))
    run_pipeline([str(folder)], db_path, batch_size=50, workers=1)
    monkeypatch.setenv("TRADEWIRE_SNAPSHOT", "lake")
    assert publish_snapshot() == f"{local_lake.uri}@1"
    assert publish_snapshot() == local_lake.uri  # nothing new: the lake as it is
    monkeypatch.setenv("TRADEWIRE_SNAPSHOT", "off")
    assert publish_snapshot() is None
    assert not snapshot_path_for(db_path).exists()
    monkeypatch.setenv("TRADEWIRE_SNAPSHOT", "true")  # an older .env: the whole-file copy
    assert publish_snapshot() == str(snapshot_path_for(db_path))
    assert snapshot_path_for(db_path).exists()


def fenced(language: str) -> list[str]:
    """The bodies of docs/lake.md's ```<language> fences, in order."""
    text = DOC.read_text(encoding="utf-8")
    return [m.group(1) for m in re.finditer(rf"^```{language}\n(.*?)^```", text, re.S | re.M)]


def test_the_docs_examples_read_the_lake_a_load_published(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import duckdb_extension_ducklake

    # The lake where the docs have it: data/ under the folder the reader starts in.
    home = tmp_path / "home"
    db = home / "data" / "tradewire.duckdb"
    monkeypatch.setenv("TRADEWIRE_LAKE_MAINTENANCE_EVERY", "0")
    run_pipeline([str(folder)], db, batch_size=50, workers=1)
    publish_lake(db)
    edit_tariffs_story(folder)
    run_pipeline([str(folder)], db, batch_size=50, workers=1)
    publish_lake(db)
    site_packages = Path(duckdb_extension_ducklake.__file__).resolve().parents[1]
    # The DuckDB CLI's statements, in a fresh extension directory: INSTALL from the named files.
    sql = "".join(block for block in fenced("sql") if NOT_RUN not in block)
    sql = sql.replace("<site-packages>", str(site_packages))
    script = (
        "import duckdb, sys\n"
        "con = duckdb.connect()\n"
        f"con.execute(\"SET extension_directory = '{tmp_path / 'extensions'}'\")\n"
        "for statement in con.extract_statements(sys.stdin.read()):\n"
        "    print(con.execute(statement).fetchall())\n"
    )
    cli = subprocess.run(
        [sys.executable, "-c", script], input=sql, cwd=home, capture_output=True, text=True
    )
    assert cli.returncode == 0, cli.stderr
    assert "[(12,)]" in cli.stdout and "'delete'" in cli.stdout  # counts, then changes
    (python,) = fenced("python")
    reader = subprocess.run(
        [sys.executable, "-c", python], cwd=home, capture_output=True, text=True
    )
    assert reader.returncode == 0, reader.stderr
    assert "12 │" in reader.stdout and "export_controls" in reader.stdout


# PostgreSQL catalog, data on S3 ------------------------------------------------------------


def postgres_admin() -> object:
    """A psycopg2 connection to the local server's maintenance database, or a skip."""
    psycopg2 = pytest.importorskip("psycopg2")
    for user in ("postgres", "root"):
        try:
            con = psycopg2.connect(
                host="127.0.0.1", port=5432, user=user, dbname="postgres", connect_timeout=3
            )
        except psycopg2.OperationalError as exc:
            reason = str(exc).strip().splitlines()[0]
            continue
        con.autocommit = True
        return con
    pytest.skip(f"PostgreSQL on 127.0.0.1:5432 is unreachable: {reason}")


@pytest.fixture
def pg_catalog() -> Iterator[str]:
    """A fresh PostgreSQL database for one test's lake catalog, dropped afterwards."""
    admin = postgres_admin()
    name = f"tradewire_lake_{uuid.uuid4().hex[:10]}"
    user = admin.info.user  # type: ignore[attr-defined]
    with admin.cursor() as cur:  # type: ignore[attr-defined]
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgres:dbname={name} host=127.0.0.1 port=5432 user={user}"
    finally:
        with admin.cursor() as cur:  # type: ignore[attr-defined]
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()  # type: ignore[attr-defined]


def test_postgres_catalog_with_data_on_s3(
    folder: Path,
    db_path: Path,
    pg_catalog: str,
    s3_env: str,
    s3_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import boto3

    from tests.integration.s3server import TEST_CREDENTIALS

    monkeypatch.setenv("TRADEWIRE_LAKE_CATALOG", pg_catalog)
    monkeypatch.setenv("TRADEWIRE_LAKE_DATA_PATH", f"{s3_env}/lake")
    monkeypatch.setenv("TRADEWIRE_LAKE_MAINTENANCE_EVERY", "0")
    location = lake_location(db_path)
    assert location.kind == "postgres" and location.on_s3
    run_pipeline([str(folder)], db_path, batch_size=50, workers=1)
    first = publish_lake(db_path)
    assert first.articles == 12
    bucket = s3_env.removeprefix("s3://")
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name=TEST_CREDENTIALS["AWS_DEFAULT_REGION"],
        aws_access_key_id=TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys and all(k.startswith("lake/") and k.endswith(".parquet") for k in keys)

    edit_tariffs_story(folder)
    assert run_pipeline([str(folder)], db_path, batch_size=50, workers=1).counts.updated == 1
    with connect(db_path, read_only=False) as con:
        # Two other articles: ids are hashes of paths, so their order differs run to run.
        (gone, other) = con.execute(
            "SELECT min(article_id), max(article_id) FROM articles WHERE location NOT LIKE ?",
            [f"%{TARIFFS}"],
        ).fetchone() or (None, None)
        retire_ids(con, [(gone, other)])
    second = publish_lake(db_path)
    assert (second.articles, second.removed) == (1, 1)
    assert differences(db_path, location) == dict.fromkeys(differences(db_path, location), 0)
    # A reader elsewhere needs only the catalog's address and the bucket's credentials.
    assert lake_value(location, "SELECT count(*) FROM articles") == 11
    assert lake_value(location, "SELECT count(*) FROM articles", first.snapshot) == 12
    # An analyst elsewhere sits in a read transaction while another removal is published.
    reader = start_reader(location)
    try:
        assert read_counts(reader)[0] == 11
        with connect(db_path, read_only=False) as con:
            (gone, other) = con.execute(
                "SELECT min(article_id), max(article_id) FROM articles"
            ).fetchone() or (None, None)
            retire_ids(con, [(gone, other)])
        publisher = threading.Thread(target=publish_lake, args=(db_path,))
        publisher.start()
        publisher.join(timeout=120)
        assert not publisher.is_alive(), "the publisher waited for the reader"
        assert reader.stdin is not None
        reader.stdin.write("go\n")
        reader.stdin.flush()
        assert read_counts(reader)[0] == 11  # its snapshot, inside its transaction
        after = read_counts(reader)
        assert after[0] == 10 and after[1] == after[2]
        assert reader.wait(timeout=60) == 0
    finally:
        if reader.poll() is None:
            reader.kill()
        reader.wait()
    assert Settings().snapshot == "lake"
