"""Fixtures: a loopback HTTP server per test and Fetchers allowed to reach it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ingest.fetch import Fetcher, FetchPolicy
from tests.integration.loopback import TEST_POLICY, LocalServer, serve_loopback


@pytest.fixture
def server() -> Iterator[LocalServer]:
    """Start a ThreadingHTTPServer on an ephemeral loopback port for one test."""
    with serve_loopback() as state:
        yield state


@pytest.fixture
def make_fetcher(tmp_path: Path) -> Iterator[Callable[..., Fetcher]]:
    """Build Fetchers allowed to reach 127.0.0.1 only, sharing one state dir per test."""
    made: list[Fetcher] = []

    def build(policy: FetchPolicy = TEST_POLICY, state_dir: Path | None = None) -> Fetcher:
        fetcher = Fetcher(
            user_agent="tradewire-test/0.1",
            contact_url="https://example.org/tradewire",
            state_dir=state_dir or tmp_path / "fetch-state",
            policy=policy,
            allowed_hosts={"127.0.0.1"},
        )
        made.append(fetcher)
        return fetcher

    yield build
    for fetcher in made:
        fetcher.close()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A loopback S3 server (moto's standalone server) shared by a session's tests."""
    from tests.integration.s3server import run_s3_server

    with run_s3_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh bucket on the loopback server, with the settings and credentials that reach it.

    Yields the bucket's URL (s3://name).
    """
    import uuid

    from tests.integration.s3server import TEST_CREDENTIALS, make_bucket

    for key, value in TEST_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("TRADEWIRE_S3_ENDPOINT_URL", s3_endpoint)
    bucket = f"tradewire-test-{uuid.uuid4().hex[:12]}"
    make_bucket(s3_endpoint, bucket)
    yield f"s3://{bucket}"
