"""BM25 postings over articles' titles and texts, updated for the articles a load added or changed.

DuckDB's fts extension can only rebuild its index whole, which after every load costs time in
proportion to the database. These tables reproduce what `PRAGMA create_fts_index('articles',
'article_id', 'title', 'text')` indexes and what its `match_bm25` scores (same tokenizer,
stopwords, Porter stems, one term frequency and one length over both fields, BM25 with
k=1.2, b=0.75), but each refresh touches only the articles landed since the last one:

* `search_docs`: one row per article: its current `docid`, `len` (words indexed), `terms`
  (postings rows) and a hash of its title and text, so a re-landing that left the words alone
  (a new extractor, a new taxonomy) is not reindexed.
* `search_terms`: every stem indexed, numbered, so postings and queries compare integers.
* `search_postings`: (docid, termid, tf), in termid order as last rewritten, so a query reads
  only its terms' blocks. Append-only between rewrites: a changed article gets a new docid and
  its old rows simply stop joining `search_docs`; a deleted article loses its `search_docs` row
  (in the transaction that deletes it, or here by anti-join). Once dead and appended rows pass a
  quarter of the table, one refresh rewrites it sorted without the dead ones, so that cost is
  amortised over the changes that made it necessary.

Document frequencies, the number of documents and the average length are computed at query
time from the query terms' postings and `search_docs`, so there is nothing global to maintain.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from transforms.derived import SEARCH_INDEX, latest_change, set_watermark, watermark
from transforms.settings import get_settings

logger = logging.getLogger(__name__)

# Articles tokenised per statement: bounds the memory of a full rebuild (a few hundred MB of
# token rows at most) without making the per-statement overhead matter.
CHUNK_ARTICLES = 2_000
# Rewrite the postings (sorted, without dead rows) once dead and unsorted rows pass this share.
REWRITE_SHARE = 0.25
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TEXT_HASH = "md5(coalesce(a.title, '') || chr(0) || a.text)"

# Scores exactly as fts's match_bm25 (the expression and its literal types are its own, so the
# floats agree): df counts live documents holding the term, tf counts it over title and text,
# len and the average length count indexed words over both fields. Binds stem(), so it is
# created with the fts extension loaded, by a refresh.
SEARCH_MACRO = """
CREATE OR REPLACE MACRO search_articles(q, topic := NULL, since := NULL) AS TABLE
WITH query_terms AS (
    SELECT DISTINCT stem(unnest(search_tokenize(q)), 'porter') AS term
),
postings AS (
    SELECT d.article_id, d.len, p.termid, p.tf
    FROM search_postings AS p
    JOIN search_docs AS d USING (docid)
    WHERE p.termid IN (
        SELECT t.termid FROM search_terms AS t JOIN query_terms AS q USING (term)
    )
),
frequencies AS (
    SELECT termid, count(*) AS df FROM postings GROUP BY termid
),
stats AS (
    SELECT count(*) AS num_docs, sum(len) / count(len) AS avgdl FROM search_docs
),
scores AS (
    SELECT
        p.article_id,
        sum(
            log(((stats.num_docs - f.df) + 0.5) / (f.df + 0.5) + 1)
            * ((p.tf * (1.2 + 1)) / (p.tf + 1.2 * ((1 - 0.75) + 0.75 * (p.len / stats.avgdl))))
        ) AS score
    FROM postings AS p
    JOIN frequencies AS f USING (termid)
    CROSS JOIN stats
    GROUP BY p.article_id
)
SELECT
    a.article_id,
    s.score,
    a.title,
    a.published_at,
    a.source,
    a.url,
    a.us_china,
    coalesce(t.topics, []::VARCHAR[]) AS topics
FROM scores AS s
JOIN articles AS a USING (article_id)
LEFT JOIN (
    SELECT tp.article_id, list(tp.topic ORDER BY tp.score DESC, tp.topic) AS topics
    FROM article_topics AS tp
    WHERE tp.article_id IN (SELECT article_id FROM scores)
    GROUP BY tp.article_id
) AS t USING (article_id)
WHERE (topic IS NULL OR list_contains(t.topics, topic))
  AND (since IS NULL OR CAST(a.published_at AT TIME ZONE 'UTC' AS DATE) >= CAST(since AS DATE))
