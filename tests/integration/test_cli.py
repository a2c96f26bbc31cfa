"""The `tradewire` command line against real files and a real DuckDB file."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from ingest.cli import main

pytestmark = pytest.mark.integration


def test_run_then_sql_in_every_format(
    seed_folder: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--source", str(seed_folder), "--db", str(db_path)]) == 0
    assert "seen 1, new 1," in capsys.readouterr().out
    assert main(["run", "--source", str(seed_folder), "--db", str(db_path)]) == 0
    assert "new 0, updated 0, unchanged 1" in capsys.readouterr().out

    assert (
        main(
            ["sql", "select title, us_china from articles", "--db", str(db_path), "--format", "csv"]
        )
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "title,us_china",
        "U.S.-China Trade Talks Progress at Lancaster House Amid Ongoing Tensions,True",
    ]

    assert (
        main(
            [
                "sql",
                "select topic, score from article_topics order by topic",
                "--db",
                str(db_path),
                "--format",
                "json",
            ]
        )
        == 0
    )
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {"rare_earths", "export_controls", "trade_talks"} <= {r["topic"] for r in rows}
    assert all(0 <= r["score"] <= 1 for r in rows)

    assert main(["sql", "select count(*) as n from articles", "--db", str(db_path)]) == 0
    table = capsys.readouterr().out.splitlines()
    # The rich table off a terminal: a header row (┃ n ┃) and one body row (│ 1 │).
    cells = [line.strip("┃│ ") for line in table if line.startswith(("┃", "│"))]
    assert cells == ["n", "1"]


def test_sql_is_read_only(
    seed_folder: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["run", "--source", str(seed_folder), "--db", str(db_path)])
    capsys.readouterr()
    assert main(["sql", "delete from articles", "--db", str(db_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tradewire sql: error: ") and err.count("\n") == 1
    assert "read-only" in err.lower()


def test_sql_on_missing_db_says_how_to_create_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sql", "select 1", "--db", str(tmp_path / "none.duckdb")]) == 2
    err = capsys.readouterr().err
    assert "tradewire run" in err and "Traceback" not in err


def test_db_path_from_environment(
    seed_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "env.duckdb"
    monkeypatch.setenv("TRADEWIRE_DB", str(target))
    assert main(["run", "--source", str(seed_folder)]) == 0
    assert target.exists()


def test_bad_documents_become_error_rows_and_the_run_completes(
    fixtures_dir: Path, tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "mixed"
    shutil.copytree(fixtures_dir / "articles", folder)
    (folder / "binary.html").write_bytes(bytes(range(256)) * 4)
    assert main(["run", "--source", str(folder), "--db", str(db_path), "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\bfailed 2\b", out)  # the empty page and the binary junk
    assert (
        main(["sql", "select count(*) from ingest_errors", "--db", str(db_path), "--format", "csv"])
        == 0
    )
    assert capsys.readouterr().out.splitlines()[1] == "2"
    # Failed documents are not retried until their bytes change.
    assert main(["run", "--source", str(folder), "--db", str(db_path)]) == 0
    assert re.search(r"\bfailed 0\b", capsys.readouterr().out)


def test_extract_prints_fields_with_provenance(
    fixtures_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "extract",
                str(fixtures_dir / "articles" / "gallium_curbs.html"),
                "--url",
                "https://example.com/gallium?utm_source=x",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["author"] == "Jane Fixture"
    assert out["published_at"].startswith("2025-07-03")
    assert out["language"] == "en"
    assert set(out["provenance"]) >= {"title", "author", "published_at", "language"}


def test_extract_unsupported_file_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "notes.pdf"
    path.write_bytes(b"%PDF")
    assert main(["extract", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unsupported" in err


def test_tag_keeps_order_and_reports_bad_lines(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    lines = [
        json.dumps(
            {
                "id": "a",
                "title": "US and China agree tariff truce",
                "text": "Washington and Beijing agreed to cut tariffs. Tariffs fall 10%.",
            }
        ),
        "{not json",
        json.dumps({"id": "b", "title": "Weather", "text": "Sunny."}),
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    # Good lines are tagged in order; the bad one is reported, and the exit status says so.
    assert main(["tag"]) == 1
    captured = capsys.readouterr()
    out = [json.loads(line) for line in captured.out.splitlines()]
    assert [o["id"] for o in out] == ["a", "b"]
    assert "line 2" in captured.err
