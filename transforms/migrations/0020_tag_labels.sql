-- The learned scorer: its version on every tag row, and analysts' corrections to learn from.
ALTER TABLE articles ADD COLUMN model_version VARCHAR;
ALTER TABLE article_topics ADD COLUMN model_version VARCHAR;

CREATE SEQUENCE tag_label_ids START 1;

CREATE TABLE tag_labels (
    label_id          BIGINT PRIMARY KEY DEFAULT nextval('tag_label_ids'),
    article_id        VARCHAR NOT NULL,
    labeled_by        VARCHAR NOT NULL,
    labeled_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    topics_added      VARCHAR[] NOT NULL,
    topics_removed    VARCHAR[] NOT NULL,
    us_china          BOOLEAN,
    note              VARCHAR,
    topics_before     VARCHAR[] NOT NULL,
    us_china_before   BOOLEAN NOT NULL,
    model_version     VARCHAR,
    taxonomy_version  VARCHAR NOT NULL
);
