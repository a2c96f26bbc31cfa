"""Commands around the tagger's quality: eval-tags, tagger train, and analysts' label."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.cli.options import CliError, add_command, add_db_option, db_path, existing_db_path

if TYPE_CHECKING:
    from ingest.cli.options import SubParsers

EPILOG_EVAL_TAGS = """examples:
  tradewire eval-tags ../shared/corpus/articles/labeled-dev.jsonl --folds 5 --by source
  tradewire eval-tags LABELS.jsonl                 the shipped model, as it is, on these rows
  tradewire eval-tags LABELS.jsonl --rules         the taxonomy's rules alone
(input: JSON Lines with id, title, text, us_china and topics per line)
With --folds K, each article is tagged by a model trained (settings chosen on inner folds)
without it: every figure is measured on articles the model was not trained on.
"""

EPILOG_TAGGER = """examples:
  tradewire tagger train ../shared/corpus/articles/labeled-dev.jsonl
  tradewire tagger train --from-db                 the shipped labels plus analysts' corrections
  tradewire tagger train LABELS.jsonl --out my-model.json --taxonomy my-taxonomy.toml
The new model is written to transforms/tagging/model.json unless --out says otherwise;
`tradewire retag` then re-tags the stored articles with it.
"""

EPILOG_LABEL = """examples:
  tradewire label 3f1c… --topic +export_controls --topic -tariffs --note "denial order"
  tradewire label 3f1c… --us-china no
  tradewire label --export corrections.jsonl       labeled JSON Lines for train and eval-tags
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
    eval_tags.add_argument(
        "--folds", type=int, help="cross-validate: train on K-1 folds, measure on the K-th"
    )
    eval_tags.add_argument("--by", choices=["source"], help="also show the figures per source_repo")
    eval_tags.add_argument("--rules", action="store_true", help="the taxonomy's rules alone")
    eval_tags.add_argument("--seed", type=int, default=0, help="fold assignment seed")


def add_tagger(sub: SubParsers) -> None:
    tagger = add_command(
        sub,
        "tagger",
        help="train the learned tag scorer from labeled articles",
        epilog=EPILOG_TAGGER,
        func=cmd_tagger_help,
    )
    actions = tagger.add_subparsers(dest="tagger_command", metavar="ACTION")
    train = add_command(
        actions,
        "train",
        help="train a model from labeled JSON Lines and/or the database's corrections",
        epilog=EPILOG_TAGGER,
        func=cmd_tagger_train,
    )
    train.add_argument("files", nargs="*", metavar="LABELS.jsonl", help="labeled articles")
    train.add_argument(
        "--from-db", action="store_true", help="add analysts' corrections (tag_labels)"
    )
    train.add_argument("--out", type=Path, help="model file (default: the shipped model)")
    train.add_argument("--taxonomy", type=Path, help="taxonomy file (default: the shipped one)")
    train.add_argument("--seed", type=int, default=0, help="inner-fold seed")
    add_db_option(train)


def add_label(sub: SubParsers) -> None:
    label = add_command(
        sub,
        "label",
        help="correct an article's tags; the model learns from corrections",
        epilog=EPILOG_LABEL,
        func=cmd_label,
    )
    label.add_argument("article_id", nargs="?", help="articles.article_id")
    label.add_argument(
        "--topic", action="append", default=[], metavar="+T|-T", help="+topic or -topic"
    )
    label.add_argument("--us-china", choices=["yes", "no"], help="whether it is US–China trade")
    label.add_argument("--note", help="why, for whoever reads the label later")
    label.add_argument("--by", help="who labels (default: the login name)")
    label.add_argument(
        "--export", nargs="?", const="-", metavar="FILE", help="write corrections as JSON Lines"
    )
    add_db_option(label)


def read_labeled_file(path: Path) -> list[dict[str, Any]]:
    """Labeled JSON Lines, or a one-line error naming the file."""
    from transforms.evaluation import read_labeled

    if not path.is_file():
        raise CliError(f"no such file: {path}")
    try:
        return read_labeled(path)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CliError(f"{path} is not JSON Lines: {exc}") from exc


