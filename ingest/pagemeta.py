"""Page metadata that trafilatura does not hand back: JSON-LD, meta tags, canonical links, <time>.

One lxml parse per page feeds the date, language, identity and truncation rules, so each rule
reads the same evidence and none re-parses the page.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lxml import html as lxml_html
from lxml.etree import ParserError

# Schema.org types whose datePublished/wordCount describe the article itself, not the site.
ARTICLE_TYPES = frozenset(
    {
        "article",
        "newsarticle",
        "reportagenewsarticle",
        "analysisnewsarticle",
        "opinionnewsarticle",
        "backgroundnewsarticle",
        "blogposting",
        "socialmediaposting",
        "liveblogposting",
        "scholarlyarticle",
        "techarticle",
        "report",
    }
)
# Class/id tokens publishers put on gated content; matched per token, not as substrings of text.
PAYWALL_TOKEN = re.compile(
    r"(?:^|[-_])(?:paywall|paywalled|subscriber[-_]?only|subscribers[-_]?only|"
    r"metered[-_]?content|meteredcontent|regwall|premium[-_]?content|piano[-_]?paywall)(?:$|[-_])",
    re.IGNORECASE,
)
# A class/id value can only hold a PAYWALL_TOKEN if it contains one of these words.
_PAYWALL_HINTS = ("paywall", "subscriber", "metered", "regwall", "premium")
_PAYWALL_HINT = re.compile("|".join(_PAYWALL_HINTS), re.IGNORECASE)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
# A class/id token that marks an element as the article's headline ("entry-title", "hed").
_HEADLINE_TOKEN = re.compile(r"(?:^|[-_])(?:headline|title|hed)(?:$|[-_])", re.IGNORECASE)
# h1 elements kept per page, and the longest text one may have and still be a headline.
MAX_HEADINGS = 10
MAX_HEADING_CHARS = 400


@dataclass(frozen=True)
class Heading:
    """One visible <h1>, and how the page marked it as the article's headline, if it did."""

    text: str
    marked: str | None = None  # "itemprop" (itemprop=headline), "class" (a headline class/id)


@dataclass(frozen=True)
class PageMeta:
    """Evidence read from one page's markup, each value as the page wrote it."""

    jsonld: tuple[dict[str, Any], ...] = ()  # every JSON-LD object, @graph flattened
    meta: dict[str, str] = field(default_factory=dict)  # lower-cased name/property -> content
    html_lang: str | None = None
    canonical: str | None = None  # <link rel=canonical href>
    og_url: str | None = None
    time_datetimes: tuple[str, ...] = ()  # <time datetime> values, publication-like ones first
    paywall_markers: tuple[str, ...] = ()  # class/id tokens that mark gated content
    html_title: str | None = None  # the <title> text, whitespace collapsed
    headings: tuple[Heading, ...] = ()  # the page's <h1> elements in page order

    def article_objects(self) -> list[dict[str, Any]]:
        """JSON-LD objects typed as articles, which describe this page's story."""
        return [o for o in self.jsonld if _types(o) & ARTICLE_TYPES]

    def jsonld_value(self, key: str) -> Any:
        """First value of `key` in an article object, else in any JSON-LD object."""
        for obj in [*self.article_objects(), *self.jsonld]:
            if key in obj and obj[key] not in (None, ""):
                return obj[key]
        return None


def _types(obj: dict[str, Any]) -> set[str]:
    """Lower-cased @type names of a JSON-LD object (a string or a list)."""
    value = obj.get("@type")
    names = value if isinstance(value, list) else [value]
    return {str(n).rsplit("/", 1)[-1].lower() for n in names if n}


def _walk_jsonld(data: Any) -> Iterator[dict[str, Any]]:
    """Every dict in a JSON-LD document, through lists, @graph and nested parts."""
    if isinstance(data, list):
        for item in data:
            yield from _walk_jsonld(item)
    elif isinstance(data, dict):
        yield data
        for key in ("@graph", "mainEntity", "hasPart", "mainEntityOfPage"):
            if key in data:
                yield from _walk_jsonld(data[key])


def parse_tree(html: str) -> Any | None:
    """An lxml tree of the page, or None when lxml cannot make one."""
    text = _XML_DECL.sub("", html, count=1)
    if not text.strip():
        return None
    try:
        return lxml_html.document_fromstring(text)
    except (ParserError, ValueError):
        return None


def read_page_meta(html: str) -> PageMeta:
    """Collect the markup evidence later rules weigh; a page lxml cannot parse gives none."""
    tree = parse_tree(html)
    if tree is None:
        return PageMeta()
    return read_tree_meta(tree)


