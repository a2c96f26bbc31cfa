"""Fetcher behaviour against a real loopback HTTP server."""

from __future__ import annotations

import gzip
import hashlib
import logging
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest
import tenacity

from ingest.fetch import FetchAttempt, Fetcher, validators_trustworthy
from ingest.guard import AddressGuard
from ingest.retries import backoff_wait, parse_retry_after
from ingest.transport import GuardedTransport, is_guard_refusal
from tests.integration.loopback import TEST_POLICY, LocalServer, send, static

pytestmark = pytest.mark.timeout(30)

MakeFetcher = Callable[..., Fetcher]
# Starts are spaced on the client; the server sees them after connect and thread scheduling,
# which under CPU starvation shifts single arrivals by tens of milliseconds. The span over all
# requests is immune to that drift adding up, so it carries the strict check.
JITTER = 0.1


def assert_spaced(times: list[float], interval: float) -> None:
    """Server-side arrivals respect the interval, allowing for per-request scheduling jitter."""
    assert min(gaps(times)) >= interval / 2
    assert times[-1] - times[0] >= interval * (len(times) - 1) - JITTER


def starts(server: LocalServer, prefix: str) -> list[float]:
    """Arrival times of requests whose path starts with prefix, sorted."""
    with server.lock:
        return sorted(h.at for h in server.hits if h.path.startswith(prefix))


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in zip(times, times[1:], strict=False)]


