"""A source's declared language as the prior for language detection.

py3langid is sure of long, clean text and unsure of headlines, tables and mixed scripts. A
registry source that says `language = "zh"` knows better than a guess at 50%: the prior
decides unless the detector is confident of another language (a feed that mixes languages
still gets each article's own), and provenance says which one decided.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

logger = logging.getLogger(__name__)

MIN_TEXT_CHARS = 20  # below this py3langid is not asked at all
CONFIDENT = 0.95  # normalised probability above which detection overrides the source's prior
LANGUAGE_SAMPLE = 5000


@lru_cache(maxsize=1)
def load_identifier() -> Any:
    """py3langid with normalised probabilities, loaded once per process (it takes a moment)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def primary_subtag(language: str) -> str:
    """'zh-CN' -> 'zh': py3langid answers ISO 639-1 codes."""
    return language.strip().lower().replace("_", "-").split("-", 1)[0]


def choose_language(text: str, prior: str | None) -> tuple[str | None, str]:
    """The article's language and the provenance rule that chose it, given a source's prior."""
    if prior is None:
        raise ValueError("choose_language needs a prior; use detect_language without one")
    expected = primary_subtag(prior)
    if len(text.strip()) < MIN_TEXT_CHARS:
        return expected, f"source:{expected}"
    detected, probability = load_identifier().classify(text[:LANGUAGE_SAMPLE])
    detected = str(detected)
    if detected == expected:
        return detected, f"detected:py3langid+source:{expected}"
    if float(probability) >= CONFIDENT:
        logger.debug(
            "language %s (p=%.2f) overrides the source's %s", detected, probability, expected
        )
        return detected, "detected:py3langid"
    return expected, f"source:{expected}"
