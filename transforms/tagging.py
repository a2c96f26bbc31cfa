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
from typing import Any, NamedTuple, TextIO

from ingest.records import EntityMention, Evidence, TagResult, TopicTag
from transforms.entities import (
    EntityHit,
    Gazetteer,
    TermMatcher,
    is_cjk,
    load_gazetteer,
    prepare_text,
)

DEFAULT_TAXONOMY = Path(__file__).with_name("taxonomy.toml")

# Rule roles a taxonomy term can play for its topic.
STRONG, WEAK, FALSE_FRIEND = "strong", "weak", "false"
FOCUS_TOPIC = "_focus"

# Weights of one sentence's hits towards a topic: headline, lede and focus sentences decide on
# their own; other sentences need company; a sentence that lists three or more topics is a
# passing mention and counts half.
HEAD_WEIGHT = 2.0
BODY_WEIGHT = 1.0
LIST_WEIGHT = 0.5
TAG_THRESHOLD = 2.0
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

_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)\]]*\s+|[。！？!?；]+[”’」』\"')）]*\s*")
_NEXT_STARTS_SENTENCE = re.compile(r"[\"'“‘(\[]?[A-Z0-9\u4e00-\u9fff]")
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
_PARAGRAPH = re.compile(r"[^\n]+")
# What may separate two items of an enumeration: commas, "and"/"or", a few modifier words.
_LIST_GAP = re.compile(
    r"(?:\s*(?:,|;|/|、|，|和|及|与|與|以及|\band\b|\bor\b|\bas well as\b|&)\s*|\s+)"
    r"(?:(?:[A-Za-z\-]+\s+){0,3}(?=\S))?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Sentence:
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
    context: re.Pattern[str] | None  # context vocabulary, searched only where a weak term is
    exclude: re.Pattern[str] | None  # exclusion vocabulary, searched only where the topic hits
    context_topics: frozenset[str]  # other topics whose terms count as this topic's context
    exclude_topics: frozenset[str]  # other topics whose terms veto this topic in a sentence
    sentence_context: bool  # context must be in the same sentence, not just nearby


@dataclass(frozen=True)
class Taxonomy:
    """Compiled taxonomy: topic ids, the term matcher and the pattern regex."""

    version: str
    topics: tuple[str, ...]
    rules: dict[str, TopicRule]
    matcher: TermMatcher[tuple[str, str]]
    patterns: dict[str, re.Pattern[str]]  # topic (or the focus pseudo-topic) -> its patterns
    pattern_roles: dict[str, dict[str, str]]  # topic -> regex group name -> role
    economy: re.Pattern[str] | None  # makes a US–China sentence economic
    content_hash: str


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
    entries: list[tuple[str, bool, tuple[str, str]]] = []
    patterns: list[tuple[str, tuple[str, str]]] = []

    def add(section: dict[str, Any], where: str, topic: str, role: str, prefix: str) -> None:
        for term in _strings(section, f"{prefix}terms_en", where):
            entries.append((term, True, (topic, role)))
        for term in _strings(section, f"{prefix}terms_zh", where):
            entries.append((term, True, (topic, role)))
        for pattern in _strings(section, f"{prefix}patterns_en", where):
            patterns.append((pattern, (topic, role)))

    focus = data.get("focus", {})
    add(focus, "focus", FOCUS_TOPIC, STRONG, "")
    economy = data.get("economy", {})
    economy_rx = _vocabulary_regex(
        _strings(economy, "terms_en", "economy") + _strings(economy, "terms_zh", "economy")
    )
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
            context=_vocabulary_regex(
                _strings(section, "context_en", where) + _strings(section, "context_zh", where)
            ),
            exclude=_vocabulary_regex(
                _strings(section, "exclude_en", where) + _strings(section, "exclude_zh", where)
            ),
            context_topics=frozenset(_strings(section, "context_topics", where)),
            exclude_topics=frozenset(_strings(section, "exclude_topics", where)),
            sentence_context=scope == "sentence",
        )
        add(section, where, topic, STRONG, "")
        add(section, where, topic, WEAK, "weak_")
        for term in _strings(section, "false_friends_en", where) + _strings(
            section, "false_friends_zh", where
        ):
            entries.append((term, True, (topic, FALSE_FRIEND)))
    alternatives: dict[str, list[str]] = {}
    pattern_roles: dict[str, dict[str, str]] = {}
    for i, (pattern, (topic, role)) in enumerate(patterns):
        re.compile(pattern)  # report a bad pattern by itself, not inside the combined regex
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
        economy=economy_rx,
        matcher=TermMatcher(entries),
        patterns=compiled,
        pattern_roles=pattern_roles,
        content_hash=hashlib.sha256(source).hexdigest(),
    )


