"""One staged batch extracted in a fresh, lean process: what an Airflow extract task runs.

Why not in the task's own process: its workers would be forked from a process that holds
Airflow (~250 MB each in summed RSS), and spawned ones would import Airflow again as their
main module. A child whose main module is this one spawns workers that import only
`ingest.workers`, as `tradewire run` does, and the task process waits at its idle size.

Usage: python -m ingest.extractjob BATCH_URL WORKERS MAX_BYTES
"""

from __future__ import annotations

import logging
import subprocess
import sys
from dataclasses import asdict

from ingest.localfiles import DEFAULT_MAX_DOCUMENT_BYTES
from ingest.pool import worker_count
from ingest.records import SourceItem
from ingest.staging import read_jsonl, write_jsonl
from ingest.tagstream import tag_stream

logger = logging.getLogger(__name__)


class ExtractJobError(RuntimeError):
    """The extraction process failed; its own traceback is in the task's log above this."""


def run_extract_job(batch_url: str, workers: int, max_bytes: int) -> str:
    """Extract one staged batch in a child process; returns the tagged batch's URL."""
    cmd = [sys.executable, "-m", "ingest.extractjob", batch_url, str(workers), str(max_bytes)]
    # stderr is inherited, so the child's log lines and traceback land in the task's log.
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise ExtractJobError(f"extraction of {batch_url} failed with exit code {proc.returncode}")
    return lines[-1]


def extract_staged(url: str, workers: int, max_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES) -> str:
    """Extract and tag one staged batch on `workers` processes; returns the tagged batch's URL.

    Items are read lazily: a batch of thousands of documents holds only the pool's few in flight.
    """
    items = (SourceItem(**row) for row in read_jsonl(url))
    tagged = tag_stream(items, worker_count(workers), max_bytes=max_bytes)
    out = url.replace("/discovered-", "/tagged-")
    return write_jsonl(out, (asdict(t) for t in tagged))


def main(argv: list[str]) -> int:
    """Extract the batch and print the tagged batch's URL as the last line."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    batch_url, workers, max_bytes = argv
    print(extract_staged(batch_url, int(workers), int(max_bytes)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
