"""Training the learned scorer from labeled JSON Lines, with its choices made on inner folds.

Regularisation strength and each label's threshold are chosen by cross-validation inside the
rows given, so `tradewire eval-tags` can call this on each outer training fold and every figure
it prints is measured on articles the whole procedure never saw.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from transforms.settings import REPO_ROOT
from transforms.tagging.features import (
    dense_features,
    dense_names,
    dominant_script,
    ngram_set,
    read_words,
)
from transforms.tagging.model import DEFAULT_MODEL, US_CHINA, TagModel, load_model, with_version
from transforms.tagging.tagger import Tagger

logger = logging.getLogger(__name__)

# Inverse regularisation strengths tried on the inner folds; the rest is fixed by design.
C_GRID = (0.3, 1.0, 3.0, 10.0)
GRAM_SCALE = 0.1  # n-grams are regularised this much more than the taxonomy's features
MIN_GRAM_DOCS = 3  # an n-gram must appear in this many training articles
MAX_GRAMS = 3000  # kept by weight, so the model file stays small
INNER_FOLDS = 3
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.2, 0.71, 0.05))


class TrainingError(ValueError):
    """Labeled rows that cannot train a model (too few, or a label with no positive)."""


@dataclass(frozen=True)
class Example:
    """One labeled article as features: what training and cross-validation iterate over."""

    dense: list[float]
    grams: set[str]
    labels: list[int]  # 0/1 per model label
    group: str  # stratification key
    script: str  # "latin" or "cjk", see features.dominant_script


def labels_for(tagger: Tagger) -> tuple[str, ...]:
    """The model's labels: us_china, then every topic of the tagger's taxonomy."""
    return (US_CHINA, *tagger.taxonomy.topics)


def make_examples(rows: Sequence[dict[str, Any]], tagger: Tagger) -> list[Example]:
    """Analyse each labeled row once; training folds reuse the features."""
    labels = labels_for(tagger)
    topics = labels[1:]
    examples = []
    for row in rows:
        analysis = tagger.analyse(row.get("title"), row.get("text") or "")
        gold = set(row.get("topics") or ())
        values = [int(bool(row.get(US_CHINA)))] + [int(t in gold) for t in topics]
        words = read_words(analysis.fields)
        examples.append(
            Example(
                dense=dense_features(analysis, topics, words),
                grams=ngram_set(words),
                labels=values,
                group=stratum(row, topics),
                script=dominant_script(analysis.fields),
            )
        )
    return examples


def stratum(row: dict[str, Any], topics: Sequence[str]) -> str:
    """Stratification key: us_china and the article's first topic in taxonomy order."""
    gold = set(row.get("topics") or ())
    first = next((t for t in topics if t in gold), "none")
    return f"{int(bool(row.get(US_CHINA)))}:{first}"


def fold_indices(groups: Sequence[str], folds: int, seed: int = 0) -> list[np.ndarray]:
    """Test indices of stratified folds; rare strata are pooled so every fold gets some."""
    from sklearn.model_selection import StratifiedKFold

    counts = Counter(groups)
    pooled = [g if counts[g] >= folds else g.split(":", 1)[0] + ":rare" for g in groups]
    counts = Counter(pooled)
    pooled = [g if counts[g] >= folds else "rare" for g in pooled]
    counts = Counter(pooled)
    if counts.get("rare", folds) < folds:  # too few even pooled: they join the largest stratum
        largest = counts.most_common(1)[0][0]
        pooled = [largest if g == "rare" else g for g in pooled]
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [test for _, test in splitter.split(np.zeros(len(pooled)), pooled)]


class _Design:
    """Feature matrices for a set of training examples: standardised dense columns, n-grams."""

    def __init__(self, train: Sequence[Example]) -> None:
        dense = np.array([e.dense for e in train], dtype=float)
        self.mean = dense.mean(axis=0)
        self.scale = dense.std(axis=0)
        self.scale[self.scale < 1e-6] = 1.0
        df = Counter(g for e in train for g in e.grams)
        kept = sorted(g for g, n in df.items() if n >= MIN_GRAM_DOCS)
        self.grams = {g: i for i, g in enumerate(kept)}

    def matrix(self, examples: Sequence[Example]) -> Any:
        """Rows of [standardised dense | GRAM_SCALE x n-gram presence] as a sparse matrix."""
        from scipy import sparse

        dense = (np.array([e.dense for e in examples], dtype=float) - self.mean) / self.scale
        rows, cols = [], []
        for r, e in enumerate(examples):
            for g in e.grams:
                c = self.grams.get(g)
                if c is not None:
                    rows.append(r)
                    cols.append(c)
        grams = sparse.csr_matrix(
            (np.full(len(rows), GRAM_SCALE), (rows, cols)), shape=(len(examples), len(self.grams))
        )
        return sparse.hstack([sparse.csr_matrix(dense), grams]).tocsr()


def label_columns(labels: Sequence[str], n_grams: int) -> list[np.ndarray]:
    """Per label, the columns its model sees: its own feature block, the article's global
    features, every label's rule score, and the n-grams. Few features per label generalise
    better from a few hundred articles than every block for every label."""
    names = dense_names(labels[1:])
    n_dense = len(names)
    grams = np.arange(n_dense, n_dense + n_grams)
    columns = []
    for label in labels:
        own = [
            i
            for i, name in enumerate(names)
            if name.startswith(f"{label}:") or name.startswith("global:") or name.endswith(":rule")
        ]
        columns.append(np.concatenate([np.array(own, dtype=int), grams]))
    return columns


