"""Evaluation of tagger output against hand-labeled JSON Lines (`tradewire eval-tags`)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from transforms.records import Evidence, TagResult, TopicTag

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
    explain = getattr(tagger, "explain", None)
    topic_ids: list[str] = list(getattr(getattr(tagger, "taxonomy", None), "topics", ()))
    topics: dict[str, Counts] = {t: Counts() for t in topic_ids}
    us_china = Counts()
    mistakes: list[Mistake] = []
    n = 0
    for record in records:
        n += 1
        title, text = record.get("title"), record.get("text") or ""
        record_id = str(record.get("id", n))
        if explain is not None:
            explanation = explain(title, text)
            result: TagResult = explanation.result
            near = _topic_map(explanation.near_misses)
        else:
            result, near = tagger.tag(title, text), {}
        predicted = _topic_map(result.topics)
        gold = set(record.get("topics") or ())
        for topic in sorted(set(topics) | gold | set(predicted)):
            counts = topics.get(topic, Counts())
            topics[topic] = counts.add(topic in predicted, topic in gold)
            if (topic in predicted) != (topic in gold):
                seen = predicted.get(topic) or near.get(topic)
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
    return EvalReport(n, tagger.version, topics, us_china, tuple(mistakes))


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
