"""Everything the commands print: tables for people; CSV, JSON Lines and Parquet for pipes."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

# --format choices: rows as a table, CSV or JSON Lines; `sql` also writes Parquet.
ROW_FORMATS = ("table", "csv", "json")
# Wide enough that a table piped to a file or a pager is not wrapped at 80 columns.
PIPE_WIDTH = 200


def jsonable(value: Any) -> Any:
    """A value JSON and CSV can carry: dates as ISO text, decimals as floats, bytes as hex."""
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
        writer.writerows([[jsonable(v) for v in row] for row in rows])
    elif fmt == "json":
        for row in rows:
            record = {c: jsonable(v) for c, v in zip(columns, row, strict=True)}
            print(json.dumps(record, ensure_ascii=False, default=str))
    else:
        from rich.table import Table

        table = Table(*columns, show_lines=False)
        for row in rows:
            table.add_row(*("" if v is None else str(jsonable(v)) for v in row))
        _console().print(table)


def print_document(document: Mapping[str, Any], *, pretty: bool = True) -> None:
    """One record as JSON: indented for a person, or one line (JSON Lines) for a pipe."""
    print(json.dumps(document, ensure_ascii=False, indent=2 if pretty else None))


def write_parquet(table: Any, out: str | None) -> None:
    """Parquet to a file, or to stdout for pipes (pyarrow writes without seeking)."""
    import pyarrow.parquet as pq

    if out:
        from pathlib import Path

        Path(out).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, out)
    else:
        pq.write_table(table, sys.stdout.buffer)
        sys.stdout.buffer.flush()


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
    from rich.table import Table
    from rich.text import Text

    console = _console()
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


def _console() -> Console:
    """A rich Console on stdout: the terminal's width there, PIPE_WIDTH anywhere else."""
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else PIPE_WIDTH)