def backoff_after(retry: int, base: float, cap: float) -> float:
    """The wait before retry number `retry + 1`, as the fetcher's tenacity policy computes it."""
    state = tenacity.RetryCallState(tenacity.Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = retry + 1
    return backoff_wait(base, cap)(state)


def test_200_then_304_cycles_with_etag(server: LocalServer, make_fetcher: MakeFetcher) -> None:
    def feed(h: BaseHTTPRequestHandler) -> None:
        if h.headers.get("If-None-Match") == '"v1"':
            send(h, 304, headers={"ETag": '"v1"'})
        else:
            send(
                h,
                200,
                b"<rss/>",
                {"ETag": '"v1"', "Last-Modified": "Mon, 02 Jun 2025 10:00:00 GMT"},
            )

    server.routes["/feed"] = feed
    fetcher = make_fetcher()
    first = fetcher.fetch(server.url("/feed"))
    assert first.ok and first.status == 200 and first.body == b"<rss/>"
    assert first.etag == '"v1"' and first.last_modified == "Mon, 02 Jun 2025 10:00:00 GMT"
    for _ in range(2):
        again = fetcher.fetch(
            server.url("/feed"), etag=first.etag, last_modified=first.last_modified
        )
        assert again.ok and again.not_modified and again.status == 304 and again.body is None
        assert again.etag == '"v1"' and again.last_modified == first.last_modified
    sent = server.hits_for("/feed")[-1].headers
    assert sent["If-None-Match"] == '"v1"'
    assert sent["If-Modified-Since"] == "Mon, 02 Jun 2025 10:00:00 GMT"


def test_304_by_last_modified_only(server: LocalServer, make_fetcher: MakeFetcher) -> None:
    stamp = "Tue, 03 Jun 2025 08:00:00 GMT"

    def feed(h: BaseHTTPRequestHandler) -> None:
        if h.headers.get("If-Modified-Since") == stamp:
            send(h, 304)
        else:
            send(h, 200, b"body", {"Last-Modified": stamp})

    server.routes["/lm"] = feed
    fetcher = make_fetcher()
    first = fetcher.fetch(server.url("/lm"))
    assert first.etag is None and first.last_modified == stamp
    second = fetcher.fetch(server.url("/lm"), last_modified=first.last_modified)
    assert second.not_modified and second.last_modified == stamp


def test_lying_etag_returns_new_body(server: LocalServer, make_fetcher: MakeFetcher) -> None:
    bodies = iter([b"version one", b"version two"])
    server.routes["/liar"] = lambda h: send(h, 200, next(bodies), {"ETag": '"same"'})
    fetcher = make_fetcher()
    first = fetcher.fetch(server.url("/liar"))
    second = fetcher.fetch(server.url("/liar"), etag=first.etag)
    assert second.status == 200 and second.body == b"version two" and not second.not_modified
    assert first.body is not None and second.body is not None
    h1 = hashlib.sha256(first.body).hexdigest()
    h2 = hashlib.sha256(second.body).hexdigest()
    assert not validators_trustworthy(first.etag, h1, second.etag, h2)
    assert validators_trustworthy(first.etag, h1, '"other"', h2)
    assert validators_trustworthy(first.etag, h1, first.etag, h1)


def test_429_with_retry_after_is_honoured(server: LocalServer, make_fetcher: MakeFetcher) -> None:
    answers = iter([(429, {"Retry-After": "1"}), (200, {})])

    def limited(h: BaseHTTPRequestHandler) -> None:
        status, headers = next(answers)
        send(h, status, b"ok" if status == 200 else b"slow down", headers)

    server.routes["/limited"] = limited
    result = make_fetcher().fetch(server.url("/limited"))
    assert result.ok and result.body == b"ok"
    page = [a for a in result.attempts if a.url.endswith("/limited")]
    assert [(a.status, a.retry) for a in page] == [(429, 0), (200, 1)]
    assert gaps(starts(server, "/limited"))[0] >= 0.95


def test_retry_after_beyond_cap_is_not_waited(
    server: LocalServer, make_fetcher: MakeFetcher
) -> None:
    server.routes["/busy"] = static(b"busy", 503, {"Retry-After": "3600"})
    t0 = time.monotonic()
    result = make_fetcher().fetch(server.url("/busy"))
    assert time.monotonic() - t0 < 10.0  # far below the 3600 s asked for
    assert result.error_class == "http_error" and result.status == 503
    assert len(server.hits_for("/busy")) == 1


def test_retry_after_as_http_date(server: LocalServer, make_fetcher: MakeFetcher) -> None:
    soon = formatdate(time.time() + 1, usegmt=True)
    answers = iter([(503, {"Retry-After": soon}), (200, {})])

    def maintenance(h: BaseHTTPRequestHandler) -> None:
        status, headers = next(answers)
        send(h, status, b"x", headers)

    server.routes["/maint"] = maintenance
    result = make_fetcher().fetch(server.url("/maint"))
    assert result.ok and [a.status for a in result.attempts][-2:] == [503, 200]


def test_parse_retry_after_and_backoff() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480.0 - 30) == 30.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480.0 + 30) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    assert all(0.5 <= backoff_after(0, 0.5, 10) <= 1.0 for _ in range(50))
    assert all(2.0 <= backoff_after(2, 0.5, 10) <= 2.5 for _ in range(50))
    assert backoff_after(10, 0.5, 10) == 10


def test_500_then_success(
    server: LocalServer, make_fetcher: MakeFetcher, caplog: pytest.LogCaptureFixture
) -> None:
    answers = iter([500, 502, 200])
    server.routes["/flaky"] = lambda h: send(
        h, (s := next(answers)), b"fine" if s == 200 else b"oops"
    )
    with caplog.at_level(logging.INFO, logger="ingest"):
        result = make_fetcher().fetch(server.url("/flaky"))
    assert result.ok and result.body == b"fine"
    assert [a.status for a in result.attempts if a.url.endswith("/flaky")] == [500, 502, 200]
    retries = [r.getMessage() for r in caplog.records if r.name == "ingest.retries"]
    assert len(retries) == 2 and "HTTP 500" in retries[0] and "HTTP 502" in retries[1]
    assert all(r.levelno < logging.WARNING for r in caplog.records)  # a recovered fetch is quiet


