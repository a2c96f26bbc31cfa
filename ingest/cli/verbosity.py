"""`tradewire -v`: the pipeline's own loggers (ingest.*, transforms.*) on stderr."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# The package loggers every module logger (logging.getLogger(__name__)) propagates to.
LOGGERS = ("ingest", "transforms")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def level_for(verbosity: int) -> int | None:
    """-v INFO, -vv (or more) DEBUG; None without -v: logging is left as it is."""
    if verbosity <= 0:
        return None
    return logging.INFO if verbosity == 1 else logging.DEBUG


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a record is emitted, not when the handler was made:
    a progress bar redirects stderr to print above itself, and tests capture it."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass  # always sys.stderr


@contextmanager
def verbose_logging(verbosity: int) -> Iterator[None]:
    """Show the ingest and transforms loggers at the level -v asks for, for one command."""
    level = level_for(verbosity)
    if level is None:
        yield
        return
    handler = StderrHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    saved = [(logger, logger.level) for logger in map(logging.getLogger, LOGGERS)]
    for logger, _ in saved:
        logger.setLevel(level)
        logger.addHandler(handler)
    try:
        yield
    finally:
        # Undone afterwards, so main() can run again in one process (tests) without doubling.
        for logger, previous in saved:
            logger.removeHandler(handler)
            logger.setLevel(previous)
