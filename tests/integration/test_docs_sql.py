"""docs/sql.md cannot rot: every ```sql example runs, and every table and view column is described."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.integration.analyst_db import build_analyst_db, copy_db, prepare_full_db
from transforms.search import load_fts

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[2] / "docs" / "sql.md"
MAY_BE_EMPTY = "-- may return no rows"


def sql_blocks(markdown: str) -> list[str]:
    """The bodies of the ```sql fences, in order."""
    return [m.group(1).strip() for m in re.finditer(r"^```sql\n(.*?)^```", markdown, re.S | re.M)]


def doc_sections(markdown: str) -> dict[str, str]:
    """`### `name`` heading -> the text under it, up to the next heading."""
    parts = re.split(r"^### `([^`]+)`\s*$", markdown, flags=re.M)
    return {parts[i]: parts[i + 1].split("\n## ")[0] for i in range(1, len(parts) - 1, 2)}


EXAMPLES = sql_blocks(DOC.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def docs_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Fixture articles, stand-ins for tables other issues add, and a search index."""
    built = build_analyst_db(tmp_path_factory.mktemp("docs") / "built.duckdb")
    db = copy_db(built, built.with_name("full.duckdb"))
    prepare_full_db(db)
    return db


@pytest.fixture
def reader(docs_db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """What `tradewire sql` gives a reader: read-only, with fts loaded for search_articles."""
    con = duckdb.connect(str(docs_db), read_only=True)
    load_fts(con)
    yield con
    con.close()


def test_doc_has_at_least_twelve_examples() -> None:
    assert len(EXAMPLES) >= 12


@pytest.mark.parametrize("sql", EXAMPLES, ids=[f"example-{i + 1}" for i in range(len(EXAMPLES))])
def test_example_runs_and_answers(reader: duckdb.DuckDBPyConnection, sql: str) -> None:
    cursor = reader.execute(sql)
    rows = cursor.fetchall()
    assert cursor.description, "an example should return columns"
    if MAY_BE_EMPTY not in sql:
        assert rows, "an example that answers nothing on the fixtures teaches nothing"


def test_every_table_and_view_column_is_described(reader: duckdb.DuckDBPyConnection) -> None:
    sections = doc_sections(DOC.read_text(encoding="utf-8"))
    relations = reader.execute(
        "SELECT table_name, list(column_name ORDER BY column_index) FROM duckdb_columns() "
        "WHERE schema_name = 'main' AND NOT internal AND database_name = current_database() "
        "GROUP BY table_name"
    ).fetchall()
    assert {name for name, _ in relations} >= {
        "us_china_articles",
        "topic_daily",
        "entity_mentions",
        "source_health",
        "duplicate_clusters",
    }
    missing = [
        f"{name}.{column}"
        for name, columns in relations
        for column in columns
        if f"`{column}`" not in sections.get(name, "")
    ]
    assert not missing, f"describe these in docs/sql.md: {missing}"


def test_rare_earth_example_finds_the_gallium_story(reader: duckdb.DuckDBPyConnection) -> None:
    rows = reader.execute(EXAMPLES[0]).fetchall()
    assert [r[1] for r in rows] == [
        "China tightens rare earth export curbs on gallium and germanium"
    ]