def test_persistent_500_is_http_error(
    server: LocalServer, make_fetcher: MakeFetcher, caplog: pytest.LogCaptureFixture
) -> None:
    server.routes["/down"] = static(b"down", 500)
    with caplog.at_level(logging.INFO, logger="ingest"):
        result = make_fetcher().fetch(server.url("/down"))
    assert result.error_class == "http_error" and result.status == 500 and result.body is None
    assert len(server.hits_for("/down")) == TEST_POLICY.max_attempts
    final = [r.getMessage() for r in caplog.records if r.name == "ingest.fetch"]
    assert len(final) == 1 and "http_error" in final[0]  # one line for the failure itself


def test_retries_stop_at_non_transient_status(
    server: LocalServer, make_fetcher: MakeFetcher
) -> None:
    server.routes["/gone"] = static(b"gone", 404)
    result = make_fetcher().fetch(server.url("/gone"))
    assert result.error_class == "http_error" and result.status == 404
    assert len(server.hits_for("/gone")) == 1


def test_connection_refused_is_retried_then_reported(make_fetcher: MakeFetcher) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound but not listening: connections are refused
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/x"
        result = make_fetcher(replace(TEST_POLICY, respect_robots=False)).fetch(url)
    assert result.error_class == "connection_error" and result.status is None
    assert [a.retry for a in result.attempts] == list(range(TEST_POLICY.max_attempts))


def test_garbage_response_is_a_connection_error(
    server: LocalServer, make_fetcher: MakeFetcher
) -> None:
    def garbage(h: BaseHTTPRequestHandler) -> None:
        h.wfile.write(b"THIS IS NOT HTTP\r\n\r\n")
        h.wfile.flush()
        h.close_connection = True

    server.routes["/garbage"] = garbage
    result = make_fetcher(replace(TEST_POLICY, max_attempts=1)).fetch(server.url("/garbage"))
    assert result.error_class == "connection_error"
    assert "RemoteProtocolError" in (result.error or "")


