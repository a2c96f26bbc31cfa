"""Polite, bounded HTTP fetching: every request is guarded, rate-limited, capped and logged."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin

import httpx

from ingest.guard import AddressGuard
from ingest.politeness import (
    PolitenessTimeout,
    PolitenessUnavailable,
    derive_host_key,
    open_gate,
)
from ingest.retries import Deadline, send_with_retries
from ingest.robots import (
    ROBOTS_MAX_BYTES,
    RobotsCache,
    RobotsRules,
    derive_origin,
    derive_robots_token,
    interpret_robots_answer,
)
from ingest.transport import GuardedTransport, is_guard_refusal, request_deadline

logger = logging.getLogger(__name__)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Failures that are the web being the web; everything else is worth a WARNING.
ROUTINE_ERRORS = frozenset({"http_error", "robots_disallowed"})


@dataclass(frozen=True)
class FetchPolicy:
    """Limits and politeness settings; the pipeline fills these from its config."""

    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    # One URL's whole fetch, hard: robots.txt, every redirect hop and retry, headers and body
    # (politeness comes on top: time queued for a slot, and Retry-After waits a server asks for).
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
class Outcome:
    """What one attempt produced, before it is folded into a FetchResult."""

    attempt: FetchAttempt
    status: int | None
    headers: dict[str, str]
    body: bytes | None
    error_class: str | None
    error: str | None


def validators_trustworthy(
    previous_etag: str | None, previous_hash: str | None, new_etag: str | None, new_hash: str | None
) -> bool:
    """Detect servers that reuse an ETag for changed content, so the caller stops trusting 304s."""
    if not previous_etag or not new_etag or previous_hash is None or new_hash is None:
        return True
    return not (previous_etag == new_etag and previous_hash != new_hash)


def format_utc(epoch: float | None = None) -> str:
    """Timestamp attempts in UTC so logs from different hosts line up."""
    moment = datetime.now(UTC) if epoch is None else datetime.fromtimestamp(epoch, UTC)
    return moment.isoformat(timespec="microseconds")


def read_declared_length(headers: dict[str, str]) -> int:
    """Read Content-Length when present so obviously oversized bodies are never downloaded."""
    try:
        return int(headers.get("content-length", "0").split(",")[0].strip() or 0)
    except ValueError:
        return 0


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
        politeness_url: str = "",
    ) -> None:
        self.policy = policy or FetchPolicy()
        # Settings may already carry the contact in the UA string; do not say it twice.
        self.user_agent = (
            user_agent if contact_url in user_agent else f"{user_agent} (+{contact_url})"
        )
        self.robots_token = derive_robots_token(user_agent)
        self.guard = AddressGuard(allowed_hosts)
        # Local flock files by default; a redis:// URL shares slots and turns across machines.
        self.gate = open_gate(
            politeness_url,
            Path(state_dir),
            self.policy.max_in_flight,
            self.policy.slot_wait_timeout,
            lease=max(300.0, 2 * self.policy.total_timeout),
        )
        self.robots = RobotsCache(self.policy.robots_ttl)
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
        """Release pooled connections (HTTP, and the politeness store's)."""
        self.client.close()
        self.gate.close()

    def fetch(
        self, url: str, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """Fetch a URL following redirects by hand; errors come back as error_class, never raised
        (but PolitenessUnavailable: without the shared politeness store no fetch may start)."""
        attempts: list[FetchAttempt] = []
        deadline = Deadline(self.policy.total_timeout)
        try:
            result = self._fetch(url, etag, last_modified, attempts, deadline)
        except PolitenessUnavailable:
            raise  # not this URL's failure: every later fetch would fail alike, so stop the run
        except Exception as exc:  # the contract is "never raises"; keep the evidence instead
            logger.exception("unexpected fetch failure for %s", url)
            return self._failure(
                url, url, "internal_error", f"{type(exc).__name__}: {exc}", attempts
            )
        if result.error_class is not None:
            level = logging.INFO if result.error_class in ROUTINE_ERRORS else logging.WARNING
            logger.log(
                level,
                "%s: %s: %s (%d requests)",
                url,
                result.error_class,
                result.error,
                len(result.attempts),
            )
        return result

    def _fetch(
        self,
        url: str,
        etag: str | None,
        last_modified: str | None,
        attempts: list[FetchAttempt],
        deadline: Deadline,
    ) -> FetchResult:
        """Walk the redirect chain by hand, so every hop passes the guard and robots.txt again."""
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
            allowed, crawl_delay, failure = self._robots_verdict(current, attempts, deadline)
            if not allowed and failure:
                # robots.txt could not be read (host down, 5xx): say that, not "disallowed".
                error_class, _, detail = failure.partition(": ")
                return self._failure(url, current, error_class, detail, attempts)
            if not allowed:
                return self._failure(
                    url, current, "robots_disallowed", "disallowed by robots.txt", attempts
                )
            if deadline.expired():
                return self._failure(url, current, "timeout", self._over_time(), attempts)
            interval = max(self.policy.min_interval, crawl_delay)
            outcome = self._fetch_with_retries(
                current, headers, interval, attempts, max_body=None, deadline=deadline
            )
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
        outcome: Outcome,
        etag: str | None,
        last_modified: str | None,
        attempts: list[FetchAttempt],
    ) -> FetchResult:
        """Fold a final answer into a result: 304 keeps the caller's validators, 4xx/5xx fail."""
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
        outcome: Outcome | None = None,
    ) -> FetchResult:
        """Report a failure with every request made so far, so fetch_log shows what happened."""
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

    def _over_time(self) -> str:
        return f"total time exceeded {self.policy.total_timeout:g}s"

    def _fetch_with_retries(
        self,
        url: str,
        headers: dict[str, str],
        interval: float,
        attempts: list[FetchAttempt],
        max_body: int | None,
        deadline: Deadline,
    ) -> Outcome:
        """Retry transient failures with backoff, honouring Retry-After on 429/503, and never
        past the URL's deadline."""

        def send(retry: int) -> Outcome:
            outcome = self._attempt(url, headers, retry, interval, max_body, deadline)
            attempts.append(outcome.attempt)
            return outcome

        p = self.policy
        return send_with_retries(
            send,
            url=url,
            max_attempts=p.max_attempts,
            backoff_base=p.backoff_base,
            backoff_max=p.backoff_max,
            max_retry_after=p.max_retry_after,
            deadline=deadline,
        )

    def _attempt(
        self,
        url: str,
        headers: dict[str, str],
        retry: int,
        interval: float,
        max_body: int | None,
        deadline: Deadline,
    ) -> Outcome:
        """Send one GET and read the body under size, decompression and time caps.

        The deadline bounds every network operation of the request (connect, headers, body),
        not only the gaps between body chunks; the wait for a politeness slot extends it.
        """
        p = self.policy
        cap = p.max_bytes if max_body is None else min(max_body, p.max_bytes)
        started_at = format_utc()
        t0 = time.monotonic()
        status: int | None = None
        response_headers: dict[str, str] = {}
        body = bytearray()
        downloaded = 0
        error_class: str | None = None
        error: str | None = None
        try:
            with self.gate.slot(derive_host_key(url), interval) as started:
                # The logged start is the one the gate spaced, not when we began queueing.
                started_at = format_utc(started)
                deadline.extend(time.monotonic() - t0)  # queueing for our turn is not counted
                t0 = time.monotonic()
                with (
                    request_deadline(deadline.at),
                    self.client.stream("GET", url, headers=headers) as response,
                ):
                    status = response.status_code
                    response_headers = {k: response.headers[k] for k in response.headers}
                    if status in REDIRECT_STATUSES or status == 304:
                        pass  # no body worth reading; closing drops the rest
                    elif read_declared_length(response_headers) > cap:
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
                            if deadline.expired():
                                error_class, error = "timeout", self._over_time()
                                break
                        downloaded = response.num_bytes_downloaded
        except PolitenessTimeout as exc:
            error_class, error = "politeness_timeout", str(exc)
        except httpx.TimeoutException as exc:
            error_class = "timeout"
            error = self._over_time() if deadline.expired() else f"{type(exc).__name__}: {exc}"
        except httpx.ConnectError as exc:
            error_class = "guard_refused" if is_guard_refusal(exc) else "connection_error"
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
        return Outcome(
            attempt,
            status,
            response_headers,
            bytes(body) if error_class is None else None,
            error_class,
            error,
        )

    def _robots_verdict(
        self, url: str, attempts: list[FetchAttempt], deadline: Deadline
    ) -> tuple[bool, float, str | None]:
        """Say whether robots.txt lets us fetch the URL, the crawl delay it asks for, and why
        not when robots.txt itself could not be read."""
        if not self.policy.respect_robots:
            return True, 0.0, None
        origin = derive_origin(url)
        rules = self.robots.lookup(origin) or self.robots.store(
            origin, self._load_robots(origin, attempts, deadline)
        )
        allowed, delay = rules.judge(url, self.robots_token, self.policy.max_crawl_delay)
        return allowed, delay, rules.failure

    def _load_robots(
        self, origin: str, attempts: list[FetchAttempt], deadline: Deadline
    ) -> RobotsRules:
        """Fetch robots.txt, following redirects through the guard, and read the final answer."""
        expires = self.robots.expiry()
        current = f"{origin}/robots.txt"
        for _hop in range(self.policy.max_redirects + 1):
            if not self.guard.check_url(current).allowed:
                return RobotsRules(None, False, expires)
            outcome = self._fetch_with_retries(
                current,
                {},
                self.policy.min_interval,
                attempts,
                max_body=ROBOTS_MAX_BYTES,
                deadline=deadline,
            )
            location = outcome.headers.get("location")
            if outcome.error_class is None and outcome.status in REDIRECT_STATUSES and location:
                current = urljoin(current, location.strip())
                continue
            return interpret_robots_answer(
                origin, outcome.status, outcome.error_class, outcome.body, expires, outcome.error
            )
        return RobotsRules(None, True, expires)  # RFC 9309: give up after 5 hops, treat as absent
