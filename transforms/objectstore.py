"""The one way to reach object storage: an fsspec filesystem for a root URL, from settings.

Every hand-off between tasks (staging batches, the raw page store, DuckLake's data files)
goes through here, so a root is a local folder on one machine and s3://bucket/prefix on
many, with the endpoint, region and credentials taken from the same settings everywhere.
fsspec is imported when a root is first opened and s3fs (by fsspec) only for an s3:// root,
so extraction workers reading local pages stay as lean as before.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from transforms.settings import Settings

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

logger = logging.getLogger(__name__)

# Protocols fsspec would reach over the network; anything else is a path on this machine.
_S3_PROTOCOLS = ("s3://", "s3a://")


def is_remote(url: str) -> bool:
    """Say whether a root or location names object storage rather than a local path."""
    head, sep, _ = url.partition("://")
    return bool(sep) and head.lower() not in ("file", "local")


def storage_options(url: str, settings: Settings | None = None) -> dict[str, Any]:
    """fsspec options for a URL: the S3 endpoint and region for s3://, nothing otherwise.

    Credentials are left to the standard chain (AWS_ACCESS_KEY_ID, profiles, instance roles).
    """
    if not url.lower().startswith(_S3_PROTOCOLS):
        return {}
    settings = settings or Settings()
    options: dict[str, Any] = {
        "client_kwargs": {"region_name": settings.s3_region},
        # Other machines write under the same prefixes: a cached listing would hide their files.
        "use_listings_cache": False,
    }
    if settings.s3_endpoint_url:
        options["endpoint_url"] = settings.s3_endpoint_url
    return options


def open_root(url: str, settings: Settings | None = None) -> tuple[AbstractFileSystem, str]:
    """The filesystem holding a URL and the URL's path on it (a plain path is the local fs)."""
    import fsspec

    fs, path = fsspec.core.url_to_fs(url, **storage_options(url, settings))
    return fs, path


def join_url(root: str, *parts: str) -> str:
    """A location under a root, in the root's own spelling (a path stays a path)."""
    return "/".join([root.rstrip("/"), *parts])


def read_bytes(url: str, settings: Settings | None = None) -> bytes:
    """A whole object in one request (a missing one is FileNotFoundError, as for a file)."""
    fs, path = open_root(url, settings)
    data: bytes = fs.cat_file(path)
    return data
