"""Commands that read the database for people and other tools: sql, search, export, report,
freshness, snapshot. All read-only except `search --reindex` and `snapshot`, which publish."""

from __future__ import annotations

import argparse
import contextlib
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.cli.options import (
    CliError,
    add_command,
    add_db_option,
    add_since_option,
    db_path,
    existing_db_path,
)
from ingest.cli.output import ROW_FORMATS

if TYPE_CHECKING:
    from collections.abc import Iterator

    import duckdb

    from ingest.cli.options import SubParsers

EPILOG_SQL = """examples:
  tradewire sql "select title, published_at from articles order by ingested_at desc limit 5"
  tradewire sql "select topic, count(*) from article_topics group by 1" --format csv
  tradewire sql "select * from topic_daily" --format parquet --out topics.parquet
  tradewire sql "select * from search_articles('gallium export', topic := 'rare_earths')"
  tradewire sql --lake "select count(*) from articles"          # the lake: never waits for loads
  tradewire sql --lake --at-snapshot 3 "select count(*) from articles"     # time travel
  tradewire sql --lake --at-time 2026-10-01T12:00 "select * from topic_daily_counts"
(views and example questions: docs/sql.md; the lake: docs/lake.md)
"""
EPILOG_SEARCH = """examples:
  tradewire search "rare earth export curbs"
  tradewire search "soybean purchases" --topic agriculture --since 2026-10-01 --limit 5
  tradewire search "entity list" --format json
  tradewire search --reindex            rebuild the index whole (`tradewire refresh` updates it)
"""
EPILOG_EXPORT = """examples:
  tradewire export --format parquet exports/
  duckdb -c "select month, count(*) from read_parquet('exports/articles/*/*.parquet',
             hive_partitioning = true) group by month"
"""
EPILOG_REPORT = """examples:
  tradewire report --out report.html
  tradewire report --since 2026-10-01 --out /tmp/october.html --db data/tradewire.duckdb
"""
EPILOG_FRESHNESS = """examples:
  tradewire freshness
  tradewire freshness --window 7d
"""
EPILOG_SNAPSHOT = """examples:
  tradewire snapshot                      # writes data/tradewire.snapshot.duckdb
  duckdb -readonly data/tradewire.snapshot.duckdb
  tradewire snapshot --lake               # publish what changed to the lake now (loads do too)
  tradewire snapshot --lake --rebuild     # republish every lake table whole
  tradewire snapshot --list               # the lake's snapshots, for --at-snapshot
(attaching the lake from DuckDB or Python: docs/lake.md)
"""


def add_sql(sub: SubParsers) -> None:
    sql = add_command(sub, "sql", help="run a read-only SQL query", epilog=EPILOG_SQL, func=cmd_sql)
    sql.add_argument("query", help="SQL text")
    add_db_option(sql)
    sql.add_argument(
        "--format",
        choices=[*ROW_FORMATS, "parquet"],
        default="table",
        help="table on a terminal; csv, json (lines) or parquet for pipes",
    )
    sql.add_argument("--out", metavar="FILE", help="with --format parquet: write here, not stdout")
    sql.add_argument(
        "--lake",
        action="store_true",
        help="query the lake ($TRADEWIRE_LAKE_CATALOG, else beside the db) instead of the db",
    )
    at = sql.add_mutually_exclusive_group()
    at.add_argument(
        "--at-snapshot", type=int, metavar="N", help="with --lake: as of lake snapshot N"
    )
    at.add_argument(
        "--at-time",
        type=iso_timestamp,
        metavar="TIME",
        help="with --lake: as of this time (ISO 8601; UTC unless it says otherwise)",
    )


