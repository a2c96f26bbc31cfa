"""Retries for HTTP attempts, via tenacity: which failures are temporary and how long to wait."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Protocol, TypeVar, cast

import tenacity

logger = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRYABLE_ERRORS = frozenset({"timeout", "connection_error"})
RETRY_AFTER_STATUSES = frozenset({429, 503})  # the statuses RFC 9110 gives a Retry-After meaning


class Answer(Protocol):
    """What one attempt must expose for the retry decision."""

    @property
    def status(self) -> int | None: ...

    @property
    def error_class(self) -> str | None: ...

    @property
    def headers(self) -> Mapping[str, str]: ...


AnswerT = TypeVar("AnswerT", bound=Answer)


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


def describe_temporary_failure(answer: Answer) -> str | None:
    """Name what makes an answer worth another try ("HTTP 503", "timeout"); None when it is final."""
    if answer.error_class in RETRYABLE_ERRORS:
        return answer.error_class
    if answer.status in RETRYABLE_STATUSES:
        return f"HTTP {answer.status}"
    return None


def read_retry_after(answer: Answer) -> float | None:
    """The wait a 429 or 503 asks for, in seconds; None when it asks for none we can read."""
    if answer.status not in RETRY_AFTER_STATUSES:
        return None
    return parse_retry_after(answer.headers.get("retry-after"))


class Deadline:
    """A hard limit on the time one URL may take, across its redirects, retries and robots.txt.

    Time spent queueing for a politeness slot is not the server's doing, so `extend` moves the
    limit out by it: a URL holds a run for at most `seconds` of network time plus politeness.
    """

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self.at = clock() + seconds

    def remaining(self) -> float:
        """Seconds left; zero or less once the limit has passed."""
        return self.at - self.clock()

    def expired(self) -> bool:
        """Say whether the limit has passed."""
        return self.remaining() <= 0

    def extend(self, seconds: float) -> None:
        """Move the limit out by time that does not count (waiting for our turn at a host)."""
        if seconds > 0:
            self.at += seconds


class stop_at_deadline(tenacity.stop.stop_base):  # noqa: N801 - named like tenacity's own stops
    """Stop when the next attempt could not start before the deadline, after its wait."""

    def __init__(self, deadline: Deadline) -> None:
        self.deadline = deadline

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        return self.deadline.remaining() <= retry_state.upcoming_sleep


def backoff_wait(base: float, cap: float) -> tenacity.wait_exponential_jitter:
    """Exponential backoff with up to `base` of jitter on top, so many workers' retries spread out."""
    return tenacity.wait_exponential_jitter(multiplier=base, max=cap, jitter=base)


def send_with_retries(
    send: Callable[[int], AnswerT],
    *,
    url: str,
    max_attempts: int,
    backoff_base: float,
    backoff_max: float,
    max_retry_after: float,
    deadline: Deadline | None = None,
) -> AnswerT:
    """Call send(retry) until its answer is final or attempts run out, so blips do not cost a run.

    With a deadline, no attempt starts (and no backoff begins) that would end past it: a URL
    that times out is not retried into a second or third full timeout. A Retry-After wait the
    server asked for (within max_retry_after) is politeness and moves the deadline out by itself.
    """
    # Temporary failures (timeouts, connection errors, 429, 5xx) back off, or wait exactly the
    # Retry-After a 429/503 asks for; asked for more than max_retry_after we stop instead, since
    # waiting less than asked would be rude. The last answer is returned; exceptions propagate.
    backoff = backoff_wait(backoff_base, backoff_max)
    tries = itertools.count()

    def answer_of(state: tenacity.RetryCallState) -> AnswerT:
        assert state.outcome is not None
        return cast("AnswerT", state.outcome.result())

    def should_retry(state: tenacity.RetryCallState) -> bool:
        if state.outcome is None or state.outcome.failed:
            return False
        answer = answer_of(state)
        if describe_temporary_failure(answer) is None:
            return False
        asked = read_retry_after(answer)
        if asked is not None and asked > max_retry_after:
            logger.warning(
                "%s asks to retry after %.0fs, beyond our %.0fs cap; leaving it for the next run",
                url,
                asked,
                max_retry_after,
            )
            return False
        return True

    def wait(state: tenacity.RetryCallState) -> float:
        asked = read_retry_after(answer_of(state))
        if asked is None:
            return backoff(state)  # our own choice of wait: it spends the URL's time
        if deadline is not None:
            deadline.extend(asked)  # the server's, like politeness: it comes on top
        return asked

    def log_retry(state: tenacity.RetryCallState) -> None:
        logger.info(
            "%s: %s on attempt %d of %d; retrying in %.2fs",
            url,
            describe_temporary_failure(answer_of(state)),
            state.attempt_number,
            max_attempts,
            state.upcoming_sleep,
        )

    def give_up(state: tenacity.RetryCallState) -> AnswerT:
        # The caller reports the final answer; one line per failure is enough.
        logger.debug("%s: attempts exhausted after %d", url, state.attempt_number)
        return answer_of(state)

    stop: tenacity.stop.stop_base = tenacity.stop_after_attempt(max_attempts)
    if deadline is not None:
        stop = stop | stop_at_deadline(deadline)
    retrying = tenacity.Retrying(
        stop=stop,
        wait=wait,
        retry=should_retry,
        before_sleep=log_retry,
        retry_error_callback=give_up,
    )
    return retrying(lambda: send(next(tries)))
