"""Commands that measure the tagger against hand-labeled articles: eval-tags."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.cli.options import CliError, add_command

if TYPE_CHECKING:
    from ingest.cli.options import SubParsers

EPILOG_EVAL_TAGS = """examples:
  tradewire eval-tags ../shared/corpus/articles/labeled-dev.jsonl
(input: JSON Lines with id, title, text, us_china and topics per line)
"""


def add_eval_tags(sub: SubParsers) -> None:
    eval_tags = add_command(
        sub,
        "eval-tags",
        help="score the tagger against hand-labeled JSON Lines",
        epilog=EPILOG_EVAL_TAGS,
        func=cmd_eval_tags,
    )
    eval_tags.add_argument("file", metavar="FILE.jsonl", help="labeled articles")


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