def test_guarded_transport_streams_a_real_response(server: LocalServer) -> None:
    release = threading.Event()

    def dribble(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("X-Probe", "yes")
        h.end_headers()  # no Content-Length: the body runs until the server closes
        h.wfile.write(b"first ")
        h.wfile.flush()
        release.wait(timeout=5)  # the rest waits until the client has read the first part
        h.wfile.write(b"second")

    server.routes["/dribble"] = dribble
    transport = GuardedTransport(AddressGuard({"127.0.0.1"}), httpx.Limits(max_connections=2))
    with (
        httpx.Client(transport=transport, trust_env=False) as client,
        client.stream("GET", server.url("/dribble"), headers={"X-Asked": "1"}) as response,
    ):
        assert response.status_code == 200 and response.headers["x-probe"] == "yes"
        assert response.http_version == "HTTP/1.0"  # httpcore's extensions come through
        chunks = response.iter_raw()
        assert next(chunks) == b"first "  # streamed: the server is still holding the rest
        release.set()
        assert b"".join(chunks) == b"second"
    assert server.hits_for("/dribble")[0].headers["X-Asked"] == "1"


def test_guarded_transport_maps_timeouts_and_refusals(server: LocalServer) -> None:
    release = threading.Event()
    server.routes["/hang"] = lambda h: (release.wait(timeout=5), send(h, 200, b"late"))
    rebinding = AddressGuard(resolver=lambda host, port: ["127.0.0.1"])  # not on an allow-list
    timeout = httpx.Timeout(0.3)
    allowed = GuardedTransport(AddressGuard({"127.0.0.1"}), httpx.Limits())
    try:
        with (
            httpx.Client(transport=allowed, timeout=timeout, trust_env=False) as client,
            pytest.raises(httpx.ReadTimeout),
        ):
            client.get(server.url("/hang"))
        with (
            httpx.Client(
                transport=GuardedTransport(rebinding, httpx.Limits()),
                timeout=timeout,
                trust_env=False,
            ) as client,
            pytest.raises(httpx.ConnectError) as refused,
        ):
            client.get(f"http://rebind.example:{server.port}/x")
    finally:
        release.set()
    assert is_guard_refusal(refused.value) and "forbidden" in str(refused.value)
    assert server.hits_for("/x") == []  # the refusal came before any connection


def test_read_timeout(server: LocalServer, make_fetcher: MakeFetcher) -> None:
    def stall(h: BaseHTTPRequestHandler) -> None:
        time.sleep(3.0)
        send(h, 200, b"late")

    server.routes["/stall"] = stall
    fetcher = make_fetcher(replace(TEST_POLICY, read_timeout=0.3, max_attempts=2))
    t0 = time.monotonic()
    result = fetcher.fetch(server.url("/stall"))
    assert result.error_class == "timeout"
    assert [a.error_class for a in result.attempts if a.url.endswith("/stall")] == ["timeout"] * 2
    assert time.monotonic() - t0 < 2.5  # two 0.3 s read timeouts, not the 3 s stall


def test_slow_drip_hits_total_deadline(server: LocalServer, make_fetcher: MakeFetcher) -> None:
    def drip(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.end_headers()
        for _ in range(60):  # 6 s in total, each byte well inside the read timeout
            h.wfile.write(b"x")
            h.wfile.flush()
            time.sleep(0.1)

    server.routes["/drip"] = drip
    fetcher = make_fetcher(replace(TEST_POLICY, total_timeout=0.6, max_attempts=1))
    t0 = time.monotonic()
    result = fetcher.fetch(server.url("/drip"))
    took = time.monotonic() - t0
    assert result.error_class == "timeout" and "total" in (result.error or "")
    assert 0.5 < took < 3.0  # the drip would take 6 s


def test_redirect_loop(server: LocalServer, make_fetcher: MakeFetcher) -> None:
    server.routes["/a"] = static(b"", 302, {"Location": "/b"})
    server.routes["/b"] = static(b"", 301, {"Location": server.url("/a?utm_source=loop")})
    result = make_fetcher().fetch(server.url("/a"))
    assert result.error_class == "redirect_loop"
    assert len(server.hits_for("/a")) == 1 and len(server.hits_for("/b")) == 1


def test_redirect_to_clean_url_is_not_a_loop(
    server: LocalServer, make_fetcher: MakeFetcher
) -> None:
    server.routes["/story"] = lambda h: (
        send(h, 301, headers={"Location": "/story"})
        if "utm_source" in h.path
        else send(h, 200, b"story")
    )
    result = make_fetcher().fetch(server.url("/story?utm_source=rss"))
    assert result.ok and result.body == b"story" and result.final_url == server.url("/story")


def test_too_many_redirects(server: LocalServer, make_fetcher: MakeFetcher) -> None:
    for i in range(10):
        server.routes[f"/hop{i}"] = static(b"", 307, {"Location": f"/hop{i + 1}"})
    result = make_fetcher().fetch(server.url("/hop0"))
    assert result.error_class == "too_many_redirects"
    assert len(starts(server, "/hop")) == TEST_POLICY.max_redirects + 1


def test_redirect_followed_to_final_url(server: LocalServer, make_fetcher: MakeFetcher) -> None:
    server.routes["/old"] = static(b"", 301, {"Location": "/new"})
    server.routes["/new"] = static(b"here")
    result = make_fetcher().fetch(server.url("/old"))
    assert result.ok and result.final_url == server.url("/new") and result.body == b"here"


@pytest.mark.parametrize(
    "target",
    ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://localhost:{port}/x"],
)
def test_redirect_to_private_address_is_refused_before_connecting(
    server: LocalServer, make_fetcher: MakeFetcher, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    target = target.format(port=server.port)
    dialled: list[tuple[str, int]] = []
    real_connect = socket.create_connection

    def spy(address: tuple[str, int], *args: object, **kwargs: object) -> socket.socket:
        dialled.append(address)
        return real_connect(address, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "create_connection", spy)
    server.routes["/go"] = static(b"", 302, {"Location": target})
    result = make_fetcher().fetch(server.url("/go"))
    assert result.error_class == "guard_refused"
    assert result.final_url == target
    assert {host for host, _ in dialled} == {"127.0.0.1"}  # only the allowed first hop
    assert len(server.hits_for("/x")) == 0


def test_bad_scheme(server: LocalServer, make_fetcher: MakeFetcher) -> None:
    fetcher = make_fetcher()
    assert fetcher.fetch("file:///etc/passwd").error_class == "bad_scheme"
    server.routes["/ftp"] = static(b"", 302, {"Location": "ftp://127.0.0.1/x"})
    assert fetcher.fetch(server.url("/ftp")).error_class == "bad_scheme"


def test_oversize_body_with_content_length(server: LocalServer, make_fetcher: MakeFetcher) -> None:
    server.routes["/big"] = static(b"a" * (200 * 1024))
    result = make_fetcher().fetch(server.url("/big"))
    assert result.error_class == "too_large" and result.body is None


def test_oversize_body_streamed_without_length(
    server: LocalServer, make_fetcher: MakeFetcher
) -> None:
    def endless(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.end_headers()
        for _ in range(100):  # 6.4 MiB if nobody stops reading
            h.wfile.write(b"b" * 65536)

    server.routes["/endless"] = endless
    result = make_fetcher().fetch(server.url("/endless"))
    assert result.error_class == "too_large"
    page = [a for a in result.attempts if a.url.endswith("/endless")][0]
    assert page.bytes <= TEST_POLICY.max_bytes + 70_000


def test_gzip_bomb(server: LocalServer, make_fetcher: MakeFetcher) -> None:
    bomb = gzip.compress(b"\0" * (20 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < TEST_POLICY.max_bytes
    server.routes["/bomb"] = static(bomb, headers={"Content-Encoding": "gzip"})
    result = make_fetcher().fetch(server.url("/bomb"))
    assert result.error_class == "decompression_bomb" and result.body is None


def test_gzip_body_is_decoded(server: LocalServer, make_fetcher: MakeFetcher) -> None:
    server.routes["/gz"] = static(
        gzip.compress(b"<rss>small</rss>"), headers={"Content-Encoding": "gzip"}
    )
    result = make_fetcher().fetch(server.url("/gz"))
    assert result.ok and result.body == b"<rss>small</rss>"
    assert "gzip" in server.hits_for("/gz")[0].headers["Accept-Encoding"]


def test_user_agent_names_project_and_contact(
    server: LocalServer, make_fetcher: MakeFetcher
) -> None:
    server.routes["/ua"] = static(b"ok")
    make_fetcher().fetch(server.url("/ua"))
    ua = server.hits_for("/ua")[0].user_agent or ""
    assert "tradewire-test/0.1" in ua and "https://example.org/tradewire" in ua


def test_robots_disallow(server: LocalServer, make_fetcher: MakeFetcher) -> None:
    server.routes["/robots.txt"] = static(
        b"User-agent: *\nDisallow: /private\n", headers={"Content-Type": "text/plain"}
    )
    server.routes["/private/doc"] = static(b"secret")
    server.routes["/public/doc"] = static(b"open")
    fetcher = make_fetcher()
    blocked = fetcher.fetch(server.url("/private/doc"))
    assert blocked.error_class == "robots_disallowed"
    assert fetcher.fetch(server.url("/public/doc")).body == b"open"
    assert server.hits_for("/private/doc") == []
    assert len(server.hits_for("/robots.txt")) == 1  # cached per host


def test_robots_rules_for_our_token(server: LocalServer, make_fetcher: MakeFetcher) -> None:
    server.routes["/robots.txt"] = static(
        b"User-agent: tradewire-test\nDisallow: /\n\nUser-agent: *\nAllow: /\n"
    )
    server.routes["/doc"] = static(b"x")
    assert make_fetcher().fetch(server.url("/doc")).error_class == "robots_disallowed"


def test_robots_5xx_disallows_and_4xx_allows(
    server: LocalServer, make_fetcher: MakeFetcher, tmp_path: Path
) -> None:
    server.routes["/robots.txt"] = static(b"", 503)
    server.routes["/doc"] = static(b"x")
    assert make_fetcher().fetch(server.url("/doc")).error_class == "robots_disallowed"
    server.routes["/robots.txt"] = static(b"", 403)
    assert make_fetcher(state_dir=tmp_path / "other").fetch(server.url("/doc")).body == b"x"


def test_crawl_delay_is_respected(server: LocalServer, make_fetcher: MakeFetcher) -> None:
    server.routes["/robots.txt"] = static(b"User-agent: *\nCrawl-delay: 0.3\n")
    server.routes["/p"] = static(b"x")
    fetcher = make_fetcher()
    for _ in range(3):
        assert fetcher.fetch(server.url("/p")).ok
    assert_spaced(starts(server, "/p"), 0.3)


def test_politeness_two_fetchers_share_state_in_threads(
    server: LocalServer, make_fetcher: MakeFetcher
) -> None:
    interval = 0.15
    server.routes["/robots.txt"] = static(b"", 404)
    server.routes["/t"] = static(b"x")
    policy = replace(TEST_POLICY, min_interval=interval)
    fetchers = [make_fetcher(policy), make_fetcher(policy)]

    logged: list[FetchAttempt] = []

    def run(f: Fetcher) -> None:
        for i in range(4):
            logged.extend(f.fetch(server.url(f"/t?i={i}")).attempts)

    threads = [threading.Thread(target=run, args=(f,)) for f in fetchers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    times = sorted(h.at for h in server.hits)  # robots.txt counts against the host too
    assert len(times) == 2 + 8
    assert_spaced(times, interval)
    # Client side, the logged starts are the gate's own timestamps: spaced exactly.
    logged_starts = sorted(datetime.fromisoformat(a.started_at).timestamp() for a in logged)
    assert len(logged_starts) == 10 and min(gaps(logged_starts)) >= interval - 1e-6


def test_politeness_across_processes(server: LocalServer, tmp_path: Path) -> None:
    interval = 0.15
    server.routes["/p"] = static(b"x")
    script = textwrap.dedent(
        f"""
        from dataclasses import replace
        from ingest.fetch import Fetcher
        from tests.integration.loopback import TEST_POLICY
        with Fetcher(user_agent="tradewire-test/0.1", contact_url="https://example.org",
                     state_dir={str(tmp_path / "shared")!r},
                     policy=replace(TEST_POLICY, min_interval={interval}),
                     allowed_hosts={{"127.0.0.1"}}) as f:
            for i in range(3):
                assert f.fetch({server.url("/p")!r} + "?i=%d" % i).ok
        """
    )
    root = Path(__file__).resolve().parents[2]
    procs = [subprocess.Popen([sys.executable, "-c", script], cwd=root) for _ in range(2)]
    assert [p.wait(timeout=20) for p in procs] == [0, 0]
    times = sorted(h.at for h in server.hits)
    assert len(times) == 2 * (1 + 3)  # each process reads robots.txt once, then 3 pages
    assert_spaced(times, interval)


def test_at_most_two_in_flight_per_host(server: LocalServer, make_fetcher: MakeFetcher) -> None:
    active = 0
    peak = 0
    guard = threading.Lock()

    def slow(h: BaseHTTPRequestHandler) -> None:
        nonlocal active, peak
        with guard:
            active += 1
            peak = max(peak, active)
        time.sleep(0.25)
        with guard:
            active -= 1
        send(h, 200, b"x")

    server.routes["/robots.txt"] = static(b"", 404)
    server.routes["/slow"] = slow
    policy = replace(TEST_POLICY, min_interval=0.01)
    fetchers = [make_fetcher(policy) for _ in range(3)]
    threads = [
        threading.Thread(target=lambda f=f: [f.fetch(server.url(f"/slow?{i}")) for i in range(2)])
        for f in fetchers
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(server.hits_for("/slow")) == 0  # paths carry a query; count by prefix instead
    assert len(starts(server, "/slow")) == 6
    assert peak == 2
