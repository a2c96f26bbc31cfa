"""Throughput and memory benchmark: our pipeline measured next to bare trafilatura on the same pages.

Every figure comes from one run, so ratios compare like with like on a shared, noisy machine:
bare extraction on one core and on all cores (the limit), `run_pipeline` end to end in a fresh
process (page bytes on disk to committed DuckDB rows), and tagging and landing alone.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.procs import (
    PeakSampler,
    load_average,
    mem_total_bytes,
    tree_cpu_seconds,
)
from bench.refresh_growth import DEFAULT_SIZES as REFRESH_SIZES
from bench.refresh_growth import measure_refresh_growth
from ingest.pipeline import LAND_SIZE
from transforms.settings import Settings

REPO = Path(__file__).resolve().parents[1]
# ../shared beside the repository, as on developer machines and CI.
DEFAULT_CORPUS = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "corpus"
    / "pages"
    / "article-extraction-benchmark"
    / "html"
)
# Issue 18's size: the 181 corpus pages replicated to 2,000 distinct documents; `--target-pages
# 10000` for the memory-growth figure over a long run.
DEFAULT_TARGET_PAGES = 2_000
# Documents per extract task in the DAG-path run that measures a task's overhead.
SMALL_EXTRACT_BATCH = 100
# Passes of the all-core limit before and after the pipeline (each in a fresh pool).
LIMIT_ROUNDS = 3
PAGE_SUFFIXES = (".html", ".htm", ".html.gz", ".htm.gz")
MB = 1024 * 1024

TARGETS = {
    "ratio_pipeline_to_all_core_limit": 0.85,
    "peak_rss_mb": 600.0,
    "rss_growth_pct": 10.0,
    "landing_articles_per_s": 20_000.0,
    "tagging_articles_per_s_per_core": 1_000.0,
    "ratio_dag_path_to_all_core_limit": 0.80,
    "refresh_largest_vs_smallest": 2.0,
}


def build_parser() -> argparse.ArgumentParser:
    """Flags of `make bench` (pass them as BENCH_ARGS="...")."""
    parser = argparse.ArgumentParser(prog="bench.run_bench", description=__doc__)
    parser.add_argument(
        "--pages", type=Path, help=f"folder of .html/.html.gz pages ({DEFAULT_CORPUS})"
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--replicate", type=int, help="copies of each page to run the pipeline on")
    size.add_argument(
        "--target-pages",
        type=int,
        help=f"pages for the pipeline run (default {DEFAULT_TARGET_PAGES})",
    )
    parser.add_argument("--quick", action="store_true", help="small run for a smoke test")
    parser.add_argument(
        "--no-scheduler",
        dest="scheduler",
        action="store_false",
        help="skip the run under `make airflow`'s scheduler (starts every Airflow component)",
    )
    parser.add_argument("--out", type=Path, help="also write every figure to this JSON file")
    parser.add_argument("--workers", type=int, default=0, help="processes (0 = one per core)")
    parser.add_argument("--batch-size", type=int, default=100, help="pipeline batch size")
    parser.add_argument(
        "--limit-pages", type=int, help="pages per all-core limit measurement (default 1 pass)"
    )
    parser.add_argument("--land-articles", type=int, help="articles for the landing measurement")
    parser.add_argument("--rss-every", type=int, help="record RSS after every N pages (1000)")
    return parser


def list_pages(folder: Path) -> list[Path]:
    """The pages of a folder the pipeline's folder source would read, in a stable order."""
    return sorted(
        p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(PAGE_SUFFIXES)
    )


def read_page(path: Path) -> str:
    """Page text as the bare limit gets it: bytes un-gzipped and decoded, no charset sniffing."""
    data = path.read_bytes()
    if path.name.lower().endswith(".gz"):
        data = gzip.decompress(data)
    return data.decode("utf-8", errors="replace")


