"""What the commands share: the user-facing error, and options defined once (--db, --since)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]

Command = Callable[[argparse.Namespace], int]

DB_HELP = "DuckDB file (default: $TRADEWIRE_DB or data/tradewire.duckdb)"
# The hint every command gives when the database it needs does not exist yet.
CREATE_DB_HINT = "create it with `tradewire run --source seeds`"


class CliError(Exception):
    """An error the user can fix; printed as one line, never as a stack trace."""


def add_command(
    sub: SubParsers, name: str, *, help: str, epilog: str | None, func: Command
) -> argparse.ArgumentParser:
    """One subcommand with its one-line help, its examples kept as written, and its handler."""
    parser = sub.add_parser(
        name, help=help, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.set_defaults(func=func)
    return parser


def add_db_option(parser: argparse.ArgumentParser) -> None:
    """--db for every command that opens the database; read it back with `db_path(args)`."""
    parser.add_argument("--db", help=DB_HELP)


def db_path(args: argparse.Namespace) -> Path:
    """--db, else $TRADEWIRE_DB, else data/tradewire.duckdb (transforms.settings decides)."""
    from transforms.settings import resolve_db_path

    return resolve_db_path(args.db)


def existing_db_path(args: argparse.Namespace) -> Path:
    """db_path for commands that must not create an empty database by opening it."""
    path = db_path(args)
    if not path.exists():
        raise CliError(f"no database at {path}: {CREATE_DB_HINT}")
    return path


def add_since_option(parser: argparse.ArgumentParser) -> None:
    """--since DATE for commands that look at articles published from a day on."""
    parser.add_argument(
        "--since", type=iso_date, metavar="DATE", help="published on or after (YYYY-MM-DD)"
    )


def iso_date(value: str) -> date:
    """argparse type for --since: a calendar date, so the error names the expected shape."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a date like 2026-10-01, got {value!r}"
        ) from None
