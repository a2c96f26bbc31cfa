"""Politeness across processes: a few request slots per host and a minimum gap between starts."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import random
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)


class PolitenessTimeout(Exception):
    """Raised when no request slot for a host frees up within the wait limit."""


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
