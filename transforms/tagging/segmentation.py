"""Sentences of an article's fields, with offsets and their place (headline, lede) in the story."""

from __future__ import annotations

import re
from typing import NamedTuple

LEDE_MIN_WORDS = 8
LEDE_SENTENCES = 1
MIN_SENTENCE_CHARS = 25  # shorter lines are page chrome (bylines, captions), not sentences
LEDE_MIN_CJK_CHARS = 15

# Line breaks (a paragraph ends), Latin sentence ends followed by a space, CJK sentence ends.
_BOUNDARY = re.compile(
    r"[\n.!?。！？；]"  # one leading character class lets the engine skip to candidates fast
    r"(?:(?<=\n)\s*"
    r"|(?<=[.!?])[.!?]*[\"'”’)\]]*"  # a Latin end counts only before a sentence start
    r"(?:[^\S\n]+(?=[\"'“‘(\[]?[A-Z0-9\u4e00-\u9fff]|\n|\Z)|(?=[\u4e00-\u9fff]))"
    r"|(?<=[。！？；])[。！？；]*[”’」』\"')）]*[^\S\n]*)"
)
_ABBREVIATIONS = frozenset(
    [
        "u.s",
        "u.k",
        "u.n",
        "e.u",
        "mr",
        "mrs",
        "ms",
        "dr",
        "st",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "inc",
        "corp",
        "co",
        "ltd",
        "gov",
        "sen",
        "rep",
        "gen",
        "no",
        "vs",
        "e.g",
        "i.e",
        "jr",
        "sr",
        "prof",
        "lt",
        "col",
        "capt",
        "fig",
        "p.m",
        "a.m",
        "dept",
        "est",
        "approx",
    ]
)
_WORD = re.compile(r"[A-Za-z0-9]+|[\u4e00-\u9fff]")
_CJK_CHAR = re.compile(r"[\u4e00-\u9fff]")


class Sentence(NamedTuple):
    """A sentence's span in one field, and where it sits in the article's structure."""

    field: str
    start: int
    end: int
    paragraph: int
    head: bool  # headline, or the text's copy of the headline
    lede: bool


def count_words(text: str) -> int:
    """Count words, each CJK character as one, to tell real sentences from page chrome."""
    return len(_WORD.findall(text))


def is_abbreviation(text: str, dot: int) -> bool:
    """Tell a full stop that ends an abbreviation or an initial ("U.S.", "George W.") apart."""
    start = dot
    while start > 0 and (text[start - 1].isalpha() or text[start - 1] == "."):
        start -= 1
    token = text[start:dot].lower()
    return token in _ABBREVIATIONS or (len(token) == 1 and text[start].isupper())


def split_sentences(text: str, field: str = "text", paragraph_base: int = 0) -> list[Sentence]:
    """Split a field into sentences per paragraph, English and Chinese, in one regex pass."""
    sentences: list[Sentence] = []
    paragraph = paragraph_base
    cursor = 0
    # The regex finds line breaks and candidate sentence ends; only Latin full stops need a
    # second look (abbreviations, a lower-case continuation).
    for m in _BOUNDARY.finditer(text):
        mark = text[m.start()]
        if mark == "\n":
            _add_sentence(sentences, text, field, cursor, m.start(), paragraph)
            if cursor < m.start():
                paragraph += 1
            cursor = m.end()
            continue
        stop = m.end()
        if mark == "." and is_abbreviation(text, m.start()):
            continue
        _add_sentence(sentences, text, field, cursor, stop, paragraph)
        cursor = stop
    _add_sentence(sentences, text, field, cursor, len(text), paragraph)
    return sentences


def _add_sentence(
    out: list[Sentence], text: str, field: str, start: int, end: int, paragraph: int
) -> None:
    """Append a sentence span trimmed of whitespace, unless nothing is left of it."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        out.append(Sentence(field, start, end, paragraph, field == "title", False))


def is_real_sentence(text: str) -> bool:
    """Tell prose from a byline, date line or photo credit, which must not become the lede."""
    if len(_CJK_CHAR.findall(text)) >= LEDE_MIN_CJK_CHARS:
        return True
    return count_words(text) >= LEDE_MIN_WORDS and text.rstrip()[-1:] in '.!?"”’。！？)'


def segment_article(title: str | None, text: str) -> list[Sentence]:
    """Split headline and text into sentences, marking the headline, its copy and the lede."""
    sentences: list[Sentence] = []
    stripped = (title or "").strip()
    norm_title = " ".join(stripped.split())
    if norm_title:
        t_start = len(title or "") - len((title or "").lstrip())
        sentences.append(Sentence("title", t_start, t_start + len(stripped), -1, True, False))
    body = split_sentences(text)
    lede_left = LEDE_SENTENCES
    lede_paragraph: int | None = None
    first_paragraph = body[0].paragraph if body else 0
    for k, s in enumerate(body):
        if lede_left == 0 and k > 2:
            sentences.extend(body[k:])
            break
        chunk = text[s.start : s.end]
        if norm_title and s.paragraph == first_paragraph and " ".join(chunk.split()) == norm_title:
            s = s._replace(head=True)
        elif lede_left and (lede_paragraph is None or s.paragraph == lede_paragraph):
            if lede_paragraph is not None or is_real_sentence(chunk):
                lede_paragraph = s.paragraph
                lede_left -= 1
                s = s._replace(lede=True)
        elif lede_paragraph is not None:
            lede_left = 0
        sentences.append(s)
    return sentences
