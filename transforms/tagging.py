"""Topic and US–China relevance tagger: taxonomy rules plus gazetteer actors, with evidence spans."""

from __future__ import annotations

import bisect
import functools
import hashlib
import json
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parser  # type: ignore[attr-defined]
from typing import Any, NamedTuple, TextIO

from transforms.entities import (
    Entity,
    EntityHit,
    Gazetteer,
    PreparedText,
    TermMatcher,
    load_gazetteer,
    prepare_text,
)
from transforms.records import EntityMention, Evidence, TagResult, TopicTag

DEFAULT_TAXONOMY = Path(__file__).with_name("taxonomy.toml")

# Rule roles a taxonomy term can play for its topic.
STRONG, WEAK, FALSE_FRIEND = "strong", "weak", "false"
FOCUS_TOPIC = "_focus"

# Weights of one sentence's hits towards a topic: headline, lede and focus sentences decide on
# their own; other sentences need company; a sentence that lists three or more topics, or
# names the topic only as background ("amid the trade war"), is a passing mention and counts
# half.
BODY_WEIGHT = 1.0
LIST_WEIGHT = 0.5
TAG_THRESHOLD = 2.0  # body sentences a topic needs in a short article
BODY_SHARE = 1 / 15  # ... and in a long one, one sentence in fifteen
TAG_SCORE = 0.5  # the score a topic has at exactly TAG_THRESHOLD
LIST_MIN_TOPICS = 3
MAX_EVIDENCE = 8

# US–China relevance: headline weighs most, the lede next, then each body sentence.
US_CHINA_TITLE_WEIGHT = 3.0
US_CHINA_LEDE_WEIGHT = 2.0
US_CHINA_MIN_BODY_SENTENCES = 3
US_CHINA_MIN_BODY_SHARE = 0.2
US_CHINA_THRESHOLD = 0.5

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
# Scene-setting cues: a term within a few words after one of these is background.
_BACKGROUND = re.compile(
    r"(?<![A-Za-z])(?:amid|amidst|despite|against\s+(?:the|a)\s+backdrop\s+of|in\s+the\s+"
    r"(?:midst|shadow|wake)\s+of|overshadowed\s+by|since\s+the\s+(?:start|outbreak|beginning)"
    r"\s+of)\s+(?:[^\s.;:]+\s+){0,4}$",
    re.IGNORECASE,
)
# Cheap test whether a sentence has any background or range cue at all.
_CUE_GATE = re.compile(r"amid|despite|against|in the|overshadowed|since|from")
# A term closing a range ("from aviation to agriculture") is an item of an enumeration.
_RANGE_END = re.compile(r"(?<![A-Za-z])from\s+[^,;.]{1,40}?\s+to\s+$", re.IGNORECASE)
BACKGROUND_WINDOW = 80  # characters before a term searched for a background cue
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
_LIST_GAP = re.compile(
    r"(?:\s*(?:,|;|/|、|，|和|及|与|與|以及|\band\b|\bor\b|\bas well as\b|&)\s*|\s+)"
    r"(?:(?:[A-Za-z\-]+\s+){0,3}(?=\S))?",
    re.IGNORECASE,
)


class Sentence(NamedTuple):
    """A sentence's span in one field, and where it sits in the article's structure."""

    field: str
    start: int
    end: int
    paragraph: int
    head: bool  # headline, or the text's copy of the headline
    lede: bool


class Hit(NamedTuple):
    """A taxonomy term found in a sentence."""

    topic: str
    role: str
    start: int
    end: int
    sentence: int


@dataclass(frozen=True)
class TopicRule:
    """Per-topic settings beyond its vocabulary."""

    description: str
    context_topics: frozenset[str]  # other topics whose terms count as this topic's context
    exclude_topics: frozenset[str]  # other topics whose terms veto this topic in a sentence
    sentence_context: bool  # context must be in the same sentence, not just nearby


# Kinds of reference in the combined matcher: a taxonomy term, a gazetteer alias, a vocabulary
# word (context, exclusion, economy) that only matters by being present in a sentence.
TERM, ENTITY, VOCAB = "t", "g", "v"
ECONOMY = "economy"
Ref = tuple[str, str, str]


def context_id(topic: str) -> str:
    """Vocabulary id of a topic's context words."""
    return "c:" + topic


