"""Lake publish cost against database size: the first (whole) publish, then publishes of 100
new or 100 retagged articles into 1k, 10k and 50k-article databases, next to the whole-file
snapshot copy they replace. A local SQLite catalog always; PostgreSQL with data on a loopback
S3 server when both are available.

The target (issue 18): the refresh after a load of 100 articles into 50k costs at most twice
what it costs into 1k. A whole-file copy grows with the file; the lake's publish should not.

Databases are built from a few hundred real records (the repository's fixture pages, each in
several variants, through the real pipeline), replicated by SQL under distinct ids with
publication days spread over two years.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from ingest.pipeline import run_pipeline
from transforms.database import connect
from transforms.lake import LakeLocation, attach_lake, maintain_lake, publish_lake
from transforms.settings import Settings
from transforms.snapshot import publish_snapshot

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
# Real documents: the analyst set, quality and extraction cases, the bench pages.
SEED_FOLDERS = ("analyst", "articles", "bench", "extraction", "pages", "quality/pages", "retag")
VARIANTS = 8
DEFAULT_SIZES = (1_000, 10_000, 50_000)
CHANGED = 100
ROUNDS = 5
TARGET_RATIO = 2.0
ARTICLE_TABLES = ("articles", "article_topics", "article_entities")


def write_seed_documents(folder: Path, variants: int = VARIANTS) -> int:
    """Each fixture document in `variants` versions, each with one more distinct sentence."""
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for name in SEED_FOLDERS:
        for path in sorted((FIXTURES / name).iterdir()):
            if path.suffix not in {".html", ".txt"} or path.stat().st_size < 200:
                continue
            raw = path.read_bytes()
            for k in range(variants):
                extra = f" Follow-up report {k} on the trade dispute from desk {name}."
                if path.suffix == ".txt":
                    body = raw + extra.encode()
                else:
                    body = re.sub(
                        rb"</p>", f" {extra}</p>".encode(), raw, count=1, flags=re.IGNORECASE
                    )
                target = folder / f"{name.replace('/', '_')}_{k}_{path.name}"
                target.write_bytes(body)
                count += 1
    return count


def build_seed_db(work: Path) -> Path:
    """The real records every benchmark database is replicated from."""
    db = work / "seed.duckdb"
    write_seed_documents(work / "seed-docs")
    run_pipeline([str(work / "seed-docs")], db, batch_size=100, workers=0)
    return db


def build_db(seed: Path, target: Path, articles: int) -> Path:
    """A database of `articles` rows: the seed's, replicated under distinct ids, landed a day
    ago, published across two years (so the day-count tables have realistic sizes)."""
    shutil.copy(seed, target)
    with connect(target, read_only=False) as con:
        (base,) = con.execute("SELECT count(*) FROM articles").fetchone() or (0,)
        copies = -(-articles // int(base))
        con.execute("CREATE TEMP TABLE seed_ids AS SELECT article_id FROM articles")
        con.execute(
            "CREATE TEMP TABLE copies AS SELECT s.article_id AS old_id, k, "
            "s.article_id || '-' || k AS new_id FROM seed_ids s, range(1, ?) r(k) "
            "ORDER BY k, old_id LIMIT ?",
            [copies, articles - int(base)],
        )
        con.execute(
            "INSERT INTO articles SELECT a.* REPLACE (c.new_id AS article_id, "
            "a.published_at - to_days(CAST(c.k % 730 AS INTEGER)) AS published_at, "
            "now() - INTERVAL 1 DAY AS ingested_at, now() - INTERVAL 1 DAY AS first_ingested_at, "
            "'file:///bench/' || c.new_id AS location) "
            "FROM articles a JOIN copies c ON a.article_id = c.old_id"
        )
        for table in ("article_topics", "article_entities"):
            con.execute(
                f"INSERT INTO {table} SELECT t.* REPLACE (c.new_id AS article_id) "
                f"FROM {table} t JOIN copies c ON t.article_id = c.old_id"
            )
        con.execute("UPDATE articles SET ingested_at = now() - INTERVAL 1 DAY")
    return target


def land_new_articles(db: Path, count: int, tag: str) -> None:
    """What a load of `count` new articles leaves: new ids, landed now, published lately."""
    with connect(db, read_only=False) as con:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE fresh AS SELECT article_id AS old_id, "
            "article_id || '-' || ? AS new_id, row_number() OVER () AS n "
            "FROM articles ORDER BY article_id LIMIT ?",
            [tag, count],
        )
        con.execute(
            "INSERT INTO articles SELECT a.* REPLACE (f.new_id AS article_id, "
            "now() - to_days(CAST(f.n % 3 AS INTEGER)) AS published_at, now() AS ingested_at, "
            "now() AS first_ingested_at, 'file:///bench/' || f.new_id AS location) "
            "FROM articles a JOIN fresh f ON a.article_id = f.old_id"
        )
        for table in ("article_topics", "article_entities"):
            con.execute(
                f"INSERT INTO {table} SELECT t.* REPLACE (f.new_id AS article_id) "
                f"FROM {table} t JOIN fresh f ON t.article_id = f.old_id"
            )


def retag_some(db: Path, count: int) -> None:
    """What `tradewire retag` leaves on `count` articles spread over the whole table."""
    with connect(db, read_only=False) as con:
        # Every n-th id in hash order: spread over every data file the lake has.
        con.execute(
            "UPDATE articles SET retagged_at = now() WHERE article_id IN (SELECT article_id FROM "
            "(SELECT article_id, row_number() OVER (ORDER BY hash(article_id, now())) AS n, "
            "count(*) OVER () AS total FROM articles) WHERE n % (total // ?) = 0 LIMIT ?)",
            [count, count],
        )


def timed(fn: Any, *args: Any, **kwargs: Any) -> float:
    """Wall seconds of one call."""
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def removal_check_seconds(db: Path, location: LakeLocation) -> float:
    """The anti-join that finds removed articles: every lake id against the database's."""
    with connect(db, read_only=False) as con:
        attach_lake(con, location, read_only=False)
        try:
            start = time.perf_counter()
            con.execute(
                "SELECT count(*) FROM lake.articles l ANTI JOIN articles a USING (article_id)"
            ).fetchone()
            return time.perf_counter() - start
        finally:
            con.execute("DETACH lake")


