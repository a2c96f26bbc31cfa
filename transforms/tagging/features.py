"""Features of one article for the learned scorer: where term families hit, actors, n-grams, length.

Dense features come from the rules' scan (`Tagger.analyse`), so the taxonomy stays the source
of candidate evidence in both languages and a topic added to it gets features without code.
Word n-grams (title and text, lowercased; CJK characters count as words) carry what the
taxonomy does not name; each keeps its offsets, so a weighted n-gram can be shown as evidence.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from typing import NamedTuple

from transforms.tagging.analysis import Analysis
from transforms.tagging.segmentation import MIN_SENTENCE_CHARS
from transforms.tagging.taxonomy import STRONG, WEAK, make_context_id

# A word: Latin letters and digits (with inner apostrophes or hyphens), or one CJK character.
# Words are read from the lowercased text; evidence offsets are found again in the original.
# Dotted abbreviations ("u.s.", "e.u.") are one word, not a run of single letters.
_TOKEN = re.compile(r"(?:[a-z]\.){2,}|[a-z0-9]+(?:['’\-][a-z0-9]+)*|[\u4e00-\u9fff]")
# Words that say nothing alone: as unigrams they are dropped, and a bigram needs one other word.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "from",
        "by",
        "with",
        "and",
        "or",
        "but",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "he",
        "she",
        "they",
        "we",
        "you",
        "i",
        "his",
        "her",
        "their",
        "our",
        "your",
        "them",
        "him",
        "not",
        "no",
        "said",
        "says",
        "will",
        "would",
        "can",
        "could",
        "may",
        "might",
        "has",
        "have",
        "had",
        "do",
        "does",
        "did",
        "than",
        "then",
        "so",
        "if",
        "into",
        "over",
        "after",
        "before",
        "about",
        "also",
        "more",
        "most",
        "new",
        "up",
        "out",
        "which",
        "who",
        "whom",
        "what",
        "when",
        "where",
        "while",
        "there",
        "here",
    ]
)
# Words of a short feed summary: below this the article is judged on headline and lede alone.
SHORT_WORDS = 80
US_CODES = frozenset({"US", "US-CN"})
CN_CODES = frozenset({"CN", "US-CN"})
# Per topic, what the rules' scan says about it.
TOPIC_FEATURES = (
    "rule",
    "head",
    "lede",
    "head_any",
    "body",
    "body_share",
    "strong",
    "sentences_any",
    "weak_head",
    "weak_any",
    "context_head",
    "context_lede",
    "context_body",
    "decisive",
)
US_CHINA_FEATURES = (
    "rule",
    "head_pair",
    "lede_pair",
    "body_pairs",
    "pair_share",
    "us_mentions",
    "cn_mentions",
    "both_present",
    "any_pair",
    "third_in_head",
    "head_lede_pair",
)
GLOBAL_FEATURES = ("log_words", "short", "title_only")


class Words(NamedTuple):
    """The lowercased words of an article's title and text, read once per article."""

    title: list[str]
    text: list[str]


def read_words(fields: dict[str, str]) -> Words:
    """Words of both fields; n-grams, the length features and evidence search all start here."""
    return Words(_TOKEN.findall(fields["title"].lower()), _TOKEN.findall(fields["text"].lower()))


def is_content_gram(gram: str) -> bool:
    """Whether an n-gram can carry meaning (and so be a feature and evidence): not only
    stopwords, and no lone Latin letter."""
    words = gram.removeprefix("t:").split(" ")
    if all(w in STOPWORDS for w in words):
        return False
    return not any(len(w) == 1 and w.isascii() for w in words)


def dense_names(topics: Sequence[str]) -> list[str]:
    """Names of the dense features, in vector order, for a taxonomy's topics."""
    names = [f"{t}:{f}" for t in topics for f in TOPIC_FEATURES]
    names += [f"us_china:{f}" for f in US_CHINA_FEATURES]
    names += [f"global:{f}" for f in GLOBAL_FEATURES]
    return names


