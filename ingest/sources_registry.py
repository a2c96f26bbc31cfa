"""The sources registry as data: which folders and feeds to ingest, and how often."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import urlsplit

SourceKind = Literal["folder", "feed", "sitemap", "news-sitemap"]

# Kinds fetched over http(s) and polled by ingest/polling.py; folders are read from disk.
WEB_KINDS = frozenset({"feed", "sitemap", "news-sitemap"})
DEFAULT_POLL_INTERVAL_MINUTES = 60
# A first poll of a 500-entry feed at 5 s a page would run ~40 minutes; the rest waits a poll.
DEFAULT_MAX_NEW_PER_POLL = 100
KNOWN_KEYS = frozenset(
    {
        "name",
        "kind",
        "path",
        "url",
        "poll_interval_minutes",
        "language",
        "allowed_hosts",
        "enabled",
        "max_new_per_poll",
        "why",
    }
)


class RegistryError(ValueError):
    """The registry file is malformed; raised loudly because a silent skip loses a source."""


@dataclass(frozen=True)
class SourceSpec:
    """One source: a folder of files or a feed URL, with its polling settings."""

    name: str
    kind: SourceKind
    location: str  # absolute folder path, or the feed URL
    poll_interval_minutes: int = DEFAULT_POLL_INTERVAL_MINUTES
    language: str | None = None
    allowed_hosts: tuple[str, ...] = ()
    enabled: bool = True
    max_new_per_poll: int = DEFAULT_MAX_NEW_PER_POLL
    why: str | None = None


def is_web_kind(kind: str) -> bool:
    """Say whether a source kind is fetched over the web (and so polled), not read from disk."""
    return kind in WEB_KINDS


def enabled_sources(specs: Iterable[SourceSpec]) -> list[SourceSpec]:
    """The sources a scheduled run ingests: disabled ones stay in the file but are skipped."""
    return [s for s in specs if s.enabled]


def is_web_url(value: str) -> bool:
    """Say whether a string is an http(s) URL with a host, the only kind of feed we fetch."""
    parts = urlsplit(value.strip())
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def load_sources(path: Path, base_dir: Path | None = None) -> tuple[SourceSpec, ...]:
    """Read the registry; relative folder paths resolve against base_dir (default: the repo root,
    i.e. the parent of the directory holding the registry)."""
    path = Path(path)
    root = Path(base_dir) if base_dir is not None else path.resolve().parent.parent
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RegistryError(f"cannot read {path}: {exc}") from exc
    raw_sources = data.get("source", [])
    if not isinstance(raw_sources, list):
        raise RegistryError(f"{path}: use [[source]] tables")
    specs = tuple(
        spec_from_table(table, root, f"{path}: source #{i + 1}")
        for i, table in enumerate(raw_sources)
    )
    names = [s.name for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise RegistryError(f"{path}: duplicate source names {duplicates}")
    return specs


def spec_from_table(table: Any, root: Path, where: str) -> SourceSpec:
    """Validate one [[source]] table and turn it into a SourceSpec."""
    if not isinstance(table, dict):
        raise RegistryError(f"{where}: not a table")
    unknown = set(table) - KNOWN_KEYS
    if unknown:
        raise RegistryError(f"{where}: unknown keys {sorted(unknown)}")
    kind = table.get("kind")
    if kind == "folder":
        raw = table.get("path")
        if not isinstance(raw, str) or not raw.strip():
            raise RegistryError(f"{where}: folder sources need a `path`")
        folder = Path(raw).expanduser()
        location = str(folder if folder.is_absolute() else (root / folder).resolve())
    elif isinstance(kind, str) and is_web_kind(kind):
        raw = table.get("url")
        if not isinstance(raw, str) or not is_web_url(raw):
            raise RegistryError(f"{where}: {kind} sources need an http(s) `url`")
        location = raw.strip()
    else:
        raise RegistryError(
            f"{where}: kind must be 'folder', 'feed', 'sitemap' or 'news-sitemap', not {kind!r}"
        )
    interval = table.get("poll_interval_minutes", DEFAULT_POLL_INTERVAL_MINUTES)
    if not isinstance(interval, int) or isinstance(interval, bool) or interval < 1:
        raise RegistryError(f"{where}: poll_interval_minutes must be a positive integer")
    language = table.get("language")
    if language is not None and (not isinstance(language, str) or not language.strip()):
        raise RegistryError(f"{where}: language must be a non-empty string")
    hosts = table.get("allowed_hosts", [])
    if not isinstance(hosts, list) or not all(isinstance(h, str) and h.strip() for h in hosts):
        raise RegistryError(f"{where}: allowed_hosts must be a list of host names")
    name = table.get("name", raw)
    if not isinstance(name, str) or not name.strip():
        raise RegistryError(f"{where}: name must be a non-empty string")
    enabled = table.get("enabled", True)
    if not isinstance(enabled, bool):
        raise RegistryError(f"{where}: enabled must be true or false")
    cap = table.get("max_new_per_poll", DEFAULT_MAX_NEW_PER_POLL)
    if not isinstance(cap, int) or isinstance(cap, bool) or cap < 1:
        raise RegistryError(f"{where}: max_new_per_poll must be a positive integer")
    why = table.get("why")
    if why is not None and not isinstance(why, str):
        raise RegistryError(f"{where}: why must be a string")
    return SourceSpec(
        name=name.strip(),
        kind=cast(SourceKind, kind),
        location=location,
        poll_interval_minutes=interval,
        language=language.strip() if language else None,
        allowed_hosts=tuple(h.strip().lower() for h in hosts),
        enabled=enabled,
        max_new_per_poll=cap,
        why=why.strip() if why else None,
    )


def source_spec_for(arg: str, registry: Iterable[SourceSpec] = ()) -> SourceSpec:
    """Turn a CLI --source value into a spec: a registered name, an http(s) URL, or a folder."""
    value = arg.strip()
    registry = tuple(registry)
    if not value:
        raise RegistryError("empty --source")
    for spec in registry:
        if value in (spec.name, spec.location):
            return spec  # keep the registry's per-source settings
    if is_web_url(value):
        return SourceSpec(name=value, kind="feed", location=value)
    scheme = urlsplit(value).scheme
    if len(scheme) > 1 and "://" in value:
        raise RegistryError(
            f"--source {value!r}: only http(s) feeds and local folders are supported"
        )
    folder = Path(value).expanduser().resolve()
    for spec in registry:
        if spec.kind == "folder" and Path(spec.location) == folder:
            return spec
    return SourceSpec(name=value, kind="folder", location=str(folder))
