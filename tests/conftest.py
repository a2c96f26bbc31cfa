"""Shared test set-up: Airflow points at a throw-away metadata DB before anything imports it.

Tests never read the user's seeds/ or data/: the seed article and registry they use are the
copies in tests/fixtures/seeds/, and every TRADEWIRE_* location a test does not set itself
points into a temporary folder of this session.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent
FIXTURES = TESTS / "fixtures"
# A copy of the bundled seed article (seeds/000_5cae3edb08e907fb.txt) and a registry like
# seeds/sources.toml: what tests treat as "the seeds", whatever a user drops into seeds/.
FIXTURE_SEEDS = FIXTURES / "seeds"
ARTICLE_SUFFIXES = {".txt", ".html"}

# Set before any test module imports airflow: its configuration is read once per process.
_AIRFLOW_TMP = Path(tempfile.mkdtemp(prefix="tradewire-airflow-"))
os.environ["AIRFLOW_HOME"] = str(REPO)
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_AIRFLOW_TMP}/airflow.db"
os.environ["AIRFLOW__LOGGING__BASE_LOG_FOLDER"] = str(_AIRFLOW_TMP / "logs")
os.environ.setdefault("TRADEWIRE_LOCK_WAIT_SECONDS", "30")
# The defaults of transforms/settings.py are seeds/ and data/ of the working tree, holding
# whatever the user put there; a test that passes no paths of its own gets these instead (set,
# not defaulted: a TRADEWIRE_SEEDS_DIR exported in the user's shell must not leak in either).
_SESSION = Path(tempfile.mkdtemp(prefix="tradewire-tests-"))
atexit.register(shutil.rmtree, _SESSION, ignore_errors=True)
shutil.copytree(FIXTURE_SEEDS, _SESSION / "seeds")
os.environ["TRADEWIRE_SEEDS_DIR"] = str(_SESSION / "seeds")
os.environ["TRADEWIRE_SOURCES_FILE"] = str(_SESSION / "seeds" / "sources.toml")
os.environ["TRADEWIRE_DB"] = str(_SESSION / "data" / "tradewire.duckdb")
os.environ["TRADEWIRE_STAGING_ROOT"] = str(_SESSION / "data" / "staging")
os.environ["TRADEWIRE_STATE_DIR"] = str(_SESSION / "data" / "state")
os.environ["TRADEWIRE_RAW_DIR"] = str(_SESSION / "data" / "raw")
# As Airflow's DAG bundle does for the processes that parse and run DAG files: the DAG files
# import their shared wiring module (dags/tradewire_wiring.py) from the DAG folder.
if str(REPO / "dags") not in sys.path:
    sys.path.append(str(REPO / "dags"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/integration/ is an integration test (`make test-fast` skips them)."""
    integration = TESTS / "integration"
    for item in items:
        if item.path.is_relative_to(integration):
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def fixtures_dir() -> Path:
    """Hand-written fixture files of this repository."""
    return FIXTURES


@pytest.fixture
def seed_folder(tmp_path: Path) -> Path:
    """A private copy of the seed article (tests/fixtures/seeds/, never the user's seeds/) that
    a test may change."""
    folder = tmp_path / "seeds"
    folder.mkdir()
    for path in FIXTURE_SEEDS.iterdir():
        if path.suffix in ARTICLE_SUFFIXES:
            shutil.copy(path, folder / path.name)
    return folder


@pytest.fixture
def seed_registry(seed_folder: Path, tmp_path: Path) -> Path:
    """A sources registry (for TRADEWIRE_SOURCES_FILE) whose one source is seed_folder."""
    registry = tmp_path / "registry" / "sources.toml"
    registry.parent.mkdir()
    registry.write_text(
        f'[[source]]\nname = "seeds"\nkind = "folder"\npath = "{seed_folder}"\n',
        encoding="utf-8",
    )
    return registry


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A DuckDB file path that no test shares."""
    return tmp_path / "db" / "tradewire.duckdb"
