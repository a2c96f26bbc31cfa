"""DuckDB extensions loaded offline from their PyPI packages (duckdb-extension-<name>).

This machine, like many a server, has no route to DuckDB's extension repository; every
extension we use ships as a wheel holding the binary for the matching DuckDB version, which
DuckDB's own INSTALL copies into its extension directory.
"""

from __future__ import annotations

import contextlib
import logging
from importlib import resources
from pathlib import Path

import duckdb

logger = logging.getLogger(__name__)

# DuckDB registers these under their scanner names; LOAD accepts either, duckdb_extensions()
# lists only the registered one.
REGISTERED_AS = {"postgres": "postgres_scanner", "sqlite": "sqlite_scanner"}


class ExtensionUnavailableError(RuntimeError):
    """The extension's package is not installed, or its binary does not load."""


def package_name(name: str) -> str:
    """The PyPI distribution shipping the extension, pinned to this DuckDB: what to install."""
    return f"duckdb-extension-{name}=={duckdb.__version__}"


def extension_file(name: str) -> Path:
    """The binary inside the duckdb_extension_<name> package, for this DuckDB version."""
    try:
        package = resources.files(f"duckdb_extension_{name}")
    except ModuleNotFoundError:
        raise ExtensionUnavailableError(
            f"the DuckDB extension {name!r} is not installed: install {package_name(name)} "
            "(it is in pyproject.toml; run `make setup`)"
        ) from None
    found = Path(str(package / "extensions" / f"v{duckdb.__version__}"))
    return found / f"{name}.duckdb_extension"


def is_loaded(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Say whether this connection's database already has the extension loaded."""
    row = con.execute(
        "SELECT count(*) FROM duckdb_extensions() WHERE loaded AND extension_name = ?",
        [REGISTERED_AS.get(name, name)],
    ).fetchone()
    return bool(row and row[0])


def load_extension(con: duckdb.DuckDBPyConnection, name: str, path: Path | None = None) -> None:
    """Load `name`, installing it first from its package's file (or `path`) when needed.

    Autoinstall is switched off: a query must never try to download an extension and hang on
    a network that is not there.
    """
    con.execute("SET autoinstall_known_extensions = false")
    if path is None:
        if is_loaded(con, name):
            return
        with contextlib.suppress(duckdb.Error):
            con.load_extension(name)  # installed by an earlier process
            return
    binary = path or extension_file(name)
    if not binary.is_file():
        raise ExtensionUnavailableError(
            f"no {name} extension binary at {binary}: install {package_name(name)}"
            + ("" if path is None else " or give the path of a <name>.duckdb_extension file")
        )
    try:
        # force: replace whatever an earlier install left that would not load.
        con.install_extension(str(binary), force_install=True)
        con.load_extension(name)
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        raise ExtensionUnavailableError(
            f"cannot load the {name} extension from {binary} ({package_name(name)}): {first}"
        ) from exc
    logger.debug("installed the %s extension from %s", name, binary)
