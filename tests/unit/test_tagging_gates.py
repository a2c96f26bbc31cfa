"""Unit tests for the literal gates read from taxonomy pattern sources."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from transforms.tagging.gates import compile_gate, find_literal_starts
from transforms.tagging.taxonomy import DEFAULT_TAXONOMY, load_taxonomy

PACKAGE = Path(__file__).resolve().parents[2] / "transforms" / "tagging"


@pytest.mark.parametrize(
    ("pattern", "starts"),
    [
        ("tariff", {"tariff"}),
        ("Tariff Wall", {"tariff wall"}),
        (
            r"at\s+the\s+(?:heart|centre|core)\s+of",
            {"at the heart", "at the centre", "at the core"},
        ),
        (r"(?:licen[cs]es?|licensing)\s+for", {"licen", "licensing"}),
        (r"dominat(?:e|ed|ing)\s+the", {"dominate", "dominated", "dominating"}),
        (r"(?P<x>yuan|RMB)\s+peg", {"yuan", "rmb"}),
        (r"a|b", {"a", "b"}),
        (r"\$\d+", {"$"}),
        (r"\(a\)", {"(a)"}),
        (r"abc?", {"ab"}),
        (r"ab{2}", {"a"}),
        (r"a\s*b", {"a"}),
        (r"a\s+?b", {"a"}),
        (r"a\s{2,}b", {"a b"}),
        (r"a\sb", {"a"}),
        (r"x(?:y)?z", {"x"}),
        (r"x(?=y)", {"x"}),
        (r"(?:x[)|]y|z)w", {"x", "z"}),
        (r"(?:a(?:b|c)d|e)f", {"ab", "ac", "e"}),
    ],
)
def test_literal_starts(pattern: str, starts: set[str]) -> None:
    assert find_literal_starts(pattern) == starts


@pytest.mark.parametrize(
    "pattern",
    [r"\w+ing", r"(?:\w+ly\s+)?on", r".foo", r"[ab]c", r"(?=x)abc", r"ab|\d", r"(?:a|)", r"^a"],
)
def test_no_literal_start(pattern: str) -> None:
    assert find_literal_starts(pattern) is None


def test_gate_keeps_shortest_prefixes() -> None:
    gate = compile_gate(["ban", "bans", "banned", "curb"])
    assert gate.pattern == "ban|curb"


def test_gates_admit_every_match_of_the_real_patterns() -> None:
    taxonomy = load_taxonomy()
    text = (
        "Talks focused mainly on soybeans. Soybeans were at the heart of the talks; chips were "
        "front and centre. Beijing banned sales of chips to Micron and imposed controls on "
        "gallium exports. Washington blocked the $1.2 billion takeover after a second round of "
        "trade talks, as the yuan strengthened and licence requirements for exports tightened."
    )
    lowered = text.lower()
    seen = 0
    for topic, rx in taxonomy.patterns.items():
        gate = taxonomy.pattern_gates.get(topic)
        for m in rx.finditer(text):
            seen += 1
            assert gate is None or gate.search(lowered, m.start(), m.end()), (topic, m.group())
    assert seen >= 6


def test_taxonomy_source_uses_no_private_regex_modules() -> None:
    private = re.compile(r"\b(?:sre_parse|sre_constants|_parser|_constants)\b")
    for module in sorted(PACKAGE.glob("*.py")):
        assert not private.search(module.read_text(encoding="utf-8")), module.name
    assert DEFAULT_TAXONOMY.is_file()
