"""Event source for the folder inbox: an Airflow trigger that fires when documents appear or change.

Runs inside Airflow's triggerer (asyncio), so it only stats files; ingestion itself happens in the
DAG run the event starts. Files missed while the triggerer was down are picked up by the
scheduled safety-net run.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

DOCUMENT_SUFFIXES = (".txt", ".html", ".htm", ".html.gz", ".htm.gz")

Snapshot = dict[str, tuple[int, int]]


def snapshot_folder(directory: str) -> Snapshot:
    """Name -> (size, mtime_ns) of every document in the folder tree; cheap enough to poll."""
    found: Snapshot = {}
    for root, _dirs, files in os.walk(directory):
        for name in files:
            if name.startswith(".") or not name.lower().endswith(DOCUMENT_SUFFIXES):
                continue
            path = os.path.join(root, name)
            try:
                stat = os.stat(path)
            except OSError:
                continue
            found[path] = (stat.st_size, stat.st_mtime_ns)
    return found


def settled_changes(previous: Snapshot, current: Snapshot, pending: Snapshot) -> list[str]:
    """Paths that changed since `previous` and have not moved since the last poll (`pending`).

    Waiting one poll for a file to stop changing avoids ingesting a half-copied document.
    """
    return sorted(
        path
        for path, sig in current.items()
        if previous.get(path) != sig and pending.get(path) == sig
    )


class InboxTrigger(BaseEventTrigger):
    """Fires an event each time documents in `directory` appear or change (never deletes them)."""

    def __init__(self, directory: str, poke_interval: float = 2.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.directory = directory
        self.poke_interval = poke_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "ingest.inbox.InboxTrigger",
            {"directory": self.directory, "poke_interval": self.poke_interval},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll forever; each yield becomes one asset event, which schedules an ingest run."""
        Path(self.directory).mkdir(parents=True, exist_ok=True)
        seen = await asyncio.to_thread(snapshot_folder, self.directory)
        pending: Snapshot = dict(seen)
        while True:
            await asyncio.sleep(self.poke_interval)
            current = await asyncio.to_thread(snapshot_folder, self.directory)
            changed = settled_changes(seen, current, pending)
            pending = current
            if changed:
                for path in changed:
                    seen[path] = current[path]
                self.log.info("inbox: %d new or changed documents", len(changed))
                yield TriggerEvent({"directory": self.directory, "files": changed[:100]})
