"""Gazetteer of trade actors and the fast term matcher the tagger shares with it."""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar

DEFAULT_GAZETTEER = Path(__file__).with_name("gazetteer.toml")

# Latin terms must not run into neighbouring Latin letters or digits; CJK text has no such
# boundaries, so CJK characters are allowed on either side of a Latin term ("美国Nvidia公司").
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_HYPHENS = "-\u2010\u2011\u2012\u2013\u2014"
_APOSTROPHES = "'\u2019"
_SPACE_RUN = re.compile(r"\s+")

R = TypeVar("R")


def is_cjk(term: str) -> bool:
    """Tell CJK terms apart, because they are matched as substrings instead of words."""
    return bool(_CJK.search(term))


_NORMALIZE = str.maketrans({**{ch: "-" for ch in _HYPHENS}, "\u2019": "'"})


def normalize_term(term: str, ignore_case: bool) -> str:
    """Give a term and every matched spelling of it the same dictionary key."""
    key = term.translate(_NORMALIZE)
    if "  " in key or not key.isprintable() or key != key.strip():
        key = _SPACE_RUN.sub(" ", key.strip())
    return key.lower() if ignore_case else key


def _trie_regex(terms: Iterable[str]) -> str:
    """Compile literal terms into one trie-shaped regex so scanning cost does not grow per term."""
    trie: dict[str, Any] = {}
    for term in terms:
        node = trie
        for ch in term:
            node = node.setdefault(ch, {})
        node[""] = {}
    return _node_regex(trie)


def _char_regex(ch: str) -> str:
    """Let one written character also match its common typographic variants."""
    if ch == " ":
        return r"\s+"
    if ch == "-":
        return f"[{re.escape(_HYPHENS)}]"
    if ch == "'":
        return f"[{_APOSTROPHES}]"
    return re.escape(ch)


def _node_regex(node: dict[str, Any]) -> str:
    """Emit the alternation for one trie node; an ending term makes the rest optional."""
    ends = "" in node
    branches = [_char_regex(ch) + _node_regex(child) for ch, child in sorted(node.items()) if ch]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    if ends:
        # Greedy optional: the longest spelling wins, the boundary check backtracks if needed.
        return "(?:" + body + ")?"
    return body


class TermMatch(NamedTuple, Generic[R]):
    """One matched term occurrence and what it refers to (a tuple: made per match, so cheap).

    `inner` lists shorter terms inside the match, for callers that keep several vocabularies
    in one matcher and must not let one vocabulary's long term hide another's short one.
    """

    start: int
    end: int
    refs: tuple[R, ...]
    inner: tuple[TermMatch[R], ...] = ()


_WORD_CHAR = "0-9a-z\u00c0-\u024f"
_IS_WORD = re.compile(f"[{_WORD_CHAR}]")


