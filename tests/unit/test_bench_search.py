"""bench_search runs end to end on tiny synthetic databases and reports every figure it promises."""

from __future__ import annotations

import json
from pathlib import Path

from bench import bench_search


def test_measures_every_size_and_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "search.json"
    assert (
        bench_search.main(
            ["--sizes", "200", "400", "--fts-sizes", "200", "--synthetic", "--out", str(out)]
        )
        == 0
    )
    report = json.loads(out.read_text(encoding="utf-8"))
    small, large = report["sizes"]
    assert (small["articles"], large["articles"]) == (200, 400)
    assert small["source"] == "synthetic" and "fts_rebuild" in small and "fts_rebuild" not in large
    for size in (small, large):
        assert size["full_rebuild"]["indexed"] == size["articles"]
        assert size["postings_rows"] > 0 and size["indexed_words"] > 0
        # Each scenario did what it says: new and changed articles tokenised, a retag not.
        assert size["refresh_after_100_new"]["indexed"] == bench_search.BATCH
        assert size["refresh_after_100_changed"]["indexed"] == bench_search.BATCH
        assert size["refresh_after_100_retagged"]["indexed"] == 0
        assert size["refresh_when_current"]["indexed"] == 0
        assert set(size["queries"]) == {
            q + (f" --topic {t}" if t else "") + (f" --since {s}" if s else "")
            for q, t, s in bench_search.QUERIES
        }
        assert size["queries"]["rare earth export curbs"]["hits"] > 0
    assert report["ratio_refresh_100_new"] is not None
