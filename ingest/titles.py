"""The headline a reader sees: chosen among the page's title candidates by agreement and source.

Candidates, as the page declares them: JSON-LD ``headline`` of the article object,
``og:title``, ``twitter:title``, the visible ``<h1>`` elements, ``<title>``, trafilatura's own
title and the feed entry's title. The rule, first match wins:

1. ``h1`` – an ``<h1>`` that agrees with a title the page or feed declares (JSON-LD,
   ``og:title``, ``twitter:title``, ``<title>``, the feed's; not trafilatura's, which may be
   that ``<h1>`` itself): the same words (quotes, dashes, spaces and case aside), or the
   declared title is the ``<h1>`` plus a shorter separated affix (``… | Site``,
   ``Opinion | …``), or the declared title is cut short from it (JSON-LD headlines are often
   cut at 110 characters). A visible headline its metadata confirms is what readers see;
   ``<title>``/``og:title`` often carry the site name or an older, social-media wording.
2. ``h1:marked`` – an ``<h1>`` the page marks as its headline and that shares words with a
   declared title: ``itemprop=headline`` and one word in common, or a headline class such as
   ``entry-title`` and ``MARKED_OVERLAP`` of its words (compared by their first ``STEM``
   letters, so inflections meet).
3. ``jsonld:headline``, ``og:title``, ``twitter:title``, ``html:title``, ``trafilatura``,
   ``feed`` – the first one present that is not just the site's name, in that order of trust.

An ``<h1>`` that is the site's name (a logo) is never the headline. Whatever wins under rule 3
loses a site-name prefix or suffix when the site name is known: ``og:site_name``,
``application-name``, ``twitter:site``, the JSON-LD publisher or website name, trafilatura's
site name, or the host (``… - SpaceNews.com``, ``… | ZDNet`` on zdnet.com); ``+site`` on the
rule says a site name was cut. A site name repeated on several pages of a source is not used:
pages are extracted one at a time in separate processes, and a page's title must not depend
on which other pages came first.
"""

from __future__ import annotations

import html
import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ingest.pagemeta import PageMeta
from ingest.urls import registrable_domain

logger = logging.getLogger(__name__)

# Declared titles, in the order rule 3 trusts them.
DECLARED_SOURCES = (
    "jsonld:headline",
    "og:title",
    "twitter:title",
    "html:title",
    "trafilatura",
    "feed",
)
# Where a page may say its own name.
SITE_NAME_KEYS = ("og:site_name", "application-name", "twitter:site", "al:android:app_name")
# JSON-LD types whose "name" is the site's.
SITE_TYPES = frozenset({"website", "organization", "newsmediaorganization"})
# A separator between a headline and an affix: a spaced bar, dash, colon, bullet or guillemet.
_SEPARATOR = re.compile(r"\s+[|\-–—:·•»/]+\s+|\s*[|·•»]\s*|:\s+")
# A cut-short declared title is kept as agreeing only if it keeps this share of the headline.
TRUNCATED_SHARE = 0.6
# A headline-class h1 needs this share of its words in a declared title (itemprop=headline: one).
# Set on the tune half of the benchmark (bench/eval_extraction.py); the rule's structure was
# written after reading the title candidates of all 181 pages.
MARKED_OVERLAP = 1 / 3
_QUOTES = str.maketrans(
    {
        "‘": "'",
        "’": "'",
        "‚": "'",
        "“": '"',
        "”": '"',
        "„": '"',
        "«": '"',
        "»": '"',
        "–": "-",
        "—": "-",
        "‐": "-",
        "…": "...",
        "\u00a0": " ",
    }
)
_WORD = re.compile(r"\w{4,}")
# Words are compared by their first letters, so inflections meet ("фудблогера"/"фудблогеры").
STEM = 5


@dataclass(frozen=True)
class TitleChoice:
    """The chosen headline, the rule that chose it and every candidate the page offered."""

    title: str | None
    rule: str  # provenance["title"]: a candidate name, "+site" when a site name was cut
    candidates: dict[str, str] = field(default_factory=dict)  # source -> text as the page wrote it


def clean_title(value: Any) -> str | None:
    """A candidate as readers would see it: entities decoded, whitespace collapsed."""
    if not isinstance(value, str):
        return None
    text = " ".join(html.unescape(value).split())
    return text or None


def normalise_title(text: str) -> str:
    """Comparison form: NFKC, plain quotes and dashes, one space, case folded."""
    folded = unicodedata.normalize("NFKC", html.unescape(text)).translate(_QUOTES)
    return " ".join(folded.split()).casefold()