def exclude_id(topic: str) -> str:
    """Vocabulary id of a topic's exclusion words."""
    return "x:" + topic


@dataclass(frozen=True)
class Taxonomy:
    """Compiled taxonomy: topic ids, term and vocabulary entries and the pattern regexes."""

    version: str
    topics: tuple[str, ...]
    rules: dict[str, TopicRule]
    entries: tuple[tuple[str, bool, Ref], ...]  # terms and vocabularies for the matcher
    patterns: dict[str, re.Pattern[str]]  # topic (or the focus pseudo-topic) -> its patterns
    pattern_roles: dict[str, dict[str, str]]  # topic -> regex group name -> role
    content_hash: str
    # topic -> a regex of the literal starts (lower-cased) one of which every match of its
    # patterns contains; None when some pattern has none (then it runs wherever the topic is)
    pattern_gates: dict[str, re.Pattern[str] | None] = field(default_factory=dict)


def _strings(data: dict[str, Any], key: str, where: str) -> list[str]:
    """Read a list of strings from the taxonomy, refusing other shapes so typos surface."""
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"taxonomy {where}.{key}: expected a list of strings")
    return value


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """Read the taxonomy TOML and compile its terms and patterns."""
    source = (path or DEFAULT_TAXONOMY).read_bytes()
    data = tomllib.loads(source.decode("utf-8"))
    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise ValueError("taxonomy: a non-empty `version` string is required")
    entries: list[tuple[str, bool, Ref]] = []
    patterns: list[tuple[str, tuple[str, str]]] = []

    def add(section: dict[str, Any], where: str, topic: str, role: str, prefix: str) -> None:
        for lang in ("en", "zh"):
            for term in _strings(section, f"{prefix}terms_{lang}", where):
                entries.append((term, True, (TERM, topic, role)))
        for pattern in _strings(section, f"{prefix}patterns_en", where):
            patterns.append((pattern, (topic, role)))

    def vocabulary(section: dict[str, Any], where: str, key: str, vocab: str) -> None:
        for lang in ("en", "zh"):
            for term in _strings(section, f"{key}_{lang}", where):
                entries.append((term, True, (VOCAB, vocab, "")))

    add(data.get("focus", {}), "focus", FOCUS_TOPIC, STRONG, "")
    vocabulary(data.get("economy", {}), "economy", "terms", ECONOMY)
    topics: list[str] = []
    rules: dict[str, TopicRule] = {}
    for topic, section in data.get("topics", {}).items():
        where = f"topics.{topic}"
        topics.append(topic)
        scope = section.get("context_scope", "passage")
        if scope not in ("passage", "sentence"):
            raise ValueError(f"taxonomy {where}.context_scope: expected passage or sentence")
        rules[topic] = TopicRule(
            description=str(section.get("description", "")),
            context_topics=frozenset(_strings(section, "context_topics", where)),
            exclude_topics=frozenset(_strings(section, "exclude_topics", where)),
            sentence_context=scope == "sentence",
        )
        vocabulary(section, where, "context", context_id(topic))
        vocabulary(section, where, "exclude", exclude_id(topic))
        add(section, where, topic, STRONG, "")
        add(section, where, topic, WEAK, "weak_")
        for lang in ("en", "zh"):
            for term in _strings(section, f"false_friends_{lang}", where):
                entries.append((term, True, (TERM, topic, FALSE_FRIEND)))
    alternatives: dict[str, list[str]] = {}
    pattern_roles: dict[str, dict[str, str]] = {}
    anchors: dict[str, tuple[str, ...] | None] = {}
    for i, (pattern, (topic, role)) in enumerate(patterns):
        re.compile(pattern)  # report a bad pattern by itself, not inside the combined regex
        starts = _literal_starts(pattern)
        known = anchors.get(topic, ())
        anchors[topic] = None if starts is None or known is None else known + tuple(starts)
        name = f"p{i}"
        pattern_roles.setdefault(topic, {})[name] = role
        alternatives.setdefault(topic, []).append(f"(?P<{name}>{pattern})")
    compiled = {
        topic: re.compile(
            r"(?<![0-9A-Za-z])(?:" + "|".join(alts) + r")(?![0-9A-Za-z])", re.IGNORECASE
        )
        for topic, alts in alternatives.items()
    }
    return Taxonomy(
        version=version,
        topics=tuple(topics),
        rules=rules,
        entries=tuple(entries),
        patterns=compiled,
        pattern_roles=pattern_roles,
        content_hash=hashlib.sha256(source).hexdigest(),
        pattern_gates={
            topic: None if words is None else _literal_regex(words)
            for topic, words in anchors.items()
        },
    )