def housekeeping_seconds(db: Path, location: LakeLocation) -> float:
    """One maintain_lake pass with the default retention over what the rounds left."""
    with connect(db, read_only=False) as con:
        attach_lake(con, location, read_only=False)
        try:
            return timed(maintain_lake, con, timedelta(days=7))
        finally:
            con.execute("DETACH lake")


def measure_sizes(
    seed: Path,
    work: Path,
    sizes: Sequence[int],
    locations: dict[int, LakeLocation],
    label: str,
    rounds: int,
) -> list[dict[str, Any]]:
    """Every figure for each size at one kind of lake location.

    Rounds go size by size in turn, so a busy machine slows every size alike rather than
    whichever happened to run during the busy spell; medians and minimums are both kept.
    """
    settings = Settings(lake_maintenance_every=0)
    dbs = {n: build_db(seed, work / f"{label}-{n}.duckdb", n) for n in sizes}
    full = {n: timed(publish_lake, dbs[n], locations[n], settings=settings) for n in sizes}
    new: dict[int, list[float]] = {n: [] for n in sizes}
    retagged: dict[int, list[float]] = {n: [] for n in sizes}
    for r in range(rounds):
        for n in sizes:
            land_new_articles(dbs[n], CHANGED, f"new{r}")
            new[n].append(timed(publish_lake, dbs[n], locations[n], settings=settings))
        for n in sizes:
            retag_some(dbs[n], CHANGED)
            retagged[n].append(timed(publish_lake, dbs[n], locations[n], settings=settings))
    rows = []
    for n in sizes:
        db, location = dbs[n], locations[n]
        row = {
            "catalog": label,
            "articles": n,
            "db_mb": round(db.stat().st_size / 2**20, 1),
            "full_publish_s": round(full[n], 3),
            "full_per_1k_s": round(full[n] / (n / 1000), 3),
            "new_100_s": round(statistics.median(new[n]), 3),
            "new_100_min_s": round(min(new[n]), 3),
            "new_per_1k_s": round(statistics.median(new[n]) * 1000 / CHANGED, 3),
            "retag_100_s": round(statistics.median(retagged[n]), 3),
            "retag_100_min_s": round(min(retagged[n]), 3),
            "removal_check_s": round(removal_check_seconds(db, location), 4),
            "housekeeping_s": round(housekeeping_seconds(db, location), 3),
        }
        if label == "sqlite":
            land_new_articles(db, CHANGED, "file")
            row["file_copy_s"] = round(timed(publish_snapshot, db), 3)
        rows.append(row)
    return rows


