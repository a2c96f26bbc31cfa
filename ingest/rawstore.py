"""Content-addressed store of fetched pages: gzip files named by the SHA-256 of their bytes.

Keyed by hash so nothing a feed or a server says ever becomes part of a file path, identical
pages are stored once, and the quality stage can re-extract any landed page later.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import tempfile
from pathlib import Path

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def raw_path(root: str | os.PathLike[str], sha: str) -> Path:
    """Where the page with this hash lives: <root>/ab/abcdef….html.gz (two-level fan-out)."""
    if not _SHA256.match(sha):
        raise ValueError(f"not a sha256 hex digest: {sha!r}")
    return Path(root) / sha[:2] / f"{sha}.html.gz"


def put_raw(root: str | os.PathLike[str], data: bytes) -> str:
    """Store page bytes once and return their hash; a rerun or a second worker writes nothing."""
    sha = hashlib.sha256(data).hexdigest()
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
