"""Polite, bounded HTTP fetching: every request is guarded, rate-limited, capped and logged."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import random
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx
from protego import Protego

from ingest.guard import AddressGuard, GuardRefused, ResolutionFailed

LOG = logging.getLogger(__name__)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRYABLE_ERRORS = frozenset({"timeout", "connection_error"})
ROBOTS_MAX_BYTES = 512 * 1024  # Google's documented robots.txt limit is 500 KiB


@dataclass(frozen=True)
class FetchPolicy:
    """Limits and politeness settings; the pipeline fills these from its config."""

    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0
    max_bytes: int = 10 * 1024 * 1024
    max_decompressed_bytes: int = 40 * 1024 * 1024
    max_redirects: int = 5
    max_attempts: int = 3
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    max_retry_after: float = 120.0
    min_interval: float = 5.0
    max_in_flight: int = 2
    slot_wait_timeout: float = 600.0
    robots_ttl: float = 3600.0
    max_crawl_delay: float = 60.0
    respect_robots: bool = True


@dataclass(frozen=True)
class FetchAttempt:
    """One HTTP request as sent, for the fetch_log table."""

    url: str
    status: int | None
    bytes: int  # body bytes read off the wire (compressed size when Content-Encoding is set)
    elapsed_ms: int  # network time only; time queued for politeness is not counted
    error_class: str | None
    retry: int  # how many earlier attempts this URL had in this fetch (0 = first try)
    started_at: str  # ISO 8601, UTC


@dataclass(frozen=True)
class FetchResult:
    """The outcome of fetching one URL, after redirects and retries."""

    url: str
    final_url: str
    status: int | None
    headers: dict[str, str]
    body: bytes | None
    etag: str | None
    last_modified: str | None
    error_class: str | None
    error: str | None
    attempts: tuple[FetchAttempt, ...]
    not_modified: bool

    @property
    def ok(self) -> bool:
        """Say whether the caller has a usable body or a confirmed "unchanged"."""
        return self.error_class is None


@dataclass(frozen=True)
class _Outcome:
    """What one attempt produced, before it is folded into a FetchResult."""

    attempt: FetchAttempt
    status: int | None
    headers: dict[str, str]
    body: bytes | None
    error_class: str | None
    error: str | None


class PolitenessTimeout(Exception):
    """Raised when no request slot for a host frees up within the wait limit."""


def validators_trustworthy(
    previous_etag: str | None, previous_hash: str | None, new_etag: str | None, new_hash: str | None
) -> bool:
    """Detect servers that reuse an ETag for changed content, so the caller stops trusting 304s."""
    if not previous_etag or not new_etag or previous_hash is None or new_hash is None:
        return True
    return not (previous_etag == new_etag and previous_hash != new_hash)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Read Retry-After as delta-seconds or an HTTP-date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def backoff_delay(retry: int, base: float, cap: float) -> float:
    """Exponential backoff with full jitter on top, so retries from many workers spread out."""
    return float(min(cap, base * (2**retry) + random.uniform(0, base)))


def utc_iso(epoch: float | None = None) -> str:
    """Timestamp attempts in UTC so logs from different hosts line up."""
    moment = datetime.now(UTC) if epoch is None else datetime.fromtimestamp(epoch, UTC)
    return moment.isoformat(timespec="microseconds")


def host_key(url: str) -> str:
    """Name the politeness bucket for a URL: its host, lower-cased and file-name safe."""
    host = (urlsplit(url).hostname or "unknown").lower()
    return re.sub(r"[^a-z0-9._-]", "_", host)


class HostGate:
    """Cross-process politeness: a few flock'd slots per host plus a shared last-start time."""

    def __init__(self, state_dir: Path, max_in_flight: int, wait_timeout: float) -> None:
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.max_in_flight = max(1, max_in_flight)
        self.wait_timeout = wait_timeout

    @contextlib.contextmanager
    def slot(self, key: str, min_interval: float) -> Iterator[float]:
        """Hold one in-flight slot for the host, starting no sooner than min_interval after the last start."""
        handle = self._acquire_slot(key)
        try:
            yield self._wait_turn(key, min_interval)
        finally:
            handle.close()  # closing drops the flock, also if the process dies

    def _acquire_slot(self, key: str) -> IO[bytes]:
        """Take any free slot file for the host, polling until the wait limit."""
        deadline = time.monotonic() + self.wait_timeout
        while True:
            for index in range(self.max_in_flight):
                handle = open(self.state_dir / f"{key}.slot{index}", "a+b")  # noqa: SIM115
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    handle.close()
                    continue
                return handle
            if time.monotonic() > deadline:
                raise PolitenessTimeout(f"no free request slot for {key}")
            time.sleep(0.01 + random.uniform(0, 0.02))

    def _wait_turn(self, key: str, min_interval: float) -> float:
        """Space request starts; the gate lock is held while sleeping so waiters queue behind it."""
        with open(self.state_dir / f"{key}.gate", "a+b") as gate:
            fcntl.flock(gate, fcntl.LOCK_EX)
            gate.seek(0)
            raw = gate.read().strip()
            try:
                last = float(raw) if raw else 0.0
            except ValueError:
                last = 0.0
            now = time.time()
            if last > now + min_interval:
                last = 0.0  # wall clock went backwards; do not stall forever
            wait = last + min_interval - now
            if wait > 0:
                time.sleep(wait)
            started = time.time()
            gate.seek(0)
            gate.truncate()
            gate.write(f"{started:.6f}".encode())
            gate.flush()
            os.fsync(gate.fileno())
            return started


