"""Near-duplicate detection: shingles, MinHash signatures and LSH clustering in DuckDB."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np

from transforms.database import migrate
from transforms.dedup import THRESHOLD, cluster_articles
from transforms.minhash import (
    BANDS,
    NUM_PERM,
    band_buckets,
    compute_signature,
    shingle_set,
    signature_matrix,
    similarity,
)

STORY = (
    "The United States and China agreed on Thursday to extend their tariff truce by ninety "
    "days, giving negotiators more time to settle disputes over export controls on chips and "
    "rare earths. Under the extension the additional duties will stay at their current level "
    "and China will keep issuing licences for gallium and germanium shipments to buyers. "
    "Business groups welcomed the decision but said uncertainty was holding back investment."
)
OTHER = (
    "China's yuan slipped to a two-month low against the dollar on Monday as exporters held on "
    "to their foreign currency earnings, traders at state banks said. The central bank set its "
    "daily midpoint slightly stronger than expected, a move read as a signal to slow the fall."
)


def test_shingles_ignore_case_and_punctuation_and_include_the_title() -> None:
    a = shingle_set("Truce extended!", STORY)
    b = shingle_set("truce extended", STORY.upper().replace(",", ""))
    assert a == b
    assert "title:truce extended" in a


def test_too_short_texts_get_no_signature() -> None:
    assert compute_signature("t", "four words only here") is None


def test_signature_round_trips_and_estimates_jaccard() -> None:
    wire = compute_signature("Truce", "WASHINGTON (Reuters) - " + STORY + " Editing by Lisa Shum")
    copy = compute_signature("U.S. truce", STORY + " Read more: what it means for you")
    other = compute_signature("Yuan", OTHER)
    assert wire and copy and other
    m = signature_matrix([wire, copy, other])
    assert m.shape == (3, NUM_PERM) and m.dtype == np.uint32
    assert similarity(m[0], m[1]) >= THRESHOLD
    assert similarity(m[0], m[2]) < 0.2


def test_band_buckets_agree_exactly_when_bands_do() -> None:
    m = signature_matrix([compute_signature("a", STORY) or "", compute_signature("a", STORY) or ""])
    keys = band_buckets(m)
    assert keys.shape == (2, BANDS)
    assert (keys[0] == keys[1]).all()


def _db(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(tmp_path / "d.duckdb"))
    migrate(con)
    return con


def _insert(con: duckdb.DuckDBPyConnection, article_id: str, published: str) -> None:
    con.execute(
        "INSERT INTO articles (article_id, source, location, text, word_count, content_hash, "
        "raw_hash, us_china, us_china_score, taxonomy_version, first_ingested_at, ingested_at, "
        "run_id, published_at) VALUES (?, 's', ?, 'x', 1, 'h', 'r', false, 0, 'v', now(), now(), "
        "'run', ?)",
        [article_id, article_id, published],
    )


def _clusters(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(con.execute("SELECT article_id, cluster_id FROM articles").fetchall())


def test_copies_share_the_earliest_article_as_cluster_id(tmp_path: Path) -> None:
    con = _db(tmp_path)
    _insert(con, "late", "2025-06-02")
    _insert(con, "early", "2025-06-01")
    _insert(con, "other", "2025-05-01")
    sigs = [
        compute_signature("Truce", STORY + " Reporting by David Park"),
        compute_signature("Truce extended", STORY),
        compute_signature("Yuan", OTHER),
    ]
    cluster_articles(con, ["late", "early", "other"], sigs)
    assert _clusters(con) == {"late": "early", "early": "early", "other": "other"}


def test_a_later_batch_joins_the_stored_cluster_and_can_take_it_over(tmp_path: Path) -> None:
    con = _db(tmp_path)
    _insert(con, "first", "2025-06-05")
    cluster_articles(con, ["first"], [compute_signature("Truce", STORY)])
    # A copy published earlier but landed later becomes the head of the whole cluster.
    _insert(con, "older", "2025-06-04")
    cluster_articles(con, ["older"], [compute_signature("Truce", STORY + " (Reuters)")])
    assert _clusters(con) == {"first": "older", "older": "older"}
    assert con.execute("SELECT count(*) FROM article_minhash").fetchone() == (2,)


def test_unsigned_articles_are_their_own_cluster(tmp_path: Path) -> None:
    con = _db(tmp_path)
    _insert(con, "tiny", "2025-06-05")
    cluster_articles(con, ["tiny"], [None])
    assert _clusters(con) == {"tiny": "tiny"}
