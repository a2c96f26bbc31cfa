"""Word counts that compare across scripts: one per Latin-script word, one per CJK character."""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[^\W\d_\u3400-\u9fff\uf900-\ufaff]+(?:['’-][^\W\d_]+)*|\d+(?:[.,]\d+)*")


def count_words(text: str) -> int:
    """Words for Latin scripts plus one per CJK character, so Chinese counts are comparable."""
    return len(_LATIN_WORD.findall(text)) + len(_CJK.findall(text))
