"""Shared test set-up: Airflow points at a throw-away metadata DB before anything imports it."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# Set before any test module imports airflow: its configuration is read once per process.
_AIRFLOW_TMP = Path(tempfile.mkdtemp(prefix="tradewire-airflow-"))
os.environ["AIRFLOW_HOME"] = str(REPO)
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_AIRFLOW_TMP}/airflow.db"
os.environ["AIRFLOW__LOGGING__BASE_LOG_FOLDER"] = str(_AIRFLOW_TMP / "logs")
os.environ.setdefault("TRADEWIRE_LOCK_WAIT_SECONDS", "30")


@pytest.fixture
def fixtures_dir() -> Path:
    """Hand-written fixture files of this repository."""
    return FIXTURES


@pytest.fixture
def seed_folder(tmp_path: Path) -> Path:
    """A private copy of seeds/ (the .txt/.html articles only) that a test may change."""
    folder = tmp_path / "seeds"
    folder.mkdir()
    for path in (REPO / "seeds").iterdir():
        if path.suffix in {".txt", ".html"}:
            shutil.copy(path, folder / path.name)
    return folder


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A DuckDB file path that no test shares."""
    return tmp_path / "db" / "tradewire.duckdb"
