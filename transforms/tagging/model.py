"""The learned scorer: a linear model per label over the article's features, applied with numpy.

Training (transforms/tagging/training.py) needs scikit-learn; applying a model needs only the
stored weights, so extraction workers stay lean. The model file is JSON, versioned by a hash of
its content, and its version lands on every tag row beside the taxonomy version.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from transforms.tagging.features import Words

logger = logging.getLogger(__name__)

DEFAULT_MODEL = Path(__file__).with_name("model.json")
# Articles in a script (Latin, CJK) a model saw fewer of than this are tagged by the rules:
# the model's n-grams and weights say nothing about a language it was not trained on.
MIN_SCRIPT_ARTICLES = 20
US_CHINA = "us_china"
FORMAT = 1


class ModelError(ValueError):
    """A model file that cannot be read or does not fit the taxonomy it is used with."""


@dataclass(frozen=True)
class TagModel:
    """Weights of one linear model per label; probabilities are logistic, thresholds per label."""

    labels: tuple[str, ...]  # "us_china" first, then topic ids
    dense_names: tuple[str, ...]
    mean: np.ndarray  # per dense feature, for standardising
    scale: np.ndarray
    dense_weights: np.ndarray  # (labels, dense features)
    bias: np.ndarray  # (labels,)
    grams: dict[str, int]  # n-gram -> row of gram_weights
    gram_weights: np.ndarray  # (grams, labels)
    thresholds: np.ndarray  # (labels,) probability at which a label is assigned
    trained_on: dict[str, Any] = field(default_factory=dict)  # labeled rows, taxonomy, params
    version: str = ""
    # Derived in __post_init__: n-gram second words by first word, and the dense weights with
    # the standardising folded in (one product per article instead of three).
    heads: dict[str, frozenset[str]] = field(init=False, repr=False, compare=False)
    folded: np.ndarray = field(init=False, repr=False, compare=False)
    folded_bias: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Index the n-grams by their first word, so an article builds only bigrams that count."""
        heads: dict[str, set[str]] = {}
        for gram in self.grams:
            first, _, second = gram.partition(" ")
            if second:
                heads.setdefault(first, set()).add(second)
        object.__setattr__(self, "heads", {k: frozenset(v) for k, v in heads.items()})
        folded = self.dense_weights / self.scale
        object.__setattr__(self, "folded", folded)
        object.__setattr__(self, "folded_bias", self.bias - folded @ self.mean)

    def known_grams(self, words: Words) -> list[str]:
        """The article's distinct n-grams that carry a weight in this model (see ngram_set)."""
        grams = self.grams
        heads = self.heads
        found = {w for w in words.text if w in grams}
        found.update(
            f"{a} {b}"
            for a, b in zip(words.text, words.text[1:], strict=False)
            if a in heads and b in heads[a]
        )
        title = ["t:" + w for w in words.title]
        found.update(w for w in title if w in grams)
        found.update(
            f"{a} {b[2:]}"
            for a, b in zip(title, title[1:], strict=False)
            if a in heads and b[2:] in heads[a]
        )
        return list(found)

    def probabilities(self, dense: Sequence[float], known: Sequence[str]) -> np.ndarray:
        """P(label | article) for every label, from dense features (in dense_names order)
        and the article's known n-grams (see known_grams)."""
        z = self.folded @ np.asarray(dense, dtype=float) + self.folded_bias
        if known:
            z = z + self.gram_weights[[self.grams[g] for g in known]].sum(axis=0)
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0)))

    def top_grams(self, known: Sequence[str], label: int, limit: int) -> list[str]:
        """Of the article's known n-grams, those that raise one label's score most."""
        if not known:
            return []
        weights = self.gram_weights[[self.grams[g] for g in known], label]
        order = np.argsort(-weights)[:limit]
        return [known[i] for i in order if weights[i] > 0]

    def covers(self, script: str) -> bool:
        """Whether the model saw enough training articles written in this script."""
        scripts = self.trained_on.get("scripts") or {}
        return int(scripts.get(script, 0)) >= MIN_SCRIPT_ARTICLES

    def to_json(self) -> dict[str, Any]:
        """The file form: plain lists, weights rounded (a diff-able, small file)."""
        grams = sorted(self.grams, key=self.grams.__getitem__)
        return {
            "format": FORMAT,
            "labels": list(self.labels),
            "dense_names": list(self.dense_names),
            "mean": _rounded(self.mean),
            "scale": _rounded(self.scale),
            "dense_weights": [_rounded(r) for r in self.dense_weights],
            "bias": _rounded(self.bias),
            "thresholds": _rounded(self.thresholds),
            "grams": {g: _rounded(self.gram_weights[self.grams[g]]) for g in grams},
            "trained_on": self.trained_on,
        }


def _rounded(values: np.ndarray) -> list[float]:
    """Five significant decimals: enough for the model, short enough for a small file."""
    return [round(float(v), 5) for v in values]


def model_from_json(data: dict[str, Any]) -> TagModel:
    """Build a model from its file form; the version is the hash of that form."""
    if data.get("format") != FORMAT:
        raise ModelError(f"unknown model format {data.get('format')!r} (expected {FORMAT})")
    labels = tuple(data["labels"])
    grams = data["grams"]
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False).encode("utf-8")
    gram_weights = np.array(list(grams.values()), dtype=float).reshape(len(grams), len(labels))
    return TagModel(
        labels=labels,
        dense_names=tuple(data["dense_names"]),
        mean=np.array(data["mean"], dtype=float),
        scale=np.array(data["scale"], dtype=float),
        dense_weights=np.array(data["dense_weights"], dtype=float).reshape(len(labels), -1),
        bias=np.array(data["bias"], dtype=float),
        grams={g: i for i, g in enumerate(grams)},
        gram_weights=gram_weights,
        thresholds=np.array(data["thresholds"], dtype=float),
        trained_on=dict(data.get("trained_on") or {}),
        version="m" + hashlib.sha256(canonical).hexdigest()[:10],
    )


def with_version(model: TagModel) -> TagModel:
    """The same model stamped with the version its file form will have."""
    return model_from_json(json.loads(json.dumps(model.to_json())))


def save_model(model: TagModel, path: Path) -> Path:
    """Write the model file (atomically: a tagger never reads half a model)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(format_model(model.to_json()), "utf-8")
    tmp.replace(path)
    return path


def format_model(data: dict[str, Any]) -> str:
    """JSON with one key (and one n-gram) per line, so a retrained model diffs readably."""

    def compact(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    lines = []
    for key, value in data.items():
        if key == "grams":
            grams = [f"  {compact(g)}:{compact(w)}" for g, w in value.items()]
            lines.append('"grams":{\n' + ",\n".join(grams) + "\n}")
        else:
            lines.append(f"{compact(key)}:{compact(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def load_model(path: Path) -> TagModel:
    """Read a model file, with an error that names it when it is unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"cannot read tagging model {path}: {exc}") from exc
    try:
        model = model_from_json(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"tagging model {path} is malformed: {exc}") from exc
    logger.debug(
        "tagging model %s loaded from %s (%d n-grams)", model.version, path, len(model.grams)
    )
    return model
