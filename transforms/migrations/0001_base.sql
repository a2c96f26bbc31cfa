-- Base schema: articles, their topics and entities, runs and errors.
CREATE TABLE articles (
    article_id        VARCHAR PRIMARY KEY,
    source            VARCHAR NOT NULL,
    location          VARCHAR NOT NULL,
    url               VARCHAR,
    title             VARCHAR,
    text              VARCHAR NOT NULL,
    author            VARCHAR,
    published_at      TIMESTAMPTZ,
    language          VARCHAR,
    word_count        INTEGER NOT NULL,
    content_hash      VARCHAR NOT NULL,
    raw_hash          VARCHAR NOT NULL,
    provenance        MAP(VARCHAR, VARCHAR),
    us_china          BOOLEAN NOT NULL,
    us_china_score    DOUBLE NOT NULL,
    us_china_evidence JSON,
    taxonomy_version  VARCHAR NOT NULL,
    discovered_at     TIMESTAMPTZ,
    first_ingested_at TIMESTAMPTZ NOT NULL,
    ingested_at       TIMESTAMPTZ NOT NULL,
    run_id            VARCHAR NOT NULL
);

CREATE TABLE article_topics (
    article_id       VARCHAR NOT NULL,
    topic            VARCHAR NOT NULL,
    score            DOUBLE NOT NULL,
    evidence         JSON NOT NULL,
    taxonomy_version VARCHAR NOT NULL,
    PRIMARY KEY (article_id, topic)
);

CREATE TABLE article_entities (
    article_id VARCHAR NOT NULL,
    entity_id  VARCHAR NOT NULL,
    name       VARCHAR NOT NULL,
    kind       VARCHAR NOT NULL,
    mentions   INTEGER NOT NULL,
    PRIMARY KEY (article_id, entity_id)
);

CREATE TABLE ingest_runs (
    run_id      VARCHAR PRIMARY KEY,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    seen        INTEGER NOT NULL DEFAULT 0,
    new         INTEGER NOT NULL DEFAULT 0,
    updated     INTEGER NOT NULL DEFAULT 0,
    unchanged   INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    trigger     VARCHAR
);

-- One row per document that failed a stage, so a bad input is visible instead of crashing a run.
CREATE TABLE ingest_errors (
    run_id      VARCHAR NOT NULL,
    source      VARCHAR NOT NULL,
    location    VARCHAR NOT NULL,
    raw_hash    VARCHAR,
    stage       VARCHAR NOT NULL,
    error       VARCHAR NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL
);
