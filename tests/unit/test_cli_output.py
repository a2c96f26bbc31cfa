"""ingest/cli/output.py: every format the commands print, and the JSON-safe conversion."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from ingest.cli.output import jsonable, print_document, print_hits, print_rows
from transforms.search import SearchHit

COLUMNS = ["id", "when", "day", "amount", "blob", "note"]
ROWS = [
    [
        "a",
        datetime(2026, 10, 1, 8, 30, tzinfo=UTC),
        date(2026, 10, 1),
        Decimal("1.50"),
        b"\x01\xff",
        None,
    ],
    ["b", None, None, Decimal("2"), b"", "tariff, truce"],
]


def hit(**changes: object) -> SearchHit:
    fields: dict[str, object] = {
        "article_id": "art1",
        "score": 1.234567,
        "title": "Gallium curbs",
        "published_at": datetime(2026, 10, 1, 8, 30, tzinfo=UTC),
        "source": "seeds",
        "url": None,
        "topics": ("rare_earths", "export_controls"),
        "snippet": "China restricts gallium exports.",
        "highlights": ((16, 23),),
    }
    fields.update(changes)
    return SearchHit(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2026, 10, 1, 8, 30, tzinfo=UTC), "2026-10-01T08:30:00+00:00"),
        (date(2026, 10, 1), "2026-10-01"),
        (Decimal("1.50"), 1.5),
        (b"\x00\xab", "00ab"),
        ("text", "text"),
        (3, 3),
        (None, None),
        ([1, 2], [1, 2]),
    ],
)
def test_jsonable(value: object, expected: object) -> None:
    assert jsonable(value) == expected
    assert type(jsonable(value)) is type(expected)


def test_csv_has_a_header_and_converted_values(capsys: pytest.CaptureFixture[str]) -> None:
    print_rows(COLUMNS, ROWS, "csv")
    out = capsys.readouterr().out
    assert list(csv.reader(io.StringIO(out))) == [
        COLUMNS,
        ["a", "2026-10-01T08:30:00+00:00", "2026-10-01", "1.5", "01ff", ""],
        ["b", "", "", "2.0", "", "tariff, truce"],
    ]
    assert "\r" not in out


def test_json_is_one_object_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    print_rows(COLUMNS, ROWS, "json")
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line) for line in lines] == [
        {
            "id": "a",
            "when": "2026-10-01T08:30:00+00:00",
            "day": "2026-10-01",
            "amount": 1.5,
            "blob": "01ff",
            "note": None,
        },
        {"id": "b", "when": None, "day": None, "amount": 2.0, "blob": "", "note": "tariff, truce"},
    ]


def test_json_keeps_non_ascii_and_stringifies_the_unknown(
    capsys: pytest.CaptureFixture[str],
) -> None:
    print_rows(["name", "thing"], [["北京", object]], "json")
    out = capsys.readouterr().out
    assert "北京" in out
    assert json.loads(out) == {"name": "北京", "thing": str(object)}


def test_table_cells_off_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    print_rows(["n", "when"], [[1, date(2026, 10, 1)], [None, None]], "table")
    out = capsys.readouterr().out
    cells = [
        [cell.strip() for cell in line.strip("┃│").split("┃" if "┃" in line else "│")]
        for line in out.splitlines()
        if line.startswith(("┃", "│"))
    ]
    assert cells == [["n", "when"], ["1", "2026-10-01"], ["", ""]]


def test_table_is_not_wrapped_at_80_columns_in_a_pipe(capsys: pytest.CaptureFixture[str]) -> None:
    print_rows(["text"], [["x" * 150]], "table")
    assert "x" * 150 in capsys.readouterr().out


def test_document_is_indented_json(capsys: pytest.CaptureFixture[str]) -> None:
    print_document({"title": "Zölle", "provenance": {"title": "og:title"}})
    out = capsys.readouterr().out
    assert out.startswith('{\n  "title": "Zölle",\n')
    assert json.loads(out) == {"title": "Zölle", "provenance": {"title": "og:title"}}


def test_hits_as_json_lines_keep_topics_as_a_list(capsys: pytest.CaptureFixture[str]) -> None:
    print_hits([hit(), hit(article_id="art2", published_at=None, title=None)], "json")
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows[0] == {
        "rank": 1,
        "score": 1.2346,
        "article_id": "art1",
        "published_at": "2026-10-01T08:30:00+00:00",
        "title": "Gallium curbs",
        "topics": ["rare_earths", "export_controls"],
        "snippet": "China restricts [gallium] exports.",
    }
    assert (rows[1]["rank"], rows[1]["published_at"], rows[1]["title"]) == (2, None, None)


def test_hits_as_csv_join_topics(capsys: pytest.CaptureFixture[str]) -> None:
    print_hits([hit()], "csv")
    header, row = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert header == ["rank", "score", "article_id", "published_at", "title", "topics", "snippet"]
    assert row[5] == "rare_earths, export_controls"
    assert row[6] == "China restricts [gallium] exports."


def test_hits_table_off_a_terminal_marks_matches_in_brackets(
    capsys: pytest.CaptureFixture[str],
) -> None:
    print_hits([hit(title=None)], "table")
    out = capsys.readouterr().out
    assert "China restricts [gallium] exports." in out
    assert "(untitled)" in out and "2026-10-01" in out and "1.23" in out


def test_no_hits(capsys: pytest.CaptureFixture[str]) -> None:
    print_hits([], "table")
    assert capsys.readouterr().out == "no matches\n"
    print_hits([], "json")
    assert capsys.readouterr().out == ""
    print_hits([], "csv")
    assert capsys.readouterr().out.splitlines() == [
        "rank,score,article_id,published_at,title,topics,snippet"
    ]