def name_key(text: str) -> str:
    """Letters and digits only, casefolded: "Al-Bawaba", "al bawaba" and "AlBawaba" meet."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).casefold() if ch.isalnum())


def gather_candidates(
    meta: PageMeta,
    *,
    trafilatura_title: str | None = None,
    feed_title: str | None = None,
) -> dict[str, str]:
    """Every title the page (and its feed entry) offers, keyed by where it came from."""
    found: dict[str, str] = {}
    headline = next(
        (o.get("headline") for o in meta.article_objects() if clean_title(o.get("headline"))),
        None,
    )
    for source, value in (
        ("jsonld:headline", headline),
        ("og:title", meta.meta.get("og:title")),
        ("twitter:title", meta.meta.get("twitter:title")),
        ("html:title", meta.html_title),
        ("trafilatura", trafilatura_title),
        ("feed", feed_title),
    ):
        text = clean_title(value)
        if text:
            found[source] = text
    for index, heading in enumerate(meta.headings):
        found["h1" if index == 0 else f"h1:{index + 1}"] = heading.text
    return found


def site_names(
    meta: PageMeta,
    *,
    sitename: str | None = None,
    url: str | None = None,
    titles: Iterable[str] = (),
) -> set[str]:
    """Name keys of the site: what its markup calls it, and its host's names.

    A name equal to one of the page's `titles` is dropped: some CMSs fill application-name
    (or trafilatura's site name falls back to) the headline itself.
    """
    names = [meta.meta.get(key) for key in SITE_NAME_KEYS]
    names.append(sitename)
    for obj in meta.jsonld:
        kinds = obj.get("@type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if any(str(k).lower() in SITE_TYPES for k in kinds):
            names.append(obj.get("name"))
        publisher = obj.get("publisher")
        for entry in publisher if isinstance(publisher, list) else [publisher]:
            if isinstance(entry, dict):
                names.append(entry.get("name"))
    keys = {name_key(str(n).lstrip("@")) for n in names if isinstance(n, str)}
    keys -= {name_key(t) for t in titles}
    host = (urlsplit(url).hostname or "") if url else ""
    if host:
        domain = registrable_domain(host)
        keys.update({name_key(host), name_key(domain), name_key(domain.split(".")[0])})
        if host.startswith("www."):
            keys.add(name_key(host[4:]))
    keys.discard("")
    return keys


def strip_site_name(title: str, names: set[str]) -> str:
    """The title without a separated prefix or suffix that names the site (longest one first)."""
    if not names:
        return title
    stripped = title
    for _ in range(2):  # a prefix and a suffix: "Site | Headline | Site" is rare, but seen
        cut = _site_cut(stripped, names)
        if cut is None:
            break
        stripped = cut
    return stripped


def _site_cut(title: str, names: set[str]) -> str | None:
    """The title with its longest site-name affix removed, or None when it has none."""
    seps = list(_SEPARATOR.finditer(title))
    for match in seps:  # earliest separator first: the longest suffix
        rest = title[: match.start()].strip()
        if rest and name_key(title[match.end() :]) in names:
            return rest
    for match in reversed(seps):  # latest separator first: the longest prefix
        rest = title[match.end() :].strip()
        if rest and name_key(title[: match.start()]) in names:
            return rest
    return None


def agrees(heading: str, declared: str) -> bool:
    """Whether a declared title names the same headline: equal, with an affix, or cut short."""
    h, d = normalise_title(heading), normalise_title(declared)
    if not h or not d:
        return False
    if h == d:
        return True
    if len(d) > len(h) and (d.startswith(h) or d.endswith(h)):
        if len(d) - len(h) >= len(h):  # the "affix" outweighs the heading: a section label
            return False
        if d.startswith(h):
            return _SEPARATOR.match(d, len(h)) is not None
        return any(m.end() == len(d) - len(h) for m in _SEPARATOR.finditer(d))
    short = d.rstrip(".").rstrip()  # "…" became "..."
    return (
        len(short) >= TRUNCATED_SHARE * len(h)
        and h.startswith(short)
        and (len(short) == len(h) or not h[len(short)].isalnum())
    )


def shared_share(heading: str, declared: Iterable[str]) -> float:
    """Share of a heading's words (4+ letters, by stem) that occur in the declared titles."""
    words = {w[:STEM] for w in _WORD.findall(normalise_title(heading))}
    if not words:
        return 0.0
    seen = {w[:STEM] for w in _WORD.findall(" ".join(normalise_title(d) for d in declared))}
    return len(words & seen) / len(words)


def _page_titles(candidates: Mapping[str, str]) -> list[str]:
    """Candidates that are one whole headline (not a <title> that may be just the site name)."""
    return [t for s, t in candidates.items() if s in ("jsonld:headline", "og:title", "h1")]


def choose_title(
    candidates: Mapping[str, str], meta: PageMeta, names: set[str]
) -> tuple[str | None, str]:
    """Apply the module's rule: the chosen title and the rule that chose it."""
    declared = [
        candidates[s]
        for s in DECLARED_SOURCES
        if s in candidates and s != "trafilatura" and name_key(candidates[s]) not in names
    ]
    headings = [h for h in meta.headings if name_key(h.text) not in names]
    for heading in headings:
        if any(
            agrees(heading.text, d) or agrees(heading.text, strip_site_name(d, names))
            for d in declared
        ):
            return heading.text, "h1"
    for heading in headings:
        share = shared_share(heading.text, declared) if heading.marked else 0.0
        if (heading.marked == "itemprop" and share > 0) or (
            heading.marked == "class" and share >= MARKED_OVERLAP
        ):
            return heading.text, "h1:marked"
    for source in DECLARED_SOURCES:
        text = candidates.get(source)
        if text and name_key(text) not in names:
            title = strip_site_name(text, names)
            return title, source if title == text else f"{source}+site"
    return None, "none"


def select_title(
    meta: PageMeta,
    *,
    trafilatura_title: str | None = None,
    sitename: str | None = None,
    url: str | None = None,
    feed_title: str | None = None,
) -> TitleChoice:
    """Gather the page's title candidates and choose the headline a reader sees."""
    candidates = gather_candidates(meta, trafilatura_title=trafilatura_title, feed_title=feed_title)
    names = site_names(meta, sitename=sitename, url=url, titles=_page_titles(candidates))
    title, rule = choose_title(candidates, meta, names)
    logger.debug("title by %s among %d candidates: %s", rule, len(candidates), title)
    return TitleChoice(title=title, rule=rule, candidates=candidates)