def read_tree_meta(tree: Any, html: str | None = None) -> PageMeta:
    """The same evidence from a tree the caller already parsed (read only, never changed).

    `html`, the markup the tree was parsed from, lets most pages skip the paywall scan: an
    attribute can only name a paywall if the markup spells one of the hint words somewhere
    (character references inside class names are the one blind spot).
    """
    lowered = html.lower() if html is not None else None
    jsonld: list[dict[str, Any]] = []
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        try:
            data = json.loads(script.text or "", strict=False)
        except ValueError:
            continue
        jsonld.extend(_walk_jsonld(data))
    meta: dict[str, str] = {}
    for node in tree.iter("meta"):
        key = node.get("property") or node.get("name") or node.get("itemprop")
        key = key or node.get("http-equiv")
        content = node.get("content")
        if key and content and key.strip().lower() not in meta:
            meta[key.strip().lower()] = content.strip()
    canonical = og_url = None
    for link in tree.iter("link"):
        rels = (link.get("rel") or "").lower().split()
        if "canonical" in rels and link.get("href") and canonical is None:
            canonical = link.get("href", "").strip()
    og_url = meta.get("og:url")
    root = tree.getroottree().getroot()
    html_lang = root.get("lang") or root.get("xml:lang")
    title_node = next(tree.iter("title"), None)
    html_title = _collapse(title_node.text_content()) if title_node is not None else ""
    return PageMeta(
        jsonld=tuple(jsonld),
        meta=meta,
        html_lang=html_lang.strip() if html_lang else None,
        canonical=canonical or None,
        og_url=og_url or None,
        time_datetimes=_time_values(tree),
        paywall_markers=(
            _paywall_markers(tree)
            if lowered is None or any(word in lowered for word in _PAYWALL_HINTS)
            else ()
        ),
        html_title=html_title or None,
        headings=_headings(tree),
    )


def _collapse(text: str) -> str:
    """Text with runs of whitespace made one space, as a reader sees it."""
    return " ".join(text.split())


def _headings(tree: Any) -> tuple[Heading, ...]:
    """Non-empty <h1> texts in page order, each with its headline marking (titles.py weighs it)."""
    found: list[Heading] = []
    for node in tree.iter("h1"):
        text = _collapse(node.text_content())
        if not text or len(text) > MAX_HEADING_CHARS:
            continue
        marked = None
        if "headline" in (node.get("itemprop") or "").lower().split():
            marked = "itemprop"
        elif any(
            _HEADLINE_TOKEN.search(token)
            for attr in ("class", "id")
            for token in (node.get(attr) or "").split()
        ):
            marked = "class"
        found.append(Heading(text, marked))
        if len(found) == MAX_HEADINGS:
            break
    return tuple(found)


def _time_values(tree: Any) -> tuple[str, ...]:
    """<time datetime> values; those marked as publication time come first."""
    marked: list[str] = []
    plain: list[str] = []
    for node in tree.iter("time"):
        value = (node.get("datetime") or "").strip()
        if not value:
            continue
        hints = " ".join(
            (node.get(a) or "") for a in ("itemprop", "class", "pubdate", "data-testid")
        ).lower()
        is_pub = "datepublished" in hints or "publish" in hints or node.get("pubdate") is not None
        (marked if is_pub else plain).append(value)
    return tuple(marked + plain)


def _paywall_markers(tree: Any) -> tuple[str, ...]:
    """Class and id tokens naming gated content, outside scripts and styles."""
    found: list[str] = []
    hint = _PAYWALL_HINT.search
    # Only elements whose class or id could name gated content are looked at, in page order.
    nodes: list[Any] = []
    for value in tree.xpath("//@class|//@id"):
        if hint(value) is not None:
            node = value.getparent()
            if node is not None and (not nodes or nodes[-1] is not node):
                nodes.append(node)
    for node in nodes:
        if not isinstance(node.tag, str) or node.tag in ("script", "style", "noscript"):
            continue
        for attr in ("class", "id"):
            for token in (node.get(attr) or "").split():
                if PAYWALL_TOKEN.search(token) and token not in found:
                    found.append(token)
    return tuple(found[:5])


# Old ISO 639 codes some CMSs still emit, and the macro-language py3langid reports instead.
LANGUAGE_ALIASES = {"iw": "he", "in": "id", "ji": "yi", "nb": "no", "nn": "no", "zh-hant": "zh"}


def normalise_language(value: str | None) -> str | None:
    """Primary subtag, lower-cased ("en-US" -> "en", "zh_CN" -> "zh"), or None."""
    if not value:
        return None
    primary = value.strip().replace("_", "-").split("-")[0].lower()
    if not primary.isalpha() or not 2 <= len(primary) <= 3:
        return None
    return LANGUAGE_ALIASES.get(primary, primary)


def declared_language(meta: PageMeta) -> tuple[str | None, str]:
    """What the page says its language is, and where it said so (<html lang> wins)."""
    for rule, value in (
        ("html-lang", meta.html_lang),
        ("content-language", meta.meta.get("content-language")),
        ("meta-language", meta.meta.get("language")),
        ("og:locale", meta.meta.get("og:locale")),
        ("jsonld:inLanguage", _as_text(meta.jsonld_value("inLanguage"))),
    ):
        code = normalise_language(value)
        if code:
            return code, rule
    return None, "none"


def _as_text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