class GuardedNetworkBackend(httpcore.NetworkBackend):
    """Connects only to addresses the guard approved, closing the DNS-rebinding window."""

    def __init__(self, guard: AddressGuard) -> None:
        self._guard = guard
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        """Resolve once, check the answer, and connect to exactly those addresses."""
        try:
            addresses = self._guard.allowed_addresses(host, port)
        except (GuardRefused, ResolutionFailed) as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        last_error: Exception | None = None
        for address in addresses:
            try:
                return self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        """Refuse unix sockets: the fetcher only talks to network hosts."""
        raise httpcore.ConnectError("unix sockets are not allowed")

    def sleep(self, seconds: float) -> None:
        """Delegate sleeping to the standard backend."""
        self._inner.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """An httpx transport whose connection pool dials through the guarded backend."""

    def __init__(self, guard: AddressGuard, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        # httpx has no public hook for the network backend; httpx is pinned, so swap the pool.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedNetworkBackend(guard),
        )


@dataclass(frozen=True)
class _RobotsRules:
    """A host's robots.txt verdict, cached until expires_at (monotonic)."""

    parser: Protego | None
    allow_all: bool
    expires_at: float


class Fetcher:
    """Fetches URLs through one shared client, politely and within hard limits; never raises."""

    def __init__(
        self,
        *,
        user_agent: str,
        contact_url: str,
        state_dir: str | os.PathLike[str],
        policy: FetchPolicy | None = None,
        allowed_hosts: Iterable[str] = (),
    ) -> None:
        self.policy = policy or FetchPolicy()
        # Settings may already carry the contact in the UA string; do not say it twice.
        self.user_agent = (
            user_agent if contact_url in user_agent else f"{user_agent} (+{contact_url})"
        )
        # robots.txt groups match on the product token alone ("tradewire"), per RFC 9309.
        self.robots_token = re.split(r"[/\s(]", user_agent.strip(), maxsplit=1)[0] or user_agent
        self.guard = AddressGuard(allowed_hosts)
        self.gate = HostGate(
            Path(state_dir), self.policy.max_in_flight, self.policy.slot_wait_timeout
        )
        self._robots: dict[str, _RobotsRules] = {}
        p = self.policy
        self.client = httpx.Client(
            transport=GuardedTransport(self.guard, httpx.Limits(max_connections=20)),
            timeout=httpx.Timeout(
                connect=p.connect_timeout,
                read=p.read_timeout,
                write=p.read_timeout,
                pool=p.connect_timeout,
            ),
            follow_redirects=False,  # every hop must pass the guard and robots again
            trust_env=False,  # an environment proxy would connect on our behalf, bypassing the guard
            headers={
                "User-Agent": self.user_agent,
                # Only encodings we can decode with a size cap; br/zstd decoders are not installed.
                "Accept-Encoding": "gzip, deflate",
            },
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release pooled connections."""
        self.client.close()

    def fetch(
        self, url: str, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """Fetch a URL following redirects by hand; errors come back as error_class, never raised."""
        attempts: list[FetchAttempt] = []
        try:
            return self._fetch(url, etag, last_modified, attempts)
        except Exception as exc:  # the contract is "never raises"; keep the evidence instead
            LOG.exception("unexpected fetch failure for %s", url)
            return self._failure(
                url, url, "internal_error", f"{type(exc).__name__}: {exc}", attempts
            )

    def _fetch(
        self, url: str, etag: str | None, last_modified: str | None, attempts: list[FetchAttempt]
    ) -> FetchResult:
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        current = url
        # Exact URLs, not canonical ones: sites legitimately redirect ?utm_x=… to the clean URL.
        try:
            visited = {str(httpx.URL(url))}
        except httpx.InvalidURL as exc:
            return self._failure(url, url, "bad_url", str(exc), attempts)
        for _hop in range(self.policy.max_redirects + 1):
            decision = self.guard.check_url(current)
            if not decision.allowed:
                return self._failure(
                    url, current, decision.error_class or "guard_refused", decision.reason, attempts
                )
            allowed, crawl_delay = self._robots_verdict(current, attempts)
            if not allowed:
                return self._failure(
                    url, current, "robots_disallowed", "disallowed by robots.txt", attempts
                )
            interval = max(self.policy.min_interval, crawl_delay)
            outcome = self._fetch_with_retries(current, headers, interval, attempts, max_body=None)
            if outcome.error_class is not None:
                return self._failure(
                    url, current, outcome.error_class, outcome.error, attempts, outcome
                )
            status = outcome.status
            if status in REDIRECT_STATUSES and outcome.headers.get("location"):
                target = urljoin(current, outcome.headers["location"].strip())
                try:
                    seen_as = str(httpx.URL(target))
                except httpx.InvalidURL as exc:
                    return self._failure(url, target, "bad_url", str(exc), attempts, outcome)
                if seen_as in visited:
                    return self._failure(
                        url, target, "redirect_loop", f"{current} -> {target}", attempts, outcome
                    )
                visited.add(seen_as)
                current = target
                continue
            return self._success(url, current, outcome, etag, last_modified, attempts)
        return self._failure(
            url,
            current,
            "too_many_redirects",
            f"more than {self.policy.max_redirects} redirects",
            attempts,
        )

    def _success(
        self,
        url: str,
        final_url: str,
        outcome: _Outcome,
        etag: str | None,
        last_modified: str | None,
        attempts: list[FetchAttempt],
    ) -> FetchResult:
        status = outcome.status
        not_modified = status == 304
        error_class = None
        error = None
        if status is not None and status >= 400:
            error_class, error = "http_error", f"HTTP {status}"
            if outcome.headers.get("retry-after"):
                error += f" (Retry-After: {outcome.headers['retry-after']})"
        return FetchResult(
            url=url,
            final_url=final_url,
            status=status,
            headers=outcome.headers,
            body=None if (not_modified or error_class) else outcome.body,
            etag=outcome.headers.get("etag") or (etag if not_modified else None),
            last_modified=outcome.headers.get("last-modified")
            or (last_modified if not_modified else None),
            error_class=error_class,
            error=error,
            attempts=tuple(attempts),
            not_modified=not_modified,
        )

    def _failure(
        self,
        url: str,
        final_url: str,
        error_class: str,
        error: str | None,
        attempts: list[FetchAttempt],
        outcome: _Outcome | None = None,
    ) -> FetchResult:
        return FetchResult(
            url=url,
            final_url=final_url,
            status=outcome.status if outcome else None,
            headers=outcome.headers if outcome else {},
            body=None,
            etag=None,
            last_modified=None,
            error_class=error_class,
            error=error,
            attempts=tuple(attempts),
            not_modified=False,
        )

    def _fetch_with_retries(
        self,
        url: str,
        headers: dict[str, str],
        interval: float,
        attempts: list[FetchAttempt],
        max_body: int | None,
    ) -> _Outcome:
        """Retry transient failures with backoff, honouring Retry-After on 429/503."""
        p = self.policy
        retry = 0
        while True:
            outcome = self._attempt(url, headers, retry, interval, max_body)
            attempts.append(outcome.attempt)
            transient = (
                outcome.error_class in RETRYABLE_ERRORS or outcome.status in RETRYABLE_STATUSES
            )
            if not transient or retry + 1 >= p.max_attempts:
                return outcome
            delay = backoff_delay(retry, p.backoff_base, p.backoff_max)
            if outcome.status in (429, 503):
                asked = parse_retry_after(outcome.headers.get("retry-after"))
                if asked is not None:
                    if asked > p.max_retry_after:
                        # Waiting less than asked would be rude; report and let the next run retry.
                        return _Outcome(
                            outcome.attempt,
                            outcome.status,
                            outcome.headers,
                            None,
                            None,
                            None,
                        )
                    delay = max(asked, 0.0)
            time.sleep(delay)
            retry += 1

    def _attempt(
        self, url: str, headers: dict[str, str], retry: int, interval: float, max_body: int | None
    ) -> _Outcome:
        """Send one GET and read the body under size, decompression and time caps."""
        p = self.policy
        cap = p.max_bytes if max_body is None else min(max_body, p.max_bytes)
        started_at = utc_iso()
        t0 = time.monotonic()
        status: int | None = None
        response_headers: dict[str, str] = {}
        body = bytearray()
        downloaded = 0
        error_class: str | None = None
        error: str | None = None
        try:
            with self.gate.slot(host_key(url), interval) as started:
                # The logged start is the one the gate spaced, not when we began queueing.
                started_at = utc_iso(started)
                t0 = time.monotonic()
                deadline = t0 + p.total_timeout
                with self.client.stream("GET", url, headers=headers) as response:
                    status = response.status_code
                    response_headers = {k: response.headers[k] for k in response.headers}
                    if status in REDIRECT_STATUSES or status == 304:
                        pass  # no body worth reading; closing drops the rest
                    elif _declared_length(response_headers) > cap:
                        error_class, error = "too_large", f"Content-Length exceeds {cap} bytes"
                    else:
                        codings = response_headers.get("content-encoding", "").lower().split(",")
                        encoded = any(c.strip() not in ("", "identity") for c in codings)
                        # iter_bytes decompresses, so counting its output caps the inflated size.
                        for chunk in response.iter_bytes():
                            body.extend(chunk)
                            downloaded = response.num_bytes_downloaded
                            if downloaded > cap:
                                error_class, error = "too_large", f"body exceeds {cap} bytes"
                                break
                            if len(body) > p.max_decompressed_bytes:
                                error_class = "decompression_bomb" if encoded else "too_large"
                                error = f"decoded body exceeds {p.max_decompressed_bytes} bytes"
                                break
                            if time.monotonic() > deadline:
                                error_class, error = (
                                    "timeout",
                                    f"total time exceeded {p.total_timeout}s",
                                )
                                break
                        downloaded = response.num_bytes_downloaded
        except PolitenessTimeout as exc:
            error_class, error = "politeness_timeout", str(exc)
        except httpx.TimeoutException as exc:
            error_class, error = "timeout", f"{type(exc).__name__}: {exc}"
        except httpx.ConnectError as exc:
            refused = isinstance(exc.__cause__, httpcore.ConnectError) and isinstance(
                exc.__cause__.__cause__, GuardRefused
            )
            error_class = "guard_refused" if refused else "connection_error"
            error = str(exc)
        except httpx.DecodingError as exc:
            error_class, error = "decoding_error", str(exc)
        except (httpx.TransportError, httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            error_class, error = "connection_error", f"{type(exc).__name__}: {exc}"
        elapsed_ms = int((time.monotonic() - t0) * 1000)
        attempt = FetchAttempt(
            url=url,
            status=status,
            bytes=downloaded,
            elapsed_ms=elapsed_ms,
            error_class=error_class,
            retry=retry,
            started_at=started_at,
        )
        return _Outcome(
            attempt,
            status,
            response_headers,
            bytes(body) if error_class is None else None,
            error_class,
            error,
        )

    def _robots_verdict(self, url: str, attempts: list[FetchAttempt]) -> tuple[bool, float]:
        """Say whether robots.txt lets us fetch the URL, and the crawl delay it asks for."""
        if not self.policy.respect_robots:
            return True, 0.0
        parts = urlsplit(url)
        origin = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
        rules = self._robots.get(origin)
        if rules is None or rules.expires_at < time.monotonic():
            rules = self._load_robots(origin, attempts)
            self._robots[origin] = rules
        if rules.parser is None:
            return rules.allow_all, 0.0
        delay = rules.parser.crawl_delay(self.robots_token) or 0.0
        return rules.parser.can_fetch(url, self.robots_token), min(
            float(delay), self.policy.max_crawl_delay
        )

    def _load_robots(self, origin: str, attempts: list[FetchAttempt]) -> _RobotsRules:
        """Fetch robots.txt: 4xx means no rules (allow), 5xx or no answer means stay away for now."""
        expires = time.monotonic() + self.policy.robots_ttl
        current = f"{origin}/robots.txt"
        for _hop in range(self.policy.max_redirects + 1):
            if not self.guard.check_url(current).allowed:
                return _RobotsRules(None, False, expires)
            outcome = self._fetch_with_retries(
                current, {}, self.policy.min_interval, attempts, max_body=ROBOTS_MAX_BYTES
            )
            status = outcome.status
            if outcome.error_class == "too_large":
                return _RobotsRules(None, True, expires)
            if outcome.error_class is not None or status is None:
                return _RobotsRules(None, False, expires)
            if status in REDIRECT_STATUSES and outcome.headers.get("location"):
                current = urljoin(current, outcome.headers["location"].strip())
                continue
            if 200 <= status < 300:
                text = (outcome.body or b"").decode("utf-8", "replace")
                return _RobotsRules(Protego.parse(text), True, expires)
            if 400 <= status < 500 and status != 429:
                return _RobotsRules(None, True, expires)
            return _RobotsRules(None, False, expires)
        return _RobotsRules(
            None, True, expires
        )  # RFC 9309: give up after 5 hops and treat as absent


def _declared_length(headers: dict[str, str]) -> int:
    """Read Content-Length when present so obviously oversized bodies are never downloaded."""
    try:
        return int(headers.get("content-length", "0").split(",")[0].strip() or 0)
    except ValueError:
        return 0
