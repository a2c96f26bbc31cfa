"""What the taxonomy's rules found in one article: the input of the rule decision and the model."""

from __future__ import annotations

from dataclasses import dataclass

from transforms.records import EntityMention, Evidence, TopicTag
from transforms.tagging.matching import Hit, SentenceFacts
from transforms.tagging.segmentation import Sentence


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
    decisive: frozenset[str]  # topics stated in the headline, lede or a focus sentence
