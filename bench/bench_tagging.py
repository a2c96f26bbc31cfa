"""Tagging benchmark: articles per second on one core, model and rules side by side, and the
memory an extraction worker holds with the model against without it.

Usage: python -m bench.bench_tagging [LABELED.jsonl]   (default: ../shared/corpus dev set)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CORPUS = (
    Path(__file__).resolve().parents[2] / "shared" / "corpus" / "articles" / "labeled-dev.jsonl"
)
TARGET = 1000.0  # articles per second, one core, the default (model) tagger
MEMORY_TARGET_MB = 30.0  # growth of an extraction worker's memory with the model
ROUNDS = 3  # alternating model/rules passes, so both see the same machine

_WORKER_PROBE = r"""
import json, sys
from ingest.workers import tag_articles, warm_worker
from transforms.records import Article
warm_worker(language=False)
rows = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8") if line.strip()]
articles = [Article(article_id=str(i), source="bench", location="x", url=None, title=r.get("title"),
            text=r["text"], author=None, published_at=None, language=None, word_count=0,
            content_hash="", raw_hash="") for i, r in enumerate(rows)]
tag_articles(articles)
for line in open("/proc/self/status"):
    if line.startswith("VmRSS:"):
        print(int(line.split()[1]) / 1024)
"""


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The labeled rows (title and text are what is tagged)."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def measure_rates(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Articles per CPU-second for the default tagger and the rules alone, alternating passes."""
    from transforms.tagging import load_tagger

    model = load_tagger()
    rules = model.with_model(None)
    cpu = {"model": 0.0, "rules": 0.0}
    for tagger in (model, rules):  # warm-up: lazy regex compilation, caches
        for r in rows:
            tagger.tag(r.get("title"), r["text"])
    for _ in range(ROUNDS):
        for name, tagger in (("model", model), ("rules", rules)):
            start = time.process_time()
            for r in rows:
                tagger.tag(r.get("title"), r["text"])
            cpu[name] += time.process_time() - start
    return {name: ROUNDS * len(rows) / seconds for name, seconds in cpu.items()}


def worker_rss_mb(path: Path, tag_model: str | None) -> float:
    """RSS of a fresh extraction worker after warming up and tagging every row."""
    env = {**os.environ}
    env.pop("TRADEWIRE_TAG_MODEL", None)
    if tag_model is not None:
        env["TRADEWIRE_TAG_MODEL"] = tag_model
    out = subprocess.run(
        [sys.executable, "-c", _WORKER_PROBE, str(path)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=Path(__file__).resolve().parents[1],
    )
    return float(out.stdout.strip().splitlines()[-1])


_IMPORT_PROBE = r"""
import sys
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
before = rss()
import numpy  # noqa: F401
print(rss() - before)
"""


def numpy_import_mb() -> float:
    """What importing numpy adds to a process: the workers did not import it before the model."""
    out = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE], capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip())


def main() -> int:
    """Print both figures against their targets; skip politely when the corpus is absent."""
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else CORPUS
    if not path.exists():
        print(f"skipped: corpus not found at {path}")
        return 0
    rows = read_rows(path)
    rates = measure_rates(rows)
    chars = sum(len(r["text"]) for r in rows) / len(rows)
    with_model = worker_rss_mb(path, None)
    without = worker_rss_mb(path, "rules")
    # The rules-alone worker imports numpy too (the model module is imported either way), so
    # its cost is added back: the growth over a worker of the rules-only tagger before.
    numpy_mb = numpy_import_mb()
    growth = with_model - without + numpy_mb
    print(
        f"tagging, {len(rows)} articles (mean {chars:,.0f} chars) x {ROUNDS} alternating passes, "
        f"one core: model {rates['model']:,.0f} articles/s, rules alone {rates['rules']:,.0f}/s; "
        f"target {TARGET:,.0f}: {'ok' if rates['model'] >= TARGET else 'MISSED'}"
    )
    print(
        f"extraction worker RSS after tagging them: {with_model:.0f} MB with the model, "
        f"{without:.0f} MB with the rules alone, numpy's import {numpy_mb:.1f} MB: "
        f"+{growth:.1f} MB over a rules-only worker; target "
        f"<= {MEMORY_TARGET_MB:.0f} MB: {'ok' if growth <= MEMORY_TARGET_MB else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
