"""The `articles` table's columns derived from the Article record: one declaration, every layout.

The landing's Arrow schema, its INSERT column list and casts, and the columns a changed article
rewrites all come from here; `tests/unit/test_schema.py` checks the migrations agree.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, fields
from typing import Any

import pyarrow as pa

from transforms.records import Article

_S = pa.string()
# DuckDB type -> how a landing batch carries it. Timestamps and JSON travel as ISO/JSON strings
# and are cast by the INSERT, except the landing's own clock (ingested_at).
_ARROW_OF: dict[str, pa.DataType] = {
    "VARCHAR": _S,
    "INTEGER": pa.int32(),
    "BOOLEAN": pa.bool_(),
    "DOUBLE": pa.float64(),
    "JSON": _S,
    "TIMESTAMPTZ": _S,
    "MAP(VARCHAR, VARCHAR)": pa.map_(_S, _S),
}
_DUCKDB_OF: dict[Any, str] = {
    str: "VARCHAR",
    int: "INTEGER",
    bool: "BOOLEAN",
    float: "DOUBLE",
    dict[str, str]: "MAP(VARCHAR, VARCHAR)",
}


@dataclass(frozen=True)
class Column:
    """One column of `articles`: its DuckDB type and how a landing batch carries it."""

    name: str
    duckdb: str
    arrow: pa.DataType

    @property
    def select(self) -> str:
        """The INSERT's expression for this column from the landing table."""
        if self.arrow == _S and self.duckdb != "VARCHAR":
            return f"CAST({self.name} AS {self.duckdb})"
        return self.name


def _non_optional(hint: Any) -> Any:
    """`X | None` -> X: nullability is the migrations' business, not the column type's."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


def record_columns() -> tuple[Column, ...]:
    """The Article fields stored in `articles`, in declaration order."""
    hints = typing.get_type_hints(Article)
    columns = []
    for f in fields(Article):
        if not f.metadata.get("column", True):
            continue
        duckdb = f.metadata.get("duckdb") or _DUCKDB_OF[_non_optional(hints[f.name])]
        columns.append(Column(f.name, duckdb, _ARROW_OF[duckdb]))
    return tuple(columns)


# What the tagger adds to the row (transforms/records.py TagResult).
TAG_COLUMNS = (
    Column("us_china", "BOOLEAN", pa.bool_()),
    Column("us_china_score", "DOUBLE", pa.float64()),
    Column("us_china_evidence", "JSON", _S),
    Column("taxonomy_version", "VARCHAR", _S),
    Column("model_version", "VARCHAR", _S),
)
# What the landing adds: its clock and the run it belongs to.
LANDING_COLUMNS = (
    Column("ingested_at", "TIMESTAMPTZ", pa.timestamp("us", tz="UTC")),
    Column("run_id", "VARCHAR", _S),
)
# Written once, by the INSERT of a new row, from ingested_at; never updated.
FIRST_INGESTED_AT = "first_ingested_at"
# Maintained by the database after landing (near-duplicate clusters, retagging).
MAINTAINED_COLUMNS = ("cluster_id", "retagged_at")

RECORD_COLUMNS = record_columns()
LANDED_COLUMNS: tuple[Column, ...] = RECORD_COLUMNS + TAG_COLUMNS + LANDING_COLUMNS
# Explicit, so an empty batch still has typed columns for DuckDB to compare against.
ARTICLE_SCHEMA = pa.schema([(c.name, c.arrow) for c in LANDED_COLUMNS])
# A changed article rewrites every landed column but its key.
UPDATABLE_COLUMNS = tuple(c.name for c in LANDED_COLUMNS if c.name != "article_id")


def insert_columns() -> str:
    """The INSERT's column list: the landed columns and first_ingested_at."""
    return ", ".join([*(c.name for c in LANDED_COLUMNS), FIRST_INGESTED_AT])


def insert_select() -> str:
    """The matching SELECT list over the landing table; first_ingested_at is ingested_at."""
    return ", ".join([*(c.select for c in LANDED_COLUMNS), "ingested_at"])