def iso_timestamp(value: str) -> datetime:
    """argparse type for --at-time: an ISO 8601 date or time, UTC when it names no zone."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a time like 2026-10-01T12:00 or 2026-10-01, got {value!r}"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def add_search(sub: SubParsers) -> None:
    search = add_command(
        sub,
        "search",
        help="full-text search (BM25) over titles and texts",
        epilog=EPILOG_SEARCH,
        func=cmd_search,
    )
    search.add_argument("query", nargs="?", help="words to look for (any order, stemmed)")
    search.add_argument("--topic", help="only articles tagged with this topic, e.g. rare_earths")
    add_since_option(search)
    search.add_argument("--limit", type=int, default=10, help="at most this many hits")
    search.add_argument(
        "--reindex", action="store_true", help="rebuild the index whole (needs a writer)"
    )
    add_db_option(search)
    search.add_argument("--format", choices=list(ROW_FORMATS), default="table")


def add_export(sub: SubParsers) -> None:
    export = add_command(
        sub,
        "export",
        help="write tables as Parquet partitioned by month",
        epilog=EPILOG_EXPORT,
        func=cmd_export,
    )
    export.add_argument("dir", metavar="DIR", help="target folder; its partitions are replaced")
    export.add_argument("--format", choices=["parquet"], default="parquet")
    add_db_option(export)


def add_report(sub: SubParsers) -> None:
    report = add_command(
        sub,
        "report",
        help="one self-contained HTML page: topic chart, entities, latest articles",
        epilog=EPILOG_REPORT,
        func=cmd_report,
    )
    report.add_argument("--out", required=True, metavar="FILE", help="HTML file to write")
    add_since_option(report)
    add_db_option(report)


def add_freshness(sub: SubParsers) -> None:
    fresh = add_command(
        sub,
        "freshness",
        help="how long new articles took to become queryable",
        epilog=EPILOG_FRESHNESS,
        func=cmd_freshness,
    )
    add_db_option(fresh)
    fresh.add_argument(
        "--window", default="24h", help="look-back window: 30m, 24h, 7d (default 24h)"
    )


def add_snapshot(sub: SubParsers) -> None:
    snap = add_command(
        sub,
        "snapshot",
        help="publish a read-only copy of the database for other tools",
        epilog=EPILOG_SNAPSHOT,
        func=cmd_snapshot,
    )
    add_db_option(snap)
    snap.add_argument("--out", help="snapshot file (default: <db>.snapshot.duckdb beside the db)")
    snap.add_argument(
        "--lake", action="store_true", help="publish to the lake (only what changed) instead"
    )
    snap.add_argument(
        "--rebuild", action="store_true", help="with --lake: republish every table whole"
    )
    snap.add_argument("--list", action="store_true", help="list the lake's snapshots")


def cmd_sql(args: argparse.Namespace) -> int:
    """Read-only queries: the db waits for the writer instead of failing on the file lock; the
    lake never waits at all."""
    from ingest.cli.output import print_rows

    if args.out and args.format != "parquet":
        raise CliError("--out is for --format parquet; redirect other formats with `>`")
    if args.format == "parquet" and not args.out and sys.stdout.isatty():
        raise CliError("Parquet is binary: redirect it (`> rows.parquet`) or use --out FILE")
    if not args.query.strip():
        raise CliError('give a query, e.g. tradewire sql "select count(*) from articles"')
    if not args.lake and (args.at_snapshot is not None or args.at_time is not None):
        raise CliError("--at-snapshot and --at-time are for the lake: add --lake")
    with sql_connection(args) as con:
        result = run_sql(con, args)
    if result is not None:
        print_rows(*result, args.format)
    return 0


@contextlib.contextmanager
def sql_connection(args: argparse.Namespace) -> Iterator[duckdb.DuckDBPyConnection]:
    """The database read-only, or the lake attached read-only at the snapshot asked for."""
    from transforms.database import connect
    from transforms.lake import LakeError, lake_location, open_lake
    from transforms.search import SearchUnavailableError, load_fts

    if not args.lake:
        with connect(db_path(args), read_only=True) as con:
            # So search_articles(...) works here too; plain SQL does not need the extension.
            with contextlib.suppress(SearchUnavailableError):
                load_fts(con)
            yield con
        return
    try:
        with open_lake(
            lake_location(db_path(args)),
            snapshot_version=args.at_snapshot,
            snapshot_time=args.at_time,
        ) as con:
            yield con
    except LakeError as exc:  # attaching: a missing lake, an expired snapshot, no server
        raise CliError(str(exc)) from exc


def run_sql(
    con: duckdb.DuckDBPyConnection, args: argparse.Namespace
) -> tuple[list[str], list[Any]] | None:
    """One statement's rows (None once written as Parquet), errors as one line."""
    import duckdb

    from ingest.cli.output import write_parquet

    try:
        statements = con.extract_statements(args.query)
        if not statements:
            raise CliError("the query holds no SQL statement (only comments?)")
        if len(statements) > 1:
            raise CliError(
                f"one statement at a time: the query holds {len(statements)} "
                "(separated by `;`); run them one by one"
            )
        cursor = con.execute(args.query)
        if cursor.description is None:
            raise CliError("the statement returns no rows to show")
        if args.format == "parquet":
            write_parquet(cursor.to_arrow_table(), args.out)
            return None
        columns = [d[0] for d in cursor.description or []]
        return columns, cursor.fetchall()
    except duckdb.Error as exc:
        raise CliError(str(exc).splitlines()[0]) from exc
    except OSError as exc:
        raise CliError(f"cannot write {args.out}: {exc.strerror or exc}") from exc


def analyst_error(exc: Exception) -> CliError:
    """One line for the user; a database older than the analyst views gets the fix spelled out."""
    import duckdb

    first = str(exc).splitlines()[0]
    if isinstance(exc, duckdb.CatalogException):
        first += (
            " (a database older than the analyst views? any writer applies the migrations, "
            "e.g. `tradewire search --reindex`)"
        )
    return CliError(first)


