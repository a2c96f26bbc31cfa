"""`tradewire sources`: add (with feed and sitemap discovery), list, check, remove, disable,
enable. Edits keep the registry file's comments (ingest/registry_file.py)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.cli.options import CliError, add_command, add_db_option, db_path

if TYPE_CHECKING:
    from ingest.cli.options import SubParsers
    from ingest.fetch import Fetcher
    from ingest.sources_registry import SourceSpec

logger = logging.getLogger(__name__)

EPILOG_SOURCES = """examples:
  tradewire sources list
  tradewire sources add https://news.example.com/            finds its feeds or sitemaps
  tradewire sources add https://news.example.com/rss.xml --name example --language en
  tradewire sources check example                             fetch and parse once, write nothing
  tradewire sources disable example
  tradewire sources enable --starter                          the shipped US-China trade sources
  tradewire sources remove example
(registry: $TRADEWIRE_SOURCES_FILE or seeds/sources.toml)
"""
CHECK_SHOWN = 20


def add_sources(sub: SubParsers) -> None:
    sources = add_command(
        sub,
        "sources",
        help="list, add, check and switch the sources the pipeline ingests",
        epilog=EPILOG_SOURCES,
        func=cmd_sources_help,
    )
    actions = sources.add_subparsers(dest="action", metavar="ACTION")
    add = actions.add_parser("add", help="add a feed, or find a site's feeds and sitemaps")
    add.add_argument("url", help="a feed or sitemap URL, or a site's page")
    add.add_argument("--name", help="source name (default: the site's host)")
    add.add_argument("--poll-minutes", type=int, default=None, metavar="M")
    add.add_argument("--language", help="expected language code, e.g. en or zh")
    add.add_argument("--pick", type=int, default=1, metavar="N", help="add proposal N (default 1)")
    add.add_argument("--dry-run", action="store_true", help="show what was found, change nothing")
    add.add_argument("--allow-host", action="append", default=[], metavar="HOST")
    add.set_defaults(func=cmd_sources_add)
    listing = actions.add_parser("list", help="every source with its state and counts")
    add_db_option(listing)
    listing.set_defaults(func=cmd_sources_list)
    check = actions.add_parser("check", help="fetch and parse a source once; writes nothing")
    check.add_argument("source", help="a registered name or a feed URL")
    check.add_argument("--allow-host", action="append", default=[], metavar="HOST")
    add_db_option(check)
    check.set_defaults(func=cmd_sources_check)
    remove = actions.add_parser("remove", help="remove a source from the registry")
    remove.add_argument("name")
    remove.set_defaults(func=cmd_sources_remove)
    for verb, enabled in (("enable", True), ("disable", False)):
        switch = actions.add_parser(verb, help=f"{verb} a source (it stays in the file)")
        switch.add_argument("name", nargs="?")
        if enabled:
            switch.add_argument(
                "--starter", action="store_true", help="add and enable the starter registry"
            )
        switch.set_defaults(func=cmd_sources_switch, enabled=enabled)


def cmd_sources_help(args: argparse.Namespace) -> int:
    """`tradewire sources` alone lists, the most common question."""
    if getattr(args, "db", None) is None:
        args.db = None
    return cmd_sources_list(args)


def registry_paths() -> tuple[Path, Path]:
    """The registry file and the starter registry, from settings."""
    from transforms.settings import Settings

    settings = Settings()
    return settings.sources_file, settings.starter_sources_file


def read_registry(path: Path) -> tuple[SourceSpec, ...]:
    """The registry's sources; a malformed file is the user's to fix, so say where."""
    from ingest.sources_registry import RegistryError, load_sources

    if not path.exists():
        return ()
    try:
        return load_sources(path)
    except RegistryError as exc:
        raise CliError(str(exc)) from exc


def build_fetcher(extra_hosts: list[str]) -> Fetcher:
    """A polite, guarded Fetcher configured like the pipeline's."""
    from ingest.fetch import Fetcher
    from ingest.polling import poll_config
    from transforms.settings import Settings

    config = poll_config(Settings(), extra_hosts)
    return Fetcher(
        user_agent=config.user_agent,
        contact_url=config.contact_url,
        state_dir=config.state_dir,
        policy=config.policy,
        allowed_hosts=config.allowed_hosts,
        politeness_url=config.politeness_url,
    )


def default_name(url: str, taken: set[str]) -> str:
    """The site's host (without www.), numbered when another source has it."""
    from urllib.parse import urlsplit

    host = (urlsplit(url).hostname or url).removeprefix("www.")
    name, n = host, 2
    while name in taken:
        name, n = f"{host}-{n}", n + 1
    return name


