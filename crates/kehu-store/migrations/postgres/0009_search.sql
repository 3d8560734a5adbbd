-- Search (issue 8 §4): any run of 4 or more digits anywhere in a number finds it, and one or two
-- Latin letters or digits have terms of their own. Both live in customer_terms now: a number's
-- 4-digit windows as `#dddd` terms, a name's Latin and digit runs as 1-, 2- and 3-grams. The
-- ordered `phone_end` keys (a number's end reversed), which only found a number by its end,
-- are gone.
DELETE FROM customer_keys WHERE kind = 'phone_end';
-- Every customer is indexed again, in the background, by the indexer (which alone knows what a
-- term is); until it reaches a customer, search finds them by their old name terms, and the
-- newest queued ones directly.
-- (`WHERE true`: SQLite reads `ON CONFLICT` right after a SELECT's FROM as a join's ON.)
INSERT INTO search_queue (tenant_id, customer_id) SELECT tenant_id, id FROM customers WHERE true
ON CONFLICT DO NOTHING;
