"""Address guard decisions, on literal IPs and on resolver answers."""

from __future__ import annotations

import httpcore
import pytest

from ingest.guard import AddressGuard, Resolver, is_forbidden_address
from ingest.transport import GuardedNetworkBackend


def fixed_resolver(answers: dict[str, list[str]]) -> Resolver:
    def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError(f"no such host {host}")
        return answers[host]

    return resolve


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "100.64.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "::",
        "ff02::1",
    ],
)
def test_forbidden_addresses(address: str) -> None:
    assert is_forbidden_address(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses(address: str) -> None:
    assert not is_forbidden_address(address)


def test_literal_private_urls_are_refused() -> None:
    guard = AddressGuard()
    for url in (
        "http://127.0.0.1/",
        "http://10.0.0.1/",
        "http://169.254.169.254/latest",
        "http://[::1]:8080/",
    ):
        decision = guard.check_url(url)
        assert not decision.allowed and decision.error_class == "guard_refused", url


def test_allow_list_admits_named_hosts_only() -> None:
    guard = AddressGuard({"127.0.0.1"})
    assert guard.check_url("http://127.0.0.1:9999/feed").allowed
    assert not guard.check_url("http://127.0.0.2/").allowed


def test_resolved_address_is_checked_not_the_name() -> None:
    guard = AddressGuard(
        resolver=fixed_resolver({"news.example": ["10.1.2.3"], "ok.example": ["93.184.216.34"]})
    )
    assert guard.check_url("https://news.example/a").error_class == "guard_refused"
    ok = guard.check_url("https://ok.example/a")
    assert ok.allowed and ok.addresses == ("93.184.216.34",)


def test_mixed_answer_is_refused() -> None:
    guard = AddressGuard(resolver=fixed_resolver({"mixed.example": ["93.184.216.34", "127.0.0.1"]}))
    assert not guard.check_url("http://mixed.example/").allowed


def test_schemes_and_unresolvable_hosts() -> None:
    guard = AddressGuard(resolver=fixed_resolver({}))
    assert guard.check_url("file:///etc/passwd").error_class == "bad_scheme"
    assert guard.check_url("gopher://example.com/").error_class == "bad_scheme"
    assert guard.check_url("http:///nohost").error_class == "bad_url"
    assert guard.check_url("http://example.com:99999/").error_class == "bad_url"
    assert guard.check_url("http://nowhere.example/").error_class == "connection_error"


def test_connect_time_check_blocks_rebinding() -> None:
    """The pre-check saw a public address; by connect time DNS says loopback: no connection."""
    answers = {"rebind.example": ["127.0.0.1"]}
    backend = GuardedNetworkBackend(AddressGuard(resolver=fixed_resolver(answers)))
    with pytest.raises(httpcore.ConnectError, match="forbidden"):
        backend.connect_tcp("rebind.example", 80, timeout=0.2)
    with pytest.raises(httpcore.ConnectError):
        backend.connect_unix_socket("/var/run/docker.sock")
