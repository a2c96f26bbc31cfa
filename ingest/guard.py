"""Address guard: keep the fetcher from reaching internal networks through feeds or redirects."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

ALLOWED_SCHEMES = frozenset({"http", "https"})

Resolver = Callable[[str, int], list[str]]


class GuardRefused(Exception):
    """Raised at connect time when a host resolves to an address the guard forbids."""


class ResolutionFailed(Exception):
    """Raised when a host does not resolve, which is a connection problem, not a refusal."""


@dataclass(frozen=True)
class GuardDecision:
    """Whether a URL may be fetched, and if not, which error class and why."""

    allowed: bool
    error_class: str | None = None
    reason: str | None = None
    addresses: tuple[str, ...] = ()


def resolve_host(host: str, port: int) -> list[str]:
    """Resolve a host the way the connection will, so the check sees the real target."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in seen:
            seen.append(address)
    return seen


def is_forbidden_address(address: str) -> bool:
    """Say whether an IP is internal or special-purpose rather than a public unicast address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


class AddressGuard:
    """Checks schemes and resolved addresses against an allow-list of hosts."""

    def __init__(
        self, allowed_hosts: Iterable[str] = (), resolver: Resolver = resolve_host
    ) -> None:
        self.allowed_hosts = frozenset(h.strip().lower().strip("[]") for h in allowed_hosts)
        self._resolve = resolver

    def is_allowed_host(self, host: str) -> bool:
        """Say whether a host is explicitly trusted (e.g. a local test server or intranet feed)."""
        return host.lower().strip("[]") in self.allowed_hosts

    def allowed_addresses(self, host: str, port: int) -> list[str]:
        """Resolve a host and return its addresses, refusing if any is forbidden."""
        try:
            addresses = self._resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise ResolutionFailed(f"cannot resolve {host}: {exc}") from exc
        if not addresses:
            raise ResolutionFailed(f"{host} resolved to no addresses")
        if self.is_allowed_host(host):
            return addresses
        # Refuse if *any* answer is internal: a mixed answer is a classic rebinding trick.
        bad = [a for a in addresses if is_forbidden_address(a)]
        if bad:
            raise GuardRefused(f"{host} resolves to forbidden address {bad[0]}")
        return addresses

    def check_url(self, url: str) -> GuardDecision:
        """Decide before any connection whether a URL may be fetched."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            return GuardDecision(False, "bad_url", str(exc))
        scheme = parts.scheme.lower()
        if scheme not in ALLOWED_SCHEMES:
            return GuardDecision(False, "bad_scheme", f"scheme {scheme!r} is not http(s)")
        host = parts.hostname
        if not host:
            return GuardDecision(False, "bad_url", "URL has no host")
        if port is None:
            port = 443 if scheme == "https" else 80
        try:
            addresses = self.allowed_addresses(host, port)
        except GuardRefused as exc:
            return GuardDecision(False, "guard_refused", str(exc))
        except ResolutionFailed as exc:
            return GuardDecision(False, "connection_error", str(exc))
        return GuardDecision(True, addresses=tuple(addresses))
