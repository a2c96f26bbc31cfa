"""Content-addressed store of fetched pages: gzip files named by the SHA-256 of their bytes.

Keyed by hash so nothing a feed or a server says ever becomes part of a file path, identical
pages are stored once, and the quality stage can re-extract any landed page later.

The root is a local folder (TRADEWIRE_RAW_DIR, the default) or object storage
(TRADEWIRE_RAW_ROOT=s3://bucket/prefix): a page's location is the root plus its key, so an
extraction worker on any machine with the same settings reads what a poll task on another
machine stored. Local roots keep their plain-file path (no fsspec on the hot path).
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import re
import tempfile
from pathlib import Path

from transforms.objectstore import is_remote, join_url, open_root, read_bytes
from transforms.settings import Settings

logger = logging.getLogger(__name__)

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def configured_raw_root(settings: Settings) -> str:
    """TRADEWIRE_RAW_ROOT when set, else the TRADEWIRE_RAW_DIR folder (the default data/raw)."""
    return settings.raw_root or str(settings.raw_dir)


def raw_key(sha: str) -> str:
    """A page's key under any root: ab/abcdef….html.gz (two-level fan-out)."""
    if not _SHA256.match(sha):
        raise ValueError(f"not a sha256 hex digest: {sha!r}")
    return f"{sha[:2]}/{sha}.html.gz"


def raw_path(root: str | os.PathLike[str], sha: str) -> Path:
    """Where the page with this hash lives under a local root."""
    return Path(root) / raw_key(sha)


def raw_url(root: str | os.PathLike[str], sha: str) -> str:
    """A page's location: a plain path under a local root, root/key under object storage."""
    if is_remote(str(root)):
        return join_url(str(root), raw_key(sha))
    return str(raw_path(root, sha))


def put_raw(root: str | os.PathLike[str], data: bytes, settings: Settings | None = None) -> str:
    """Store page bytes once and return their hash; a rerun or a second worker writes nothing."""
    sha = hashlib.sha256(data).hexdigest()
    if is_remote(str(root)):
        put_remote(str(root), sha, data, settings)
        return sha
    target = raw_path(root, sha)
    if target.exists():
        return sha
    target.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0 keeps the file bytes a function of the page alone; rename makes the write atomic,
    # so a reader never sees half a file and concurrent writers of one page both succeed.
    handle, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".gz")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(gzip.compress(data, mtime=0))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return sha


def put_remote(root: str, sha: str, data: bytes, settings: Settings | None) -> None:
    """One object per page; a PUT is atomic, so a reader never sees half a page either."""
    fs, path = open_root(raw_url(root, sha), settings)
    if fs.exists(path):
        return
    fs.pipe_file(path, gzip.compress(data, mtime=0))
    logger.debug("stored page %s under %s", sha, root)


def read_raw(location: str, settings: Settings | None = None) -> bytes:
    """A stored page's bytes, un-gzipped, from whichever root its location names."""
    if not is_remote(location):
        return gzip.decompress(Path(location).read_bytes())
    return gzip.decompress(read_bytes(location, settings))
