"""Plain-text fixture articles, wrapped as minimal HTML so they share the web-page extraction path."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

# Short trailing lines without sentence punctuation ("Tags", "Share this", "Related") are page
# chrome that a copy-paste of a web page drags along; real body paragraphs end in punctuation.
_CHROME_MAX_WORDS = 3
_SENTENCE_END = re.compile(r"[.!?。！？…\"'”’)]\s*$")


@dataclass(frozen=True)
class TextFixture:
    """A parsed .txt fixture: its title and body paragraphs."""

    title: str
    paragraphs: tuple[str, ...]


def parse_text_fixture(raw: str) -> TextFixture:
    """First non-empty line is the title; repeated title lines and trailing chrome are dropped."""
    lines = [line.strip() for line in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    paragraphs = [line for line in lines if line]
    if not paragraphs:
        return TextFixture(title="", paragraphs=())
    title = paragraphs[0]
    body = [p for p in paragraphs[1:] if p != title]
    while body and _is_chrome(body[-1]):
        body.pop()
    return TextFixture(title=title, paragraphs=tuple(body))


def _is_chrome(line: str) -> bool:
    """Why: a lone label such as "Tags" after the last paragraph is navigation, not prose."""
    return len(line.split()) <= _CHROME_MAX_WORDS and not _SENTENCE_END.search(line)


def render_fixture_html(fixture: TextFixture) -> str:
    """Minimal article HTML that trafilatura extracts exactly as the fixture's text."""
    title = html.escape(fixture.title)
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in fixture.paragraphs)
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>{title}</title></head><body><article><h1>{title}</h1>\n{body}\n"
        "</article></body></html>"
    )
