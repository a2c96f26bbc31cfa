"""The `tradewire` command line: the same code paths the Airflow DAGs call."""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import sys
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

EPILOG_RUN = """examples:
  tradewire run --source seeds
  tradewire run --source seeds --db /tmp/trade.duckdb
  tradewire run --source https://news.example.com/trade/rss.xml      # polls now, due or not
  tradewire run --source example-wire                                # a name from sources.toml
  tradewire run --source http://127.0.0.1:8000/feed.xml --allow-host 127.0.0.1
"""
EPILOG_TAG = """examples:
  echo '{"id": "1", "title": "Rare earth curbs", "text": "China restricts gallium exports."}' \\
    | tradewire tag
"""
EPILOG_EXTRACT = """examples:
  tradewire extract seeds/000_5cae3edb08e907fb.txt
  tradewire extract page.html.gz --url https://example.com/story
"""
EPILOG_SQL = """examples:
  tradewire sql "select title, published_at from articles order by ingested_at desc limit 5"
  tradewire sql "select topic, count(*) from article_topics group by 1" --format csv
  tradewire sql "select * from topic_daily" --format parquet --out topics.parquet
  tradewire sql "select * from search_articles('gallium export', topic := 'rare_earths')"
(views and example questions: docs/sql.md)
"""
DB_HELP = "DuckDB file (default: $TRADEWIRE_DB or data/tradewire.duckdb)"
EPILOG_SEARCH = """examples:
  tradewire search "rare earth export curbs"
  tradewire search "soybean purchases" --topic agriculture --since 2026-10-01 --limit 5
  tradewire search "entity list" --format json
  tradewire search --reindex            rebuild the index (after loading outside the pipeline)
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
"""
EPILOG_REEXTRACT = """examples:
  tradewire reextract                     # after upgrading trafilatura or changing its settings
  tradewire reextract --db /tmp/trade.duckdb --batch-size 100 --workers 2
"""
EPILOG_RETAG = """examples:
  tradewire retag                         # after editing transforms/taxonomy.toml
  tradewire retag --db /tmp/trade.duckdb --batch-size 200
"""
EPILOG_EVAL_TAGS = """examples:
  tradewire eval-tags ../shared/corpus/articles/labeled-dev.jsonl
(input: JSON Lines with id, title, text, us_china and topics per line)
"""


class CliError(Exception):
    """An error the user can fix; printed as one line, never as a stack trace."""