def _literal_regex(words: Iterable[str]) -> re.Pattern[str]:
    """One alternation of literal words; its first-character set lets the engine skip fast."""
    unique = sorted(set(words), key=len)
    kept = [w for i, w in enumerate(unique) if not any(w.startswith(v) for v in unique[:i])]
    return re.compile("|".join(re.escape(w) for w in sorted(kept)))


def _literal_starts(pattern: str) -> set[str] | None:
    """The literal texts (lower-cased) a pattern's matches start with, to skip running it where
    none occurs; None when the pattern does not start with literal text."""
    try:
        parsed = sre_parser.parse(pattern, re.IGNORECASE)
    except re.error:
        return None
    starts = _sequence_starts(list(parsed))
    return None if starts is None or "" in starts else starts


_SPACE_CLASS = list(sre_parser.parse(r"\s"))


def _sequence_starts(items: list[tuple[Any, Any]]) -> set[str] | None:
    """Literal starts of a parsed regex sequence: its leading literals, then its first group."""
    prefix = ""
    for op, av in items:
        if op is sre_constants.LITERAL:
            prefix += chr(av).lower()
            continue
        if op is sre_constants.MAX_REPEAT and av[0] >= 1 and list(av[2]) == _SPACE_CLASS:
            prefix += " "  # `\s+` between words: a space in all but freak spacing
            continue
        branches: list[list[tuple[Any, Any]]]
        if op is sre_constants.BRANCH:
            branches = [list(b) for b in av[1]]
        elif op is sre_constants.SUBPATTERN:
            branches = [list(av[-1])]
        else:
            return {prefix} if prefix else None
        found: set[str] = set()
        for branch in branches:
            sub = _sequence_starts(branch)
            if sub is None:
                return {prefix} if prefix else None
            found.update(prefix + x for x in sub)
        return found
    return {prefix}


def _word_count(text: str) -> int:
    """Count words, each CJK character as one, to tell real sentences from page chrome."""
    return len(_WORD.findall(text))


def _is_abbreviation(text: str, dot: int) -> bool:
    """Tell a full stop that ends an abbreviation or an initial ("U.S.", "George W.") apart."""
    start = dot
    while start > 0 and (text[start - 1].isalpha() or text[start - 1] == "."):
        start -= 1
    token = text[start:dot].lower()
    return token in _ABBREVIATIONS or (len(token) == 1 and text[start].isupper())


def split_sentences(text: str, field: str = "text", paragraph_base: int = 0) -> list[Sentence]:
    """Split a field into sentences per paragraph, for English and Chinese punctuation alike.

    One regex pass finds line breaks and candidate sentence ends; only Latin full stops need
    a second look (abbreviations, a lower-case continuation).
    """
    sentences: list[Sentence] = []
    paragraph = paragraph_base
    cursor = 0
    for m in _BOUNDARY.finditer(text):
        mark = text[m.start()]
        if mark == "\n":
            _add_sentence(sentences, text, field, cursor, m.start(), paragraph)
            if cursor < m.start():
                paragraph += 1
            cursor = m.end()
            continue
        stop = m.end()
        if mark == "." and _is_abbreviation(text, m.start()):
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


def _is_real_sentence(text: str) -> bool:
    """A lede candidate is prose, not a byline, date line or photo credit."""
    if len(_CJK_CHAR.findall(text)) >= LEDE_MIN_CJK_CHARS:
        return True
    return _word_count(text) >= LEDE_MIN_WORDS and text.rstrip()[-1:] in '.!?"”’。！？)'


def segment_article(title: str | None, text: str) -> list[Sentence]:
    """Sentences of headline and text, marking the headline, its copy in the text and the lede."""
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
            if lede_paragraph is not None or _is_real_sentence(chunk):
                lede_paragraph = s.paragraph
                lede_left -= 1
                s = s._replace(lede=True)
        elif lede_paragraph is not None:
            lede_left = 0
        sentences.append(s)
    return sentences


