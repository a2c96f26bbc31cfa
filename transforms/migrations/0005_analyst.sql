-- Analyst views over the base tables. Reference: docs/sql.md (every column, its meaning and
-- where it comes from). Days are UTC calendar days of published_at; articles without a
-- publication date are counted under day NULL rather than guessed.

-- One row per US–China article. `articles` is upserted on article_id (a changed page replaces
-- its row and its tags), so each row already is the latest version of that article.
CREATE VIEW us_china_articles AS
SELECT
    a.article_id,
    a.published_at,
    a.title,
    a.author,
    a.source,
    a.url,
    a.language,
    a.word_count,
    a.us_china_score,
    coalesce(t.topics, []::VARCHAR[]) AS topics,
    coalesce(t.topic_scores, MAP {}::MAP(VARCHAR, DOUBLE)) AS topic_scores,
    a.text,
    a.first_ingested_at,
    a.ingested_at,
    a.taxonomy_version
FROM articles AS a
LEFT JOIN (
    SELECT
        tp.article_id,
        list(tp.topic ORDER BY tp.score DESC, tp.topic) AS topics,
        map_from_entries(list(struct_pack(k := tp.topic, v := tp.score))) AS topic_scores
    FROM article_topics AS tp
    GROUP BY tp.article_id
) AS t USING (article_id)
WHERE a.us_china;

-- Topic × day: how many articles carried each topic, among all articles and among US–China ones.
CREATE VIEW topic_daily AS
SELECT
    CAST(a.published_at AT TIME ZONE 'UTC' AS DATE) AS day,
    t.topic,
    count(*) AS articles,
    count(*) FILTER (WHERE a.us_china) AS us_china_articles,
    round(avg(t.score), 3) AS mean_score
FROM article_topics AS t
JOIN articles AS a USING (article_id)
GROUP BY ALL;

-- Entity × day: in how many articles an entity appeared and how often it was named.
CREATE VIEW entity_mentions AS
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
GROUP BY ALL;
