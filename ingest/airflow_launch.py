"""`make airflow` and `make airflow-distributed`: the API server first, then the rest.

`airflow standalone` starts all four at once, so the scheduler hands tasks to workers before
the API server answers; they fail to reach its execution API (tracebacks, SIGKILLs, first runs
late by minutes). And nothing checked the port: a second `make airflow` on the machine ran its
tasks against the first one's API server, where its JWTs fail validation. Here:

1. the port is checked first, and a busy one fails at once with what to do about it;
2. the API server starts alone, and the rest start only once its execution API answers
   (`/execution/health`) on that port, which every component is told through
   AIRFLOW__API__PORT and AIRFLOW__CORE__EXECUTION_API_SERVER_URL;
3. the components' output is shown prefixed with their names, and when one of them exits, or
   on Ctrl-C, every other is stopped.

    python -m ingest.airflow_launch [--port 8080] [--wait 180]

The distributed profile (`--profile distributed`, ingest/airflow_profile.py) runs the same
components under the CeleryExecutor, plus TRADEWIRE_CELERY_WORKERS `airflow celery worker`
processes; the metadata database (PostgreSQL) is created when missing and migrated, and the
writer pool imported, before anything starts. On a machine that does not own the DuckDB file,
`--workers-only` starts just the workers, none of them serving the writer queue.

No Airflow import: the components are `airflow` subprocesses.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ingest.airflow_profile import (
    ProfileError,
    ensure_database,
    profile_env,
    service_endpoints,
    unreachable,
    worker_argv,
    worker_env,
    worker_roles,
)
from transforms.settings import Settings

HOST = "127.0.0.1"
DEFAULT_PORT = 8080
HEALTH_PATH = "/execution/health"
# The API server imports all of Airflow and migrates nothing; a minute is plenty on a laptop,
# three on a machine whose two cores are shared.
DEFAULT_WAIT = 180.0
STOP_GRACE = 30.0
REPO = Path(__file__).resolve().parent.parent
PROC = Path("/proc")


class LaunchError(Exception):
    """Why the components could not be started; printed as one paragraph, exit status 1."""


@dataclass
class Component:
    """One long-running process: its name (the output prefix), command line, and the variables
    its environment adds to the one every component shares."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)


def airflow_command() -> str:
    """The `airflow` beside this interpreter (the project's virtualenv), else on PATH."""
    beside = Path(sys.executable).with_name("airflow")
    return str(beside) if beside.exists() else "airflow"


def default_components() -> tuple[Component, list[Component]]:
    """The API server, and what starts once it answers."""
    airflow = airflow_command()
    return Component("api-server", [airflow, "api-server"]), [
        Component(name, [airflow, name]) for name in ("scheduler", "dag-processor", "triggerer")
    ]


def distributed_components(
    settings: Settings, state_dir: Path, owner: bool = True, suffix: str = ""
) -> tuple[Component | None, list[Component]]:
    """The local components under the CeleryExecutor, plus this machine's Celery workers; with
    owner=False (a machine that does not own the DuckDB file) the workers alone."""
    airflow = airflow_command()
    state_dir.mkdir(parents=True, exist_ok=True)
    workers = [
        Component(
            role.name,
            worker_argv(airflow, role, settings.celery_concurrency, state_dir, suffix),
            worker_env(role),
        )
        for role in worker_roles(settings, owner)
    ]
    if not owner:
        return None, workers
    first, then = default_components()
    return first, [*then, *workers]


def prepare_metadata(env: Mapping[str, str], settings: Settings, log_dir: Path) -> None:
    """The metadata database as the profile needs it: created if missing, migrated, with the
    writer pool; `airflow db migrate` is idempotent and takes seconds when nothing is due."""
    check_services(settings)
    try:
        ensure_database(settings.airflow_metadata_url)
    except ProfileError as exc:
        raise LaunchError(str(exc)) from None
    migrate_metadata(env, log_dir)


def check_services(settings: Settings) -> None:
    """Fail fast, naming the setting, when the metadata database or the broker is down."""
    down = unreachable(service_endpoints(settings))
    if down:
        raise LaunchError("; ".join(down))


