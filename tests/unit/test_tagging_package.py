"""The tagging package keeps the names its callers import, and the shape `tradewire tag` prints."""

from __future__ import annotations

import io
import json

import transforms.tagging as tagging
from transforms.tagging import load_tagger, tag_json_lines, tag_result_to_dict
from transforms.tagging.segmentation import segment_article


def test_public_names() -> None:
    assert set(tagging.__all__) == {
        "Tagger",
        "evidence_to_dict",
        "load_tagger",
        "split_sentences",
        "tag_json_lines",
        "tag_result_to_dict",
    }
    assert isinstance(load_tagger(), tagging.Tagger)


def test_json_lines_row_is_the_result_dict_plus_id() -> None:
    title, text = (
        "US raises tariffs on Chinese steel",
        "Washington raised tariffs on Chinese steel.",
    )
    out = io.StringIO()
    line = json.dumps({"id": 7, "title": title, "text": text})
    assert tag_json_lines([line], out, io.StringIO(), load_tagger()) == 0
    row = json.loads(out.getvalue())
    assert row.pop("id") == 7
    assert row == tag_result_to_dict(load_tagger().tag(title, text))


def test_explain_splits_tags_from_near_misses() -> None:
    title = "Port posts record year"
    text = "The port handled more containers than ever, its operator said on Friday. Soybeans too."
    explanation = load_tagger().explain(title, text)
    assert "agriculture" not in {t.topic for t in explanation.result.topics}
    assert "agriculture" in {t.topic for t in explanation.near_misses}


def test_headline_copy_in_text_is_not_the_lede() -> None:
    title = "Yuan falls to a 16-year low"
    text = "Yuan falls to a 16-year low\nThe yuan fell against the dollar on Monday, traders said."
    sentences = segment_article(title, text)
    assert [(s.field, s.head, s.lede) for s in sentences] == [
        ("title", True, False),
        ("text", True, False),
        ("text", False, True),
    ]
