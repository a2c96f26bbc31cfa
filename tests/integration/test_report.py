"""The HTML report: one self-contained page with the chart, entities and latest articles."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from ingest.cli import main
from tests.integration.analyst_db import RARE_EARTH_TITLE, build_analyst_db

pytestmark = pytest.mark.integration

# Anything the browser would fetch: scripts, stylesheets, images, frames, CSS imports and urls.
EXTERNAL = re.compile(
    r"""<(?:script|link|img|iframe|source|video|audio|embed|object)\b[^>]*"""
    r"""\b(?:src|href|data)\s*=\s*["']?(?:https?:)?//"""
    r"""|@import|url\(\s*["']?(?:https?:)?//""",
    re.I,
)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_analyst_db(tmp_path_factory.mktemp("report") / "built.duckdb")


def make_report(db: Path, out: Path, *extra: str) -> str:
    assert main(["report", "--out", str(out), "--db", str(db), *extra]) == 0
    return out.read_text(encoding="utf-8")


def test_report_is_self_contained_with_chart_and_titles(db: Path, tmp_path: Path) -> None:
    page = make_report(db, tmp_path / "report.html")
    assert page.startswith("<!DOCTYPE html>")
    assert not EXTERNAL.findall(page), EXTERNAL.findall(page)
    assert "<svg" in page and "Rare earths" in page  # the chart, with its legend as text
    assert RARE_EARTH_TITLE in page
    assert "Yuan slips as US Treasury weighs currency report" in page
    # Evidence snippets: the matched span is highlighted inside its sentence.
    assert re.search(r"tighten <mark>rare earth</mark> export curbs", page)
    assert "Scott Bessent" in page  # top entities
    # Not US–China: the Australia–Japan story is in the counts, not in the article list.
    assert "Australia and Japan sign critical minerals pact" not in page


def test_since_narrows_every_section(db: Path, tmp_path: Path) -> None:
    page = make_report(db, tmp_path / "november.html", "--since", "2026-11-01")
    assert RARE_EARTH_TITLE not in page
    assert "Yuan slips as US Treasury weighs currency report" in page
    assert "since 2026-11-01" in page
    assert "He Lifeng" not in page  # only named in October


def test_missing_matplotlib_is_a_clear_error(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import now raises ImportError
    out = tmp_path / "report.html"
    assert main(["report", "--out", str(out), "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert "matplotlib" in err and "Traceback" not in err and not out.exists()


def test_report_on_missing_database_names_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--out", str(tmp_path / "r.html"), "--db", str(tmp_path / "x")]) == 2
    assert "tradewire run" in capsys.readouterr().err
