"""The folder source: fixture articles (.txt, .html, .html.gz) dropped into a directory."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

from ingest.extraction import hash_bytes, read_source_bytes
from ingest.records import SourceItem

SUFFIXES = {".txt": "txt", ".html": "html", ".htm": "html", ".gz": "html.gz"}


def document_kind(path: Path) -> str | None:
    """The extraction path for a file name, or None for files the folder source ignores."""
    name = path.name.lower()
    if name.startswith("."):
        return None
    if name.endswith((".html.gz", ".htm.gz")):
        return "html.gz"
    if name.endswith(".gz"):
        return None
    return SUFFIXES.get(path.suffix.lower())


def scan_folder(folder: Path, known: Mapping[str, str] | None = None) -> Iterator[SourceItem]:
    """Yield every document in the folder with the hash of its bytes, in a stable order.

    With `known` (location -> hash of what is landed), only documents at a known location are
    read and hashed here, to tell unchanged from changed. A new location is fresh whatever its
    bytes, so its hash is left empty for extraction, which reads the bytes anyway: a first run
    over 10,000 pages then reads each page once, in a worker, not twice.
    """
    root = folder.resolve()
    for path in sorted(root.rglob("*")):
        kind = document_kind(path)
        if kind is None or not path.is_file():
            continue
        location = str(path)
        try:
            if known is None or location in known:
                raw_hash = hash_bytes(read_source_bytes(location))
            else:
                raw_hash = ""
        except OSError:
            # Vanished or unreadable between listing and reading: the next run sees it again.
            continue
        mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat()
        yield SourceItem(
            source=str(root),
            location=location,
            kind=kind,
            raw_hash=raw_hash,
            url=None,
            discovered_at=mtime,
        )
