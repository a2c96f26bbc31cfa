"""Matching of terms, vocabulary, aliases and patterns per sentence: the facts scoring weighs."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from transforms.entities import Entity, EntityHit, Gazetteer, PreparedText, TermMatcher
from transforms.tagging.segmentation import Sentence
from transforms.tagging.taxonomy import (
    ENTITY,
    FOCUS_TOPIC,
    TERM,
    VOCAB,
    Ref,
    Taxonomy,
    make_context_id,
)

MAX_PLANS = 100_000  # distinct spellings cached per tagger; the vocabulary bounds them anyway


class Hit(NamedTuple):
    """A taxonomy term found in a sentence."""

    topic: str
    role: str
    start: int
    end: int
    sentence: int


class SentenceFacts:
    """What one sentence contains; built while scanning, read by the scoring rules."""

    __slots__ = ("refs", "hits", "entities", "vocab")

    def __init__(self) -> None:
        """Start with nothing found; the scanner files matches as it meets them."""
        self.refs: dict[str, set[str]] = {}  # topic -> roles present
        self.hits: list[Hit] = []
        self.entities: list[EntityHit] = []
        self.vocab: set[str] = set()


class Plan(NamedTuple):
    """What a matched spelling adds to its sentence; computed once per distinct spelling."""

    length: int  # of the confirmed match, which may be shorter than the candidate span
    terms: tuple[tuple[str, str], ...]  # (topic, role)
    entities: tuple[Entity, ...]
    vocab: frozenset[str]
    inner: tuple[tuple[int, int, tuple[tuple[str, str], ...], tuple[Entity, ...]], ...]


_NO_PLAN: Any = object()


def build_index(taxonomy: Taxonomy, gazetteer: Gazetteer) -> TermMatcher[Ref]:
    """Join taxonomy terms, vocabularies and gazetteer aliases in one matcher: one pass a field."""
    entries: list[tuple[str, bool, Ref]] = list(taxonomy.entries)
    entries.extend((alias, fold, (ENTITY, eid, "")) for alias, fold, eid in gazetteer.entries)
    return TermMatcher(entries, nested=True)


@dataclass(frozen=True)
class Scanner:
    """Finds what each sentence contains; what a spelling means is resolved once per process."""

    taxonomy: Taxonomy
    gazetteer: Gazetteer
    index: TermMatcher[Ref] = field(repr=False, compare=False)  # see build_index
    plans: dict[str, Plan | None] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def scan_article(
        self,
        sentences: Sequence[Sentence],
        fields: dict[str, str],
        prepared: dict[str, PreparedText],
        lowered: dict[str, str],
    ) -> dict[int, SentenceFacts]:
        """Collect every sentence's terms, aliases, vocabulary and pattern hits, by sentence index."""
        facts: dict[int, SentenceFacts] = {}
        for name, value in fields.items():
            if value:
                self.scan_field(name, value, prepared[name], sentences, facts)
        self.match_patterns(sentences, facts, fields, lowered)
        return facts

    def scan_field(
        self,
        name: str,
        value: str,
        prepared: PreparedText,
        sentences: Sequence[Sentence],
        facts: dict[int, SentenceFacts],
    ) -> None:
        """Run the combined matcher over one field, replaying cached plans of known spellings."""
        indices = [i for i, s in enumerate(sentences) if s.field == name]
        if not indices:
            return
        starts = [sentences[i].start for i in indices]
        plans = self.plans
        last_end = -1
        for start, end in self.index.spans(value, prepared.lowered):
            if start < last_end:
                continue
            span = value[start:end]
            plan = plans.get(span, _NO_PLAN)
            if plan is _NO_PLAN:
                plan = self.make_plan(value, prepared.lowered, start, end)
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
                f = facts[i] = SentenceFacts()
            if plan.vocab:
                f.vocab.update(plan.vocab)
            if plan.terms or plan.entities:
                _apply_plan(f, i, name, start, stop, plan.terms, plan.entities)
            for rel_start, rel_end, terms, entities in plan.inner:
                _apply_plan(f, i, name, start + rel_start, start + rel_end, terms, entities)

    def make_plan(self, value: str, lowered: str, start: int, end: int) -> Plan | None:
        """Resolve a span once into its terms, entities, vocabulary and uncovered inner matches."""
        match = self.index.resolve(value, lowered, start, end)
        if match is None:
            return None
        terms = tuple((key, role) for kind, key, role in match.refs if kind == TERM)
        ents = tuple(self.gazetteer.entities[key] for kind, key, _ in match.refs if kind == ENTITY)
        vocab = {key for kind, key, _ in match.refs if kind == VOCAB}
        # Inner matches add only the kinds (terms, entities) the whole span does not cover.
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
        return Plan(match.end - start, terms, ents, frozenset(vocab), tuple(inner))

    def match_patterns(
        self,
        sentences: Sequence[Sentence],
        facts: dict[int, SentenceFacts],
        fields: dict[str, str],
        lowered: dict[str, str],
    ) -> None:
        """Run a topic's regexes, the slow part, only in sentences that have its vocabulary."""
        # A pattern can only matter where its topic's vocabulary (any role, or its context) is,
        # and then only where its gate's literal text is; focus cues wait for scoring.
        gates = self.taxonomy.pattern_gates
        for i, f in facts.items():
            if not f.refs and not f.vocab:
                continue
            s = sentences[i]
            value = fields[s.field]
            for topic, rx in self.taxonomy.patterns.items():
                if topic == FOCUS_TOPIC:
                    continue  # looked for only where it matters, while scoring
                if topic not in f.refs and make_context_id(topic) not in f.vocab:
                    continue
                gate = gates.get(topic)
                if gate is not None and gate.search(lowered[s.field], s.start, s.end) is None:
                    continue
                roles = self.taxonomy.pattern_roles[topic]
                for pm in rx.finditer(value, s.start, s.end):
                    role = roles[pm.lastgroup or ""]
                    f.refs.setdefault(topic, set()).add(role)
                    f.hits.append(Hit(topic, role, pm.start(), pm.end(), i))


def states_focus(taxonomy: Taxonomy, s: Sentence, value: str, lowered: str) -> bool:
    """Tell whether a body sentence says what the story is about ("talks focused on ...")."""
    rx = taxonomy.patterns.get(FOCUS_TOPIC)
    if rx is None:
        return False
    gate = taxonomy.pattern_gates.get(FOCUS_TOPIC)
    if gate is not None and gate.search(lowered, s.start, s.end) is None:
        return False
    return rx.search(value, s.start, s.end) is not None


def _apply_plan(
    f: SentenceFacts,
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
