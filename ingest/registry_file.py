"""Editing the sources registry file as text, so its comments and layout survive.

tomlkit is not a dependency, so edits are textual: a new source is an appended `[[source]]`
block, removal cuts one block, enable/disable rewrites (or adds) one `enabled =` line. Each
block is read back with tomllib to learn its name, and the whole file is re-parsed after
every edit, so a bad edit is refused instead of written.
"""

from __future__ import annotations

import json
import logging
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ingest.sources_registry import RegistryError, load_sources

logger = logging.getLogger(__name__)

HEADER = re.compile(r"^\[\[?\s*[A-Za-z0-9_.\"' -]+\]\]?\s*(#.*)?$")
SOURCE_HEADER = re.compile(r"^\[\[\s*source\s*\]\]\s*(#.*)?$")
ENABLED_LINE = re.compile(r"^(\s*)enabled\s*=\s*(true|false)\s*(#.*)?$")


@dataclass(frozen=True)
class Block:
    """One `[[source]]` block: its line span in the file and the table it parses to."""

    start: int  # index of the header line
    end: int  # index one past its last key line
    table: dict[str, object]


def toml_value(value: object) -> str:
    """A TOML literal for a str, int, bool or list of str (JSON escapes are valid TOML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def render_block(table: dict[str, object], comment: str | None = None) -> str:
    """A `[[source]]` block for the table's keys, in the order given, None values left out."""
    lines = [f"# {line}".rstrip() for line in (comment or "").splitlines()]
    lines.append("[[source]]")
    lines += [f"{key} = {toml_value(v)}" for key, v in table.items() if v is not None]
    return "\n".join(lines) + "\n"


def find_blocks(lines: list[str]) -> list[Block]:
    """Every `[[source]]` block with its span; trailing comments belong to what follows."""
    starts = [i for i, line in enumerate(lines) if SOURCE_HEADER.match(line.strip())]
    blocks = []
    for start in starts:
        end = start + 1
        while end < len(lines) and not HEADER.match(lines[end].strip()):
            end += 1
        while end > start + 1 and (
            not lines[end - 1].strip() or lines[end - 1].lstrip()[:1] == "#"
        ):
            end -= 1
        table = tomllib.loads("".join(lines[start + 1 : end]))
        blocks.append(Block(start, end, table))
    return blocks


def block_named(lines: list[str], name: str) -> Block:
    """The block whose source is called `name` (its url or path when it has no name)."""
    for block in find_blocks(lines):
        label = block.table.get("name") or block.table.get("url") or block.table.get("path")
        if isinstance(label, str) and label.strip() == name:
            return block
    raise RegistryError(f"no source named {name!r}")


def write_checked(path: Path, text: str) -> None:
    """Write the edited registry only if it still loads: a broken file would stop every run."""
    tomllib.loads(text)
    candidate = path.with_name(path.name + ".tmp")
    candidate.write_text(text, encoding="utf-8")
    try:
        load_sources(candidate, base_dir=path.resolve().parent.parent)
    except RegistryError:
        candidate.unlink()
        raise
    candidate.replace(path)


def append_source(path: Path, table: dict[str, object], comment: str | None = None) -> None:
    """Add a source at the end of the registry, keeping everything already in the file."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if text and not text.endswith("\n"):
        text += "\n"
    write_checked(path, f"{text}\n{render_block(table, comment)}" if text else render_block(table))
    logger.info("added source %s to %s", table.get("name"), path)


def comment_start(lines: list[str], start: int) -> int:
    """Where the comment lines right above a block begin; a comment opening the file is the
    file's own, not the block's."""
    top = start
    while top > 0 and lines[top - 1].lstrip().startswith("#") and lines[top - 1].strip() != "#":
        top -= 1
    return start if top == 0 else top


def remove_source(path: Path, name: str) -> None:
    """Cut one source's block, its own comment and the blank line before it out of the file."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    block = block_named(lines, name)
    start = comment_start(lines, block.start)
    if start > 0 and not lines[start - 1].strip():
        start -= 1
    write_checked(path, "".join(lines[:start] + lines[block.end :]))
    logger.info("removed source %s from %s", name, path)


def set_enabled(path: Path, name: str, enabled: bool) -> None:
    """Rewrite the source's `enabled =` line, or add one under its `[[source]]` header."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    block = block_named(lines, name)
    value = "true" if enabled else "false"
    for i in range(block.start + 1, block.end):
        match = ENABLED_LINE.match(lines[i].rstrip("\n"))
        if match:
            comment = f"  {match.group(3)}" if match.group(3) else ""
            lines[i] = f"{match.group(1)}enabled = {value}{comment}\n"
            break
    else:
        lines.insert(block.start + 1, f"enabled = {value}\n")
    write_checked(path, "".join(lines))
    logger.info("%s source %s in %s", "enabled" if enabled else "disabled", name, path)


def source_blocks_text(path: Path) -> dict[str, str]:
    """Each named block of a registry as text, with the comment lines right above it."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    texts = {}
    for block in find_blocks(lines):
        start = block.start
        while (
            start > 0
            and lines[start - 1].lstrip().startswith("#")
            and lines[start - 1].strip() != "#"
        ):
            start -= 1
        name = block.table.get("name")
        if isinstance(name, str):
            texts[name] = "".join(lines[start : block.end])
    return texts


def adopt_sources(registry: Path, starter: Path, names: list[str] | None = None) -> list[str]:
    """Copy starter blocks (with their comments) into the registry, enabled; names already
    registered are left as they are. Returns the names copied."""
    existing = registry.read_text(encoding="utf-8") if registry.exists() else ""
    registered = {str(b.table.get("name")) for b in find_blocks(existing.splitlines(keepends=True))}
    blocks = source_blocks_text(starter)
    wanted = list(blocks) if names is None else names
    missing = [n for n in wanted if n not in blocks]
    if missing:
        raise RegistryError(f"not in {starter}: {missing}")
    copied = [n for n in wanted if n not in registered]
    text = existing if not existing or existing.endswith("\n") else existing + "\n"
    for name in copied:
        text += "\n" + blocks[name]
    write_checked(registry, text)
    for name in copied:
        set_enabled(registry, name, True)
    logger.info("adopted %d starter sources into %s", len(copied), registry)
    return copied