def _vocabulary_regex(terms: Sequence[str]) -> re.Pattern[str] | None:
    """One case-insensitive regex for a vocabulary that is only searched in a few sentences."""
    latin = sorted((t for t in terms if not is_cjk(t)), key=len, reverse=True)
    cjk = sorted((t for t in terms if is_cjk(t)), key=len, reverse=True)
    parts: list[str] = []
    if latin:
        alts = "|".join(re.escape(t).replace(r"\ ", r"\s+") for t in latin)
        parts.append(rf"(?<![0-9A-Za-z])(?:{alts})(?![0-9A-Za-z])")
    if cjk:
        parts.append("|".join(re.escape(t) for t in cjk))
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


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
    """Split a field into sentences per paragraph, for English and Chinese punctuation alike."""
    sentences: list[Sentence] = []
    for p_index, para in enumerate(_PARAGRAPH.finditer(text)):
        p_start, p_end = para.span()
        cursor = p_start
        for end in _SENTENCE_END.finditer(text, p_start, p_end):
            mark = end.group()
            if mark[0] in ".!?":
                after = end.end()
                if after < p_end and not _NEXT_STARTS_SENTENCE.match(text, after):
                    continue
                if mark[0] == "." and _is_abbreviation(text, end.start()):
                    continue
            stop = end.end()
            if text[cursor:stop].strip():
                sentences.append(
                    _make_sentence(text, field, cursor, stop, paragraph_base + p_index)
                )
            cursor = stop
        if text[cursor:p_end].strip():
            sentences.append(_make_sentence(text, field, cursor, p_end, paragraph_base + p_index))
    return sentences


