-- Article quality (issue 5): dates by evidence, declared vs detected language, decoding,
-- truncation, canonical identity, sightings, near-duplicate clusters and re-extraction.
-- Reference: docs/sql.md. Columns are added with ALTER so databases from before keep their rows.
ALTER TABLE articles ADD COLUMN canonical_url VARCHAR;
ALTER TABLE articles ADD COLUMN canonical_ignored VARCHAR;
ALTER TABLE articles ADD COLUMN published_at_source VARCHAR;
ALTER TABLE articles ADD COLUMN published_at_conflict BOOLEAN DEFAULT false;
ALTER TABLE articles ADD COLUMN language_declared VARCHAR;
ALTER TABLE articles ADD COLUMN language_conflict BOOLEAN DEFAULT false;
ALTER TABLE articles ADD COLUMN encoding VARCHAR;
ALTER TABLE articles ADD COLUMN encoding_rule VARCHAR;
ALTER TABLE articles ADD COLUMN is_truncated BOOLEAN DEFAULT false;
ALTER TABLE articles ADD COLUMN truncation_reason VARCHAR;
ALTER TABLE articles ADD COLUMN raw_location VARCHAR;
ALTER TABLE articles ADD COLUMN extractor_version VARCHAR;
ALTER TABLE articles ADD COLUMN source_item JSON;
ALTER TABLE articles ADD COLUMN cluster_id VARCHAR;

-- Every place an article was seen: one article from three feeds is one row in articles and
-- three here. Written by the loader in the same transaction as the article.
CREATE TABLE article_sightings (
    article_id VARCHAR NOT NULL,
    source     VARCHAR NOT NULL,
    url        VARCHAR NOT NULL,
    seen_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (article_id, source, url)
);

-- MinHash signature of each clustered article (128 little-endian uint32 values), kept so new
-- articles are compared with stored ones without recomputing (transforms/dedup.py).
CREATE TABLE article_minhash (
    article_id VARCHAR PRIMARY KEY,
    signature  BLOB NOT NULL
);

-- LSH index: one row per (band, bucket) of each signature; articles sharing a row are
-- near-duplicate candidates.
CREATE TABLE article_lsh_bands (
    band       UTINYINT NOT NULL,
    bucket     UBIGINT NOT NULL,
    article_id VARCHAR NOT NULL
);
