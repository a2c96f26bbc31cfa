"""A real threaded HTTP server on 127.0.0.1 for fetcher tests: routes, request log, test policy."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ingest.fetch import FetchPolicy

Handler = Callable[[BaseHTTPRequestHandler], None]


@dataclass(frozen=True)
class Hit:
    """One request the server saw, with its arrival time for spacing measurements."""

    path: str
    at: float  # time.monotonic() when the request line was parsed
    headers: dict[str, str]
    user_agent: str | None


@dataclass
class LocalServer:
    """The route table and the request log of a running test server."""

    host: str
    port: int
    routes: dict[str, Handler] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        """Absolute URL for a path on this server."""
        return f"http://{self.host}:{self.port}{path}"

    def hits_for(self, path: str) -> list[Hit]:
        """Requests that asked for exactly this path (query included)."""
        with self.lock:
            return [h for h in self.hits if h.path == path]


def send(
    handler: BaseHTTPRequestHandler,
    status: int = 200,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    content_length: bool = True,
) -> None:
    """Write a complete response; the usual building block for routes."""
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    if content_length:
        handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if body:
        handler.wfile.write(body)


def static(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Handler:
    """A route that always answers the same."""
    return lambda h: send(h, status, body, headers)


def make_handler(server: LocalServer) -> type[BaseHTTPRequestHandler]:
    """Bind a request handler class to a LocalServer's routes and log."""

    class RouteHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hit = Hit(
                self.path, time.monotonic(), dict(self.headers), self.headers.get("User-Agent")
            )
            with server.lock:
                server.hits.append(hit)
                route = server.routes.get(self.path) or server.routes.get(self.path.split("?")[0])
            if route is None:
                send(self, 404, b"not found")
                return
            # The client may hang up on purpose (size caps, deadlines).
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                route(self)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return RouteHandler


TEST_POLICY = FetchPolicy(
    connect_timeout=0.5,
    read_timeout=0.5,
    total_timeout=1.0,
    max_bytes=64 * 1024,
    max_decompressed_bytes=256 * 1024,
    max_redirects=4,
    max_attempts=3,
    backoff_base=0.02,
    backoff_max=0.1,
    max_retry_after=2.0,
    min_interval=0.05,
    max_in_flight=2,
    slot_wait_timeout=5.0,
    robots_ttl=60.0,
    max_crawl_delay=1.0,
)


@contextlib.contextmanager
def serve_loopback(host: str = "127.0.0.1") -> Iterator[LocalServer]:
    """A ThreadingHTTPServer on an ephemeral port of a loopback address, stopped afterwards."""
    state = LocalServer(host, 0)
    httpd = ThreadingHTTPServer((host, 0), make_handler(state))
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=2)
