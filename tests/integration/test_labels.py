"""Analysts correct tags and the model learns: label -> export -> train --from-db -> retag."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.integration.analyst_db import build_analyst_db
from transforms.tagging.model import load_model

TINY = Path(__file__).resolve().parents[1] / "fixtures" / "tagging" / "tiny_labeled.jsonl"


def tradewire(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The console script's entry point, in a fresh process as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "ingest.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )


def article_id(db: Path, like: str) -> str:
    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute("SELECT article_id FROM articles WHERE title ILIKE ?", [like]).fetchone()
    assert row is not None, like
    return str(row[0])


def tag_state(db: Path, aid: str) -> tuple[set[str], str | None, set[str | None]]:
    with duckdb.connect(str(db), read_only=True) as con:
        topics = {
            r[0]
            for r in con.execute(
                "SELECT topic FROM article_topics WHERE article_id = ?", [aid]
            ).fetchall()
        }
        (model,) = con.execute(
            "SELECT model_version FROM articles WHERE article_id = ?", [aid]
        ).fetchone() or (None,)
        topic_models = {
            r[0]
            for r in con.execute("SELECT DISTINCT model_version FROM article_topics").fetchall()
        }
    return topics, model, topic_models


def test_label_train_retag_round_trip(tmp_path: Path) -> None:
    db = build_analyst_db(tmp_path / "t.duckdb")
    aid = article_id(db, "%trade talks in Geneva%")
    _, shipped_version, _ = tag_state(db, aid)
    assert shipped_version == load_model(Path("transforms/tagging/model.json")).version

    # A model from labels that never mention trade talks cannot tag them.
    plain = tmp_path / "plain.json"
    assert tradewire("tagger", "train", str(TINY), "--out", str(plain)).returncode == 0
    retag = tradewire("retag", "--db", str(db), env={"TRADEWIRE_TAG_MODEL": str(plain)})
    assert retag.returncode == 0, retag.stderr
    before, version, _ = tag_state(db, aid)
    assert version == load_model(plain).version and "trade_talks" not in before

    done = tradewire(
        "label",
        aid,
        "--topic",
        "+trade_talks",
        "--us-china",
        "yes",
        "--note",
        "Geneva round",
        "--by",
        "analyst-1",
        "--db",
        str(db),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("label 1 recorded for")
    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute(
            "SELECT labeled_by, topics_added, topics_removed, us_china, note, topics_before, "
            "model_version FROM tag_labels"
        ).fetchone()
    assert row == ("analyst-1", ["trade_talks"], [], True, "Geneva round", sorted(before), version)

    export = tmp_path / "corrections.jsonl"
    assert tradewire("label", "--export", str(export), "--db", str(db)).returncode == 0
    (labeled,) = [json.loads(line) for line in export.read_text(encoding="utf-8").splitlines()]
    assert labeled["id"] == aid and labeled["us_china"] is True
    assert set(labeled["topics"]) == before | {"trade_talks"}

    learned = tmp_path / "learned.json"
    train = tradewire(
        "tagger", "train", str(TINY), "--from-db", "--out", str(learned), "--db", str(db)
    )
    assert train.returncode == 0, train.stderr
    assert "1 corrected articles" in train.stderr
    new_model = load_model(learned)
    assert new_model.trained_on["articles"] == 49

    retag = tradewire("retag", "--db", str(db), env={"TRADEWIRE_TAG_MODEL": str(learned)})
    assert retag.returncode == 0, retag.stderr
    after, version, topic_versions = tag_state(db, aid)
    assert "trade_talks" in after  # learned from the one correction
    assert version == new_model.version and topic_versions <= {new_model.version, None}


def test_bad_input_to_label_is_a_clear_error(tmp_path: Path) -> None:
    db = build_analyst_db(tmp_path / "t.duckdb")
    aid = article_id(db, "%rare earth%")
    unknown_article = tradewire("label", "no-such-id", "--topic", "+tariffs", "--db", str(db))
    assert unknown_article.returncode == 2
    assert "no article 'no-such-id'" in unknown_article.stderr
    assert "Traceback" not in unknown_article.stderr
    unknown_topic = tradewire("label", aid, "--topic", "+port_fees", "--db", str(db))
    assert unknown_topic.returncode == 2 and "unknown topic 'port_fees'" in unknown_topic.stderr
    no_sign = tradewire("label", aid, "--topic", "tariffs", "--db", str(db))
    assert no_sign.returncode == 2 and "write +TOPIC or -TOPIC" in no_sign.stderr
    nothing = tradewire("label", aid, "--db", str(db))
    assert nothing.returncode == 2 and "nothing to record" in nothing.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM tag_labels").fetchone() == (0,)


@pytest.mark.parametrize("folds", ["1", "x"])
def test_eval_tags_rejects_bad_folds(folds: str) -> None:
    result = tradewire("eval-tags", str(TINY), "--folds", folds)
    assert result.returncode == 2
