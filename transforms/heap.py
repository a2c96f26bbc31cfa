"""Handing freed heap back to the operating system, so long runs keep a flat memory profile."""

from __future__ import annotations

import contextlib
import ctypes


def trim_heap() -> None:
    """Return glibc's free pages to the OS: it otherwise keeps the peak of every parse or load."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL(None).malloc_trim(0)
