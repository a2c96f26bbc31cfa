"""The set-up creates the writer pool the DAGs name, from dags/pools.json, with Airflow's CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
POOLS = REPO / "dags" / "pools.json"
AIRFLOW = Path(sys.executable).parent / "airflow"


def test_pools_file_declares_the_one_slot_writer_pool_the_dags_use() -> None:
    sys.path.insert(0, str(REPO / "dags"))
    from tradewire_wiring import WRITER_POOL

    pools = json.loads(POOLS.read_text(encoding="utf-8"))
    assert pools[WRITER_POOL]["slots"] == 1
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "pools import dags/pools.json" in makefile  # what `make setup` runs


def test_airflow_pools_import_creates_it(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(REPO),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/airflow.db",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(tmp_path / "logs"),
    }
    for args in (["db", "migrate"], ["pools", "import", str(POOLS)]):
        done = subprocess.run(
            [str(AIRFLOW), *args], env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, done.stderr[-2000:]
    listed = subprocess.run(
        [str(AIRFLOW), "pools", "get", "duckdb_writer", "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert listed.returncode == 0, listed.stderr[-2000:]
    (pool,) = json.loads(listed.stdout)
    assert pool["pool"] == "duckdb_writer" and int(pool["slots"]) == 1
