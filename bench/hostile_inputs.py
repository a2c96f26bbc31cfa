"""Hostile and broken inputs, shared by bench/sweep_hostile.py and the hardening tests.

Each builder returns bytes (a feed, a page) or writes files into a folder; the HTTP ones are
routes for the loopback server of tests/integration/loopback.py.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAGE = (REPO / "tests" / "fixtures" / "analyst" / "01_rare_earth_export_curbs.html").read_bytes()
HTML = {"Content-Type": "text/html; charset=utf-8"}


def json_feed_with_surrogate(page_url: str) -> bytes:
    """A JSON Feed whose item title holds the escape of a lone surrogate (json.loads takes it)."""
    return (
        b'{"version": "https://jsonfeed.org/version/1.1", "title": "Wire \\udcff",'
        b' "items": [{"id": "s-1", "url": "' + page_url.encode() + b'",'
        b' "title": "Rare earth curbs \\udcff widen",'
        b' "content_html": "<p>China widened \\ud800 export curbs on rare earths.</p>"}]}'
    )


def rss(items: Sequence[str], doctype: str = "") -> bytes:
    """An RSS 2.0 document around raw <item> markup."""
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n{doctype}\n<rss version="2.0"><channel>'
        f"<title>Hostile wire</title><link>http://127.0.0.1/</link><description>x</description>"
        f"{''.join(items)}</channel></rss>"
    ).encode()


def item(title: str, link: str | None, guid: str | None = None, text: str = "Summary.") -> str:
    """One <item>; link and guid are left out when None."""
    parts = [f"<title>{title}</title>", f"<description>{text}</description>"]
    if link:
        parts.append(f"<link>{link}</link>")
    if guid:
        parts.append(f'<guid isPermaLink="false">{guid}</guid>')
    return f"<item>{''.join(parts)}</item>"


def xml_feed_with_surrogate_reference(link_a: str, link_b: str) -> bytes:
    """Two items; the first title holds &#xD800; (expat refuses it, the loose parser crashes)."""
    return rss(
        [
            item("Export curbs &#xD800; widen", link_a, "x-1"),
            item("Tariff truce holds", link_b, "x-2"),
        ]
    )


def quadratic_entity_feed(items: int = 200, refs: int = 10, size: int = 10_000) -> bytes:
    """One plain internal entity of `size` characters referenced `refs` times per item:
    35 kB that a parser without an expansion limit turns into 20 million characters."""
    doctype = f'<!DOCTYPE rss [<!ENTITY big "{"A" * size}">]>'
    body = [
        item(f"Story {i}", f"http://127.0.0.1/quad/{i}", f"q-{i}", "&big;" * refs)
        for i in range(items)
    ]
    return rss(body, doctype)


def nested_entity_feed(link: str = "http://127.0.0.1/laughs") -> bytes:
    """The classic billion laughs: entities referencing entities."""
    decls = ['<!ENTITY lol "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">'
        for i in range(1, 10)
    ]
    return rss([item("&lol9;", link, "l-1")], f"<!DOCTYPE rss [{''.join(decls)}]>")


def gzip_bomb(inflated: int) -> bytes:
    """`inflated` zero bytes, gzip'd (about 1 KB per MB)."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as handle:
        chunk = b"\0" * (1024 * 1024)
        for _ in range(inflated // len(chunk)):
            handle.write(chunk)
        handle.write(b"\0" * (inflated % len(chunk)))
    return out.getvalue()


def big_text(size: int) -> bytes:
    """A plain-text document of `size` bytes: a title line and one sentence, repeated."""
    sentence = b"China and the United States discussed tariffs on rare earth magnets again. "
    body = sentence * (size // len(sentence) + 1)
    return b"A very long document\n\n" + body[: max(0, size - 22)]


def trickle_headers(handler: BaseHTTPRequestHandler, every: float = 0.1) -> None:
    """A status line, then one header byte per `every` seconds, until the client hangs up."""
    handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
    handler.wfile.flush()
    for _ in range(100_000):
        handler.wfile.write(b"X")
        handler.wfile.flush()
        time.sleep(every)


def trickle_body(handler: BaseHTTPRequestHandler, every: float = 0.1) -> None:
    """Complete headers announcing a large body, then one body byte per `every` seconds."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Content-Length", "50000")
    handler.end_headers()
    for _ in range(100_000):
        handler.wfile.write(b"<")
        handler.wfile.flush()
        time.sleep(every)


def gzip_bomb_route(bomb: bytes):  # type: ignore[no-untyped-def]
    """A route answering a gzip bomb as Content-Encoding: gzip."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Content-Encoding", "gzip")
        handler.send_header("Content-Length", str(len(bomb)))
        handler.end_headers()
        handler.wfile.write(bomb)

    return route


def redirect_route(target: str):  # type: ignore[no-untyped-def]
    """A route redirecting to `target` (e.g. a metadata address the guard must refuse)."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", target)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return route


def held_route(release: threading.Event, body: bytes, timeout: float = 120.0):  # type: ignore[no-untyped-def]
    """A route that answers only once `release` is set (or after `timeout`)."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        release.wait(timeout)
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return route


def write_bad_name(folder: Path, stem: bytes = b"bad-\xff") -> Path:
    """A document whose file name is not UTF-8 (created through the bytes API)."""
    raw = os.fsencode(folder) + b"/" + stem + b".html"
    with open(raw, "wb") as handle:
        handle.write(PAGE)
    return Path(os.fsdecode(raw))


def drop_privileges_prefix() -> list[str] | None:
    """A command prefix under which file permissions apply even to root (no DAC override), or
    None when none is available. Empty when we are not root: permissions apply already."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    caps = "-dac_override,-dac_read_search"
    return [setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}"]


def tradewire(
    args: Sequence[str], env: dict[str, str], prefix: Sequence[str] = ()
) -> subprocess.CompletedProcess[str]:
    """`tradewire ARGS` in its own process (as a shell starts it)."""
    return subprocess.run(
        [*prefix, sys.executable, "-m", "ingest.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=REPO,
        timeout=600,
    )


def json_lines(text: str) -> list[dict[str, object]]:
    """Every line of a JSON Lines text."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]
