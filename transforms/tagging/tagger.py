"""The tagger: one object holding the compiled data files, cached per process for every caller."""

from __future__ import annotations

import functools
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from transforms.entities import Gazetteer, TermMatcher, load_gazetteer, prepare_text
from transforms.records import TagResult, TopicTag
from transforms.settings import Settings
from transforms.tagging.analysis import Analysis
from transforms.tagging.features import dominant_script
from transforms.tagging.matching import Scanner, build_index
from transforms.tagging.model import DEFAULT_MODEL, ModelError, TagModel, load_model
from transforms.tagging.scorer import tag_with_model
from transforms.tagging.scoring import (
    TAG_SCORE,
    accept_hits,
    count_entities,
    score_topics,
    score_us_china,
)
from transforms.tagging.segmentation import segment_article
from transforms.tagging.taxonomy import Ref, Taxonomy, load_taxonomy

logger = logging.getLogger(__name__)


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
    index: TermMatcher[Ref] = field(repr=False, compare=False)  # see build_index
    # The learned scorer; None tags by the taxonomy's rules alone.
    model: TagModel | None = field(default=None, repr=False, compare=False)
    _scanner: Scanner = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Share the matcher and its per-spelling cache between all articles this tagger tags."""
        object.__setattr__(self, "_scanner", Scanner(self.taxonomy, self.gazetteer, self.index))

    def tag(self, title: str | None, text: str) -> TagResult:
        """Tag one article: by the model when there is one, else by the rules."""
        if self.model is None:
            return self.explain(title, text).result
        analysis = self.analyse(title, text)
        if not self.model.covers(dominant_script(analysis.fields)):
            return self.decide_by_rules(analysis)
        return tag_with_model(self.model, analysis, self.taxonomy.topics, self.version)

    def with_model(self, model: TagModel | None) -> Tagger:
        """The same taxonomy and gazetteer with another model (or the rules alone)."""
        return Tagger(self.taxonomy, self.gazetteer, self.version, self.index, model)

    def analyse(self, title: str | None, text: str) -> Analysis:
        """Scan one article and apply the taxonomy's rules, keeping every intermediate fact."""
        title, text = mask_markup(title or ""), mask_markup(text)
        sentences = segment_article(title, text)
        fields = {"title": title, "text": text}
        prepared = {name: prepare_text(value) for name, value in fields.items()}
        lowered = {name: p.lowered for name, p in prepared.items()}
        facts = self._scanner.scan_article(sentences, fields, prepared, lowered)
        accepted = accept_hits(self.taxonomy, sentences, facts)
        decisive: set[str] = set()
        candidates = score_topics(
            self.taxonomy, sentences, facts, accepted, fields, lowered, decisive
        )
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
            frozenset(decisive),
        )

    def explain(self, title: str | None, text: str) -> Explanation:
        """Tag one article by the rules alone and keep the topics that fell short."""
        a = self.analyse(title, text)
        return Explanation(
            self.decide_by_rules(a), tuple(t for t in a.candidates if t.score < TAG_SCORE)
        )

    def decide_by_rules(self, a: Analysis) -> TagResult:
        """The taxonomy rules' own decision on an analysed article."""
        return TagResult(
            us_china=a.us_china,
            us_china_score=a.us_china_score,
            us_china_evidence=a.us_china_evidence,
            topics=tuple(t for t in a.candidates if t.score >= TAG_SCORE),
            entities=a.entities,
            taxonomy_version=self.version,
        )


_MARKUP = re.compile(r"<[^<>]{0,2000}>")


def mask_markup(value: str) -> str:
    """Blank out HTML tags (feed descriptions carry them) with spaces: offsets stay the same."""
    if "<" not in value:
        return value
    return _MARKUP.sub(lambda m: " " * len(m.group()), value)


RULES_ONLY = "rules"


def choose_model(model_path: Path | None) -> TagModel | None:
    """The model to tag with: the given file, else TRADEWIRE_TAG_MODEL, else the shipped one."""
    configured = Settings().tag_model
    if model_path is None and configured == RULES_ONLY:
        return None
    path = model_path or (Path(configured) if configured else DEFAULT_MODEL)
    if path.is_file():
        return load_model(path)
    if path != DEFAULT_MODEL:
        raise ModelError(f"no tagging model at {path} (TRADEWIRE_TAG_MODEL or --model)")
    logger.info("no tagging model at %s: tagging by the taxonomy's rules alone", path)
    return None


def build_tagger(
    taxonomy_path: Path | None = None,
    gazetteer_path: Path | None = None,
    model_path: Path | None = None,
) -> Tagger:
    """Load the data files and the model, and stamp the tagger with their versions."""
    started = time.perf_counter()
    taxonomy = load_taxonomy(taxonomy_path)
    gazetteer = load_gazetteer(gazetteer_path)
    version = f"{taxonomy.version}+g{gazetteer.content_hash[:7]}t{taxonomy.content_hash[:7]}"
    model = choose_model(model_path)
    tagger = Tagger(taxonomy, gazetteer, version, build_index(taxonomy, gazetteer), model)
    logger.debug("tagger %s built in %.2f s", version, time.perf_counter() - started)
    return tagger


@functools.lru_cache(maxsize=1)
def _build_default_tagger() -> Tagger:
    """Build the default tagger once per process: loading compiles large regexes."""
    return build_tagger()


def load_tagger(
    taxonomy_path: Path | None = None,
    gazetteer_path: Path | None = None,
    model_path: Path | None = None,
) -> Tagger:
    """Return a tagger for the given files, the cached default one when none are given."""
    if taxonomy_path is None and gazetteer_path is None and model_path is None:
        return _build_default_tagger()
    return build_tagger(taxonomy_path, gazetteer_path, model_path)
