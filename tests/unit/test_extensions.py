"""Extensions load offline from their PyPI packages, and say which package is missing."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from transforms.extensions import (
    REGISTERED_AS,
    ExtensionUnavailableError,
    extension_file,
    is_loaded,
    load_extension,
    package_name,
)

LAKE_EXTENSIONS = ("ducklake", "postgres", "sqlite", "httpfs")


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    """A connection whose extension directory is empty: whatever loads was installed here."""
    con = duckdb.connect()
    con.execute(f"SET extension_directory = '{tmp_path / 'extensions'}'")
    return con


@pytest.mark.parametrize("name", LAKE_EXTENSIONS)
def test_each_lake_extension_installs_from_its_package_and_loads(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, name: str
) -> None:
    assert not is_loaded(con, name)
    load_extension(con, name)
    assert is_loaded(con, name)
    # Installed from the package's file into this connection's (empty) extension directory.
    # postgres and sqlite register as their scanners; either name finds them loaded.
    (registered, path) = con.execute(
        "SELECT extension_name, install_path FROM duckdb_extensions() "
        "WHERE loaded AND install_path LIKE ?",
        [f"{tmp_path}%"],
    ).fetchone() or (None, None)
    assert registered == REGISTERED_AS.get(name, name)
    assert path is not None and Path(path).is_file()
    assert extension_file(name).is_file()


def test_loading_turns_autoinstall_off(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("SET autoinstall_known_extensions = true")
    load_extension(con, "sqlite")
    assert con.execute("SELECT current_setting('autoinstall_known_extensions')").fetchone() == (
        False,
    )


def test_a_second_connection_loads_what_the_first_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transforms import extensions

    directory = tmp_path / "extensions"
    first = duckdb.connect()
    first.execute(f"SET extension_directory = '{directory}'")
    load_extension(first, "sqlite")
    # The package's file gone: only the copy installed above can satisfy the next load.
    monkeypatch.setattr(extensions, "extension_file", lambda name: tmp_path / "gone")
    second = duckdb.connect()
    second.execute(f"SET extension_directory = '{directory}'")
    load_extension(second, "sqlite")
    assert is_loaded(second, "sqlite")


def test_a_missing_package_is_named_with_its_version(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(ExtensionUnavailableError) as caught:
        load_extension(con, "nosuchext")
    message = str(caught.value)
    assert f"duckdb-extension-nosuchext=={duckdb.__version__}" in message
    assert package_name("nosuchext") in message


def test_a_missing_file_given_by_path_is_a_clear_error(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    missing = tmp_path / "absent.duckdb_extension"
    with pytest.raises(ExtensionUnavailableError, match="no sqlite extension binary at"):
        load_extension(con, "sqlite", missing)


def test_a_broken_binary_is_a_clear_error_not_a_crash(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    broken = tmp_path / "sqlite.duckdb_extension"
    broken.write_bytes(b"not an extension at all")
    with pytest.raises(ExtensionUnavailableError, match="cannot load the sqlite extension"):
        load_extension(con, "sqlite", broken)
    assert not is_loaded(con, "sqlite")