@contextlib.contextmanager
def remote_lake(work: Path) -> Iterator[Any]:
    """(catalog dsn factory, s3 URL) on local PostgreSQL and a loopback S3 server, or None."""
    import os

    try:
        import psycopg2

        admin = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    except Exception as exc:  # any failure means: not available here
        print(f"PostgreSQL+S3 skipped: {str(exc).strip().splitlines()[0]}", file=sys.stderr)
        yield None
        return
    admin.autocommit = True
    from tests.integration.s3server import TEST_CREDENTIALS, make_bucket, run_s3_server

    made: list[str] = []

    def new_catalog() -> str:
        name = f"tradewire_bench_{uuid.uuid4().hex[:8]}"
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return f"postgres:dbname={name} host=127.0.0.1 user=postgres"

    saved = {k: os.environ.get(k) for k in [*TEST_CREDENTIALS, "TRADEWIRE_S3_ENDPOINT_URL"]}
    try:
        with run_s3_server() as endpoint:
            os.environ.update(TEST_CREDENTIALS)
            os.environ["TRADEWIRE_S3_ENDPOINT_URL"] = endpoint
            make_bucket(endpoint, "tradewire-bench")
            yield new_catalog, "s3://tradewire-bench"
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        with admin.cursor() as cur:
            for name in made:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def measure_lake_publish(
    sizes: Sequence[int] = DEFAULT_SIZES,
    *,
    rounds: int = ROUNDS,
    remote: bool = True,
    work: Path | None = None,
) -> list[dict[str, Any]]:
    """One row per (catalog, size): publish seconds, whole and incremental (for run_bench)."""
    own = work is None
    work = work or Path(tempfile.mkdtemp(prefix="tradewire-bench-lake-"))
    try:
        seed = build_seed_db(work)
        local = {
            n: LakeLocation(f"sqlite:{work / f'lake-{n}.sqlite'}", f"{work / f'lake-{n}'}/")
            for n in sizes
        }
        rows = measure_sizes(seed, work, sizes, local, "sqlite", rounds)
        if remote:
            with remote_lake(work) as found:
                if found is not None:
                    new_catalog, bucket = found
                    remote_at = {
                        n: LakeLocation(new_catalog(), f"{bucket}/lake-{n}/") for n in sizes
                    }
                    rows += measure_sizes(seed, work, sizes, remote_at, "postgres+s3", rounds)
        return rows
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)


def ratio(rows: Sequence[dict[str, Any]], catalog: str, key: str) -> float | None:
    """The largest size's figure over the smallest's, for one catalog."""
    mine = sorted((r for r in rows if r["catalog"] == catalog), key=lambda r: r["articles"])
    if len(mine) < 2 or not mine[0].get(key) or key not in mine[-1]:
        return None
    return round(mine[-1][key] / mine[0][key], 2)


def print_table(rows: Sequence[dict[str, Any]]) -> None:
    """Side by side, one line per catalog and size."""
    columns = list(dict.fromkeys(k for r in rows for k in r))
    print("  ".join(f"{c:>16}" for c in columns))
    for r in rows:
        print("  ".join(f"{r.get(c, '-')!s:>16}" for c in columns))
    for catalog in dict.fromkeys(r["catalog"] for r in rows):
        for key in ("new_100_s", "new_100_min_s", "retag_100_s", "retag_100_min_s", "file_copy_s"):
            found = ratio(rows, catalog, key)
            if found is not None:
                verdict = "meets" if found <= TARGET_RATIO else "misses"
                print(
                    f"{catalog} {key}: largest/smallest = {found} "
                    f"({verdict} the <= {TARGET_RATIO} target)"
                )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.bench_lake", description=__doc__)
    parser.add_argument(
        "--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="article counts, comma-separated"
    )
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="incremental publishes per size")
    parser.add_argument("--no-remote", action="store_true", help="skip PostgreSQL + S3")
    parser.add_argument("--out", type=Path, help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    rows = measure_lake_publish(sizes, rounds=args.rounds, remote=not args.no_remote)
    print_table(rows)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
