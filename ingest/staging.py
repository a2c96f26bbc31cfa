"""Intermediate batches as JSON Lines under the staging root, through fsspec.

A local folder by default; the same code writes to s3:// when workers run on several
machines, which is why nothing here uses plain open() on a local path. Every filesystem comes
from transforms/objectstore.py, so an s3:// root reaches the configured endpoint and region.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from transforms.objectstore import open_root

logger = logging.getLogger(__name__)


def batch_url(staging_root: str, run_id: str, stage: str, index: int) -> str:
    """Where one stage's batch lives; run ids are sanitised so they never escape the root."""
    safe_run = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run_id)
    return f"{staging_root.rstrip('/')}/{safe_run}/{stage}-{index:05d}.jsonl"


def write_jsonl(url: str, rows: Iterable[dict[str, Any]]) -> str:
    """Write rows atomically enough for retries: a rerun of the task overwrites the same file."""
    fs, path = open_root(url)
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    with fs.open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            line = json.dumps(row, ensure_ascii=False)
            try:
                line.encode("utf-8")
            except UnicodeEncodeError:
                # A lone surrogate: escaped, it round-trips, and the landing makes it an error row.
                line = json.dumps(row)
            handle.write(line)
            handle.write("\n")
    return url


def read_jsonl(url: str) -> Iterator[dict[str, Any]]:
    """Stream rows back; one batch at a time keeps memory bounded."""
    fs, path = open_root(url)
    with fs.open(path, "r", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def remove_run(staging_root: str, run_id: str) -> None:
    """Drop a finished run's staging files so the root does not grow without bound."""
    url = batch_url(staging_root, run_id, "x", 0).rsplit("/", 1)[0]
    fs, path = open_root(url)
    if fs.exists(path):
        fs.rm(path, recursive=True)


def run_files(staging_root: str, run_id: str, stage: str) -> list[str]:
    """URLs of a run's files for one stage, whichever task wrote them (e.g. one per host group)."""
    folder = batch_url(staging_root, run_id, "x", 0).rsplit("/", 1)[0]
    fs, path = open_root(folder)
    return sorted(fs.unstrip_protocol(p) for p in fs.glob(f"{path}/{stage}-*.jsonl"))


# Landings a locked database file refused, kept for the next run (see ingest/pipeline.py land).
PENDING = "pending"


def pending_folder(staging_root: str, database: str) -> str:
    """Where refused landings for one database wait, under the staging root: every run that
    lands into that database looks there first (and no run into another one does)."""
    import hashlib

    scope = hashlib.sha256(database.encode("utf-8", "backslashreplace")).hexdigest()[:16]
    return f"{staging_root.rstrip('/')}/{PENDING}/{scope}"


def keep_pending(staging_root: str, database: str, run: Any, rows: Iterable[Any]) -> str:
    """Keep one refused landing: a header row naming its run, then its tagged articles."""
    from dataclasses import asdict

    header = {
        "run_id": run.run_id,
        "started_at": run.started_at.isoformat(),
        "trigger": run.trigger,
        "database": database,
    }
    safe_run = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run.run_id)
    fs, folder = open_root(pending_folder(staging_root, database))
    index = len(fs.glob(f"{folder}/{safe_run}-*.jsonl")) if fs.exists(folder) else 0
    url = f"{pending_folder(staging_root, database)}/{safe_run}-{index:05d}.jsonl"
    # Written aside, then renamed: a run killed while keeping leaves no half file to trip on.
    write_jsonl(f"{url}.part", [{"run": header}, *(asdict(r) for r in rows)])
    fs.mv(open_root(f"{url}.part")[1], open_root(url)[1])
    return url


def pending_batches(staging_root: str, database: str) -> list[str]:
    """URLs of the landings kept for this database, oldest run first."""
    fs, folder = open_root(pending_folder(staging_root, database))
    if not fs.exists(folder):
        return []
    return sorted(fs.unstrip_protocol(p) for p in fs.glob(f"{folder}/*.jsonl"))


def read_pending(url: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """A kept landing's run (run_id, started_at, trigger) and its tagged-article rows; None
    (and the file set aside as .bad) when it cannot be read back."""
    try:
        head, *rows = list(read_jsonl(url))
        return dict(head["run"]), rows
    except (ValueError, KeyError, TypeError) as exc:
        fs, path = open_root(url)
        fs.mv(path, f"{path}.bad")
        logger.warning("kept landing %s is unreadable (%s); set aside as %s.bad", url, exc, url)
        return None


def remove_pending(url: str) -> None:
    """Drop a kept landing once it has landed (another process may have got there first)."""
    fs, path = open_root(url)
    if fs.exists(path):
        fs.rm(path)
