"""Tagging speed benchmark: articles per second on one core over the labeled dev texts."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from transforms.tagging import load_tagger

CORPUS = (
    Path(__file__).resolve().parents[2] / "shared" / "corpus" / "articles" / "labeled-dev.jsonl"
)
TARGET = 1000.0  # articles per second
ROUNDS = 20


def main() -> int:
    """Time repeated tagging of the dev texts; skip politely when the corpus is absent."""
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else CORPUS
    if not path.exists():
        print(f"skipped: corpus not found at {path}")
        return 0
    with path.open(encoding="utf-8") as fh:
        articles = [json.loads(line) for line in fh if line.strip()]
    tagger = load_tagger()
    for a in articles:  # warm-up: lazy regex compilation, caches
        tagger.tag(a.get("title"), a["text"])
    chars = sum(len(a["text"]) for a in articles)
    start = time.process_time()
    for _ in range(ROUNDS):
        for a in articles:
            tagger.tag(a.get("title"), a["text"])
    elapsed = time.process_time() - start
    rate = ROUNDS * len(articles) / elapsed
    print(
        f"{len(articles)} articles x {ROUNDS} rounds, mean {chars / len(articles):.0f} chars: "
        f"{rate:,.0f} articles/s ({ROUNDS * chars / elapsed / 1e6:.2f} M chars/s) "
        f"on one core; target {TARGET:,.0f}: {'ok' if rate >= TARGET else 'BELOW TARGET'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
