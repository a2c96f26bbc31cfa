-- Derived tables refreshed by the trade_news_transforms DAG after each load, and freshness.
-- The derived tables are materialised copies of the 0005 views, so their SQL lives in one place.
CREATE TABLE topic_daily_counts AS SELECT * FROM topic_daily LIMIT 0;
CREATE TABLE entity_daily_counts AS SELECT * FROM entity_mentions LIMIT 0;

-- Set by `tradewire retag`: derived tables refresh the days of retagged articles too.
ALTER TABLE articles ADD COLUMN retagged_at TIMESTAMPTZ;

-- How far each derived table has caught up, by articles.ingested_at / retagged_at.
CREATE TABLE derived_state (
    name         VARCHAR PRIMARY KEY,
    watermark    TIMESTAMPTZ NOT NULL,
    refreshed_at TIMESTAMPTZ NOT NULL
);

-- Freshness of each article: from when its source first showed it to when it was queryable.
CREATE VIEW article_freshness AS
SELECT
    article_id,
    source,
    discovered_at,
    first_ingested_at,
    epoch(first_ingested_at) - epoch(discovered_at) AS lag_seconds
FROM articles
WHERE discovered_at IS NOT NULL;
