"""HTML byte decoding that survives the wrong charset labels common on Chinese news sites."""

from __future__ import annotations

import codecs
import re
from email.message import Message

from charset_normalizer import from_bytes

# Sites label GBK text as gb2312 and Big5 text with HKSCS/cp950 extensions as big5; decoding
# with the strict older table fails on ordinary characters, so use the supersets.
SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "cp936": "gb18030",
    "big5": "big5hkscs",
    "cp950": "big5hkscs",
    # WHATWG treats latin-1 and ascii labels as windows-1252, and so do real pages.
    "latin-1": "cp1252",
    "iso8859-1": "cp1252",
    "ascii": "cp1252",
}
SINGLE_BYTE_WESTERN = frozenset({"cp1252", "latin-1", "iso8859-15", "cp1250"})

BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

META_CHARSET_RE = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE
)
PRESCAN_BYTES = 4096
HIGH_BYTE_RE = re.compile(rb"[\x80-\xff]")


def normalize_encoding(label: str | None) -> str | None:
    """Map a charset label to a Python codec name, widening legacy CJK labels to supersets."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
    except LookupError:
        return None
    return SUPERSETS.get(name, name)


def charset_from_header(content_type_header: str | None) -> str | None:
    """Pull the charset parameter out of a Content-Type header value."""
    if not content_type_header:
        return None
    message = Message()
    message["content-type"] = content_type_header
    charset = message.get_param("charset")
    return charset if isinstance(charset, str) else None


def charset_from_meta(body: bytes) -> str | None:
    """Find a <meta charset> or http-equiv declaration in the first bytes of the document."""
    match = META_CHARSET_RE.search(body[:PRESCAN_BYTES])
    return match.group(1).decode("ascii", "replace") if match else None


def is_valid_utf8(body: bytes) -> bool:
    """Say whether bytes decode strictly as UTF-8."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def looks_like_mojibake(body: bytes, text: str) -> bool:
    """Spot multi-byte text decoded as a single-byte charset: accented letters in long runs."""
    high = len(HIGH_BYTE_RE.findall(body))
    if high < 8:
        return False
    non_ascii = [i for i, ch in enumerate(text) if ord(ch) > 0x7F]
    if not non_ascii:
        return False
    positions = set(non_ascii)
    # European text has isolated accented letters; CJK or UTF-8 read as Latin comes in runs.
    in_runs = sum(1 for i in non_ascii if i - 1 in positions or i + 1 in positions)
    return in_runs / len(non_ascii) > 0.6


def try_declared(body: bytes, encoding: str | None) -> str | None:
    """Decode with a declared charset, or None when the declaration is evidently wrong."""
    if encoding is None:
        return None
    try:
        text = body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None
    if encoding != "utf-8" and HIGH_BYTE_RE.search(body) and is_valid_utf8(body):
        # Non-ASCII bytes that happen to form valid UTF-8 almost never do so by accident.
        return None
    if encoding in SINGLE_BYTE_WESTERN and looks_like_mojibake(body, text):
        return None
    return text


def detect_encoding(body: bytes) -> str | None:
    """Guess the charset statistically when no declaration can be trusted."""
    if is_valid_utf8(body):
        return "utf-8"
    matches = from_bytes(body)
    best = matches.best()
    if best is None:
        return None
    for match in matches:
        # Short Latin text often ties between windows-125x tables; 1252 is the web's default.
        tied = match.chaos == best.chaos and match.coherence == best.coherence
        if tied and "cp1252" in match.could_be_from_charset:
            return "cp1252"
    return normalize_encoding(best.encoding)


def decode_html(body: bytes, content_type_header: str | None) -> tuple[str, str, str]:
    """Decode a page and say which rule chose the encoding, so provenance can be recorded."""
    for bom, bom_encoding in BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(bom_encoding, "replace"), bom_encoding, "bom"
    for rule, label in (
        ("http-header", charset_from_header(content_type_header)),
        ("meta-charset", charset_from_meta(body)),
    ):
        encoding = normalize_encoding(label)
        if rule == "meta-charset" and encoding and encoding.startswith(("utf-16", "utf-32")):
            # A meta tag readable as ASCII cannot be UTF-16; browsers read such pages as UTF-8.
            encoding = "utf-8"
        text = try_declared(body, encoding)
        if text is not None and encoding is not None:
            return text, encoding, rule
    detected = detect_encoding(body)
    if detected is not None:
        try:
            return body.decode(detected), detected, "detected"
        except (UnicodeDecodeError, LookupError):
            pass
    return body.decode("utf-8", "replace"), "utf-8", "default"