def build_parser() -> argparse.ArgumentParser:
    """All subcommands, each with --help and examples."""
    parser = argparse.ArgumentParser(
        prog="tradewire",
        description="Ingest, tag and query US-China trade news in DuckDB.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    fmt = argparse.RawDescriptionHelpFormatter

    run = sub.add_parser(
        "run", help="one ingest pass without Airflow", epilog=EPILOG_RUN, formatter_class=fmt
    )
    run.add_argument(
        "--source",
        action="append",
        required=True,
        metavar="SRC",
        help="a folder of .txt/.html/.html.gz articles, an RSS/Atom/JSON feed URL, or a source "
        "name from $TRADEWIRE_SOURCES_FILE (repeatable)",
    )
    run.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="HOST",
        help="let this run fetch from HOST although it resolves to a private or loopback "
        "address (repeatable; e.g. a local test server)",
    )
    run.add_argument("--db", help="DuckDB file (default: $TRADEWIRE_DB or data/tradewire.duckdb)")
    run.add_argument("--batch-size", type=int, default=None, help="documents per batch")
    run.add_argument("--workers", type=int, default=None, help="extraction processes (0 = cores)")
    run.set_defaults(func=cmd_run)

    tag = sub.add_parser(
        "tag", help="tag JSON Lines from stdin", epilog=EPILOG_TAG, formatter_class=fmt
    )
    tag.set_defaults(func=cmd_tag)

    extract = sub.add_parser(
        "extract",
        help="extract one page or text file as JSON",
        epilog=EPILOG_EXTRACT,
        formatter_class=fmt,
    )
    extract.add_argument("path", help=".html, .html.gz or .txt file")
    extract.add_argument("--url", help="the page's public URL (improves metadata and identity)")
    extract.set_defaults(func=cmd_extract)

    sql = sub.add_parser(
        "sql", help="run a read-only SQL query", epilog=EPILOG_SQL, formatter_class=fmt
    )
    sql.add_argument("query", help="SQL text")
    sql.add_argument("--db", help="DuckDB file (default: $TRADEWIRE_DB or data/tradewire.duckdb)")
    sql.add_argument(
        "--format",
        choices=["table", "csv", "json", "parquet"],
        default="table",
        help="table on a terminal; csv, json (lines) or parquet for pipes",
    )
    sql.add_argument("--out", metavar="FILE", help="with --format parquet: write here, not stdout")
    sql.set_defaults(func=cmd_sql)

    search = sub.add_parser(
        "search",
        help="full-text search (BM25) over titles and texts",
        epilog=EPILOG_SEARCH,
        formatter_class=fmt,
    )
    search.add_argument("query", nargs="?", help="words to look for (any order, stemmed)")
    search.add_argument("--topic", help="only articles tagged with this topic, e.g. rare_earths")
    search.add_argument(
        "--since", type=iso_date, metavar="DATE", help="published on or after (YYYY-MM-DD)"
    )
    search.add_argument("--limit", type=int, default=10, help="at most this many hits")
    search.add_argument("--reindex", action="store_true", help="rebuild the index (needs a writer)")
    search.add_argument("--db", help=DB_HELP)
    search.add_argument("--format", choices=["table", "csv", "json"], default="table")
    search.set_defaults(func=cmd_search)

    export = sub.add_parser(
        "export",
        help="write tables as Parquet partitioned by month",
        epilog=EPILOG_EXPORT,
        formatter_class=fmt,
    )
    export.add_argument("dir", metavar="DIR", help="target folder; its partitions are replaced")
    export.add_argument("--format", choices=["parquet"], default="parquet")
    export.add_argument("--db", help=DB_HELP)
    export.set_defaults(func=cmd_export)

    report = sub.add_parser(
        "report",
        help="one self-contained HTML page: topic chart, entities, latest articles",
        epilog=EPILOG_REPORT,
        formatter_class=fmt,
    )
    report.add_argument("--out", required=True, metavar="FILE", help="HTML file to write")
    report.add_argument(
        "--since", type=iso_date, metavar="DATE", help="published on or after (YYYY-MM-DD)"
    )
    report.add_argument("--db", help=DB_HELP)
    report.set_defaults(func=cmd_report)

    fresh = sub.add_parser(
        "freshness",
        help="how long new articles took to become queryable",
        epilog=EPILOG_FRESHNESS,
        formatter_class=fmt,
    )
    fresh.add_argument("--db", help="DuckDB file (default: $TRADEWIRE_DB or data/tradewire.duckdb)")
    fresh.add_argument(
        "--window", default="24h", help="look-back window: 30m, 24h, 7d (default 24h)"
    )
    fresh.set_defaults(func=cmd_freshness)

    snap = sub.add_parser(
        "snapshot",
        help="publish a read-only copy of the database for other tools",
        epilog=EPILOG_SNAPSHOT,
        formatter_class=fmt,
    )
    snap.add_argument("--db", help="DuckDB file (default: $TRADEWIRE_DB or data/tradewire.duckdb)")
    snap.add_argument("--out", help="snapshot file (default: <db>.snapshot.duckdb beside the db)")
    snap.set_defaults(func=cmd_snapshot)

    retag = sub.add_parser(
        "retag",
        help="re-tag stored articles after the taxonomy or gazetteer changed",
        epilog=EPILOG_RETAG,
        formatter_class=fmt,
    )
    retag.add_argument("--db", help=DB_HELP)
    retag.add_argument("--batch-size", type=int, default=500, help="articles per transaction")
    retag.set_defaults(func=cmd_retag)

    reextract = sub.add_parser(
        "reextract",
        help="re-extract stored pages whose extractor version is out of date (no refetch)",
        epilog=EPILOG_REEXTRACT,
        formatter_class=fmt,
    )
    reextract.add_argument("--db", help=DB_HELP)
    reextract.add_argument("--batch-size", type=int, default=200, help="articles per transaction")
    reextract.add_argument("--workers", type=int, default=1, help="extraction processes")
    reextract.set_defaults(func=cmd_reextract)

    eval_tags = sub.add_parser(
        "eval-tags",
        help="score the tagger against hand-labeled JSON Lines",
        epilog=EPILOG_EVAL_TAGS,
        formatter_class=fmt,
    )
    eval_tags.add_argument("file", metavar="FILE.jsonl", help="labeled articles")
    eval_tags.set_defaults(func=cmd_eval_tags)
    return parser