def _make_sentence(text: str, field: str, start: int, end: int, paragraph: int) -> Sentence:
    """Trim whitespace off a sentence span."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Sentence(field, start, end, paragraph, head=(field == "title"), lede=False)


def _is_real_sentence(text: str) -> bool:
    """A lede candidate is prose, not a byline, date line or photo credit."""
    if len(_CJK_CHAR.findall(text)) >= LEDE_MIN_CJK_CHARS:
        return True
    return _word_count(text) >= LEDE_MIN_WORDS and text.rstrip()[-1:] in '.!?"”’。！？)'


def segment_article(title: str | None, text: str) -> list[Sentence]:
    """Sentences of headline and text, marking the headline, its copy in the text and the lede."""
    sentences: list[Sentence] = []
    norm_title = " ".join((title or "").split())
    if norm_title:
        t_start = len(title or "") - len((title or "").lstrip())
        sentences.append(Sentence("title", t_start, t_start + len(title.strip()), -1, True, False))  # type: ignore[union-attr]
    body = split_sentences(text)
    lede_left = LEDE_SENTENCES
    lede_paragraph: int | None = None
    first_paragraph = body[0].paragraph if body else 0
    for s in body:
        chunk = text[s.start : s.end]
        if norm_title and s.paragraph == first_paragraph and " ".join(chunk.split()) == norm_title:
            s = Sentence(s.field, s.start, s.end, s.paragraph, head=True, lede=False)
        elif lede_left and (lede_paragraph is None or s.paragraph == lede_paragraph):
            if lede_paragraph is not None or _is_real_sentence(chunk):
                lede_paragraph = s.paragraph
                lede_left -= 1
                s = Sentence(s.field, s.start, s.end, s.paragraph, head=False, lede=True)
        elif lede_paragraph is not None:
            lede_left = 0
        sentences.append(s)
    return sentences


@dataclass
class _SentenceFacts:
    """What one sentence contains; built while scanning, read by the scoring rules."""

    refs: dict[str, set[str]] = field(default_factory=dict)  # topic -> roles present
    hits: list[Hit] = field(default_factory=list)
    entities: list[EntityHit] = field(default_factory=list)


@dataclass(frozen=True)
class Explanation:
    """A tag result plus the topics that had hits but fell short of being tagged."""

    result: TagResult
    near_misses: tuple[TopicTag, ...]


@dataclass(frozen=True)
class Tagger:
    """Tags articles with topics and US–China relevance; `version` changes with either data file."""

    taxonomy: Taxonomy
    gazetteer: Gazetteer
    version: str

    def tag(self, title: str | None, text: str) -> TagResult:
        """Tag one article."""
        return self.explain(title, text).result

    def explain(self, title: str | None, text: str) -> Explanation:
        """Tag one article and keep the topics that fell short, for error analysis."""
        sentences = segment_article(title, text)
        fields = {"title": title or "", "text": text}
        facts = [_SentenceFacts() for _ in sentences]
        starts = {
            name: [s.start for s in sentences if s.field == name] for name in ("title", "text")
        }
        offsets = {
            name: [i for i, s in enumerate(sentences) if s.field == name]
            for name in ("title", "text")
        }

        def locate(name: str, pos: int) -> int | None:
            idx = bisect.bisect_right(starts[name], pos) - 1
            if idx < 0:
                return None
            i = offsets[name][idx]
            return i if pos < sentences[i].end else None

        for name, value in fields.items():
            if not value:
                continue
            prepared = prepare_text(value)
            for m in self.taxonomy.matcher.find(value, prepared):
                i = locate(name, m.start)
                if i is None:
                    continue
                for topic, role in m.refs:
                    facts[i].refs.setdefault(topic, set()).add(role)
                    facts[i].hits.append(Hit(topic, role, m.start, m.end, i))
            for eh in self.gazetteer.find(value, name, prepared):
                i = locate(name, eh.start)
                if i is not None:
                    facts[i].entities.append(eh)

        self._match_patterns(sentences, facts, fields)
        accepted = self._accept_hits(sentences, facts, fields)
        candidates = self._score_topics(sentences, facts, accepted, fields)
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

    def _match_patterns(
        self,
        sentences: Sequence[Sentence],
        facts: Sequence[_SentenceFacts],
        fields: dict[str, str],
    ) -> None:
        """Run a topic's regex patterns only on sentences that already have some of its terms.

        Regexes are the slow part of matching; a pattern can only matter where the topic's
        vocabulary (any role) is present, and focus cues only where some topic is.
        """
        for i, s in enumerate(sentences):
            f = facts[i]
            if not f.refs:
                continue
            value = fields[s.field]
            for topic in self.taxonomy.patterns:
                if topic not in f.refs and not (
                    topic == FOCUS_TOPIC or _search(self.taxonomy.rules[topic].context, value, s)
                ):
                    continue
                rx = self.taxonomy.patterns[topic]
                for pm in rx.finditer(value, s.start, s.end):
                    role = self.taxonomy.pattern_roles[topic][pm.lastgroup or ""]
                    f.refs.setdefault(topic, set()).add(role)
                    f.hits.append(Hit(topic, role, pm.start(), pm.end(), i))

    def _accept_hits(
        self,
        sentences: Sequence[Sentence],
        facts: Sequence[_SentenceFacts],
        fields: dict[str, str],
    ) -> list[dict[str, list[Hit]]]:
        """Keep the hits that count: strong ones, weak ones with context, none beside an exclusion."""
        accepted: list[dict[str, list[Hit]]] = []
        for i, f in enumerate(facts):
            keep: dict[str, list[Hit]] = {}
            for hit in f.hits:
                if hit.topic.startswith("_") or hit.role not in (STRONG, WEAK):
                    continue
                rule = self.taxonomy.rules[hit.topic]
                if _search(rule.exclude, fields[sentences[i].field], sentences[i]) or any(
                    STRONG in f.refs.get(other, ()) or WEAK in f.refs.get(other, ())
                    for other in rule.exclude_topics
                ):
                    continue
                if hit.role == WEAK and not self._has_context(
                    hit.topic, i, sentences, facts, fields
                ):
                    continue
                keep.setdefault(hit.topic, []).append(hit)
            accepted.append(keep)
        return accepted

    def _has_context(
        self,
        topic: str,
        i: int,
        sentences: Sequence[Sentence],
        facts: Sequence[_SentenceFacts],
        fields: dict[str, str],
    ) -> bool:
        """Look for the topic's context (or a strong term of it) in the sentence and its neighbours."""
        rule = self.taxonomy.rules[topic]
        for j in (i,) if rule.sentence_context else (i, i - 1, i + 1):
            if not 0 <= j < len(sentences):
                continue
            if j != i and (
                sentences[j].field != sentences[i].field
                or sentences[j].paragraph != sentences[i].paragraph
            ):
                continue
            roles = facts[j].refs.get(topic, ())
            if STRONG in roles or _search(rule.context, fields[sentences[j].field], sentences[j]):
                return True
            if any(STRONG in facts[j].refs.get(other, ()) for other in rule.context_topics):
                return True
        return False

    def _score_topics(
        self,
        sentences: Sequence[Sentence],
        facts: Sequence[_SentenceFacts],
        accepted: Sequence[dict[str, list[Hit]]],
        fields: dict[str, str],
    ) -> tuple[TopicTag, ...]:
        """Weigh each topic's sentences; those reaching TAG_SCORE are what the article is about."""
        totals: dict[str, float] = {}
        evidence: dict[str, list[Hit]] = {}
        for i, keep in enumerate(accepted):
            if not keep:
                continue
            s = sentences[i]
            listed = _listed_topics(keep, fields[s.field])
            focus = FOCUS_TOPIC in facts[i].refs
            for topic, hits in keep.items():
                is_list = topic in listed
                if s.head or (s.lede or focus) and not is_list:
                    weight = HEAD_WEIGHT
                elif s.lede or focus:
                    weight = BODY_WEIGHT
                else:
                    weight = LIST_WEIGHT if is_list else BODY_WEIGHT
                totals[topic] = totals.get(topic, 0.0) + weight
                evidence.setdefault(topic, []).extend(hits)
        tags: list[TopicTag] = []
        for topic in self.taxonomy.topics:
            total = totals.get(topic, 0.0)
            if total <= 0.0:
                continue
            score = round(1.0 - 0.5 ** (total / TAG_THRESHOLD), 4)
            spans = _evidence(evidence[topic], sentences, fields)
            tags.append(TopicTag(topic=topic, score=score, evidence=spans))
        tags.sort(key=lambda t: (-t.score, t.topic))
        return tuple(tags)

    def _score_us_china(
        self,
        sentences: Sequence[Sentence],
        facts: Sequence[_SentenceFacts],
        accepted: Sequence[dict[str, list[Hit]]],
        fields: dict[str, str],
    ) -> tuple[bool, float, tuple[Evidence, ...]]:
        """Decide whether US and Chinese actors meet in an economic relation through the story."""
        head_weight = 0.0
        body = 0
        body_total = 0
        third_head = False
        spans: list[Evidence] = []
        for i, s in enumerate(sentences):
            f = facts[i]
            if not s.head and not s.lede and s.end - s.start < MIN_SENTENCE_CHARS:
                continue
            countries = {eh.entity.country for eh in f.entities}
            us = "US" in countries or "US-CN" in countries
            cn = "CN" in countries or "US-CN" in countries
            third = bool(countries - {"US", "CN", "US-CN", ""})
            economic = (
                us
                and cn
                and (
                    bool(accepted[i])
                    or any(eh.entity.economic for eh in f.entities)
                    or _search(self.taxonomy.economy, fields[s.field], s)
                )
            )
            if s.head or s.lede:
                third_head = third_head or (third and not (us and cn))
            else:
                body_total += 1
            if not (us and cn and economic):
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
        share = body / body_total if body_total else 0.0
        body_strength = min(1.0, body / (2 * US_CHINA_MIN_BODY_SENTENCES)) * min(
            1.0, share / US_CHINA_MIN_BODY_SHARE
        )
        head_strength = head_weight / US_CHINA_TITLE_WEIGHT
        if third_head:
            head_strength *= 0.5
        score = round(min(1.0, 0.6 * head_strength + 0.6 * body_strength), 4)
        return score >= US_CHINA_THRESHOLD, score, tuple(_dedupe(spans))[:MAX_EVIDENCE]


def _search(rx: re.Pattern[str] | None, value: str, s: Sentence) -> bool:
    """Search a vocabulary within one sentence's span."""
    return rx is not None and rx.search(value, s.start, s.end) is not None


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


def _count_entities(facts: Sequence[_SentenceFacts]) -> tuple[EntityMention, ...]:
    """Summarise entity occurrences, most mentioned first."""
    counts: dict[str, int] = {}
    first: dict[str, EntityHit] = {}
    for f in facts:
        for eh in f.entities:
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
    return Tagger(taxonomy=taxonomy, gazetteer=gazetteer, version=version)


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
