"""The ingest DAG run by the scheduler of `make airflow`, timed from the metadata database.

The launcher `make airflow` uses starts every component in a throw-away Airflow home over a
folder of pages; the 15-minute schedule's latest tick, which a scheduler with catch-up off runs
as soon as the DAG is parsed, is the scheduled run that lands them. Its duration is the
dag_run's start to end as the scheduler recorded them, so Airflow's per-task costs (a process
per task, queueing, heartbeats) count as they do for users; the components' start-up does not.
"""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

DAG_ID = "trade_news_ingest"
TERMINAL = ("success", "failed")


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def first_finished_run(airflow_db: Path) -> dict[str, Any] | None:
    """The earliest trade_news_ingest run that has finished, with its recorded times."""
    if not airflow_db.exists():
        return None
    with sqlite3.connect(f"file:{airflow_db}?mode=ro", uri=True, timeout=10) as con:
        try:
            row = con.execute(
                "SELECT run_id, run_type, state, "
                "(julianday(end_date) - julianday(start_date)) * 86400.0, "
                "(julianday(start_date) - julianday(queued_at)) * 86400.0 "
                "FROM dag_run WHERE dag_id = ? AND state IN (?, ?) ORDER BY start_date LIMIT 1",
                [DAG_ID, *TERMINAL],
            ).fetchone()
        except sqlite3.OperationalError:  # the schema is still being created
            return None
    if row is None:
        return None
    run_id, run_type, state, seconds, queued = row
    return {
        "run_id": run_id,
        "run_type": run_type,
        "state": state,
        "seconds": round(float(seconds), 3),
        "queued_s": round(float(queued or 0.0), 3),
    }


def measure_scheduled_run(
    env: dict[str, str], airflow_db: Path, pages: int, timeout: float = 1800.0
) -> dict[str, Any]:
    """Start the components, wait for the first run to finish, stop them; its rate and times."""
    port = free_port()
    log = airflow_db.with_name("scheduler-run.log")
    started = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ingest.airflow_launch", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[1],
            start_new_session=True,
        )
        try:
            run = None
            while run is None:
                if proc.poll() is not None:
                    raise RuntimeError(f"the launcher exited ({proc.returncode}); see {log}")
                if time.perf_counter() - started > timeout:
                    raise RuntimeError(f"no {DAG_ID} run finished within {timeout:.0f}s; see {log}")
                time.sleep(1.0)
                run = first_finished_run(airflow_db)
        finally:
            proc.send_signal(2)  # SIGINT: the launcher stops every component it started
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
    if run["state"] != "success":
        raise RuntimeError(f"the scheduled run {run['run_id']} failed; see {log}")
    run["pages"] = pages
    run["pages_per_s"] = round(pages / run["seconds"], 2)
    return run
