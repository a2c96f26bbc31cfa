"""The benchmark runs end to end on a tiny folder and reports every figure it promises."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import run_bench


def test_quick_run_reports_every_figure(
    fixtures_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench.json"
    pages = fixtures_dir / "bench"
    code = run_bench.main(["--pages", str(pages), "--quick", "--workers", "2", "--out", str(out)])
    assert code == 0
    r = json.loads(out.read_text())
    base = len(list(pages.glob("*.html")))
    assert r["corpus"]["base_pages"] == base
    assert r["machine"]["cores"] >= 1 and r["machine"]["mem_total_gb"] > 0
    for part in ("limit_one_core", "pipeline"):
        assert r[part]["pages_per_s"] > 0 and r[part]["cpu_utilisation"] > 0
    limit = r["limit_all_cores"]
    assert limit["pages_per_s"] > 0 and limit["before"]["pages"] == limit["after"]["pages"]
    pipe = r["pipeline"]
    assert pipe["pages"] == 2 * base
    # Every replicated page is a distinct article committed to the fresh file.
    assert pipe["rows"]["articles"] == 2 * base and pipe["rows"]["errors"] == 0
    assert pipe["peak_rss_mb"] > 0
    assert pipe["rss_by_pages"] and all(x["rss_mb"] > 0 for x in pipe["rss_by_pages"])
    assert "rss_growth_pct" in pipe
    assert r["ratio_pipeline_to_all_core_limit"] > 0
    assert r["ratio_pipeline_to_limit_per_cpu_s"] > 0
    assert r["tagging"]["articles_per_s_per_core"] > 0
    assert r["per_page"]["pages"] == base and r["per_page"]["ours_ms"] > 0
    for landing in ("landing", "landing_duplicates"):
        assert r[landing]["articles_per_s"] > 0 and r[landing]["new"] == r[landing]["articles"]
    floor = r["landing_floor"]
    assert floor["articles_per_s"] > 0 and floor["articles"] == r["landing"]["articles"]
    assert set(r["targets"]) == {
        "ratio_pipeline_to_all_core_limit >= 0.85",
        "peak_rss_mb <= 600",
        "rss_growth_pct <= 10",
        "landing >= 20,000 articles/s",
        "tagging >= 1,000 articles/s/core",
    }
    assert "pipeline end to end" in capsys.readouterr().out


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