class _SentenceFacts:
    """What one sentence contains; built while scanning, read by the scoring rules."""

    __slots__ = ("refs", "hits", "entities", "vocab")

    def __init__(self) -> None:
        self.refs: dict[str, set[str]] = {}  # topic -> roles present
        self.hits: list[Hit] = []
        self.entities: list[EntityHit] = []
        self.vocab: set[str] = set()


@dataclass(frozen=True)
class Explanation:
    """A tag result plus the topics that had hits but fell short of being tagged."""

    result: TagResult
    near_misses: tuple[TopicTag, ...]


def build_index(taxonomy: Taxonomy, gazetteer: Gazetteer) -> TermMatcher[Ref]:
    """One matcher for taxonomy terms, vocabularies and gazetteer aliases: one pass per field."""
    entries: list[tuple[str, bool, Ref]] = list(taxonomy.entries)
    entries.extend((alias, fold, (ENTITY, eid, "")) for alias, fold, eid in gazetteer.entries)
    return TermMatcher(entries, nested=True)


class _Plan(NamedTuple):
    """What a matched spelling adds to its sentence; computed once per distinct spelling."""

    length: int  # of the confirmed match, which may be shorter than the candidate span
    terms: tuple[tuple[str, str], ...]  # (topic, role)
    entities: tuple[Entity, ...]
    vocab: frozenset[str]
    inner: tuple[tuple[int, int, tuple[tuple[str, str], ...], tuple[Entity, ...]], ...]


_NO_PLAN: Any = object()
MAX_PLANS = 100_000  # distinct spellings cached per tagger; the vocabulary bounds them anyway


