"""Local documents read within limits: a size cap on what a file holds once decompressed.

A folder source reads whatever lands in it, and `seeds/` is an inbox anyone may drop files
into: a 1 MB .html.gz that inflates to 1 GB, or a 50 MB .txt, must become an error row naming
the limit, not a process of many gigabytes or an article of 50 million characters. The check
streams: a gzip member is inflated a chunk at a time and never held whole.

A document that cannot be read within the limits (too large, not gzip despite its name, not
readable) gets a `stat:` fingerprint instead of the hash of its bytes, so its error row is
written once and the file is retried only when it changes (size or modification time).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import zlib
from pathlib import Path

from transforms.objectstore import is_remote, read_bytes

# What one document may hold once decompressed: about 5 MB of HTML extracts in ~10 s and
# ~250 MB in one process; real article pages are well under 2 MB. TRADEWIRE_MAX_DOCUMENT_BYTES.
DEFAULT_MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
CHUNK = 256 * 1024


class DocumentUnreadable(Exception):
    """A local document that cannot be read within the limits; str() is "<class>: <detail>"."""

    def __init__(self, error_class: str, detail: str) -> None:
        super().__init__(f"{error_class}: {detail}")
        self.error_class = error_class


def is_gzip_name(location: str) -> bool:
    """The folder source's compressed documents (.html.gz, .htm.gz; the raw store's pages)."""
    return location.lower().endswith(".gz")


def stat_fingerprint(location: str) -> str:
    """ "stat:<size>:<mtime_ns>" of a file or folder; "stat:missing" when even that fails."""
    try:
        st = os.stat(location)
    except OSError:
        return "stat:missing"
    return f"stat:{st.st_size}:{st.st_mtime_ns}"


def _too_large(size: int | str, max_bytes: int) -> DocumentUnreadable:
    return DocumentUnreadable(
        "too_large",
        f"{size} bytes exceed the {max_bytes:,}-byte document limit (TRADEWIRE_MAX_DOCUMENT_BYTES)",
    )


def read_document_bytes(location: str, max_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES) -> bytes:
    """The document's bytes, gunzipped for .gz names, or DocumentUnreadable saying why not.

    A location in object storage (a raw page under an s3:// root) is read in one request and
    held compressed (the fetcher capped it) while it is inflated within the same limit.
    """
    try:
        stored = read_bytes(location) if is_remote(location) else None
        size = len(stored) if stored is not None else os.stat(location).st_size
        if not is_gzip_name(location):
            if size > max_bytes:
                raise _too_large(f"{size:,}", max_bytes)
            return stored if stored is not None else Path(location).read_bytes()
        out = bytearray()
        source = io.BytesIO(stored) if stored is not None else location
        with gzip.open(source, "rb") as handle:
            while chunk := handle.read(CHUNK):
                out.extend(chunk)
                if len(out) > max_bytes:
                    raise DocumentUnreadable(
                        "decompression_bomb",
                        f"a {size:,}-byte file inflates past the {max_bytes:,}-byte document "
                        "limit (TRADEWIRE_MAX_DOCUMENT_BYTES)",
                    )
        return bytes(out)
    except gzip.BadGzipFile as exc:
        raise DocumentUnreadable("bad_gzip", f"not a gzip file ({exc})") from exc
    except EOFError as exc:
        raise DocumentUnreadable("bad_gzip", "the gzip stream is cut short") from exc
    except zlib.error as exc:
        raise DocumentUnreadable("bad_gzip", f"corrupt gzip data ({exc})") from exc
    except IsADirectoryError as exc:
        raise DocumentUnreadable("unreadable", "a directory, not a file") from exc
    except FileNotFoundError as exc:
        raise DocumentUnreadable("unreadable", exc.strerror or f"no such object: {exc}") from exc
    except OSError as exc:
        raise DocumentUnreadable("unreadable", exc.strerror or str(exc)) from exc


def check_document(location: str, max_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES) -> str | None:
    """None when extraction may read the document; else "<class>: <detail>" for its error row.

    Plain files are judged by their size and opened, not read; .gz files are inflated (and
    dropped) chunk by chunk, since only that tells their decompressed size truthfully.
    """
    if is_remote(location):
        try:
            read_document_bytes(location, max_bytes)
        except DocumentUnreadable as exc:
            return str(exc)
        return None
    try:
        if is_gzip_name(location):
            inflated = 0
            size = os.stat(location).st_size
            with gzip.open(location, "rb") as handle:
                while chunk := handle.read(CHUNK):
                    inflated += len(chunk)
                    if inflated > max_bytes:
                        return (
                            f"decompression_bomb: a {size:,}-byte file inflates past the "
                            f"{max_bytes:,}-byte document limit (TRADEWIRE_MAX_DOCUMENT_BYTES)"
                        )
            return None
        size = os.stat(location).st_size
        if size > max_bytes:
            return str(_too_large(f"{size:,}", max_bytes))
        with open(location, "rb"):
            pass
    except gzip.BadGzipFile as exc:
        return f"bad_gzip: not a gzip file ({exc})"
    except EOFError:
        return "bad_gzip: the gzip stream is cut short"
    except zlib.error as exc:
        return f"bad_gzip: corrupt gzip data ({exc})"
    except IsADirectoryError:
        return "unreadable: a directory, not a file"
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"
    return None


def document_fingerprint(location: str, max_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES) -> str:
    """SHA-256 of the document's (decompressed) bytes, as extraction computes it; the `stat:`
    fingerprint of a document that cannot be read within the limits, as its error row keeps."""
    try:
        return hashlib.sha256(read_document_bytes(location, max_bytes)).hexdigest()
    except DocumentUnreadable:
        return stat_fingerprint(location)
