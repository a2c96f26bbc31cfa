-- Live sources: per-source polling state, every HTTP request, every discovered URL's fate, and the
-- feed entries behind feed articles. Written only by the load stage (transforms/live_sources.py).
-- Reference: docs/sql.md.

-- One row per source a run has polled (feeds) or scanned (folders); `name` matches articles.source.
CREATE TABLE sources (
    name                  VARCHAR PRIMARY KEY,
    kind                  VARCHAR NOT NULL,
    location              VARCHAR NOT NULL,
    poll_interval_minutes INTEGER,
    etag                  VARCHAR,
    last_modified         VARCHAR,
    body_hash             VARCHAR,
    validators_trusted    BOOLEAN NOT NULL DEFAULT true,
    last_status           VARCHAR,
    last_http_status      INTEGER,
    last_error            VARCHAR,
    consecutive_failures  INTEGER NOT NULL DEFAULT 0,
    last_polled_at        TIMESTAMPTZ,
    next_due_at           TIMESTAMPTZ,
    last_new_entries      INTEGER NOT NULL DEFAULT 0
);

-- One row per HTTP request the fetcher sent (feeds, pages, robots.txt), retries included.
CREATE TABLE fetch_log (
    run_id      VARCHAR NOT NULL,
    source      VARCHAR NOT NULL,
    url         VARCHAR NOT NULL,
    status      INTEGER,
    bytes       BIGINT NOT NULL,
    elapsed_ms  INTEGER NOT NULL,
    error_class VARCHAR,
    retry       INTEGER NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (run_id, url, started_at)
);

-- One row per new feed entry a run discovered, with the one terminal state its URL reached.
CREATE TABLE discovered_urls (
    run_id        VARCHAR NOT NULL,
    source        VARCHAR NOT NULL,
    entry_key     VARCHAR NOT NULL,
    url           VARCHAR,
    canonical_url VARCHAR,
    article_id    VARCHAR,
    state         VARCHAR NOT NULL CHECK (state IN ('landed', 'duplicate', 'failed', 'skipped')),
    reason        VARCHAR,
    decided_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (run_id, source, entry_key)
);

-- Every feed entry ever taken on, so later polls recognise it by GUID (per feed) or by link.
CREATE TABLE feed_entries (
    source        VARCHAR NOT NULL,
    entry_key     VARCHAR NOT NULL,
    guid          VARCHAR,
    link          VARCHAR,
    canonical_url VARCHAR,
    article_id    VARCHAR,
    title         VARCHAR,
    summary       VARCHAR,
    published_at  TIMESTAMPTZ,
    author        VARCHAR,
    first_seen_at TIMESTAMPTZ NOT NULL,
    run_id        VARCHAR NOT NULL,
    PRIMARY KEY (source, entry_key)
);

-- Articles landed from a feed's title and summary because their page could not be used.
ALTER TABLE articles ADD COLUMN is_summary_only BOOLEAN DEFAULT false;
