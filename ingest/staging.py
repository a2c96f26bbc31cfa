"""Intermediate batches as JSON Lines under the staging root, through fsspec.

A local folder by default; the same code writes to s3:// or gs:// when workers run on
several machines, which is why nothing here uses plain open() on a local path.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import fsspec


def batch_url(staging_root: str, run_id: str, stage: str, index: int) -> str:
    """Where one stage's batch lives; run ids are sanitised so they never escape the root."""
    safe_run = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run_id)
    return f"{staging_root.rstrip('/')}/{safe_run}/{stage}-{index:05d}.jsonl"


def write_jsonl(url: str, rows: Iterable[dict[str, Any]]) -> str:
    """Write rows atomically enough for retries: a rerun of the task overwrites the same file."""
    fs, path = fsspec.core.url_to_fs(url)
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    with fs.open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False))
            handle.write("\n")
    return url


def read_jsonl(url: str) -> Iterator[dict[str, Any]]:
    """Stream rows back; one batch at a time keeps memory bounded."""
    with fsspec.open(url, "r", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def remove_run(staging_root: str, run_id: str) -> None:
    """Drop a finished run's staging files so the root does not grow without bound."""
    url = batch_url(staging_root, run_id, "x", 0).rsplit("/", 1)[0]
    fs, path = fsspec.core.url_to_fs(url)
    if fs.exists(path):
        fs.rm(path, recursive=True)


def run_files(staging_root: str, run_id: str, stage: str) -> list[str]:
    """URLs of a run's files for one stage, whichever task wrote them (e.g. one per host group)."""
    folder = batch_url(staging_root, run_id, "x", 0).rsplit("/", 1)[0]
    fs, path = fsspec.core.url_to_fs(folder)
    return sorted(fs.unstrip_protocol(p) for p in fs.glob(f"{path}/{stage}-*.jsonl"))