def cmd_eval_tags(args: argparse.Namespace) -> int:
    """Precision, recall and F1 per topic and for us_china, with the worst mistakes."""
    from transforms.evaluation import compare, cross_validate, format_groups, format_report
    from transforms.tagging import load_tagger
    from transforms.tagging.training import TrainingError

    records = read_labeled_file(Path(args.file))
    tagger = load_tagger()
    if args.rules or args.folds:
        tagger = tagger.with_model(None)
    if args.folds:
        if args.folds < 2:
            raise CliError("--folds needs at least 2")
        try:
            results = cross_validate(records, tagger, args.folds, args.seed)
        except TrainingError as exc:
            raise CliError(str(exc)) from exc
        version = f"{tagger.version}, model cross-validated over {args.folds} folds"
    else:
        results = [tagger.tag(r.get("title"), r.get("text") or "") for r in records]
        model = tagger.model
        version = tagger.version + (f", model {model.version}" if model else ", rules alone")
    print(format_report(compare(records, results, tagger.taxonomy.topics, version)))
    if args.by:
        print()
        print(format_groups(records, results, tagger.taxonomy.topics, "source_repo"))
    return 0


def cmd_tagger_help(args: argparse.Namespace) -> int:
    """`tradewire tagger` alone: say which actions there are."""
    raise CliError("say what to do: `tradewire tagger train LABELS.jsonl` (see --help)")


def cmd_tagger_train(args: argparse.Namespace) -> int:
    """Train on the given labeled files and/or the database's corrections; write the model."""
    from transforms.labels import labeled_rows
    from transforms.tagging import load_tagger
    from transforms.tagging.model import DEFAULT_MODEL, save_model
    from transforms.tagging.training import TrainingError, shipped_labels, train_model

    rows: list[dict[str, Any]] = []
    files = [Path(f) for f in args.files]
    if args.from_db and not files:
        shipped = shipped_labels()
        if shipped is not None:
            files.append(shipped)
    for path in files:
        rows.extend(read_labeled_file(path))
    if args.from_db:
        corrections = labeled_rows(existing_db_path(args))
        by_id = {str(r.get("id")): i for i, r in enumerate(rows)}
        for row in corrections:  # a correction replaces the same article's older label
            if row["id"] in by_id:
                rows[by_id[row["id"]]] = row
            else:
                rows.append(row)
        print(f"{len(corrections)} corrected articles from {db_path(args)}", file=sys.stderr)
    if not rows:
        raise CliError("no labeled articles: give LABELS.jsonl and/or --from-db")
    tagger = load_tagger(taxonomy_path=args.taxonomy) if args.taxonomy else load_tagger()
    try:
        model = train_model(rows, tagger.with_model(None), seed=args.seed, sources=files)
    except TrainingError as exc:
        raise CliError(str(exc)) from exc
    out = save_model(model, args.out or DEFAULT_MODEL)
    print(f"model {model.version}: {len(rows)} articles, {len(model.labels)} labels -> {out}")
    return 0


def cmd_label(args: argparse.Namespace) -> int:
    """Record one correction, or export every correction as labeled JSON Lines."""
    from transforms.labels import (
        Correction,
        LabelError,
        export_labels,
        parse_topic_changes,
        record_correction,
    )
    from transforms.tagging import load_tagger

    if args.export is not None:
        out = None if args.export == "-" else Path(args.export)
        count = export_labels(existing_db_path(args), out)
        if out is not None:
            print(f"{count} labeled articles -> {out}", file=sys.stderr)
        return 0
    if not args.article_id:
        raise CliError("give an ARTICLE_ID to correct, or --export FILE")
    known = load_tagger().taxonomy.topics
    try:
        add, remove = parse_topic_changes(args.topic, known)
        correction = Correction(
            article_id=args.article_id,
            add=tuple(add),
            remove=tuple(remove),
            us_china=None if args.us_china is None else args.us_china == "yes",
            note=args.note,
            by=args.by,
        )
        label_id = record_correction(existing_db_path(args), correction, known)
    except LabelError as exc:
        raise CliError(str(exc)) from exc
    print(f"label {label_id} recorded for {args.article_id}")
    return 0
