"""The learned scorer: training on a tiny labeled set, the evidence rule, an analyst's new topic."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from transforms.evaluation import compare, cross_validate, read_labeled
from transforms.tagging import load_tagger
from transforms.tagging.model import (
    DEFAULT_MODEL,
    ModelError,
    load_model,
    save_model,
    with_version,
)
from transforms.tagging.taxonomy import DEFAULT_TAXONOMY
from transforms.tagging.training import TrainingError, train_model

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tagging"
TINY = FIXTURES / "tiny_labeled.jsonl"


def assert_spans_point_at_text(result, title: str, text: str) -> None:  # type: ignore[no-untyped-def]
    fields = {"title": title, "text": text}
    for tag in result.topics:
        assert tag.evidence, f"{tag.topic} emitted without evidence"
        for e in tag.evidence:
            assert fields[e.field][e.start : e.end] == e.text
    for e in result.us_china_evidence:
        assert fields[e.field][e.start : e.end] == e.text


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rules = load_tagger().with_model(None)
    model = train_model(read_labeled(TINY), rules, sources=[TINY])
    return save_model(model, tmp_path_factory.mktemp("model") / "tiny.json")


def test_training_on_a_tiny_set_learns_its_topics(tiny_model: Path) -> None:
    tagger = load_tagger(model_path=tiny_model)
    assert tagger.model is not None and tagger.model.trained_on["articles"] == 48
    title = "Washington raises tariffs on bicycles"
    text = (
        "The White House said on Friday it would raise tariffs on bicycles from China to 30 "
        "percent. Beijing said the duties were unfair. The tariffs take effect in June."
    )
    result = tagger.tag(title, text)
    assert [t.topic for t in result.topics] == ["tariffs"]
    assert result.us_china and result.model_version == tagger.model.version
    assert 0.5 < result.topics[0].score <= 1.0  # a probability, not a rule weight
    assert_spans_point_at_text(result, title, text)
    quiet = tagger.tag("Port of Hamburg opens a terminal", "Cranes arrived. Traffic grows.")
    assert quiet.topics == () and not quiet.us_china


def test_model_file_round_trips_and_its_version_is_its_content(
    tiny_model: Path, tmp_path: Path
) -> None:
    model = load_model(tiny_model)
    again = load_model(save_model(model, tmp_path / "copy.json"))
    assert again.version == model.version and again.labels == model.labels
    assert np.allclose(again.dense_weights, model.dense_weights)
    changed = with_version(replace(model, bias=model.bias + 0.5))
    assert changed.version != model.version


def test_a_broken_model_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelError, match="cannot read tagging model"):
        load_model(bad)
    bad.write_text(json.dumps({"format": 99}), encoding="utf-8")
    with pytest.raises(ModelError, match="unknown model format"):
        load_model(bad)


def test_too_few_labeled_articles_is_a_clear_error() -> None:
    rows = read_labeled(TINY)[:5]
    with pytest.raises(TrainingError, match="at least"):
        train_model(rows, load_tagger().with_model(None))


def test_a_tag_without_a_span_in_the_article_is_never_emitted(tiny_model: Path) -> None:
    model = load_model(tiny_model)
    # A model that would assign every label to every article, whatever it says.
    eager = with_version(replace(model, bias=np.full(len(model.labels), 30.0)))
    tagger = load_tagger().with_model(eager)
    title, text = "Port of Hamburg opens a terminal", "Cranes arrived on Monday. Traffic grows."
    result = tagger.tag(title, text)
    assert result.topics == ()  # no taxonomy term of any topic in the article
    assert not result.us_china  # neither a US nor a Chinese actor named
    assert result.us_china_score > 0.99  # the model's probability is still reported
    tariffs = tagger.tag("Tariffs on tyres", "Brussels set tariffs on tyres from Vietnam.")
    assert [t.topic for t in tariffs.topics] == ["tariffs"]
    assert_spans_point_at_text(
        tariffs, "Tariffs on tyres", "Brussels set tariffs on tyres from Vietnam."
    )


def test_excluded_terms_are_no_evidence(tiny_model: Path) -> None:
    model = load_model(tiny_model)
    eager = with_version(replace(model, bias=np.full(len(model.labels), 30.0)))
    title = "Beijing tightens export controls on dairy after melamine scandal"
    text = "China tightened export controls on milk powder. Food safety inspectors check ports."
    result = load_tagger().with_model(eager).tag(title, text)
    assert "export_controls" not in {t.topic for t in result.topics}


PORT_FEES = """
[topics.port_fees]
description = "Fees charged to ships by the port or state they call at, e.g. Section 301 port fees."
terms_en = ["port fees", "port fee", "docking fees", "port charges", "fees on ships"]
terms_zh = ["港口费", "港口費", "特别港务费", "特別港務費"]
"""


def port_fee_rows() -> list[dict[str, object]]:
    """Sixteen labeled articles about port fees, written for this test."""
    rows = []
    for i in range(16):
        rows.append(
            {
                "id": f"fee-{i}",
                "title": f"Port fees on ships rise at berth {i}",
                "text": (
                    f"The authority will charge port fees of ${100 + i} per tonne on ships built "
                    "abroad from next month. Shipping lines said the port fees would raise costs. "
                    "The docking fees apply to every call."
                ),
                "us_china": False,
                "topics": ["port_fees"],
            }
        )
    return rows


def test_an_analyst_adds_a_topic_with_a_taxonomy_block_and_a_few_labels(tmp_path: Path) -> None:
    taxonomy = tmp_path / "taxonomy.toml"
    taxonomy.write_text(DEFAULT_TAXONOMY.read_text(encoding="utf-8") + PORT_FEES, encoding="utf-8")
    rules = load_tagger(taxonomy_path=taxonomy).with_model(None)
    assert "port_fees" in rules.taxonomy.topics and rules.model is None
    model = train_model(read_labeled(TINY) + port_fee_rows(), rules)
    assert "port_fees" in model.labels
    tagger = rules.with_model(model)
    title = "Ships face new port fees"
    text = (
        "Washington will levy port fees on Chinese-built ships from October, the trade office "
        "said. Carriers expect the port fees to add millions to their costs."
    )
    result = tagger.tag(title, text)
    tag = next(t for t in result.topics if t.topic == "port_fees")
    assert any(e.text.lower() == "port fees" for e in tag.evidence)
    assert_spans_point_at_text(result, title, text)


def test_cross_validation_tags_every_article_out_of_fold() -> None:
    rows = read_labeled(TINY)
    tagger = load_tagger().with_model(None)
    results = cross_validate(rows, tagger, folds=3)
    assert len(results) == len(rows)
    report = compare(rows, results, tagger.taxonomy.topics, "cv")
    # The tiny set is easy and regular: out-of-fold the model still finds both topics.
    assert report.topics["tariffs"].f1 >= 0.9 and report.topics["agriculture"].f1 >= 0.9


def test_chinese_articles_are_tagged_by_the_rules_when_the_model_saw_none() -> None:
    tagger = load_tagger()
    if tagger.model is None or tagger.model.covers("cjk"):
        pytest.skip("the shipped model is absent or was trained on Chinese articles too")
    lines = (FIXTURES / "seed_like_zh_traditional.txt").read_text(encoding="utf-8").splitlines()
    result = tagger.tag(lines[0], "\n".join(lines[1:]))
    assert result.model_version is None
    assert {"trade_talks", "tariffs", "rare_earths"} <= {t.topic for t in result.topics}


def test_the_shipped_model_matches_the_shipped_taxonomy() -> None:
    assert DEFAULT_MODEL.is_file()
    model = load_model(DEFAULT_MODEL)
    tagger = load_tagger()
    assert model.labels == ("us_china", *tagger.taxonomy.topics)
    assert model.trained_on["taxonomy_version"] == tagger.version
