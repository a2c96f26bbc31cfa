"""Is the body we extracted the whole article, or a paywalled teaser / cut-short copy?

Signals (each one named in ``truncation_reason``, ``;``-joined):

* ``http-status:N`` – the fetch answered 401, 402, 403 or 451 (gated);
* ``jsonld:isAccessibleForFree=false`` – the publisher declares the article gated; counted
  unless the body reaches ``FULL_RATIO`` of the declared ``wordCount`` (full text served anyway);
* ``paywall-class:TOKEN`` – gated-content class/id markup (``paywall``, ``subscriber-only``,
  ``meteredContent``…); weaker (sites ship the markup on free stories too), so it counts only
  with a short body (< ``SHORT_BODY`` words) or a body ending mid-sentence;
* ``short-vs-wordcount:GOT/DECLARED`` – body under ``SHORT_RATIO`` of JSON-LD ``wordCount``;
* ``short-vs-feed-summary:GOT/SUMMARY`` – body shorter than ``SHORT_RATIO`` of the feed summary;
* ``paywall-prompt`` – the body ends with "subscribe to continue reading"-style text;
* ``teaser-ends-mid-sentence`` – a short body whose last paragraph stops without sentence
  punctuation or with an ellipsis.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.pagemeta import PageMeta

GATED_STATUSES = frozenset({401, 402, 403, 451})
SHORT_RATIO = 0.5
FULL_RATIO = 0.8
SHORT_BODY = 400
TEASER_BODY = 200
_SENTENCE_END = re.compile(r"[.!?。！？\"'”’»)\]]\s*$")
_ELLIPSIS_END = re.compile(r"(?:\.\.\.|…)\s*[\"'”’]?\s*$")
_PROMPT = re.compile(
    r"(subscribe|subscription|sign in|log in|register|subscribers? only|become a member)"
    r"[^\n]{0,80}(continue|read|full|access|rest of)|"
    r"(to continue reading|to read the full|read the full (article|story)|"
    r"this (article|content) is (only )?(available|reserved) (to|for) subscribers)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Truncation:
    """Whether the body is cut short, and every signal that says so."""

    is_truncated: bool
    reason: str | None


def _as_int(value: object) -> int | None:
    try:
        return int(str(value).replace(",", "").strip())
    except (TypeError, ValueError):
        return None


def _declared_free(value: object) -> bool | None:
    """JSON-LD isAccessibleForFree as a bool; publishers write it as bool or string."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("false", "true"):
        return value.strip().lower() == "true"
    return None


def ends_mid_sentence(text: str) -> bool:
    """The last paragraph stops without sentence punctuation, or trails off with an ellipsis."""
    last = text.rstrip().rsplit("\n", 1)[-1].strip()
    if not last:
        return False
    if _ELLIPSIS_END.search(last):
        return True
    if _SENTENCE_END.search(last):
        return False
    # Credit lines ("Reporting by Jane Doe; Editing by ...") end in a capitalised name; a cut
    # sentence ends in a lower-case word, a comma or a CJK character in a long paragraph.
    end = last[-1]
    cut_word = last.split()[-1][0].islower() or end in ",;:–—-"
    cut_cjk = "\u3400" <= end <= "\u9fff" and len(last) >= 20
    return (cut_word and len(last.split()) >= 6) or cut_cjk


def assess_truncation(
    meta: PageMeta,
    *,
    text: str,
    word_count: int,
    http_status: int | None,
    summary_words: int | None,
) -> Truncation:
    """Apply the module's signals; any one of them marks the article truncated."""
    reasons: list[str] = []
    if http_status in GATED_STATUSES:
        reasons.append(f"http-status:{http_status}")
    declared = _as_int(meta.jsonld_value("wordCount"))
    free = _declared_free(meta.jsonld_value("isAccessibleForFree"))
    if free is False and not (declared and word_count >= FULL_RATIO * declared):
        reasons.append("jsonld:isAccessibleForFree=false")
    mid_sentence = ends_mid_sentence(text)
    if meta.paywall_markers and (word_count < SHORT_BODY or mid_sentence):
        reasons.append(f"paywall-class:{meta.paywall_markers[0]}")
    if declared and declared > 0 and word_count < SHORT_RATIO * declared:
        reasons.append(f"short-vs-wordcount:{word_count}/{declared}")
    if summary_words and word_count < SHORT_RATIO * summary_words:
        reasons.append(f"short-vs-feed-summary:{word_count}/{summary_words}")
    tail = text[-300:]
    if _PROMPT.search(tail):
        reasons.append("paywall-prompt")
    if word_count < TEASER_BODY and mid_sentence:
        reasons.append("teaser-ends-mid-sentence")
    return Truncation(bool(reasons), ";".join(reasons) or None)
