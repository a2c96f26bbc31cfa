"""URL canonicalisation and identity: one article, one canonical URL, one id."""

from __future__ import annotations

import hashlib
import ipaddress
import re
import string
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from courlan import extract_domain, normalize_url

# Named explicitly rather than using courlan's tracker regex, which also drops params such as
# "gallery", "global" or "session" that can distinguish two different articles.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "ref",
        "ref_src",
        "ref_url",
        "referrer",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "cmpid",
        "ocid",
        "smid",
        "sr_share",
        "spm",
        "share",
        "ito",
        "xtor",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "oly_", "vero_", "at_")


PERCENT_ESCAPE_RE = re.compile(r"%([0-9A-Fa-f]{2})")
UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")


def normalize_escape(match: re.Match[str]) -> str:
    """Apply RFC 3986 6.2.2: decode escaped unreserved characters, upper-case the rest."""
    char = chr(int(match.group(1), 16))
    return char if char in UNRESERVED else "%" + match.group(1).upper()


def is_tracking_param(name: str) -> bool:
    """Say whether a query parameter only tracks the reader and never selects content."""
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def canonicalize_url(url: str) -> str:
    """Reduce a URL to one spelling so the same article is recognised across feeds and runs."""
    stripped = url.strip()
    parts = urlsplit(stripped)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return stripped
    kept = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not is_tracking_param(k)
    ]
    kept.sort()
    # courlan lower-cases scheme and host, drops default ports and normalises percent-escapes;
    # we hand it an empty query and fragment because the query policy above is ours.
    base = normalize_url(urlsplit(urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))))
    scheme, netloc, path, _, _ = urlsplit(base)
    path = PERCENT_ESCAPE_RE.sub(normalize_escape, path)
    if not path:
        path = "/"
    return urlunsplit((scheme, netloc, path, urlencode(kept), ""))


def article_id_for(url: str) -> str:
    """Derive a short stable id from the canonical URL so reruns and other feeds agree on it."""
    return hashlib.sha256(canonicalize_url(url).encode("utf-8")).hexdigest()[:16]


def registrable_domain(host: str) -> str:
    """Name the site a host belongs to (public-suffix aware) so politeness and stats group by it."""
    bare = host.strip().lower().rstrip(".")
    if bare.startswith("[") and bare.endswith("]"):
        bare = bare[1:-1]
    try:
        ipaddress.ip_address(bare)
        return bare
    except ValueError:
        pass
    domain = extract_domain(f"http://{bare}/")
    return domain.lower() if domain else bare
