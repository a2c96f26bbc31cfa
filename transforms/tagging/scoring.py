"""Scoring of topics and US–China relevance from sentence facts, with the evidence for each."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from transforms.entities import EntityHit
from transforms.records import EntityMention, Evidence, TopicTag
from transforms.tagging.matching import Hit, SentenceFacts, states_focus
from transforms.tagging.segmentation import MIN_SENTENCE_CHARS, Sentence
from transforms.tagging.taxonomy import (
    ECONOMY,
    FOCUS_TOPIC,
    STRONG,
    WEAK,
    Taxonomy,
    make_context_id,
    make_exclude_id,
)

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
_LIST_GAP = re.compile(
    r"(?:\s*(?:,|;|/|、|，|和|及|与|與|以及|\band\b|\bor\b|\bas well as\b|&)\s*|\s+)"
    r"(?:(?:[A-Za-z\-]+\s+){0,3}(?=\S))?",
    re.IGNORECASE,
)


def accept_hits(
    taxonomy: Taxonomy, sentences: Sequence[Sentence], facts: dict[int, SentenceFacts]
) -> dict[int, dict[str, list[Hit]]]:
    """Keep the hits that count: strong ones, weak ones with context, none beside an exclusion."""
    accepted: dict[int, dict[str, list[Hit]]] = {}
    rules = taxonomy.rules
    for i, f in facts.items():
        keep: dict[str, list[Hit]] = {}
        for hit in f.hits:
            if hit.role not in (STRONG, WEAK) or hit.topic == FOCUS_TOPIC:
                continue
            rule = rules[hit.topic]
            if make_exclude_id(hit.topic) in f.vocab or any(
                STRONG in f.refs.get(other, ()) or WEAK in f.refs.get(other, ())
                for other in rule.exclude_topics
            ):
                continue
            if hit.role == WEAK and not has_context(taxonomy, hit.topic, i, sentences, facts):
                continue
            keep.setdefault(hit.topic, []).append(hit)
        if keep:
            accepted[i] = keep
    return accepted


def has_context(
    taxonomy: Taxonomy,
    topic: str,
    i: int,
    sentences: Sequence[Sentence],
    facts: dict[int, SentenceFacts],
) -> bool:
    """Look for the topic's context (or a strong term of it) in the sentence and its neighbours."""
    rule = taxonomy.rules[topic]
    wanted = make_context_id(topic)
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


def score_topics(
    taxonomy: Taxonomy,
    sentences: Sequence[Sentence],
    facts: dict[int, SentenceFacts],
    accepted: dict[int, dict[str, list[Hit]]],
    fields: dict[str, str],
    lowered: dict[str, str],
    decisive: set[str] | None = None,
) -> tuple[TopicTag, ...]:
    """Weigh each topic's sentences; those reaching TAG_SCORE are what the article is about.

    `decisive`, when given, collects the topics stated in the headline, the lede or a focus
    sentence (not as a passing mention): the strongest single cue the rules know.
    """
    # A topic in the headline, or stated in the lede or a focus sentence, is about the article
    # on its own. Otherwise its body sentences must fill a share of the article: a long article
    # needs more of them, so background mentions in long pieces stay untagged. Background cues
    # ("amid the trade war") and enumerations weaken a sentence.
    body = sum(1 for s in sentences if not s.head and s.end - s.start >= MIN_SENTENCE_CHARS)
    need = max(TAG_THRESHOLD, BODY_SHARE * body)
    totals: dict[str, float] = {}
    evidence: dict[str, list[Hit]] = {}
    for i, keep in accepted.items():
        s = sentences[i]
        value = fields[s.field]
        listed = find_listed_topics(keep, value) if len(keep) >= LIST_MIN_TOPICS else ()
        focus = not (s.head or s.lede) and (
            FOCUS_TOPIC in facts[i].refs or states_focus(taxonomy, s, value, lowered[s.field])
        )
        cues = not s.head and _CUE_GATE.search(lowered[s.field], s.start, s.end) is not None
        for topic, hits in keep.items():
            background = cues and all(is_background(value, s, h) for h in hits)
            if s.head or (s.lede or focus) and not (topic in listed or background):
                weight = need
                if decisive is not None:
                    decisive.add(topic)
            elif topic in listed or background:
                weight = LIST_WEIGHT
            else:
                weight = BODY_WEIGHT
            totals[topic] = totals.get(topic, 0.0) + weight
            evidence.setdefault(topic, []).extend(hits)
    tags: list[TopicTag] = []
    for topic in taxonomy.topics:
        total = totals.get(topic, 0.0)
        if total <= 0.0:
            continue
        score = round(1.0 - 0.5 ** (total / need), 4)
        spans = collect_evidence(evidence[topic], sentences, fields)
        tags.append(TopicTag(topic=topic, score=score, evidence=spans))
    tags.sort(key=lambda t: (-t.score, t.topic))
    return tuple(tags)


def score_us_china(
    sentences: Sequence[Sentence],
    facts: dict[int, SentenceFacts],
    accepted: dict[int, dict[str, list[Hit]]],
    fields: dict[str, str],
) -> tuple[bool, float, tuple[Evidence, ...]]:
    """Decide whether US and Chinese actors meet in an economic relation through the story."""
    head_weight = 0.0
    body = 0
    body_total = sum(
        1 for s in sentences if not s.head and not s.lede and s.end - s.start >= MIN_SENTENCE_CHARS
    )
    third_head = False
    spans: list[Evidence] = []
    for i, f in facts.items():
        s = sentences[i]
        if not f.entities or (not s.head and not s.lede and s.end - s.start < MIN_SENTENCE_CHARS):
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
    return score >= US_CHINA_THRESHOLD, score, tuple(dedupe_spans(spans))[:MAX_EVIDENCE]


def is_background(value: str, s: Sentence, hit: Hit) -> bool:
    """Tell a scene-setting or range-item mention ("amid the trade war") from the story's subject."""
    start = max(s.start, hit.start - BACKGROUND_WINDOW)
    return (
        _BACKGROUND.search(value, start, hit.start) is not None
        or _RANGE_END.search(value, start, hit.start) is not None
    )


def find_listed_topics(keep: dict[str, list[Hit]], value: str) -> set[str]:
    """Find topics whose only hits sit in an enumeration of three or more, a passing mention."""
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


def dedupe_spans(spans: Iterable[Evidence]) -> list[Evidence]:
    """Drop repeated spans while keeping order, so one name is not evidence twice."""
    return list(dict.fromkeys(spans))


def collect_evidence(
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


def count_entities(facts: dict[int, SentenceFacts]) -> tuple[EntityMention, ...]:
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
