"""Near-duplicate clusters across outlets: wire copies of one story share `articles.cluster_id`.

How two articles are judged the same story:

* **Shingles**: the text is NFKC-normalised, lower-cased and cut into tokens (Latin-script
  words and numbers; every CJK character is a token), and every run of ``SHINGLE_SIZE`` (5)
  consecutive tokens is a shingle; the normalised title is one more shingle, so a short story
  with a matching headline still lines up. Texts with fewer than ``MIN_SHINGLES`` shingles are
  not clustered (each is its own cluster).
* **MinHash** (rensa's ``RMinHash``, ``NUM_PERM`` = 128 permutations, seed 1) estimates the
  Jaccard similarity of two shingle sets; the signature is computed once, in the extraction
  worker, and stored in ``article_minhash`` so later articles are matched without recomputing
  it. ``SIGNATURE_SCHEME`` names the hashing; signatures of different schemes never compare.
* **LSH**: ``BANDS`` (25) bands of ``ROWS`` (5) signature values – the optimal split for
  ``THRESHOLD`` 0.5 (datasketch's ``_optimal_param``) – are hashed into ``article_lsh_bands``; articles sharing any band are
  candidates, and a candidate is accepted when its estimated Jaccard is >= ``THRESHOLD``.
  Different boilerplate, datelines and credit lines around the same wire text keep copies
  well above 0.5; two different stories on one topic share few 5-word runs (< 0.1).
* **Clusters** are the connected components of accepted pairs (transitive: A~B and B~C put
  A and C together). ``cluster_id`` is the ``article_id`` of the cluster's earliest article by
  ``coalesce(published_at, first_ingested_at)``, ties broken by ``article_id`` – the same order
  the ``duplicate_clusters`` view uses for ``first_article_id``.

Clustering runs inside the loader's transaction for the articles that batch inserted or
changed: one SQL join of the batch's bands against the stored ones gives the candidates, so a
batch costs one scan of the band table, not one query per article. A changed article is
re-clustered; the members of its old cluster keep their ``cluster_id``. A (band, bucket) is
stored once per cluster – the first article of the cluster to have it stands for the rest – so
a story copied thousands of times costs the index no more than one copy.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import numpy as np
import pyarrow as pa

from transforms.minhash import BANDS, band_buckets, signature_matrix, similarity

THRESHOLD = 0.5
# Clusters verified per new article: a story rarely matches more than a few distinct clusters,
# and the cap keeps a pathological batch (thousands of identical pages) linear.
MAX_CANDIDATES = 8


class _Components:
    """Union-find over string keys: the connected components of accepted pairs."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        self.parent.setdefault(key, key)
        root = key
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[key] != root:
            self.parent[key], key = root, self.parent[key]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def cluster_articles(
    con: duckdb.DuckDBPyConnection, article_ids: Sequence[str], signatures: Sequence[str | None]
) -> None:
    """Store signatures and bands of freshly landed articles and set cluster_id for them.

    Runs inside the caller's transaction, after the articles themselves are written.
    """
    if not article_ids:
        return
    batch = pa.table({"article_id": pa.array(list(article_ids), pa.string())})  # noqa: F841
    con.execute("DELETE FROM article_minhash WHERE article_id IN (SELECT article_id FROM batch)")
    con.execute("DELETE FROM article_lsh_bands WHERE article_id IN (SELECT article_id FROM batch)")
    signed = [(i, s) for i, s in zip(article_ids, signatures, strict=True) if s]
    matrix = signature_matrix([s for _, s in signed])
    ids = [i for i, _ in signed]
    keys = band_buckets(matrix)
    new_sigs = pa.table(  # noqa: F841 - read by DuckDB by name
        {
            "article_id": pa.array(ids, pa.string()),
            "signature": pa.array([row.tobytes() for row in matrix], pa.binary()),
        }
    )
    new_bands = pa.table(  # noqa: F841
        {
            "article_id": pa.array(np.repeat(np.array(ids, dtype=object), BANDS), pa.string()),
            "band": pa.array(np.tile(np.arange(BANDS, dtype=np.uint8), len(ids)), pa.uint8()),
            "bucket": pa.array(keys.reshape(-1), pa.uint64()),
        }
    )
    # Copied into DuckDB: a join's dynamic filter on uint64 buckets, pushed into an Arrow scan,
    # overflows pyarrow's signed expression literals.
    con.execute("CREATE OR REPLACE TEMP TABLE lsh_new AS SELECT * FROM new_bands")
    components = _Components()
    for article_id in article_ids:
        components.find("a:" + article_id)
    sig_of = {article_id: matrix[n] for n, article_id in enumerate(ids)}
    stored = con.execute(
        "WITH hits AS ("
        " SELECT n.article_id AS new_id, l.article_id AS old_id, count(*) AS shared"
        " FROM lsh_new n JOIN article_lsh_bands l USING (band, bucket) GROUP BY ALL),"
        " per_cluster AS ("
        " SELECT h.new_id, h.old_id, h.shared, coalesce(a.cluster_id, a.article_id) AS cluster"
        " FROM hits h JOIN articles a ON a.article_id = h.old_id"
        " QUALIFY row_number() OVER (PARTITION BY h.new_id, cluster"
        " ORDER BY h.shared DESC, h.old_id) = 1)"
        " SELECT p.new_id, p.cluster, m.signature FROM per_cluster p"
        " JOIN article_minhash m ON m.article_id = p.old_id"
        " QUALIFY row_number() OVER (PARTITION BY p.new_id ORDER BY p.shared DESC, p.cluster)"
        " <= ?",
        [MAX_CANDIDATES],
    ).fetchall()
    for new_id, cluster, signature in stored:
        old = np.frombuffer(bytes(signature), dtype=np.uint32)
        if similarity(sig_of[new_id], old) >= THRESHOLD:
            components.union("a:" + new_id, "c:" + cluster)
    # Within the batch, each bucket's members are checked against its first member only: a star
    # per bucket instead of every pair keeps a batch of many copies linear.
    groups = con.execute(
        "SELECT list(article_id ORDER BY article_id) FROM lsh_new "
        "GROUP BY band, bucket HAVING count(*) > 1"
    ).fetchall()
    pairs = {(g[0], other) for (g,) in groups for other in g[1:]}
    for a, b in pairs:
        if components.find("a:" + a) != components.find("a:" + b) and (
            similarity(sig_of[a], sig_of[b]) >= THRESHOLD
        ):
            components.union("a:" + a, "a:" + b)
    con.execute("INSERT INTO article_minhash SELECT article_id, signature FROM new_sigs")
    _assign_heads(con, components)
    # A bucket already held by an article of the same cluster leads to that cluster anyway;
    # storing it again would only grow the join for every later copy of a much-copied story.
    con.execute(
        "INSERT INTO article_lsh_bands SELECT DISTINCT ON (n.band, n.bucket, a.cluster_id) "
        "n.band, n.bucket, n.article_id FROM lsh_new n JOIN articles a USING (article_id) "
        "WHERE NOT EXISTS (SELECT 1 FROM article_lsh_bands l JOIN articles b "
        "ON b.article_id = l.article_id WHERE l.band = n.band AND l.bucket = n.bucket "
        "AND b.cluster_id = a.cluster_id)"
    )


