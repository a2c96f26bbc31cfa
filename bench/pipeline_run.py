"""`tradewire run` as the benchmark drives it: run_pipeline in a fresh process, progress on stdout,
then the refresh `tradewire run` ends with (derived tables, search index, snapshot), timed apart.

Usage: python -m bench.pipeline_run SOURCE DB BATCH_SIZE WORKERS
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path


def print_progress(done: int, total: int) -> None:
    """One line per landed batch, read by the benchmark to sample memory at page counts."""
    print(f"progress {done} {total}", flush=True)


def main(argv: list[str]) -> int:
    """Run one pipeline pass and print its summary as the last line."""
    # Imported here, not at the top: spawned workers import this module again as their main
    # module, and should not load the parent's duckdb and pyarrow for nothing.
    from ingest.pipeline import run_pipeline
    from transforms.derived import refresh_after_load
    from transforms.settings import Settings

    source, db, batch_size, workers = argv
    summary = run_pipeline(
        [source],
        Path(db),
        batch_size=int(batch_size),
        workers=int(workers),
        progress=print_progress,
    )
    print("summary " + json.dumps({"seen": summary.seen, **asdict(summary.counts)}), flush=True)
    start = time.perf_counter()
    refresh_after_load(Path(db), snapshot=Settings().snapshot)
    print(f"refresh {time.perf_counter() - start:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
