-- requires: sources.name, sources.kind, fetch_log.source, fetch_log.status, fetch_log.error_class, fetch_log.started_at, articles.cluster_id, article_sightings.article_id
-- Analyst views over the live-sources tables (sources, fetch_log) and the quality tables
-- (articles.cluster_id, article_sightings). The `requires` line above makes migrate() defer this
-- file, unrecorded, until every listed table and column exists; it then applies on the next
-- writer connection. Reference: docs/sql.md.

-- One row per source: registered in `sources` or seen in `articles.source`.
CREATE VIEW source_health AS
WITH
names AS (
    SELECT name AS source FROM sources
    UNION
    SELECT DISTINCT source FROM articles
),
attempts AS (
    SELECT
        source,
        CAST(started_at AS TIMESTAMPTZ) AS started_at,
        error_class IS NULL AND coalesce(TRY_CAST(status AS INTEGER) < 400, false) AS ok
    FROM fetch_log
),
fetches AS (
    SELECT
        source,
        max(started_at) FILTER (WHERE ok) AS last_fetch_ok_at,
        max(started_at) FILTER (WHERE NOT ok) AS last_failure_at,
        count(*) FILTER (WHERE started_at >= now() - INTERVAL 7 DAY) AS fetches_7d,
        count(*) FILTER (WHERE NOT ok AND started_at >= now() - INTERVAL 7 DAY) AS fetch_failures_7d
    FROM attempts
    GROUP BY source
),
errors AS (
    SELECT
        source,
        max(occurred_at) AS last_error_at,
        count(*) FILTER (WHERE occurred_at >= now() - INTERVAL 7 DAY) AS ingest_errors_7d
    FROM ingest_errors
    GROUP BY source
),
landed AS (
    SELECT
        source,
        count(*) AS articles,
        count(*) FILTER (WHERE first_ingested_at >= now() - INTERVAL 7 DAY) AS new_articles_7d,
        max(first_ingested_at) AS last_new_article_at,
        max(ingested_at) AS last_landed_at
    FROM articles
    GROUP BY source
)
SELECT
    n.source,
    s.kind,
    -- A fetched source's last good fetch; a folder source (nothing fetched) its last landed article.
    coalesce(f.last_fetch_ok_at, l.last_landed_at) AS last_success_at,
    greatest(f.last_failure_at, e.last_error_at) AS last_failure_at,
    coalesce(f.fetches_7d, 0) AS fetches_7d,
    coalesce(f.fetch_failures_7d, 0) AS fetch_failures_7d,
    coalesce(e.ingest_errors_7d, 0) AS ingest_errors_7d,
    coalesce(l.articles, 0) AS articles,
    coalesce(l.new_articles_7d, 0) AS new_articles_7d,
    round(coalesce(l.new_articles_7d, 0) / 7.0, 2) AS new_articles_per_day_7d,
    l.last_new_article_at
FROM names AS n
LEFT JOIN (SELECT DISTINCT ON (name) name, kind FROM sources) AS s ON s.name = n.source
LEFT JOIN fetches AS f ON f.source = n.source
LEFT JOIN errors AS e ON e.source = n.source
LEFT JOIN landed AS l ON l.source = n.source;

-- One row per duplicate cluster: a cluster with two or more articles, or one article sighted
-- more than once (the same story at several URLs or sources).
CREATE VIEW duplicate_clusters AS
WITH sighted AS (
    SELECT article_id, count(*) AS sightings FROM article_sightings GROUP BY article_id
)
SELECT
    a.cluster_id,
    count(*) AS articles,
    CAST(coalesce(sum(s.sightings), 0) AS BIGINT) AS sightings,
    arg_min(a.article_id, coalesce(a.published_at, a.first_ingested_at)) AS first_article_id,
    arg_min(a.title, coalesce(a.published_at, a.first_ingested_at)) AS first_title,
    min(a.published_at) AS first_published_at,
    max(a.published_at) AS last_published_at,
    list_sort(list(DISTINCT a.source)) AS sources,
    list(a.article_id ORDER BY a.published_at NULLS LAST, a.article_id) AS article_ids,
    bool_or(a.us_china) AS us_china
FROM articles AS a
LEFT JOIN sighted AS s USING (article_id)
WHERE a.cluster_id IS NOT NULL
GROUP BY a.cluster_id
HAVING count(*) > 1 OR coalesce(sum(s.sightings), 0) > 1;
