"""Requests per host per minute, measured by the server, for `tradewire run`s of live feeds.

Serves RSS feeds whose entries link to fixture article pages, all on one loopback host, runs
the real CLI against them in subprocesses with the default politeness settings (5 s between
request starts to one host), and reports what the server saw: requests, the smallest gap
between two request starts, and the most requests in any 60-second window.

With --two-workers, two runs poll two feeds of the same host at once, each with its own
database, state and raw folders (as on two machines), sharing only the politeness store
TRADEWIRE_POLITENESS_URL names (--politeness-url, default redis://127.0.0.1:6379/0; pass ""
to see what two machines with only their local gates do).

    .venv/bin/python bench/politeness.py [--entries 10] [--interval SECONDS]
    .venv/bin/python bench/politeness.py --two-workers [--entries 5] [--interval SECONDS]
        [--politeness-url redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.integration.feedsite import page_entries, serve_feed, serve_pages  # noqa: E402
from tests.integration.loopback import LocalServer, make_handler  # noqa: E402

DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def busiest_window(times: list[float], window: float = 60.0) -> int:
    """Most request starts inside any window of `window` seconds."""
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def start_site() -> tuple[ThreadingHTTPServer, LocalServer]:
    """The loopback host every feed and page lives on."""
    state = LocalServer("127.0.0.1", 0)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    return httpd, state


def run_env(folder: str, interval: float | None, politeness_url: str | None) -> dict[str, str]:
    """One run's settings: everything it writes under its own folder."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "TRADEWIRE_DB": f"{folder}/bench.duckdb",
        "TRADEWIRE_STATE_DIR": f"{folder}/state",
        "TRADEWIRE_RAW_DIR": f"{folder}/raw",
        "TRADEWIRE_STAGING_ROOT": f"{folder}/staging",
        "TRADEWIRE_SNAPSHOT": "false",
    }
    if interval is not None:
        env["TRADEWIRE_FETCH_MIN_INTERVAL"] = str(interval)
    if politeness_url is not None:
        env["TRADEWIRE_POLITENESS_URL"] = politeness_url
    return env


def run_command(feed_url: str) -> list[str]:
    """The real CLI, from this checkout, polling one feed."""
    return [
        sys.executable,
        "-m",
        "ingest.cli",
        "run",
        "--source",
        feed_url,
        "--allow-host",
        "127.0.0.1",
        "--workers",
        "1",
    ]


def report(state: LocalServer, wall: float) -> None:
    """What the server saw."""
    times = sorted(h.at for h in state.hits)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    paths: dict[str, int] = {}
    for h in state.hits:
        kind = "robots" if h.path == "/robots.txt" else "feed" if "feed" in h.path else "page"
        paths[kind] = paths.get(kind, 0) + 1
    print(
        f"host 127.0.0.1: {len(times)} requests ({paths}) over {span:.1f} s; run took {wall:.1f} s"
    )
    print(f"smallest gap between request starts: {min(gaps) if gaps else 0:.3f} s")
    print(f"busiest 60 s window: {busiest_window(times)} requests")
    rate = (len(times) - 1) / span * 60 if span else float("nan")
    print(f"average rate: {rate:.1f} requests per host per minute")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=None, help="entries per feed")
    parser.add_argument(
        "--interval", type=float, default=None, help="override TRADEWIRE_FETCH_MIN_INTERVAL"
    )
    parser.add_argument("--two-workers", action="store_true", help="two runs, one host")
    parser.add_argument(
        "--politeness-url",
        default=DEFAULT_REDIS,
        help='with --two-workers: TRADEWIRE_POLITENESS_URL of both runs ("" = local gates)',
    )
    args = parser.parse_args()
    workers = 2 if args.two_workers else 1
    count = args.entries if args.entries is not None else (5 if args.two_workers else 10)

    httpd, state = start_site()
    feeds = []
    for w in range(workers):
        entries = page_entries(count, start=w * count)
        serve_pages(state, entries)
        path = f"/feed-{w}.xml" if args.two_workers else "/feed.xml"
        serve_feed(state, entries, path=path)
        feeds.append(state.url(path))

    with tempfile.TemporaryDirectory(prefix="tradewire-politeness-") as tmp:
        politeness = args.politeness_url if args.two_workers else None
        if args.two_workers:
            print(f"two runs, one host, politeness store: {politeness or 'local gates only'}")
        started = time.monotonic()
        procs = [
            subprocess.Popen(
                run_command(feed),
                env=run_env(f"{tmp}/machine-{w}", args.interval, politeness),
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for w, feed in enumerate(feeds)
        ]
        outputs = [p.communicate() for p in procs]
        wall = time.monotonic() - started
    httpd.shutdown()
    for (out, err), proc in zip(outputs, procs, strict=True):
        print(out.strip() if proc.returncode == 0 else err.strip()[-2000:])
    report(state, wall)
    return max(p.returncode for p in procs)


if __name__ == "__main__":
    sys.exit(main())
