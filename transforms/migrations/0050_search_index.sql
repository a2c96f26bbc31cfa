-- Full-text search without DuckDB's fts index: our own BM25 postings, updated per changed
-- article (transforms/searchindex.py) instead of rebuilt whole after every load.

-- The old fts index and the macro bound to it; the first refresh builds the tables below in full
-- (no watermark means nothing is indexed yet).
DROP MACRO TABLE IF EXISTS search_articles;
DROP SCHEMA IF EXISTS fts_main_articles CASCADE;
DELETE FROM derived_state WHERE name = 'search_index';

-- A changed article gets a new docid: its old postings stop joining and are deleted in bulk later,
-- so indexing never has to find rows inside the postings table.
CREATE SEQUENCE search_docids START 1;
CREATE SEQUENCE search_termids START 1;

CREATE TABLE search_docs (
    article_id VARCHAR PRIMARY KEY,
    docid      BIGINT NOT NULL,
    len        BIGINT NOT NULL,
    terms      BIGINT NOT NULL,
    text_hash  VARCHAR NOT NULL
);

-- Every stem ever indexed, numbered: a query scans integer postings, not strings. Stems no
-- document holds any more stay; their postings are gone, so they score nothing.
CREATE TABLE search_terms (
    term   VARCHAR PRIMARY KEY,
    termid BIGINT NOT NULL
);

-- Sorted by termid when rewritten (a full build, a compaction): a query's term filter then skips
-- every block of other terms. Rows appended since are unsorted; the rewrite comes once they and
-- the dead ones pass a quarter of the table.
CREATE TABLE search_postings (
    docid  BIGINT NOT NULL,
    termid BIGINT NOT NULL,
    tf     BIGINT NOT NULL
);

-- One row: how many postings rows the last rewrite left, in termid order.
CREATE TABLE search_index_state (
    sorted_postings BIGINT NOT NULL
);
INSERT INTO search_index_state VALUES (0);

-- fts's default tokenizer (strip_accents, lower, its `ignore` characters, split on whitespace),
-- so title, text and queries split into the words `PRAGMA create_fts_index` would find.
CREATE MACRO search_tokenize(s) AS string_split_regex(
    regexp_replace(
        lower(strip_accents(CAST(s AS VARCHAR))),
        '[0-9!@#$%^&*()_+={}\[\]:;<>,.?~\\/\|''"`-]+',
        ' ',
        'g'
    ),
    '\s+'
);
