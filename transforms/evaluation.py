"""Evaluation of tagger output against hand-labeled JSON Lines (`tradewire eval-tags`)."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from transforms.records import Evidence, TagResult, TopicTag

if TYPE_CHECKING:
    from transforms.tagging import Tagger

logger = logging.getLogger(__name__)

WORST_SHOWN = 10


class _Explains(Protocol):
    """What evaluation needs from a tagger: tags, plus near misses when it can give them."""

    @property
    def version(self) -> str: ...

    def tag(self, title: str | None, text: str) -> TagResult: ...


@dataclass(frozen=True)
class Counts:
    """Confusion counts for one label."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def support(self) -> int:
        """Articles that carry the label."""
        return self.tp + self.fn

    @property
    def precision(self) -> float:
        """Share of predictions that were right; 0 when nothing was predicted."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        """Share of labels that were found; 0 when there was nothing to find."""
        return self.tp / self.support if self.support else 0.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def add(self, predicted: bool, gold: bool) -> Counts:
        """Return counts updated with one decision."""
        return Counts(
            self.tp + (predicted and gold),
            self.fp + (predicted and not gold),
            self.fn + (gold and not predicted),
        )


@dataclass(frozen=True)
class Mistake:
    """One wrong decision, with what the tagger saw, for reading error lists."""

    record_id: str
    title: str
    label: str  # a topic id or "us_china"
    kind: str  # "FP" or "FN"
    score: float
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class EvalReport:
    """Evaluation results: per-topic counts, the us_china counts and the mistakes."""

    articles: int
    tagger_version: str
    topics: dict[str, Counts]
    us_china: Counts
    mistakes: tuple[Mistake, ...]

    @property
    def micro(self) -> Counts:
        """Topic counts pooled over all topics."""
        return Counts(
            sum(c.tp for c in self.topics.values()),
            sum(c.fp for c in self.topics.values()),
            sum(c.fn for c in self.topics.values()),
        )


def _topic_map(tags: Iterable[TopicTag]) -> dict[str, TopicTag]:
    """Index topic tags by id."""
    return {t.topic: t for t in tags}


def evaluate(records: Iterable[dict[str, Any]], tagger: _Explains) -> EvalReport:
    """Tag every labeled record and compare with its `us_china` and `topics` labels."""
    rows = list(records)
    explain = getattr(tagger, "explain", None)
    topic_ids: list[str] = list(getattr(getattr(tagger, "taxonomy", None), "topics", ()))
    results: list[TagResult] = []
    near: list[dict[str, TopicTag]] = []
    by_rules = getattr(tagger, "model", None) is None
    for record in rows:
        title, text = record.get("title"), record.get("text") or ""
        if explain is not None and by_rules:
            explanation = explain(title, text)
            results.append(explanation.result)
            near.append(_topic_map(explanation.near_misses))
        else:
            results.append(tagger.tag(title, text))
            near.append({})
    return compare(rows, results, topic_ids, tagger.version, near)


def compare(
    records: Sequence[dict[str, Any]],
    results: Sequence[TagResult],
    topic_ids: Sequence[str],
    version: str,
    near: Sequence[dict[str, TopicTag]] | None = None,
) -> EvalReport:
    """Confusion counts and mistakes of tag results against the records' labels."""
    topics: dict[str, Counts] = {t: Counts() for t in topic_ids}
    us_china = Counts()
    mistakes: list[Mistake] = []
    for n, (record, result) in enumerate(zip(records, results, strict=True), 1):
        title = record.get("title")
        record_id = str(record.get("id", n))
        missed = near[n - 1] if near else {}
        predicted = _topic_map(result.topics)
        gold = set(record.get("topics") or ())
        for topic in sorted(set(topics) | gold | set(predicted)):
            counts = topics.get(topic, Counts())
            topics[topic] = counts.add(topic in predicted, topic in gold)
            if (topic in predicted) != (topic in gold):
                seen = predicted.get(topic) or missed.get(topic)
                mistakes.append(
                    Mistake(
                        record_id,
                        title or "",
                        topic,
                        "FP" if topic in predicted else "FN",
                        seen.score if seen else 0.0,
                        seen.evidence if seen else (),
                    )
                )
        gold_uc = bool(record.get("us_china"))
        us_china = us_china.add(result.us_china, gold_uc)
        if result.us_china != gold_uc:
            mistakes.append(
                Mistake(
                    record_id,
                    title or "",
                    "us_china",
                    "FP" if result.us_china else "FN",
                    result.us_china_score,
                    result.us_china_evidence,
                )
            )
    return EvalReport(len(records), version, topics, us_china, tuple(mistakes))


