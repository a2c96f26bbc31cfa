"""Search index cost against database size: refresh after 100 new / 100 changed articles, full
rebuilds (ours and DuckDB fts's), and query latency of the README's example searches.

    .venv/bin/python -m bench.bench_search                      # 1k, 10k, 50k articles
    .venv/bin/python -m bench.bench_search --sizes 1000 10000 --out bench/out/search.json

Articles come from the real corpus pages (../shared/corpus, extracted once by the pipeline)
when present, else from synthetic trade-news text. Each database is filled by SQL: copies of
those articles under distinct ids, every copy with a few words of its own so the vocabulary
grows with the database as a real one would. New and changed articles are written by SQL too
(new ids / new text, ingested_at = now()), which is what the index reads of a landing.

The target: a refresh after 100 articles into 50k costs at most twice one into 1k.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from bench.run_bench import DEFAULT_CORPUS, list_pages, machine
from transforms.database import connect
from transforms.derived import SEARCH_INDEX, is_behind
from transforms.search import has_search_index, load_fts, search_articles
from transforms.searchindex import REWRITE_SHARE, compact_postings, refresh_postings

SIZES = (1_000, 10_000, 50_000)
FTS_SIZES = (1_000, 10_000)
BATCH = 100
REPEATS = 3
QUERY_REPEATS = 5
# The README's and the CLI epilog's example searches: (query, topic, since).
QUERIES: tuple[tuple[str, str | None, str | None], ...] = (
    ("rare earth export curbs", None, None),
    ("soybean purchases", "agriculture", "2026-10-01"),
    ("entity list", None, None),
    ("gallium export", "rare_earths", None),
)
TARGET_RATIO = 2.0
OUT = Path(__file__).resolve().parent / "out" / "search.json"
_WORDS = [
    "tariff",
    "export",
    "import",
    "curbs",
    "licence",
    "gallium",
    "germanium",
    "soybean",
    "farmers",
    "beijing",
    "washington",
    "semiconductor",
    "chips",
    "controls",
    "entity",
    "list",
    "commerce",
    "ministry",
    "sanctions",
    "yuan",
    "currency",
    "port",
    "shipping",
    "rare",
    "earth",
    "magnets",
    "truce",
    "talks",
    "negotiators",
    "steel",
    "aluminium",
    "dumping",
    "subsidies",
    "supply",
    "chain",
    "tungsten",
    "antimony",
    "graphite",
    "lithium",
    "battery",
    "vehicles",
    "solar",
    "panels",
    "duties",
]
# A pseudo-word from a number, letters only (fts's tokenizer splits on digits).
_LETTERS = "translate(CAST({n} AS VARCHAR), '0123456789', 'abcdefghij')"


def synthetic_base(db: Path, count: int = 300) -> None:
    """Trade-news-like articles landed the ordinary way, for machines without the corpus."""
    from transforms.load import land_batches
    from transforms.records import Article, TaggedArticle, TagResult, TopicTag

    rng = random.Random(7)
    batch = []
    for i in range(count):
        words = [rng.choice(_WORDS) for _ in range(rng.randint(150, 900))]
        text = ". ".join(" ".join(words[j : j + 12]) for j in range(0, len(words), 12)) + "."
        article = Article(
            article_id=f"syn{i:05d}",
            source="synthetic",
            location=f"/synthetic/{i}.txt",
            url=None,
            title=" ".join(rng.choice(_WORDS) for _ in range(7)).capitalize(),
            text=text,
            author=None,
            published_at=f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T00:00:00+00:00",
            language="en",
            word_count=len(words),
            content_hash=f"c{i}",
            raw_hash=f"r{i}",
        )
        topics = (TopicTag(rng.choice(("agriculture", "rare_earths", "tariffs")), 0.5, ()),)
        tags = TagResult(True, 0.9, (), topics, (), "synthetic")
        batch.append(TaggedArticle(article, tags))
    land_batches(db, [batch], "bench-synthetic")


def build_base(tmp: Path, corpus: Path | None) -> tuple[Path, str]:
    """A database of template articles: the corpus pages extracted, else synthetic ones."""
    from ingest.pipeline import run_pipeline

    base = tmp / "base.duckdb"
    if corpus is not None and corpus.is_dir() and list_pages(corpus):
        summary = run_pipeline([str(corpus)], base, workers=0)
        if not summary.counts.new:
            raise SystemExit(f"no article extracted from {corpus}: {summary.failed_sources}")
        kind = f"corpus ({corpus}, {summary.counts.new} articles)"
    else:
        synthetic_base(base)
        kind = "synthetic"
    with connect(base, read_only=False) as con:
        con.execute("CHECKPOINT")  # landings may leave rows in the WAL; fill() copies the file
    return base, kind


def fill(base: Path, dest: Path, size: int) -> None:
    """`size` articles: copies of base's under distinct ids, each with a few words of its own."""
    shutil.copyfile(base, dest)
    with connect(dest, read_only=False) as con:
        con.execute(
            "CREATE TEMP TABLE tpl AS SELECT row_number() OVER () - 1 AS k, * FROM articles"
        )
        con.execute(
            "CREATE TEMP TABLE tpl_topics AS SELECT * FROM article_topics "
            "WHERE article_id IN (SELECT article_id FROM tpl)"
        )
        (templates,) = con.execute("SELECT count(*) FROM tpl").fetchone() or (0,)
        con.execute("BEGIN TRANSACTION")
        for table in ("article_topics", "article_entities", "articles"):
            con.execute(f"DELETE FROM {table}")
        con.execute(
            "INSERT INTO articles SELECT * EXCLUDE (k, i, own_word) REPLACE ("
            "printf('%s-%06d', article_id, i) AS article_id, location || '#' || i AS location, "
            f"text || ' zq' || {_LETTERS.format(n='(i * 7919) % 20011')} || ' zr' || "
            f"{_LETTERS.format(n='(i * 104729) % 3001')} || ' ' || own_word AS text, "
            "ingested_at - INTERVAL 1 DAY AS ingested_at) "
            "FROM (SELECT t.*, r.i, "
            f"list_extract(CAST(? AS VARCHAR[]), CAST(r.i % {len(_WORDS)} + 1 AS INTEGER)) "
            "AS own_word FROM range(?) AS r(i) JOIN tpl AS t ON t.k = r.i % ?)",
            [list(_WORDS), size, templates],
        )
        con.execute(
            "INSERT INTO article_topics SELECT tp.* REPLACE (a.article_id AS article_id) "
            "FROM articles AS a JOIN tpl_topics AS tp "
            "ON tp.article_id = regexp_replace(a.article_id, '-[0-9]+$', '')"
        )
        con.execute("COMMIT")