def replicate_pages(pages: Sequence[Path], total: int, dest: Path) -> int:
    """A view of `total` pages under distinct names; the pipeline keys on location, not bytes.

    Hard links where the file system allows, else copies. Not symlinks: extraction resolves
    them, so every copy would collapse into the article id of the original.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for i in range(total):
        src = pages[i % len(pages)]
        target = dest / f"r{i // len(pages):04d}-{src.name}"
        try:
            os.link(src, target)
        except OSError:
            shutil.copyfile(src, target)
    return total


# --- the limit: bare trafilatura -------------------------------------------------------------

_PAGES: list[str] = []


def _load_pages(paths: Sequence[Path]) -> None:
    """Pool initializer: every worker holds the decoded pages, so tasks carry only an index.

    trafilatura's caches are emptied first: a worker forked after the one-core loop would
    otherwise inherit them warm for every page and beat any real corpus, which never repeats.
    """
    from trafilatura.meta import reset_caches

    reset_caches()
    _PAGES[:] = [read_page(p) for p in paths]


def _bare_extract(index: int) -> int:
    """One bare extraction, as the trafilatura documentation shows it."""
    import trafilatura

    result = trafilatura.extract(_PAGES[index % len(_PAGES)], with_metadata=True)
    return len(result or "")


def measure_limit_one_core(paths: Sequence[Path], pages: int) -> dict[str, float]:
    """Bare extraction in a tight loop in this process."""
    _load_pages(paths)
    for i in range(min(3, len(_PAGES))):  # warm-up: lazy imports and compiled patterns
        _bare_extract(i)
    cpu0, start = time.process_time(), time.perf_counter()
    for i in range(pages):
        _bare_extract(i)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    _PAGES.clear()
    return _rate(pages, wall, cpu, cores=1)


def measure_limit_all_cores(
    paths: Sequence[Path], pages: int, workers: int, rounds: int = LIMIT_ROUNDS
) -> dict[str, float]:
    """Bare extraction over a process pool with one worker per core, loading excluded.

    `rounds` fresh pools, each taking every page once with cold caches, summed: one pass over
    181 pages lasts ~5 s, short enough for a neighbour's burst on this shared machine to move
    it by 30%.
    """
    wall = cpu = 0.0
    for _ in range(rounds):
        with ProcessPoolExecutor(workers, initializer=_load_pages, initargs=(list(paths),)) as pool:
            list(pool.map(_bare_extract, range(workers * 2)))  # warm-up in every worker
            cpu0, start = tree_cpu_seconds(os.getpid()), time.perf_counter()
            list(pool.map(_bare_extract, range(pages), chunksize=4))
            wall += time.perf_counter() - start
            cpu += tree_cpu_seconds(os.getpid()) - cpu0
    return {**_rate(pages * rounds, wall, cpu, cores=workers), "rounds": rounds}


def _rate(pages: int, wall: float, cpu: float, cores: int) -> dict[str, float]:
    return {
        "pages": pages,
        "seconds": round(wall, 3),
        "pages_per_s": round(pages / wall, 2),
        "cpu_seconds": round(cpu, 2),
        "cpu_utilisation": round(cpu / (wall * cores), 3),
        "pages_per_cpu_s": round(pages / cpu, 2) if cpu else 0.0,
    }


# --- our pipeline, end to end ----------------------------------------------------------------


def measure_pipeline(
    folder: Path, db: Path, pages: int, batch_size: int, workers: int, rss_every: int
) -> dict[str, Any]:
    """`tradewire run`'s work (run_pipeline, then its refresh) in a fresh process: wall time, CPU
    and RSS of its whole process tree, the refresh included."""
    cmd = [
        sys.executable,
        "-m",
        "bench.pipeline_run",
        str(folder),
        str(db),
        str(batch_size),
        str(workers),
    ]
    rss_by_pages: list[dict[str, Any]] = []
    summary: dict[str, int] = {}
    refresh_s = 0.0
    next_mark = rss_every
    before = os.times()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[1])
    assert proc.stdout is not None
    with PeakSampler(proc.pid) as sampler:
        for line in proc.stdout:
            kind, _, rest = line.partition(" ")
            if kind == "progress":
                done = int(rest.split()[0])
                if done >= next_mark:
                    each = sampler.sample_each()
                    parent = each.pop(proc.pid, 0)
                    rss_by_pages.append(
                        {
                            "pages": done,
                            "rss_mb": round((parent + sum(each.values())) / MB, 1),
                            "parent_mb": round(parent / MB, 1),
                            "workers_mb": [round(v / MB, 1) for v in sorted(each.values())],
                        }
                    )
                    next_mark = (done // rss_every + 1) * rss_every
            elif kind == "summary":
                summary = json.loads(rest)
            elif kind == "refresh":
                refresh_s = float(rest)
        code = proc.wait()
    wall = time.perf_counter() - start
    after = os.times()
    if code != 0:
        raise RuntimeError(f"pipeline run failed with exit code {code}: {shlex.join(cmd)}")
    # The child and the pool workers it waited for are all accounted to us once it exits.
    cpu = (after.children_user + after.children_system) - (
        before.children_user + before.children_system
    )
    result: dict[str, Any] = _rate(pages, wall, cpu, cores=workers)
    result.update(
        summary=summary,
        refresh_s=round(refresh_s, 3),
        rows=count_rows(db),
        peak_rss_mb=round(sampler.peak / MB, 1),
        peak_pss_mb=round(sampler.peak_pss / MB, 1),
        rss_by_pages=rss_by_pages,
        rss_growth_pct=rss_growth(rss_by_pages, rss_every),
    )
    return result


def airflow_env(tmp: Path, folder: Path, db: Path, workers: int) -> dict[str, str]:
    """Environment of an Airflow run of our DAGs over `folder`, in a throw-away Airflow home."""
    registry = tmp / "sources.toml"
    registry.write_text(
        f'[[source]]\nname = "bench"\nkind = "folder"\npath = "{folder}"\n', encoding="utf-8"
    )
    return {
        **os.environ,
        "AIRFLOW_HOME": str(REPO),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp}/airflow.db",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(tmp / "logs"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "TRADEWIRE_DB": str(db),
        "TRADEWIRE_SOURCES_FILE": str(registry),
        "TRADEWIRE_SEEDS_DIR": str(folder),
        "TRADEWIRE_STAGING_ROOT": str(tmp / "staging"),
        "TRADEWIRE_WORKERS": str(workers),
    }


def prepare_airflow(env: dict[str, str]) -> None:
    """A fresh metadata database and the writer pool, as `make setup` makes them (untimed)."""
    airflow = str(Path(sys.executable).parent / "airflow")
    for setup in (["db", "migrate"], ["pools", "import", str(REPO / "dags" / "pools.json")]):
        subprocess.run([airflow, *setup], env=env, check=True, capture_output=True)


def measure_dag_path(
    tmp: Path, folder: Path, pages: int, workers: int, extract_batch: int | None = None
) -> dict[str, Any]:
    """`airflow dags test trade_news_ingest` (the path `make run` takes) over the same pages.

    The Airflow metadata database is set up first and not timed; the run itself is timed from
    the command's start, so Airflow's own start-up and per-task costs count, as they do for users.
    """
    tmp.mkdir(parents=True, exist_ok=True)
    db = tmp / "dag.duckdb"
    env = airflow_env(tmp, folder, db, workers)
    if extract_batch:
        env["TRADEWIRE_EXTRACT_BATCH_SIZE"] = str(extract_batch)
    prepare_airflow(env)
    airflow = str(Path(sys.executable).parent / "airflow")
    cmd = [airflow, "dags", "test", "trade_news_ingest"]
    before = os.times()
    start = time.perf_counter()
    log = tmp / "dag-test.log"
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
        with PeakSampler(proc.pid) as sampler:
            code = proc.wait()
    wall = time.perf_counter() - start
    after = os.times()
    if code != 0:
        tail = log.read_text(errors="replace").splitlines()[-30:]
        raise RuntimeError(f"dags test failed ({code}):\n" + "\n".join(tail))
    cpu = (after.children_user + after.children_system) - (
        before.children_user + before.children_system
    )
    result: dict[str, Any] = _rate(pages, wall, cpu, cores=workers)
    batch = extract_batch or Settings().extract_batch_size
    result.update(
        rows=count_rows(db),
        peak_rss_mb=round(sampler.peak / MB, 1),
        extract_batch_size=batch,
        extract_tasks=-(-pages // batch),
    )
    return result


def measure_scheduler_path(tmp: Path, folder: Path, pages: int, workers: int) -> dict[str, Any]:
    """The scheduled run of `make airflow`'s components over the same pages (see scheduled_run)."""
    from bench.scheduled_run import measure_scheduled_run

    tmp.mkdir(parents=True, exist_ok=True)
    db = tmp / "scheduled.duckdb"
    env = airflow_env(tmp, folder, db, workers)
    prepare_airflow(env)
    result = measure_scheduled_run(env, tmp / "airflow.db", pages)
    result["rows"] = count_rows(db)
    return result


def task_overhead(small: dict[str, Any], big: dict[str, Any]) -> float | None:
    """Seconds each extra mapped extract task costs: two runs over the same pages that differ
    only in batch size, (T(many tasks) - T(few)) / (tasks(many) - tasks(few))."""
    extra = small["extract_tasks"] - big["extract_tasks"]
    if extra <= 0:
        return None
    return round((small["seconds"] - big["seconds"]) / extra, 3)


def rss_growth(rss_by_pages: Sequence[dict[str, Any]], every: int) -> float | None:
    """RSS after the last mark against RSS after the second (page 2,000 at the default step)."""
    if len(rss_by_pages) < 3:
        return None
    base = next((r for r in rss_by_pages if r["pages"] >= 2 * every), rss_by_pages[1])
    last = rss_by_pages[-1]
    return round(100.0 * (last["rss_mb"] - base["rss_mb"]) / base["rss_mb"], 1)


def count_rows(db: Path) -> dict[str, int]:
    """What the run committed, read back from the file."""
    from transforms.database import connect

    with connect(db, read_only=True) as con:
        row = con.execute(
            "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM article_topics),"
            " (SELECT count(*) FROM article_entities), (SELECT count(*) FROM ingest_errors)"
        ).fetchone()
    assert row is not None
    return dict(zip(("articles", "topics", "entities", "errors"), map(int, row), strict=True))


