"""Commands that put articles in, or bring stored ones up to date: run, tag, extract, retag,
reextract. The same code paths the Airflow DAGs call."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.cli.options import (
    CliError,
    add_command,
    add_db_option,
    db_path,
    existing_db_path,
)

if TYPE_CHECKING:
    from ingest.cli.options import SubParsers

EPILOG_RUN = """examples:
  tradewire run --source seeds
  tradewire run --source seeds --db /tmp/trade.duckdb
  tradewire run --source https://news.example.com/trade/rss.xml      # polls now, due or not
  tradewire run --source seeds           # a source name from $TRADEWIRE_SOURCES_FILE
  tradewire run --source http://127.0.0.1:8000/feed.xml --allow-host 127.0.0.1
exit status: 0 when every source was read (documents that fail are error rows, counted as
failed); 1 when a source failed as a whole (named on stderr, with why); 2 on a usage error.
"""
EPILOG_REFRESH = """examples:
  tradewire refresh                       # whatever is behind the articles
  tradewire refresh --force               # rebuild the search index and snapshot regardless
                                          # (the lake: every table republished whole)
"""
EPILOG_TAG = """examples:
  echo '{"id": "1", "title": "Rare earth curbs", "text": "China restricts gallium exports."}' \\
    | tradewire tag
"""
EPILOG_EXTRACT = """examples:
  tradewire extract seeds/000_5cae3edb08e907fb.txt
  tradewire extract page.html.gz --url https://example.com/story
  tradewire extract page.html | tradewire tag       # one JSON line, with id, title and text
"""
EPILOG_RETAG = """examples:
  tradewire retag                         # after editing transforms/taxonomy.toml
  tradewire retag --db /tmp/trade.duckdb --batch-size 200
"""
EPILOG_REEXTRACT = """examples:
  tradewire reextract                     # after upgrading trafilatura or changing its settings
  tradewire reextract --db /tmp/trade.duckdb --batch-size 100 --workers 2
