"""The `tradewire` argument parser: global options, then each command from its module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ingest.cli import eval_commands, pipeline_commands, query_commands, source_commands

if TYPE_CHECKING:
    from ingest.cli.options import SubParsers

DISTRIBUTION = "tradewire"

# In the order `tradewire --help` lists them.
COMMANDS: tuple[Callable[[SubParsers], None], ...] = (
    pipeline_commands.add_run,
    pipeline_commands.add_tag,
    pipeline_commands.add_extract,
    source_commands.add_sources,
    query_commands.add_sql,
    query_commands.add_search,
    query_commands.add_export,
    query_commands.add_report,
    query_commands.add_freshness,
    query_commands.add_snapshot,
    pipeline_commands.add_refresh,
    pipeline_commands.add_retag,
    pipeline_commands.add_reextract,
    eval_commands.add_eval_tags,
    eval_commands.add_tagger,
    eval_commands.add_label,
)


def package_version() -> str:
    """The installed distribution's version, as pyproject.toml sets it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown (not installed)"


class VersionAction(argparse.Action):
    """--version, looked up only when asked for: importlib.metadata is slow to import."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest=dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        print(f"{parser.prog} {package_version()}", file=sys.stdout)
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """All subcommands, each with --help and examples."""
    parser = argparse.ArgumentParser(
        prog="tradewire",
        description="Ingest, tag and query US-China trade news in DuckDB.",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log what the pipeline does to stderr: -v info, -vv debug",
    )
    parser.add_argument(
        "--version", action=VersionAction, dest="version", help="print the version and exit"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser
