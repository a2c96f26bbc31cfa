"""Politeness across machines: the Redis gate spaces request starts to one host for every worker.

Workers here share nothing but Redis (each has its own state folder, as on its own machine);
the loopback HTTP server records when each request arrived, so the gaps are measured where a
site would measure them. Each test's server listens on its own 127.x.y.z address, so its host
key in Redis is its own and concurrent or earlier runs cannot touch its slots.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from ingest.fetch import Fetcher
from ingest.orchestration import plan_for_run, poll_for_run
from ingest.politeness import (
    HostGate,
    PolitenessTimeout,
    PolitenessUnavailable,
    RedisHostGate,
    open_gate,
    redact_url,
)
from ingest.polling import poll_config
from tests.integration.loopback import (
    TEST_POLICY,
    LocalServer,
    send,
    serve_loopback,
    static,
)
from tests.integration.s3server import free_port
from transforms.settings import Settings

pytestmark = pytest.mark.integration

REDIS_URL = "redis://127.0.0.1:6379/0"
REPO = Path(__file__).resolve().parents[2]
# The gate adds SEND_MARGIN to every interval for the time between "go" and the request
# reaching the site; what a loaded machine's scheduling adds beyond that, the server sees.
CLOCK_TOLERANCE = 0.02


@pytest.fixture(scope="module")
def redis_url() -> str:
    """The machine's Redis, or a skip saying it is not there."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        pytest.skip(f"Redis is not reachable at {REDIS_URL} ({exc}): the shared gate needs it")
    finally:
        client.close()
    return REDIS_URL


def unique_loopback_host() -> str:
    """A 127.x.y.z address of our own (all of 127/8 is loopback on Linux)."""
    for _ in range(20):
        host = f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
        with socket.socket() as sock:
            try:
                sock.bind((host, 0))
            except OSError:
                continue
        return host
    pytest.skip("no 127.x.y.z address other than 127.0.0.1 can be bound here")


@pytest.fixture
def site(redis_url: str) -> Iterator[LocalServer]:
    """A loopback HTTP server on its own address; its Redis keys are dropped afterwards."""
    import redis

    with serve_loopback(unique_loopback_host()) as state:
        try:
            yield state
        finally:
            client = redis.Redis.from_url(redis_url)
            for key in client.scan_iter(match=f"tradewire:politeness:{state.host}:*"):
                client.delete(key)
            client.close()


def arrivals(server: LocalServer, prefix: str = "/") -> list[float]:
    """Server-side arrival times of the requests whose path starts with prefix, sorted."""
    with server.lock:
        return sorted(h.at for h in server.hits if h.path.startswith(prefix))


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in zip(times, times[1:], strict=False)]


WORKER = textwrap.dedent(
    """
    import sys
    from dataclasses import replace
    from ingest.fetch import Fetcher
    from tests.integration.loopback import TEST_POLICY

    base, state_dir, politeness_url, worker, count, interval = sys.argv[1:7]
    policy = replace(TEST_POLICY, min_interval=float(interval), slot_wait_timeout=30.0)
    host = base.split("//", 1)[1].split(":", 1)[0]
    with Fetcher(user_agent="tradewire-test/0.1", contact_url="https://example.org",
                 state_dir=state_dir, policy=policy, allowed_hosts={host},
                 politeness_url=politeness_url) as fetcher:
        print("ready", flush=True)
        sys.stdin.readline()  # start together: the parent says go once both are ready
        for i in range(int(count)):
            result = fetcher.fetch(f"{base}/p?w={worker}&i={i}")
            assert result.ok, result.error
    """
)


