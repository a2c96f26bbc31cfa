"""An extract task's batch, extracted in its own process: the tagged batch, and a clear failure."""

from __future__ import annotations

import shutil
from dataclasses import asdict
from pathlib import Path

import pytest

from ingest.extractjob import ExtractJobError, run_extract_job
from ingest.folder import scan_folder
from ingest.stages import read_tagged
from ingest.staging import batch_url, read_jsonl, write_jsonl

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def stage_folder(tmp_path: Path) -> tuple[str, int]:
    """Stage a folder of fixture articles as one discovered batch, as the poll task does."""
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in ("gallium_curbs.html", "soybean_truce.txt", "empty_page.html"):
        shutil.copy(FIXTURES / "articles" / name, folder / name)
    for page in (FIXTURES / "bench").glob("*.html"):
        shutil.copy(page, folder / page.name)
    items = list(scan_folder(folder))
    url = batch_url(str(tmp_path / "staging"), "run-1", "discovered-g0000", 0)
    return write_jsonl(url, (asdict(i) for i in items)), len(items)


def test_extract_job_tags_every_staged_document_in_order(tmp_path: Path) -> None:
    url, count = stage_folder(tmp_path)
    assert count >= 4, "the fixture folder should be big enough to use the pool"

    out = run_extract_job(url, workers=2, max_bytes=5 * 1024 * 1024)

    assert out == url.replace("/discovered-", "/tagged-")
    tagged = [t for batch in read_tagged([out]) for t in batch]
    staged = [row["location"] for row in read_jsonl(url)]
    assert [t.article.location for t in tagged] == staged
    landed = [t for t in tagged if t.article.error is None]
    assert len(landed) >= 4
    # Detected in the job's own process (workers skip the language model).
    assert all(t.article.language for t in landed)
    assert any(t.tags.topics for t in landed)


def test_extract_job_failure_is_an_error_naming_the_batch(tmp_path: Path) -> None:
    missing = batch_url(str(tmp_path / "staging"), "run-1", "discovered-g0000", 7)
    with pytest.raises(ExtractJobError, match="discovered-g0000-00007"):
        run_extract_job(missing, workers=1, max_bytes=1024)