class Clock:
    """Wall and process CPU time (every thread) since start: the machine may be shared, and CPU
    seconds are what contention does not inflate."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def read(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def add_articles(db: Path, tag: str, count: int = BATCH) -> None:
    """`count` new articles, as a landing leaves them (fresh ids, ingested_at now)."""
    with connect(db, read_only=False) as con:
        con.execute(
            "INSERT INTO articles SELECT * REPLACE (article_id || ? AS article_id, "
            "location || ? AS location, text || ' fresh' || "
            f"{_LETTERS.format(n='hash(article_id) % 100000')} AS text, now() AS ingested_at) "
            "FROM (SELECT * FROM articles WHERE article_id NOT LIKE '%-new%') "
            f"USING SAMPLE reservoir({int(count)} ROWS) REPEATABLE (42)",
            [f"-new{tag}", f"#new{tag}"],
        )


def change_articles(db: Path, tag: str, count: int = BATCH) -> None:
    """`count` already indexed articles get new words, as a re-landed changed page does."""
    with connect(db, read_only=False) as con:
        con.execute(
            "UPDATE articles SET text = text || ' revised' || ?, ingested_at = now() "
            "WHERE article_id IN (SELECT article_id FROM articles "
            f"USING SAMPLE reservoir({int(count)} ROWS) REPEATABLE (7))",
            ["abcdefghij"[int(tag) % 10] * 3],
        )


def retag_articles(db: Path, count: int = BATCH) -> None:
    """A retag: retagged_at moves, the words do not."""
    with connect(db, read_only=False) as con:
        con.execute(
            "UPDATE articles SET retagged_at = now() WHERE article_id IN "
            f"(SELECT article_id FROM articles USING SAMPLE reservoir({int(count)} ROWS) "
            "REPEATABLE (3))",
        )


def refresh(db: Path, *, full: bool = False) -> dict[str, Any]:
    """What refresh_search does, timed by part: open, update transaction, close (checkpoint)."""
    clock = Clock()
    with connect(db, read_only=False) as con:
        opened = clock.read()
        counts = None
        if full or not has_search_index(con) or is_behind(con, SEARCH_INDEX):
            load_fts(con)
            counts = refresh_postings(con, full=full)
        updated = clock.read()
    wall, cpu = clock.read()
    return {
        "seconds": round(wall, 4),
        "cpu_seconds": round(cpu, 4),
        "open_s": round(opened[0], 4),
        "update_s": round(updated[0] - opened[0], 4),
        "update_cpu_s": round(updated[1] - opened[1], 4),
        "close_s": round(wall - updated[0], 4),
        "indexed": counts.indexed if counts else 0,
        "rewritten": counts.rewritten if counts else False,
    }


def median_refresh(db: Path, prepare: Callable[[str], None]) -> dict[str, Any]:
    """The run of median CPU time over REPEATS of prepare() then an incremental refresh."""
    runs = []
    for r in range(REPEATS):
        prepare(str(r))
        runs.append(refresh(db))
    pick = sorted(runs, key=lambda x: x["cpu_seconds"])[len(runs) // 2]
    return {**pick, "runs_s": [x["seconds"] for x in runs]}


def time_rewrite(db: Path, size: int) -> dict[str, float]:
    """One postings rewrite (what a refresh does once churn passes a quarter), and its share of
    each refresh after 100 new articles: it comes every 0.25 * size / 100 such refreshes."""
    with connect(db, read_only=False) as con:
        clock = Clock()
        con.execute("BEGIN TRANSACTION")
        compact_postings(con, force=True)
        con.execute("COMMIT")
        wall, cpu = clock.read()
    every = REWRITE_SHARE * size / BATCH
    return {
        "seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 3),
        "amortised_per_100_new_s": round(wall / every, 4),
        "amortised_per_100_changed_s": round(2 * wall / every, 4),
    }


def fts_rebuild(db: Path) -> dict[str, Any]:
    """The old way: PRAGMA create_fts_index over every article, plus one old-style query."""
    with connect(db, read_only=False) as con:
        load_fts(con)
        clock = Clock()
        con.execute(
            "PRAGMA create_fts_index('articles', 'article_id', 'title', 'text', overwrite=1)"
        )
        wall, cpu = clock.read()
        clock = Clock()
        con.execute(
            "SELECT article_id, score FROM (SELECT article_id, "
            "fts_main_articles.match_bm25(article_id, ?) AS score FROM articles) "
            "WHERE score IS NOT NULL ORDER BY score DESC, article_id LIMIT 10",
            [QUERIES[0][0]],
        ).fetchall()
        query_wall, _ = clock.read()
        con.execute("DROP SCHEMA fts_main_articles CASCADE")
    return {
        "seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 3),
        "query_ms": round(query_wall * 1000, 1),
    }


def time_query(
    con: duckdb.DuckDBPyConnection, query: str, topic: str | None, since: str | None
) -> dict[str, float]:
    """Median ms of the macro alone and of search_articles() (snippets included)."""
    day = None if since is None else date.fromisoformat(since)
    macro, full = [], []
    hits = 0
    for _ in range(QUERY_REPEATS):
        clock = Clock()
        con.execute(
            "SELECT * FROM search_articles(?, topic := ?, since := ?) LIMIT 10",
            [query, topic, day],
        ).fetchall()
        macro.append(clock.read()[0])
        clock = Clock()
        hits = len(search_articles(con, query, topic=topic, since=day))
        full.append(clock.read()[0])
    return {
        "macro_ms": round(statistics.median(macro) * 1000, 1),
        "search_ms": round(statistics.median(full) * 1000, 1),
        "hits": hits,
    }


def query_latency(db: Path) -> dict[str, dict[str, float]]:
    """Each example search, on a read-only connection as an analyst would have."""
    with connect(db, read_only=True) as con:
        load_fts(con)
        return {
            query
            + (f" --topic {topic}" if topic else "")
            + (f" --since {since}" if since else ""): time_query(con, query, topic, since)
            for query, topic, since in QUERIES
        }


def measure_size(base: Path, tmp: Path, size: int, *, with_fts: bool) -> dict[str, Any]:
    """Every figure for one database size."""
    db = tmp / f"search-{size}.duckdb"
    fill(base, db, size)
    result: dict[str, Any] = {"articles": size}
    if with_fts:
        fts = fts_rebuild(db)
        fts["per_1000_s"] = round(fts["seconds"] * 1000 / size, 3)
        fts["per_1000_cpu_s"] = round(fts["cpu_seconds"] * 1000 / size, 3)
        result["fts_rebuild"] = fts
    rebuild = refresh(db, full=True)
    rebuild["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["full_rebuild"] = {
        **rebuild,
        "per_1000_s": round(rebuild["seconds"] * 1000 / size, 3),
        "per_1000_cpu_s": round(rebuild["cpu_seconds"] * 1000 / size, 3),
    }
    with connect(db, read_only=True) as con:
        row = con.execute(
            "SELECT (SELECT count(*) FROM search_postings), (SELECT sum(len) FROM search_docs)"
        ).fetchone()
    result["postings_rows"], result["indexed_words"] = (int(row[0]), int(row[1])) if row else (0, 0)
    result["refresh_after_100_new"] = median_refresh(db, lambda tag: add_articles(db, tag))
    result["refresh_after_100_changed"] = median_refresh(db, lambda tag: change_articles(db, tag))
    result["refresh_after_100_retagged"] = median_refresh(db, lambda _tag: retag_articles(db))
    result["refresh_when_current"] = refresh(db)
    result["rewrite"] = time_rewrite(db, size)
    result["queries"] = query_latency(db)
    result["db_mb"] = round(db.stat().st_size / 1024**2, 1)
    db.unlink()
    return result


def measure_search_refresh(
    sizes: Sequence[int] = SIZES,
    *,
    fts_sizes: Sequence[int] = FTS_SIZES,
    corpus: Path | None = DEFAULT_CORPUS,
    workdir: Path | None = None,
) -> list[dict[str, Any]]:
    """One dict per size (see measure_size); what bench/run_bench.py can call."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-search-", dir=workdir))
    try:
        base, kind = build_base(tmp, corpus)
        results = []
        for size in sizes:
            result = measure_size(base, tmp, size, with_fts=size in fts_sizes)
            result["source"] = kind
            results.append(result)
            print(f"  {size} articles measured", file=sys.stderr)
        return results
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def ratio(results: Sequence[dict[str, Any]], key: str, figure: str = "seconds") -> float | None:
    """Refresh cost at the largest size over the smallest."""
    if len(results) < 2:
        return None
    small, large = results[0][key][figure], results[-1][key][figure]
    return round(large / small, 2) if small else None


