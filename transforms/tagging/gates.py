"""Literal gates for taxonomy patterns, so a regex only runs where its opening words occur."""

from __future__ import annotations

import re
from collections.abc import Iterable

# How a pattern's source is read here (the patterns are data this project writes, and only the
# opening of each matters): literal characters, backslash-escaped punctuation, `\s` repeated at
# least once (read as a space, true in all but freak spacing), and plain or named groups, whose
# branches each extend the prefix read so far. Reading stops, for the whole pattern, at the
# first group and at anything else: a class, `.`, an anchor, another escape, a repeat of
# anything but `\s`. Stopping early can only make a gate looser, never wrong.
_GROUP_OPEN = re.compile(r"\((?:\?:|\?P<\w+>|(?!\?))")
_COUNTED_REPEAT = re.compile(r"\{(\d*)(?:,\d*)?\}")


def compile_gate(words: Iterable[str]) -> re.Pattern[str]:
    """Join literal words into one alternation whose first-character set lets the engine skip."""
    unique = sorted(set(words), key=len)
    kept = [w for i, w in enumerate(unique) if not any(w.startswith(v) for v in unique[:i])]
    return re.compile("|".join(re.escape(w) for w in sorted(kept)))


def find_literal_starts(pattern: str) -> set[str] | None:
    """Find the lower-cased texts every match of a pattern starts with; None when there are none."""
    starts, _ = _read_alternation(pattern, 0)
    return None if starts is None or "" in starts else starts


def _read_alternation(pattern: str, pos: int) -> tuple[set[str] | None, int]:
    """Read `|`-separated branches up to a closing parenthesis, since any branch may match."""
    found: set[str] | None = set()
    while True:
        starts, pos = _read_sequence(pattern, pos)
        found = None if starts is None or found is None else found | starts
        if pos >= len(pattern) or pattern[pos] == ")":
            return found, pos
        pos += 1  # past the `|`


def _read_sequence(pattern: str, pos: int) -> tuple[set[str] | None, int]:
    """Read one branch's leading literals and first group; return where the branch ends."""
    prefix = ""
    while pos < len(pattern) and pattern[pos] not in "|)":
        char = pattern[pos]
        literal: str | None = None
        space = False
        group = _GROUP_OPEN.match(pattern, pos) if char == "(" else None
        if group is not None:
            inner, close = _read_alternation(pattern, group.end())
            end = close + 1
        elif char == "\\" and pos + 1 < len(pattern):
            escaped = pattern[pos + 1]
            space = escaped == "s"
            literal = None if escaped.isalnum() or not escaped.isascii() else escaped
            end = pos + 2
        elif char not in ".^$[(?*+{":
            literal, end = char, pos + 1
        else:
            break
        least = _read_repeat_minimum(pattern, end)
        if least is not None:
            if not space or least < 1:
                break
            prefix += " "
            pos = _skip_repeat(pattern, end)
            continue
        if group is not None:
            if inner is None:
                break
            return {prefix + start for start in inner}, _skip_branch(pattern, end)
        if literal is None:
            break
        prefix += literal.lower()
        pos = end
    return ({prefix} if prefix else None), _skip_branch(pattern, pos)


def _read_repeat_minimum(pattern: str, pos: int) -> int | None:
    """Read a greedy repeat's least count (0 if lazy or odd): only a required `\\s` adds a space."""
    if pos >= len(pattern) or pattern[pos] not in "?*+{":
        return None
    end = _skip_repeat(pattern, pos)
    if end < len(pattern) and pattern[end] in "?+":
        return 0
    if pattern[pos] == "+":
        return 1
    counted = _COUNTED_REPEAT.match(pattern, pos)
    return int(counted.group(1) or 0) if counted else 0


def _skip_repeat(pattern: str, pos: int) -> int:
    """Step past the repeat at pos, to read on after a `\\s+`."""
    counted = _COUNTED_REPEAT.match(pattern, pos)
    return counted.end() if counted else pos + 1


def _skip_branch(pattern: str, pos: int) -> int:
    """Find the `|` or `)` ending the current branch, stepping over escapes, classes and groups."""
    depth = 0
    while pos < len(pattern):
        char = pattern[pos]
        if char == "\\":
            pos += 2
            continue
        if char == "[":
            pos = _skip_class(pattern, pos)
            continue
        if char == "(":
            depth += 1
        elif char == ")" or char == "|":
            if depth == 0:
                return pos
            if char == ")":
                depth -= 1
        pos += 1
    return len(pattern)


def _skip_class(pattern: str, pos: int) -> int:
    """Step past a character class, where `(`, `)` and `|` are plain characters."""
    pos += 1
    if pos < len(pattern) and pattern[pos] == "^":
        pos += 1
    if pos < len(pattern) and pattern[pos] == "]":
        pos += 1  # a leading `]` is a member, not the end
    while pos < len(pattern) and pattern[pos] != "]":
        pos += 2 if pattern[pos] == "\\" else 1
    return pos + 1
