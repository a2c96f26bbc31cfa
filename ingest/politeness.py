"""Politeness across processes: a few request slots per host and a minimum gap between starts.

Two gates keep the same promise behind one interface (`slot`): `HostGate`, flock files under
the state folder, for processes on one machine (the default); `RedisHostGate`, for workers
on many machines sharing one Redis (TRADEWIRE_POLITENESS_URL=redis://…).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import random
import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)
T = TypeVar("T")


if TYPE_CHECKING:
    import redis


class PolitenessTimeout(Exception):
    """Raised when no request slot for a host frees up within the wait limit."""


class PolitenessUnavailable(Exception):
    """Raised when the shared politeness store cannot be reached: the run must stop, since
    fetching without it could hammer a host other workers are already fetching from."""


class Gate(Protocol):
    """What a fetcher needs from politeness: one in-flight slot, started on its turn."""

    def slot(self, key: str, min_interval: float) -> contextlib.AbstractContextManager[float]:
        """Hold a slot for the host; the value is the request's start time (epoch seconds)."""
        ...

    def close(self) -> None:
        """Release what the gate holds open between requests."""
        ...


def derive_host_key(url: str) -> str:
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

    def close(self) -> None:
        """Nothing stays open between requests: each slot opens and closes its own files."""

    @contextlib.contextmanager
    def slot(self, key: str, min_interval: float) -> Iterator[float]:
        """Hold one in-flight slot for the host, starting no sooner than min_interval after the last start."""
        handle = self.acquire_slot(key)
        try:
            yield self.wait_turn(key, min_interval)
        finally:
            handle.close()  # closing drops the flock, also if the process dies

    def acquire_slot(self, key: str) -> IO[bytes]:
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

    def wait_turn(self, key: str, min_interval: float) -> float:
        """Space request starts; the gate lock is held while sleeping so waiters queue behind it."""
        with open(self.state_dir / f"{key}.gate", "a+b") as gate:
            fcntl.flock(gate, fcntl.LOCK_EX)
            gate.seek(0)
            raw = gate.read().strip()
            try:
                last = float(raw) if raw else 0.0
            except ValueError:
                logger.warning("unreadable politeness gate for %s (%r); starting afresh", key, raw)
                last = 0.0
            now = time.time()
            if last > now + min_interval:
                logger.warning("politeness gate for %s is in the future; clock went back?", key)
                last = 0.0  # do not stall forever
            wait = last + min_interval - now
            if wait > 0:
                logger.debug("waiting %.2fs for our turn at %s", wait, key)
                time.sleep(wait)
            started = time.time()
            gate.seek(0)
            gate.truncate()
            gate.write(f"{started:.6f}".encode())
            gate.flush()
            os.fsync(gate.fileno())
            return started


# Reserve a slot and a turn in one atomic step, on Redis's clock (workers' clocks may differ):
# drop expired holders, refuse when max_in_flight hold slots, else start no sooner than the
# host's last reserved start plus this caller's interval (its Crawl-delay included), record
# that start as the last one and hold the slot until released or its lease runs out.
# KEYS: holders (sorted set, score = lease end), last start. ARGV: token, max_in_flight,
# interval, lease, keep (all microseconds but max_in_flight). Returns the wait, or -1.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return -1
end
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
local start = math.max(now, last + tonumber(ARGV[3]))
local lease_end = start + tonumber(ARGV[4])
redis.call('SET', KEYS[2], string.format('%d', start), 'PX',
  math.ceil((start - now + tonumber(ARGV[5])) / 1000))
redis.call('ZADD', KEYS[1], string.format('%d', lease_end), ARGV[1])
redis.call('PEXPIRE', KEYS[1], math.ceil((lease_end - now) / 1000))
return start - now
"""
_MICRO = 1_000_000
# How long a host's last start is remembered: far past any interval or Crawl-delay we obey.
_KEEP_SECONDS = 86_400.0
# Added to every interval: a turn is reserved before the request is sent, and the time from
# "go" to the site seeing the request differs per worker (scheduling under load, each
# machine's own network path); without it a site measured gaps ~20-30 ms short of 5 s.
SEND_MARGIN = 0.05


def redact_url(url: str) -> str:
    """A store URL fit for logs and errors: the password, if any, masked."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