def run_workers(
    site: LocalServer, tmp_path: Path, politeness_url: str, count: int, interval: float
) -> None:
    """Two worker processes, each with its own state folder, fetching `count` pages apiece."""
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                site.url(""),
                str(tmp_path / f"machine-{w}"),  # nothing shared on disk, as on two machines
                politeness_url,
                str(w),
                str(count),
                str(interval),
            ],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for w in range(2)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        assert [p.wait(timeout=60) for p in procs] == [0, 0]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_two_processes_never_start_requests_closer_than_the_interval(
    site: LocalServer, redis_url: str, tmp_path: Path
) -> None:
    interval, count = 0.25, 6
    site.routes["/p"] = static(b"<html>page</html>")
    run_workers(site, tmp_path, redis_url, count, interval)
    times = arrivals(site)
    assert len(times) == 2 * (1 + count)  # each worker reads robots.txt once, then its pages
    assert min(gaps(times)) >= interval - CLOCK_TOLERANCE
    # The workers really competed: their page requests interleave rather than run in turn.
    with site.lock:
        hits = sorted(site.hits, key=lambda h: h.at)
    workers = [h.path.split("w=")[1][0] for h in hits if h.path.startswith("/p?")]
    assert sum(a != b for a, b in zip(workers, workers[1:], strict=False)) >= 2


