"""The `tradewire` command line: the same code paths the Airflow DAGs call."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

EPILOG_RUN = """examples:
  tradewire run --source seeds
  tradewire run --source seeds --db /tmp/trade.duckdb
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
        help="a folder of .txt/.html/.html.gz articles (repeatable)",
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
    sql.add_argument("--format", choices=["table", "csv", "json"], default="table")
    sql.set_defaults(func=cmd_sql)
    return parser


def cmd_run(args: argparse.Namespace) -> int:
    """Why a separate path from Airflow: a quick pass for newcomers and scripts."""
    from ingest.pipeline import run_pipeline
    from ingest.settings import Settings, resolve_db_path

    settings = Settings()
    for source in args.source:
        if not Path(source).is_dir():
            raise CliError(f"source {source!r} is not a folder")
    summary = run_pipeline(
        args.source,
        resolve_db_path(args.db),
        batch_size=args.batch_size or settings.batch_size,
        workers=settings.workers if args.workers is None else args.workers,
    )
    print(summary.describe())
    return 0


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

    from ingest.settings import resolve_db_path
    from transforms.database import connect

    with connect(resolve_db_path(args.db), read_only=True) as con:
        try:
            cursor = con.execute(args.query)
        except duckdb.Error as exc:
            raise CliError(str(exc).splitlines()[0]) from exc
        columns = [d[0] for d in cursor.description or []]
        rows = cursor.fetchall()
    print_rows(columns, rows, args.format)
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