class TermMatcher(Generic[R]):
    """Find many literal terms (Latin words and CJK substrings) in one pass.

    All Latin terms form one trie-shaped regex run over the lower-cased text behind a
    word-start look-behind, so the engine only enters the trie at word starts; case-sensitive
    terms are checked against the original text afterwards. CJK terms get their own trie, run
    only when the text has CJK characters at all.
    """

    def __init__(self, entries: Iterable[tuple[str, bool, R]], nested: bool = False) -> None:
        """Index (term, ignore_case, ref) entries; `nested` also reports terms inside matches."""
        exact: dict[str, list[R]] = {}
        folded: dict[str, list[R]] = {}
        latin: set[str] = set()
        cjk: set[str] = set()
        for term, ignore_case, ref in entries:
            if not term.strip():
                continue
            cjk_term = is_cjk(term)
            fold = ignore_case or cjk_term
            key = normalize_term(term, fold)
            (folded if fold else exact).setdefault(key, []).append(ref)
            lowered = key.lower()
            if _CJK.match(lowered):
                cjk.add(lowered)
                continue
            if _TOKEN.match(lowered) is None:
                raise ValueError(f"term {term!r} must start with a letter, digit or CJK character")
            latin.add(lowered)
        self._exact = {k: tuple(v) for k, v in exact.items()}
        self._folded = {k: tuple(v) for k, v in folded.items()}
        self._known = frozenset(latin | cjk)
        self._cased = frozenset(normalize_term(k, True) for k in exact)
        self._latin = (
            re.compile(f"(?<![{_WORD_CHAR}])(?:{_trie_regex(latin)})(?![{_WORD_CHAR}])")
            if latin
            else None
        )
        self._cjk = re.compile(_trie_regex(cjk)) if cjk else None
        self._inner: dict[str, tuple[tuple[int, int], ...]] = {}
        if nested:
            known = latin | cjk
            for key in known:
                spans = _inner_spans(key, known)
                if spans:
                    self._inner[key] = spans

    def find(self, text: str, prepared: PreparedText | None = None) -> Iterator[TermMatch[R]]:
        """Yield non-overlapping matches in text order, the longest term at each position."""
        if not text:
            return
        lowered = prepared.lowered if prepared is not None else _lower_same_length(text)
        last_end = -1
        for start, end in self.spans(text, lowered):
            if start < last_end:
                continue
            match = self.resolve(text, lowered, start, end)
            if match is not None:
                last_end = match.end
                yield match

    def spans(self, text: str, lowered: str) -> list[tuple[int, int]]:
        """Candidate spans in text order, longest first at a position; `resolve` confirms them.

        A span's resolution depends on its text alone, so callers may cache it by that text.
        """
        spans = [m.span() for m in self._latin.finditer(lowered)] if self._latin else []
        if self._cjk is not None and _CJK.search(text):
            spans.extend(m.span() for m in self._cjk.finditer(lowered))
            spans.sort(key=lambda se: (se[0], -se[1]))
        return spans

    def _refs(self, text: str, lowered: str, start: int, end: int) -> tuple[tuple[R, ...], str]:
        """What a matched span refers to, and its key; case-sensitive entries checked on the
        original text. Most spans are spelled like their key, so normalising is the rare path."""
        key = lowered[start:end]
        plain = key in self._known
        if not plain:
            key = normalize_term(key, True)
        refs = self._folded.get(key, ())
        if key in self._cased:
            found = text[start:end]
            exact = self._exact.get(found if plain else normalize_term(found, False), ())
            if exact:
                refs = exact + refs if refs else exact
        return refs, key

    def resolve(self, text: str, lowered: str, start: int, end: int) -> TermMatch[R] | None:
        """Look a span up; when only a wrongly-cased term matched, fall back to shorter ones."""
        while True:
            refs, key = self._refs(text, lowered, start, end)
            if refs:
                inner = self._inner.get(key)
                if inner is None or len(key) != end - start:
                    return TermMatch(start, end, refs)
                return TermMatch(start, end, refs, self._inner_matches(text, lowered, start, inner))
            end = self._shorter(lowered, start, end)
            if end < 0:
                return None

    def _shorter(self, lowered: str, start: int, end: int) -> int:
        """End of the next shorter term starting at `start` that ends on a word boundary."""
        rx = self._cjk if _CJK.match(lowered, start) else self._latin
        while rx is not None and end - 1 > start:
            m = rx.match(lowered, start, end - 1)
            if m is None:
                return -1
            end = m.end()
            if end >= len(lowered) or not _IS_WORD.match(lowered, end) or rx is self._cjk:
                return end
        return -1

    def _inner_matches(
        self, text: str, lowered: str, start: int, spans: tuple[tuple[int, int], ...]
    ) -> tuple[TermMatch[R], ...]:
        """Terms inside a match spelled like its key (so the key's offsets line up)."""
        inner: list[TermMatch[R]] = []
        for s, e in spans:
            refs, _ = self._refs(text, lowered, start + s, start + e)
            if refs:
                inner.append(TermMatch(start + s, start + e, refs))
        return tuple(inner)


