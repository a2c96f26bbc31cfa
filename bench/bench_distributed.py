"""Distributed profile throughput: one ingest DAG run over the same pages under the local profile
(LocalExecutor, SQLite metadata database) and under the distributed one (CeleryExecutor,
PostgreSQL, Redis) with one and with two Celery workers, in one run.

    python -m bench.bench_distributed [--pages DIR] [--target-pages 400] [--out FILE.json]

Each profile is started by the launcher's code with its own metadata database and DuckDB file,
and the DAG is triggered once the DAG processor has parsed it; pages/s is the pages landed over
the run's start to end as the scheduler recorded them (as bench/scheduled_run.py times the
local profile: Airflow's per-task costs count, the components' own start-up does not). Only
the triggered run runs: scheduled and asset-triggered runs are switched off
([scheduler] use_job_schedule), so the transforms DAG does not share the measured minutes.
Each extract task uses every core (TRADEWIRE_WORKERS=0) and the distributed profile runs one
per worker at a time (TRADEWIRE_EXTRACT_CONCURRENCY); all workers run on this machine, so a
second one here splits the same cores.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.run_bench import DEFAULT_CORPUS, list_pages, replicate_pages
from tests.integration.celerystack import (
    fresh_database,
    parse_time,
    redis_prefix,
    run_stack,
    stack_settings,
    why_not_runnable,
)
from transforms.settings import Settings

REPO = Path(__file__).resolve().parents[1]
FIXTURE_PAGES = REPO / "tests" / "fixtures" / "analyst"
INGEST = "trade_news_ingest"
DEFAULT_TARGET_PAGES = 800
# Four extract tasks over the default pages, so two workers have something to share.
DEFAULT_BATCH = 200
DEADLINE = 1800.0


def tradewire_env(tmp: Path, folder: Path) -> dict[str, str]:
    """One profile's files: a registry whose one source is the page folder, a fresh DuckDB file;
    the inbox watcher looks at an empty folder of its own, so dropping pages starts nothing."""
    registry = tmp / "sources.toml"
    registry.parent.mkdir(parents=True, exist_ok=True)
    registry.write_text(
        f'[[source]]\nname = "bench"\nkind = "folder"\npath = "{folder}"\n', encoding="utf-8"
    )
    (tmp / "inbox").mkdir(exist_ok=True)
    return {
        "TRADEWIRE_DB": str(tmp / "tradewire.duckdb"),
        "TRADEWIRE_SOURCES_FILE": str(registry),
        "TRADEWIRE_SEEDS_DIR": str(tmp / "inbox"),
        "TRADEWIRE_STAGING_ROOT": str(tmp / "staging"),
        "TRADEWIRE_STATE_DIR": str(tmp / "state"),
        "TRADEWIRE_RAW_DIR": str(tmp / "raw"),
        "TRADEWIRE_SNAPSHOT": "false",
    }


def count_articles(db: Path) -> int:
    """Articles the run landed."""
    from transforms.database import connect

    with connect(db, read_only=True) as con:
        row = con.execute("SELECT count(*) FROM articles").fetchone()
    return int(row[0]) if row else 0


def measure_profile(
    label: str,
    tmp: Path,
    folder: Path,
    pages: int,
    batch: int,
    workers: int | None,
    concurrency: int,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """One triggered run of the ingest DAG under one profile (workers None: the local one)."""
    tradewire = {**tradewire_env(tmp, folder), "TRADEWIRE_EXTRACT_BATCH_SIZE": str(batch)}
    extra = {"AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False"}
    started = time.monotonic()
    with contextlib.ExitStack() as services:
        settings, prefix = None, ""
        if workers is not None:
            url = services.enter_context(fresh_database("tradewire_bench"))
            prefix = services.enter_context(redis_prefix())
            settings = stack_settings(url, workers=workers, concurrency=concurrency)
        with run_stack(tmp / "airflow", tradewire, settings, prefix, extra) as stack:
            deadline = time.monotonic() + DEADLINE
            stack.wait_dag(INGEST, deadline)
            say(f"{label}: up in {time.monotonic() - started:.0f}s; triggering")
            run_id = stack.trigger(INGEST)
            state = stack.wait_run(INGEST, run_id, deadline)
            run = stack.api("GET", f"/dags/{INGEST}/dagRuns/{run_id}")
            tis = stack.task_instances(INGEST, run_id)
            by_worker = {
                name: sum(1 for w in stack.output.workloads(name) if w.task_id == "extract")
                for name in (f"worker{i + 1}" for i in range(workers or 0))
            }
    if state != "success":
        raise RuntimeError(f"{label}: the run ended {state}")
    seconds = (parse_time(run["end_date"]) - parse_time(run["start_date"])).total_seconds()
    queued = (parse_time(run["start_date"]) - parse_time(run["queued_at"])).total_seconds()
    landed = count_articles(Path(tradewire["TRADEWIRE_DB"]))
    extracts = [t for t in tis if t["task_id"] == "extract"]
    return {
        "profile": label,
        "workers": workers,
        "task_slots": concurrency * workers if workers else "parallelism 4 (airflow.cfg)",
        "extracts_at_once": int(stack.env.get("TRADEWIRE_EXTRACT_CONCURRENCY") or 1),
        "pages": pages,
        "landed": landed,
        "extract_tasks": len(extracts),
        "extract_tasks_by_worker": by_worker,
        "run_seconds": round(seconds, 1),
        "queued_seconds": round(queued, 1),
        "pages_per_s": round(landed / seconds, 2) if seconds > 0 else None,
    }


def measure_distributed(
    folder: Path,
    pages: int = DEFAULT_TARGET_PAGES,
    batch: int = DEFAULT_BATCH,
    concurrency: int | None = None,
    say: Callable[[str], None] = lambda message: print(message, file=sys.stderr, flush=True),
) -> dict[str, Any]:
    """The local profile, then the distributed one with one and with two workers, on the same
    `pages` pages (replicated from `folder`); the distributed rows say why when skipped."""
    concurrency = concurrency or Settings().celery_concurrency
    source = list_pages(folder)
    if not source:
        raise SystemExit(f"no .html or .html.gz pages in {folder}")
    rows: list[dict[str, Any]] = []
    why = why_not_runnable()
    with tempfile.TemporaryDirectory(prefix="tradewire-bench-distributed-") as name:
        tmp = Path(name)
        view = tmp / "pages"
        replicate_pages(source, pages, view)
        plans: list[tuple[str, int | None]] = [
            ("local (LocalExecutor)", None),
            ("distributed, 1 worker", 1),
            ("distributed, 2 workers", 2),
        ]
        for label, workers in plans:
            if workers is not None and why is not None:
                rows.append({"profile": label, "skipped": why})
                continue
            say(f"{label}: {pages} pages, batches of {batch}")
            run_dir = tmp / label.split(" ")[0] / str(workers or 0)
            rows.append(
                measure_profile(label, run_dir, view, pages, batch, workers, concurrency, say)
            )
    return {
        "pages_folder": str(folder),
        "pages": pages,
        "batch_size": batch,
        "concurrency_per_worker": concurrency,
        "cores": os.cpu_count(),
        "profiles": rows,
    }


def format_table(result: dict[str, Any]) -> str:
    """The figures as a Markdown table."""
    lines = [
        f"{result['pages']} pages from {result['pages_folder']}, batches of "
        f"{result['batch_size']}, {result['cores']} cores",
        "",
        "| profile | task slots | extracts at once | extract tasks (by worker) | run (queued) "
        "| pages/s |",
        "|---|---|---|---|---|---|",
    ]
    for row in result["profiles"]:
        if "skipped" in row:
            lines.append(f"| {row['profile']} | skipped: {row['skipped']} | | | | |")
            continue
        spread = ", ".join(f"{k} {v}" for k, v in row["extract_tasks_by_worker"].items())
        lines.append(
            f"| {row['profile']} | {row['task_slots']} | {row['extracts_at_once']} "
            f"| {row['extract_tasks']}"
            f"{f' ({spread})' if spread else ''} | {row['run_seconds']} s ({row['queued_seconds']} s)"
            f" | {row['pages_per_s']} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure the three profiles and print the table (and the JSON with --out)."""
    parser = argparse.ArgumentParser(prog="bench.bench_distributed", description=__doc__)
    parser.add_argument("--pages", type=Path, help=f"folder of pages (default {DEFAULT_CORPUS})")
    parser.add_argument("--target-pages", type=int, default=DEFAULT_TARGET_PAGES)
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH)
    parser.add_argument("--concurrency", type=int, help="task slots per worker (default: cores)")
    parser.add_argument("--out", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    folder = args.pages or (DEFAULT_CORPUS if DEFAULT_CORPUS.is_dir() else FIXTURE_PAGES)
    result = measure_distributed(folder, args.target_pages, args.batch_size, args.concurrency)
    result["command"] = " ".join(["python -m bench.bench_distributed", *(argv or sys.argv[1:])])
    print(format_table(result))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
