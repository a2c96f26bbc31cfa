"""Topic and US–China relevance tagger: taxonomy rules plus gazetteer actors, with evidence spans."""

from transforms.tagging.jsonlines import evidence_to_dict, tag_json_lines, tag_result_to_dict
from transforms.tagging.segmentation import split_sentences
from transforms.tagging.tagger import Tagger, load_tagger

__all__ = [
    "Tagger",
    "evidence_to_dict",
    "load_tagger",
    "split_sentences",
    "tag_json_lines",
    "tag_result_to_dict",
]