def _assign_heads(con: duckdb.DuckDBPyConnection, components: _Components) -> None:
    """Point every member of each touched component at its earliest article."""
    keys = list(components.parent)
    roots = [components.find(k) for k in keys]
    comp = pa.table(  # noqa: F841 - read by DuckDB by name
        {
            "kind": pa.array([k[0] for k in keys], pa.string()),
            "key": pa.array([k[2:] for k in keys], pa.string()),
            "comp": pa.array(roots, pa.string()),
        }
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE cluster_members AS "
        "SELECT key AS article_id, comp FROM comp WHERE kind = 'a' "
        "UNION ALL SELECT a.article_id, c.comp FROM articles a "
        "JOIN comp c ON c.kind = 'c' AND coalesce(a.cluster_id, a.article_id) = c.key "
        "WHERE a.article_id NOT IN (SELECT key FROM comp WHERE kind = 'a')"
    )
    con.execute(
        "UPDATE articles SET cluster_id = h.head FROM ("
        " SELECT m.article_id, first_value(m.article_id) OVER (PARTITION BY m.comp"
        " ORDER BY coalesce(a.published_at, a.first_ingested_at), m.article_id) AS head"
        " FROM cluster_members m JOIN articles a USING (article_id)) AS h "
        "WHERE articles.article_id = h.article_id AND articles.cluster_id IS DISTINCT FROM h.head"
    )
