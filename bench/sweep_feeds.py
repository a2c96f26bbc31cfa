"""Sweep a feed corpus through the real Fetcher and parse_feed, to find crashes and blind spots.

Serves every file under the corpus directory over a loopback HTTP server, fetches each with
`Fetcher` (guard, robots, caps and politeness all active; the interval is short because the
server is ours) and parses it with `parse_feed`. Prints counts; never crashes on a document.

    .venv/bin/python bench/sweep_feeds.py [--corpus DIR] [--interval SECONDS] [--limit N]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from ingest.feeds import parse_feed  # noqa: E402
from ingest.fetch import Fetcher, FetchPolicy, FetchResult  # noqa: E402

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "feeds"
CONTENT_TYPES = {
    ".xml": "application/xml",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".rdf": "application/rdf+xml",
    ".json": "application/json",
}


@dataclass
class Tally:
    """Counts across the sweep, updated from worker threads."""

    documents: int = 0
    with_entries: int = 0
    entries: int = 0
    bozo: int = 0
    fetch_errors: Counter[str] = field(default_factory=Counter)
    parse_errors: Counter[str] = field(default_factory=Counter)
    crashes: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def corpus_files(root: Path) -> Iterator[Path]:
    """Every regular file under the corpus, in a stable order."""
    yield from sorted(p for p in root.rglob("*") if p.is_file())


def serve(root: Path) -> tuple[ThreadingHTTPServer, int]:
    """Serve the corpus read-only on an ephemeral loopback port."""

    class CorpusHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            relative = unquote(urlsplit(self.path).path).lstrip("/")
            target = (root / relative).resolve()
            if not target.is_file() or root.resolve() not in target.parents:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = target.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPES.get(target.suffix.lower(), "text/plain"))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), CorpusHandler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, httpd.server_address[1]


def sweep_one(fetcher: Fetcher, url: str, tally: Tally) -> None:
    """Fetch and parse one document, folding the outcome into the tally."""
    try:
        result: FetchResult = fetcher.fetch(url)
        if result.error_class is not None or result.body is None:
            with tally.lock:
                tally.documents += 1
                tally.fetch_errors[result.error_class or "no_body"] += 1
            return
        feed = parse_feed(result.body, result.final_url, result.headers.get("content-type"))
        with tally.lock:
            tally.documents += 1
            tally.entries += len(feed.entries)
            tally.with_entries += bool(feed.entries)
            tally.bozo += feed.bozo
            if feed.error:
                tally.parse_errors[feed.error.split(":", 1)[0][:60]] += 1
    except Exception as exc:  # the sweep exists to find these; record, do not stop
        with tally.lock:
            tally.documents += 1
            tally.crashes[type(exc).__name__] += 1


def main(argv: list[str] | None = None) -> int:
    """Run the sweep and print the counts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--interval", type=float, default=0.0, help="politeness interval (s)")
    parser.add_argument("--limit", type=int, default=0, help="stop after N documents (0 = all)")
    args = parser.parse_args(argv)

    root: Path = args.corpus
    if not root.is_dir():
        print(f"corpus {root} not found; nothing to sweep")
        return 0
    files = list(corpus_files(root))
    if args.limit:
        files = files[: args.limit]
    httpd, port = serve(root)
    tally = Tally()
    started = time.monotonic()
    policy = replace(FetchPolicy(), min_interval=args.interval, max_attempts=1)
    with (
        tempfile.TemporaryDirectory(prefix="tradewire-sweep-") as state,
        Fetcher(
            user_agent="tradewire-sweep/0.1",
            contact_url="https://github.com/tradewire/tradewire",
            state_dir=state,
            policy=policy,
            allowed_hosts={"127.0.0.1"},
        ) as fetcher,
    ):
        urls = [f"http://127.0.0.1:{port}/{quote(p.relative_to(root).as_posix())}" for p in files]
        with ThreadPoolExecutor(max_workers=policy.max_in_flight) as pool:
            list(pool.map(lambda u: sweep_one(fetcher, u, tally), urls))
    httpd.shutdown()
    httpd.server_close()
    took = time.monotonic() - started

    print(f"corpus:                 {root}")
    print(f"documents:              {tally.documents}")
    print(f"documents with entries: {tally.with_entries}")
    print(f"total entries:          {tally.entries}")
    print(f"bozo documents:         {tally.bozo}")
    print(f"fetch errors by class:  {dict(tally.fetch_errors.most_common()) or '{}'}")
    print(f"parse errors by class:  {dict(tally.parse_errors.most_common()) or '{}'}")
    print(f"crashes:                {dict(tally.crashes) or '{}'}")
    print(f"seconds:                {took:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
