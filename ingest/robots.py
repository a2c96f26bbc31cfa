"""robots.txt: what a host's rules let us fetch, read per RFC 9309 and cached per origin."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from protego import Protego

logger = logging.getLogger(__name__)

ROBOTS_MAX_BYTES = 512 * 1024  # Google's documented robots.txt limit is 500 KiB


@dataclass(frozen=True)
class RobotsRules:
    """A host's robots.txt verdict, cached until expires_at (monotonic)."""

    parser: Protego | None
    allow_all: bool
    expires_at: float
    # Why nothing may be fetched when robots.txt itself could not be read: "<class>: <detail>"
    # (the host unreachable, robots.txt answering 5xx), so a refusal names its real cause.
    failure: str | None = None

    def judge(self, url: str, token: str, max_crawl_delay: float) -> tuple[bool, float]:
        """Say whether the rules let `token` fetch the URL, and the crawl delay they ask for."""
        if self.parser is None:
            return self.allow_all, 0.0
        delay = self.parser.crawl_delay(token) or 0.0
        return self.parser.can_fetch(url, token), min(float(delay), max_crawl_delay)


class RobotsCache:
    """Rules per origin, so robots.txt is read once per host per time-to-live, not per request."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.rules: dict[str, RobotsRules] = {}

    def lookup(self, origin: str) -> RobotsRules | None:
        """The origin's rules while still fresh; None when they must be (re)loaded."""
        rules = self.rules.get(origin)
        if rules is None or rules.expires_at < time.monotonic():
            return None
        return rules

    def store(self, origin: str, rules: RobotsRules) -> RobotsRules:
        """Remember the origin's rules until they expire."""
        self.rules[origin] = rules
        return rules

    def expiry(self) -> float:
        """When rules loaded now go stale (monotonic)."""
        return time.monotonic() + self.ttl


def derive_robots_token(user_agent: str) -> str:
    """robots.txt groups match on the product token alone ("tradewire"), per RFC 9309."""
    return re.split(r"[/\s(]", user_agent.strip(), maxsplit=1)[0] or user_agent


def derive_origin(url: str) -> str:
    """Key rules by scheme and authority: robots.txt applies to exactly one origin."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def interpret_robots_answer(
    origin: str,
    status: int | None,
    error_class: str | None,
    body: bytes | None,
    expires_at: float,
    error: str | None = None,
) -> RobotsRules:
    """Turn a final robots.txt answer into rules: 4xx means none, 5xx or silence means stay away."""
    if error_class == "too_large":
        # RFC 9309 lets a crawler stop reading at its limit; an oversized file says nothing usable.
        return RobotsRules(None, True, expires_at)
    if error_class is not None or status is None:
        logger.info("robots.txt of %s unreachable (%s); not fetching there", origin, error_class)
        failure = f"{error_class or 'connection_error'}: robots.txt of {origin} unreachable"
        return RobotsRules(None, False, expires_at, f"{failure} ({error})" if error else failure)
    if 200 <= status < 300:
        text = (body or b"").decode("utf-8", "replace")
        return RobotsRules(Protego.parse(text), True, expires_at)
    if 400 <= status < 500 and status != 429:
        return RobotsRules(None, True, expires_at)
    logger.info("robots.txt of %s answered HTTP %s; not fetching there", origin, status)
    return RobotsRules(
        None,
        False,
        expires_at,
        f"robots_disallowed: robots.txt of {origin} answered HTTP {status} (RFC 9309: stay away)",
    )