def _get(*path: str) -> Callable[[dict[str, Any]], Any]:
    """A figure of one size's results, "-" where that size did not measure it."""

    def get(result: dict[str, Any]) -> Any:
        value: Any = result
        for key in path:
            if not isinstance(value, dict) or key not in value:
                return "-"
            value = value[key]
        return value

    return get


def format_table(results: Sequence[dict[str, Any]]) -> str:
    """The figures side by side, one column per size."""
    rows: list[tuple[str, Callable[[dict[str, Any]], Any]]] = [
        ("postings rows", _get("postings_rows")),
        ("db size (MB)", _get("db_mb")),
        ("full rebuild, wall (s)", _get("full_rebuild", "seconds")),
        ("  per 1,000 articles: wall (s)", _get("full_rebuild", "per_1000_s")),
        ("  per 1,000 articles: CPU (s)", _get("full_rebuild", "per_1000_cpu_s")),
        ("old fts rebuild, wall (s)", _get("fts_rebuild", "seconds")),
        ("  per 1,000 articles: wall (s)", _get("fts_rebuild", "per_1000_s")),
        ("  per 1,000 articles: CPU (s)", _get("fts_rebuild", "per_1000_cpu_s")),
    ]
    for key, label in (
        ("refresh_after_100_new", "100 new"),
        ("refresh_after_100_changed", "100 changed"),
        ("refresh_after_100_retagged", "100 retagged"),
    ):
        rows += [
            (f"refresh after {label}: wall (s)", _get(key, "seconds")),
            ("  CPU (s)", _get(key, "cpu_seconds")),
            ("  update transaction: wall (s)", _get(key, "update_s")),
            ("  update transaction: CPU (s)", _get(key, "update_cpu_s")),
            ("  open (s)", _get(key, "open_s")),
            ("  close + checkpoint (s)", _get(key, "close_s")),
        ]
    rows += [
        ("refresh, nothing new: wall (s)", _get("refresh_when_current", "seconds")),
        ("postings rewrite: wall (s)", _get("rewrite", "seconds")),
        ("  CPU (s)", _get("rewrite", "cpu_seconds")),
        ("  amortised per 100 new (s)", _get("rewrite", "amortised_per_100_new_s")),
        ("  amortised per 100 changed (s)", _get("rewrite", "amortised_per_100_changed_s")),
        ("max RSS after full rebuild (MB)", _get("full_rebuild", "max_rss_mb")),
    ]
    for label in results[0]["queries"]:
        rows.append((f"search '{label}' (ms)", _get("queries", label, "search_ms")))
        rows.append(("  macro alone (ms)", _get("queries", label, "macro_ms")))
    rows.append(("old fts: first query (ms)", _get("fts_rebuild", "query_ms")))
    width = max(len(label) for label, _ in rows) + 2
    header = "".ljust(width) + "".join(f"{r['articles']:>12,}" for r in results)
    lines = [header]
    for label, get in rows:
        lines.append(label.ljust(width) + "".join(f"{get(r)!s:>12}" for r in results))
    for key in ("refresh_after_100_new", "refresh_after_100_changed"):
        lines.append(
            f"{key}: largest / smallest = {ratio(results, key)} wall, "
            f"{ratio(results, key, 'cpu_seconds')} CPU (target <= {TARGET_RATIO})"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument(
        "--fts-sizes", type=int, nargs="*", default=list(FTS_SIZES), help="also time fts here"
    )
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--synthetic", action="store_true", help="ignore the corpus")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    results = measure_search_refresh(
        args.sizes, fts_sizes=args.fts_sizes, corpus=None if args.synthetic else args.corpus
    )
    print(format_table(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "machine": machine(),
        "sizes": results,
        "ratio_refresh_100_new": ratio(results, "refresh_after_100_new"),
        "ratio_refresh_100_new_cpu": ratio(results, "refresh_after_100_new", "cpu_seconds"),
        "ratio_refresh_100_changed": ratio(results, "refresh_after_100_changed"),
        "ratio_refresh_100_changed_cpu": ratio(results, "refresh_after_100_changed", "cpu_seconds"),
    }
    args.out.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
