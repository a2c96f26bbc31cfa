"""The folder source: fixture articles (.txt, .html, .html.gz) dropped into a directory.

Nothing in a folder is passed over in silence: a document whose name is not UTF-8, or a
subfolder that cannot be listed, becomes an item carrying its error (an error row once, then
skipped until it changes); a folder that cannot be read, or holds files but no documents, is
reported on the scan, which the run turns into the folder's `sources` state and its summary.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ingest.localfiles import DEFAULT_MAX_DOCUMENT_BYTES, document_fingerprint, stat_fingerprint
from ingest.records import SourceItem

logger = logging.getLogger(__name__)

SUFFIXES = {".txt": "txt", ".html": "html", ".htm": "html", ".gz": "html.gz"}
# SourceItem.kind of a subfolder the scan could not list (it carries its error).
DIRECTORY_KIND = "directory"


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


def printable_path(location: str) -> str:
    """A path as valid UTF-8: bytes no codec decodes are shown as \\xNN escapes."""
    try:
        location.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(location).decode("utf-8", "backslashreplace")
    return location


@dataclass
class FolderScan:
    """What one folder held besides the documents it yielded: the folder's health."""

    root: str
    documents: int = 0
    ignored: Counter[str] = field(default_factory=Counter)  # suffix -> files the source skips
    problem: str | None = None  # the folder itself could not be read

    def failure(self) -> str | None:
        """Why the folder as a whole gave nothing ("<class>: <detail>"), or None when it did
        (an empty folder is an inbox waiting, not a failure)."""
        if self.problem:
            return self.problem
        if self.documents == 0 and self.ignored:
            return (
                f"no_documents: {sum(self.ignored.values())} files, none of them .txt, .html, "
                f".htm or .html.gz ({self.describe_ignored()}); feeds are sources by URL"
            )
        return None

    def describe_ignored(self) -> str:
        """'134 .xml, 2 .pdf': the skipped files by suffix, most common first."""
        return ", ".join(
            f"{n} {suffix or '(no suffix)'}" for suffix, n in self.ignored.most_common(5)
        )


def scan_folder(
    folder: Path,
    known: Mapping[str, str] | None = None,
    max_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
    scan: FolderScan | None = None,
) -> Iterator[SourceItem]:
    """Yield every document in the folder with the hash of its bytes, in a stable order.

    With `known` (location -> hash of what is landed), only documents at a known location are
    read and hashed here, to tell unchanged from changed. A new location is fresh whatever its
    bytes, so its hash is left empty for extraction, which reads the bytes anyway: a first run
    over 10,000 pages then reads each page once, in a worker, not twice. A document that cannot
    be read within `max_bytes` hashes to its `stat:` fingerprint, as its error row does.
    """
    root = folder.resolve()
    scan = scan if scan is not None else FolderScan(str(root))
    if not root.is_dir():
        scan.problem = (
            f"not_a_folder: {printable_path(str(root))} is not a directory"
            if root.exists()
            else f"missing_folder: {printable_path(str(root))} does not exist"
        )
        logger.warning("folder source %s: %s", printable_path(str(root)), scan.problem)
        return
    errors: list[OSError] = []
    entries: list[tuple[str, str | None]] = []  # (path, error) for files and unlistable folders
    for directory, _subdirs, files in os.walk(root, onerror=errors.append):
        entries.extend((os.path.join(directory, name), None) for name in files)
    for failure in errors:
        where = str(failure.filename or root)
        reason = f"unreadable_directory: {failure.strerror or failure}"
        if Path(where) == root:
            scan.problem = reason
            logger.warning("folder source %s: %s", printable_path(where), reason)
            return
        entries.append((where, reason))
    for location, problem in sorted(entries, key=lambda entry: entry[0]):
        item = _item(root, location, problem, known, max_bytes, scan)
        if item is not None:
            yield item
    if scan.failure():
        logger.warning("folder source %s: %s", printable_path(str(root)), scan.failure())
    elif scan.ignored:
        logger.info("folder source %s: ignored %s", root, scan.describe_ignored())


def _item(
    root: Path,
    location: str,
    error: str | None,
    known: Mapping[str, str] | None,
    max_bytes: int,
    scan: FolderScan,
) -> SourceItem | None:
    """The SourceItem for one listed path; None for what the source skips or what vanished."""
    path = Path(location)
    kind = DIRECTORY_KIND if error else document_kind(path)
    if kind is None:
        if not path.name.startswith(".") and path.is_file():
            suffix = path.suffix.lower()
            scan.ignored["".join(path.suffixes[-2:]).lower() if suffix == ".gz" else suffix] += 1
        return None
    if error is None and not path.is_file():
        return None  # a broken symlink, a socket: nothing to read
    shown = printable_path(location)
    if error is None and shown != location:
        error = "bad_file_name: the file name is not valid UTF-8; rename the file"
    try:
        mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat()
    except OSError:
        return None  # vanished between listing and now: the next run sees it again
    scan.documents += kind != DIRECTORY_KIND
    if error is not None:
        # Fingerprinted now, so the error row is written once and retried only on change.
        raw_hash = stat_fingerprint(location)
    elif known is None or location in known:
        raw_hash = document_fingerprint(location, max_bytes)
    else:
        raw_hash = ""
    return SourceItem(
        source=str(root),
        location=shown,
        kind=kind,
        raw_hash=raw_hash,
        url=None,
        discovered_at=mtime,
        fetch_error=error,
    )
