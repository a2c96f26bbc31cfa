-- requires: sources.name, sources.kind, sources.last_status, sources.last_error, sources.last_polled_at, sources.consecutive_failures, fetch_log.source, fetch_log.status, fetch_log.error_class, fetch_log.started_at, articles.cluster_id, article_sightings.article_id
-- source_health from the sources' own state too (issue 14): a feed that answers 200 but cannot
-- be parsed, whose robots.txt forbids it, or a folder that cannot be read fails its poll with
-- no failed HTTP request to show for it. Its `status` is now 'failing', its latest failed
-- poll counts in `last_failure_at`, and `last_error` says why. Reference: docs/sql.md.
CREATE OR REPLACE VIEW source_health AS
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
),
state AS (
    SELECT DISTINCT ON (name)
        name,
        kind,
        last_status,
        last_error,
        consecutive_failures,
        CAST(last_polled_at AS TIMESTAMPTZ) AS last_polled_at
    FROM sources
)
SELECT
    n.source,
    s.kind,
    -- A fetched source's last good fetch; a folder source (nothing fetched) its last landed article.
    coalesce(f.last_fetch_ok_at, l.last_landed_at) AS last_success_at,
    greatest(
        f.last_failure_at,
        e.last_error_at,
        CASE WHEN s.last_status = 'failed' THEN s.last_polled_at END
    ) AS last_failure_at,
    coalesce(f.fetches_7d, 0) AS fetches_7d,
    coalesce(f.fetch_failures_7d, 0) AS fetch_failures_7d,
    coalesce(e.ingest_errors_7d, 0) AS ingest_errors_7d,
    coalesce(l.articles, 0) AS articles,
    coalesce(l.new_articles_7d, 0) AS new_articles_7d,
    round(coalesce(l.new_articles_7d, 0) / 7.0, 2) AS new_articles_per_day_7d,
    l.last_new_article_at,
    CASE
        WHEN s.last_status IS NULL THEN NULL
        WHEN s.last_status = 'failed' THEN 'failing'
        ELSE 'ok'
    END AS status,
    CASE WHEN s.last_status = 'failed' THEN s.last_error END AS last_error,
    coalesce(s.consecutive_failures, 0) AS consecutive_failures
FROM names AS n
LEFT JOIN state AS s ON s.name = n.source
LEFT JOIN fetches AS f ON f.source = n.source
LEFT JOIN errors AS e ON e.source = n.source
LEFT JOIN landed AS l ON l.source = n.source;
