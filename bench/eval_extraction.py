"""Extraction quality against the article-extraction-benchmark: our pipeline vs bare trafilatura.

For every page: token-level precision, recall and F1 of the extracted text against the
ground-truth articleBody, for `ingest.extraction.extract_item` (our decoding, settings and
clean-up) and for `trafilatura.extract(raw_bytes)` with default settings (trafilatura decodes
the bytes itself). Pages are grouped into sets by how our decoder chose the encoding, so a
decoding win or loss shows up in its own row. Pages where we are worse by more than
`WORSE_BY` F1 are listed with the likely cause.

    .venv/bin/python bench/eval_extraction.py [--corpus DIR] [--limit N] [--json OUT]

Exits 0 with a note when the corpus is absent (it lives in shared/, not in the repo).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "corpus" / "pages" / "article-extraction-benchmark"
WORSE_BY = 0.05
_TOKEN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\W_\u3400-\u9fff\uf900-\ufaff]+")


@dataclass(frozen=True)
class Score:
    """Token-level precision, recall and F1 of one text against the ground truth."""

    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class PageResult:
    """Both extractors' scores on one page, and what our decoder decided."""

    sha: str
    page_set: str
    ours: Score
    bare: Score
    our_text: str
    bare_text: str
    title: str | None
    error: str | None
    flags: tuple[str, ...] = ()  # quality flags our pipeline raised on the page


def tokens(text: str) -> Counter[str]:
    """Bag of lower-cased words (each CJK character a word)."""
    return Counter(_TOKEN.findall(text.lower()))


def score(predicted: str, truth: str) -> Score:
    """Multiset token overlap: the measure the benchmark's own evaluation uses."""
    got, want = tokens(predicted), tokens(truth)
    overlap = sum((got & want).values())
    precision = overlap / sum(got.values()) if got else (1.0 if not want else 0.0)
    recall = overlap / sum(want.values()) if want else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Score(precision, recall, f1)


def page_set(encoding: str | None, rule: str | None) -> str:
    """How the bytes were decoded: the rule, and whether the charset was UTF-8 or legacy."""
    kind = "utf-8" if encoding in ("utf-8", None) else "legacy"
    return f"{rule or 'failed'}/{kind}"


def evaluate_page(path: Path, sha: str, truth: dict[str, str]) -> PageResult:
    """Run both extractors on one page's bytes."""
    import trafilatura

    from ingest.extraction import extract_item
    from ingest.records import SourceItem

    raw = gzip.decompress(path.read_bytes())
    item = SourceItem(
        source="benchmark", location=str(path), kind="html.gz", raw_hash=sha, url=truth.get("url")
    )
    article = extract_item(item)
    bare_text = trafilatura.extract(raw) or ""
    body = truth.get("articleBody") or ""
    return PageResult(
        sha=sha,
        page_set=page_set(article.encoding, article.encoding_rule),
        ours=score(article.text, body),
        bare=score(bare_text, body),
        our_text=article.text,
        bare_text=bare_text,
        title=article.title,
        error=article.error,
        flags=tuple(
            name
            for name, raised in (
                ("is_truncated", article.is_truncated),
                ("published_at_conflict", article.published_at_conflict),
                ("language_conflict", article.language_conflict),
                ("canonical_ignored", article.canonical_ignored is not None),
                ("no_published_at", article.error is None and article.published_at is None),
            )
            if raised
        ),
    )


def explain(result: PageResult) -> str:
    """The likely reason we score lower than bare trafilatura on a page."""
    if result.error:
        return f"our extraction failed: {result.error}"
    bare_first = result.bare_text.split("\n", 1)[0].strip()
    if (
        result.title
        and bare_first == result.title.strip()
        and result.ours.recall < result.bare.recall
    ):
        return "title line stripped (ground truth keeps it)"
    if result.ours.recall < result.bare.recall - WORSE_BY:
        missing = tokens(result.bare_text) - tokens(result.our_text)
        return f"lower recall: bare text has {sum(missing.values())} tokens ours lacks"
    if result.ours.precision < result.bare.precision - WORSE_BY:
        extra = tokens(result.our_text) - tokens(result.bare_text)
        return f"lower precision: ours has {sum(extra.values())} tokens bare lacks"
    return "mixed"


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def summarise(results: Sequence[PageResult]) -> dict[str, Any]:
    """Mean precision/recall/F1 per set and overall, for both extractors."""
    groups: dict[str, list[PageResult]] = defaultdict(list)
    for r in results:
        groups[r.page_set].append(r)
    groups["ALL"] = list(results)
    out: dict[str, Any] = {}
    for name, rows in sorted(groups.items()):
        out[name] = {
            "pages": len(rows),
            **{
                f"{who}_{metric}": round(mean([getattr(getattr(r, who), metric) for r in rows]), 4)
                for who in ("ours", "bare")
                for metric in ("precision", "recall", "f1")
            },
        }
    return out


def format_table(summary: dict[str, Any]) -> str:
    """Per-set and overall figures as a fixed-width table."""
    head = f"{'set':<22}{'pages':>6}  {'ours P/R/F1':>20}  {'bare P/R/F1':>20}  {'dF1':>7}"
    lines = [head, "-" * len(head)]
    for name, s in summary.items():
        ours = f"{s['ours_precision']:.3f}/{s['ours_recall']:.3f}/{s['ours_f1']:.3f}"
        bare = f"{s['bare_precision']:.3f}/{s['bare_recall']:.3f}/{s['bare_f1']:.3f}"
        delta = s["ours_f1"] - s["bare_f1"]
        lines.append(f"{name:<22}{s['pages']:>6}  {ours:>20}  {bare:>20}  {delta:>+7.3f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--limit", type=int, help="first N pages only (a quick look)")
    parser.add_argument("--json", type=Path, help="also write per-page results here")
    args = parser.parse_args(argv)
    truth_file = args.corpus / "ground-truth.json"
    if not truth_file.is_file():
        print(f"skipped: no benchmark at {args.corpus}")
        return 0
    truth: dict[str, dict[str, str]] = json.loads(truth_file.read_text(encoding="utf-8"))
    shas = sorted(truth)[: args.limit] if args.limit else sorted(truth)
    results = []
    for sha in shas:
        path = args.corpus / "html" / f"{sha}.html.gz"
        if path.is_file():
            results.append(evaluate_page(path, sha, truth[sha]))
    summary = summarise(results)
    print(format_table(summary))
    worse = [r for r in results if r.ours.f1 < r.bare.f1 - WORSE_BY]
    better = [r for r in results if r.ours.f1 > r.bare.f1 + WORSE_BY]
    print(f"\npages better by > {WORSE_BY} F1: {len(better)}")
    print(f"pages worse by > {WORSE_BY} F1: {len(worse)}")
    for r in worse:
        print(
            f"  {r.sha[:12]} {r.page_set:<20} ours {r.ours.f1:.3f} bare {r.bare.f1:.3f}: {explain(r)}"
        )
    flagged = Counter(flag for r in results for flag in r.flags)
    print(
        "quality flags on these (complete, free) pages: "
        + ", ".join(f"{name} {flagged[name]}" for name in sorted(flagged))
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "summary": summary,
                    "pages": [
                        {
                            "sha": r.sha,
                            "set": r.page_set,
                            "ours": vars(r.ours),
                            "bare": vars(r.bare),
                        }
                        for r in results
                    ],
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
