-- Article fields beyond bare trafilatura (issue 17): every title the page offered, keyed by
-- where it came from (`jsonld:headline`, `og:title`, `twitter:title`, `h1`, `html:title`,
-- `trafilatura`, `feed`); `provenance['title']` names the one chosen and `provenance['text']`
-- the extraction pass that gave the body. RULES_VERSION moved to fields-1 with this change,
-- so `tradewire reextract` re-extracts older rows and fills the column.
ALTER TABLE articles ADD COLUMN title_candidates MAP(VARCHAR, VARCHAR);
