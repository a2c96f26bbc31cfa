-- Near-duplicate signatures moved from datasketch to rensa (issue 6); the two schemes' values
-- never agree, so stored signatures and their LSH bands are dropped rather than compared.
-- Clusters already assigned keep their cluster_id. RULES_VERSION moved to quality-2 with this
-- change, so `tradewire reextract` re-extracts older rows and signs them again.
DELETE FROM article_lsh_bands;
DELETE FROM article_minhash;