def cmd_search(args: argparse.Namespace) -> int:
    """Ranked hits with the best-matching sentence; --reindex takes the write lock briefly."""
    import duckdb

    from ingest.cli.output import print_hits
    from transforms.database import connect
    from transforms.search import (
        SearchUnavailableError,
        known_topics,
        refresh_search_index,
        search_articles,
    )

    if not args.query and not args.reindex:
        raise CliError("give words to search for, or --reindex to rebuild the index")
    db = db_path(args)
    try:
        if args.reindex:
            if not db.exists():  # a writer would create an empty file; say what to run instead
                raise CliError(
                    f"no database at {db}: create it with `make run` or "
                    "`tradewire run --source seeds`"
                )
            with connect(db, read_only=False) as con:
                indexed = refresh_search_index(con)
            print(f"search index rebuilt: {indexed} articles", file=sys.stderr)
        if not args.query:
            return 0
        with connect(db, read_only=True) as con:
            if args.topic and args.topic not in (topics := known_topics(con)):
                raise CliError(f"unknown topic {args.topic!r}; topics: {', '.join(topics)}")
            hits = search_articles(
                con, args.query, topic=args.topic, since=args.since, limit=args.limit
            )
    except SearchUnavailableError as exc:
        raise CliError(str(exc)) from exc
    except duckdb.Error as exc:
        raise analyst_error(exc) from exc
    print_hits(hits, args.format)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Parquet for other engines; partitions are swapped in whole, never half-written."""
    import duckdb

    from transforms.database import connect
    from transforms.export import export_parquet

    out = Path(args.dir)
    if out.exists() and not out.is_dir():
        raise CliError(f"{out} is a file; give a folder to export into")
    with connect(db_path(args), read_only=True) as con:
        try:
            counts = export_parquet(con, out)
        except duckdb.Error as exc:
            raise analyst_error(exc) from exc
        except OSError as exc:
            raise CliError(f"cannot write {out}: {exc.strerror or exc}") from exc
    for table, rows in counts.items():
        print(f"{table}: {rows} rows -> {out / table}/month=*/")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """The analyst's one-page summary; reads only, so it can run while the pipeline loads."""
    import duckdb

    from transforms.database import connect
    from transforms.report import ReportDependencyError, build_report

    out = Path(args.out)
    with connect(db_path(args), read_only=True) as con:
        try:
            page = build_report(con, since=args.since)
        except ReportDependencyError as exc:
            raise CliError(str(exc)) from exc
        except duckdb.Error as exc:
            raise analyst_error(exc) from exc
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write {out}: {exc.strerror or exc}") from exc
    print(f"report written to {out}")
    return 0


def parse_window(text: str) -> timedelta:
    """'30m', '24h', '7d' -> timedelta; a clear error for anything else."""
    units = {"m": "minutes", "h": "hours", "d": "days"}
    value, unit = text[:-1], text[-1:].lower()
    if unit not in units or not value.isdigit():
        raise CliError(f"window {text!r} not understood: use a number and m, h or d, e.g. 24h")
    return timedelta(**{units[unit]: int(value)})


def cmd_freshness(args: argparse.Namespace) -> int:
    """Lag from discovery to landing: the figure the streaming target is about."""
    from transforms.derived import measure_freshness

    stats = measure_freshness(db_path(args), parse_window(args.window))

    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}s"

    print(
        f"articles {stats.articles} in the last {args.window}: p50 {fmt(stats.p50)}, "
        f"p95 {fmt(stats.p95)}, max {fmt(stats.max)}"
    )
    return 0


def cmd_snapshot(args: argparse.Namespace) -> int:
    """Publish on demand (loads also publish): the file copy, or the lake's changes; or list
    the lake's snapshots."""
    from transforms.lake import LakeError

    if args.rebuild and not args.lake:
        raise CliError("--rebuild is for the lake: add --lake")
    if args.out and (args.lake or args.list):
        raise CliError("--out names the snapshot file; the lake's place is TRADEWIRE_LAKE_CATALOG")
    try:
        if args.list:
            return list_lake_snapshots(args)
        if args.lake:
            from transforms.lake import publish_lake

            print(publish_lake(existing_db_path(args), rebuild=args.rebuild).describe())
            return 0
    except LakeError as exc:
        raise CliError(str(exc)) from exc
    from transforms.snapshot import publish_snapshot

    db = existing_db_path(args)
    print(publish_snapshot(db, Path(args.out) if args.out else None))
    return 0


def list_lake_snapshots(args: argparse.Namespace) -> int:
    """Snapshot id, time and what changed: the ids --at-snapshot takes."""
    from ingest.cli.output import print_rows
    from transforms.lake import lake_location, list_snapshots, open_lake

    with open_lake(lake_location(db_path(args))) as con:
        snapshots = list_snapshots(con)
    rows = [
        (s.snapshot_id, s.snapshot_time, s.message or "", ", ".join(sorted(s.changes)))
        for s in snapshots
    ]
    print_rows(["snapshot", "time", "publish", "changes"], rows, "table")
    return 0