def _inner_spans(key: str, known: set[str]) -> tuple[tuple[int, int], ...]:
    """Spans of other known terms inside a key: at word boundaries, or anywhere for CJK."""
    if _CJK.match(key):
        cuts = list(range(len(key) + 1))
    else:
        cuts = [0, len(key)]
        cuts.extend(i for i in range(1, len(key)) if _word_edge(key, i))
        cuts = sorted(set(cuts))
    spans = [
        (a, b)
        for i, a in enumerate(cuts)
        for b in cuts[i + 1 :]
        if (a, b) != (0, len(key)) and key[a:b] in known
    ]
    return tuple(spans)


def _word_edge(key: str, i: int) -> bool:
    """A boundary between a word character and anything else, where a nested term may start or end."""
    return bool(_IS_WORD.match(key, i - 1)) != bool(_IS_WORD.match(key, i))


_TOKEN = re.compile(r"[0-9a-zA-Z\u00C0-\u024F]+")


@dataclass(frozen=True)
class PreparedText:
    """A field lower-cased once per article, shared by several matchers."""

    lowered: str


def prepare_text(text: str) -> PreparedText:
    """Lower-case a field once per article."""
    return PreparedText(_lower_same_length(text))


def _lower_same_length(text: str) -> str:
    """Lower-case text without moving offsets (a few characters grow when lower-cased)."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(ch if len(ch.lower()) != 1 else ch.lower() for ch in text)


@dataclass(frozen=True)
class Entity:
    """An actor or thing from the gazetteer; `country` and `economic` drive US–China relevance."""

    entity_id: str
    name: str
    kind: str  # person, agency, company, market, place, bilateral, mineral, organization
    country: str  # "US", "CN", "US-CN" for bilateral phrases, "" for none, else another code
    economic: bool  # acts in trade, finance or industry (not a bare country name)


class EntityHit(NamedTuple):
    """One occurrence of an entity in a field of the article."""

    entity: Entity
    start: int
    end: int
    field: str


@dataclass(frozen=True)
class Gazetteer:
    """Loaded gazetteer: entities, their matcher and a hash of the source content."""

    entities: Mapping[str, Entity]
    matcher: TermMatcher[str]
    content_hash: str
    entries: tuple[tuple[str, bool, str], ...] = ()  # (alias, ignore_case, entity id)

    def find(self, text: str, field: str, prepared: PreparedText | None = None) -> list[EntityHit]:
        """List entity occurrences in one field, in text order."""
        hits: list[EntityHit] = []
        for m in self.matcher.find(text, prepared):
            for entity_id in dict.fromkeys(m.refs):
                hits.append(EntityHit(self.entities[entity_id], m.start, m.end, field))
        return hits


def _as_strings(value: Any, where: str) -> Sequence[str]:
    """Reject malformed alias lists early so a typo in the data file is reported, not ignored."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}: expected a list of strings")
    return value


def load_gazetteer(path: Path | None = None) -> Gazetteer:
    """Read the gazetteer TOML and build its matcher."""
    source = (path or DEFAULT_GAZETTEER).read_bytes()
    data = tomllib.loads(source.decode("utf-8"))
    entities: dict[str, Entity] = {}
    entries: list[tuple[str, bool, str]] = []
    for raw in data.get("entity", []):
        entity_id = raw["id"]
        if entity_id in entities:
            raise ValueError(f"gazetteer: duplicate entity id {entity_id!r}")
        entity = Entity(
            entity_id=entity_id,
            name=raw["name"],
            kind=raw["kind"],
            country=raw.get("country", ""),
            economic=bool(raw.get("economic", False)),
        )
        entities[entity_id] = entity
        where = f"gazetteer entity {entity_id}"
        # Names are proper nouns: match them case-sensitively so "He" or "us" never count.
        for alias in [entity.name, *_as_strings(raw.get("aliases"), where)]:
            entries.append((alias, False, entity_id))
        for alias in _as_strings(raw.get("aliases_ci"), where):
            entries.append((alias, True, entity_id))
        for alias in _as_strings(raw.get("aliases_zh"), where):
            entries.append((alias, True, entity_id))
    content_hash = hashlib.sha256(source).hexdigest()
    return Gazetteer(entities, TermMatcher(entries), content_hash, tuple(entries))
