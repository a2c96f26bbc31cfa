"""Requests per host per minute, measured by the server, for one `tradewire run` of a live feed.

Serves an RSS feed with N entries (each linking to a fixture article page) on one loopback host,
runs the real CLI against it in a subprocess with the default politeness settings (5 s between
request starts to one host), and reports what the server saw: requests, the smallest gap
between two request starts, and the most requests in any 60-second window.

    .venv/bin/python bench/politeness.py [--entries 10] [--interval SECONDS]
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


def busiest_window(times: list[float], window: float = 60.0) -> int:
    """Most request starts inside any window of `window` seconds."""
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10)
    parser.add_argument(
        "--interval", type=float, default=None, help="override TRADEWIRE_FETCH_MIN_INTERVAL"
    )
    args = parser.parse_args()

    state = LocalServer("127.0.0.1", 0)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    entries = page_entries(args.entries)
    serve_pages(state, entries)
    serve_feed(state, entries)

    with tempfile.TemporaryDirectory(prefix="tradewire-politeness-") as tmp:
        env = {
            **os.environ,
            "TRADEWIRE_DB": f"{tmp}/bench.duckdb",
            "TRADEWIRE_STATE_DIR": f"{tmp}/state",
            "TRADEWIRE_RAW_DIR": f"{tmp}/raw",
            "TRADEWIRE_SNAPSHOT": "false",
        }
        if args.interval is not None:
            env["TRADEWIRE_FETCH_MIN_INTERVAL"] = str(args.interval)
        cmd = [
            str(REPO / ".venv" / "bin" / "tradewire"),
            "run",
            "--source",
            state.url("/feed.xml"),
            "--allow-host",
            "127.0.0.1",
            "--workers",
            "1",
        ]
        started = time.monotonic()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        wall = time.monotonic() - started
    httpd.shutdown()
    print(done.stdout.strip() or done.stderr.strip()[-2000:])

    times = sorted(h.at for h in state.hits)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    paths = {}
    for h in state.hits:
        kind = "robots" if h.path == "/robots.txt" else "feed" if h.path == "/feed.xml" else "page"
        paths[kind] = paths.get(kind, 0) + 1
    print(
        f"host 127.0.0.1: {len(times)} requests ({paths}) over {span:.1f} s; run took {wall:.1f} s"
    )
    print(f"smallest gap between request starts: {min(gaps) if gaps else 0:.2f} s")
    print(f"busiest 60 s window: {busiest_window(times)} requests")
    rate = (len(times) - 1) / span * 60 if span else float("nan")
    print(f"average rate: {rate:.1f} requests per host per minute")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
