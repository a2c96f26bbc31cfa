"""Strings DuckDB can store: UTF-8 cannot encode a lone surrogate, which Python strings may hold
(json.loads accepts "\\udcff"; file names that are not UTF-8 decode to them). One such string
would fail a whole batch's Arrow conversion, so landings find and neutralise them first."""

from __future__ import annotations

from typing import Any


def find_unencodable(value: Any, where: str = "") -> str | None:
    """The first field (dotted path) holding a string UTF-8 cannot encode (a lone surrogate),
    or None. Such a string would fail the whole batch's Arrow conversion, and with it the run."""
    if isinstance(value, str):
        if value.isascii():
            return None
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return where or "value"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            found = find_unencodable(key, where) or find_unencodable(item, f"{where}.{key}")
            if found:
                return found
    elif isinstance(value, list | tuple):
        for item in value:
            found = find_unencodable(item, where)
            if found:
                return found
    return None


def scrub(value: Any) -> Any:
    """Strings with anything UTF-8 cannot encode written as backslash escapes; nested too."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value