@dataclass(frozen=True)
class Tagger:
    """Tags articles with topics and US–China relevance; `version` changes with either data file."""

    taxonomy: Taxonomy
    gazetteer: Gazetteer
    version: str
    index: TermMatcher[Ref] = field(repr=False, compare=False)  # see build_index
    _plans: dict[str, _Plan | None] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def tag(self, title: str | None, text: str) -> TagResult:
        """Tag one article."""
        return self.explain(title, text).result

    def explain(self, title: str | None, text: str) -> Explanation:
        """Tag one article and keep the topics that fell short, for error analysis."""
        sentences = segment_article(title, text)
        fields = {"title": title or "", "text": text}
        lowered = {name: prepare_text(value) for name, value in fields.items()}
        facts: dict[int, _SentenceFacts] = {}
        for name, value in fields.items():
            if value:
                self._scan_field(name, value, lowered[name], sentences, facts)
        self._match_patterns(sentences, facts, fields, {k: v.lowered for k, v in lowered.items()})
        accepted = self._accept_hits(sentences, facts, fields)
        candidates = self._score_topics(
            sentences, facts, accepted, fields, {k: v.lowered for k, v in lowered.items()}
        )
        us_china, score, evidence = self._score_us_china(sentences, facts, accepted, fields)
        result = TagResult(
            us_china=us_china,
            us_china_score=score,
            us_china_evidence=evidence,
            topics=tuple(t for t in candidates if t.score >= TAG_SCORE),
            entities=_count_entities(facts),
            taxonomy_version=self.version,
        )
        return Explanation(result, tuple(t for t in candidates if t.score < TAG_SCORE))

    def _scan_field(
        self,
        name: str,
        value: str,
        prepared: PreparedText,
        sentences: Sequence[Sentence],
        facts: dict[int, _SentenceFacts],
    ) -> None:
        """Run the combined matcher over one field and file every match under its sentence.

        What a span means depends on its text alone, so each distinct spelling is resolved
        once per process (a plan) and later matches only replay the plan.
        """
        indices = [i for i, s in enumerate(sentences) if s.field == name]
        if not indices:
            return
        starts = [sentences[i].start for i in indices]
        plans = self._plans
        last_end = -1
        for start, end in self.index.spans(value, prepared.lowered):
            if start < last_end:
                continue
            span = value[start:end]
            plan = plans.get(span, _NO_PLAN)
            if plan is _NO_PLAN:
                plan = self._make_plan(value, prepared.lowered, start, end)
                if len(plans) < MAX_PLANS:
                    plans[span] = plan
            if plan is None:
                continue
            stop = start + plan.length
            last_end = stop
            k = bisect.bisect_right(starts, start) - 1
            if k < 0:
                continue
            i = indices[k]
            if start >= sentences[i].end:
                continue
            f = facts.get(i)
            if f is None:
                f = facts[i] = _SentenceFacts()
            if plan.vocab:
                f.vocab.update(plan.vocab)
            if plan.terms or plan.entities:
                _file_plan(f, i, name, start, stop, plan.terms, plan.entities)
            for rel_start, rel_end, terms, entities in plan.inner:
                _file_plan(f, i, name, start + rel_start, start + rel_end, terms, entities)

    def _make_plan(self, value: str, lowered: str, start: int, end: int) -> _Plan | None:
        """Resolve one span into what it adds to a sentence: terms, entities, vocabulary, and
        the terms or aliases inside it that its own kind does not cover."""
        match = self.index.resolve(value, lowered, start, end)
        if match is None:
            return None
        terms = tuple((key, role) for kind, key, role in match.refs if kind == TERM)
        ents = tuple(self.gazetteer.entities[key] for kind, key, _ in match.refs if kind == ENTITY)
        vocab = {key for kind, key, _ in match.refs if kind == VOCAB}
        inner: list[tuple[int, int, tuple[tuple[str, str], ...], tuple[Entity, ...]]] = []
        taken: dict[str, list[tuple[int, int]]] = {TERM: [], ENTITY: []}
        for m in sorted(match.inner, key=lambda x: (x.start, -x.end)):
            vocab.update(key for kind, key, _ in m.refs if kind == VOCAB)
            found: dict[str, list[Any]] = {TERM: [], ENTITY: []}
            for kind, key, role in m.refs:
                if kind == VOCAB or (terms if kind == TERM else ents):
                    continue
                if any(s < m.end and m.start < e for s, e in taken[kind]):
                    continue
                found[kind].append((key, role) if kind == TERM else self.gazetteer.entities[key])
            for kind in (TERM, ENTITY):
                if found[kind]:
                    taken[kind].append((m.start, m.end))
            if found[TERM] or found[ENTITY]:
                inner.append(
                    (m.start - start, m.end - start, tuple(found[TERM]), tuple(found[ENTITY]))
                )
        return _Plan(match.end - start, terms, ents, frozenset(vocab), tuple(inner))

    def _match_patterns(
        self,
        sentences: Sequence[Sentence],
        facts: dict[int, _SentenceFacts],
        fields: dict[str, str],
        lowered: dict[str, str],
    ) -> None:
        """Run a topic's regex patterns only on sentences that already have some of its terms.

        Regexes are the slow part of matching; a pattern can only matter where the topic's
        vocabulary (any role or its context) is present, and focus cues only in body sentences
        where some topic is.
        """
        gates = self.taxonomy.pattern_gates
        for i, f in facts.items():
            if not f.refs and not f.vocab:
                continue
            s = sentences[i]
            value = fields[s.field]
            for topic, rx in self.taxonomy.patterns.items():
                if topic == FOCUS_TOPIC:
                    continue  # looked for only where it matters, while scoring
                if topic not in f.refs and context_id(topic) not in f.vocab:
                    continue
                gate = gates.get(topic)
                if gate is not None and gate.search(lowered[s.field], s.start, s.end) is None:
                    continue
                roles = self.taxonomy.pattern_roles[topic]
                for pm in rx.finditer(value, s.start, s.end):
                    role = roles[pm.lastgroup or ""]
                    f.refs.setdefault(topic, set()).add(role)
                    f.hits.append(Hit(topic, role, pm.start(), pm.end(), i))

    def _accept_hits(
        self,
        sentences: Sequence[Sentence],
        facts: dict[int, _SentenceFacts],
        fields: dict[str, str],
    ) -> dict[int, dict[str, list[Hit]]]:
        """Keep the hits that count: strong ones, weak ones with context, none beside an exclusion."""
        accepted: dict[int, dict[str, list[Hit]]] = {}
        rules = self.taxonomy.rules
        for i, f in facts.items():
            keep: dict[str, list[Hit]] = {}
            for hit in f.hits:
                if hit.role not in (STRONG, WEAK) or hit.topic == FOCUS_TOPIC:
                    continue
                rule = rules[hit.topic]
                if exclude_id(hit.topic) in f.vocab or any(
                    STRONG in f.refs.get(other, ()) or WEAK in f.refs.get(other, ())
                    for other in rule.exclude_topics
                ):
                    continue
                if hit.role == WEAK and not self._has_context(hit.topic, i, sentences, facts):
                    continue
                keep.setdefault(hit.topic, []).append(hit)
            if keep:
                accepted[i] = keep
        return accepted

    def _has_context(
        self,
        topic: str,
        i: int,
        sentences: Sequence[Sentence],
        facts: dict[int, _SentenceFacts],
    ) -> bool:
        """Look for the topic's context (or a strong term of it) in the sentence and its neighbours."""
        rule = self.taxonomy.rules[topic]
        wanted = context_id(topic)
        for j in (i,) if rule.sentence_context else (i, i - 1, i + 1):
            f = facts.get(j)
            if f is None:
                continue
            if j != i and (
                sentences[j].field != sentences[i].field
                or sentences[j].paragraph != sentences[i].paragraph
            ):
                continue
            if STRONG in f.refs.get(topic, ()) or wanted in f.vocab:
                return True
            if any(STRONG in f.refs.get(other, ()) for other in rule.context_topics):
                return True
        return False

    def _score_topics(
        self,
        sentences: Sequence[Sentence],
        facts: dict[int, _SentenceFacts],
        accepted: dict[int, dict[str, list[Hit]]],
        fields: dict[str, str],
        lowered: dict[str, str],
    ) -> tuple[TopicTag, ...]:
        """Weigh each topic's sentences; those reaching TAG_SCORE are what the article is about.

        A topic in the headline, or stated in the lede or a focus sentence, is about the
        article on its own. Otherwise its body sentences must fill a share of the article: a
        long article needs more of them, so background mentions in long pieces stay untagged.
        Background cues ("amid the trade war") and enumerations weaken a sentence.
        """
        body = sum(1 for s in sentences if not s.head and s.end - s.start >= MIN_SENTENCE_CHARS)
        need = max(TAG_THRESHOLD, BODY_SHARE * body)
        totals: dict[str, float] = {}
        evidence: dict[str, list[Hit]] = {}
        for i, keep in accepted.items():
            s = sentences[i]
            value = fields[s.field]
            listed = _listed_topics(keep, value) if len(keep) >= LIST_MIN_TOPICS else ()
            focus = not (s.head or s.lede) and (
                FOCUS_TOPIC in facts[i].refs or self._states_focus(s, value, lowered[s.field])
            )
            cues = not s.head and _CUE_GATE.search(lowered[s.field], s.start, s.end) is not None
            for topic, hits in keep.items():
                background = cues and all(_is_background(value, s, h) for h in hits)
                if s.head or (s.lede or focus) and not (topic in listed or background):
                    weight = need
                elif topic in listed or background:
                    weight = LIST_WEIGHT
                else:
                    weight = BODY_WEIGHT
                totals[topic] = totals.get(topic, 0.0) + weight
                evidence.setdefault(topic, []).extend(hits)
        tags: list[TopicTag] = []
        for topic in self.taxonomy.topics:
            total = totals.get(topic, 0.0)
            if total <= 0.0:
                continue
            score = round(1.0 - 0.5 ** (total / need), 4)
            spans = _evidence(evidence[topic], sentences, fields)
            tags.append(TopicTag(topic=topic, score=score, evidence=spans))
        tags.sort(key=lambda t: (-t.score, t.topic))
        return tuple(tags)

    def _states_focus(self, s: Sentence, value: str, lowered: str) -> bool:
        """Whether a body sentence says what the story is about ("talks focused on ...")."""
        rx = self.taxonomy.patterns.get(FOCUS_TOPIC)
        if rx is None:
            return False
        gate = self.taxonomy.pattern_gates.get(FOCUS_TOPIC)
        if gate is not None and gate.search(lowered, s.start, s.end) is None:
            return False
        return rx.search(value, s.start, s.end) is not None

    def _score_us_china(
        self,
        sentences: Sequence[Sentence],
        facts: dict[int, _SentenceFacts],
        accepted: dict[int, dict[str, list[Hit]]],
        fields: dict[str, str],
    ) -> tuple[bool, float, tuple[Evidence, ...]]:
        """Decide whether US and Chinese actors meet in an economic relation through the story."""
        head_weight = 0.0
        body = 0
        body_total = sum(
            1
            for s in sentences
            if not s.head and not s.lede and s.end - s.start >= MIN_SENTENCE_CHARS
        )
        third_head = False
        spans: list[Evidence] = []
        for i, f in facts.items():
            s = sentences[i]
            if not f.entities or (
                not s.head and not s.lede and s.end - s.start < MIN_SENTENCE_CHARS
            ):
                continue
            countries = {eh.entity.country for eh in f.entities}
            us = "US" in countries or "US-CN" in countries
            cn = "CN" in countries or "US-CN" in countries
            third = bool(countries - {"US", "CN", "US-CN", ""})
            if s.head or s.lede:
                third_head = third_head or (third and not (us and cn))
            if not (us and cn):
                continue
            economic = (
                i in accepted or ECONOMY in f.vocab or any(eh.entity.economic for eh in f.entities)
            )
            if not economic:
                continue
            if s.head:
                head_weight = max(head_weight, US_CHINA_TITLE_WEIGHT)
            elif s.lede:
                head_weight = max(head_weight, US_CHINA_LEDE_WEIGHT)
            else:
                body += 1
            if len(spans) < MAX_EVIDENCE:
                for eh in f.entities:
                    if eh.entity.country in ("US", "CN", "US-CN"):
                        value = fields[eh.field]
                        spans.append(Evidence(value[eh.start : eh.end], eh.start, eh.end, eh.field))
        spans.sort(key=lambda e: (e.field != "title", e.start))
        share = body / body_total if body_total else 0.0
        body_strength = min(1.0, body / (2 * US_CHINA_MIN_BODY_SENTENCES)) * min(
            1.0, share / US_CHINA_MIN_BODY_SHARE
        )
        head_strength = head_weight / US_CHINA_TITLE_WEIGHT
        if third_head:
            head_strength *= 0.5
        score = round(min(1.0, 0.6 * head_strength + 0.6 * body_strength), 4)
        return score >= US_CHINA_THRESHOLD, score, tuple(_dedupe(spans))[:MAX_EVIDENCE]


