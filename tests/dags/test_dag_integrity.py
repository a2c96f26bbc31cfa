"""The DAG folder imports cleanly, does no I/O at parse time, and follows our task policy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"

# Runs in a fresh interpreter: Airflow and the SDK are imported first (their own start-up reads
# config files), then an audit hook records what importing each DAG file does.
_PROBE = r"""
import importlib.util, json, sys, sysconfig
from pathlib import Path
import airflow.sdk, croniter, pendulum  # noqa: F401  (their import-time probing is not ours)
sys.path.append(sys.argv[1])  # as Airflow's DAG bundle does: DAG files import their wiring

lib_roots = tuple({sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"],
                   sysconfig.get_paths()["platlib"], sys.prefix, sys.base_prefix})
events = []
armed = False

def hook(event, args):
    if not armed:
        return
    if event == "open":
        path = str(args[0])
        if isinstance(args[0], int) or path.startswith(lib_roots) or path.endswith((".py", ".pyc")):
            return
        events.append(f"open {path}")
    elif event in ("os.listdir", "os.scandir"):
        # The import system lists sys.path entries and library folders; that is not our I/O.
        path = str(args[0])
        if path.startswith(lib_roots) or path in sys.path or path in ("", "."):
            return
        if Path(path, "__init__.py").exists():  # a package being imported
            return
        events.append(f"{event} {path}")
    elif event in ("socket.connect", "socket.getaddrinfo", "subprocess.Popen", "sqlite3.connect"):
        events.append(f"{event} {args[0]!r}"[:200])

sys.addaudithook(hook)
for dag_file in sorted(Path(sys.argv[1]).glob("*.py")):
    spec = importlib.util.spec_from_file_location(dag_file.stem, dag_file)
    module = importlib.util.module_from_spec(spec)
    armed = True
    spec.loader.exec_module(module)
    armed = False
print(json.dumps(events))
"""


def probe_dag_folder(folder: Path) -> list[str]:
    """I/O events recorded while importing every DAG file in `folder` in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(folder)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=300,
        check=True,
    )
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


def test_dag_files_do_no_io_at_parse_time() -> None:
    assert probe_dag_folder(DAGS) == []


def test_the_probe_would_catch_io(tmp_path: Path) -> None:
    noisy = tmp_path / "noisy_dag.py"
    noisy.write_text("open(__file__.replace('.py', '.txt'), 'w').write('x')\n")
    assert any("noisy_dag.txt" in e for e in probe_dag_folder(tmp_path))


@pytest.fixture(scope="module")
def dagbag():  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_dag_folder_has_no_import_errors(dagbag) -> None:  # type: ignore[no-untyped-def]
    assert dagbag.import_errors == {}
    assert "trade_news_ingest" in dagbag.dag_ids


def test_ingest_dag_policy(dagbag) -> None:  # type: ignore[no-untyped-def]
    dag = dagbag.dags["trade_news_ingest"]
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert dag.doc_md and "duckdb_writer" in dag.doc_md
    assert dag.timetable.timetable.expression == "*/15 * * * *"
    assert [dag.timetable.asset_condition.name] == ["tradewire_inbox"]
    for task in dag.tasks:
        assert task.retries >= 1, task.task_id
        assert task.retry_delay >= timedelta(seconds=10), task.task_id
    load = dag.get_task("load")
    assert load.pool == "duckdb_writer"
    assert [o.name for o in load.outlets] == ["tradewire_articles"]
    writers = [t.task_id for t in dag.tasks if t.pool == "duckdb_writer"]
    assert writers == ["load"]


def test_retag_dag_policy(dagbag) -> None:  # type: ignore[no-untyped-def]
    dag = dagbag.dags["trade_news_retag"]
    assert dag.schedule is None or dag.timetable.summary in ("None", "none")
    assert dag.catchup is False
    assert dag.doc_md and "duckdb_writer" in dag.doc_md
    for task in dag.tasks:
        assert task.retries >= 1, task.task_id
        assert task.retry_delay >= timedelta(seconds=10), task.task_id
    assert [t.task_id for t in dag.tasks] == ["retag"]
    assert dag.get_task("retag").pool == "duckdb_writer"