def iso_date(value: str) -> date:
    """argparse type for --since: a calendar date, so the error names the expected shape."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a date like 2026-10-01, got {value!r}"
        ) from None


def cmd_run(args: argparse.Namespace) -> int:
    """Why a separate path from Airflow: a quick pass for newcomers and scripts."""
    from ingest.pipeline import run_pipeline
    from ingest.polling import poll_config
    from ingest.progress import run_progress
    from transforms.settings import Settings, resolve_db_path

    settings = Settings()
    folders, feeds = resolve_run_sources(args.source, settings.sources_file)
    # A feed's entry count is unknown until it is polled, so a bar would have no total.
    with run_progress(enabled=False if feeds else None) as progress:
        summary = run_pipeline(
            folders,
            resolve_db_path(args.db),
            batch_size=args.batch_size or settings.batch_size,
            workers=settings.workers if args.workers is None else args.workers,
            progress=progress,
            feeds=feeds,
            poll=poll_config(settings, args.allow_host) if feeds else None,
        )
    print(summary.describe())
    if summary.counts.new or summary.counts.updated:
        from transforms.derived import refresh_after_load

        refresh_after_load(resolve_db_path(args.db), snapshot=settings.snapshot)
    return 0


def resolve_run_sources(values: Sequence[str], registry_file: Path) -> tuple[list[str], list[Any]]:
    """Split --source values into folder paths and feed specs (URLs or registry names)."""
    from ingest.sources_registry import RegistryError, load_sources, source_spec_for

    try:
        registry = load_sources(registry_file) if registry_file.exists() else ()
        specs = [source_spec_for(value, registry) for value in values]
    except RegistryError as exc:
        raise CliError(str(exc)) from exc
    folders = []
    for value, spec in zip(values, specs, strict=True):
        if spec.kind == "folder":
            if not Path(spec.location).is_dir():
                raise CliError(
                    f"source {value!r} is not a folder, an http(s) feed URL or a source name "
                    f"in {registry_file}"
                )
            folders.append(spec.location)
    return folders, [spec for spec in specs if spec.kind == "feed"]


def cmd_tag(args: argparse.Namespace) -> int:
    """JSON Lines in, JSON Lines out; bad lines are reported and skipped."""
    from transforms.tagging import load_tagger, tag_json_lines

    tag_json_lines(sys.stdin, sys.stdout, sys.stderr, load_tagger())
    return 0


def cmd_extract(args: argparse.Namespace) -> int:
    """Show what the pipeline would extract from one file, with provenance."""
    from ingest.extraction import extract_item, hash_bytes, read_source_bytes
    from ingest.folder import document_kind
    from ingest.records import SourceItem

    path = Path(args.path)
    if not path.is_file():
        raise CliError(f"no such file: {path}")
    kind = document_kind(path)
    if kind is None:
        raise CliError(f"unsupported file type {path.name!r}: use .html, .html.gz or .txt")
    item = SourceItem(
        source="cli",
        location=str(path.resolve()),
        kind=kind,
        raw_hash=hash_bytes(read_source_bytes(str(path))),
        url=args.url,
    )
    article = extract_item(item)
    if article.error:
        raise CliError(f"could not extract {path}: {article.error}")
    out = {
        "title": article.title,
        "text": article.text,
        "author": article.author,
        "published_at": article.published_at,
        "language": article.language,
        "url": article.url,
        "word_count": article.word_count,
        "content_hash": article.content_hash,
        "article_id": article.article_id,
        "canonical_url": article.canonical_url,
        "canonical_ignored": article.canonical_ignored,
        "published_at_source": article.published_at_source,
        "published_at_conflict": article.published_at_conflict,
        "language_declared": article.language_declared,
        "language_conflict": article.language_conflict,
        "encoding": article.encoding,
        "encoding_rule": article.encoding_rule,
        "is_truncated": article.is_truncated,
        "truncation_reason": article.truncation_reason,
        "raw_location": article.raw_location,
        "raw_hash": article.raw_hash,
        "extractor_version": article.extractor_version,
        "provenance": article.provenance,
    }
    print(json.dumps(out, ensure_ascii=False, indent=2))
    return 0


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def print_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str) -> None:
    """Tables for people, CSV and JSON Lines for pipes."""
    if fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_jsonable(v) for v in row] for row in rows])
    elif fmt == "json":
        for row in rows:
            record = {c: _jsonable(v) for c, v in zip(columns, row, strict=True)}
            print(json.dumps(record, ensure_ascii=False, default=str))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(*columns, show_lines=False)
        for row in rows:
            table.add_row(*("" if v is None else str(_jsonable(v)) for v in row))
        Console(width=None if sys.stdout.isatty() else 200).print(table)


def cmd_sql(args: argparse.Namespace) -> int:
    """Read-only queries that wait for the writer instead of failing on the file lock."""
    import duckdb

    from transforms.database import connect
    from transforms.search import SearchUnavailableError, load_fts
    from transforms.settings import resolve_db_path

    if args.out and args.format != "parquet":
        raise CliError("--out is for --format parquet; redirect other formats with `>`")
    if args.format == "parquet" and not args.out and sys.stdout.isatty():
        raise CliError("Parquet is binary: redirect it (`> rows.parquet`) or use --out FILE")
    with connect(resolve_db_path(args.db), read_only=True) as con:
        # So search_articles(...) works here too; plain SQL does not need the extension.
        with contextlib.suppress(SearchUnavailableError):
            load_fts(con)
        try:
            cursor = con.execute(args.query)
            if args.format == "parquet":
                write_parquet(cursor.to_arrow_table(), args.out)
                return 0
        except duckdb.Error as exc:
            raise CliError(str(exc).splitlines()[0]) from exc
        columns = [d[0] for d in cursor.description or []]
        rows = cursor.fetchall()
    print_rows(columns, rows, args.format)
    return 0


def write_parquet(table: Any, out: str | None) -> None:
    """Parquet to a file, or to stdout for pipes (pyarrow writes without seeking)."""
    import pyarrow.parquet as pq

    if out:
        pq.write_table(table, out)
    else:
        pq.write_table(table, sys.stdout.buffer)
        sys.stdout.buffer.flush()


def _analyst_error(exc: Exception) -> CliError:
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

    from transforms.database import connect
    from transforms.search import (
        SearchUnavailableError,
        known_topics,
        refresh_search_index,
        search_articles,
    )
    from transforms.settings import resolve_db_path

    if not args.query and not args.reindex:
        raise CliError("give words to search for, or --reindex to rebuild the index")
    db = resolve_db_path(args.db)
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
        raise _analyst_error(exc) from exc
    print_hits(hits, args.format)
    return 0


def print_hits(hits: Sequence[Any], fmt: str) -> None:
    """Matched words highlighted on a terminal, wrapped in [brackets] everywhere else."""
    if fmt in ("csv", "json"):
        columns = ["rank", "score", "article_id", "published_at", "title", "topics", "snippet"]
        rows = [
            [
                i,
                round(h.score, 4),
                h.article_id,
                h.published_at,
                h.title,
                list(h.topics) if fmt == "json" else ", ".join(h.topics),
                h.marked_snippet(),
            ]
            for i, h in enumerate(hits, 1)
        ]
        print_rows(columns, rows, fmt)
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(width=None if sys.stdout.isatty() else 200)
    if not hits:
        console.print("no matches")
        return
    table = Table("#", "score", "published", "title / best sentence", "topics", show_lines=True)
    for i, h in enumerate(hits, 1):
        if console.is_terminal:
            snippet = Text(h.snippet, style="dim")
            for start, end in h.highlights:
                snippet.stylize("bold yellow", start, end)
        else:
            snippet = Text(h.marked_snippet())  # Text, not markup: brackets stay literal
        cell = Text.assemble((h.title or "(untitled)", "bold"), "\n", snippet)
        when = h.published_at.date().isoformat() if h.published_at else ""
        table.add_row(str(i), f"{h.score:.2f}", when, cell, Text(", ".join(h.topics)))
    console.print(table)


def cmd_export(args: argparse.Namespace) -> int:
    """Parquet for other engines; partitions are swapped in whole, never half-written."""
    import duckdb

    from transforms.database import connect
    from transforms.export import export_parquet
    from transforms.settings import resolve_db_path

    out = Path(args.dir)
    if out.exists() and not out.is_dir():
        raise CliError(f"{out} is a file; give a folder to export into")
    with connect(resolve_db_path(args.db), read_only=True) as con:
        try:
            counts = export_parquet(con, out)
        except duckdb.Error as exc:
            raise _analyst_error(exc) from exc
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
    from transforms.settings import resolve_db_path

    out = Path(args.out)
    with connect(resolve_db_path(args.db), read_only=True) as con:
        try:
            page = build_report(con, since=args.since)
        except ReportDependencyError as exc:
            raise CliError(str(exc)) from exc
        except duckdb.Error as exc:
            raise _analyst_error(exc) from exc
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
    from transforms.settings import resolve_db_path

    stats = measure_freshness(resolve_db_path(args.db), parse_window(args.window))

    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}s"

    print(
        f"articles {stats.articles} in the last {args.window}: p50 {fmt(stats.p50)}, "
        f"p95 {fmt(stats.p95)}, max {fmt(stats.max)}"
    )
    return 0


def cmd_snapshot(args: argparse.Namespace) -> int:
    """Publish the read-only copy on demand (loads also publish it)."""
    from transforms.settings import resolve_db_path
    from transforms.snapshot import publish_snapshot

    db_path = resolve_db_path(args.db)
    if not db_path.exists():
        raise CliError(f"no database at {db_path}: create it with `tradewire run --source seeds`")
    print(publish_snapshot(db_path, Path(args.out) if args.out else None))
    return 0


def cmd_retag(args: argparse.Namespace) -> int:
    """Bring stored tags up to the current tagger without refetching anything."""
    from transforms.retagging import retag_articles
    from transforms.settings import Settings, resolve_db_path

    if args.batch_size < 1:
        raise CliError("--batch-size must be at least 1")
    db_path = resolve_db_path(args.db)
    if not db_path.exists():
        raise CliError(f"no database at {db_path}: create it with `tradewire run --source seeds`")
    counts = retag_articles(db_path, batch_size=args.batch_size)
    print(counts.describe())
    if counts.retagged:
        from transforms.derived import refresh_after_load

        refresh_after_load(db_path, snapshot=Settings().snapshot)
    return 0


def cmd_reextract(args: argparse.Namespace) -> int:
    """Bring stored articles up to the current extractor from their stored raw bytes."""
    from ingest.pipeline import new_run_id
    from ingest.reextraction import reextract_articles
    from transforms.settings import resolve_db_path

    if args.batch_size < 1:
        raise CliError("--batch-size must be at least 1")
    db_path = resolve_db_path(args.db)
    if not db_path.exists():
        raise CliError(f"no database at {db_path}: create it with `tradewire run --source seeds`")
    counts = reextract_articles(
        db_path,
        batch_size=args.batch_size,
        workers=max(1, args.workers),
        run_id=new_run_id("reextract"),
    )
    print(counts.describe())
    return 0


def cmd_eval_tags(args: argparse.Namespace) -> int:
    """Precision, recall and F1 per topic and for us_china, with the worst mistakes."""
    from transforms.evaluation import evaluate, format_report, read_labeled
    from transforms.tagging import load_tagger

    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"no such file: {path}")
    try:
        records = read_labeled(path)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CliError(f"{path} is not JSON Lines: {exc}") from exc
    print(format_report(evaluate(records, load_tagger())))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    from transforms.database import DatabaseBusyError, DatabaseMissingError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (CliError, DatabaseMissingError, DatabaseBusyError) as exc:
        print(f"tradewire {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
