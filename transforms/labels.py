"""Analysts' corrections of tags (`tradewire label`): recorded, exported, and learned from.

A correction says which topics an article is or is not about, and optionally its US–China
flag; what the article was tagged with and by which model is kept beside it. The labeled form
of an article is its tags at its first correction with every later correction applied, in the
JSON Lines shape `tradewire tagger train` and `tradewire eval-tags` read.
"""

from __future__ import annotations

import getpass
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transforms.database import connect

logger = logging.getLogger(__name__)

SOURCE = "tag_labels"  # the source_repo of exported rows, so `--by source` shows them apart


class LabelError(ValueError):
    """A correction that names an unknown article or topic, or changes nothing."""


@dataclass(frozen=True)
class Correction:
    """What an analyst says about one article."""

    article_id: str
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    us_china: bool | None = None
    note: str | None = None
    by: str | None = None


def parse_topic_changes(values: Sequence[str], known: Sequence[str]) -> tuple[list[str], list[str]]:
    """`+topic` / `-topic` arguments into topics to add and to remove, checked against the taxonomy."""
    add: list[str] = []
    remove: list[str] = []
    for value in values:
        sign, topic = value[:1], value[1:]
        if sign not in "+-" or not topic:
            raise LabelError(f"--topic {value!r}: write +TOPIC or -TOPIC, e.g. +export_controls")
        if topic not in known:
            raise LabelError(f"unknown topic {topic!r}; the taxonomy has: {', '.join(known)}")
        (add if sign == "+" else remove).append(topic)
    both = set(add) & set(remove)
    if both:
        raise LabelError(f"topic added and removed at once: {', '.join(sorted(both))}")
    return add, remove


def record_correction(db_path: Path, correction: Correction, known: Sequence[str]) -> int:
    """Write one tag_labels row; returns its label_id. Unknown article or topic: LabelError."""
    for topic in (*correction.add, *correction.remove):
        if topic not in known:
            raise LabelError(f"unknown topic {topic!r}; the taxonomy has: {', '.join(known)}")
    if not (correction.add or correction.remove or correction.us_china is not None):
        raise LabelError("nothing to record: give --topic +X / -X or --us-china yes|no")
    with connect(db_path, read_only=False) as con:
        row = con.execute(
            "SELECT a.us_china, a.model_version, a.taxonomy_version, "
            "coalesce((SELECT list(t.topic ORDER BY t.topic) FROM article_topics t "
            "WHERE t.article_id = a.article_id), []::VARCHAR[]) "
            "FROM articles a WHERE a.article_id = ?",
            [correction.article_id],
        ).fetchone()
        if row is None:
            raise LabelError(f"no article {correction.article_id!r} in {db_path}")
        us_china_before, model_version, taxonomy_version, topics_before = row
        inserted = con.execute(
            "INSERT INTO tag_labels (article_id, labeled_by, topics_added, topics_removed, "
            "us_china, note, topics_before, us_china_before, model_version, taxonomy_version) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING label_id",
            [
                correction.article_id,
                correction.by or getpass.getuser(),
                list(correction.add),
                list(correction.remove),
                correction.us_china,
                correction.note,
                list(topics_before),
                bool(us_china_before),
                model_version,
                taxonomy_version,
            ],
        ).fetchone()
    assert inserted is not None
    logger.info("label %s recorded for %s", inserted[0], correction.article_id)
    return int(inserted[0])


def labeled_rows(db_path: Path) -> list[dict[str, Any]]:
    """Every corrected article as a labeled JSON Lines row (id, title, text, us_china, topics)."""
    with connect(db_path, read_only=True) as con:
        rows = con.execute(
            "SELECT l.article_id, a.title, a.text, a.url, a.published_at, l.topics_before, "
            "l.us_china_before, l.topics_added, l.topics_removed, l.us_china, l.labeled_by "
            "FROM tag_labels l JOIN articles a USING (article_id) "
            "ORDER BY l.article_id, l.label_id"
        ).fetchall()
    labeled: dict[str, dict[str, Any]] = {}
    for article_id, title, text, url, published, before, uc_before, add, remove, uc, by in rows:
        entry = labeled.get(article_id)
        if entry is None:
            entry = labeled[article_id] = {
                "id": article_id,
                "source_repo": SOURCE,
                "title": title,
                "date": published.isoformat() if published is not None else None,
                "url": url,
                "text": text,
                "us_china": bool(uc_before),
                "topics": set(before or ()),
                "labeled_by": [],
            }
        entry["topics"] = (entry["topics"] | set(add or ())) - set(remove or ())
        if uc is not None:
            entry["us_china"] = bool(uc)
        if by not in entry["labeled_by"]:
            entry["labeled_by"].append(by)
    return [{**e, "topics": sorted(e["topics"])} for e in labeled.values()]


def export_labels(db_path: Path, out: Path | None) -> int:
    """Write the corrected articles as labeled JSON Lines (stdout when out is None)."""
    rows = labeled_rows(db_path)
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if out is None:
        print(lines, end="")
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(lines, encoding="utf-8")
    return len(rows)