def _fit(x: Any, y: np.ndarray, c: float) -> Any:
    """One label's logistic regression; a label with one class gets a constant model."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=5000)
    if y.min() == y.max():
        return None
    model.fit(x, y)
    return model


def _predict(model: Any, x: Any, y_const: int) -> np.ndarray:
    """Probabilities of the positive class; a constant model predicts its one class."""
    if model is None:
        return np.full(x.shape[0], float(y_const))
    return np.asarray(model.predict_proba(x)[:, 1])


def _f1(gold: np.ndarray, predicted: np.ndarray) -> float:
    """F1 of one label's decisions."""
    tp = int(((gold == 1) & (predicted == 1)).sum())
    fp = int(((gold == 0) & (predicted == 1)).sum())
    fn = int(((gold == 1) & (predicted == 0)).sum())
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def best_threshold(gold: np.ndarray, probabilities: np.ndarray) -> float:
    """The threshold with the best F1 on out-of-fold probabilities; ties go nearest 0.5."""
    return max(
        THRESHOLDS, key=lambda t: (_f1(gold, (probabilities >= t).astype(int)), -abs(t - 0.5))
    )


def choose_settings(
    examples: Sequence[Example], labels: Sequence[str], seed: int
) -> tuple[float, np.ndarray]:
    """C and per-label thresholds that maximise F1 on out-of-fold predictions (inner CV)."""
    y = np.array([e.labels for e in examples])
    folds = fold_indices([e.group for e in examples], INNER_FOLDS, seed)
    best: tuple[float, float, np.ndarray] | None = None
    for c in C_GRID:
        oof = np.zeros(y.shape)
        for test in folds:
            train = np.setdiff1d(np.arange(len(examples)), test)
            design = _Design([examples[i] for i in train])
            x_train = design.matrix([examples[i] for i in train])
            x_test = design.matrix([examples[i] for i in test])
            columns = label_columns(labels, len(design.grams))
            for label in range(y.shape[1]):
                cols = columns[label]
                model = _fit(x_train[:, cols], y[train, label], c)
                oof[test, label] = _predict(model, x_test[:, cols], int(y[train, label][0]))
        thresholds = np.array([best_threshold(y[:, k], oof[:, k]) for k in range(y.shape[1])])
        score = float(
            np.mean(
                [_f1(y[:, k], (oof[:, k] >= thresholds[k]).astype(int)) for k in range(y.shape[1])]
            )
        )
        logger.debug("C=%s: mean inner F1 %.3f", c, score)
        if best is None or score > best[0]:
            best = (score, c, thresholds)
    assert best is not None
    return best[1], best[2]


def shipped_labels() -> Path | None:
    """The labeled file the shipped model was trained on, when this machine has it."""
    if not DEFAULT_MODEL.is_file():
        return None
    for name in load_model(DEFAULT_MODEL).trained_on.get("labels") or ():
        path = (REPO_ROOT / name).resolve()
        if path.is_file():
            return path
    return None


def train_model(
    rows: Sequence[dict[str, Any]],
    tagger: Tagger,
    *,
    seed: int = 0,
    examples: Sequence[Example] | None = None,
    sources: Sequence[Path] = (),
) -> TagModel:
    """Train one model per label on the labeled rows; settings chosen on inner folds."""
    labels = labels_for(tagger)
    if examples is None:
        examples = make_examples(rows, tagger)
    if len(examples) < 10 * INNER_FOLDS:
        raise TrainingError(f"{len(examples)} labeled articles: at least {10 * INNER_FOLDS} needed")
    y = np.array([e.labels for e in examples])
    empty = [labels[i] for i in range(len(labels)) if y[:, i].sum() == 0]
    if empty:
        logger.warning("no labeled article has %s: the model never assigns it", ", ".join(empty))
    c, thresholds = choose_settings(examples, labels, seed)
    design = _Design(examples)
    x = design.matrix(examples)
    n_dense = len(design.mean)
    dense_w = np.zeros((len(labels), n_dense))
    gram_w = np.zeros((len(design.grams), len(labels)))
    bias = np.zeros(len(labels))
    columns = label_columns(labels, len(design.grams))
    for label in range(len(labels)):
        cols = columns[label]
        model = _fit(x[:, cols], y[:, label], c)
        if model is None:
            bias[label] = 30.0 if y[0, label] else -30.0
            continue
        full = np.zeros(x.shape[1])
        full[cols] = model.coef_[0]
        dense_w[label] = full[:n_dense]
        gram_w[:, label] = full[n_dense:] * GRAM_SCALE
        bias[label] = model.intercept_[0]
    # Keep the n-grams that weigh most for some label: a small file, the same decisions.
    strength = np.abs(gram_w).max(axis=1) if len(design.grams) else np.zeros(0)
    order = np.argsort(-strength)[:MAX_GRAMS]
    order = order[strength[order] > 1e-4]
    names = sorted(design.grams, key=design.grams.__getitem__)
    grams = {names[i]: k for k, i in enumerate(order)}
    model = TagModel(
        labels=labels,
        dense_names=tuple(dense_names(labels[1:])),
        mean=design.mean,
        scale=design.scale,
        dense_weights=dense_w,
        bias=bias,
        grams=grams,
        gram_weights=gram_w[order] if len(order) else np.zeros((0, len(labels))),
        thresholds=thresholds,
        trained_on={
            "articles": len(examples),
            "taxonomy_version": tagger.version,
            "C": c,
            "seed": seed,
            "labels": [os.path.relpath(p.resolve(), REPO_ROOT) for p in sources],
            "scripts": dict(sorted(Counter(e.script for e in examples).items())),
        },
    )
    return with_version(model)
