"""bench/eval_extraction.py runs on the shared benchmark pages (skipped where they are absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import eval_extraction

CORPUS = eval_extraction.DEFAULT_CORPUS


@pytest.mark.skipif(
    not (CORPUS / "ground-truth.json").is_file(), reason="no ../shared/corpus benchmark"
)
def test_eval_reports_body_title_and_date_side_by_side(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "eval.json"
    assert eval_extraction.main(["--limit", "3", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    for section in ("BODY", "TITLE", "DATE", "half:tune"):
        assert section in printed
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["summary"]["ALL"]["pages"] == 3
    assert {"ours_exact", "bare_exact"} <= set(report["titles"]["ALL"])
    assert all(page["text_source"].startswith("trafilatura:") for page in report["pages"])


def test_eval_skips_cleanly_without_the_corpus(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert eval_extraction.main(["--corpus", str(tmp_path)]) == 0
    assert "skipped" in capsys.readouterr().out
