"""Re-tagging stored articles against a real DuckDB file after the taxonomy changed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ingest.cli import main
from ingest.pipeline import run_pipeline
from transforms.database import connect
from transforms.retagging import RetagCounts, retag_articles
from transforms.tagging import Tagger, load_tagger

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "retag"
TAXONOMY = REPO / "transforms" / "taxonomy.toml"


def changed_taxonomy(tmp_path: Path) -> Path:
    """A taxonomy copy with a new version whose agriculture rule ignores soybean sentences."""
    source = TAXONOMY.read_text(encoding="utf-8")
    version_line = next(line for line in source.splitlines() if line.startswith("version = "))
    source = source.replace(version_line, 'version = "test-retag-2"', 1)
    section = source.index("[topics.agriculture]")
    exclude = source.index("exclude_en = []", section)
    source = (
        source[:exclude] + 'exclude_en = ["soybeans"]' + source[exclude + len("exclude_en = []") :]
    )
    path = tmp_path / "taxonomy.toml"
    path.write_text(source, encoding="utf-8")
    return path


def land_fixtures(tmp_path: Path) -> Path:
    """Run the real pipeline over the fixture folder into a fresh DuckDB file."""
    folder = tmp_path / "articles"
    shutil.copytree(FIXTURES, folder)
    db_path = tmp_path / "trade.duckdb"
    run_pipeline([str(folder)], db_path, workers=1)
    return db_path


def stored_tags(db_path: Path) -> dict[str, tuple[str, tuple[tuple[str, float, str], ...]]]:
    """title -> (article version, sorted (topic, score, row version))."""
    with connect(db_path, read_only=True) as con:
        articles = con.execute(
            "SELECT article_id, title, taxonomy_version FROM articles"
        ).fetchall()
        topics = con.execute(
            "SELECT article_id, topic, score, taxonomy_version FROM article_topics"
        ).fetchall()
    return {
        title: (
            version,
            tuple(sorted((t, s, v) for a, t, s, v in topics if a == article_id)),
        )
        for article_id, title, version in articles
    }


def soy_entities(db_path: Path, title: str) -> int:
    """Entity mentions stored for the article with this title."""
    with connect(db_path, read_only=True) as con:
        row = con.execute(
            "SELECT count(*) FROM article_entities e JOIN articles a USING (article_id) "
            "WHERE a.title = ?",
            [title],
        ).fetchone()
    return int(row[0]) if row else 0


@pytest.fixture
def new_tagger(tmp_path: Path) -> Tagger:
    tagger = load_tagger(taxonomy_path=changed_taxonomy(tmp_path))
    assert tagger.version != load_tagger().version
    return tagger


def test_retag_rewrites_only_stale_articles(tmp_path: Path, new_tagger: Tagger) -> None:
    db_path = land_fixtures(tmp_path)
    before = stored_tags(db_path)
    assert len(before) == 3
    soy = "China books record purchases of U.S. soybeans"
    entities_before = soy_entities(db_path, soy)
    assert entities_before > 0
    rare = "China curbs rare earth exports"
    steel = "U.S. raises tariffs on Chinese steel"
    assert [t[0] for t in before[soy][1]] == ["agriculture"]
    # An article already carrying the new version (as if landed by the new tagger) is skipped.
    with connect(db_path, read_only=False) as con:
        con.execute(
            "UPDATE articles SET taxonomy_version = ? WHERE title = ?", [new_tagger.version, rare]
        )

    counts = retag_articles(db_path, batch_size=1, tagger=new_tagger)

    assert counts == RetagCounts(checked=3, retagged=2, changed=1)
    after = stored_tags(db_path)
    assert after[rare][1] == before[rare][1]  # its rows were not rewritten: old row versions
    assert after[soy] == (new_tagger.version, ())  # agriculture is gone
    assert [t[:2] for t in after[steel][1]] == [t[:2] for t in before[steel][1]]
    for title in (soy, steel):
        assert after[title][0] == new_tagger.version
        assert all(row_version == new_tagger.version for _, _, row_version in after[title][1])
    # The new taxonomy changes topics only: its entities were rewritten, none dropped.
    assert soy_entities(db_path, soy) == entities_before

    again = retag_articles(db_path, tagger=new_tagger)
    assert again == RetagCounts(checked=3, retagged=0, changed=0)
    assert stored_tags(db_path) == after


def test_retag_with_the_current_tagger_does_nothing(tmp_path: Path) -> None:
    db_path = land_fixtures(tmp_path)
    before = stored_tags(db_path)
    assert retag_articles(db_path) == RetagCounts(checked=3, retagged=0, changed=0)
    assert stored_tags(db_path) == before


def test_retag_of_a_missing_database_creates_nothing(tmp_path: Path) -> None:
    db_path = tmp_path / "absent.duckdb"
    assert retag_articles(db_path) == RetagCounts()
    assert not db_path.exists()


def test_cli_retag_and_eval_tags_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["retag", "--db", str(tmp_path / "absent.duckdb")]) == 2
    assert main(["eval-tags", str(tmp_path / "missing.jsonl")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2
    assert err[0].startswith("tradewire retag: error: no database at")
    assert err[1] == f"tradewire eval-tags: error: no such file: {tmp_path / 'missing.jsonl'}"


def test_cli_retag_prints_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db_path = land_fixtures(tmp_path)
    assert main(["retag", "--db", str(db_path)]) == 0
    assert capsys.readouterr().out.strip() == "checked 3, retagged 0, tags changed 0"


def test_cli_eval_tags_prints_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labeled = tmp_path / "labeled.jsonl"
    labeled.write_text(
        '{"id": "1", "title": "Canada imposes anti-dumping duties on steel", '
        '"text": "Canada will impose anti-dumping duties on steel imports. The tariffs start in '
        'May.", "us_china": false, "topics": ["tariffs"]}\n',
        encoding="utf-8",
    )
    assert main(["eval-tags", str(labeled)]) == 0
    rows = {
        line.split()[0]: line.split()[1:]
        for line in capsys.readouterr().out.splitlines()
        if line.strip()
    }
    assert rows["articles:"][0] == "1"
    # prec, recall, F1, support, predicted: the one tariffs label found, and rightly not US-China.
    assert rows["tariffs"] == ["1.000", "1.000", "1.000", "1", "1"]
    assert rows["us_china"] == ["0.000", "0.000", "0.000", "0", "0"]