def _file_plan(
    f: _SentenceFacts,
    i: int,
    name: str,
    start: int,
    end: int,
    terms: tuple[tuple[str, str], ...],
    entities: tuple[Entity, ...],
) -> None:
    """Record a span's taxonomy terms and entities in its sentence."""
    for topic, role in terms:
        roles = f.refs.get(topic)
        if roles is None:
            roles = f.refs[topic] = set()
        roles.add(role)
        f.hits.append(Hit(topic, role, start, end, i))
    for entity in entities:
        f.entities.append(EntityHit(entity, start, end, name))


def _is_background(value: str, s: Sentence, hit: Hit) -> bool:
    """A term right after "amid", "despite" and the like sets the scene, and one ending a range
    ("from aviation to agriculture") is an item of a list: neither is what the story is about."""
    start = max(s.start, hit.start - BACKGROUND_WINDOW)
    return (
        _BACKGROUND.search(value, start, hit.start) is not None
        or _RANGE_END.search(value, start, hit.start) is not None
    )


def _listed_topics(keep: dict[str, list[Hit]], value: str) -> set[str]:
    """Topics whose only hits in a sentence sit in an enumeration of three or more topics."""
    if len(keep) < LIST_MIN_TOPICS:
        return set()
    hits = sorted((h for hs in keep.values() for h in hs), key=lambda h: h.start)
    in_list: set[int] = set()
    chain: list[int] = [0]
    for k in range(1, len(hits) + 1):
        linked = k < len(hits) and _LIST_GAP.fullmatch(value, hits[k - 1].end, hits[k].start)
        if linked:
            chain.append(k)
            continue
        if len({hits[c].topic for c in chain}) >= LIST_MIN_TOPICS:
            in_list.update(chain)
        chain = [k]
    listed: set[str] = set()
    for topic in keep:
        if all(idx in in_list for idx, h in enumerate(hits) if h.topic == topic):
            listed.add(topic)
    return listed