"""


def add_run(sub: SubParsers) -> None:
    run = add_command(
        sub, "run", help="one ingest pass without Airflow", epilog=EPILOG_RUN, func=cmd_run
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
    add_db_option(run)
    run.add_argument("--batch-size", type=int, default=None, help="documents per batch")
    run.add_argument("--workers", type=int, default=None, help="extraction processes (0 = cores)")


def add_refresh(sub: SubParsers) -> None:
    refresh = add_command(
        sub,
        "refresh",
        help="bring derived tables, the search index and the snapshot up to date",
        epilog=EPILOG_REFRESH,
        func=cmd_refresh,
    )
    add_db_option(refresh)
    refresh.add_argument(
        "--force", action="store_true", help="rebuild the index and snapshot even if current"
    )


def add_tag(sub: SubParsers) -> None:
    add_command(sub, "tag", help="tag JSON Lines from stdin", epilog=EPILOG_TAG, func=cmd_tag)


def add_extract(sub: SubParsers) -> None:
    extract = add_command(
        sub,
        "extract",
        help="extract one page or text file as JSON",
        epilog=EPILOG_EXTRACT,
        func=cmd_extract,
    )
    extract.add_argument("path", help=".html, .html.gz or .txt file")
    extract.add_argument("--url", help="the page's public URL (improves metadata and identity)")
    extract.add_argument(
        "--format",
        choices=["auto", "json", "pretty"],
        default="auto",
        help="json: one line (what `tradewire tag` reads); pretty: indented; auto (default): "
        "pretty on a terminal, one line in a pipe",
    )


def add_retag(sub: SubParsers) -> None:
    retag = add_command(
        sub,
        "retag",
        help="re-tag stored articles after the taxonomy or gazetteer changed",
        epilog=EPILOG_RETAG,
        func=cmd_retag,
    )
    add_db_option(retag)
    retag.add_argument("--batch-size", type=int, default=500, help="articles per transaction")


def add_reextract(sub: SubParsers) -> None:
    reextract = add_command(
        sub,
        "reextract",
        help="re-extract stored pages whose extractor version is out of date (no refetch)",
        epilog=EPILOG_REEXTRACT,
        func=cmd_reextract,
    )
    add_db_option(reextract)
    reextract.add_argument("--batch-size", type=int, default=200, help="articles per transaction")
    reextract.add_argument("--workers", type=int, default=1, help="extraction processes")


def cmd_run(args: argparse.Namespace) -> int:
    """Why a separate path from Airflow: a quick pass for newcomers and scripts."""
    from ingest.pipeline import run_pipeline
    from ingest.polling import poll_config
    from ingest.progress import run_progress
    from transforms.derived import refresh_after_load
    from transforms.settings import Settings

    settings = Settings()
    folders, feeds = resolve_run_sources(args.source, settings.sources_file)
    db = db_path(args)
    # A feed's entry count is unknown until it is polled, so a bar would have no total.
    with run_progress(enabled=False if feeds else None) as progress:
        summary = run_pipeline(
            folders,
            db,
            batch_size=args.batch_size or settings.batch_size,
            workers=settings.workers if args.workers is None else args.workers,
            progress=progress,
            feeds=feeds,
            poll=poll_config(settings, args.allow_host) if feeds else None,
            max_document_bytes=settings.max_document_bytes,
            keep_root=settings.staging_root,
        )
    print(summary.describe())
    # Whatever is behind the articles, not only after new ones: a refresh an earlier run did
    # not finish (killed, failed) is redone here.
    refresh_after_load(db, snapshot=settings.snapshot)
    for problem in summary.problems():
        print(f"tradewire run: {problem}", file=sys.stderr)
    return 1 if summary.failed_sources else 0


def cmd_refresh(args: argparse.Namespace) -> int:
    """Derived tables, search index and snapshot, for a database loaded or refreshed elsewhere."""
    from transforms.derived import refresh_after_load
    from transforms.settings import Settings

    db = existing_db_path(args)
    out = refresh_after_load(db, snapshot=Settings().snapshot, force=args.force)
    rows = out.get("search_index_rows", 0)
    index = (
        "up to date" if rows < 0 else f"{'rebuilt' if args.force else 'updated'} ({rows} articles)"
    )
    published = out.get("snapshot_published", -2)
    snapshot = {1: "published", 0: "up to date", -1: "failed (see above)"}.get(published, "off")
    if "lake_snapshot" in out:
        snapshot = f"lake snapshot {out['lake_snapshot']} published"
    print(
        f"derived tables: {out.get('topic_daily_counts_days', 0)} days refreshed; "
        f"search index: {index}; snapshot: {snapshot}"
    )
    return 1 if published == -1 else 0


def resolve_run_sources(values: Sequence[str], registry_file: Path) -> tuple[list[str], list[Any]]:
    """Split --source values into folder paths and feed specs (URLs or registry names)."""
    from ingest.sources_registry import (
        RegistryError,
        is_web_kind,
        load_sources,
        source_spec_for,
    )

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
    return folders, [spec for spec in specs if is_web_kind(spec.kind)]


def cmd_tag(args: argparse.Namespace) -> int:
    """JSON Lines in, JSON Lines out; bad lines are reported and skipped, and exit 1."""
    from transforms.tagging import load_tagger, tag_json_lines

    errors = tag_json_lines(sys.stdin, sys.stdout, sys.stderr, load_tagger())
    if errors:
        print(f"tradewire tag: {errors} input lines could not be tagged", file=sys.stderr)
    return 1 if errors else 0


def cmd_extract(args: argparse.Namespace) -> int:
    """Show what the pipeline would extract from one file, with provenance."""
    from ingest.cli.output import print_document
    from ingest.extraction import extract_item, hash_bytes
    from ingest.folder import document_kind
    from ingest.localfiles import DocumentUnreadable, read_document_bytes
    from ingest.records import SourceItem
    from transforms.settings import Settings

    path = Path(args.path)
    if not path.is_file():
        raise CliError(f"no such file: {path}")
    kind = document_kind(path)
    if kind is None:
        raise CliError(f"unsupported file type {path.name!r}: use .html, .html.gz or .txt")
    try:
        raw = read_document_bytes(str(path), Settings().max_document_bytes)
    except DocumentUnreadable as exc:
        raise CliError(f"cannot read {path}: {exc}") from exc
    item = SourceItem(
        source="cli",
        location=str(path.resolve()),
        kind=kind,
        raw_hash=hash_bytes(raw),
        url=args.url,
    )
    article = extract_item(item)
    if article.error:
        raise CliError(f"could not extract {path}: {article.error}")
    print_document(
        {
            # `id` first: `tradewire extract page.html | tradewire tag` tags this document.
            "id": article.article_id,
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
        },
        pretty=args.format == "pretty" or (args.format == "auto" and sys.stdout.isatty()),
    )
    return 0


def cmd_retag(args: argparse.Namespace) -> int:
    """Bring stored tags up to the current tagger without refetching anything."""
    from transforms.retagging import retag_articles
    from transforms.settings import Settings

    if args.batch_size < 1:
        raise CliError("--batch-size must be at least 1")
    db = existing_db_path(args)
    counts = retag_articles(db, batch_size=args.batch_size)
    print(counts.describe())
    if counts.retagged:
        from transforms.derived import refresh_after_load

        refresh_after_load(db, snapshot=Settings().snapshot)
    return 0


def cmd_reextract(args: argparse.Namespace) -> int:
    """Bring stored articles up to the current extractor from their stored raw bytes."""
    from ingest.pipeline import new_run_id
    from ingest.reextraction import reextract_articles

    if args.batch_size < 1:
        raise CliError("--batch-size must be at least 1")
    db = existing_db_path(args)
    counts = reextract_articles(
        db,
        batch_size=args.batch_size,
        workers=max(1, args.workers),
        run_id=new_run_id("reextract"),
    )
    print(counts.describe())
    return 0
