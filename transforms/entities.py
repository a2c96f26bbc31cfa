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
_LATIN_AFTER = r"(?![0-9A-Za-z\u00C0-\u024F])"
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
    """One matched term occurrence and what it refers to (a tuple: made per match, so cheap)."""

    start: int
    end: int
    refs: tuple[R, ...]


class TermMatcher(Generic[R]):
    """Find many literal terms (Latin words and CJK substrings) quickly.

    Python's regex engine tries every alternative at every position, so one big alternation
    is slow; instead each Latin term is filed under its first word, only words that start some
    term are tried, and only the terms sharing that first word are matched there.
    """

    def __init__(self, entries: Iterable[tuple[str, bool, R]]) -> None:
        """Index (term, ignore_case, ref) entries; the same term may carry several refs."""
        exact: dict[str, list[R]] = {}
        folded: dict[str, list[R]] = {}
        by_first_ci: dict[str, set[str]] = {}
        by_first_cs: dict[str, set[str]] = {}
        cjk: set[str] = set()
        for term, ignore_case, ref in entries:
            if not term.strip():
                continue
            cjk_term = is_cjk(term)
            fold = ignore_case or cjk_term
            key = normalize_term(term, fold)
            (folded if fold else exact).setdefault(key, []).append(ref)
            if _CJK.match(key):
                cjk.add(key)
                continue
            first = _TOKEN.match(key)
            if first is None:
                raise ValueError(f"term {term!r} must start with a letter, digit or CJK character")
            (by_first_ci if fold else by_first_cs).setdefault(first.group(), set()).add(key)
        self._exact = {k: tuple(v) for k, v in exact.items()}
        self._folded = {k: tuple(v) for k, v in folded.items()}
        self._first_ci = {k: _compile_latin(k, v, "0-9a-z") for k, v in by_first_ci.items()}
        # Case-sensitive terms are filed under their lower-cased first word so that one word
        # list of the lower-cased text serves both indexes; their regex still checks case.
        first_cs: dict[str, list[re.Pattern[str]]] = {}
        for k, v in by_first_cs.items():
            first_cs.setdefault(k.lower(), []).append(_compile_latin(k, v, "0-9A-Za-z"))
        self._first_cs = first_cs
        self._cjk = re.compile(_trie_regex(cjk)) if cjk else None

    def find(self, text: str, prepared: PreparedText | None = None) -> Iterator[TermMatch[R]]:
        """Yield non-overlapping matches in text order, the longest term at each position."""
        if not text:
            return
        prep = prepared if prepared is not None else prepare_text(text)
        spans = self._latin_spans(text, prep)
        if self._cjk is not None:
            spans.extend(m.span() for m in self._cjk.finditer(text))
            spans.sort(key=lambda se: (se[0], -se[1]))
        last_end = -1
        for start, end in spans:
            if start < last_end:
                continue
            found = text[start:end]
            refs = self._exact.get(normalize_term(found, False), ())
            folded = self._folded.get(normalize_term(found, True), ())
            if folded:
                refs = refs + folded if refs else folded
            if refs:
                last_end = end
                yield TermMatch(start, end, refs)

    def _latin_spans(self, text: str, prep: PreparedText) -> list[tuple[int, int]]:
        """Latin matches: one fast literal scan per distinct first word the text contains."""
        spans: list[tuple[int, int]] = []
        for word in self._first_ci.keys() & prep.words:
            spans.extend(m.span() for m in self._first_ci[word].finditer(prep.lowered))
        for word in self._first_cs.keys() & prep.words:
            for rx in self._first_cs[word]:
                spans.extend(m.span() for m in rx.finditer(text))
        spans.sort(key=lambda se: (se[0], -se[1]))
        return spans


_TOKEN = re.compile(r"[0-9a-zA-Z\u00C0-\u024F]+")


@dataclass(frozen=True)
class PreparedText:
    """A field lower-cased and split into its distinct words, shared by several matchers."""

    lowered: str
    words: frozenset[str]


def prepare_text(text: str) -> PreparedText:
    """Lower-case a field and list its distinct words once per article."""
    lowered = _lower_same_length(text)
    return PreparedText(lowered, frozenset(_TOKEN.findall(lowered)))


def _compile_latin(first: str, terms: Iterable[str], word_chars: str) -> re.Pattern[str]:
    """Regex for the terms sharing a first word: the literal word first, so the engine can
    search for it fast, then a look-behind that it starts a word, then the rest as a trie."""
    rest = _trie_regex(term[len(first) :] for term in terms)
    return re.compile(
        re.escape(first) + f"(?<![{word_chars}]{re.escape(first)})" + f"(?:{rest})" + _LATIN_AFTER
    )


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
    return Gazetteer(entities, TermMatcher(entries), content_hash)
