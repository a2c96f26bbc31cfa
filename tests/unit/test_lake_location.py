"""Where the lake lives, read from settings: catalog and data path forms, and the snapshot mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from transforms.derived import snapshot_mode
from transforms.lake import (
    LakeError,
    LakeLocation,
    PublishCounts,
    lake_location,
    masked,
    parse_catalog,
    parse_data_path,
    sql_literal,
)
from transforms.settings import Settings


def test_by_default_the_lake_sits_beside_the_database(tmp_path: Path) -> None:
    db = tmp_path / "data" / "trade.duckdb"
    location = lake_location(db, Settings(lake_catalog=None, lake_data_path=None))
    assert location.catalog == f"sqlite:{tmp_path / 'data' / 'trade.lake.sqlite'}"
    assert location.data_path == f"{tmp_path / 'data' / 'lake'}/"
    assert location.uri == f"ducklake:sqlite:{tmp_path / 'data' / 'trade.lake.sqlite'}"
    assert location.sqlite_file == tmp_path / "data" / "trade.lake.sqlite"
    assert not location.on_s3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgres:dbname=lake host=127.0.0.1", "postgres:dbname=lake host=127.0.0.1"),
        ("postgresql:dbname=lake", "postgres:dbname=lake"),
        ("ducklake:postgres:dbname=lake", "postgres:dbname=lake"),
    ],
)
def test_postgres_catalogs_keep_their_dsn(text: str, expected: str, tmp_path: Path) -> None:
    assert parse_catalog(text, tmp_path / "db.duckdb") == expected
    assert LakeLocation(expected, "s3://b/p/").kind == "postgres"


def test_sqlite_catalogs_become_absolute_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "db.duckdb"
    assert parse_catalog("sqlite:lake/cat.sqlite", db) == f"sqlite:{tmp_path / 'lake/cat.sqlite'}"
    assert parse_catalog("cat.sqlite", db) == f"sqlite:{tmp_path / 'cat.sqlite'}"


@pytest.mark.parametrize("text", ["lake.duckdb", "lake.ducklake", "duckdb:lake.db"])
def test_a_duckdb_file_catalog_is_refused_with_the_reason(text: str, tmp_path: Path) -> None:
    with pytest.raises(LakeError, match="one process at a time"):
        parse_catalog(text, tmp_path / "db.duckdb")


def test_an_unknown_catalog_names_the_forms_it_takes(tmp_path: Path) -> None:
    with pytest.raises(LakeError, match=r"sqlite:<file>.*postgres:<libpq dsn>"):
        parse_catalog("mysql:lake", tmp_path / "db.duckdb")


def test_data_paths(tmp_path: Path) -> None:
    db = tmp_path / "db.duckdb"
    assert parse_data_path("s3://bucket/prefix", db) == "s3://bucket/prefix/"
    assert parse_data_path("s3://bucket/prefix/", db) == "s3://bucket/prefix/"
    assert parse_data_path(str(tmp_path / "files"), db) == f"{tmp_path / 'files'}/"
    assert LakeLocation("sqlite:/x", "s3://bucket/p/").on_s3
    with pytest.raises(LakeError, match="only local folders and s3://"):
        parse_data_path("gs://bucket/prefix", db)


def test_settings_read_the_lake_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADEWIRE_LAKE_CATALOG", "postgres:dbname=lake")
    monkeypatch.setenv("TRADEWIRE_LAKE_DATA_PATH", "s3://analytics/lake")
    location = lake_location(tmp_path / "db.duckdb")
    assert location == LakeLocation("postgres:dbname=lake", "s3://analytics/lake/")


@pytest.mark.parametrize(
    ("value", "mode"),
    [
        ("lake", "lake"),
        ("file", "file"),
        ("off", "off"),
        ("LAKE", "lake"),
        # Older .env files: a boolean meant the whole-file copy, or none.
        ("true", "file"),
        ("1", "file"),
        ("yes", "file"),
        ("false", "off"),
        ("0", "off"),
        ("no", "off"),
    ],
)
def test_snapshot_mode_accepts_the_old_booleans(
    value: str, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADEWIRE_SNAPSHOT", value)
    assert Settings().snapshot == mode


def test_snapshot_mode_defaults_to_the_lake_and_rejects_the_unknown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TRADEWIRE_SNAPSHOT", raising=False)
    assert Settings(_env_file=None).snapshot == "lake"  # type: ignore[call-arg]
    monkeypatch.setenv("TRADEWIRE_SNAPSHOT", "sometimes")
    with pytest.raises(ValueError, match="'lake', 'file' or 'off'"):
        Settings()
    assert (snapshot_mode(True), snapshot_mode(False), snapshot_mode("lake")) == (
        "file",
        "off",
        "lake",
    )


def test_passwords_in_a_dsn_never_reach_messages() -> None:
    location = LakeLocation("postgres:dbname=lake password=s3cret host=db", "s3://b/")
    assert "s3cret" not in location.shown and "password=***" in location.shown
    assert (
        masked("at \"host=db PASSWORD = 'a b'\": refused") == 'at "host=db PASSWORD = ***": refused'
    )


def test_literals_are_quoted_for_statements_without_parameters() -> None:
    assert sql_literal("it's") == "'it''s'"


def test_publish_counts_say_what_happened() -> None:
    assert "up to date" in PublishCounts(snapshot=None, location="ducklake:x").describe()
    line = PublishCounts(snapshot=4, articles=100, removed=2, days=3, whole_tables=("articles",))
    assert line.describe().startswith("lake snapshot 4: 100 articles, 2 removed, 3 days")
    assert "whole: articles" in line.describe()
