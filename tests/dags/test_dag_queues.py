"""Queue routing for the distributed profile: what touches the DuckDB file goes to the writer
queue, extraction to any worker, and the queue name follows TRADEWIRE_WRITER_QUEUE."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from transforms.settings import Settings

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
# Tasks that read or write the DuckDB file or the seeds folder, by DAG.
OWNER_TASKS = {
    "trade_news_ingest": {"plan", "poll", "load"},
    "trade_news_transforms": {"refresh_derived", "refresh_search", "publish_snapshot"},
    "trade_news_retag": {"retag"},
}

# A fresh interpreter per queue name: the wiring module reads the environment once, at import.
_QUEUES = r"""
import json, sys
sys.path.append(sys.argv[1])
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
assert not bag.import_errors, bag.import_errors
print(json.dumps({d: {t.task_id: t.queue for t in dag.tasks} for d, dag in bag.dags.items()}))
"""


def task_queues(writer_queue: str | None) -> dict[str, dict[str, str]]:
    """Each DAG's task -> queue, parsed with TRADEWIRE_WRITER_QUEUE set (or unset)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("TRADEWIRE_WRITER_QUEUE", None)
    if writer_queue is not None:
        env["TRADEWIRE_WRITER_QUEUE"] = writer_queue
    out = subprocess.run(
        [sys.executable, "-c", _QUEUES, str(DAGS)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def test_tasks_on_the_duckdb_file_go_to_the_writer_queue_and_the_rest_anywhere() -> None:
    default = Settings.model_fields["writer_queue"].default
    for writer_queue, expected in ((None, default), ("owner-host-a", "owner-host-a")):
        queues = task_queues(writer_queue)
        for dag_id, owner_tasks in OWNER_TASKS.items():
            for task_id, queue in queues[dag_id].items():
                want = expected if task_id in owner_tasks else "default"
                assert queue == want, (writer_queue, dag_id, task_id, queue)
        assert queues["trade_news_ingest"]["extract"] == "default"