def cmd_sources_add(args: argparse.Namespace) -> int:
    """Inspect the URL, propose what it offers, and append the chosen source to the registry."""
    from ingest.discovery import discover_sources
    from ingest.registry_file import append_source
    from ingest.sources_registry import RegistryError, is_web_url

    if not is_web_url(args.url):
        raise CliError(f"{args.url!r} is not an http(s) URL")
    registry_file, _ = registry_paths()
    specs = read_registry(registry_file)
    with build_fetcher(args.allow_host) as fetcher:
        candidates = discover_sources(fetcher, args.url.strip())
    if not candidates:
        raise CliError(f"no feed or sitemap found at {args.url}")
    for i, c in enumerate(candidates, 1):
        title = f" {c.title!r}" if c.title else ""
        print(f"  {i}. {c.kind:<12} {c.url}  ({c.found_by}, {c.entries} entries){title}")
    if not 1 <= args.pick <= len(candidates):
        raise CliError(f"--pick must be between 1 and {len(candidates)}")
    chosen = candidates[args.pick - 1]
    if any(s.location == chosen.url for s in specs):
        raise CliError(f"{chosen.url} is already in {registry_file}")
    taken = {s.name for s in specs}
    name = args.name or default_name(chosen.url, taken)
    if name in taken:
        raise CliError(f"a source named {name!r} is already in {registry_file}")
    if args.dry_run:
        print(f"would add {name} ({chosen.kind}) to {registry_file}")
        return 0
    table: dict[str, Any] = {
        "name": name,
        "kind": chosen.kind,
        "url": chosen.url,
        "poll_interval_minutes": args.poll_minutes,
        "language": args.language,
    }
    extra = sorted({h.strip().lower() for h in args.allow_host if h.strip()})
    if extra:
        table["allowed_hosts"] = extra
    try:
        append_source(registry_file, table, f"added by `tradewire sources add {args.url}`")
    except RegistryError as exc:
        raise CliError(str(exc)) from exc
    print(f"added {name} ({chosen.kind}) to {registry_file}")
    return 0


def cmd_sources_list(args: argparse.Namespace) -> int:
    """Every source, registered or starter, with its state from the database."""
    from transforms.live_sources import read_source_activity

    registry_file, starter_file = registry_paths()
    specs = read_registry(registry_file)
    names = {s.name for s in specs}
    starters = [s for s in read_registry(starter_file) if s.name not in names]
    activity = read_source_activity(db_path(args))
    header = (
        f"{'name':<28} {'kind':<12} {'state':<18} {'last status':<12} {'last success':<20} "
        f"{'fails':>5} {'next due':<20} {'entries':>7} {'articles':>8}"
    )
    print(header)
    for spec, origin in [*((s, "") for s in specs), *((s, " (starter)") for s in starters)]:
        row = activity.get(spec.name, {})
        state = ("enabled" if spec.enabled else "disabled") + origin
        print(
            f"{spec.name:<28} {spec.kind:<12} {state:<18} {stamp(row.get('last_status')):<12} "
            f"{stamp(row.get('last_success_at')):<20} {row.get('consecutive_failures', 0):>5} "
            f"{stamp(row.get('next_due_at')):<20} {row.get('entries', 0):>7} "
            f"{row.get('articles', 0):>8}"
        )
    return 0


def stamp(value: object) -> str:
    """A cell: timestamps to the minute in UTC, missing values as '-'."""
    from datetime import UTC, datetime

    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    return str(value)


def cmd_sources_check(args: argparse.Namespace) -> int:
    """Fetch and parse a source once and print what would land; nothing is written."""
    from ingest.polling import FeedPoller, poll_config
    from ingest.sources_registry import RegistryError, is_web_kind, source_spec_for
    from transforms.settings import Settings

    registry_file, starter_file = registry_paths()
    registry = (*read_registry(registry_file), *read_registry(starter_file))
    try:
        spec = source_spec_for(args.source, registry)
    except RegistryError as exc:
        raise CliError(str(exc)) from exc
    if not is_web_kind(spec.kind):
        raise CliError(f"{spec.name} is a folder source; `tradewire run` reads it")
    config = poll_config(Settings(), args.allow_host)
    with FeedPoller([spec], db_path(args), config) as poller:
        entries, known, error = poller.preview_source(spec)
    if error and not entries:
        raise CliError(f"{spec.name}: {error}")
    fresh = [e for e in entries if (e.guid or e.canonical_link) not in known]
    fresh = [e for e in fresh if e.canonical_link and e.canonical_link not in known]
    taking = min(len(fresh), spec.max_new_per_poll)
    print(
        f"{spec.name} ({spec.kind}): {len(entries)} entries, {len(fresh)} new, "
        f"{taking} would land on the next poll (max_new_per_poll {spec.max_new_per_poll})"
    )
    for entry in fresh[: min(taking, CHECK_SHOWN)]:
        print(f"  {entry.published_at or '-':<25} {entry.title or '(no title)'}  {entry.link}")
    if error:
        print(f"warning: {error}")
    return 0


def cmd_sources_remove(args: argparse.Namespace) -> int:
    """Cut a source out of the registry; its landed articles stay in the database."""
    from ingest.registry_file import remove_source
    from ingest.sources_registry import RegistryError

    registry_file, _ = registry_paths()
    try:
        remove_source(registry_file, args.name)
    except RegistryError as exc:
        raise CliError(str(exc)) from exc
    print(f"removed {args.name} from {registry_file}")
    return 0


def cmd_sources_switch(args: argparse.Namespace) -> int:
    """Enable or disable one source; `enable --starter` adopts the starter registry."""
    from ingest.registry_file import adopt_sources, set_enabled
    from ingest.sources_registry import RegistryError

    registry_file, starter_file = registry_paths()
    starter = getattr(args, "starter", False)
    if bool(args.name) == bool(starter):
        raise CliError("give a source NAME, or --starter")
    try:
        if starter:
            added = adopt_sources(registry_file, starter_file)
            print(f"enabled {len(added)} starter sources in {registry_file}: {', '.join(added)}")
            return 0
        names = {s.name for s in read_registry(registry_file)}
        if args.name not in names and args.enabled:
            starters = {s.name for s in read_registry(starter_file)}
            if args.name in starters:
                adopt_sources(registry_file, starter_file, [args.name])
                print(f"enabled starter source {args.name} in {registry_file}")
                return 0
        set_enabled(registry_file, args.name, args.enabled)
    except RegistryError as exc:
        raise CliError(str(exc)) from exc
    print(f"{'enabled' if args.enabled else 'disabled'} {args.name} in {registry_file}")
    return 0