ORDER BY s.score DESC, a.article_id
"""

# fts's indexing: tokens of both fields, empty strings and stopwords dropped before stemming,
# then Porter stems. Each distinct word is stemmed once per chunk, not once per occurrence.
_WORDS = """
CREATE OR REPLACE TEMP TABLE search_words AS
WITH tokens AS (
    SELECT docid, unnest(search_tokenize(title)) AS w FROM search_batch
    UNION ALL
    SELECT docid, unnest(search_tokenize(text)) AS w FROM search_batch
)
SELECT docid, w, count(*) AS n
FROM tokens
WHERE w IS NOT NULL AND len(w) > 0 AND w NOT IN (SELECT sw FROM search_stopwords)
GROUP BY docid, w
"""

_POSTINGS = """
CREATE OR REPLACE TEMP TABLE search_batch_postings AS
WITH stems AS (
    SELECT w, stem(w, 'porter') AS term FROM (SELECT DISTINCT w FROM search_words)
)
SELECT s.docid, t.term, sum(s.n)::BIGINT AS tf
FROM search_words AS s
JOIN stems AS t USING (w)
WHERE t.term IS NOT NULL
GROUP BY s.docid, t.term
"""

_DOCS = """
INSERT INTO search_docs (article_id, docid, len, terms, text_hash)
SELECT b.article_id, b.docid, coalesce(p.len, 0), coalesce(p.terms, 0), b.text_hash
FROM search_batch AS b
LEFT JOIN (
    SELECT docid, sum(tf)::BIGINT AS len, count(*) AS terms
    FROM search_batch_postings
    GROUP BY docid
) AS p USING (docid)
ON CONFLICT (article_id) DO UPDATE SET
    docid = excluded.docid, len = excluded.len, terms = excluded.terms,
    text_hash = excluded.text_hash
"""


@dataclass(frozen=True)
class IndexCounts:
    """What one refresh of the postings did."""

    documents: int  # articles in the index afterwards
    indexed: int  # articles whose words were (re)posted
    removed: int  # articles dropped because they left `articles`
    rewritten: bool  # postings rewritten in term order (full builds, or enough churn)
    dropped: int  # dead postings rows the rewrite left out
    full: bool


def search_index_ready(con: duckdb.DuckDBPyConnection) -> bool:
    """Say whether a refresh has built the postings and the search_articles macro over them.

    The watermark marks it: set by the transaction that creates the macro, deleted by the
    migration that dropped the fts-era one. (Cheaper than asking duckdb_functions().)
    """
    row = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' "
        "AND table_name IN ('search_docs', 'derived_state')"
    ).fetchone()
    return bool(row and row[0] == 2) and watermark(con, SEARCH_INDEX) is not None


def refresh_postings(con: duckdb.DuckDBPyConnection, *, full: bool = False) -> IndexCounts:
    """Bring the postings up to `articles` in one transaction; full rebuilds them from scratch.

    Needs a writer connection with the fts extension loaded (for stem()).

    Without `full`, only articles landed after the index's watermark are tokenised (and of
    those only the ones whose title or text changed); a database without the index yet, or
    never refreshed, gets the full build.
    """
    full = full or not search_index_ready(con)
    limit = get_settings().search_memory_limit
    before = con.execute("SELECT current_setting('memory_limit')").fetchone()
    if limit:
        con.execute("SET memory_limit = ?", [limit])
    con.execute("BEGIN TRANSACTION")
    try:
        counts = _refresh_in_transaction(con, full=full)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        for table in ("search_todo", "search_batch", "search_words", "search_batch_postings"):
            con.execute(f"DROP TABLE IF EXISTS temp.{table}")
        if limit and before:
            con.execute("SET memory_limit = ?", [before[0]])
    logger.info(
        "search index %s: %d articles, %d (re)indexed, %d removed, postings %s",
        "rebuilt" if counts.full else "updated",
        counts.documents,
        counts.indexed,
        counts.removed,
        f"rewritten ({counts.dropped} dead dropped)" if counts.rewritten else "appended",
    )
    return counts


def _refresh_in_transaction(con: duckdb.DuckDBPyConnection, *, full: bool) -> IndexCounts:
    """The refresh's steps; the caller owns the transaction."""
    high = latest_change(con)
    removed = 0
    if full:
        for table in ("search_postings", "search_docs", "search_terms"):
            con.execute(f"DELETE FROM {table}")
        con.execute(SEARCH_MACRO)
    # Landing sets ingested_at on every new or changed row; retagging leaves it alone, so a
    # retag never makes an article a candidate here.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE search_todo AS "
        "SELECT rowid AS row_id, article_id FROM articles WHERE ingested_at > ?",
        [_EPOCH if full else (watermark(con, SEARCH_INDEX) or _EPOCH)],
    )
    if not full:
        removed = reconcile(con)
    indexed = 0
    chunks = con.execute(
        "SELECT min(row_id), max(row_id), list(article_id) FROM ("
        "SELECT row_id, article_id, (row_number() OVER (ORDER BY row_id) - 1) // ? AS chunk "
        "FROM search_todo) GROUP BY chunk ORDER BY chunk",
        [CHUNK_ARTICLES],
    ).fetchall()
    for low, top, ids in chunks:
        # A full build takes every row in the range; else only the queued ones in it.
        indexed += index_chunk(con, int(low), int(top), None if full else ids)
    dropped = compact_postings(con, force=full)
    if high is not None or full:
        set_watermark(con, SEARCH_INDEX, high or _EPOCH)
    row = con.execute("SELECT count(*) FROM search_docs").fetchone()
    return IndexCounts(
        documents=int(row[0]) if row else 0,
        indexed=indexed,
        removed=removed,
        rewritten=dropped is not None,
        dropped=dropped or 0,
        full=full,
    )


