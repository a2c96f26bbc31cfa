-- The day-count views as table macros over chosen days, so a refresh recounts the days a load
-- touched by reading only their articles (the views aggregate every article, then filter).
-- The views keep their names and columns and are the macros over every day: one SQL each.
CREATE MACRO topic_daily_on(days, undated) AS TABLE
SELECT
    CAST(a.published_at AT TIME ZONE 'UTC' AS DATE) AS day,
    t.topic,
    count(*) AS articles,
    count(*) FILTER (WHERE a.us_china) AS us_china_articles,
    round(avg(t.score), 3) AS mean_score
FROM article_topics AS t
JOIN articles AS a USING (article_id)
WHERE days IS NULL
   OR list_contains(days, CAST(a.published_at AT TIME ZONE 'UTC' AS DATE))
   OR (undated AND a.published_at IS NULL)
GROUP BY ALL;

CREATE MACRO entity_mentions_on(days, undated) AS TABLE
SELECT
    CAST(a.published_at AT TIME ZONE 'UTC' AS DATE) AS day,
    e.entity_id,
    e.name,
    e.kind,
    count(*) AS articles,
    count(*) FILTER (WHERE a.us_china) AS us_china_articles,
    CAST(sum(e.mentions) AS BIGINT) AS mentions
FROM article_entities AS e
JOIN articles AS a USING (article_id)
WHERE days IS NULL
   OR list_contains(days, CAST(a.published_at AT TIME ZONE 'UTC' AS DATE))
   OR (undated AND a.published_at IS NULL)
GROUP BY ALL;

CREATE OR REPLACE VIEW topic_daily AS SELECT * FROM topic_daily_on(NULL, false);
CREATE OR REPLACE VIEW entity_mentions AS SELECT * FROM entity_mentions_on(NULL, false);
