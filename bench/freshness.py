"""Freshness under the running scheduler: file dropped into seeds/ -> row visible to `tradewire sql`.

Run `make airflow` in one terminal, then in another:

    .venv/bin/python -m bench.freshness --count 20

Articles are dropped one at a time at random 5-30 s intervals into a fresh sub-folder of the
inbox; a poller asks `tradewire sql` and `tradewire search` (separate processes, as an analyst
would) once a second which of them are visible: an article counts as fresh once both find it
(every article carries a word unique to the run, so one search finds them all). Prints
p50/p95/max of the lag and writes bench/out/freshness.json.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import string
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SUBJECTS = [
    ("Gallium licences tighten", "China added gallium exporters to its licensing regime"),
    ("Tariff truce holds", "Washington and Beijing kept their tariff truce in place"),
    ("Soybean cargoes booked", "Chinese buyers booked US soybean cargoes after the talks"),
    ("Chip tool curbs widen", "The Commerce Department widened export controls on chip tools"),
    (
        "Yuan weakens on trade data",
        "The yuan slipped as China's trade surplus with the US narrowed",
    ),
]


def write_article(folder: Path, index: int, tag: str, word: str = "") -> Path:
    """One fixture article with a unique title, written atomically (temp name, then rename)."""
    title, sentence = SUBJECTS[index % len(SUBJECTS)]
    path = folder / f"fresh_{tag}_{index:03d}.txt"
    tmp = folder / f".{path.name}.part"
    tmp.write_text(
        f"{title} ({tag} #{index})\n\n{sentence}, officials said on day {index}.\n\n"
        f"{sentence}; analysts expect more measures, note {index} {word}.\n",
        encoding="utf-8",
    )
    tmp.rename(path)
    return path


def run_cli(args: list[str], db: Path | None) -> list[dict[str, object]]:
    """JSON rows of one `tradewire` command, run in its own process as an analyst's would be."""
    command = [str(REPO / ".venv" / "bin" / "tradewire"), *args, "--format", "json"]
    if db:
        command += ["--db", str(db)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip())
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def visible_locations(db: Path | None, prefix: str) -> dict[str, str]:
    """Location -> article_id of landed articles under `prefix`."""
    rows = run_cli(
        ["sql", f"select location, article_id from articles where location like '{prefix}%'"], db
    )
    return {str(r["location"]): str(r["article_id"]) for r in rows}


def searchable_ids(db: Path | None, word: str, limit: int) -> set[str]:
    """Article ids `tradewire search` finds for the run's unique word."""
    return {str(r["article_id"]) for r in run_cli(["search", word, "--limit", str(limit)], db)}


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile: no interpolation between the few samples we have."""
    ordered = sorted(values)
    rank = max(1, round(q * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--min-gap", type=float, default=5.0)
    parser.add_argument("--max-gap", type=float, default=30.0)
    parser.add_argument("--inbox", type=Path, default=REPO / "seeds")
    parser.add_argument("--db", type=Path, default=None)
    parser.add_argument("--timeout", type=float, default=300.0, help="give up on an article after")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "freshness.json")
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    tag = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    # Letters only: the search index drops digits, and a made-up word matches only these.
    word = "fresh" + "".join(rng.choice(string.ascii_lowercase) for _ in range(10))
    folder = (args.inbox / f"bench-freshness-{tag}").resolve()
    folder.mkdir(parents=True)
    created: dict[str, float] = {}
    seen: dict[str, float] = {}
    in_search: dict[str, float] = {}
    errors: list[str] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            try:
                found = visible_locations(args.db, str(folder))
                ids = searchable_ids(args.db, word, args.count + 10) if found else set()
            except Exception as exc:  # a failed read is a finding, not a reason to stop
                errors.append(str(exc))
                found, ids = {}, set()
            now = time.time()
            for location, article_id in found.items():
                seen.setdefault(location, now)
                if article_id in ids:
                    in_search.setdefault(location, now)
            stop.wait(1.0)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    for i in range(args.count):
        path = write_article(folder, i, tag, word)
        created[str(path)] = path.stat().st_mtime
        print(f"dropped {path.name}", flush=True)
        if i < args.count - 1:
            time.sleep(rng.uniform(args.min_gap, args.max_gap))
    deadline = time.time() + args.timeout
    while time.time() < deadline and len(in_search.keys() & created.keys()) < len(created):
        time.sleep(1.0)
    stop.set()
    poller.join(timeout=10)

    sql_lags = [seen[p] - created[p] for p in created if p in seen]
    # Fresh means queryable, search included: the later of the two.
    lags = {p: in_search[p] - created[p] for p in created if p in in_search}
    missing = sorted(set(created) - set(lags))
    values = list(lags.values())
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "articles": len(created),
        "visible": len(values),
        "missing": [Path(p).name for p in missing],
        "reader_errors": errors[:20],
        "p50_s": round(statistics.median(values), 1) if values else None,
        "p95_s": round(percentile(values, 0.95), 1) if values else None,
        "max_s": round(max(values), 1) if values else None,
        "sql_only_p95_s": round(percentile(sql_lags, 0.95), 1) if sql_lags else None,
        "per_article_s": {Path(p).name: round(v, 1) for p, v in sorted(lags.items())},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "per_article_s"}, indent=2))
    return 0 if not missing and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