class RedisHostGate:
    """Politeness across machines: per-host slots and start times reserved in one Redis."""

    def __init__(
        self,
        url: str,
        max_in_flight: int,
        wait_timeout: float,
        lease: float = 300.0,
        connect_timeout: float = 5.0,
        namespace: str = "tradewire:politeness",
        margin: float = SEND_MARGIN,
    ) -> None:
        import redis  # only runs that share politeness through Redis pay for the client

        self.url = redact_url(url)
        # One namespace for every deployment on a Redis: a host is owed its gaps whoever asks.
        self.namespace = namespace
        self.max_in_flight = max(1, max_in_flight)
        self.wait_timeout = wait_timeout
        # A holder that died keeps its slot this long at most; longer than any one request.
        self.lease = lease
        self.margin = margin
        # Not reachable, too slow, or not Redis at all (a proxy answering HTTP on the port).
        self.errors: tuple[type[Exception], ...] = (
            redis.ConnectionError,
            redis.TimeoutError,
            redis.exceptions.InvalidResponse,
        )
        self.client: redis.Redis = redis.Redis.from_url(
            url, socket_connect_timeout=connect_timeout, socket_timeout=connect_timeout
        )
        self.reserve = self.client.register_script(_RESERVE)
        self._call(self.client.ping)  # fail at start-up, not at the first page

    def close(self) -> None:
        """Drop the pooled Redis connections."""
        self.client.close()

    def _call(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one Redis command, turning a lost connection into a clear PolitenessUnavailable."""
        try:
            return func(*args, **kwargs)
        except self.errors as exc:
            raise PolitenessUnavailable(
                f"politeness store {self.url} is unreachable or not Redis ({exc}); check "
                "TRADEWIRE_POLITENESS_URL, or leave it empty to use local state on one machine"
            ) from exc

    @contextlib.contextmanager
    def slot(self, key: str, min_interval: float) -> Iterator[float]:
        """Hold one in-flight slot for the host, starting no sooner than min_interval after the
        last start any worker reserved."""
        holders, token = f"{self.namespace}:{key}:holders", uuid.uuid4().hex
        wait = self.acquire_turn(key, holders, token, min_interval)
        try:
            if wait > 0:
                logger.debug("waiting %.2fs for our turn at %s", wait, key)
                time.sleep(wait)
            yield time.time()
        finally:
            try:
                self._call(self.client.zrem, holders, token)
            except PolitenessUnavailable as exc:
                # The lease frees the slot anyway; the request itself is done.
                logger.warning("could not release a politeness slot for %s: %s", key, exc)

    def acquire_turn(self, key: str, holders: str, token: str, min_interval: float) -> float:
        """Reserve a slot and a start time; seconds to wait for that start."""
        deadline = time.monotonic() + self.wait_timeout
        args = [
            token,
            self.max_in_flight,
            int((min_interval + self.margin) * _MICRO),
            int(self.lease * _MICRO),
            int(_KEEP_SECONDS * _MICRO),
        ]
        while True:
            waited = self._call(
                self.reserve, keys=[holders, f"{self.namespace}:{key}:last"], args=args
            )
            if isinstance(waited, int) and waited >= 0:
                return waited / _MICRO
            if time.monotonic() > deadline:
                raise PolitenessTimeout(f"no free request slot for {key}")
            time.sleep(0.02 + random.uniform(0, 0.03))


def open_gate(
    politeness_url: str,
    state_dir: Path,
    max_in_flight: int,
    wait_timeout: float,
    lease: float = 300.0,
) -> Gate:
    """The gate the settings ask for: local flock files unless a redis:// URL is given."""
    if not politeness_url:
        return HostGate(state_dir, max_in_flight, wait_timeout)
    scheme = urlsplit(politeness_url).scheme.lower()
    if scheme in ("redis", "rediss", "unix"):
        return RedisHostGate(politeness_url, max_in_flight, wait_timeout, lease)
    raise ValueError(
        f"TRADEWIRE_POLITENESS_URL {redact_url(politeness_url)!r}: expected redis://host:port/db "
        "(or empty for local state)"
    )
