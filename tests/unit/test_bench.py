"""The benchmark runs end to end on a tiny folder and reports every figure it promises."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bench import run_bench
from ingest.pipeline import LAND_SIZE


def rate_agrees(count: float, seconds: float, rate: float, rate_digits: int) -> bool:
    """count / seconds == rate, allowing for the rounding of seconds (3 digits) and of rate."""
    slack = 0.0005 * rate + 0.5 * 10**-rate_digits * seconds + 0.0005 * 10**-rate_digits
    return abs(seconds * rate - count) <= 1.01 * slack + 1e-9


def assert_rate(figures: dict[str, float], cores: int, *, some_cpu: bool = True) -> None:
    """A `_rate` block: its three derived figures follow from pages, seconds and CPU seconds.

    some_cpu=False where CPU is read in clock ticks (10 ms) over a few milliseconds of work,
    which may read as none.
    """
    pages, wall, cpu = figures["pages"], figures["seconds"], figures["cpu_seconds"]
    assert wall > 0 and cpu >= 0
    assert rate_agrees(pages, wall, figures["pages_per_s"], 2), figures
    # CPU seconds are rounded to 0.01 and utilisation to 0.001.
    util = figures["cpu_utilisation"]
    assert abs(util * wall * cores - cpu) <= 0.005 + 0.0005 * cores * (wall + util) + 1e-9
    # A share of the cores it had, plus measuring noise. Process CPU time counts every thread of
    # the test process, so over a window of a few milliseconds (three pages, --quick) another
    # thread's slice can exceed the window itself: the upper bound holds from 0.1 s on.
    assert util > 0 if some_cpu else util >= 0, figures
    if wall >= 0.1:
        assert util <= 1.5, figures
    if cpu:  # else under 5 ms, rounded away; pages_per_cpu_s came from the unrounded figure
        assert (
            abs(figures["pages_per_cpu_s"] * cpu - pages)
            <= 0.005 * (figures["pages_per_cpu_s"] + cpu) + 1e-9
        )


# The whole benchmark, pipeline and Airflow run included: tens of seconds, so not in test-fast.
@pytest.mark.integration
def test_quick_run_reports_every_figure(
    fixtures_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench.json"
    pages = fixtures_dir / "bench"
    code = run_bench.main(["--pages", str(pages), "--quick", "--workers", "2", "--out", str(out)])
    assert code == 0
    r = json.loads(out.read_text())
    base = len(list(pages.glob("*.html")))
    assert base == 3
    machine = r["machine"]
    assert machine["cores"] == os.cpu_count()
    assert 0 < machine["mem_total_gb"] < 1 << 16
    assert len(machine["load_avg"]) == len(machine["load_avg_after"]) == 3
    assert all(x >= 0 for x in (*machine["load_avg"], *machine["load_avg_after"]))
    assert r["corpus"]["base_pages"] == base and r["corpus"]["pipeline_pages"] == 2 * base
    assert r["workers"] == 2 and r["batch_size"] == 100

    # The limit: bare extraction of every page once (--quick: one pass, one round).
    one = r["limit_one_core"]
    assert one["pages"] == base
    assert_rate(one, cores=1)
    limit = r["limit_all_cores"]
    for side in ("before", "after"):
        assert limit[side]["pages"] == base and limit[side]["rounds"] == 1
        assert_rate(limit[side], cores=2, some_cpu=False)
    mean = (limit["before"]["pages_per_s"] + limit["after"]["pages_per_s"]) / 2
    assert limit["pages_per_s"] == pytest.approx(mean, abs=0.006)

    # The pipeline: every replicated page is a distinct article committed to the fresh file.
    pipe = r["pipeline"]
    assert pipe["pages"] == 2 * base
    assert_rate(pipe, cores=2)
    assert pipe["summary"] == {
        "seen": 2 * base,
        "new": 2 * base,
        "updated": 0,
        "unchanged": 0,
        "failed": 0,
    }
    assert pipe["rows"]["articles"] == 2 * base and pipe["rows"]["errors"] == 0
    # Two of the three fixture pages are US-China trade stories: each copy carries topics.
    assert pipe["rows"]["topics"] >= 2 * 2 and pipe["rows"]["entities"] >= 2 * 2
    marks = pipe["rss_by_pages"]
    assert marks and [m["pages"] for m in marks] == sorted({m["pages"] for m in marks})
    assert marks[-1]["pages"] == 2 * base  # the last progress line covers every page
    for mark in marks:
        # The mark sums the tree it sampled; the peak is the largest sum the sampler saw.
        parts = mark["parent_mb"] + sum(mark["workers_mb"])
        assert mark["rss_mb"] == pytest.approx(
            parts, abs=0.05 * (1 + len(mark["workers_mb"])) + 1e-6
        )
        assert 0 < mark["parent_mb"] <= mark["rss_mb"] <= pipe["peak_rss_mb"]
    assert 0 < pipe["peak_pss_mb"] <= pipe["peak_rss_mb"] * 1.1
    assert pipe["peak_rss_mb"] < machine["mem_total_gb"] * 1024
    # Growth needs three marks; then it compares the last with the first at twice the step
    # (--quick samples every max(1, pages // 5) pages).
    growth = pipe["rss_growth_pct"]
    if len(marks) < 3:
        assert growth is None
    else:
        step = max(1, pipe["pages"] // 5)
        base_mb = next((m for m in marks if m["pages"] >= 2 * step), marks[1])["rss_mb"]
        expected = 100 * (marks[-1]["rss_mb"] - base_mb) / base_mb
        assert growth == pytest.approx(expected, abs=0.06)

    # Ratios, from the rounded figures they are built on (within their own rounding).
    ratio = r["ratio_pipeline_to_all_core_limit"]
    assert ratio == pytest.approx(pipe["pages_per_s"] / limit["pages_per_s"], rel=0.02, abs=1e-3)
    cpu_limit = (limit["before"]["pages_per_cpu_s"] + limit["after"]["pages_per_cpu_s"]) / 2
    per_cpu = r["ratio_pipeline_to_limit_per_cpu_s"]
    assert per_cpu == pytest.approx(pipe["pages_per_cpu_s"] / cpu_limit, rel=0.02, abs=1e-3)
    assert 0 < ratio <= 1.5 and 0 < per_cpu <= 1.5  # our pipeline does more than bare extract

    per_page = r["per_page"]
    assert per_page["pages"] == base  # --quick: one round
    assert per_page["bare_ms"] > 0 and per_page["ours_ms"] > 0
    assert per_page["ratio"] == pytest.approx(
        per_page["bare_ms"] / per_page["ours_ms"], rel=0.01, abs=2e-3
    )
    assert 0 < per_page["ratio"] <= 1.5

    # Tagging: the pages' articles, repeated to at least 50 (--quick).
    tag = r["tagging"]
    assert tag["articles"] >= 50 and tag["articles"] % base == 0
    assert tag["articles"] - base < 50  # no more rounds than needed
    assert rate_agrees(tag["articles"], tag["seconds"], tag["articles_per_s_wall"], 1), tag
    # One thread: CPU time cannot much exceed wall time, so the per-core rate is not lower.
    assert tag["articles_per_s_per_core"] >= 0.8 * tag["articles_per_s_wall"]
    assert tag["mean_text_chars"] > 100

    for landing, distinct in (("landing", True), ("landing_duplicates", False)):
        land = r[landing]
        assert land["articles"] == 200 and land["new"] == 200  # --quick lands 200 copies
        assert land["batch_size"] == LAND_SIZE and land["distinct_signatures"] is distinct
        assert rate_agrees(land["articles"], land["seconds"], land["articles_per_s"], 1), land
    floor = r["landing_floor"]
    assert floor["articles"] == r["landing"]["articles"] and floor["batch_size"] == LAND_SIZE
    assert rate_agrees(floor["articles"], floor["seconds"], floor["articles_per_s"], 1), floor

    # `tradewire run` includes its refresh; the DAG path lands the same pages.
    assert 0 < pipe["refresh_s"] < pipe["seconds"]
    dag = r["dag_path"]
    assert dag["rows"] == pipe["rows"]
    assert dag["extract_tasks"] == -(-dag["pages"] // dag["extract_batch_size"])
    assert "scheduler_path" not in r  # --quick does not start the components

    # The refresh alone at two sizes (--quick), after 100 new and 100 changed articles.
    growth_rows = r["refresh_growth"]
    assert [g["articles"] for g in growth_rows] == [50, 200]
    for g in growth_rows:
        assert g["refresh_after_100_new_s"] > 0 and g["refresh_after_100_changed_s"] > 0
    first = growth_rows[0]["refresh_after_100_new_s"]
    assert growth_rows[-1]["new_vs_smallest"] == pytest.approx(
        growth_rows[-1]["refresh_after_100_new_s"] / first, rel=0.02, abs=0.01
    )
    assert r["refresh_largest_vs_smallest"] == growth_rows[-1]["new_vs_smallest"]

    dag_ratio = r["ratio_dag_path_to_all_core_limit"]
    assert r["targets"] == {
        "ratio_pipeline_to_all_core_limit >= 0.85": ratio >= 0.85,
        "peak_rss_mb <= 600": pipe["peak_rss_mb"] <= 600,
        "rss_growth_pct <= 10": None if growth is None else growth <= 10,
        "landing >= 20,000 articles/s": r["landing"]["articles_per_s"] >= 20_000,
        "tagging >= 1,000 articles/s/core": tag["articles_per_s_per_core"] >= 1_000,
        "DAG path (dags test) >= 0.80 of the limit": dag_ratio >= 0.80,
        "DAG path under the scheduler >= 0.80 of the limit": None,
        "DAG path peak_rss_mb <= 600": dag["peak_rss_mb"] <= 600,
        "refresh after 100 into the largest <= 2x into the smallest": r[
            "refresh_largest_vs_smallest"
        ]
        <= 2.0,
    }
    report = capsys.readouterr().out
    assert (
        f"| `tradewire run` incl. its refresh ({2 * base} pages) | {pipe['pages_per_s']:.1f} pages/s |"
        in report
    )
    assert f"| ratio pipeline / limit | {ratio:.3f} |" in report


def test_skips_cleanly_without_a_corpus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(run_bench, "DEFAULT_CORPUS", tmp_path / "absent")
    assert run_bench.main([]) == 0
    assert capsys.readouterr().out.startswith("skipped:")


def test_replicas_are_distinct_files(fixtures_dir: Path, tmp_path: Path) -> None:
    pages = run_bench.list_pages(fixtures_dir / "bench")
    assert run_bench.replicate_pages(pages, 7, tmp_path / "view") == 7
    names = sorted(p.name for p in (tmp_path / "view").iterdir())
    assert len(names) == 7 and not any((tmp_path / "view" / n).is_symlink() for n in names)