def cross_validate(
    records: Sequence[dict[str, Any]], tagger: Tagger, folds: int = 5, seed: int = 0
) -> list[TagResult]:
    """Out-of-fold tag results: each article tagged by a model trained without it.

    Folds are stratified on us_china and topic; the training inside each fold chooses its own
    settings on inner folds of its training part, so nothing is tuned on the article tagged.
    """
    from transforms.tagging.training import fold_indices, make_examples, train_model

    examples = make_examples(records, tagger)
    results: list[TagResult | None] = [None] * len(records)
    for k, test in enumerate(fold_indices([e.group for e in examples], folds, seed)):
        train = sorted(set(range(len(records))) - set(int(i) for i in test))
        model = train_model(
            [records[i] for i in train], tagger, seed=seed, examples=[examples[i] for i in train]
        )
        fold_tagger = tagger.with_model(model)
        for i in test:
            record = records[int(i)]
            results[int(i)] = fold_tagger.tag(record.get("title"), record.get("text") or "")
        logger.info("fold %d of %d: trained on %d, tagged %d", k + 1, folds, len(train), len(test))
    return [r for r in results if r is not None]


def split_by(records: Sequence[dict[str, Any]], key: str) -> dict[str, list[int]]:
    """Row indices per value of a record field (e.g. source_repo), for per-source figures."""
    groups: dict[str, list[int]] = {}
    for i, record in enumerate(records):
        groups.setdefault(str(record.get(key) or "(none)"), []).append(i)
    return dict(sorted(groups.items()))


def format_groups(
    records: Sequence[dict[str, Any]],
    results: Sequence[TagResult],
    topic_ids: Sequence[str],
    key: str,
) -> str:
    """One line per group: articles, us_china F1 and topic micro-F1 within it."""
    lines = [
        f"{key:<34} {'articles':>8} {'us_china F1':>11} {'tp/fp/fn':>10} "
        f"{'topics micro-F1':>15} {'tp/fp/fn':>10}"
    ]
    for name, rows in split_by(records, key).items():
        report = compare([records[i] for i in rows], [results[i] for i in rows], topic_ids, "")
        uc, mi = report.us_china, report.micro
        lines.append(
            f"{name[:34]:<34} {len(rows):>8d} {uc.f1:>11.3f} {f'{uc.tp}/{uc.fp}/{uc.fn}':>10} "
            f"{mi.f1:>15.3f} {f'{mi.tp}/{mi.fp}/{mi.fn}':>10}"
        )
    return "\n".join(lines)


def _row(name: str, c: Counts) -> str:
    """One table row."""
    return f"{name:<22} {c.precision:>6.3f} {c.recall:>6.3f} {c.f1:>6.3f} {c.support:>7d} {c.tp + c.fp:>6d}"


def _describe(m: Mistake) -> str:
    """One mistake with its evidence, short enough to scan."""
    spans = "; ".join(f"{e.field}[{e.start}:{e.end}] {e.text!r}" for e in m.evidence[:5]) or "-"
    return f"  {m.kind} {m.label:<20} score={m.score:.3f} {m.record_id}  {m.title[:70]!r}\n      evidence: {spans}"


def format_report(report: EvalReport, worst: int = WORST_SHOWN) -> str:
    """Render the report: per-topic table, micro-F1, us_china, then the worst mistakes."""
    lines = [
        f"articles: {report.articles}   tagger: {report.tagger_version}",
        "",
        f"{'topic':<22} {'prec':>6} {'recall':>6} {'F1':>6} {'support':>7} {'pred':>6}",
    ]
    for topic in sorted(report.topics):
        lines.append(_row(topic, report.topics[topic]))
    lines.append(_row("micro (topics)", report.micro))
    lines.append("")
    lines.append(_row("us_china", report.us_china))
    fps = sorted((m for m in report.mistakes if m.kind == "FP"), key=lambda m: -m.score)
    fns = sorted((m for m in report.mistakes if m.kind == "FN"), key=lambda m: m.score)
    lines.append("")
    lines.append(f"worst false positives ({len(fps)} in all, most confident first):")
    lines.extend(_describe(m) for m in fps[:worst])
    lines.append("")
    lines.append(f"worst false negatives ({len(fns)} in all, least evidence first):")
    lines.extend(_describe(m) for m in fns[:worst])
    return "\n".join(lines)


def read_labeled(path: Path) -> list[dict[str, Any]]:
    """Read labeled JSON Lines, skipping blank lines."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    """Evaluate the default tagger on a labeled file: `python -m transforms.evaluation FILE`."""
    from transforms.tagging import load_tagger

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m transforms.evaluation LABELED.jsonl", file=sys.stderr)
        return 2
    report = evaluate(read_labeled(Path(args[0])), load_tagger())
    print(format_report(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
