"""Unit tests for tag evaluation math and the report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from transforms.evaluation import compare, cross_validate, evaluate, format_report, read_labeled
from transforms.records import Evidence, TagResult, TopicTag
from transforms.tagging import load_tagger

DEV = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "articles" / "labeled-dev.jsonl"


@dataclass(frozen=True)
class FakeTagger:
    """Returns canned tags keyed by title, so the arithmetic is checked by itself."""

    answers: dict[str, tuple[bool, tuple[str, ...]]]
    version: str = "test"

    def tag(self, title: str | None, text: str) -> TagResult:
        us_china, topics = self.answers[title or ""]
        ev = (Evidence(text[:4], 0, 4, "text"),)
        return TagResult(
            us_china,
            1.0 if us_china else 0.0,
            ev if us_china else (),
            tuple(TopicTag(t, 0.9, ev) for t in topics),
            (),
            self.version,
        )


def test_counts_precision_recall_f1(tmp_path: Path) -> None:
    labeled = tmp_path / "labeled.jsonl"
    rows = [
        {"id": "1", "title": "a", "text": "text one", "us_china": True, "topics": ["tariffs"]},
        {
            "id": "2",
            "title": "b",
            "text": "text two",
            "us_china": False,
            "topics": ["tariffs", "currency"],
        },
        {"id": "3", "title": "c", "text": "text three", "us_china": True, "topics": []},
    ]
    labeled.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    tagger = FakeTagger(
        {
            "a": (True, ("tariffs",)),  # TP tariffs, TP us_china
            "b": (True, ("tariffs", "sanctions")),  # TP tariffs, FN currency, FP sanctions, FP uc
            "c": (False, ()),  # FN us_china
        }
    )
    report = evaluate(read_labeled(labeled), tagger)
    assert report.articles == 3
    tariffs = report.topics["tariffs"]
    assert (tariffs.tp, tariffs.fp, tariffs.fn, tariffs.support) == (2, 0, 0, 2)
    assert report.topics["currency"].recall == 0.0 and report.topics["currency"].support == 1
    assert report.topics["sanctions"].precision == 0.0
    micro = report.micro
    assert (micro.tp, micro.fp, micro.fn) == (2, 1, 1)
    assert micro.f1 == pytest.approx(2 / 3)
    uc = report.us_china
    assert (uc.tp, uc.fp, uc.fn) == (1, 1, 1)
    assert uc.precision == pytest.approx(0.5) and uc.recall == pytest.approx(0.5)
    text = format_report(report)
    for needle in ("tariffs", "micro (topics)", "us_china", "FP sanctions", "FN currency"):
        assert needle in text


def test_real_tagger_reports_near_misses() -> None:
    rows = [
        {
            "id": "x",
            "title": "Port news",
            "text": "Soybeans were loaded.",
            "us_china": False,
            "topics": ["agriculture"],
        }
    ]
    report = evaluate(rows, load_tagger().with_model(None))
    miss = next(m for m in report.mistakes if m.label == "agriculture")
    assert miss.kind == "FN" and miss.evidence and 0 < miss.score < 0.5


@pytest.mark.integration
@pytest.mark.skipif(not DEV.exists(), reason="shared corpus not available (../shared/corpus)")
def test_dev_set_cross_validated_figures_hold() -> None:
    """Out-of-fold figures on the labeled dev set: a floor against regressions, not a target."""
    rows = read_labeled(DEV)
    tagger = load_tagger().with_model(None)
    results = cross_validate(rows, tagger, folds=3)
    report = compare(rows, results, tagger.taxonomy.topics, "cv")
    assert report.articles == len(rows)
    assert report.us_china.f1 >= 0.84
    assert report.micro.f1 >= 0.82
