-- A buyer's decisions are paged newest first with the id breaking ties the same
-- way: ORDER BY decided_at DESC, decision_id DESC, each page starting at
-- (decided_at, decision_id) < (the last row's). V1's index ran decision_id
-- ascending, so it could serve neither that order nor that row comparison
-- without a sort; with both columns descending the index is walked in page
-- order from the cursor on. On a partitioned table both statements apply to
-- every partition.
DROP INDEX creditgate.decisions_buyer_time;
CREATE INDEX decisions_buyer_time ON creditgate.decisions (buyer_id, decided_at DESC, decision_id DESC);
