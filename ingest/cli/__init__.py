"""The `tradewire` command line: the same code paths the Airflow DAGs call.

parser.py builds the parser from the command modules (pipeline_commands, query_commands,
eval_commands), options.py holds what they share (--db, CliError), output.py all printing.
Heavy modules (DuckDB, Arrow, rich, the pipeline) are imported inside the commands, so
`tradewire --help` stays fast.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ingest.cli.options import CliError
from ingest.cli.parser import build_parser

__all__ = ["CliError", "build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    from ingest.cli.verbosity import verbose_logging

    args = build_parser().parse_args(argv)
    # Imported after parsing: pydantic settings and DuckDB are not needed for --help.
    from transforms.database import DatabaseBusyError, DatabaseMissingError

    try:
        with verbose_logging(args.verbose):
            return int(args.func(args))
    except (CliError, DatabaseMissingError, DatabaseBusyError) as exc:
        print(f"tradewire {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
