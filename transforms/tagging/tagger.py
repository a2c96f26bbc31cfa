"""The tagger: one object holding the compiled data files, cached per process for every caller."""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from transforms.entities import Gazetteer, TermMatcher, load_gazetteer, prepare_text
from transforms.records import EntityMention, Evidence, TagResult, TopicTag
from transforms.tagging.matching import Hit, Scanner, SentenceFacts, build_index
from transforms.tagging.scoring import (
    TAG_SCORE,
    accept_hits,
    count_entities,
    score_topics,
    score_us_china,
)
from transforms.tagging.segmentation import Sentence, segment_article
from transforms.tagging.taxonomy import Ref, Taxonomy, load_taxonomy

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Explanation:
    """A tag result plus the topics that had hits but fell short of being tagged."""

    result: TagResult
    near_misses: tuple[TopicTag, ...]


@dataclass(frozen=True)
class Analysis:
    """What the rules found in one article: the input of both the rule decision and the model."""

    sentences: tuple[Sentence, ...]
    fields: dict[str, str]
    facts: dict[int, SentenceFacts]
    accepted: dict[int, dict[str, list[Hit]]]
    candidates: tuple[TopicTag, ...]  # every topic with accepted hits, with its rule score
    us_china: bool
    us_china_score: float
    us_china_evidence: tuple[Evidence, ...]
    entities: tuple[EntityMention, ...]


@dataclass(frozen=True)
class Tagger:
    """Tags articles with topics and US–China relevance; `version` changes with either data file."""

    taxonomy: Taxonomy
    gazetteer: Gazetteer
    version: str
    index: TermMatcher[Ref] = field(repr=False, compare=False)  # see build_index
    _scanner: Scanner = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Share the matcher and its per-spelling cache between all articles this tagger tags."""
        object.__setattr__(self, "_scanner", Scanner(self.taxonomy, self.gazetteer, self.index))

    def tag(self, title: str | None, text: str) -> TagResult:
        """Tag one article."""
        return self.explain(title, text).result

    def analyse(self, title: str | None, text: str) -> Analysis:
        """Scan one article and apply the taxonomy's rules, keeping every intermediate fact."""
        sentences = segment_article(title, text)
        fields = {"title": title or "", "text": text}
        prepared = {name: prepare_text(value) for name, value in fields.items()}
        lowered = {name: p.lowered for name, p in prepared.items()}
        facts = self._scanner.scan_article(sentences, fields, prepared, lowered)
        accepted = accept_hits(self.taxonomy, sentences, facts)
        candidates = score_topics(self.taxonomy, sentences, facts, accepted, fields, lowered)
        us_china, score, evidence = score_us_china(sentences, facts, accepted, fields)
        return Analysis(
            tuple(sentences),
            fields,
            facts,
            accepted,
            candidates,
            us_china,
            score,
            evidence,
            count_entities(facts),
        )

    def explain(self, title: str | None, text: str) -> Explanation:
        """Tag one article by the rules alone and keep the topics that fell short."""
        a = self.analyse(title, text)
        result = TagResult(
            us_china=a.us_china,
            us_china_score=a.us_china_score,
            us_china_evidence=a.us_china_evidence,
            topics=tuple(t for t in a.candidates if t.score >= TAG_SCORE),
            entities=a.entities,
            taxonomy_version=self.version,
        )
        return Explanation(result, tuple(t for t in a.candidates if t.score < TAG_SCORE))


def build_tagger(taxonomy_path: Path | None = None, gazetteer_path: Path | None = None) -> Tagger:
    """Load both data files and stamp the tagger with their versions, so stale tags show."""
    started = time.perf_counter()
    taxonomy = load_taxonomy(taxonomy_path)
    gazetteer = load_gazetteer(gazetteer_path)
    version = f"{taxonomy.version}+g{gazetteer.content_hash[:7]}t{taxonomy.content_hash[:7]}"
    tagger = Tagger(taxonomy, gazetteer, version, build_index(taxonomy, gazetteer))
    logger.debug("tagger %s built in %.2f s", version, time.perf_counter() - started)
    return tagger


@functools.lru_cache(maxsize=1)
def _build_default_tagger() -> Tagger:
    """Build the default tagger once per process: loading compiles large regexes."""
    return build_tagger()


def load_tagger(taxonomy_path: Path | None = None, gazetteer_path: Path | None = None) -> Tagger:
    """Return a tagger for the given data files, the cached default one when none are given."""
    if taxonomy_path is None and gazetteer_path is None:
        return _build_default_tagger()
    return build_tagger(taxonomy_path, gazetteer_path)
