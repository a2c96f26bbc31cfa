"""The taxonomy compiled from taxonomy.toml, so topics and their vocabulary are data, not code."""

from __future__ import annotations

import hashlib
import logging
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transforms.tagging.gates import compile_gate, find_literal_starts

logger = logging.getLogger(__name__)

# The data file stays beside the other transforms data (the gazetteer), where docs point editors.
DEFAULT_TAXONOMY = Path(__file__).parent.parent / "taxonomy.toml"

# Rule roles a taxonomy term can play for its topic.
STRONG, WEAK, FALSE_FRIEND = "strong", "weak", "false"
FOCUS_TOPIC = "_focus"

# Kinds of reference in the combined matcher: a taxonomy term, a gazetteer alias, a vocabulary
# word (context, exclusion, economy) that only matters by being present in a sentence.
TERM, ENTITY, VOCAB = "t", "g", "v"
ECONOMY = "economy"
Ref = tuple[str, str, str]


def make_context_id(topic: str) -> str:
    """Name a topic's context vocabulary, so it shares the matcher with every other word list."""
    return "c:" + topic


def make_exclude_id(topic: str) -> str:
    """Name a topic's exclusion vocabulary, so it shares the matcher with every other word list."""
    return "x:" + topic


@dataclass(frozen=True)
class TopicRule:
    """Per-topic settings beyond its vocabulary."""

    description: str
    context_topics: frozenset[str]  # other topics whose terms count as this topic's context
    exclude_topics: frozenset[str]  # other topics whose terms veto this topic in a sentence
    sentence_context: bool  # context must be in the same sentence, not just nearby


@dataclass(frozen=True)
class Taxonomy:
    """Compiled taxonomy: topic ids, term and vocabulary entries and the pattern regexes."""

    version: str
    topics: tuple[str, ...]
    rules: dict[str, TopicRule]
    entries: tuple[tuple[str, bool, Ref], ...]  # terms and vocabularies for the matcher
    patterns: dict[str, re.Pattern[str]]  # topic (or the focus pseudo-topic) -> its patterns
    pattern_roles: dict[str, dict[str, str]]  # topic -> regex group name -> role
    content_hash: str
    # topic -> a regex of the literal starts (lower-cased) one of which every match of its
    # patterns contains; None when some pattern has none (then it runs wherever the topic is)
    pattern_gates: dict[str, re.Pattern[str] | None] = field(default_factory=dict)


def read_strings(data: dict[str, Any], key: str, where: str) -> list[str]:
    """Read a list of strings from the taxonomy, refusing other shapes so typos surface."""
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"taxonomy {where}.{key}: expected a list of strings")
    return value


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """Read the taxonomy TOML and compile its terms and patterns once, for every article after."""
    source = (path or DEFAULT_TAXONOMY).read_bytes()
    data = tomllib.loads(source.decode("utf-8"))
    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise ValueError("taxonomy: a non-empty `version` string is required")
    entries: list[tuple[str, bool, Ref]] = []
    patterns: list[tuple[str, tuple[str, str]]] = []

    def add_rules(section: dict[str, Any], where: str, topic: str, role: str, prefix: str) -> None:
        """Add a section's terms and patterns in one role, English and Chinese alike."""
        for lang in ("en", "zh"):
            for term in read_strings(section, f"{prefix}terms_{lang}", where):
                entries.append((term, True, (TERM, topic, role)))
        for pattern in read_strings(section, f"{prefix}patterns_en", where):
            patterns.append((pattern, (topic, role)))

    def add_vocabulary(section: dict[str, Any], where: str, key: str, vocab: str) -> None:
        """Add a word list that matters only by being present in a sentence."""
        for lang in ("en", "zh"):
            for term in read_strings(section, f"{key}_{lang}", where):
                entries.append((term, True, (VOCAB, vocab, "")))

    add_rules(data.get("focus", {}), "focus", FOCUS_TOPIC, STRONG, "")
    add_vocabulary(data.get("economy", {}), "economy", "terms", ECONOMY)
    topics: list[str] = []
    rules: dict[str, TopicRule] = {}
    for topic, section in data.get("topics", {}).items():
        where = f"topics.{topic}"
        topics.append(topic)
        scope = section.get("context_scope", "passage")
        if scope not in ("passage", "sentence"):
            raise ValueError(f"taxonomy {where}.context_scope: expected passage or sentence")
        rules[topic] = TopicRule(
            description=str(section.get("description", "")),
            context_topics=frozenset(read_strings(section, "context_topics", where)),
            exclude_topics=frozenset(read_strings(section, "exclude_topics", where)),
            sentence_context=scope == "sentence",
        )
        add_vocabulary(section, where, "context", make_context_id(topic))
        add_vocabulary(section, where, "exclude", make_exclude_id(topic))
        add_rules(section, where, topic, STRONG, "")
        add_rules(section, where, topic, WEAK, "weak_")
        for lang in ("en", "zh"):
            for term in read_strings(section, f"false_friends_{lang}", where):
                entries.append((term, True, (TERM, topic, FALSE_FRIEND)))
    alternatives: dict[str, list[str]] = {}
    pattern_roles: dict[str, dict[str, str]] = {}
    anchors: dict[str, tuple[str, ...] | None] = {}
    for i, (pattern, (topic, role)) in enumerate(patterns):
        re.compile(pattern)  # report a bad pattern by itself, not inside the combined regex
        starts = find_literal_starts(pattern)
        known = anchors.get(topic, ())
        anchors[topic] = None if starts is None or known is None else known + tuple(starts)
        name = f"p{i}"
        pattern_roles.setdefault(topic, {})[name] = role
        alternatives.setdefault(topic, []).append(f"(?P<{name}>{pattern})")
    compiled = {
        topic: re.compile(
            r"(?<![0-9A-Za-z])(?:" + "|".join(alts) + r")(?![0-9A-Za-z])", re.IGNORECASE
        )
        for topic, alts in alternatives.items()
    }
    ungated = sorted(topic for topic, words in anchors.items() if words is None)
    logger.debug(
        "taxonomy %s: %d topics, %d entries, %d patterns; patterns without a gate: %s",
        version,
        len(topics),
        len(entries),
        len(patterns),
        ", ".join(ungated) or "none",
    )
    return Taxonomy(
        version=version,
        topics=tuple(topics),
        rules=rules,
        entries=tuple(entries),
        patterns=compiled,
        pattern_roles=pattern_roles,
        content_hash=hashlib.sha256(source).hexdigest(),
        pattern_gates={
            topic: None if words is None else compile_gate(words)
            for topic, words in anchors.items()
        },
    )
