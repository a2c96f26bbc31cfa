"""A progress bar for long runs on a terminal, and silence everywhere else (logs, pipes, CI)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the pipeline is imported by the command that runs it, not by the bar
    from ingest.pipeline import ProgressCallback


def on_terminal() -> bool:
    """Both streams are a terminal: a bar would otherwise end up as noise in a log or a pipe."""
    return sys.stdout.isatty() and sys.stderr.isatty()


@contextmanager
def run_progress(
    description: str = "ingest", enabled: bool | None = None
) -> Iterator[ProgressCallback | None]:
    """A callback for run_pipeline that draws a bar on stderr, or None when not on a terminal.

    While the bar is drawn, rich redirects sys.stderr so that other output written there (the
    log lines of `tradewire -v`, whose handler looks sys.stderr up per record) prints above it.
    """
    if not (on_terminal() if enabled is None else enabled):
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    # No refresh thread (auto_refresh=False): the extraction pool forks after the bar starts,
    # and forking while another thread holds a lock can deadlock the child.
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        auto_refresh=False,
    )
    task = bar.add_task(description, total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)
        bar.refresh()

    with bar:
        yield update
