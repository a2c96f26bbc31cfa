"""A real S3-compatible server on loopback: moto's standalone server, in its own process."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

# moto accepts any credentials; clients still need some to sign requests.
TEST_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "tradewire-test",
    "AWS_SECRET_ACCESS_KEY": "tradewire-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    """An ephemeral loopback port nobody holds right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def moto_server_command() -> list[str]:
    """moto_server from the same environment as the tests."""
    beside = Path(sys.executable).with_name("moto_server")
    found = str(beside) if beside.exists() else shutil.which("moto_server")
    if not found:
        raise RuntimeError("moto_server not found: install the dev dependencies (`make test`)")
    return [found]


@contextlib.contextmanager
def run_s3_server(timeout: float = 30.0) -> Iterator[str]:
    """Start moto's server on a free loopback port; yield its endpoint URL; stop it after."""
    port = free_port()
    proc = subprocess.Popen(
        [*moto_server_command(), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **TEST_CREDENTIALS},
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"moto_server exited with {proc.returncode}")
            try:
                httpx.get(f"{endpoint}/moto-api/", timeout=1.0)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not answer on {endpoint}") from None
                time.sleep(0.05)
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def make_bucket(endpoint: str, bucket: str) -> None:
    """Create a bucket on the server (us-east-1 takes no location constraint)."""
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=TEST_CREDENTIALS["AWS_DEFAULT_REGION"],
        aws_access_key_id=TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    client.create_bucket(Bucket=bucket)
