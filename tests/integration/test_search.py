"""Full-text search: BM25 ranking, filters, snippets, the SQL macro and its failure messages."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import duckdb
import pytest

from ingest.cli import main
from ingest.pipeline import run_pipeline
from tests.integration.analyst_db import RARE_EARTH_TITLE, build_analyst_db, copy_db
from transforms.database import connect
from transforms.search import (
    FTS_ENV,
    SearchUnavailableError,
    load_fts,
    refresh_search_index,
    search_articles,
)

pytestmark = pytest.mark.integration
# A word of the query "rare earth export", as the stemmer may mark it.
QUERY_WORD = re.compile(r"\b(rare|earth|export)", re.I)


@pytest.fixture(scope="module")
def built_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_analyst_db(tmp_path_factory.mktemp("search") / "built.duckdb")


@pytest.fixture
def db(built_db: Path, tmp_path: Path) -> Path:
    """A private copy with a fresh search index."""
    path = copy_db(built_db, tmp_path / "search.duckdb")
    with connect(path, read_only=False) as con:
        assert refresh_search_index(con) == 12
    return path


def search_json(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, object]]:
    assert main(["search", *args, "--format", "json"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_rare_earth_story_ranks_first(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hits = search_json(capsys, "rare earth export", "--db", str(db))
    assert hits[0]["title"] == RARE_EARTH_TITLE
    scores = [float(h["score"]) for h in hits]  # type: ignore[arg-type]
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[1]
    for hit in hits:  # each hit shows why it matched: a query word marked in its snippet
        marked = re.findall(r"\[([^\]]+)\]", str(hit["snippet"]))
        assert marked and all(QUERY_WORD.search(m) for m in marked), hit["snippet"]
    assert "[rare earth export]" in str(hits[0]["snippet"])


def test_topic_filter_keeps_only_tagged_articles(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    everything = search_json(capsys, "export", "--db", str(db))
    chips = search_json(capsys, "export", "--topic", "semiconductors", "--db", str(db))
    assert 0 < len(chips) < len(everything)
    assert all("semiconductors" in h["topics"] for h in chips)  # type: ignore[operator]


def test_since_filter_drops_older_and_undated_articles(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hits = search_json(capsys, "rare earth export", "--since", "2026-10-07", "--db", str(db))
    assert hits and RARE_EARTH_TITLE not in [h["title"] for h in hits]
    assert all(str(h["published_at"]) >= "2026-10-07" for h in hits)  # None would fail here


def test_limit_and_no_match(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert len(search_json(capsys, "export", "--limit", "2", "--db", str(db))) == 2
    assert search_json(capsys, "zzzunknownword", "--db", str(db)) == []


def test_search_needs_only_a_reader(db: Path) -> None:
    with connect(db, read_only=True) as con:
        hits = search_articles(con, "soybean purchases", since=date(2026, 10, 1), limit=3)
    assert hits[0].title == "China resumes soybean purchases from US farmers"
    assert hits[0].highlights and "soybean" in hits[0].marked_snippet().lower()


def test_macro_through_tradewire_sql(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    query = (
        "select title from search_articles('gallium', topic := 'rare_earths') "
        "order by score desc limit 1"
    )
    assert main(["sql", query, "--db", str(db), "--format", "csv"]) == 0
    assert (
        capsys.readouterr().out.splitlines()[1]
        == "Gallium prices climb as Chinese export licences stall"
    )


def test_reindex_finds_articles_landed_later(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "tungsten.txt").write_text(
        "Tungsten curbs widen\n\nChina added tungsten and antimony to its export licence list, "
        "a step aimed at US defence suppliers.\n",
        encoding="utf-8",
    )
    run_pipeline([str(extra)], db, workers=1)
    assert search_json(capsys, "tungsten", "--db", str(db)) == []  # the index is a snapshot
    assert main(["search", "--reindex", "--db", str(db)]) == 0
    assert "13 articles" in capsys.readouterr().err
    assert search_json(capsys, "tungsten", "--db", str(db))[0]["title"] == "Tungsten curbs widen"


def test_refresh_indexes_only_what_the_run_landed(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "tungsten.txt").write_text(
        "Tungsten curbs widen\n\nChina added tungsten and antimony to its export licence list.\n",
        encoding="utf-8",
    )
    with connect(db) as con:
        before = set(con.execute("SELECT article_id, docid FROM search_docs").fetchall())
    run_pipeline([str(extra)], db, workers=1)
    assert main(["refresh", "--db", str(db)]) == 0
    capsys.readouterr()
    assert search_json(capsys, "tungsten", "--db", str(db))[0]["title"] == "Tungsten curbs widen"
    with connect(db) as con:
        after = set(con.execute("SELECT article_id, docid FROM search_docs").fetchall())
    # The twelve indexed before keep their documents: nothing but the new article was tokenised.
    assert before < after and len(after - before) == 1


def test_missing_extension_is_one_clear_line(
    db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(FTS_ENV, str(db.parent / "nowhere" / "fts.duckdb_extension"))
    assert main(["search", "gallium", "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "full-text search extension not found" in err and FTS_ENV in err

    with duckdb.connect() as con, pytest.raises(SearchUnavailableError, match="not found"):
        load_fts(con)


def test_missing_index_says_how_to_build_it(
    built_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = copy_db(built_db, tmp_path / "plain.duckdb")
    assert main(["search", "gallium", "--db", str(plain)]) == 2
    assert "tradewire search --reindex" in capsys.readouterr().err


def test_unknown_topic_and_missing_database(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", "gallium", "--topic", "rare_earth", "--db", str(db)]) == 2
    assert "rare_earths" in capsys.readouterr().err  # the fix is in the message
    missing = tmp_path / "none.duckdb"
    assert main(["search", "--reindex", "--db", str(missing)]) == 2
    assert "tradewire run" in capsys.readouterr().err and not missing.exists()