def index_chunk(
    con: duckdb.DuckDBPyConnection, low: int, top: int, article_ids: list[str] | None
) -> int:
    """Post the words of the articles in rowids low..top (of these ids only, if given) whose title
    or text changed since they were indexed, under fresh docids."""
    # A full build takes whole rowid ranges: the scan skips other row groups. Else constants (one
    # placeholder each), not a join nor rowid bounds: DuckDB then filters article_id while it
    # scans and reads the texts of matching rows only (~10x less than a semi join at 50k).
    params: list[int | str]
    if article_ids is None:
        where, params = "a.rowid BETWEEN ? AND ?", [low, top]
    else:
        where, params = f"a.article_id IN ({', '.join('?' * len(article_ids))})", [*article_ids]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE search_batch AS "
        "SELECT nextval('search_docids') AS docid, article_id, title, text, text_hash FROM ("
        f"SELECT a.article_id, a.title, a.text, {_TEXT_HASH} AS text_hash FROM articles AS a "
        f"WHERE {where}) AS c "
        "WHERE NOT EXISTS (SELECT 1 FROM search_docs AS d "
        "WHERE d.article_id = c.article_id AND d.text_hash = c.text_hash)",
        params,
    )
    row = con.execute("SELECT count(*) FROM search_batch").fetchone()
    count = int(row[0]) if row else 0
    if not count:
        return 0
    con.execute(_WORDS)
    con.execute(_POSTINGS)
    con.execute(
        "INSERT INTO search_terms SELECT term, nextval('search_termids') "
        "FROM (SELECT DISTINCT term FROM search_batch_postings) ON CONFLICT DO NOTHING"
    )
    con.execute(
        "INSERT INTO search_postings SELECT p.docid, t.termid, p.tf "
        "FROM search_batch_postings AS p JOIN search_terms AS t USING (term)"
    )
    con.execute(_DOCS)
    return count


def reconcile(con: duckdb.DuckDBPyConnection) -> int:
    """Drop index rows of articles that left `articles`; queue articles the index lacks.

    Both happen only when rows are written around the refresh (a delete outside retire_ids, a
    row inserted with an old ingested_at), so counts decide first, cheaply: every article is
    either indexed or queued, so documents + queued new articles = articles when nothing left.
    A delete and a lost row in equal numbers cancel out; `tradewire search --reindex` mends that.
    """
    row = con.execute(
        "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM search_docs), "
        "(SELECT count(*) FROM search_todo AS t WHERE NOT EXISTS "
        "(SELECT 1 FROM search_docs AS d WHERE d.article_id = t.article_id))"
    ).fetchone()
    articles, docs, queued_new = (int(v) for v in row) if row else (0, 0, 0)
    removed = 0
    if docs + queued_new > articles:
        removed = len(
            con.execute(
                "DELETE FROM search_docs AS d WHERE NOT EXISTS "
                "(SELECT 1 FROM articles AS a WHERE a.article_id = d.article_id) RETURNING docid"
            ).fetchall()
        )
    if docs - removed + queued_new < articles:
        missing = con.execute(
            "INSERT INTO search_todo SELECT a.rowid, a.article_id FROM articles AS a "
            "WHERE NOT EXISTS (SELECT 1 FROM search_docs AS d WHERE d.article_id = a.article_id) "
            "AND a.article_id NOT IN (SELECT article_id FROM search_todo) RETURNING row_id"
        ).fetchall()
        logger.warning("search index lacked %d older articles; indexing them now", len(missing))
    return removed


def compact_postings(
    con: duckdb.DuckDBPyConnection, *, share: float = REWRITE_SHARE, force: bool = False
) -> int | None:
    """Rewrite the postings without dead rows, in termid order, once dead rows and rows appended
    since the last rewrite are `share` of the table (force: always): the dead rows dropped, or
    None when the table was left as it was."""
    row = con.execute(
        "SELECT (SELECT count(*) FROM search_postings), "
        "(SELECT coalesce(sum(terms), 0) FROM search_docs), "
        "(SELECT sorted_postings FROM search_index_state)"
    ).fetchone()
    total, live, in_order = (int(v) for v in row) if row else (0, 0, 0)
    dead, appended = total - live, max(0, total - in_order)
    if not force and (dead + appended == 0 or dead + appended < share * total):
        return None
    # A new table, filled in order, replaces the old: cheaper than deleting rows in place, and
    # its blocks hold narrow termid ranges. DuckDB's DDL is transactional like the rest.
    con.execute(
        "CREATE TABLE search_postings_sorted "
        "(docid BIGINT NOT NULL, termid BIGINT NOT NULL, tf BIGINT NOT NULL)"
    )
    con.execute(
        "INSERT INTO search_postings_sorted SELECT p.docid, p.termid, p.tf "
        "FROM search_postings AS p SEMI JOIN search_docs AS d USING (docid) "
        "ORDER BY p.termid, p.docid"
    )
    con.execute("DROP TABLE search_postings")
    con.execute("ALTER TABLE search_postings_sorted RENAME TO search_postings")
    con.execute("UPDATE search_index_state SET sorted_postings = ?", [live])
    logger.info("search postings rewritten in term order: %d rows, %d dead dropped", live, dead)
    return dead
