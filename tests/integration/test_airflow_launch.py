"""The launcher stops everything its components started, and refuses profiles it cannot run."""

from __future__ import annotations

import sys
import textwrap
import time
from pathlib import Path

import pytest

from ingest.airflow_launch import (
    Component,
    LaunchError,
    Supervisor,
    launch_distributed,
    session_members,
)


def alive(pid: int) -> bool:
    """Running, not merely a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def test_stop_ends_a_process_that_left_its_components_process_group(tmp_path: Path) -> None:
    # As Airflow's task runner does: a child in a process group of its own, which a signal to
    # the component's group does not reach.
    marker = tmp_path / "child.pid"
    child = textwrap.dedent(
        f"""
        import os, time
        os.setpgid(0, 0)
        open({str(marker)!r}, "w").write(str(os.getpid()))
        time.sleep(600)
        """
    )
    parent = f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {child!r}]); time.sleep(600)"
    supervisor = Supervisor({}, out=lambda line: None)
    component = Component("worker", [sys.executable, "-c", parent])
    supervisor.start(component)
    deadline = time.monotonic() + 30
    while not (marker.exists() and marker.read_text()):
        assert time.monotonic() < deadline, "the child never started"
        time.sleep(0.05)
    pid = int(marker.read_text())
    assert component.process is not None
    assert pid in session_members(component.process.pid)
    supervisor.stop()
    deadline = time.monotonic() + 10
    while alive(pid):
        assert time.monotonic() < deadline, f"process {pid} outlived the stop"
        time.sleep(0.05)


def test_workers_elsewhere_are_refused_without_the_owners_api_address(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("TRADEWIRE_AIRFLOW_EXECUTION_API_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env of the user's to read the setting from
    with pytest.raises(LaunchError, match="TRADEWIRE_AIRFLOW_EXECUTION_API_URL"):
        launch_distributed(8080, 1.0, owner=False)


def test_sigterm_to_the_launcher_stops_its_components(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess

    marker = tmp_path / "component.pid"
    component = (
        f"import os, time; open({str(marker)!r}, 'w').write(str(os.getpid())); time.sleep(600)"
    )
    launcher = textwrap.dedent(
        f"""
        import sys
        from ingest.airflow_launch import Component, launch, stop_on_signals
        stop_on_signals()
        status = launch(0, 1.0, None, [Component("scheduler", [sys.executable, "-c", {component!r}])],
                        out=lambda line: None)
        print("stopped", status, flush=True)
        """
    )
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-c", launcher],
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(repo)},
        stdout=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not (marker.exists() and marker.read_text()):
        assert time.monotonic() < deadline and proc.poll() is None, "the component never started"
        time.sleep(0.05)
    pid = int(marker.read_text())
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert out.strip() == "stopped 0"
    deadline = time.monotonic() + 10
    while alive(pid):
        assert time.monotonic() < deadline, f"component {pid} outlived its launcher"
        time.sleep(0.05)