# --- the parts alone -------------------------------------------------------------------------


def sample_articles(folder: Path, workers: int) -> list[Any]:
    """Extracted and tagged articles of the corpus, the input of the parts measured alone."""
    from ingest.folder import scan_folder
    from ingest.tagstream import tag_stream

    return [t for t in tag_stream(scan_folder(folder), workers) if t.article.error is None]


def measure_tagging(tagged: Sequence[Any], min_articles: int) -> dict[str, float]:
    """Single-core tagging rate over the corpus's extracted articles."""
    from transforms.tagging import load_tagger

    tagger = load_tagger()
    articles = [t.article for t in tagged]
    for a in articles[:5]:
        tagger.tag(a.title, a.text)
    rounds = max(1, -(-min_articles // len(articles)))
    cpu0, start = time.process_time(), time.perf_counter()
    for _ in range(rounds):
        for a in articles:
            tagger.tag(a.title, a.text)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    n = rounds * len(articles)
    return {
        "articles": n,
        "mean_text_chars": round(sum(len(a.text) for a in articles) / len(articles)),
        "seconds": round(wall, 3),
        "articles_per_s_per_core": round(n / cpu, 1),
        "articles_per_s_wall": round(n / wall, 1),
    }


def measure_landing(
    tagged: Sequence[Any], db: Path, total: int, batch_size: int, *, distinct: bool
) -> dict[str, Any]:
    """`land_batches` alone into a fresh file: articles of the corpus's size under new ids.

    distinct=True gives every copy its own random MinHash signature, as distinct articles have;
    distinct=False keeps the copies' signatures, so each is a near-duplicate of ~total/181
    others and landing pays for clustering them (what the replicated pipeline run pays).
    """
    from transforms.load import land_batches

    rng = random.Random(6)
    copies = []
    for i in range(total):
        article = replace(tagged[i % len(tagged)].article, article_id=f"bench-{i:07d}")
        signature = getattr(article, "minhash", None)
        if distinct and signature:
            article = replace(article, minhash=rng.randbytes(len(signature) // 2).hex())
        copies.append(replace(tagged[i % len(tagged)], article=article))
    batches = [copies[i : i + batch_size] for i in range(0, total, batch_size)]
    start = time.perf_counter()
    counts = land_batches(db, batches, "bench-landing")
    wall = time.perf_counter() - start
    return {
        "articles": total,
        "batch_size": batch_size,
        "distinct_signatures": distinct,
        "seconds": round(wall, 3),
        "articles_per_s": round(total / wall, 1),
        "new": counts.new,
        "db_mb": round(db.stat().st_size / MB, 1),
    }


def measure_per_page(paths: Sequence[Path], rounds: int) -> dict[str, float]:
    """CPU per page of bare extract and of our worker task, alternating page by page.

    Both run in this one process, so a change in machine speed hits both alike; page i goes to
    bare extract while page i + n/2 goes to ours, so neither finds the other's page in the
    caches, which both reset every CACHE_RESET_EVERY pages as the pipeline does.
    """
    import trafilatura
    from trafilatura.meta import reset_caches

    from ingest.folder import scan_folder
    from ingest.workers import CACHE_RESET_EVERY, process_chunk, warm_worker

    warm_worker()
    items = {item.location: item for item in scan_folder(paths[0].parent)}
    ordered = [items[str(p.resolve())] for p in paths]
    n = len(paths)
    bare = ours = 0.0
    for _ in range(rounds):
        reset_caches()
        for i in range(n):
            start = time.process_time()
            trafilatura.extract(read_page(paths[i]), with_metadata=True)
            middle = time.process_time()
            process_chunk([ordered[(i + n // 2) % n]])
            bare += middle - start
            ours += time.process_time() - middle
            if i % CACHE_RESET_EVERY == CACHE_RESET_EVERY - 1:
                reset_caches()
    pages = n * rounds
    return {
        "pages": pages,
        "bare_ms": round(bare / pages * 1000, 2),
        "ours_ms": round(ours / pages * 1000, 2),
        "ratio": round(bare / ours, 3),
    }


def measure_landing_floor(
    tagged: Sequence[Any], db: Path, total: int, batch_size: int
) -> dict[str, Any]:
    """What DuckDB alone does with the same bytes: article ids and texts into a bare table.

    Same articles, transaction size and connection per transaction as `measure_landing`, but
    no other column, table, key or clustering: the ceiling any landing of these articles can
    reach on this machine, so the landing figure is read against it.
    """
    import duckdb
    import pyarrow as pa

    texts = [t.article.text for t in tagged]
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE floor (article_id VARCHAR, text VARCHAR)")
    start = time.perf_counter()
    for first in range(0, total, batch_size):
        n = min(batch_size, total - first)
        batch = pa.table(  # noqa: F841 - read by DuckDB by name
            {
                "article_id": [f"floor-{i:07d}" for i in range(first, first + n)],
                "text": [texts[i % len(texts)] for i in range(first, first + n)],
            }
        )
        with duckdb.connect(str(db)) as con:
            con.execute("INSERT INTO floor SELECT * FROM batch")
    wall = time.perf_counter() - start
    return {
        "articles": total,
        "batch_size": batch_size,
        "seconds": round(wall, 3),
        "articles_per_s": round(total / wall, 1),
        "db_mb": round(db.stat().st_size / MB, 1),
    }


# --- the run ---------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """Cores, memory and load, so a figure can be read against the machine it came from."""
    return {
        "cores": os.cpu_count(),
        "mem_total_gb": round(mem_total_bytes() / 1024**3, 1),
        "python": platform.python_version(),
        "load_avg": load_average(),
    }


def check_targets(results: dict[str, Any]) -> dict[str, bool | None]:
    """Which of issue 6's targets this run meets (None when the run could not say)."""
    pipe = results["pipeline"]
    growth = pipe["rss_growth_pct"]
    return {
        "ratio_pipeline_to_all_core_limit >= 0.85": results["ratio_pipeline_to_all_core_limit"]
        >= TARGETS["ratio_pipeline_to_all_core_limit"],
        "peak_rss_mb <= 600": pipe["peak_rss_mb"] <= TARGETS["peak_rss_mb"],
        "rss_growth_pct <= 10": None if growth is None else growth <= TARGETS["rss_growth_pct"],
        "landing >= 20,000 articles/s": results["landing"]["articles_per_s"]
        >= TARGETS["landing_articles_per_s"],
        "tagging >= 1,000 articles/s/core": results["tagging"]["articles_per_s_per_core"]
        >= TARGETS["tagging_articles_per_s_per_core"],
        "DAG path (dags test) >= 0.80 of the limit": results["ratio_dag_path_to_all_core_limit"]
        >= TARGETS["ratio_dag_path_to_all_core_limit"],
        "DAG path under the scheduler >= 0.80 of the limit": None
        if "ratio_scheduler_path_to_all_core_limit" not in results
        else results["ratio_scheduler_path_to_all_core_limit"]
        >= TARGETS["ratio_dag_path_to_all_core_limit"],
        "DAG path peak_rss_mb <= 600": results["dag_path"]["peak_rss_mb"] <= TARGETS["peak_rss_mb"],
        "refresh after 100 into the largest <= 2x into the smallest": results[
            "refresh_largest_vs_smallest"
        ]
        <= TARGETS["refresh_largest_vs_smallest"],
    }


def run(args: argparse.Namespace) -> dict[str, Any] | None:
    """Measure everything once, side by side; None when there is nothing to measure."""
    folder = args.pages or DEFAULT_CORPUS
    if not folder.is_dir():
        return None
    pages = list_pages(folder)
    if not pages:
        raise SystemExit(f"no .html or .html.gz pages in {folder}")
    workers = args.workers or os.cpu_count() or 1
    if args.replicate:
        total = args.replicate * len(pages)
    else:
        total = args.target_pages or (len(pages) * 2 if args.quick else DEFAULT_TARGET_PAGES)
    # One pass: a second pass over the same pages hits trafilatura's caches (~25% faster).
    limit_pages = args.limit_pages or len(pages)
    land_total = args.land_articles or (200 if args.quick else 20_000)
    rss_every = args.rss_every or (max(1, total // 5) if args.quick or total < 5000 else 1000)
    progress = Reporter()

    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": shlex.join(["python", "-m", "bench.run_bench", *args.argv]),
        "machine": machine(),
        "corpus": {
            "folder": str(folder),
            "base_pages": len(pages),
            "mean_page_kb": round(sum(len(read_page(p)) for p in pages) / len(pages) / 1024, 1),
            "pipeline_pages": total,
        },
        "workers": workers,
        "batch_size": args.batch_size,
    }
    with tempfile.TemporaryDirectory(prefix="tradewire-bench-") as tmp_name:
        tmp = Path(tmp_name)
        progress.say(f"limit: bare trafilatura on one core, {len(pages)} pages")
        results["limit_one_core"] = measure_limit_one_core(pages, len(pages))
        rounds = 1 if args.quick else LIMIT_ROUNDS
        progress.say(f"limit: bare trafilatura on {workers} cores, {limit_pages} pages x {rounds}")
        before = measure_limit_all_cores(pages, limit_pages, workers, rounds)

        progress.say(f"pipeline: {total} pages, batch {args.batch_size}, {workers} workers")
        view = tmp / "pages"
        replicate_pages(pages, total, view)
        results["pipeline"] = measure_pipeline(
            view, tmp / "pipeline.duckdb", total, args.batch_size, workers, rss_every
        )
        progress.say(f"DAG path: airflow dags test over the same {total} pages")
        results["dag_path"] = measure_dag_path(tmp / "dag", view, total, workers)
        if not args.quick:
            progress.say(f"DAG path again, {SMALL_EXTRACT_BATCH} documents per extract task")
            small = measure_dag_path(tmp / "dag-small", view, total, workers, SMALL_EXTRACT_BATCH)
            results["dag_path_small_batches"] = small
            results["seconds_per_mapped_task"] = task_overhead(small, results["dag_path"])
        if args.scheduler and not args.quick:
            progress.say(f"scheduler path: the scheduled run of `make airflow`, {total} pages")
            results["scheduler_path"] = measure_scheduler_path(tmp / "sched", view, total, workers)
        shutil.rmtree(view)

        progress.say("limit again, after the pipeline, to average out changes in machine load")
        after = measure_limit_all_cores(pages, limit_pages, workers, rounds)
        results["limit_all_cores"] = {
            "pages_per_s": round((before["pages_per_s"] + after["pages_per_s"]) / 2, 2),
            "before": before,
            "after": after,
        }

        progress.say("per page: bare extract and our worker task, alternating in one process")
        results["per_page"] = measure_per_page(pages, 1 if args.quick else 2)
        progress.say("parts alone: tagging and landing")
        tagged = sample_articles(folder, workers)
        results["tagging"] = measure_tagging(tagged, 50 if args.quick else 2000)
        # In the articles per transaction `tradewire run` lands.
        results["landing"] = measure_landing(
            tagged, tmp / "landing.duckdb", land_total, LAND_SIZE, distinct=True
        )
        results["landing_duplicates"] = measure_landing(
            tagged, tmp / "landing-dup.duckdb", land_total, LAND_SIZE, distinct=False
        )
        results["landing_floor"] = measure_landing_floor(
            tagged, tmp / "landing-floor.duckdb", land_total, LAND_SIZE
        )
        sizes = (50, 200) if args.quick else REFRESH_SIZES
        progress.say(f"refresh alone after a load of 100, databases of {sizes} articles")
        results["refresh_growth"] = measure_refresh_growth(tagged, tmp, sizes)

    limit = results["limit_all_cores"]
    pipe = results["pipeline"]
    results["ratio_pipeline_to_all_core_limit"] = round(
        pipe["pages_per_s"] / limit["pages_per_s"], 3
    )
    results["ratio_dag_path_to_all_core_limit"] = round(
        results["dag_path"]["pages_per_s"] / limit["pages_per_s"], 3
    )
    if "scheduler_path" in results:
        results["ratio_scheduler_path_to_all_core_limit"] = round(
            results["scheduler_path"]["pages_per_s"] / limit["pages_per_s"], 3
        )
    growth = results["refresh_growth"]
    results["refresh_largest_vs_smallest"] = growth[-1]["new_vs_smallest"]
    cpu_limit = (limit["before"]["pages_per_cpu_s"] + limit["after"]["pages_per_cpu_s"]) / 2
    results["ratio_pipeline_to_limit_per_cpu_s"] = round(pipe["pages_per_cpu_s"] / cpu_limit, 3)
    results["machine"]["load_avg_after"] = load_average()
    results["targets"] = check_targets(results)
    return results


class Reporter:
    """Stage announcements on stderr, so stdout carries only the results."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def say(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.start:7.1f}s] {message}", file=sys.stderr, flush=True)


def format_report(r: dict[str, Any]) -> str:
    """The figures as a Markdown table, ready for BENCHMARKS.md."""
    one, lim, pipe = r["limit_one_core"], r["limit_all_cores"], r["pipeline"]
    tag, land, dup, m = r["tagging"], r["landing"], r["landing_duplicates"], r["machine"]
    floor, pp = r["landing_floor"], r["per_page"]
    w = r["workers"]
    growth = pipe["rss_growth_pct"]
    rows = [
        (
            "bare trafilatura.extract, 1 core",
            f"{one['pages_per_s']:.1f} pages/s",
            f"{one['cpu_utilisation']:.0%} of 1 core",
        ),
        (
            f"bare trafilatura.extract, {w} cores (limit)",
            f"{lim['pages_per_s']:.1f} pages/s",
            f"before {lim['before']['pages_per_s']:.1f}, after {lim['after']['pages_per_s']:.1f}; {lim['before']['cpu_utilisation']:.0%} CPU",
        ),
        (
            f"`tradewire run` incl. its refresh ({pipe['pages']:,} pages)",
            f"{pipe['pages_per_s']:.1f} pages/s",
            f"{pipe['seconds']:.0f} s, of which refresh {pipe['refresh_s']:.1f} s; {pipe['cpu_utilisation']:.0%} of {w} cores; {pipe['rows']['articles']:,} articles, {pipe['rows']['errors']} errors",
        ),
        (
            "ratio pipeline / limit",
            f"{r['ratio_pipeline_to_all_core_limit']:.3f}",
            f"per CPU-second: {r['ratio_pipeline_to_limit_per_cpu_s']:.3f}",
        ),
        (
            f"DAG path, `airflow dags test` ({r['dag_path']['pages']:,} pages)",
            f"{r['dag_path']['pages_per_s']:.1f} pages/s",
            f"ratio to the limit {r['ratio_dag_path_to_all_core_limit']:.3f} (CLI path "
            f"{r['ratio_pipeline_to_all_core_limit']:.3f}); {r['dag_path']['seconds']:.0f} s incl. "
            f"Airflow start-up; {r['dag_path']['rows']['articles']:,} articles; peak RSS "
            f"{r['dag_path']['peak_rss_mb']:.0f} MB",
        ),
        *(
            [
                (
                    f"DAG path, {r['dag_path_small_batches']['extract_batch_size']} documents per extract task",
                    f"{r['dag_path_small_batches']['pages_per_s']:.1f} pages/s",
                    f"{r['dag_path_small_batches']['extract_tasks']} extract tasks against "
                    f"{r['dag_path']['extract_tasks']}: {r['seconds_per_mapped_task']} s of "
                    "overhead per mapped task",
                )
            ]
            if "dag_path_small_batches" in r
            else []
        ),
        *(
            [
                (
                    f"DAG path under the scheduler of `make airflow` ({r['scheduler_path']['pages']:,} pages)",
                    f"{r['scheduler_path']['pages_per_s']:.1f} pages/s",
                    f"ratio to the limit {r['ratio_scheduler_path_to_all_core_limit']:.3f}; "
                    f"the {r['scheduler_path']['run_type']} run's start to end "
                    f"{r['scheduler_path']['seconds']:.0f} s; "
                    f"{r['scheduler_path']['rows']['articles']:,} articles",
                )
            ]
            if "scheduler_path" in r
            else []
        ),
        *(
            (
                f"refresh after a load of 100, database of {g['articles']:,}",
                f"{g['refresh_after_100_new_s']:.2f} s",
                f"{g['new_vs_smallest']:.2f}x the smallest; after 100 changed "
                f"{g['refresh_after_100_changed_s']:.2f} s; full refresh {g['full_refresh_s']:.1f} s; "
                f"{g['db_mb']:.0f} MB",
            )
            for g in r["refresh_growth"]
        ),
        (
            "per page, alternating in one process",
            f"{pp['ratio']:.3f}",
            f"bare extract {pp['bare_ms']:.1f} ms, our worker task {pp['ours_ms']:.1f} ms "
            f"(extract, language, tag, signature; {pp['pages']} pages)",
        ),
        (
            "peak RSS, pipeline process tree",
            f"{pipe['peak_rss_mb']:.0f} MB",
            f"parent + workers, summed; PSS {pipe['peak_pss_mb']:.0f} MB",
        ),
        (
            "RSS growth, last mark vs page 2,000",
            "n/a" if growth is None else f"{growth:+.1f} %",
            ", ".join(f"{x['pages']}: {x['rss_mb']:.0f}" for x in pipe["rss_by_pages"]),
        ),
        (
            "tagging alone, 1 core",
            f"{tag['articles_per_s_per_core']:,.0f} articles/s",
            f"mean text {tag['mean_text_chars']:,} chars",
        ),
        (
            "DuckDB landing alone",
            f"{land['articles_per_s']:,.0f} articles/s",
            f"{land['articles']:,} distinct articles, {land['batch_size']:,} per transaction; "
            f"as near-duplicate copies {dup['articles_per_s']:,.0f}/s",
        ),
        (
            "DuckDB alone, ids and texts only (floor)",
            f"{floor['articles_per_s']:,.0f} articles/s",
            f"same articles and transactions into a 2-column table without keys; "
            f"landing reaches {land['articles_per_s'] / floor['articles_per_s']:.0%} of it",
        ),
    ]
    lines = [
        f"date {r['date']}; {m['cores']} cores, {m['mem_total_gb']} GB; load before {m['load_avg'][0]:.2f}, after {m['load_avg_after'][0]:.2f}",
        f"command: {r['command']}",
        "",
        "| measurement | figure | notes |",
        "|---|---|---|",
        *(f"| {a} | {b} | {c} |" for a, b, c in rows),
        "",
        "targets: "
        + ", ".join(
            f"{k}: {'ok' if v else 'MISSED' if v is False else 'n/a'}"
            for k, v in r["targets"].items()
        ),
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; exit 0 with a message when there is no corpus to run it on."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    if args.pages is not None and not args.pages.is_dir():
        print(f"error: --pages {args.pages} is not a folder", file=sys.stderr)
        return 2
    results = run(args)
    if results is None:
        print(f"skipped: no --pages given and no corpus at {DEFAULT_CORPUS}")
        return 0
    print(format_report(results))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