def _dedupe(spans: Iterable[Evidence]) -> list[Evidence]:
    """Drop repeated spans while keeping order."""
    return list(dict.fromkeys(spans))


def _evidence(
    hits: Sequence[Hit], sentences: Sequence[Sentence], fields: dict[str, str]
) -> tuple[Evidence, ...]:
    """Turn hits into evidence spans, one per place, headline first, capped for storage."""
    spans: list[Evidence] = []
    taken: list[tuple[str, int, int]] = []
    for hit in sorted(hits, key=lambda h: (sentences[h.sentence].field != "title", h.start)):
        name = sentences[hit.sentence].field
        if any(n == name and hit.start < e and s < hit.end for n, s, e in taken):
            continue
        taken.append((name, hit.start, hit.end))
        spans.append(Evidence(fields[name][hit.start : hit.end], hit.start, hit.end, name))
        if len(spans) >= MAX_EVIDENCE:
            break
    return tuple(spans)


def _count_entities(facts: dict[int, _SentenceFacts]) -> tuple[EntityMention, ...]:
    """Summarise entity occurrences, most mentioned first."""
    counts: dict[str, int] = {}
    first: dict[str, EntityHit] = {}
    for i in sorted(facts):
        for eh in facts[i].entities:
            counts[eh.entity.entity_id] = counts.get(eh.entity.entity_id, 0) + 1
            first.setdefault(eh.entity.entity_id, eh)
    mentions = [
        EntityMention(eid, first[eid].entity.name, first[eid].entity.kind, n)
        for eid, n in counts.items()
    ]
    mentions.sort(key=lambda m: (-m.mentions, m.entity_id))
    return tuple(mentions)


