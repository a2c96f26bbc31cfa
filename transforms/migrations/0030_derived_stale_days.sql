-- Days a derived table must recount although no article changed on them now: the old day of an
-- article whose date changed, the day of a removed article. Written in the transaction that
-- moves or removes the article; each derived table's refresh consumes its own rows.
CREATE TABLE derived_stale_days (
    name VARCHAR NOT NULL,
    day  DATE
);
