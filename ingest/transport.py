"""Guarded HTTP transport: httpx on an httpcore connection pool that dials only approved addresses."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import time
from collections.abc import Iterable, Iterator
from typing import Any

import httpcore
import httpx

from ingest.guard import AddressGuard, GuardRefused, ResolutionFailed

logger = logging.getLogger(__name__)

# httpcore's errors as httpx's, most specific first so the first match is the closest one;
# the same table httpx's own transport uses, so callers catch what they would with httpx alone.
HTTPCORE_TO_HTTPX: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def translate_errors(request: httpx.Request) -> Iterator[None]:
    """Re-raise httpcore failures as httpx exceptions, keeping the original as the cause."""
    try:
        yield
    except Exception as exc:
        for source, target in HTTPCORE_TO_HTTPX:
            if isinstance(exc, source):
                raise target(str(exc), request=request) from exc
        raise


# The monotonic time by which the current request must be over (set by the fetcher around each
# request). httpx and httpcore only know per-operation timeouts: a server that trickles its
# headers a byte a second never trips a 20 s read timeout. Every read, write and connect of a
# connection made here is cut to the time left, so the limit holds in every phase.
REQUEST_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "tradewire_request_deadline", default=None
)


@contextlib.contextmanager
def request_deadline(at: float | None) -> Iterator[None]:
    """Bound every network operation in the block by the monotonic time `at`."""
    token = REQUEST_DEADLINE.set(at)
    try:
        yield
    finally:
        REQUEST_DEADLINE.reset(token)


class DeadlineExceeded(httpcore.ReadTimeout):
    """The request's total time ran out (a ReadTimeout to httpcore, so it drops the connection)."""


def bounded_timeout(timeout: float | None) -> float | None:
    """The operation's own timeout, cut to what the request's deadline leaves; raises when none."""
    at = REQUEST_DEADLINE.get()
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise DeadlineExceeded("total time for the request exceeded")
    return left if timeout is None else min(timeout, left)


class DeadlineStream(httpcore.NetworkStream):
    """A connection whose reads and writes never run past the current request's deadline."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self.stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.stream.read(max_bytes, bounded_timeout(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.stream.write(buffer, bounded_timeout(timeout))

    def close(self) -> None:
        self.stream.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return DeadlineStream(
            self.stream.start_tls(ssl_context, server_hostname, bounded_timeout(timeout))
        )

    def get_extra_info(self, info: str) -> Any:
        return self.stream.get_extra_info(info)


class RefusedConnection(httpcore.ConnectError):
    """A dial the guard refused: the name now resolves somewhere forbidden (DNS rebinding)."""


def is_guard_refusal(exc: BaseException) -> bool:
    """Tell a connection the guard refused from one the network failed, through httpx's wrapping."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, RefusedConnection):
            return True
        cause = cause.__cause__
    return False


class GuardedNetworkBackend(httpcore.NetworkBackend):
    """Connects only to addresses the guard approved, closing the DNS-rebinding window."""

    def __init__(self, guard: AddressGuard) -> None:
        self.guard = guard
        self.dialer = httpcore.SyncBackend()

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
            addresses = self.guard.allowed_addresses(host, port)
        except GuardRefused as exc:
            # The type carries the verdict: httpcore's pool re-raises without the cause chain.
            logger.warning("refused to connect to %s port %d: %s", host, port, exc)
            raise RefusedConnection(str(exc)) from exc
        except ResolutionFailed as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        last_error: Exception | None = None
        for address in addresses:
            try:
                stream = self.dialer.connect_tcp(
                    address, port, bounded_timeout(timeout), local_address, socket_options
                )
                return DeadlineStream(stream)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                logger.debug("connecting to %s (%s) port %d failed: %s", host, address, port, exc)
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
        self.dialer.sleep(seconds)


class ResponseBody(httpx.SyncByteStream):
    """An httpcore body as an httpx stream, so callers read it lazily and caps can stop early."""

    def __init__(self, chunks: Iterable[bytes], request: httpx.Request) -> None:
        self.chunks = chunks
        self.request = request

    def __iter__(self) -> Iterator[bytes]:
        with translate_errors(self.request):
            yield from self.chunks

    def close(self) -> None:
        """Hand the connection back to the pool (or drop it when the body was not read to the end)."""
        close = getattr(self.chunks, "close", None)
        if callable(close):
            with translate_errors(self.request):
                close()


class GuardedTransport(httpx.BaseTransport):
    """An httpx transport whose connections are dialled through the guarded backend."""

    def __init__(self, guard: AddressGuard, limits: httpx.Limits) -> None:
        self.connections = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedNetworkBackend(guard),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send one request over the pool and return the response with its body still unread."""
        if not isinstance(request.stream, httpx.SyncByteStream):
            raise TypeError("GuardedTransport sends synchronous request bodies only")
        sent = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,  # carries the client's timeouts to httpcore
        )
        with translate_errors(request):
            answer = self.connections.handle_request(sent)
        if not isinstance(answer.stream, Iterable):
            raise TypeError("httpcore returned an asynchronous body to a synchronous pool")
        return httpx.Response(
            status_code=answer.status,
            headers=answer.headers,
            stream=ResponseBody(answer.stream, request),
            extensions=answer.extensions,
        )

    def close(self) -> None:
        """Close every pooled connection."""
        self.connections.close()