def build_tagger(taxonomy_path: Path | None = None, gazetteer_path: Path | None = None) -> Tagger:
    """Load both data files and stamp the tagger with their versions."""
    taxonomy = load_taxonomy(taxonomy_path)
    gazetteer = load_gazetteer(gazetteer_path)
    version = f"{taxonomy.version}+g{gazetteer.content_hash[:7]}t{taxonomy.content_hash[:7]}"
    return Tagger(taxonomy, gazetteer, version, build_index(taxonomy, gazetteer))


@functools.lru_cache(maxsize=1)
def _default_tagger() -> Tagger:
    """Build the default tagger once per process: loading compiles large regexes."""
    return build_tagger()


def load_tagger(taxonomy_path: Path | None = None, gazetteer_path: Path | None = None) -> Tagger:
    """Return a tagger for the given data files, the cached default one when none are given."""
    if taxonomy_path is None and gazetteer_path is None:
        return _default_tagger()
    return build_tagger(taxonomy_path, gazetteer_path)


def evidence_to_dict(evidence: Evidence) -> dict[str, Any]:
    """Serialise one evidence span for JSON output."""
    return {
        "text": evidence.text,
        "start": evidence.start,
        "end": evidence.end,
        "field": evidence.field,
    }


def tag_result_to_dict(result: TagResult) -> dict[str, Any]:
    """Serialise a TagResult in the shape `tradewire tag` prints."""
    return {
        "us_china": result.us_china,
        "us_china_score": result.us_china_score,
        "us_china_evidence": [evidence_to_dict(e) for e in result.us_china_evidence],
        "topics": [
            {
                "topic": t.topic,
                "score": t.score,
                "evidence": [evidence_to_dict(e) for e in t.evidence],
            }
            for t in result.topics
        ],
        "entities": [
            {"entity_id": e.entity_id, "name": e.name, "kind": e.kind, "mentions": e.mentions}
            for e in result.entities
        ],
        "taxonomy_version": result.taxonomy_version,
    }


def _parse_line(line: str) -> tuple[Any, str | None, str]:
    """Validate one input record, raising ValueError with a message fit for the user."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(record, dict):
        raise ValueError("expected a JSON object with id, title and text")
    if "text" not in record:
        raise ValueError('missing "text"')
    text, title = record["text"], record.get("title")
    if not isinstance(text, str):
        raise ValueError(f'"text" must be a string, not {type(text).__name__}')
    if title is not None and not isinstance(title, str):
        raise ValueError(f'"title" must be a string or null, not {type(title).__name__}')
    record_id = record.get("id")
    if record_id is not None and not isinstance(record_id, (str, int)):
        raise ValueError(f'"id" must be a string or number, not {type(record_id).__name__}')
    return record_id, title, text


def tag_json_lines(lines: Iterable[str], out: TextIO, err: TextIO, tagger: Tagger) -> int:
    """Tag JSON Lines records in order; report bad lines on `err` and keep going. Returns errors."""
    errors = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record_id, title, text = _parse_line(line)
        except ValueError as exc:
            errors += 1
            err.write(f"line {number}: {exc}\n")
            continue
        payload = {"id": record_id, **tag_result_to_dict(tagger.tag(title, text))}
        out.write(json.dumps(payload, ensure_ascii=False) + "\n")
    return errors
