"""Publication date by evidence: gather every candidate, drop impossible ones, pick by rule.

Candidates, in the order the rule trusts them (the first valid one wins):

1. ``jsonld``   – JSON-LD ``datePublished`` of the page's article object (what the CMS declares
   for search engines);
2. ``meta:KEY`` – the first publication meta tag (``article:published_time``, ``pubdate``,
   ``parsely-pub-date``, ``dc.date.issued``, …);
3. ``feed``     – the feed entry's published time, when the item came from a feed;
4. ``time``     – the page's ``<time datetime>``, publication-marked ones first;
5. ``url``      – a date in the URL path (``/2025/06/10/``, ``/20250610/``): exact to the day,
   and fixed when the permalink was minted;
6. ``htmldate`` – htmldate's quick search (``extensive_search=False, original_date=True``); a
   midnight answer means it found only a day, so it counts as date-only;
7. ``trafilatura`` – trafilatura's own (extensive) date search, last because it reads any date
   on the page; it decides only when nothing else does and never raises a conflict. A date it
   took from body text ("starting January 1") is no publication date, so it counts only with
   the evidence of a *date line or byline* giving the same day: a short line (or element) made
   of that date and a few words ("By Jane Doe | June 3, 2025", "Published 2025-06-03"). Without
   it (a text file with no such line; a page whose only date is in a sentence) it is rejected
   and the date stays NULL.

A candidate is rejected when it lies more than ``FUTURE_SKEW`` after the reference time (the
item's discovery time, else now) or before ``OLDEST`` (1995: older is not a news feed item).
Date-only candidates cover their whole UTC day. ``conflict`` is set when any other valid
candidate lies more than ``CONFLICT_GAP`` (one day) from the chosen one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from ingest.pagemeta import PageMeta

OLDEST = datetime(1995, 1, 1, tzinfo=UTC)
FUTURE_SKEW = timedelta(days=1)
CONFLICT_GAP = timedelta(days=1)
DAY = timedelta(days=1)
META_KEYS = (
    "article:published_time",
    "og:article:published_time",
    "datepublished",
    "article.published",
    "pubdate",
    "publishdate",
    "publish-date",
    "publish_date",
    "parsely-pub-date",
    "sailthru.date",
    "dc.date.issued",
    "dcterms.issued",
    "dc.date",
    "dcterms.date",
    "citation_publication_date",
    "date",
)
# Only rules that read the page's own declarations can contradict each other meaningfully.
NO_CONFLICT = frozenset({"trafilatura"})
_URL_DATE = re.compile(
    r"/((?:19|20)\d{2})[/-](0[1-9]|1[0-2])[/-](0[1-9]|[12]\d|3[01])(?:/|-|\.|$)"
    r"|/((?:19|20)\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?:/|-|_|\.|$)"
)
_LOOSE = re.compile(
    r"((?:19|20)\d{2})[-/.](\d{1,2})[-/.](\d{1,2})"
    r"(?:[T ](\d{1,2}):(\d{2})(?::(\d{2}))?)?"
)


# Date lines: a line this short, holding the date and at most DATE_LINE_WORDS other words.
DATE_LINE_CHARS = 160
DATE_LINE_WORDS = 8
_MONTHS = {
    m: i
    for i, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for m in names
}
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_WRITTEN_DATES = (
    re.compile(r"(?P<y>(?:19|20)\d{2})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})日?"),
    re.compile(_MONTH + r"\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y>(?:19|20)\d{2})", re.I),
    re.compile(r"(?P<d>\d{1,2})(?:st|nd|rd|th)?\s+" + _MONTH + r",?\s+(?P<y>(?:19|20)\d{2})", re.I),
    re.compile(r"(?P<a>\d{1,2})/(?P<b>\d{1,2})/(?P<y>(?:19|20)\d{2})"),
)
_BYLINE = re.compile(
    r"^\W*(?:by|published|updated|posted|date|dated|dateline|filed|发布|发表|更新|日期|时间)\b",
    re.I,
)
_WORDS = re.compile(r"\w+")


@dataclass(frozen=True)
class DateCandidate:
    """One reading of the publication time: where it came from and what it says."""

    source: str
    value: datetime
    date_only: bool  # only the day is known; covers the whole UTC day
    raw: str
    # Why the candidate cannot be used although it parsed (e.g. "no-date-line"), or None.
    rejected: str | None = None


@dataclass(frozen=True)
class DateChoice:
    """The chosen publication time and the evidence behind it."""

    published_at: str | None
    source: str | None
    conflict: bool
    evidence: str  # "source=value" for every candidate, rejected ones marked


def parse_date(raw: str) -> tuple[datetime, bool] | None:
    """A UTC-aware datetime and whether only the day was given, from the formats pages use."""
    text = raw.strip()
    if not text:
        return None
    date_only = bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", text))
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            match = _LOOSE.search(text)
            if match:
                y, mo, d, h, mi, s = (int(g) if g else None for g in match.groups())
                try:
                    parsed = datetime(y or 0, mo or 0, d or 0, h or 0, mi or 0, s or 0)
                except ValueError:
                    return None
                date_only = h is None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC), date_only


def url_date(url: str | None) -> str | None:
    """YYYY-MM-DD from a dated permalink path, or None."""
    if not url:
        return None
    match = _URL_DATE.search(url)
    if not match:
        return None
    groups = [g for g in match.groups() if g]
    return f"{groups[0]}-{groups[1]}-{groups[2]}"


def gather_candidates(
    meta: PageMeta,
    *,
    html: Any,
    url: str | None,
    feed_published: str | None,
    trafilatura_date: str | None,
    text: str | None = None,
) -> list[DateCandidate]:
    """Every date the evidence offers, in rule order; unparseable values are left out.

    `html` is the page as a string or as an already parsed lxml tree (read, not changed); ""
    or None skips htmldate. `text` (the extracted body) is where a text file's date line is
    looked for; the trafilatura candidate is marked rejected unless a date line confirms it.
    """
    raw: list[tuple[str, str | None]] = []
    jsonld = meta.jsonld_value("datePublished")
    raw.append(("jsonld", str(jsonld) if jsonld else None))
    meta_key = next((k for k in META_KEYS if meta.meta.get(k)), None)
    raw.append((f"meta:{meta_key}" if meta_key else "meta", meta.meta.get(meta_key or "")))
    raw.append(("feed", feed_published))
    raw.append(("time", meta.time_datetimes[0] if meta.time_datetimes else None))
    raw.append(("url", url_date(url)))
    raw.append(("htmldate", htmldate_quick(html)))
    raw.append(("trafilatura", trafilatura_date))
    found = []
    for source, value in raw:
        if not value:
            continue
        parsed = parse_date(value)
        if parsed is not None:
            # htmldate prints a day it found without a time as midnight.
            day_only = parsed[1] or (source == "htmldate" and value[11:19] == "00:00:00")
            rejected = None
            if source == "trafilatura" and not has_date_line(parsed[0].date(), html, text):
                rejected = "no-date-line"
            found.append(DateCandidate(source, parsed[0], day_only, value, rejected))
    return found


def written_dates(line: str) -> Iterator[tuple[date, re.Match[str]]]:
    """Every calendar date written out in a line (ISO, "June 3, 2025", "3 June 2025",
    "2025年6月3日", "06/03/2025" read both ways), with where it was written."""
    for pattern in _WRITTEN_DATES:
        for match in pattern.finditer(line):
            groups = match.groupdict()
            year = int(groups["y"])
            if groups.get("a"):
                pairs = [(int(groups["a"]), int(groups["b"])), (int(groups["b"]), int(groups["a"]))]
            else:
                month = groups.get("m") or str(_MONTHS.get((groups.get("month") or "").lower(), 0))
                pairs = [(int(month), int(groups["d"]))]
            for month_number, day in pairs:
                try:
                    yield date(year, month_number, day), match
                except ValueError:
                    continue


def is_date_line(line: str, day: date) -> bool:
    """A byline or date line for `day`: short, and the date with a few words around it (or
    after a "By"/"Published"/"Updated" marker), not a date inside a sentence."""
    if len(line) > DATE_LINE_CHARS:
        return False
    for written, match in written_dates(line):
        if abs((written - day).days) > 1:  # a local date one day off the UTC one still agrees
            continue
        rest = line[: match.start()] + " " + line[match.end() :]
        if len(_WORDS.findall(rest)) <= DATE_LINE_WORDS or _BYLINE.search(line):
            return True
    return False


def candidate_lines(html: Any, text: str | None) -> Iterator[str]:
    """Lines that could be date lines: the text's short lines, and each page element holding a
    written year, as its whole (whitespace-collapsed) text."""
    for line in (text or "").splitlines():
        line = line.strip()
        if line and len(line) <= DATE_LINE_CHARS:
            yield line
    if isinstance(html, str):
        for line in re.sub(r"<[^>]+>", "\n", html).splitlines():
            line = " ".join(line.split())
            if line and len(line) <= DATE_LINE_CHARS:
                yield line
        return
    xpath = getattr(html, "xpath", None)
    if xpath is None:
        return
    seen: set[int] = set()
    for node in xpath("//text()[re:test(., '(19|20)[0-9]{2}')]", namespaces=_REGEXP_NS):
        parent = node.getparent()
        if parent is not None and getattr(node, "is_tail", False):
            parent = parent.getparent()  # a tail's getparent() is the element it follows
        if parent is None or id(parent) in seen:
            continue
        seen.add(id(parent))
        line = " ".join(str(parent.text_content()).split())
        if line and len(line) <= DATE_LINE_CHARS:
            yield line


_REGEXP_NS = {"re": "http://exslt.org/regular-expressions"}


def has_date_line(day: date, html: Any, text: str | None) -> bool:
    """Say whether the page or text has a date line or byline giving `day`."""
    return any(is_date_line(line, day) for line in candidate_lines(html, text))


def htmldate_quick(html: Any) -> str | None:
    """htmldate's header and metadata search only: the extensive one guesses from any text.

    Takes the page's string or its parsed lxml tree; htmldate copies a tree before pruning it.
    """
    if html is None or (isinstance(html, str) and not html):
        return None
    from htmldate import find_date  # imported lazily: only extraction needs it

    try:
        found = find_date(
            html,
            extensive_search=False,
            original_date=True,
            outputformat="%Y-%m-%dT%H:%M:%S%z",
        )
    except Exception:  # htmldate raises assorted errors on odd markup; no date is the answer
        return None
    return str(found) if found else None


def _interval(c: DateCandidate) -> tuple[datetime, datetime]:
    return (c.value, c.value + DAY) if c.date_only else (c.value, c.value)


def _gap(a: DateCandidate, b: DateCandidate) -> timedelta:
    """Distance between the spans two candidates cover (zero when they overlap)."""
    a0, a1 = _interval(a)
    b0, b1 = _interval(b)
    return max(b0 - a1, a0 - b1, timedelta(0))


def reference_time(discovered_at: str | None, now: datetime | None = None) -> datetime:
    """What 'future' is measured against: discovery when known, else now."""
    if discovered_at:
        parsed = parse_date(discovered_at)
        if parsed is not None:
            return parsed[0]
    return now or datetime.now(UTC)


def choose_date(candidates: Iterable[DateCandidate], reference: datetime) -> DateChoice:
    """Apply the module's rule: first valid candidate wins, disagreement over a day is flagged."""
    valid: list[DateCandidate] = []
    notes: list[str] = []
    for c in candidates:
        if c.rejected:
            notes.append(f"{c.source}={c.raw}(rejected:{c.rejected})")
        elif c.value > reference + FUTURE_SKEW:
            notes.append(f"{c.source}={c.raw}(rejected:future)")
        elif c.value < OLDEST:
            notes.append(f"{c.source}={c.raw}(rejected:too-old)")
        else:
            valid.append(c)
            notes.append(f"{c.source}={c.raw}")
    if not valid:
        return DateChoice(None, None, False, ";".join(notes))
    chosen = valid[0]
    conflict = any(_gap(chosen, c) > CONFLICT_GAP for c in valid[1:] if c.source not in NO_CONFLICT)
    value = chosen.value.date().isoformat() + "T00:00:00+00:00" if chosen.date_only else None
    return DateChoice(
        published_at=value or chosen.value.isoformat(),
        source=chosen.source,
        conflict=conflict,
        evidence=";".join(notes),
    )