def test_crawl_delay_holds_across_workers_through_redis(
    site: LocalServer, redis_url: str, tmp_path: Path
) -> None:
    delay = 0.3
    site.routes["/robots.txt"] = static(b"User-agent: *\nCrawl-delay: 0.3\n")
    site.routes["/p"] = static(b"x")
    policy = replace(TEST_POLICY, min_interval=0.01)
    fetchers = [
        Fetcher(
            user_agent="tradewire-test/0.1",
            contact_url="https://example.org",
            state_dir=tmp_path / f"machine-{w}",
            policy=policy,
            allowed_hosts={site.host},
            politeness_url=redis_url,
        )
        for w in range(2)
    ]

    def run(fetcher: Fetcher, worker: int) -> None:
        for i in range(3):
            assert fetcher.fetch(site.url(f"/p?w={worker}&i={i}")).ok

    threads = [threading.Thread(target=run, args=(f, w)) for w, f in enumerate(fetchers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    for fetcher in fetchers:
        fetcher.close()
    pages = arrivals(site, "/p")
    assert len(pages) == 6
    assert min(gaps(pages)) >= delay - CLOCK_TOLERANCE


def test_at_most_max_in_flight_per_host_across_workers(
    site: LocalServer, redis_url: str, tmp_path: Path
) -> None:
    active = peak = 0
    lock = threading.Lock()
    release = threading.Event()

    def slow(h: BaseHTTPRequestHandler) -> None:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
            if active == 2:
                release.set()
        release.wait(timeout=2)  # hold both slots until the second request is in
        with lock:
            active -= 1
        send(h, 200, b"x")

    site.routes["/robots.txt"] = static(b"", 404)
    site.routes["/slow"] = slow
    policy = replace(TEST_POLICY, min_interval=0.01, read_timeout=5.0, total_timeout=10.0)
    fetchers = [
        Fetcher(
            user_agent="tradewire-test/0.1",
            contact_url="https://example.org",
            state_dir=tmp_path / f"machine-{w}",
            policy=policy,
            allowed_hosts={site.host},
            politeness_url=redis_url,
        )
        for w in range(3)
    ]
    threads = [
        threading.Thread(target=lambda f=f: [f.fetch(site.url(f"/slow?{i}")) for i in range(2)])
        for f in fetchers
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    for fetcher in fetchers:
        fetcher.close()
    assert len(arrivals(site, "/slow")) == 6
    assert peak == 2


def test_a_dead_holders_slot_frees_after_its_lease(redis_url: str) -> None:
    host = f"lease-{uuid.uuid4().hex[:8]}"
    namespace = f"tradewire-test:{uuid.uuid4().hex[:8]}"
    # Two holders that die without releasing (their processes were killed mid-request).
    held = RedisHostGate(redis_url, 2, 5.0, lease=60.0, namespace=namespace)
    for token in ("dead-1", "dead-2"):
        held.acquire_turn(host, f"{namespace}:{host}:holders", token, 0.0)
    impatient = RedisHostGate(redis_url, 2, 0.0, namespace=namespace)
    with pytest.raises(PolitenessTimeout), impatient.slot(host, 0.0):
        pass
    # Holders with a short lease: a waiting worker gets its slot once the lease runs out.
    short = f"{host}-short"
    brief = RedisHostGate(redis_url, 2, 5.0, lease=0.2, namespace=namespace)
    for token in ("dead-1", "dead-2"):
        brief.acquire_turn(short, f"{namespace}:{short}:holders", token, 0.0)
    patient = RedisHostGate(redis_url, 2, 10.0, namespace=namespace)
    with patient.slot(short, 0.0) as started:
        assert started > 0
    for key in patient.client.scan_iter(match=f"{namespace}:*"):
        patient.client.delete(key)


def test_the_settings_choose_the_gate(redis_url: str, tmp_path: Path) -> None:
    assert isinstance(open_gate("", tmp_path, 2, 1.0), HostGate)  # the default: local files
    assert isinstance(open_gate(redis_url, tmp_path, 2, 1.0), RedisHostGate)
    config = poll_config(Settings(politeness_url=redis_url))
    assert config.politeness_url == redis_url
    fetcher = Fetcher(
        user_agent="t",
        contact_url="https://example.org",
        state_dir=tmp_path,
        politeness_url=config.politeness_url,
    )
    assert isinstance(fetcher.gate, RedisHostGate)
    fetcher.close()
    with pytest.raises(ValueError, match="expected redis://"):
        open_gate("memcached://127.0.0.1:11211", tmp_path, 2, 1.0)
    assert redact_url("redis://user:s3cret@host:6379/0") == "redis://user:***@host:6379/0"


def test_an_unreachable_store_fails_the_poll_task_with_a_clear_message(
    server: LocalServer, tmp_path: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.routes["/feed.xml"] = static(b"<rss/>")
    registry = tmp_path / "sources.toml"
    registry.write_text(
        f'[[source]]\nname = "wire"\nkind = "feed"\nurl = "{server.url("/feed.xml")}"\n',
        encoding="utf-8",
    )
    nobody = f"redis://127.0.0.1:{free_port()}/0"
    for name, value in {
        "TRADEWIRE_SOURCES_FILE": str(registry),
        "TRADEWIRE_ALLOWED_HOSTS": "127.0.0.1",
        "TRADEWIRE_STATE_DIR": str(tmp_path / "state"),
        "TRADEWIRE_STAGING_ROOT": str(tmp_path / "staging"),
        "TRADEWIRE_DB": str(db_path),
        "TRADEWIRE_POLITENESS_URL": nobody,
    }.items():
        monkeypatch.setenv(name, value)
    (group,) = plan_for_run("run-no-redis")
    started = time.monotonic()
    with pytest.raises(PolitenessUnavailable, match="TRADEWIRE_POLITENESS_URL") as failed:
        poll_for_run(group, "run-no-redis")
    assert nobody in str(failed.value)
    assert time.monotonic() - started < 30, "a refused connection fails fast, it does not hang"
    assert server.hits == [], "nothing was fetched without the shared gate"


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A private redis-server on a free port, for a test that stops it."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed: cannot stop a Redis mid-run")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.skip("a private redis-server did not start")
            time.sleep(0.02)
    client.close()
    try:
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)


def test_losing_redis_mid_run_stops_fetching_with_a_clear_error(
    own_redis: tuple[str, subprocess.Popen[bytes]], server: LocalServer, tmp_path: Path
) -> None:
    url, proc = own_redis
    server.routes["/robots.txt"] = static(b"", 404)
    server.routes["/p"] = static(b"x")
    fetcher = Fetcher(
        user_agent="tradewire-test/0.1",
        contact_url="https://example.org",
        state_dir=tmp_path / "state",
        policy=replace(TEST_POLICY, min_interval=0.01),
        allowed_hosts={"127.0.0.1"},
        politeness_url=url,
    )
    assert fetcher.fetch(server.url("/p?i=0")).ok
    proc.terminate()
    proc.wait(timeout=10)
    seen = len(server.hits)
    with pytest.raises(PolitenessUnavailable, match="unreachable"):
        fetcher.fetch(server.url("/p?i=1"))  # not an error row per page: the run stops
    assert len(server.hits) == seen
    fetcher.close()


def test_the_default_policy_keeps_local_state(tmp_path: Path) -> None:
    fetcher = Fetcher(user_agent="t", contact_url="https://example.org", state_dir=tmp_path)
    assert isinstance(fetcher.gate, HostGate)
    assert poll_config(Settings()).politeness_url == ""
    fetcher.close()
