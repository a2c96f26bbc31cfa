"""Feed parsing (RSS, Atom, JSON Feed) into flat entries, safe against hostile XML."""

from __future__ import annotations

import codecs
import hashlib
import io
import json
import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
import nh3

from ingest.urls import canonicalize_url

logger = logging.getLogger(__name__)

JSON_FEED_VERSION_PREFIX = "https://jsonfeed.org/version/1"

# The prolog ends where the first element starts; DOCTYPEs can only appear before that.
FIRST_ELEMENT_RE = re.compile(rb"<[A-Za-z_]")
DOCTYPE_RE = re.compile(
    rb"<!DOCTYPE\s+(?P<name>[\w:.-]+)[^\[>]*(?:\[(?P<subset>.*?)\]\s*)?>", re.IGNORECASE | re.DOTALL
)
# Only internal entities whose value is plain text survive: no references (no nesting, so no
# billion laughs), no parameter entities, no SYSTEM/PUBLIC (no external fetch or file read).
SAFE_ENTITY_RE = re.compile(rb'<!ENTITY\s+(?P<name>[A-Za-z_][\w.-]*)\s+"(?P<value>[^"&%<]*)"\s*>')
XML_DECL_ENCODING_RE = re.compile(rb"""^(<\?xml[^>]*?encoding\s*=\s*)["'][^"']*["']""")
# Characters the surviving internal entities may add to the document when expanded. expat
# refuses a document that amplifies past its own limits, and feedparser then falls back to its
# loose parser, which expands entities without any: ten 10,000-character references per item of
# a 35 kB feed make 20 million characters. A feed with entities has no business near this.
MAX_ENTITY_EXPANSION = 1_000_000
ENTITY_REF_RE = re.compile(rb"&([A-Za-z_][\w.-]*);")
# Numeric character references; those naming a surrogate or a code point XML forbids make
# expat refuse the document and feedparser's loose parser emit strings no UTF-8 codec accepts.
CHAR_REF_RE = re.compile(rb"&#(?:[xX]([0-9A-Fa-f]{1,8})|([0-9]{1,10}));")
# Lone surrogates: json.loads accepts "\udcff", and such a string cannot be stored as UTF-8.
SURROGATE_RE = re.compile("[\ud800-\udfff]")
# JSON Feed HTML is cleaned to the article part of what feedparser's sanitiser keeps for RSS and
# Atom, so both paths emit comparable HTML: no form controls, no style attributes, no dead tags.
ARTICLE_TAGS = frozenset(
    {
        *("a", "abbr", "acronym", "address", "area", "article", "aside", "audio", "b", "big"),
        *("blockquote", "br", "caption", "center", "cite", "code", "col", "colgroup", "dd"),
        *("del", "details", "dfn", "dir", "div", "dl", "dt", "em", "figcaption", "figure"),
        *("font", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "i", "img"),
        *("ins", "kbd", "li", "map", "menu", "meter", "nav", "ol", "p", "pre", "progress", "q"),
        *("s", "samp", "section", "small", "source", "span", "strike", "strong", "sub", "sup"),
        *("table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "tt", "u", "ul", "var"),
        "video",
    }
)
TABLE_CELL_ATTRIBUTES = frozenset(
    {"abbr", "align", "axis", "colspan", "headers", "rowspan", "scope", "valign", "width"}
)
ARTICLE_ATTRIBUTES: dict[str, frozenset[str]] = {
    "*": frozenset({"dir", "lang", "title"}),
    "a": frozenset({"href", "hreflang", "name", "rel", "type"}),
    "area": frozenset({"alt", "coords", "href", "shape"}),
    "audio": frozenset({"controls", "loop", "preload", "src"}),
    "blockquote": frozenset({"cite"}),
    "col": frozenset({"align", "span", "valign", "width"}),
    "colgroup": frozenset({"align", "span", "valign", "width"}),
    "del": frozenset({"cite", "datetime"}),
    "details": frozenset({"open"}),
    "font": frozenset({"color", "face", "size"}),
    "hr": frozenset({"align", "noshade", "size", "width"}),
    "img": frozenset(
        {"align", "alt", "border", "height", "hspace", "src", "usemap", "vspace", "width"}
    ),
    "ins": frozenset({"cite", "datetime"}),
    "li": frozenset({"value"}),
    "map": frozenset({"name"}),
    "meter": frozenset({"high", "low", "max", "min", "optimum", "value"}),
    "ol": frozenset({"reversed", "start", "type"}),
    "progress": frozenset({"max", "value"}),
    "q": frozenset({"cite"}),
    "source": frozenset({"media", "src", "type"}),
    "table": frozenset({"align", "border", "cellpadding", "cellspacing", "summary", "width"}),
    "td": TABLE_CELL_ATTRIBUTES,
    "th": TABLE_CELL_ATTRIBUTES,
    "tbody": frozenset({"align", "valign"}),
    "tfoot": frozenset({"align", "valign"}),
    "thead": frozenset({"align", "valign"}),
    "time": frozenset({"datetime"}),
    "tr": frozenset({"align", "valign"}),
    "ul": frozenset({"type"}),
    "video": frozenset({"controls", "height", "loop", "poster", "preload", "src", "width"}),
}
# Elements dropped together with their content, not just their tags: code, styling, embeds.
UNSAFE_CONTENT_TAGS = frozenset(
    {
        *("applet", "embed", "iframe", "noembed", "noframes", "noscript", "script", "style"),
        *("template", "textarea"),
    }
)
LINK_SCHEMES = frozenset({"ftp", "http", "https", "mailto", "news", "nntp", "tel"})
UTF16_32_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


@dataclass(frozen=True)
class FeedEntry:
    """One item of a feed, flattened to what the pipeline stores."""

    guid: str | None
    link: str | None
    canonical_link: str | None
    title: str | None
    summary: str | None  # HTML sanitised (by feedparser, or nh3 for JSON Feed), or JSON Feed text
    published_at: str | None  # ISO 8601 in UTC
    author: str | None


@dataclass(frozen=True)
class ParsedFeed:
    """A parsed feed: entries salvaged even from ill-formed documents, plus what went wrong."""

    title: str | None
    entries: tuple[FeedEntry, ...]
    error: str | None
    bozo: bool


class EntityExpansionError(ValueError):
    """The feed's internal entities would expand past MAX_ENTITY_EXPANSION characters."""


def entry_key(entry: FeedEntry) -> str | None:
    """Identify an entry across polls: the publisher's GUID, else the canonical link."""
    return entry.guid or entry.canonical_link


def entry_identity(entry: FeedEntry) -> str | None:
    """entry_key, else a digest of what the entry says (title, summary, date, author), so an
    item without GUID or web link is still taken on once; None for an entry that says nothing."""
    key = entry_key(entry)
    if key is not None:
        return key
    words = (entry.link, entry.title, entry.summary, entry.published_at, entry.author)
    if not any(words):
        return None
    digest = hashlib.sha256("\0".join(w or "" for w in words).encode("utf-8")).hexdigest()
    return f"content:{digest[:32]}"


def scrub_text(value: str) -> str:
    """Replace lone surrogates with U+FFFD, so the string can be encoded and stored."""
    return SURROGATE_RE.sub("\ufffd", value) if SURROGATE_RE.search(value) else value


def scrub_json(value: Any) -> Any:
    """Every string in decoded JSON (keys too) with lone surrogates replaced."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, list):
        return [scrub_json(v) for v in value]
    if isinstance(value, dict):
        return {scrub_text(str(k)): scrub_json(v) for k, v in value.items()}
    return value


def replace_bad_char_refs(body: bytes) -> bytes:
    """Rewrite character references to surrogates and other code points XML forbids as U+FFFD,
    so one bad reference costs one character instead of every entry of the feed."""
    if b"&#" not in body:
        return body

    def fix(match: re.Match[bytes]) -> bytes:
        hex_digits, decimal = match.groups()
        code = int(hex_digits, 16) if hex_digits else int(decimal)
        allowed = (
            code in (0x9, 0xA, 0xD)
            or 0x20 <= code <= 0xD7FF
            or 0xE000 <= code <= 0xFFFD
            or 0x10000 <= code <= 0x10FFFF
        )
        return match.group(0) if allowed else b"&#xFFFD;"

    return CHAR_REF_RE.sub(fix, body)


def parse_feed(body: bytes, url: str, content_type: str | None) -> ParsedFeed:
    """Parse any supported feed format; problems come back in `error`, never as exceptions."""
    try:
        if is_json_feed(body, content_type):
            return parse_json_feed(body, url)
        return parse_xml_feed(body, url, content_type)
    except Exception as exc:  # a broken feed must not stop the run
        logger.warning("parsing the feed at %s failed: %s: %s", url, type(exc).__name__, exc)
        return ParsedFeed(None, (), f"{type(exc).__name__}: {exc}", True)


def is_json_feed(body: bytes, content_type: str | None) -> bool:
    """Tell JSON Feeds from XML by media type, or by the first byte when the type is generic."""
    if content_type and "json" in content_type.lower():
        return True
    return body.lstrip(codecs.BOM_UTF8 + b" \t\r\n").startswith(b"{")


def neutralize_doctype(body: bytes) -> bytes:
    """Rewrite the DOCTYPE so no external DTD or entity can be fetched or read from disk."""
    body = replace_bad_char_refs(transcode_wide_xml(body))
    match = FIRST_ELEMENT_RE.search(body)
    end = match.start() if match else len(body)
    prolog, rest = body[:end], body[end:]
    doctype = DOCTYPE_RE.search(prolog)
    if doctype is None:
        if b"<!DOCTYPE" in prolog.upper() or b"<!ENTITY" in prolog.upper():
            # Unparseable declaration: drop the whole prolog after the XML declaration.
            decl = re.match(rb"\s*<\?xml[^>]*\?>", prolog)
            return (decl.group(0) if decl else b"") + rest
        return body
    safe = SAFE_ENTITY_RE.findall(doctype.group("subset") or b"")
    check_entity_expansion(safe, rest)
    replacement = b""
    if safe:
        # One declaration per line: feedparser's own DOCTYPE pass only sees line-initial ones.
        decls = b"\n".join(b'<!ENTITY %s "%s">' % (name, value) for name, value in safe)
        replacement = b"<!DOCTYPE " + doctype.group("name") + b" [\n" + decls + b"\n]>"
    return prolog[: doctype.start()] + replacement + prolog[doctype.end() :] + rest


def check_entity_expansion(entities: list[tuple[bytes, bytes]], document: bytes) -> None:
    """Refuse a feed whose internal entities would expand past MAX_ENTITY_EXPANSION characters:
    every reference counted once, in one pass over the document."""
    if not entities:
        return
    sizes = {name: len(value) for name, value in entities}
    total = 0
    for match in ENTITY_REF_RE.finditer(document):
        total += sizes.get(match.group(1), 0)
        if total > MAX_ENTITY_EXPANSION:
            raise EntityExpansionError(
                f"internal entities would expand to more than {MAX_ENTITY_EXPANSION:,} "
                "characters (quadratic blow-up); refusing the feed"
            )


def transcode_wide_xml(body: bytes) -> bytes:
    """Re-encode UTF-16/32 feeds as UTF-8 so the byte-level prolog checks can see the DOCTYPE."""
    for bom, encoding in UTF16_32_BOMS:
        if body.startswith(bom):
            text = body[len(bom) :].decode(encoding, "replace").encode("utf-8")
            return XML_DECL_ENCODING_RE.sub(rb'\1"utf-8"', text, count=1)
    return body


def parse_xml_feed(body: bytes, url: str, content_type: str | None) -> ParsedFeed:
    """Parse RSS 0.9x/1.0/2.0 or Atom with feedparser, from memory only."""
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    # A BytesIO, never the URL or a str: feedparser would fetch URLs and open file paths itself.
    result = feedparser.parse(
        io.BytesIO(neutralize_doctype(body)),
        response_headers=headers,
        sanitize_html=True,
        resolve_relative_uris=True,
    )
    entries = tuple(entry_from_feedparser(e) for e in result.get("entries", []))
    bozo = bool(result.get("bozo"))
    error = None
    if not entries:
        if bozo:
            error = f"{type(result.get('bozo_exception')).__name__}: {result.get('bozo_exception')}"
        elif not result.get("version"):
            error = "not a recognised feed format"
    title = clean_text(result.get("feed", {}).get("title"))
    return ParsedFeed(title, entries, error, bozo)


def entry_from_feedparser(entry: Any) -> FeedEntry:
    """Flatten a feedparser entry."""
    link = clean_text(entry.get("link"))
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    return FeedEntry(
        guid=clean_text(entry.get("id")),
        link=link,
        canonical_link=canonical_or_none(link),
        title=clean_text(entry.get("title")),
        summary=clean_text(entry.get("summary")),
        published_at=struct_time_to_iso(parsed),
        author=clean_text(entry.get("author")),
    )


def parse_json_feed(body: bytes, url: str) -> ParsedFeed:
    """Parse JSON Feed 1.0/1.1 by hand: feedparser does not read JSON."""
    try:
        data = scrub_json(json.loads(body.decode("utf-8-sig")))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return ParsedFeed(None, (), f"invalid JSON: {exc}", True)
    except RecursionError:
        return ParsedFeed(None, (), "invalid JSON: nested too deeply", True)
    if not isinstance(data, dict):
        return ParsedFeed(None, (), "JSON Feed must be an object", True)
    version = str(data.get("version") or "")
    if not version.startswith(JSON_FEED_VERSION_PREFIX):
        return ParsedFeed(None, (), f"not a JSON Feed (version {version!r})", True)
    items = data.get("items")
    if not isinstance(items, list):
        return ParsedFeed(clean_text(data.get("title")), (), "JSON Feed has no items list", True)
    base = data.get("feed_url") if isinstance(data.get("feed_url"), str) else url
    feed_author = json_authors(data)
    entries = tuple(
        entry_from_json(item, base or url, feed_author) for item in items if isinstance(item, dict)
    )
    bozo = len(entries) != len(items)
    return ParsedFeed(clean_text(data.get("title")), entries, None, bozo)


def entry_from_json(item: dict[str, Any], base: str, feed_author: str | None) -> FeedEntry:
    """Flatten one JSON Feed item; ids may be numbers in 1.0, so they are stringified."""
    raw_link = item.get("url") or item.get("external_url")
    link = (
        urljoin(base, raw_link.strip()) if isinstance(raw_link, str) and raw_link.strip() else None
    )
    guid = item.get("id")
    summary = item.get("summary") or item.get("content_text")
    if not summary and isinstance(item.get("content_html"), str):
        summary = clean_article_html(item["content_html"])
    return FeedEntry(
        guid=clean_text(str(guid))
        if guid is not None and not isinstance(guid, dict | list)
        else None,
        link=link,
        canonical_link=canonical_or_none(link),
        title=clean_text(item.get("title")),
        summary=clean_text(summary),
        published_at=iso_to_utc(item.get("date_published") or item.get("date_modified")),
        author=json_authors(item) or feed_author,
    )


def clean_article_html(html: str) -> str:
    """Sanitise JSON Feed HTML as feedparser does RSS/Atom HTML, so stored summaries are safe."""
    return nh3.clean(
        html,
        tags=set(ARTICLE_TAGS),
        clean_content_tags=set(UNSAFE_CONTENT_TAGS),
        attributes={tag: set(names) for tag, names in ARTICLE_ATTRIBUTES.items()},
        link_rel=None,  # keep the publisher's rel, as feedparser does; we never render these
        url_schemes=set(LINK_SCHEMES),
    )


def json_authors(item: dict[str, Any]) -> str | None:
    """Join author names from JSON Feed 1.1 `authors` or 1.0 `author` (of an item or the feed)."""
    authors = item.get("authors")
    if not isinstance(authors, list):
        authors = [item.get("author")]
    names = [a["name"] for a in authors if isinstance(a, dict) and isinstance(a.get("name"), str)]
    return clean_text(", ".join(names))


def clean_text(value: Any) -> str | None:
    """Strip a string field and turn empty or non-string values into None."""
    if not isinstance(value, str):
        return None
    value = scrub_text(value.strip())
    return value or None


def canonical_or_none(link: str | None) -> str | None:
    """Canonicalise web links only; mailto:, tag: and relative junk have no canonical form."""
    if not link or urlsplit(link).scheme.lower() not in ("http", "https"):
        return None
    return canonicalize_url(link)


def struct_time_to_iso(value: time.struct_time | None) -> str | None:
    """feedparser normalises dates to UTC struct_time; render them as ISO 8601."""
    if value is None:
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC).isoformat()
    except (TypeError, ValueError):
        return None


def iso_to_utc(value: Any) -> str | None:
    """Normalise an RFC 3339 date to UTC ISO 8601; dates without a zone are taken as UTC."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat()
