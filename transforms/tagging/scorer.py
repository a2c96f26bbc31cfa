"""Tags decided by the learned model, each with the spans in the article that drove it.

The taxonomy stays the source of candidate evidence: a topic can be assigned only where its
terms hit outside an exclusion (the rules' accepted hits first, then any other), and us_china
only where both US and Chinese actors are named. The model decides among the candidates, and
its highest-weighted n-grams found in the article are added to the spans. A label the model
would assign without a candidate span is not assigned.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from transforms.records import Evidence, TagResult, TopicTag
from transforms.tagging.analysis import Analysis
from transforms.tagging.features import (
    Words,
    dense_features,
    dense_names,
    find_gram,
    read_words,
)
from transforms.tagging.model import US_CHINA, TagModel
from transforms.tagging.scoring import MAX_EVIDENCE, collect_evidence, dedupe_spans
from transforms.tagging.taxonomy import STRONG, WEAK, make_exclude_id

GRAM_EVIDENCE = 3  # highest-weighted n-grams shown per tag


def tag_with_model(
    model: TagModel, analysis: Analysis, topics: Sequence[str], taxonomy_version: str
) -> TagResult:
    """The model's decision for every label, with calibrated scores and evidence spans."""
    words = read_words(analysis.fields)
    known = model.known_grams(words)
    probabilities = model.probabilities(_dense_vector(model, analysis, topics, words), known)
    decided: dict[str, tuple[float, tuple[Evidence, ...]]] = {}
    for index, label in enumerate(model.labels):
        p = float(probabilities[index])
        if p < model.thresholds[index]:
            continue
        spans = label_evidence(model, analysis, label, index, known)
        if spans:
            decided[label] = (round(p, 4), spans)
    topic_tags = tuple(
        sorted(
            (
                TopicTag(label, score, spans)
                for label, (score, spans) in decided.items()
                if label != US_CHINA and label in topics
            ),
            key=lambda t: (-t.score, t.topic),
        )
    )
    us_index = model.labels.index(US_CHINA)
    us_score = round(float(probabilities[us_index]), 4)
    us = decided.get(US_CHINA)
    return TagResult(
        us_china=us is not None,
        us_china_score=us_score,
        us_china_evidence=us[1] if us else analysis.us_china_evidence,
        topics=topic_tags,
        entities=analysis.entities,
        taxonomy_version=taxonomy_version,
        model_version=model.version,
    )


def _dense_vector(
    model: TagModel, analysis: Analysis, topics: Sequence[str], words: Words
) -> list[float]:
    """Dense features in the model's order; features of topics the model lacks are dropped."""
    names = feature_names(tuple(topics))
    if names == model.dense_names:
        return dense_features(analysis, topics, words)
    values = dict(zip(names, dense_features(analysis, topics, words), strict=True))
    return [values.get(name, 0.0) for name in model.dense_names]


@functools.lru_cache(maxsize=8)
def feature_names(topics: tuple[str, ...]) -> tuple[str, ...]:
    """Dense feature names for a taxonomy's topics, built once per taxonomy."""
    return tuple(dense_names(topics))


def label_evidence(
    model: TagModel, analysis: Analysis, label: str, index: int, known: Sequence[str]
) -> tuple[Evidence, ...]:
    """Spans for one label: taxonomy hits (or US and Chinese actors), then weighted n-grams."""
    spans = list(actor_spans(analysis) if label == US_CHINA else topic_hits(analysis, label))
    if not spans:
        return ()
    spans.extend(gram_spans(model, index, known, analysis.fields, GRAM_EVIDENCE))
    return tuple(dedupe_spans(spans))[:MAX_EVIDENCE]


def topic_hits(analysis: Analysis, topic: str) -> tuple[Evidence, ...]:
    """The topic's term hits: those the rules accepted, else any outside an exclusion."""
    for candidate in analysis.candidates:
        if candidate.topic == topic:
            return candidate.evidence
    excluded = make_exclude_id(topic)
    hits = [
        h
        for f in analysis.facts.values()
        if excluded not in f.vocab
        for h in f.hits
        if h.topic == topic and h.role in (STRONG, WEAK)
    ]
    return collect_evidence(hits, analysis.sentences, analysis.fields)


def actor_spans(analysis: Analysis) -> tuple[Evidence, ...]:
    """US and Chinese actors: the rules' pairs when they found one, else each side named."""
    if analysis.us_china_evidence:
        return analysis.us_china_evidence
    sides: dict[str, list[Evidence]] = {"US": [], "CN": []}
    for f in analysis.facts.values():
        for eh in f.entities:
            country = eh.entity.country
            for side in ("US", "CN"):
                if country in (side, "US-CN") and len(sides[side]) < MAX_EVIDENCE // 2:
                    value = analysis.fields[eh.field]
                    sides[side].append(
                        Evidence(value[eh.start : eh.end], eh.start, eh.end, eh.field)
                    )
    if not (sides["US"] and sides["CN"]):
        return ()
    return tuple(dedupe_spans(sides["US"] + sides["CN"]))


def gram_spans(
    model: TagModel, index: int, known: Sequence[str], fields: dict[str, str], limit: int
) -> list[Evidence]:
    """The article's n-grams that push the label up most, where each first stands."""
    spans = []
    for gram in model.top_grams(known, index, limit):
        found = find_gram(fields, gram)
        if found is not None:
            name, start, end = found
            spans.append(Evidence(fields[name][start:end], start, end, name))
    return spans