def migrate_metadata(env: Mapping[str, str], log_dir: Path) -> None:
    """`airflow db migrate` and the writer pool's import, into the database `env` names."""
    log_dir.mkdir(parents=True, exist_ok=True)
    airflow = airflow_command()
    pools = str(REPO / "dags" / "pools.json")
    for name, args in (
        ("db-migrate", ["db", "migrate"]),
        ("pools-import", ["pools", "import", pools]),
    ):
        log = log_dir / f"{name}.log"
        with log.open("wb") as out:
            done = subprocess.run(
                [airflow, *args], env=dict(env), stdout=out, stderr=subprocess.STDOUT, check=False
            )
        if done.returncode != 0:
            tail = log.read_text(errors="replace").splitlines()[-20:]
            raise LaunchError(f"`airflow {' '.join(args)}` failed; {log}:\n" + "\n".join(tail))


def port_in_use(port: int, host: str = HOST) -> bool:
    """Say whether something already listens on host:port (we could not bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def check_port(port: int, host: str = HOST) -> None:
    """Fail fast, saying what to do, when the port the API server needs is taken."""
    if not port_in_use(port, host):
        return
    what = "something else"
    if answers_health(f"http://{host}:{port}{HEALTH_PATH}"):
        what = "another Airflow API server (a second `make airflow`?)"
    raise LaunchError(
        f"port {port} on {host} is already in use by {what}. Two Airflow instances on one port "
        "send each other's tasks JWTs the other rejects. Stop the other one, or start this one "
        f"on a free port: `make airflow AIRFLOW_PORT={port + 1}`."
    )


def answers_health(url: str, timeout: float = 2.0) -> bool:
    """Say whether the URL answers 200 now."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback
            return int(response.status) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_until_healthy(
    url: str,
    process: subprocess.Popen[bytes] | None,
    wait: float,
    interval: float = 0.5,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Poll the health URL until it answers 200; fail when the process exits or time runs out."""
    deadline = clock() + wait
    while not answers_health(url):
        if process is not None and process.poll() is not None:
            raise LaunchError(f"the API server exited (status {process.returncode}) before {url}")
        if clock() > deadline:
            raise LaunchError(f"the API server did not answer {url} within {wait:.0f}s")
        time.sleep(interval)


def component_env(
    port: int, base: Mapping[str, str] | None = None, profile: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment every component gets: the one port, for serving and for tasks, and the
    profile's overrides (which may name the execution API as other machines reach it)."""
    env = dict(os.environ if base is None else base)
    env["AIRFLOW__API__PORT"] = str(port)
    env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = f"http://{HOST}:{port}/execution/"
    env.update(profile or {})
    return env


class Supervisor:
    """Starts components, copies their output with a name prefix, and stops them together."""

    def __init__(self, env: Mapping[str, str], out: Callable[[str], None] = print) -> None:
        self.env = dict(env)
        self.out = out
        self.running: list[Component] = []
        self.lock = threading.Lock()

    def start(self, component: Component) -> None:
        """Start one component and a thread that prints its output."""
        process = subprocess.Popen(
            list(component.argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**self.env, **component.env},
            start_new_session=True,  # Ctrl-C reaches us; we stop the components ourselves
        )
        component.process = process
        self.running.append(component)
        threading.Thread(target=self._pump, args=(component,), daemon=True).start()
        self.say(component.name, f"started (pid {process.pid})")

    def _pump(self, component: Component) -> None:
        assert component.process is not None and component.process.stdout is not None
        for raw in component.process.stdout:
            self.say(component.name, raw.decode("utf-8", "replace").rstrip())

    def say(self, name: str, line: str) -> None:
        """One line of output, prefixed with the component's name."""
        with self.lock:
            self.out(f"{name:>13} | {line}")

    def first_exited(self) -> Component | None:
        """A component whose process has ended, if any."""
        return next(
            (c for c in self.running if c.process is not None and c.process.poll() is not None),
            None,
        )

    def stop(self) -> None:
        """SIGTERM every component's process group, then SIGKILL what outlives the grace."""
        for component in reversed(self.running):
            process = component.process
            if process is not None and process.poll() is None:
                with_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for component in reversed(self.running):
            process = component.process
            if process is None:
                continue
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with_group(process.pid, signal.SIGKILL)
                process.wait()
        # A task runner has a process group of its own; once its supervisor is gone it would
        # run on as an orphan. What is left of each component's session goes with it.
        for component in self.running:
            if component.process is not None:
                with_session(component.process.pid, signal.SIGKILL)


def with_group(pid: int, sig: int) -> None:
    """Signal a component and the processes it started (its session's group)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def session_members(sid: int) -> list[int]:
    """Live processes of a session (what a component started, whatever their process group)."""
    members = []
    for entry in PROC.iterdir() if PROC.is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the command name (which may hold spaces): state ppid pgrp session ...
        after = text[text.rindex(")") + 2 :].split()
        if len(after) > 3 and int(after[3]) == sid:
            members.append(int(entry.name))
    return members


def with_session(sid: int, sig: int) -> None:
    """Signal every process of a component's session, as if its machine went down."""
    for pid in session_members(sid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


@contextlib.contextmanager
def running(
    port: int,
    wait: float,
    first: Component | None,
    then: Sequence[Component],
    env: Mapping[str, str],
    out: Callable[[str], None] = print,
) -> Iterator[Supervisor]:
    """Start `first`, wait for its health URL, start `then`; stop them all on leaving."""
    supervisor = Supervisor(env, out)
    url = f"http://{HOST}:{port}{HEALTH_PATH}"
    try:
        if first is not None:
            supervisor.start(first)
            supervisor.say("launch", f"waiting for {url} before starting the other components")
            wait_until_healthy(url, first.process, wait)
            supervisor.say("launch", "the API server answers; starting the others")
        for component in then:
            supervisor.start(component)
        yield supervisor
    finally:
        supervisor.stop()


def launch(
    port: int,
    wait: float,
    first: Component | None,
    then: Sequence[Component],
    out: Callable[[str], None] = print,
    until: Callable[[], bool] = lambda: False,
    env: Mapping[str, str] | None = None,
) -> int:
    """Start `first` (None: no API server here), wait for its health URL, start `then`;
    supervise until one exits (1), or `until()` holds or Ctrl-C (0)."""
    if first is not None:
        check_port(port)
    try:
        with running(port, wait, first, then, env or component_env(port), out) as supervisor:
            if first is not None:
                supervisor.say(
                    "launch",
                    f"Airflow UI: http://{HOST}:{port} -- log in as admin; the password is in "
                    ".airflow/passwords.json. Ctrl-C stops every component.",
                )
            while not until():
                exited = supervisor.first_exited()
                if exited is not None:
                    assert exited.process is not None
                    raise LaunchError(
                        f"{exited.name} exited (status {exited.process.returncode}); "
                        "stopping the other components"
                    )
                time.sleep(0.5)
            return 0
    except KeyboardInterrupt:
        out("launch: stopping every component")
        return 0


def launch_distributed(port: int, wait: float, owner: bool = True) -> int:
    """The distributed profile: metadata database ready, then the components and workers."""
    settings = Settings()
    home = Path(os.environ.get("AIRFLOW_HOME") or REPO)
    env = component_env(port, profile=profile_env(settings, port))
    if owner:
        check_port(port)
        prepare_metadata(env, settings, home / ".airflow" / "distributed")
    else:
        if not settings.airflow_execution_api_url:
            raise LaunchError(
                "workers on a machine that does not own the DuckDB file reach the API server on "
                "the machine that does: set TRADEWIRE_AIRFLOW_EXECUTION_API_URL to "
                "http://<owner>:<port>/execution/ (and its AIRFLOW__API__HOST to an address "
                "this machine reaches)"
            )
        check_services(settings)
    try:
        first, then = distributed_components(settings, home / ".airflow" / "distributed", owner)
    except ProfileError as exc:
        raise LaunchError(str(exc)) from None
    return launch(port, wait, first, then, env=env)


def stop_on_signals() -> None:
    """SIGTERM (a service manager, `kill`) stops the components as Ctrl-C does, and Ctrl-C
    works even when a shell started us in the background, where SIGINT comes in ignored."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `make airflow` and `make airflow-distributed`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("AIRFLOW_PORT") or DEFAULT_PORT)
    )
    parser.add_argument("--wait", type=float, default=DEFAULT_WAIT, help="seconds for the API")
    parser.add_argument(
        "--profile",
        choices=("local", "distributed"),
        default="local",
        help="local: LocalExecutor, SQLite; distributed: CeleryExecutor, PostgreSQL, Redis",
    )
    parser.add_argument(
        "--workers-only",
        action="store_true",
        help="distributed, on a machine that does not own the DuckDB file: Celery workers only",
    )
    args = parser.parse_args(argv)
    target = "make airflow" if args.profile == "local" else "make airflow-distributed"
    stop_on_signals()
    try:
        if args.profile == "distributed" or args.workers_only:
            return launch_distributed(args.port, args.wait, owner=not args.workers_only)
        first, then = default_components()
        return launch(args.port, args.wait, first, then)
    except LaunchError as exc:
        print(f"{target}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