def dense_features(
    analysis: Analysis, topics: Sequence[str], words: Words | None = None
) -> list[float]:
    """The dense feature vector of one analysed article (see dense_names)."""
    sentences = analysis.sentences
    body_total = sum(
        1 for s in sentences if not s.head and not s.lede and s.end - s.start >= MIN_SENTENCE_CHARS
    )
    rule = {t.topic: t.score for t in analysis.candidates}
    head: set[str] = set()
    lede: set[str] = set()
    body: dict[str, int] = {}
    for i, keep in analysis.accepted.items():
        s = sentences[i]
        for topic in keep:
            if s.head:
                head.add(topic)
            elif s.lede:
                lede.add(topic)
            else:
                body[topic] = body.get(topic, 0) + 1
    head_any: set[str] = set()
    weak_head: set[str] = set()
    weak_any: dict[str, int] = {}
    context_ids = {make_context_id(t): t for t in topics}
    context_where: dict[str, list[int]] = {t: [0, 0, 0] for t in topics}
    strong: dict[str, int] = {}
    anywhere: dict[str, int] = {}
    us = cn = pairs_body = 0
    head_pair = lede_pair = any_pair = third_head = 0.0
    head_us = head_cn = False  # across the headline and lede together, as a summary tells it
    for i, f in analysis.facts.items():
        s = sentences[i]
        seen: set[str] = set()
        for hit in f.hits:
            seen.add(hit.topic)
            if hit.role == STRONG:
                strong[hit.topic] = strong.get(hit.topic, 0) + 1
            elif hit.role == WEAK:
                weak_any[hit.topic] = weak_any.get(hit.topic, 0) + 1
                if s.head:
                    weak_head.add(hit.topic)
        for vocab_id in f.vocab:
            topic_of = context_ids.get(vocab_id)
            if topic_of is not None:
                context_where[topic_of][0 if s.head else 1 if s.lede else 2] += 1
        for topic in seen:
            anywhere[topic] = anywhere.get(topic, 0) + 1
            if s.head:
                head_any.add(topic)
        if not f.entities:
            continue
        countries = {eh.entity.country for eh in f.entities}
        has_us = bool(countries & US_CODES)
        has_cn = bool(countries & CN_CODES)
        us += sum(1 for eh in f.entities if eh.entity.country in US_CODES)
        cn += sum(1 for eh in f.entities if eh.entity.country in CN_CODES)
        if s.head or s.lede:
            head_us, head_cn = head_us or has_us, head_cn or has_cn
            if countries - {"US", "CN", "US-CN", ""} and not (has_us and has_cn):
                third_head = 1.0
        if has_us and has_cn:
            any_pair = 1.0
            if s.head:
                head_pair = 1.0
            elif s.lede:
                lede_pair = 1.0
            else:
                pairs_body += 1
    words_n = len((words or read_words(analysis.fields)).text)
    vector: list[float] = []
    for topic in topics:
        n_body = body.get(topic, 0)
        vector += [
            rule.get(topic, 0.0),
            float(topic in head),
            float(topic in lede),
            float(topic in head_any),
            math.log1p(n_body),
            n_body / body_total if body_total else 0.0,
            math.log1p(strong.get(topic, 0)),
            math.log1p(anywhere.get(topic, 0)),
            float(topic in weak_head),
            math.log1p(weak_any.get(topic, 0)),
            float(context_where[topic][0] > 0),
            float(context_where[topic][1] > 0),
            math.log1p(context_where[topic][2]),
            float(topic in analysis.decisive),
        ]
    vector += [
        analysis.us_china_score,
        head_pair,
        lede_pair,
        math.log1p(pairs_body),
        pairs_body / body_total if body_total else 0.0,
        math.log1p(us),
        math.log1p(cn),
        float(us > 0 and cn > 0),
        any_pair,
        third_head,
        float(head_us and head_cn),
    ]
    vector += [math.log1p(words_n), float(words_n < SHORT_WORDS), float(body_total == 0)]
    return vector


# What is not CJK, and what is not a Latin letter: removing it leaves the count (in C, with no
# list of one-character matches on the tagging hot path).
_NOT_CJK = re.compile(r"[^\u4e00-\u9fff]+")
_NOT_LATIN = re.compile(r"[^A-Za-z]+")


def dominant_script(fields: dict[str, str]) -> str:
    """ "cjk" or "latin": which writing the article is mostly in (a model knows what it saw)."""
    sample = fields["title"] + fields["text"][:2000]
    cjk = len(_NOT_CJK.sub("", sample))
    latin = len(_NOT_LATIN.sub("", sample))
    return "cjk" if cjk > latin / 4 else "latin"


def ngram_set(words: Words) -> set[str]:
    """Distinct unigrams and bigrams, title ones prefixed "t:": presence is what the model weighs."""
    text, title = words.text, words.title
    grams = set(text)
    grams.update(map("{} {}".format, text, text[1:]))
    grams.update(map("t:{}".format, title))
    grams.update(map("t:{} {}".format, title, title[1:]))
    return {g for g in grams if is_content_gram(g)}


def find_gram(fields: dict[str, str], gram: str) -> tuple[str, int, int] | None:
    """Where an n-gram first stands in the article: (field, start, end), for evidence."""
    field_name, words = ("title", gram[2:]) if gram.startswith("t:") else ("text", gram)
    match = gram_pattern(words).search(fields[field_name])
    return (field_name, match.start(), match.end()) if match else None


@functools.lru_cache(maxsize=4096)
def gram_pattern(words: str) -> re.Pattern[str]:
    """The regex that finds an n-gram's words in text, compiled once per n-gram."""
    body = r"\W*".join(re.escape(w) for w in words.split(" "))
    return re.compile(r"(?<![a-z0-9])" + body + r"(?![a-z0-9])", re.IGNORECASE)
